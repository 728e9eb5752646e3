// The Job controller and the TTL-after-finished controller (kube-controller-manager's job and
// ttl-after-finished controllers): a Job runs pods from its template until `completions` of
// them succeed, at most `parallelism` at once, replacing failed pods after upstream's
// back-off until `backoffLimit`, `activeDeadlineSeconds` or a podFailurePolicy rule fails it;
// a finished Job with ttlSecondsAfterFinished is deleted when that has passed.
// planJob is the whole decision, pure; JobController applies it.
import { sameValue } from '../api/fieldset.ts';
import { wireValue } from '../api/wire.ts';
import { firstPendingIndexes, formatIntervals, hasIndex, indexList, parseIntervals, totalIndexes, withIndexes, type Intervals } from '../api/indexes.ts';
import { controllerOf, isPodReady, isTerminal } from '../api/pod.ts';
import type { Job, JobCondition, JobStatus, KubeObject, OwnerReference, Pod, PodFailurePolicyRule } from '../api/types.ts';
import { objectPath, type Client } from '../client/client.ts';
import { EventRecorder, type EventType } from '../client/events.ts';
import type { Informer } from '../client/informer.ts';
import { nsName, splitKey, WorkQueue } from '../client/workqueue.ts';

/** The first pod-failure back-off; each further consecutive failure doubles it. */
export const podFailureBackOffMs = 10_000;
/** The longest back-off (the Job documentation's six minutes). */
export const maxPodFailureBackOffMs = 6 * 60_000;

export interface JobEvent {
  type: EventType;
  reason: string;
  message: string;
}

export interface JobPlan {
  /** the status to write (unchanged when equal to the Job's) */
  status: JobStatus;
  /** pods to create now */
  create: number;
  /** names of pods to delete */
  delete: string[];
  events: JobEvent[];
  /** look again after this long: back-off, deadline or TTL */
  requeueAfterMs?: number;
  /** the TTL has passed: delete the Job */
  deleteJob?: boolean;
  /** an Indexed Job's pods to create (as many as `create`): their indexes */
  indexes?: PodToCreate[];
  /** pods whose tracking finalizer to remove, once the status is written */
  removeFinalizers: string[];
}

const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

function hasCondition(status: JobStatus | undefined, type: string): boolean {
  return (status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');
}

export function isJobFinished(job: Job): boolean {
  return hasCondition(job.status, 'Complete') || hasCondition(job.status, 'Failed');
}

function setCondition(conds: JobCondition[], type: string, status: string, reason: string, message: string, now: number): JobCondition[] {
  const cur = conds.find((c) => c.type === type);
  if (cur && cur.status === status && cur.reason === reason && cur.message === message) return conds;
  const next: JobCondition = { type, status, lastProbeTime: rfc3339(now), lastTransitionTime: cur && cur.status === status ? (cur.lastTransitionTime ?? rfc3339(now)) : rfc3339(now), reason, message };
  return cur ? conds.map((c) => (c === cur ? next : c)) : [...conds, next];
}

/** When a terminated pod finished: its containers' latest finishedAt, else its Ready condition's change. */
function finishedAt(p: Pod): number {
  let t = 0;
  for (const cs of p.status?.containerStatuses ?? []) {
    const f = Date.parse((cs.state?.terminated as { finishedAt?: string } | undefined)?.finishedAt ?? '');
    if (f > t) t = f;
  }
  if (t) return t;
  const ready = (p.status?.conditions ?? []).find((c) => c.type === 'Ready');
  return Date.parse(ready?.lastTransitionTime ?? '') || Date.parse(p.metadata.creationTimestamp ?? '') || 0;
}

/** The first podFailurePolicy rule a failed pod matches, with upstream's message for FailJob. */
export function matchPodFailurePolicy(rules: PodFailurePolicyRule[], pod: Pod): { action: string; index: number; message: string } | undefined {
  const ref = `${pod.metadata.namespace}/${pod.metadata.name}`;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (r.onExitCodes) {
      const ec = r.onExitCodes;
      for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
        if (ec.containerName && ec.containerName !== cs.name) continue;
        const code = (cs.state?.terminated as { exitCode?: number } | undefined)?.exitCode;
        if (code === undefined || code === 0) continue;
        const hit = ec.operator === 'In' ? ec.values.includes(code) : !ec.values.includes(code);
        if (hit) return { action: r.action, index: i, message: `Container ${cs.name} for pod ${ref} failed with exit code ${code} matching ${r.action} rule at index ${i}` };
      }
    }
    for (const pc of r.onPodConditions ?? []) {
      if ((pod.status?.conditions ?? []).some((c) => c.type === pc.type && c.status === (pc.status ?? 'True'))) {
        return { action: r.action, index: i, message: `Pod ${ref} has condition ${pc.type} matching ${r.action} rule at index ${i}` };
      }
    }
  }
  return undefined;
}

