// events.k8s.io/v1 Event as a view of the core v1 Event kube-apiserver stores (pkg/apis/events
// v1 conversion): the same object under other field names.
import type { Event, KubeObject } from './types.ts';

/** events.k8s.io/v1 field ← core v1 field. */
const renamed: [v1: string, core: string][] = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['reportingController', 'reportingComponent'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
];
const same = ['eventTime', 'series', 'reportingInstance', 'action', 'reason', 'related', 'type'];

function move(from: Record<string, unknown>, to: Record<string, unknown>, pairs: [string, string][]): void {
  for (const [a, b] of pairs) if (from[a] !== undefined && from[a] !== null) to[b] = from[a];
}

/** The stored core Event as events.k8s.io/v1 serves it. */
export function toEventsV1(e: KubeObject): KubeObject {
  const src = e as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { kind: 'Event', apiVersion: 'events.k8s.io/v1', metadata: e.metadata };
  move(src, out, same.map((k) => [k, k]));
  move(src, out, renamed.map(([v1, core]) => [core, v1]));
  // A zero time is no time: upstream's conversion keeps eventTime null only when unset.
  if (out.eventTime === undefined) out.eventTime = null;
  if (out.reportingController === undefined) out.reportingController = '';
  if (out.reportingInstance === undefined) out.reportingInstance = '';
  return out as unknown as KubeObject;
}

/** An events.k8s.io/v1 Event as the core Event it is stored as. */
export function fromEventsV1(e: KubeObject): Event {
  const src = e as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { kind: 'Event', apiVersion: 'v1', metadata: e.metadata };
  move(src, out, same.map((k) => [k, k]));
  move(src, out, renamed);
  if (out.involvedObject === undefined) out.involvedObject = {};
  return out as unknown as Event;
}
