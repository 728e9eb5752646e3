// One `nft -f` transaction from the wanted table and what the last sync applied: everything
// (the table deleted and rebuilt, atomically) when nothing is known, else only the differences —
// new and changed chains written, set and map elements added and removed, chains and sets no
// longer wanted deleted once nothing refers to them.
import { setsNamed } from '../knftables/cachefree.ts';
import type { NftInterface, Transaction } from '../knftables/index.ts';
import { baseChain, mapName, tableFamily, tableName, type DesiredSet, type DesiredTable } from './rules.ts';

const directions = ['Ingress', 'Egress'] as const;

const sameRules = (a: string[], b: string[]) => a.length === b.length && a.every((r, i) => r === b[i]);

/** The words of a set element ("10.0.0.1 . tcp . 80" is three). */
const words = (e: string) => (e.includes(' . ') ? e.split(' . ') : [e]);

function declareMaps(tx: Transaction): void {
  for (const dir of directions) tx.add({ kind: 'map', name: mapName[dir], type: 'ipv4_addr : verdict', comment: `local pods isolated for ${dir.toLowerCase()}` });
}

function addSet(tx: Transaction, s: DesiredSet): void {
  tx.add({ kind: 'set', name: s.name, type: 'ipv4_addr', comment: s.comment });
}

function writeChain(tx: Transaction, t: DesiredTable, name: string): void {
  for (const rule of t.chains.get(name)!.rules) tx.add({ kind: 'rule', chain: name, rule });
}

export function planSync(nft: Pick<NftInterface, 'newTransaction'>, want: DesiredTable, had: DesiredTable | undefined): Transaction {
  const tx = nft.newTransaction();
  if (!had) {
    // add-then-delete removes whatever was there, in the same atomic transaction as the rebuild
    tx.add({ kind: 'table', comment: 'podpath NetworkPolicy agent' });
    tx.delete({ kind: 'table' });
    tx.add({ kind: 'table', comment: 'podpath NetworkPolicy agent' });
    for (const s of want.sets.values()) addSet(tx, s);
    declareMaps(tx);
    for (const c of want.chains.values()) tx.add({ kind: 'chain', name: c.name, ...(c.name === baseChain ? { type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' } : {}), ...(c.comment ? { comment: c.comment } : {}) });
    // sets of equal selectors share one element list (rules.ts), and here its keys
    const keys = new Map<string[], string[][]>();
    for (const s of want.sets.values()) {
      let ks = keys.get(s.elements);
      if (!ks) keys.set(s.elements, (ks = s.elements.map(words)));
      for (const key of ks) tx.add({ kind: 'element', set: s.name, key });
    }
    for (const dir of directions) for (const [k, v] of want.maps[dir]) tx.add({ kind: 'element', map: mapName[dir], key: [k], value: [v] });
    for (const c of want.chains.keys()) writeChain(tx, want, c);
    return tx;
  }
  // new sets and chains first, so the elements and rules below may refer to them
  for (const s of want.sets.values()) if (!had.sets.has(s.name)) addSet(tx, s);
  for (const c of want.chains.values()) if (!had.chains.has(c.name)) tx.add({ kind: 'chain', name: c.name, ...(c.comment ? { comment: c.comment } : {}) });
  for (const s of want.sets.values()) {
    const was = had.sets.get(s.name)?.elements;
    if (was && sameRules(was, s.elements)) continue; // most sets are unchanged: no Sets built for them
    const old = new Set(was ?? []);
    const cur = new Set(s.elements);
    for (const e of old) if (!cur.has(e)) tx.delete({ kind: 'element', set: s.name, key: words(e) });
    for (const e of cur) if (!old.has(e)) tx.add({ kind: 'element', set: s.name, key: words(e) });
  }
  // Chains rewritten: each added again (nothing, to nft, for one that exists) and every set its
  // rules name declared again, so that a transaction of chain rewrites only is one nft takes
  // without reading every chain of the table first (knftables/cachefree.ts).
  const rewrite = [...want.chains.values()].filter((c) => {
    const old = had.chains.get(c.name);
    return !old || !sameRules(old.rules, c.rules);
  });
  const named = new Set<string>();
  for (const c of rewrite) for (const r of c.rules) for (const n of setsNamed(r)) named.add(n);
  for (const n of named) {
    const s = had.sets.has(n) ? want.sets.get(n) : undefined;
    if (s) addSet(tx, s);
  }
  for (const c of rewrite) {
    if (had.chains.has(c.name)) tx.add({ kind: 'chain', name: c.name }).flush({ kind: 'chain', name: c.name });
    writeChain(tx, want, c.name);
  }
  for (const dir of directions) {
    const old = had.maps[dir];
    const cur = want.maps[dir];
    for (const [k, v] of old) if (cur.get(k) !== v) tx.delete({ kind: 'element', map: mapName[dir], key: [k] });
    for (const [k, v] of cur) if (old.get(k) !== v) tx.add({ kind: 'element', map: mapName[dir], key: [k], value: [v] });
  }
  // what is no longer wanted: the map elements that jumped to these chains are gone above
  for (const c of had.chains.keys()) {
    if (want.chains.has(c)) continue;
    tx.flush({ kind: 'chain', name: c }); // nft deletes empty chains only
    tx.delete({ kind: 'chain', name: c });
  }
  for (const s of had.sets.keys()) if (!want.sets.has(s)) tx.delete({ kind: 'set', name: s });
  return tx;
}

export const table = `${tableFamily} ${tableName}`;
