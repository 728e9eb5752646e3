// `podpath trace` as text: numbered steps in the style of seed 000's walk from the user to the
// container, each with the packet as it is there (rewritten fields marked with *), the rule that
// acted and the object behind it; then the verdict and the random choices.
import { objectText } from './objects.ts';
import type { Hop, Packet, PacketField, Trace } from './types.ts';

const kindLabel: Record<string, string> = { resolve: 'DNS', route: 'route', netfilter: 'netfilter', conntrack: 'conntrack', ingress: 'ingress', netpol: 'netpol', deliver: 'deliver', reply: 'reply' };

/** The 5-tuple with rewritten fields starred. */
export function packetText(p: Packet, marked: readonly PacketField[] = []): string {
  const f = (k: PacketField, v: string | number) => `${v}${marked.includes(k) ? '*' : ''}`;
  return `${f('src', p.src)}:${f('srcPort', p.srcPort)} → ${f('dst', p.dst || '?')}:${f('dstPort', p.dstPort)} ${p.protocol}`;
}

const where = (h: Hop) => (h.node ? `node ${h.node}` : (h.namespace ?? ''));

function hopText(h: Hop): string[] {
  const head = `${String(h.step).padStart(2)}. [${where(h)}] ${kindLabel[h.kind] ?? h.kind}${h.hook ? ` (${h.hook})` : ''}: ${h.note}`;
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
  return `${out.join('\n')}\n`;
}