/** The back-off before the next pod: 10 s doubling per failure since the last success, capped. */
export function podFailureBackOff(consecutiveFailures: number): number {
  if (consecutiveFailures <= 0) return 0;
  return Math.min(podFailureBackOffMs * 2 ** (consecutiveFailures - 1), maxPodFailureBackOffMs);
}

/** On every pod a Job creates; removed once the pod's end is counted in the Job's status. */
export const jobTrackingFinalizer = 'batch.kubernetes.io/job-tracking';
/** An Indexed Job pod's index: an annotation and a label of the same name. */
export const completionIndexKey = 'batch.kubernetes.io/job-completion-index';
/** How often the pod's index failed before it (backoffLimitPerIndex). */
export const indexFailureCountKey = 'batch.kubernetes.io/job-index-failure-count';
/** How many failures of the index a podFailurePolicy Ignore rule left uncounted. */
export const indexIgnoredFailureCountKey = 'batch.kubernetes.io/job-index-ignored-failure-count';

/** A pod to create: for an Indexed Job its index and the failures of that index so far. */
export interface PodToCreate {
  index?: number;
  failureCount?: number;
  ignoredFailureCount?: number;
}

/** The completion index of a pod, or undefined (getCompletionIndex). */
export function completionIndex(p: Pod): number | undefined {
  const v = p.metadata.annotations?.[completionIndexKey];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

const annotationCount = (p: Pod, key: string) => {
  const v = p.metadata.annotations?.[key];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : 0;
};

const isTracked = (p: Pod) => (p.metadata.finalizers ?? []).includes(jobTrackingFinalizer);

/** The first successPolicy rule the succeeded indexes meet, as upstream's message (matchSuccessPolicy). */
export function matchSuccessPolicy(job: Job, succeeded: Intervals): string | undefined {
  const rules = job.spec.successPolicy?.rules;
  const completions = job.spec.completions ?? 0;
  if (!rules || succeeded.length === 0) return undefined;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (r.succeededIndexes !== undefined) {
      const want = parseIntervals(r.succeededIndexes, completions);
      if (want.length === 0) continue;
      const have = indexList(want).filter((ix) => hasIndex(succeeded, ix)).length;
      if (have === totalIndexes(want) || (r.succeededCount !== undefined && have >= r.succeededCount)) return `Matched rules at index ${i}`;
    } else if (r.succeededCount !== undefined && totalIndexes(succeeded) >= r.succeededCount) return `Matched rules at index ${i}`;
  }
  return undefined;
}

/**
 * What the Job controller does for `job` given its pods at `now`. A pod's end is counted as
 * upstream counts it, so that deleting the pod loses nothing: its UID goes to
 * status.uncountedTerminatedPods (written first), then its tracking finalizer is removed, then
 * — once no pod of that UID holds the finalizer — it moves into succeeded/failed. Pods without
 * the finalizer are counted already.
 */
