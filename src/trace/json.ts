// `podpath trace -o json`: the Trace with its fields in a fixed order — verdict, reason, from, to,
// mode, endpoint, candidates, hops, then notes and observed when there are — so the schema reads
// the same in every output.
import type { Trace } from './types.ts';

export function traceJSON(t: Trace): string {
  const { verdict, reason, from, to, mode, endpoint, candidates, hops, notes, observed } = t;
  const hopsOrdered = hops.map(({ step, kind, node, namespace, hook, packet, rule, object, gateway, note, observed: seen }) => ({ step, kind, ...(node !== undefined ? { node } : {}), ...(namespace !== undefined ? { namespace } : {}), ...(hook !== undefined ? { hook } : {}), packet, ...(rule ? { rule } : {}), ...(object ? { object } : {}), ...(gateway ? { gateway } : {}), note, ...(seen !== undefined ? { observed: seen } : {}) }));
  const obs = observed && {
    verdict: observed.verdict,
    reason: observed.reason,
    endpoint: observed.endpoint ?? null,
    probe: observed.probe,
    differences: observed.differences,
    watched: observed.watched,
    timeMs: observed.timeMs,
    hops: observed.hops.map(({ step, kind, node, namespace, hook, packet, rule, computed, reused, note }) => ({ step, kind, ...(node !== undefined ? { node } : {}), ...(namespace !== undefined ? { namespace } : {}), ...(hook !== undefined ? { hook } : {}), packet, ...(rule ? { rule } : {}), ...(computed !== undefined ? { computed } : {}), ...(reused ? { reused } : {}), note })),
  };
  return `${JSON.stringify({ verdict, reason, from, to, mode, endpoint: endpoint ?? null, candidates, hops: hopsOrdered, ...(notes?.length ? { notes } : {}), ...(obs ? { observed: obs } : {}) }, null, 2)}\n`;
}
