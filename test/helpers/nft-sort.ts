// Upstream's canonical order for comparing nftables transactions and dumps (Go map order makes
// the emission order random): by object type, then name; rules keep their order.

const objectOrder: Record<string, number> = { table: 10, chain: 9, rule: 8, set: 7, map: 6, element: 5 };

export function sortNftables(text: string): string {
  const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  return lines
    .map((l, i) => ({ l, w: l.split(' '), i }))
    .sort((a, b) => {
      if (a.w.length < 5 || b.w.length < 5) return a.i - b.i;
      if (a.w[1] !== b.w[1]) return (objectOrder[b.w[1]!] ?? 0) - (objectOrder[a.w[1]!] ?? 0);
      if (a.w[4] !== b.w[4]) return a.w[4]! < b.w[4]! ? -1 : 1;
      if (a.w[1] === 'rule') return a.i - b.i;
      return a.l < b.l ? -1 : a.l > b.l ? 1 : a.i - b.i;
    })
    .map((x) => x.l)
    .join('\n');
}
