// Where a pod may run, as the scheduler's filters and the DaemonSet controller decide it: taints
// and tolerations (core/v1 Toleration.ToleratesTaint), the conditions a node's state implies as
// taints (TaintNodesByCondition), and node affinity — spec.nodeSelector plus
// requiredDuringSchedulingIgnoredDuringExecution, whose terms are ORed and whose requirements
// (matchExpressions on labels, matchFields on metadata.name) are ANDed. Pure.
import { hasTrueCondition } from './conditions.ts';
import type { Node, PodSpec } from './types.ts';

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

/** The well-known taints (k8s.io/api/core/v1 well_known_taints.go). */
export const taints = {
  notReady: 'node.kubernetes.io/not-ready',
  unreachable: 'node.kubernetes.io/unreachable',
  unschedulable: 'node.kubernetes.io/unschedulable',
  memoryPressure: 'node.kubernetes.io/memory-pressure',
  diskPressure: 'node.kubernetes.io/disk-pressure',
  pidPressure: 'node.kubernetes.io/pid-pressure',
  networkUnavailable: 'node.kubernetes.io/network-unavailable',
} as const;

/** Toleration.ToleratesTaint: effect and key match when given; Equal (or no operator) compares values, Exists does not. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? '') {
    case '':
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

/** The first of `taints` with one of `effects` that no toleration tolerates. */
export function untoleratedTaint(nodeTaints: Taint[], tolerations: Toleration[] | undefined, effects: string[] = ['NoSchedule', 'NoExecute']): Taint | undefined {
  return nodeTaints.find((taint) => effects.includes(taint.effect) && !(tolerations ?? []).some((t) => toleratesTaint(t, taint)));
}

/**
 * A node's taints with those its state implies, as the node lifecycle controller adds them:
 * not Ready → not-ready (NoSchedule and NoExecute), cordoned → unschedulable (NoSchedule).
 */
export function effectiveTaints(n: Node): Taint[] {
  const out: Taint[] = [...((n.spec?.taints ?? []) as Taint[])];
  const has = (key: string, effect: string) => out.some((t) => t.key === key && t.effect === effect);
  if (!hasTrueCondition(n)) {
    for (const effect of ['NoSchedule', 'NoExecute']) if (!has(taints.notReady, effect)) out.push({ key: taints.notReady, effect });
  }
  if (n.spec?.unschedulable && !has(taints.unschedulable, 'NoSchedule')) out.push({ key: taints.unschedulable, effect: 'NoSchedule' });
  return out;
}

function requirementMatches(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      if (value === undefined || values.length !== 1 || !/^-?\d+$/.test(value) || !/^-?\d+$/.test(values[0]!)) return false;
      return r.operator === 'Gt' ? Number(value) > Number(values[0]) : Number(value) < Number(values[0]);
    }
    default:
      return false;
  }
}

/** A NodeSelectorTerm: every requirement holds; a term without requirements matches no node. */
export function termMatches(term: NodeSelectorTerm, n: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = n.metadata.labels ?? {};
  const fieldValue = (key: string) => (key === 'metadata.name' ? n.metadata.name : undefined);
  return exprs.every((r) => requirementMatches(r, labels[r.key])) && fields.every((r) => requirementMatches(r, fieldValue(r.key)));
}

/** The required node affinity's terms of a pod spec (undefined: none given). */
export function requiredTerms(spec: Pick<PodSpec, 'affinity'>): NodeSelectorTerm[] | undefined {
  const na = (spec.affinity as { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] } } } | undefined)?.nodeAffinity;
  return na?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
}

/** The scheduler's NodeAffinity filter: nodeSelector's labels all present, and one required term matching. */
export function fitsNodeAffinity(spec: Pick<PodSpec, 'nodeSelector' | 'affinity'>, n: Node): boolean {
  const labels = n.metadata.labels ?? {};
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const terms = requiredTerms(spec);
  return terms === undefined || terms.some((t) => termMatches(t, n));
}

/** The node a pod is bound to, or the one its required affinity names by metadata.name (a DaemonSet pod before scheduling). */
export function targetNodeName(spec: Pick<PodSpec, 'nodeName' | 'affinity'>): string | undefined {
  if (spec.nodeName) return spec.nodeName;
  for (const t of requiredTerms(spec) ?? []) {
    for (const f of t.matchFields ?? []) if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
  }
  return undefined;
}
