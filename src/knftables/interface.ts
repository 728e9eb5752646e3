// knftables' Interface: what the proxy modes, the NetworkPolicy agent and the trace use to run
// transactions on one table and read it back. nftables.ts runs nft; fake.ts is the one fake.
import type { Transaction } from './transaction.ts';
import type { Element, Rule } from './types.ts';

/** Object types list() can name (knftables accepts the plural too). */
export type ListableType = 'chain' | 'chains' | 'set' | 'sets' | 'map' | 'maps' | 'flowtable' | 'flowtables';

export interface NftInterface {
  /** A transaction on this Interface's family and table. */
  newTransaction(): Transaction;
  /** Applies tx atomically; throws NftError (nothing applied) if any operation fails. */
  run(tx: Transaction): void;
  /** Whether run(tx) would succeed now; throws as run would, changing nothing. */
  check(tx: Transaction): void;
  /** Names of the table's objects of one type; ENOENT when the table does not exist. */
  list(objectType: ListableType): string[];
  /** The rules of one chain ('' for every chain), with handles; ENOENT when the chain does not exist. */
  listRules(chain: string): Rule[];
  /**
   * Whether the chain exists and has a rule (false for no such chain or table). listRules(chain)
   * answers this as well, but nft 1.0.x reads the whole table to list one chain: seconds at
   * kube-proxy's 110,000 chains, where this asks the kernel for that chain alone when it can.
   */
  hasRules(chain: string): boolean;
  /** The elements of a set or map; ENOENT when it does not exist. */
  listElements(objectType: 'set' | 'map', name: string): Element[];
}

/** "chains" → "chain", as knftables takes either. */
export const singular = (t: ListableType) => t.replace(/s$/, '') as 'chain' | 'set' | 'map' | 'flowtable';
