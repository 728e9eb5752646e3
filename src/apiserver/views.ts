// Resources served as another version of a stored one (ResourceType.storage): events.k8s.io/v1
// Events are the core v1 Events, converted on the way out and on the way in, as kube-apiserver
// serves both from one storage.
import { fromEventsV1, toEventsV1 } from '../api/eventsv1.ts';
import { resourceOf, type ResourceType } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';

/** The stored resource a view reads and writes. */
export function storedType(rt: ResourceType): ResourceType {
  return rt.storage ? resourceOf(rt.storage.group, rt.storage.resource) : rt;
}

/** A stored object as `rt` serves it. */
export function outward(rt: ResourceType, o: KubeObject): KubeObject {
  return rt.storage && rt.group === 'events.k8s.io' ? toEventsV1(o) : o;
}

/** An object of `rt` as it is stored. */
export function inward(rt: ResourceType, o: KubeObject): KubeObject {
  return rt.storage && rt.group === 'events.k8s.io' ? fromEventsV1(o) : o;
}
