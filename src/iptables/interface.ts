// pkg/util/iptables' Interface, the part podpath's proxy modes, agent and trace use: restore a
// set of tables, save one back, make sure a chain or a jump rule exists, and say what the tools
// support. iptables.ts runs the real tools; fake.ts is the one fake.
import type { Table, TableName } from './types.ts';

export type RulePosition = 'append' | 'prepend';

export interface RestoreOptions {
  /** keep what the input does not mention (kube-proxy always restores with --noflush) */
  noflush?: boolean;
  /** take the "[packets:bytes]" counters given in the input */
  counters?: boolean;
}

export interface IptablesInterface {
  /** Applies tables as iptables-restore does, all or nothing; throws IptError. */
  restore(tables: readonly Table[], opts?: RestoreOptions): void;
  /** One table as iptables-save gives it; with `chains`, only those chains' rules (all chains declared). */
  save(table: TableName, chains?: readonly string[]): Table;
  /** The names of the chains a table has (built-in and user), without reading its rules. */
  listChains(table: TableName): string[];
  /** Creates a user chain unless it exists; whether it existed. */
  ensureChain(table: TableName, chain: string): boolean;
  /** Adds a rule (as iptables' argument list) at the end or the start of a chain unless it is there; whether it was. */
  ensureRule(position: RulePosition, table: TableName, chain: string, args: readonly string[]): boolean;
  hasChain(table: TableName, chain: string): boolean;
  /** Whether MASQUERADE takes --random-fully (iptables 1.6.2 and later), as upstream's HasRandomFully. */
  hasRandomFully(): boolean;
}
