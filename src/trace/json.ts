// `podpath trace -o json`: the Trace with its fields in a fixed order — verdict, reason, from, to,
// mode, endpoint, candidates, hops — so the schema reads the same in every output.
import type { Trace } from './types.ts';

export function traceJSON(t: Trace): string {
  const { verdict, reason, from, to, mode, endpoint, candidates, hops } = t;
  const hopsOrdered = hops.map(({ step, kind, node, namespace, hook, packet, rule, object, note }) => ({ step, kind, ...(node !== undefined ? { node } : {}), ...(namespace !== undefined ? { namespace } : {}), ...(hook !== undefined ? { hook } : {}), packet, ...(rule ? { rule } : {}), ...(object ? { object } : {}), note }));
  return `${JSON.stringify({ verdict, reason, from, to, mode, endpoint: endpoint ?? null, candidates, hops: hopsOrdered }, null, 2)}\n`;
}
