// Transactions in forms that spare nft most of its cache. Before nft 1.1.1 an `add rule` (or
// `add element`, or any `delete`) makes nft read every chain of every table first, to find the
// rule's chain: at kube-proxy's 110,000 chains that read is seconds of kernel time, for a partial
// sync that rewrites a handful of chains. `add chain`, `flush chain` and `add set` need only the
// list of tables, and nft takes a chain's rules in a chain block as well:
//   add chain ip t c { rule1 \n rule2 \n }
// appends them to the existing chain exactly as `add rule ip t c rule1; add rule ip t c rule2`
// would. So a transaction made only of those operations, whose rules go to chains it adds itself
// (so they exist, as `add rule` requires) and use only sets it declares itself (nft would look
// others up in the cache it has not read), is written with its rules in chain blocks. Deletes of
// chains and sets by name alone (kube-proxy's cleanup of stale chains) need no cache at all when
// sent as netlink messages, which a libnftables context does (./libnftables.ts).
import { ruleBody, writeOperation } from './serialize.ts';
import type { Transaction } from './transaction.ts';
import type { Family } from './types.ts';
import { locate } from './validate.ts';

/** The sets and maps a rule names (`@name`): a rule in a chain block may name only those its transaction declares. */
export function setsNamed(rule: string): string[] {
  return [...rule.matchAll(/@([^\s{},;:]+)/g)].map((m) => m[1]!);
}

/** tx's text with its rules in chain blocks; undefined where that form does not apply (write tx.toString()). */
export function rulesInChainBlocks(tx: Transaction): string | undefined {
  if (tx.error) return undefined;
  const chains = new Set<string>();
  const sets = new Set<string>();
  let out = '';
  /** the chain block being written: its key and text so far */
  let block: { key: string; text: string } | undefined;
  let rules = 0;
  const close = () => {
    if (block) out += `${block.text}}\n`;
    block = undefined;
  };
  for (const { verb, obj } of tx) {
    const where = locate(tx.context, obj);
    if (where instanceof Error) return undefined;
    const at = `${where.family} ${where.table}`;
    if (obj.kind === 'rule') {
      if (verb !== 'add' || obj.index !== undefined || obj.handle !== undefined || !chains.has(`${at} ${obj.chain}`)) return undefined;
      for (const n of setsNamed(obj.rule)) if (!sets.has(`${at} ${n}`)) return undefined;
      const key = `${at} ${obj.chain}`;
      if (block?.key !== key) {
        close();
        block = { key, text: `add chain ${key} {\n` };
      }
      block.text += `${ruleBody(obj)}\n`;
      rules++;
      continue;
    }
    const defines = verb === 'add' || verb === 'create';
    if (!((defines || verb === 'flush') && (obj.kind === 'chain' || obj.kind === 'set' || obj.kind === 'map'))) return undefined;
    if (defines) (obj.kind === 'chain' ? chains : sets).add(`${at} ${obj.name}`);
    close();
    out += writeOperation(verb, obj, tx.context);
  }
  close();
  return rules ? out : undefined;
}

/**
 * tx as deletes of chains, sets and maps of one table by name, if that is all it is (a libnftables
 * context sends those as netlink messages of its own: nft would read every chain first, here too).
 */
export function deletesByName(tx: Transaction): { family: Family; table: string; objs: { kind: 'chain' | 'set' | 'map'; name: string }[] } | undefined {
  if (tx.error || !tx.numOperations) return undefined;
  let at: { family: Family; table: string } | undefined;
  const objs: { kind: 'chain' | 'set' | 'map'; name: string }[] = [];
  for (const { verb, obj } of tx) {
    if (verb !== 'delete' || (obj.kind !== 'chain' && obj.kind !== 'set' && obj.kind !== 'map') || obj.handle !== undefined) return undefined;
    const where = locate(tx.context, obj);
    if (where instanceof Error || (at && (at.family !== where.family || at.table !== where.table))) return undefined;
    at = { family: where.family, table: where.table };
    objs.push({ kind: obj.kind, name: obj.name });
  }
  return at && { ...at, objs };
}