export function planJob(job: Job, pods: Pod[], now: number): JobPlan {
  const spec = job.spec;
  const prev = job.status ?? {};
  const events: JobEvent[] = [];
  const plan: JobPlan = { status: prev, create: 0, delete: [], events, removeFinalizers: [] };
  const indexed = spec.completionMode === 'Indexed';
  const completions = spec.completions;
  const perIndex = indexed ? spec.backoffLimitPerIndex : undefined;

  if (isJobFinished(job)) {
    // A finished Job counts nothing more: its pods' finalizers go.
    plan.removeFinalizers = pods.filter(isTracked).map((p) => p.metadata.name!);
    const ttl = spec.ttlSecondsAfterFinished;
    if (ttl !== undefined) {
      const done = (prev.conditions ?? []).find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
      const finished = Date.parse(prev.completionTime ?? done?.lastTransitionTime ?? '') || now;
      const expire = finished + ttl * 1000;
      if (now >= expire) plan.deleteJob = true;
      else plan.requeueAfterMs = expire - now;
    }
    return plan;
  }

  // ---- counting ----
  const onlyFailed = spec.podReplacementPolicy === 'Failed' || Boolean(spec.podFailurePolicy);
  const isFailed = (p: Pod) => p.status?.phase === 'Failed' || (!onlyFailed && Boolean(p.metadata.deletionTimestamp) && p.status?.phase !== 'Succeeded');
  const rules = spec.podFailurePolicy?.rules ?? [];
  const byUid = new Map(pods.map((p) => [p.metadata.uid!, p]));
  const uncS = new Set(prev.uncountedTerminatedPods?.succeeded ?? []);
  const uncF = new Set(prev.uncountedTerminatedPods?.failed ?? []);
  let succeeded = prev.succeeded ?? 0;
  let failed = prev.failed ?? 0;
  // Counted ends whose finalizer is gone move into the counters.
  for (const uid of [...uncS]) if (!byUid.get(uid) || !isTracked(byUid.get(uid)!)) (uncS.delete(uid), succeeded++);
  for (const uid of [...uncF]) if (!byUid.get(uid) || !isTracked(byUid.get(uid)!)) (uncF.delete(uid), failed++);

  const prevSucceeded = indexed ? parseIntervals(prev.completedIndexes, completions ?? 0) : [];
  const prevFailedIx = perIndex !== undefined ? parseIntervals(prev.failedIndexes, completions ?? 0) : [];
  const newSucceededIx: number[] = [];
  const newFailedIx: number[] = [];
  let failJob: { reason: string; message: string } | undefined;
  const removeFinalizers = new Set<string>();
  /** failed pods that count (for the back-off and the index failure counts) */
  const failedPods: Pod[] = [];
  const ignoredPods: Pod[] = [];
  for (const p of pods) {
    const tracked = isTracked(p);
    const uid = p.metadata.uid!;
    const ix = completionIndex(p);
    if (p.status?.phase === 'Succeeded') {
      if (!tracked || uncS.has(uid)) continue;
      if (!indexed) uncS.add(uid);
      else if (ix !== undefined && ix < (completions ?? 0) && !hasIndex(prevSucceeded, ix) && !newSucceededIx.includes(ix)) {
        uncS.add(uid);
        newSucceededIx.push(ix);
      }
      removeFinalizers.add(p.metadata.name!);
    } else if (isFailed(p)) {
      const m = p.status?.phase === 'Failed' && rules.length ? matchPodFailurePolicy(rules, p) : undefined;
      if (m?.action === 'Ignore') {
        ignoredPods.push(p);
        if (tracked) removeFinalizers.add(p.metadata.name!);
        continue;
      }
      failedPods.push(p);
      if (!tracked || uncF.has(uid)) continue;
      if (m?.action === 'FailJob' && !failJob) failJob = { reason: 'PodFailurePolicy', message: m.message };
      uncF.add(uid);
      if (perIndex !== undefined && ix !== undefined && ix < (completions ?? 0) && (m?.action === 'FailIndex' || annotationCount(p, indexFailureCountKey) >= perIndex)) newFailedIx.push(ix);
      removeFinalizers.add(p.metadata.name!);
    }
  }
  // Ends recorded earlier whose finalizer is still there: remove it again.
  for (const p of pods) if (isTracked(p) && (uncS.has(p.metadata.uid!) || uncF.has(p.metadata.uid!))) removeFinalizers.add(p.metadata.name!);
  plan.removeFinalizers = [...removeFinalizers];

  const succeededIx = indexed ? withIndexes(prevSucceeded, [...newSucceededIx].sort((a, b) => a - b)) : [];
  const failedIx = perIndex !== undefined ? withIndexes(prevFailedIx, [...new Set(newFailedIx)].sort((a, b) => a - b)) : [];
  const succeededTotal = indexed ? totalIndexes(succeededIx) : succeeded + uncS.size;
  const failedTotal = failed + uncF.size;

  const deleting = pods.filter((p) => p.metadata.deletionTimestamp && !isTerminal(p));
  let active = pods.filter((p) => !p.metadata.deletionTimestamp && !isTerminal(p));
  let conditions = prev.conditions ?? [];
  const status: JobStatus = { ...prev };
  const counters = (): JobStatus => {
    const s: JobStatus = { succeeded, failed, uncountedTerminatedPods: { ...(uncS.size ? { succeeded: [...uncS] } : {}), ...(uncF.size ? { failed: [...uncF] } : {}) } };
    if (indexed) s.completedIndexes = formatIntervals(succeededIx);
    if (perIndex !== undefined) s.failedIndexes = formatIntervals(failedIx);
    return s;
  };
  const uncountedLeft = () => uncS.size + uncF.size;

  // Suspended: no pods; resumed: the clock starts again.
  if (spec.suspend) {
    plan.delete = active.map((p) => p.metadata.name!);
    for (const n of plan.delete) events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${n}` });
    if (!hasCondition(prev, 'Suspended')) {
      conditions = setCondition(conditions, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now);
      events.push({ type: 'Normal', reason: 'Suspended', message: 'Job suspended' });
    }
    delete status.startTime;
    plan.status = finish(status, { ...counters(), conditions, active: 0, ready: 0, terminating: deleting.length + plan.delete.length });
    return plan;
  }
  let start = prev.startTime ? Date.parse(prev.startTime) : now;
  if (hasCondition(prev, 'Suspended')) {
    conditions = setCondition(conditions, 'Suspended', 'False', 'JobResumed', 'Job resumed', now);
    events.push({ type: 'Normal', reason: 'Resumed', message: 'Job resumed' });
    start = now;
  }
  status.startTime = rfc3339(start);

  // The finishing condition, in upstream's order: the pod failure policy, the back-off limit,
  // the deadline, the failed indexes, then the success policy.
  const backoffLimit = spec.backoffLimit ?? 6;
  let success: { reason: string; message: string } | undefined;
  if (!failJob && !hasCondition(prev, 'FailureTarget') && !hasCondition(prev, 'SuccessCriteriaMet')) {
    if (spec.template.spec.restartPolicy === 'OnFailure') {
      const restarts = active.reduce((n, p) => n + [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].reduce((m, c) => m + (c.restartCount ?? 0), 0), 0);
      if (backoffLimit === 0 ? restarts > 0 : restarts >= backoffLimit) failJob = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    }
    if (!failJob && failedTotal > backoffLimit) failJob = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    if (!failJob && spec.activeDeadlineSeconds !== undefined && now - start >= spec.activeDeadlineSeconds * 1000) {
      failJob = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
    }
    if (!failJob && perIndex !== undefined) {
      const nFailed = totalIndexes(failedIx);
      if (spec.maxFailedIndexes !== undefined && nFailed > spec.maxFailedIndexes) failJob = { reason: 'MaxFailedIndexesExceeded', message: 'Job has exceeded the specified maximal number of failed indexes' };
      else if (nFailed > 0 && nFailed + totalIndexes(succeededIx) >= (completions ?? 0)) failJob = { reason: 'FailedIndexes', message: 'Job has failed indexes' };
    }
    if (!failJob && indexed) {
      const msg = matchSuccessPolicy(job, succeededIx);
      if (msg) success = { reason: 'SuccessPolicy', message: msg };
    }
  }
  const target = (prev.conditions ?? []).find((c) => c.type === 'FailureTarget' && c.status === 'True');
  if (failJob || target) {
    const why = failJob ?? { reason: target!.reason ?? '', message: target!.message ?? '' };
    conditions = setCondition(conditions, 'FailureTarget', 'True', why.reason, why.message, now);
    plan.delete = active.map((p) => p.metadata.name!);
    for (const n of plan.delete) events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${n}` });
    const terminating = deleting.length + plan.delete.length;
    if (terminating === 0 && uncountedLeft() === 0) {
      conditions = setCondition(conditions, 'Failed', 'True', why.reason, why.message, now);
      events.push({ type: 'Warning', reason: why.reason, message: why.message });
    }
    plan.status = finish(status, { ...counters(), conditions, active: 0, ready: 0, terminating });
    if (terminating && plan.delete.length === 0) plan.requeueAfterMs = 1000;
    return plan;
  }

  // Success: the success policy, or completions reached (without completions, a pod succeeded and none still run).
  const met = (prev.conditions ?? []).find((c) => c.type === 'SuccessCriteriaMet' && c.status === 'True');
  if (!success && !met) {
    const complete = completions !== undefined ? succeededTotal >= completions : succeededTotal > 0 && active.length === 0;
    if (complete) success = { reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' };
  }
  if (success || met) {
    const why = success ?? { reason: met!.reason ?? '', message: met!.message ?? '' };
    conditions = setCondition(conditions, 'SuccessCriteriaMet', 'True', why.reason, why.message, now);
    plan.delete = active.map((p) => p.metadata.name!);
    for (const n of plan.delete) events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${n}` });
    const terminating = deleting.length + plan.delete.length;
    const s: JobStatus = { ...counters(), conditions, active: 0, ready: 0, terminating };
    if (terminating === 0 && uncountedLeft() === 0) {
      s.conditions = setCondition(conditions, 'Complete', 'True', why.reason, why.message, now);
      s.completionTime = rfc3339(now);
      events.push({ type: 'Normal', reason: 'Completed', message: 'Job completed' });
      if (spec.ttlSecondsAfterFinished !== undefined) plan.requeueAfterMs = spec.ttlSecondsAfterFinished * 1000;
    } else if (terminating && plan.delete.length === 0) plan.requeueAfterMs = 1000;
    plan.status = finish(status, s);
    return plan;
  }

  // Running: keep `parallelism` pods (never more than the completions left), after the back-off.
  const parallelism = spec.parallelism ?? 1;
  if (indexed) {
    // Pods of no valid index, of a finished index, or a second of an index go.
    const done = withIndexes(succeededIx, indexList(failedIx));
    const seen = new Set<number>();
    const keep: Pod[] = [];
    for (const p of [...active].sort((a, b) => rank(b) - rank(a))) {
      const ix = completionIndex(p);
      if (ix === undefined || ix >= (completions ?? 0) || hasIndex(done, ix) || seen.has(ix)) plan.delete.push(p.metadata.name!);
      else (seen.add(ix), keep.push(p));
    }
    active = keep;
  }
  const left = completions !== undefined ? completions - succeededTotal - totalIndexes(failedIx) : 0;
  const want = completions !== undefined ? Math.min(parallelism, left) : succeededTotal > 0 ? active.length : parallelism;
  if (active.length > want) {
    const excess = [...active].sort((a, b) => rank(a) - rank(b)).slice(0, active.length - want);
    plan.delete.push(...excess.map((p) => p.metadata.name!));
  } else if (active.length + deleting.length < want || (active.length < want && spec.podReplacementPolicy !== 'Failed')) {
    const lastSuccess = Math.max(0, ...pods.filter((p) => p.status?.phase === 'Succeeded').map(finishedAt));
    const recent = failedPods.filter((p) => p.status?.phase === 'Failed').map(finishedAt).filter((t) => t > lastSuccess);
    const delay = spec.template.spec.restartPolicy === 'Never' && perIndex === undefined ? podFailureBackOff(recent.length) : 0;
    const readyAt = recent.length && delay ? Math.max(...recent) + delay : now;
    const count = want - active.length - (spec.podReplacementPolicy === 'Failed' ? deleting.length : 0);
    if (readyAt > now) plan.requeueAfterMs = readyAt - now;
    else if (!indexed) plan.create = Math.max(0, count);
    else {
      // Indexes neither done nor running (nor, replacing only failed pods, still terminating).
      const busy = [...active, ...(spec.podReplacementPolicy === 'Failed' ? deleting : [])].map(completionIndex).filter((i): i is number => i !== undefined);
      const taken = withIndexes(withIndexes(succeededIx, indexList(failedIx)), [...new Set(busy)].sort((a, b) => a - b));
      const toCreate: PodToCreate[] = [];
      for (const ix of firstPendingIndexes(taken, Math.max(0, count), completions ?? 0)) {
        const own = failedPods.filter((p) => completionIndex(p) === ix);
        const ignored = ignoredPods.filter((p) => completionIndex(p) === ix);
        const failureCount = Math.max(0, ...own.map((p) => annotationCount(p, indexFailureCountKey) + 1));
        const ignoredFailureCount = Math.max(0, ...[...own, ...ignored].map((p) => annotationCount(p, indexIgnoredFailureCountKey) + (ignored.includes(p) ? 1 : 0)));
        // With backoffLimitPerIndex each index has its own back-off.
        if (perIndex !== undefined && own.length) {
          const at = Math.max(...own.map(finishedAt)) + podFailureBackOff(failureCount);
          if (at > now) {
            plan.requeueAfterMs = Math.min(plan.requeueAfterMs ?? at - now, at - now);
            continue;
          }
        }
        toCreate.push({ index: ix, ...(perIndex !== undefined ? { failureCount, ignoredFailureCount } : {}) });
      }
      plan.create = toCreate.length;
      plan.indexes = toCreate;
    }
  }
  for (const n of plan.delete) events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${n}` });
  if (spec.activeDeadlineSeconds !== undefined) {
    const left = start + spec.activeDeadlineSeconds * 1000 - now;
    plan.requeueAfterMs = Math.min(plan.requeueAfterMs ?? left, left);
  }
  const stillActive = active.filter((p) => !plan.delete.includes(p.metadata.name!));
  plan.status = finish(status, {
    ...counters(),
    conditions,
    active: stillActive.length + plan.create,
    ready: stillActive.filter(isPodReady).length,
    terminating: deleting.length + plan.delete.length,
  });
  return plan;
}

