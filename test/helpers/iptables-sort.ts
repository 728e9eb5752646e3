// Upstream's canonical order for comparing iptables-restore inputs (Go map order makes the
// emission order random): per table, KUBE-NODEPORTS and KUBE-SERVICES first and the other
// chains by name, their rules after the chain lines in that chain order; within KUBE-NODEPORTS
// and KUBE-SERVICES rules are stably sorted by the Service named in their comment, the
// "must be the last rule" jump kept last; other chains keep their rule order.

const first = ['KUBE-NODEPORTS', 'KUBE-SERVICES'];
const chainOrder = (a: string, b: string) => {
  const ia = first.indexOf(a);
  const ib = first.indexOf(b);
  if (ia >= 0 || ib >= 0) return (ia < 0 ? 2 : ia) - (ib < 0 ? 2 : ib);
  return a < b ? -1 : a > b ? 1 : 0;
};
const serviceOf = (rule: string) => {
  if (rule.includes('must be the last rule')) return '\uffff';
  return /--comment "?([^" ]+)/.exec(rule)?.[1] ?? '';
};

export function sortIptables(text: string): string {
  const out: string[] = [];
  let chains: string[] = [];
  let rules = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      out.push(line);
      chains = [];
      rules = new Map();
    } else if (line.startsWith(':')) {
      chains.push(line);
    } else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1]!;
      rules.set(chain, [...(rules.get(chain) ?? []), line]);
    } else if (line === 'COMMIT') {
      const names = chains.map((c) => c.slice(1).split(' ')[0]!).sort(chainOrder);
      out.push(...names.map((n) => chains.find((c) => c.slice(1).split(' ')[0] === n)!));
      for (const n of [...names, ...[...rules.keys()].filter((k) => !names.includes(k)).sort(chainOrder)]) {
        const rs = rules.get(n) ?? [];
        out.push(...(first.includes(n) ? [...rs].sort((a, b) => (serviceOf(a) < serviceOf(b) ? -1 : serviceOf(a) > serviceOf(b) ? 1 : 0)) : rs));
      }
      out.push('COMMIT');
    } else if (line.trim()) out.push(line);
  }
  return out.join('\n');
}
