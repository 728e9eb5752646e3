// Helpers every component reads objects with: pod readiness and phase (upstream's podutil) and
// the controller owner reference (apimachinery's GetControllerOf).
import { hasTrueCondition } from './conditions.ts';
import type { KubeObject, OwnerReference, Pod } from './types.ts';

/** Whether the pod's Ready condition is True. */
export function isPodReady(p: Pod): boolean {
  return hasTrueCondition(p);
}

/** Whether the pod has run to an end (Succeeded or Failed) and will not run again. */
export function isTerminal(p: Pod): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}

/** The owner reference with controller: true, if any. */
export function controllerOf(o: KubeObject): OwnerReference | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller);
}
