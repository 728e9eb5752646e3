// The status a Gateway controller writes, from the model `podpath gateway route` computes and the
// data plane's listeners: GatewayClass Accepted; Gateway Accepted and Programmed with the data
// plane Service's address and each listener's conditions and attachedRoutes; each HTTPRoute's
// status.parents entry for each of its Gateways of this controller (others' entries kept). A
// condition keeps its lastTransitionTime while its status stays. Pure.
import type { Model, RouteParentStatus } from './model.ts';
import type { ListenerStatus } from './dataplane.ts';
import type { GatewayClass, ParentReference } from './types.ts';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

/** Conditions as written: observedGeneration set, lastTransitionTime kept from `old` when the status did not change. */
export function stamp(want: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>[], old: Condition[] | undefined, generation: number | undefined, now: string): Condition[] {
  return want.map((c) => {
    const was = old?.find((o) => o.type === c.type);
    return { ...c, lastTransitionTime: was && was.status === c.status ? was.lastTransitionTime! : now, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
  });
}

export function gatewayClassConditions(gc: GatewayClass): Omit<Condition, 'lastTransitionTime'>[] {
  return [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: `handled by ${gc.spec.controllerName}` }];
}

export interface GatewayStatusView {
  addresses: { type: 'IPAddress' | 'Hostname'; value: string }[];
  conditions: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>[];
  listeners: ListenerStatus[];
}

/**
 * Accepted unless no listener is valid (ListenersNotValid, True when only some are not);
 * Programmed once nginx runs the configuration and the Service has an address (else
 * AddressNotAssigned, or the reason `address` gives, or Invalid when no listener is programmed).
 */
export function gatewayStatus(listeners: ListenerStatus[], address: { ip?: string; hostname?: string } | { reason: string; message: string } | undefined, loaded: boolean): GatewayStatusView {
  const ok = listeners.filter((l) => l.conditions.some((c) => c.type === 'Programmed' && c.status === 'True'));
  const invalid = listeners.length - ok.length;
  const accepted = !listeners.length || ok.length > 0;
  const conditions: GatewayStatusView['conditions'] = [
    invalid
      ? { type: 'Accepted', status: accepted ? 'True' : 'False', reason: 'ListenersNotValid', message: `${invalid} of ${listeners.length} listener(s) are not valid: ${listeners.filter((l) => !ok.includes(l)).map((l) => l.name).join(', ')}` }
      : { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Gateway accepted' },
  ];
  const problem = address && 'reason' in address ? address : undefined;
  const at = address && !('reason' in address) ? address : undefined;
  const addresses: GatewayStatusView['addresses'] = at?.ip ? [{ type: 'IPAddress', value: at.ip }] : at?.hostname ? [{ type: 'Hostname', value: at.hostname }] : [];
  if (problem) conditions.push({ type: 'Programmed', status: 'False', reason: problem.reason, message: problem.message });
  else if (!ok.length && listeners.length) conditions.push({ type: 'Programmed', status: 'False', reason: 'Invalid', message: 'no listener is programmed' });
  else if (!addresses.length) conditions.push({ type: 'Programmed', status: 'False', reason: 'AddressNotAssigned', message: "the data plane's Service has no load-balancer address yet" });
  else if (!loaded) conditions.push({ type: 'Programmed', status: 'False', reason: 'Pending', message: 'nginx has not loaded the configuration yet' });
  else conditions.push({ type: 'Programmed', status: 'True', reason: 'Programmed', message: `served by nginx at ${addresses[0]!.value}` });
  return { addresses, conditions, listeners };
}

export interface RouteParentEntry {
  parentRef: ParentReference;
  controllerName: string;
  conditions: Condition[];
}

const sameRef = (a: ParentReference, b: ParentReference) =>
  (a.group ?? 'gateway.networking.k8s.io') === (b.group ?? 'gateway.networking.k8s.io') && (a.kind ?? 'Gateway') === (b.kind ?? 'Gateway') && (a.namespace ?? '') === (b.namespace ?? '') && a.name === b.name && (a.sectionName ?? '') === (b.sectionName ?? '') && (a.port ?? 0) === (b.port ?? 0);

/** The route's status.parents: this controller's entries from the model (one per parentRef to its Gateways), other controllers' kept. */
export function routeParents(model: Model, routeKey: string, old: RouteParentEntry[] | undefined, controllerName: string, generation: number | undefined, now: string): RouteParentEntry[] {
  const rm = model.routes.find((r) => r.key === routeKey);
  const mine: RouteParentStatus[] = rm?.parents ?? [];
  const kept = (old ?? []).filter((p) => p.controllerName !== controllerName);
  const ours = mine.map((p) => {
    // the parentRef as the user wrote it (without the defaults the model filled in)
    const ref: ParentReference = { group: p.parentRef.group, kind: p.parentRef.kind, name: p.parentRef.name, ...(p.parentRef.namespace !== undefined ? { namespace: p.parentRef.namespace } : {}), ...(p.parentRef.sectionName !== undefined ? { sectionName: p.parentRef.sectionName } : {}), ...(p.parentRef.port !== undefined ? { port: p.parentRef.port } : {}) };
    const was = (old ?? []).find((o) => o.controllerName === controllerName && sameRef(o.parentRef, ref));
    return { parentRef: ref, controllerName, conditions: stamp(p.conditions, was?.conditions, generation, now) };
  });
  return [...kept, ...ours];
}

/** Status equal but for lastTransitionTime stamps: no write needed. */
export function sameStatus(a: unknown, b: unknown): boolean {
  const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null, (k, x) => (k === 'lastTransitionTime' ? undefined : x)));
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}