/** Pods to delete first: unscheduled, then not ready, then the youngest. */
function rank(p: Pod): number {
  return (p.spec.nodeName ? 1 : 0) + (isPodReady(p) ? 2 : 0);
}

/** The status with counts set; zero counts and empty conditions left out as the API stores them. */
function finish(base: JobStatus, s: JobStatus): JobStatus {
  const out: JobStatus = { ...base, ...s };
  // active, succeeded and failed are omitempty; ready and terminating are pointers, so a 0 shows.
  for (const k of ['active', 'succeeded', 'failed'] as const) if (!out[k]) delete out[k];
  if (!out.conditions?.length) delete out.conditions;
  if (!out.completedIndexes) delete out.completedIndexes;
  return out;
}

function ownerRef(o: KubeObject): OwnerReference {
  return { apiVersion: 'batch/v1', kind: 'Job', name: o.metadata.name!, uid: o.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** The apiserver's limit on a generateName prefix (names.MaxGeneratedNameLength). */
const maxGeneratedNameLength = 58;

/** `<job>-<index>-`, the job name cut so that the index survives (podGenerateNameWithIndex). */
function generateNameWithIndex(jobName: string, index: number): string {
  const suffix = `-${index}-`;
  const prefix = jobName + suffix;
  return prefix.length > maxGeneratedNameLength ? prefix.slice(0, maxGeneratedNameLength - suffix.length) + suffix : prefix;
}

/**
 * The pod a Job creates: its template, named JOB-xxxxx, owned by the Job, with the tracking
 * finalizer. An Indexed Job's pod also has its index as an annotation and a label, the
 * JOB_COMPLETION_INDEX variable from that label (the downward API) in every container, the
 * hostname JOB-INDEX, and with backoffLimitPerIndex the index's failure counts.
 */
export function jobPod(job: Job, want: PodToCreate = {}): Pod {
  const t = structuredClone(job.spec.template);
  const meta = { ...(t.metadata ?? {}) };
  let generateName = `${job.metadata.name}-`;
  if (want.index !== undefined) {
    const ix = String(want.index);
    meta.annotations = { ...(meta.annotations ?? {}), [completionIndexKey]: ix };
    meta.labels = { ...(meta.labels ?? {}), [completionIndexKey]: ix };
    if (want.failureCount !== undefined) meta.annotations[indexFailureCountKey] = String(want.failureCount);
    if (want.ignoredFailureCount) meta.annotations[indexIgnoredFailureCountKey] = String(want.ignoredFailureCount);
    t.spec.hostname = `${job.metadata.name}-${want.index}`;
    generateName = generateNameWithIndex(job.metadata.name!, want.index);
  }
  if (job.spec.completionMode === 'Indexed') {
    for (const c of [...(t.spec.initContainers ?? []), ...t.spec.containers]) {
      if ((c.env ?? []).some((e) => e.name === 'JOB_COMPLETION_INDEX')) continue;
      c.env = [...(c.env ?? []), { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.labels['${completionIndexKey}']` } } }];
    }
  }
  const finalizers = [...(meta.finalizers ?? [])];
  if (!finalizers.includes(jobTrackingFinalizer)) finalizers.push(jobTrackingFinalizer);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...meta, finalizers, generateName, namespace: job.metadata.namespace, ownerReferences: [ownerRef(job)] },
    spec: t.spec,
  };
}

export class JobController {
  readonly queue: WorkQueue;
  private readonly recorder: EventRecorder;
  /** pods created or deleted and not yet seen by the pod informer, per Job (upstream's expectations) */
  private expectations = new Map<string, { add: Set<string>; del: Set<string>; at: number }>();

  constructor(
    private readonly client: Client,
    private readonly jobInformer: Informer<Job>,
    private readonly podInformer: Informer<Pod>,
    log: (s: string) => void,
    /** the client that deletes a Job past its ttlSecondsAfterFinished (upstream's ttl-after-finished controller) */
    private readonly ttlClient: Client = client,
  ) {
    this.queue = new WorkQueue((k) => this.sync(k), (k, e) => log(`job ${k}: ${e.message}`));
    this.recorder = new EventRecorder(client, 'job-controller');
    jobInformer.on({ add: (o) => this.queue.add(nsName(o)), update: (_, o) => this.queue.add(nsName(o)), delete: (o) => this.expectations.delete(nsName(o)) });
    const podChanged = (p: Pod) => {
      const ref = controllerOf(p);
      if (ref?.kind === 'Job') this.queue.add(`${p.metadata.namespace}/${ref.name}`);
    };
    podInformer.on({ add: podChanged, update: (old, p) => (podChanged(old), podChanged(p)), delete: podChanged });
  }

  private settled(key: string, pods: Pod[]): boolean {
    const e = this.expectations.get(key);
    if (!e) return true;
    const live = new Map(pods.map((p) => [p.metadata.name!, p]));
    const ok = [...e.add].every((n) => live.has(n)) && [...e.del].every((n) => !live.has(n) || live.get(n)!.metadata.deletionTimestamp || isTerminal(live.get(n)!));
    if (ok || Date.now() - e.at > 10_000) {
      this.expectations.delete(key);
      return true;
    }
    return false;
  }

  /** Removes the tracking finalizer from a pod (upstream's strategic merge patch). */
  private async removeFinalizer(ns: string, name: string): Promise<void> {
    const patch = { metadata: { [`$deleteFromPrimitiveList/finalizers`]: [jobTrackingFinalizer] } };
    await this.client.request('PATCH', objectPath('v1', 'pods', ns, name), patch, 'application/strategic-merge-patch+json').catch(() => {});
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const job = this.jobInformer.get(ns, name);
    if (!job || job.metadata.deletionTimestamp) {
      // A Job gone or going counts nothing more: its pods' finalizers go, so they can go too.
      const orphans = this.podInformer.list().filter((p) => p.metadata.namespace === ns && controllerOf(p)?.kind === 'Job' && controllerOf(p)?.name === name && (!job || controllerOf(p)?.uid === job.metadata.uid) && (p.metadata.finalizers ?? []).includes(jobTrackingFinalizer));
      await Promise.all(orphans.map((p) => this.removeFinalizer(ns, p.metadata.name!)));
      return;
    }
    const pods = this.podInformer.list().filter((p) => p.metadata.namespace === ns && controllerOf(p)?.uid === job.metadata.uid);
    if (!this.settled(key, pods)) {
      this.queue.addAfter(key, 500);
      return;
    }
    const plan = planJob(job, pods, Date.now());
    const jobObj = { ...job, apiVersion: 'batch/v1', kind: 'Job' };
    if (plan.deleteJob) {
      await Promise.all(plan.removeFinalizers.map((n) => this.removeFinalizer(ns, n)));
      await this.ttlClient.request('DELETE', objectPath('batch/v1', 'jobs', ns, name), { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground', preconditions: { uid: job.metadata.uid } }).catch(() => {});
      return;
    }
    const exp = { add: new Set<string>(), del: new Set(plan.delete), at: Date.now() };
    if (plan.create || plan.delete.length) this.expectations.set(key, exp);
    const wants = plan.indexes ?? Array.from({ length: plan.create }, () => ({}));
    // The ends this plan counts are in the status before any finalizer goes.
    if (!sameValue(wireValue('V1JobStatus', plan.status), job.status ?? {})) {
      await this.client.request('PUT', objectPath('batch/v1', 'jobs', ns, name, 'status'), { ...jobObj, status: plan.status });
    }
    await Promise.all([
      ...wants.map(async (w) => {
        const pod = await this.client.request<Pod>('POST', `/api/v1/namespaces/${ns}/pods`, jobPod(job, w));
        exp.add.add(pod.metadata.name!);
        this.recorder.record(jobObj, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`);
      }),
      ...plan.delete.map((p) => this.client.request('DELETE', objectPath('v1', 'pods', ns, p)).catch(() => {})),
      ...plan.removeFinalizers.map((n) => this.removeFinalizer(ns, n)),
    ]);
    for (const e of plan.events) this.recorder.record(jobObj, e.type, e.reason, e.message);
    if (plan.requeueAfterMs !== undefined) this.queue.addAfter(key, Math.max(plan.requeueAfterMs, 100));
  }
}
