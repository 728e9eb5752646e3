// `podpath trace -o mermaid`: the path as a Mermaid sequence diagram in the seeds' style — one
// lifeline per place the packet crosses (the client, each node, each pod), an arrow for each
// move with the 5-tuple as it travels, the rules that rewrite it as self-messages, the rest as
// notes, and the reply as dashed arrows; with an observation, its verdict and differences last.
import { objectText } from './objects.ts';
import { packetText } from './text.ts';
import type { Hop, Trace } from './types.ts';

/** Mermaid ends a statement at ";" and reads "#" as an entity: keep both out of labels. */
const clean = (s: string, max = 160) => {
  const t = s.replace(/;/g, ',').replace(/->/g, '→').replace(/#/g, 'no. ').replace(/"/g, "'").replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

const placeOf = (h: Hop) => (h.node ? `node ${h.node}` : (h.namespace ?? '?'));

export function traceMermaid(t: Trace): string {
  const ids = new Map<string, string>();
  const id = (place: string) => {
    let v = ids.get(place);
    if (!v) ids.set(place, (v = `P${ids.size + 1}`));
    return v;
  };
  const body: string[] = [];
  let at: string | undefined;
  for (const h of t.hops) {
    const place = placeOf(h);
    if (place === 'underlay') continue;
    const me = id(place);
    const dashed = h.kind === 'reply';
    if (at !== undefined && at !== place) body.push(`  ${id(at)}${dashed ? '-->>' : '->>'}${me}: ${clean(packetText(h.packet.before))}`);
    at = place;
    const obj = h.object ? ` [${objectText(h.object)}]` : '';
    if (h.kind === 'netfilter' && h.rule) {
      const line = `${h.hook ?? ''} ${h.rule.table} ${h.rule.chain}: ${h.rule.action ?? ''}${obj}`;
      if (h.packet.rewritten.length) body.push(`  ${me}->>${me}: ${clean(line)}`);
      else body.push(`  Note over ${me}: ${clean(line)}`);
    } else if ((h.kind === 'ingress' || h.kind === 'gateway') && h.packet.rewritten.length) {
      body.push(`  Note over ${me}: ${clean(h.note, 240)}`);
    } else if (h.kind !== 'route' || !h.packet.rewritten.length) {
      body.push(`  Note over ${me}: ${clean(`${h.kind}: ${h.note}${obj}`)}`);
    }
  }
  const head = ['sequenceDiagram', '  autonumber', ...[...ids].map(([place, v]) => `  participant ${v} as ${clean(place)}`)];
  const first = [...ids.values()][0] ?? 'P1';
  const verdict = `  Note over ${first}: ${clean(`${t.verdict.toUpperCase()}: ${t.reason}`)}`;
  const o = t.observed;
  const observed = o ? [`  Note over ${first}: ${clean(`OBSERVED ${o.verdict.toUpperCase()}: ${o.reason}. ${o.differences.length ? `${o.differences.length} difference(s): ${o.differences.join(', ')}` : 'no difference from the computed path'}`, 400)}`] : [];
  return `${[...head, ...body, verdict, ...observed].join('\n')}\n`;
}
