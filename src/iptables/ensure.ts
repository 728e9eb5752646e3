// What `iptables -N CHAIN` (unless it exists) and `iptables -C` then `-I` (unless the rule is
// there) do, folded into an iptables-restore --noflush input: given what the tables hold now,
// the missing chains are declared and the missing rules inserted at the top of their chains, in
// the order given, so the outcome is the same as the commands run one after another. A dozen
// such checks cost kube-proxy's full sync ~45 runs of iptables; this costs none of its own.
import type { Table, TableName } from './types.ts';

export interface EnsuredChain {
  table: TableName;
  chain: string;
}

export interface EnsuredRule extends EnsuredChain {
  args: readonly string[];
}

const sameArgs = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((w, i) => w === b[i]);

/**
 * `tables` (a restore's input) with what is missing of `chains` and of `prepends` (each ensured
 * with -I at position 1) added; `now` has each table involved as iptables-save gives it (its
 * chains, and at least the rules of the chains named in `prepends`).
 */
export function withEnsured(tables: readonly Table[], now: ReadonlyMap<TableName, Table>, chains: readonly EnsuredChain[], prepends: readonly EnsuredRule[]): Table[] {
  const out = new Map<TableName, Table>(tables.map((t) => [t.name, { ...t, chains: [...t.chains], ops: [...t.ops] }]));
  const tableOf = (name: TableName) => {
    let t = out.get(name);
    if (!t) out.set(name, (t = { name, chains: [], ops: [] }));
    return t;
  };
  const exists = (name: TableName, chain: string) => now.get(name)?.chains.some((c) => c.name === chain) || out.get(name)?.chains.some((c) => c.name === chain);
  for (const c of chains) {
    if (!exists(c.table, c.chain)) tableOf(c.table).chains.push({ name: c.chain, policy: '-', counters: { packets: 0n, bytes: 0n } });
  }
  for (const r of prepends) {
    const there = now.get(r.table)?.ops.some((o) => o.op === 'append' && o.rule.chain === r.chain && sameArgs(o.rule.args, r.args));
    if (!there) tableOf(r.table).ops.push({ op: 'insert', rule: { chain: r.chain, args: [...r.args] } });
  }
  return [...out.values()];
}
