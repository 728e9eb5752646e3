// A DaemonSet's history, kept as the daemon controller keeps it (pkg/controller/daemon/update.go):
// each template the DaemonSet has had is a ControllerRevision `<ds>-<hash>` whose `data` is the
// strategic merge patch that puts the template back, numbered in the order the templates were
// current. `kubectl rollout history` lists them and `kubectl rollout undo` applies a revision's
// data; the template brought back is then the newest revision again, under its old name.
// Pure: these functions compute what the controller then writes.
import type { ControllerRevision, DaemonSet, OwnerReference, Pod } from '../api/types.ts';
import { wireValue } from '../api/wire.ts';
import { canonicalJSON, computeHash } from './hash.ts';

/** apps/v1 DefaultDaemonSetUniqueLabelKey: on a revision and on the pods made from it. */
export const controllerRevisionHashLabel = 'controller-revision-hash';

/**
 * A value with the keys of every object sorted, as Go's encoding/json writes a map[string]interface{}.
 * (A JS object keeps keys that read as array indices, such as a label "10", first in numeric order.)
 */
function sortedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) if ((v as Record<string, unknown>)[k] !== undefined) out[k] = sortedKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/**
 * getPatch: the patch that restores the DaemonSet's template, `{"spec":{"template":{…,"$patch":"replace"}}}`.
 * Upstream marshals the typed DaemonSet and re-marshals it as a map, so the template reads as
 * kube-apiserver prints it with every object's keys sorted.
 */
export function daemonSetPatch(ds: DaemonSet): Record<string, unknown> {
  const template = { ...(wireValue('V1PodTemplateSpec', structuredClone(ds.spec.template)) as unknown as Record<string, unknown>), $patch: 'replace' };
  return sortedKeys({ spec: { template } }) as Record<string, unknown>;
}

/** Match: the revision holds the DaemonSet's current template. */
export function matchesRevision(ds: DaemonSet, cr: ControllerRevision): boolean {
  return canonicalJSON(daemonSetPatch(ds)) === canonicalJSON(cr.data ?? null);
}

/** The hash a new revision of `ds` is named and labelled by (ComputeHash of the template and collision count). */
export function revisionHash(ds: DaemonSet): string {
  return computeHash(ds.spec.template, ds.status?.collisionCount);
}

/** The hash a revision carries: its label (constructHistory labels those without it by their name). */
export function hashOf(cr: ControllerRevision): string {
  return cr.metadata.labels?.[controllerRevisionHashLabel] ?? cr.metadata.name!;
}

function controllerRef(ds: DaemonSet): OwnerReference {
  return { apiVersion: 'apps/v1', kind: 'DaemonSet', name: ds.metadata.name!, uid: ds.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** snapshot: the ControllerRevision of the DaemonSet's current template at `revision`. */
export function snapshot(ds: DaemonSet, revision: number): ControllerRevision {
  const hash = revisionHash(ds);
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: `${ds.metadata.name}-${hash}`,
      namespace: ds.metadata.namespace,
      labels: { ...(ds.spec.template.metadata?.labels ?? {}), [controllerRevisionHashLabel]: hash },
      // the DaemonSet's annotations, so kubernetes.io/change-cause is the revision's CHANGE-CAUSE
      ...(ds.metadata.annotations ? { annotations: { ...ds.metadata.annotations } } : {}),
      ownerReferences: [controllerRef(ds)],
    },
    data: daemonSetPatch(ds),
    revision,
  };
}

const maxRevision = (crs: ControllerRevision[]) => crs.reduce((m, cr) => Math.max(m, cr.revision ?? 0), 0);

export interface HistoryPlan {
  /** revisions without the hash label, to be labelled with their own name */
  label: string[];
  /** the revision of the current template: an existing one, or the snapshot to create */
  current: ControllerRevision;
  create: boolean;
  /** the current revision's new number when an older template came back (a rollback) */
  renumber?: number;
  /** other revisions with the current template, deleted once their pods carry the current hash */
  duplicates: string[];
  /** pods carrying a duplicate's hash, to be labelled with the current one */
  relabel: string[];
  /** the hash the DaemonSet's pods are labelled with */
  hash: string;
  /** every revision but the current one */
  old: ControllerRevision[];
}

/**
 * constructHistory: split the DaemonSet's revisions into the current one (whose data matches its
 * template) and the old ones. Without a current one the next number is snapshotted; a current one
 * below the newest old one is renumbered past it; of several current ones the highest-numbered
 * stays (dedupCurHistories). Upstream relabels every pod in that last case; here only the pods of
 * the duplicates, which were made from the same template, so an unfinished rollout still sees
 * its old pods as old.
 */
export function constructHistory(ds: DaemonSet, revisions: ControllerRevision[], pods: Pod[]): HistoryPlan {
  const label = revisions.filter((cr) => cr.metadata.labels?.[controllerRevisionHashLabel] === undefined).map((cr) => cr.metadata.name!);
  const current: ControllerRevision[] = [];
  const old: ControllerRevision[] = [];
  for (const cr of revisions) (matchesRevision(ds, cr) ? current : old).push(cr);
  const next = maxRevision(old) + 1;
  if (current.length === 0) {
    const cur = snapshot(ds, next);
    return { label, current: cur, create: true, duplicates: [], relabel: [], hash: hashOf(cur), old };
  }
  let keep = current[0]!;
  for (const cr of current) if ((cr.revision ?? 0) >= (keep.revision ?? 0)) keep = cr;
  const hash = hashOf(keep);
  const dups = current.filter((cr) => cr !== keep);
  const dupHashes = new Set(dups.map(hashOf));
  const relabel = pods.filter((p) => dupHashes.has(p.metadata.labels?.[controllerRevisionHashLabel] ?? '')).map((p) => p.metadata.name!);
  return {
    label,
    current: keep,
    create: false,
    ...((keep.revision ?? 0) < next ? { renumber: next } : {}),
    duplicates: dups.map((cr) => cr.metadata.name!),
    relabel,
    hash,
    old,
  };
}

/**
 * cleanupHistory: the old revisions beyond spec.revisionHistoryLimit to delete, the lowest
 * numbers first, never one a pod of the DaemonSet (terminating ones included) still carries.
 */
export function historyToCleanUp(ds: DaemonSet, old: ControllerRevision[], pods: Pod[]): string[] {
  let toKill = old.length - (ds.spec.revisionHistoryLimit ?? 10);
  if (toKill <= 0) return [];
  const live = new Set(pods.map((p) => p.metadata.labels?.[controllerRevisionHashLabel]).filter((h): h is string => !!h));
  const out: string[] = [];
  for (const cr of [...old].sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0))) {
    if (toKill <= 0) break;
    if (live.has(hashOf(cr))) continue;
    out.push(cr.metadata.name!);
    toKill--;
  }
  return out;
}
