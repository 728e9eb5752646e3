// `podpath trace` as text: numbered steps in the style of seed 000's walk from the user to the
// container, each with the packet as it is there (rewritten fields marked with *), the rule that
// acted and the object behind it; then the verdict and the random choices. With an observation,
// each hop the kernel can report is marked seen or not, and the computed and observed steps are
// listed side by side with their differences.
import { objectText } from './objects.ts';
import type { Hop, Observation, ObservedHop, Packet, PacketField, Trace } from './types.ts';

const kindLabel: Record<string, string> = { resolve: 'DNS', route: 'route', netfilter: 'netfilter', conntrack: 'conntrack', ingress: 'ingress', gateway: 'gateway', proxy: 'proxy', netpol: 'netpol', deliver: 'deliver', reply: 'reply' };

/** The 5-tuple with rewritten fields starred. */
export function packetText(p: Packet, marked: readonly PacketField[] = []): string {
  const f = (k: PacketField, v: string | number) => `${v}${marked.includes(k) ? '*' : ''}`;
  return `${f('src', p.src)}:${f('srcPort', p.srcPort)} → ${f('dst', p.dst || '?')}:${f('dstPort', p.dstPort)} ${p.protocol}`;
}

const where = (h: Hop) => (h.node ? `node ${h.node}` : (h.namespace ?? ''));

const seen = (h: Hop) => (h.observed === undefined ? '' : h.observed ? '  [seen]' : '  [NOT SEEN]');

function hopText(h: Hop): string[] {
  const head = `${String(h.step).padStart(2)}. [${where(h)}] ${kindLabel[h.kind] ?? h.kind}${h.hook ? ` (${h.hook})` : ''}: ${h.note}${seen(h)}`;
  const lines = [head];
  const pad = '      ';
  if (h.rule) lines.push(`${pad}rule:   ${h.rule.table} ${h.rule.chain}: ${h.rule.text}`);
  if (h.object) lines.push(`${pad}object: ${objectText(h.object)}`);
  if (h.packet.rewritten.length) lines.push(`${pad}packet: ${packetText(h.packet.before)}  ⇒  ${packetText(h.packet.after, h.packet.rewritten)}`);
  else if (h.kind !== 'netfilter') lines.push(`${pad}packet: ${packetText(h.packet.after)}`);
  return lines;
}

export function traceText(t: Trace): string {
  const out = [`trace ${t.from} → ${t.to} (${t.mode} mode)`, ''];
  t.hops.forEach((h, i) => {
    out.push(...hopText(h));
    if (i < t.hops.length - 1) out.push('    ↓');
  });
  out.push('', `${t.verdict.toUpperCase()}: ${t.reason}`);
  if (t.endpoint) out.push(`endpoint: ${t.endpoint.pod} ${t.endpoint.ip}:${t.endpoint.port}`);
  const groups = new Map<string, Trace['candidates']>();
  for (const c of t.candidates) groups.set(c.by, [...(groups.get(c.by) ?? []), c]);
  for (const [by, cs] of groups) {
    out.push(`random choice at ${by}:`);
    for (const c of cs) out.push(`  ${c.chosen ? '→' : ' '} ${c.pod} ${c.ip}:${c.port}  p=${c.probability.toFixed(4)}${c.chosen ? '  (followed)' : ''}`);
  }
  for (const n of t.notes ?? []) out.push(`note: ${n}`);
  if (t.observed) out.push('', ...observedText(t, t.observed));
  return `${out.join('\n')}\n`;
}

const ms = (x: number) => `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;

/** The observation: the probe, then computed and observed steps side by side (— where one side has none), the outcome and the differences. */
function observedText(t: Trace, o: Observation): string[] {
  const p = o.probe;
  const out = [
    `observed: one probe from ${t.from}, ${packetText(p.tuple)}: ${p.ok ? `answered in ${ms(p.timeMs)}${p.answer ? ` (${p.answer.replace(/\s+/g, ' ').slice(0, 120)})` : ''}` : `failed: ${p.error ?? 'no answer'}`}`,
    `  watched ${o.watched.join(', ')} (nft monitor trace${o.watched.some((w) => w.startsWith('node/')) ? ', conntrack -E on the nodes' : ''}) for ${ms(o.timeMs)}`,
    '',
    'computed | observed',
  ];
  const byComputed = new Map(o.hops.filter((h) => h.computed !== undefined).map((h) => [h.computed!, h]));
  const line = (c: Hop | undefined, x: ObservedHop | undefined) => {
    const h = c ?? x!;
    const w = h.node ? `node ${h.node}` : (h.namespace ?? '');
    // conntrack: the tuple the kernel gave (a MASQUERADE's source port is its pick)
    const what = h.rule ? `${h.rule.table} ${h.rule.chain}: ${h.rule.text}` : h.kind === 'conntrack' ? `conntrack ${packetText(h.packet.before)} ⇒ ${packetText((x ?? h).packet.after)}` : `${h.kind}: ${h.note}`;
    return `${(c ? String(c.step) : '—').padStart(4)} | ${(x ? String(x.step) : '—').padEnd(4)} [${w}] ${what}`;
  };
  // observed hops in their order; a computed hop not seen is put where the path had it
  let next = 0;
  const observedOnly = (upTo: number) => {
    for (; next < o.hops.length && next < upTo; next++) if (o.hops[next]!.computed === undefined && o.hops[next]!.kind !== 'route') out.push(line(undefined, o.hops[next]));
  };
  for (const h of t.hops) {
    if (h.observed === undefined) continue;
    const x = byComputed.get(h.step);
    if (x) observedOnly(x.step - 1);
    out.push(line(h, x));
    if (x) next = Math.max(next, x.step);
  }
  observedOnly(o.hops.length);
  out.push('', `OBSERVED ${o.verdict.toUpperCase()}: ${o.reason}`);
  if (o.endpoint) out.push(`observed endpoint: ${o.endpoint.pod} ${o.endpoint.ip}:${o.endpoint.port}`);
  out.push(o.differences.length ? `differences (${o.differences.length}):` : 'differences: none — the computed path is the one the kernel took');
  for (const d of o.differences) out.push(`  - ${d}`);
  return out;
}
