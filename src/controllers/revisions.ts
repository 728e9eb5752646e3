// A Deployment's revisions, kept as the deployment controller keeps them
// (pkg/controller/deployment/util/deployment_util.go, sync.go): each ReplicaSet carries the
// revision it last served in an annotation, the Deployment the revision of its current
// ReplicaSet, and `kubectl rollout history/undo` read and replay them client-side. Pure: each
// function computes what the controller then writes.
import { sameValue } from '../api/fieldset.ts';
import type { Deployment, PodTemplateSpec, ReplicaSet } from '../api/types.ts';
import { wireValue } from '../api/wire.ts';

export const revisionAnnotation = 'deployment.kubernetes.io/revision';
export const revisionHistoryAnnotation = 'deployment.kubernetes.io/revision-history';
export const desiredReplicasAnnotation = 'deployment.kubernetes.io/desired-replicas';
export const maxReplicasAnnotation = 'deployment.kubernetes.io/max-replicas';
export const changeCauseAnnotation = 'kubernetes.io/change-cause';
export const podTemplateHashLabel = 'pod-template-hash';

/** What a ReplicaSet's revision-history may hold (maxRevHistoryLengthInChars); the oldest entries go first. */
export const maxRevisionHistoryChars = 2000;

/** Deployment annotations never copied to its ReplicaSets (annotationsToSkip). */
const skippedAnnotations = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  revisionAnnotation,
  revisionHistoryAnnotation,
  desiredReplicasAnnotation,
  maxReplicasAnnotation,
  'deprecated.deployment.rollback.to',
]);

/** The revision of a ReplicaSet: 0 without the annotation, undefined when it is not a number. */
export function revisionOf(rs: ReplicaSet): number | undefined {
  const v = rs.metadata.annotations?.[revisionAnnotation];
  if (v === undefined) return 0;
  return /^[+-]?\d+$/.test(v) ? Number(v) : undefined;
}

/** MaxRevision: the highest revision among `rss`, unparsable ones skipped. */
export function maxRevision(rss: ReplicaSet[]): number {
  return rss.reduce((max, rs) => Math.max(max, revisionOf(rs) ?? 0), 0);
}

/** EqualIgnoreHash: the templates are the same once the pod-template-hash label is set aside. */
export function sameTemplateIgnoringHash(a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined): boolean {
  const strip = (t: PodTemplateSpec | undefined) => {
    const c = wireValue('V1PodTemplateSpec', structuredClone(t ?? {}) as PodTemplateSpec);
    const labels = c.metadata?.labels;
    if (labels) {
      delete labels[podTemplateHashLabel];
      if (!Object.keys(labels).length) delete c.metadata!.labels;
    }
    return c;
  };
  return sameValue(strip(a), strip(b));
}

/** The desired-replicas and max-replicas annotations for a Deployment of `replicas` that may surge by `maxSurge`. */
export function replicasAnnotations(replicas: number, maxSurge: number): Record<string, string> {
  return { [desiredReplicasAnnotation]: String(replicas), [maxReplicasAnnotation]: String(replicas + maxSurge) };
}

/** Whether `rs` lacks the replicas annotations of `want` (ReplicasAnnotationsNeedUpdate). */
export function replicasAnnotationsNeedUpdate(rs: ReplicaSet, want: Record<string, string>): boolean {
  const a = rs.metadata.annotations ?? {};
  return Object.entries(want).some(([k, v]) => a[k] !== v);
}

/**
 * SetNewReplicaSetAnnotations: the annotations of the Deployment's new ReplicaSet at
 * `newRevision` — the Deployment's own annotations (but the skipped ones), the revision raised
 * to `newRevision` when lower, the revision it held before appended to its revision-history
 * (which is what a rollback does), and, for a ReplicaSet being created, the replicas
 * annotations. Undefined when nothing changes.
 */
export function newReplicaSetAnnotations(
  d: Deployment,
  current: Record<string, string> | undefined,
  newRevision: number,
  created: Record<string, string> | undefined,
): Record<string, string> | undefined {
  const out: Record<string, string> = { ...(current ?? {}) };
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (skippedAnnotations.has(k) || out[k] === v) continue;
    out[k] = v;
    changed = true;
  }
  const oldText = out[revisionAnnotation];
  let oldRevision = 0;
  if (oldText !== undefined && oldText !== '') {
    if (!/^[+-]?\d+$/.test(oldText)) return changed ? out : undefined; // an unparsable revision is left alone
    oldRevision = Number(oldText);
  }
  if (oldRevision < newRevision) {
    out[revisionAnnotation] = String(newRevision);
    changed = true;
    if (oldText !== undefined) out[revisionHistoryAnnotation] = appendRevisionHistory(out[revisionHistoryAnnotation], oldText);
  }
  if (created) {
    Object.assign(out, created);
    changed = true;
  }
  return changed ? out : undefined;
}

/** The revision-history with `revision` appended, its oldest entries dropped to stay within maxRevisionHistoryChars. */
export function appendRevisionHistory(history: string | undefined, revision: string): string {
  if (!history) return revision;
  const entries = history.split(',');
  let total = history.length + revision.length + 1;
  let start = 0;
  while (total > maxRevisionHistoryChars && start < entries.length) {
    total -= entries[start]!.length + 1;
    start++;
  }
  return total <= maxRevisionHistoryChars ? [...entries.slice(start), revision].join(',') : history;
}

/**
 * cleanupDeployment: the old ReplicaSets to delete so that at most revisionHistoryLimit remain
 * — the lowest revisions first, each only if it is scaled to zero, has no pods and its
 * controller has seen its last change.
 */
export function replicaSetsToClean(old: ReplicaSet[], revisionHistoryLimit: number): ReplicaSet[] {
  const alive = old.filter((rs) => !rs.metadata.deletionTimestamp);
  const excess = alive.length - revisionHistoryLimit;
  if (excess <= 0) return [];
  const byRevision = [...alive].sort(
    (a, b) => (revisionOf(a) ?? 0) - (revisionOf(b) ?? 0) || Date.parse(a.metadata.creationTimestamp ?? '') - Date.parse(b.metadata.creationTimestamp ?? '') || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
  );
  return byRevision
    .slice(0, excess)
    .filter((rs) => (rs.status?.replicas ?? 0) === 0 && (rs.spec.replicas ?? 0) === 0 && (rs.metadata.generation ?? 0) <= (rs.status?.observedGeneration ?? 0));
}
