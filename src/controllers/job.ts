// The Job controller and the TTL-after-finished controller (kube-controller-manager's job and
// ttl-after-finished controllers): a Job runs pods from its template until `completions` of
// them succeed, at most `parallelism` at once, replacing failed pods after upstream's
// back-off until `backoffLimit`, `activeDeadlineSeconds` or a podFailurePolicy rule fails it;
// a finished Job with ttlSecondsAfterFinished is deleted when that has passed.
// planJob is the whole decision, pure; JobController applies it.
import { sameValue } from '../api/fieldset.ts';
import { wireValue } from '../api/wire.ts';
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

/**
 * What the Job controller does for `job` given its pods at `now`. Counts never go down: a
 * terminated pod someone deleted stays counted (upstream keeps them with a finalizer).
 */
export function planJob(job: Job, pods: Pod[], now: number): JobPlan {
  const spec = job.spec;
  const prev = job.status ?? {};
  const events: JobEvent[] = [];
  const plan: JobPlan = { status: prev, create: 0, delete: [], events };

  if (isJobFinished(job)) {
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

  const deleting = pods.filter((p) => p.metadata.deletionTimestamp && !isTerminal(p));
  const active = pods.filter((p) => !p.metadata.deletionTimestamp && !isTerminal(p));
  const succeededPods = pods.filter((p) => p.status?.phase === 'Succeeded');
  const rules = spec.podFailurePolicy?.rules ?? [];
  let failJob: { reason: string; message: string } | undefined;
  const failedPods: Pod[] = [];
  for (const p of pods.filter((q) => q.status?.phase === 'Failed')) {
    const m = rules.length ? matchPodFailurePolicy(rules, p) : undefined;
    if (m?.action === 'Ignore') continue;
    if (m?.action === 'FailJob' && !failJob) failJob = { reason: 'PodFailurePolicy', message: m.message };
    failedPods.push(p);
  }
  const succeeded = Math.max(prev.succeeded ?? 0, succeededPods.length);
  const failed = Math.max(prev.failed ?? 0, failedPods.length);
  let conditions = prev.conditions ?? [];
  const status: JobStatus = { ...prev };
  const startTime = prev.startTime;

  // Suspended: no pods; resumed: the clock starts again.
  if (spec.suspend) {
    plan.delete = active.map((p) => p.metadata.name!);
    for (const n of plan.delete) events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${n}` });
    if (!hasCondition(prev, 'Suspended')) {
      conditions = setCondition(conditions, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now);
      events.push({ type: 'Normal', reason: 'Suspended', message: 'Job suspended' });
    }
    delete status.startTime;
    plan.status = finish(status, { conditions, active: 0, succeeded, failed, ready: 0, terminating: deleting.length + plan.delete.length });
    return plan;
  }
  let start = startTime ? Date.parse(startTime) : now;
  if (hasCondition(prev, 'Suspended')) {
    conditions = setCondition(conditions, 'Suspended', 'False', 'JobResumed', 'Job resumed', now);
    events.push({ type: 'Normal', reason: 'Resumed', message: 'Job resumed' });
    start = now;
  }
  status.startTime = rfc3339(start);

  // Failure: the policy, the back-off limit, the deadline (upstream's order).
  const backoffLimit = spec.backoffLimit ?? 6;
  if (!failJob && !hasCondition(prev, 'FailureTarget')) {
    if (spec.template.spec.restartPolicy === 'OnFailure') {
      const restarts = active.reduce((n, p) => n + [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].reduce((m, c) => m + (c.restartCount ?? 0), 0), 0);
      if (backoffLimit === 0 ? restarts > 0 : restarts >= backoffLimit) failJob = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    }
    if (!failJob && failed > backoffLimit) failJob = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    if (!failJob && spec.activeDeadlineSeconds !== undefined && now - start >= spec.activeDeadlineSeconds * 1000) {
      failJob = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
    }
  }
  const target = (prev.conditions ?? []).find((c) => c.type === 'FailureTarget' && c.status === 'True');
  if (failJob || target) {
    const why = failJob ?? { reason: target!.reason ?? '', message: target!.message ?? '' };
    conditions = setCondition(conditions, 'FailureTarget', 'True', why.reason, why.message, now);
    plan.delete = active.map((p) => p.metadata.name!);
    for (const n of plan.delete) events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${n}` });
    const terminating = deleting.length + plan.delete.length;
    // Pods the controller deletes count as failed, as upstream counts them.
    const failedNow = failed + plan.delete.length;
    if (terminating === 0) {
      conditions = setCondition(conditions, 'Failed', 'True', why.reason, why.message, now);
      events.push({ type: 'Warning', reason: why.reason, message: why.message });
    }
    plan.status = finish(status, { conditions, active: 0, succeeded, failed: failedNow, ready: 0, terminating });
    if (terminating && plan.delete.length === 0) plan.requeueAfterMs = 1000;
    return plan;
  }

  // Success: completions reached (or, without completions, a pod succeeded and none still run).
  const completions = spec.completions;
  const complete = completions !== undefined ? succeeded >= completions : succeeded > 0 && active.length === 0;
  if (complete || hasCondition(prev, 'SuccessCriteriaMet')) {
    conditions = setCondition(conditions, 'SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods', now);
    plan.delete = active.map((p) => p.metadata.name!);
    for (const n of plan.delete) events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${n}` });
    const terminating = deleting.length + plan.delete.length;
    const s: JobStatus = { conditions, active: 0, succeeded, failed, ready: 0, terminating };
    if (terminating === 0) {
      s.conditions = setCondition(conditions, 'Complete', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods', now);
      s.completionTime = rfc3339(now);
      events.push({ type: 'Normal', reason: 'Completed', message: 'Job completed' });
      if (spec.ttlSecondsAfterFinished !== undefined) plan.requeueAfterMs = spec.ttlSecondsAfterFinished * 1000;
    } else if (plan.delete.length === 0) plan.requeueAfterMs = 1000;
    plan.status = finish(status, s);
    return plan;
  }

  // Running: keep `parallelism` pods (never more than the completions left), after the back-off.
  const parallelism = spec.parallelism ?? 1;
  const want = completions !== undefined ? Math.min(parallelism, completions - succeeded) : succeeded > 0 ? active.length : parallelism;
  if (active.length > want) {
    const excess = [...active].sort((a, b) => rank(a) - rank(b)).slice(0, active.length - want);
    plan.delete = excess.map((p) => p.metadata.name!);
    for (const n of plan.delete) events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${n}` });
  } else if (active.length + deleting.length < want || (active.length < want && spec.podReplacementPolicy !== 'Failed')) {
    const lastSuccess = Math.max(0, ...succeededPods.map(finishedAt));
    const recent = failedPods.map(finishedAt).filter((t) => t > lastSuccess);
    const delay = spec.template.spec.restartPolicy === 'Never' ? podFailureBackOff(recent.length) : 0;
    const readyAt = recent.length ? Math.max(...recent) + delay : now;
    if (readyAt <= now) plan.create = want - active.length - (spec.podReplacementPolicy === 'Failed' ? deleting.length : 0);
    else plan.requeueAfterMs = readyAt - now;
  }
  if (spec.activeDeadlineSeconds !== undefined) {
    const left = start + spec.activeDeadlineSeconds * 1000 - now;
    plan.requeueAfterMs = Math.min(plan.requeueAfterMs ?? left, left);
  }
  plan.status = finish(status, {
    conditions,
    active: active.length - plan.delete.length + plan.create,
    succeeded,
    failed,
    ready: active.filter(isPodReady).length,
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
  return out;
}

function ownerRef(o: KubeObject): OwnerReference {
  return { apiVersion: 'batch/v1', kind: 'Job', name: o.metadata.name!, uid: o.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** The pod a Job creates: its template, named JOB-xxxxx, owned by the Job. */
export function jobPod(job: Job): Pod {
  const t = structuredClone(job.spec.template);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...(t.metadata ?? {}), generateName: `${job.metadata.name}-`, namespace: job.metadata.namespace, ownerReferences: [ownerRef(job)] },
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

  private async sync(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const job = this.jobInformer.get(ns, name);
    if (!job || job.metadata.deletionTimestamp) return;
    const pods = this.podInformer.list().filter((p) => p.metadata.namespace === ns && controllerOf(p)?.uid === job.metadata.uid);
    if (!this.settled(key, pods)) {
      this.queue.addAfter(key, 500);
      return;
    }
    const plan = planJob(job, pods, Date.now());
    const jobObj = { ...job, apiVersion: 'batch/v1', kind: 'Job' };
    if (plan.deleteJob) {
      await this.client.request('DELETE', objectPath('batch/v1', 'jobs', ns, name), { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground', preconditions: { uid: job.metadata.uid } }).catch(() => {});
      return;
    }
    const exp = { add: new Set<string>(), del: new Set(plan.delete), at: Date.now() };
    if (plan.create || plan.delete.length) this.expectations.set(key, exp);
    await Promise.all([
      ...Array.from({ length: plan.create }, async () => {
        const pod = await this.client.request<Pod>('POST', `/api/v1/namespaces/${ns}/pods`, jobPod(job));
        exp.add.add(pod.metadata.name!);
        this.recorder.record(jobObj, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`);
      }),
      ...plan.delete.map((p) => this.client.request('DELETE', objectPath('v1', 'pods', ns, p)).catch(() => {})),
    ]);
    for (const e of plan.events) this.recorder.record(jobObj, e.type, e.reason, e.message);
    if (!sameValue(wireValue('V1JobStatus', plan.status), job.status ?? {})) {
      await this.client.request('PUT', objectPath('batch/v1', 'jobs', ns, name, 'status'), { ...jobObj, status: plan.status });
    }
    if (plan.requeueAfterMs !== undefined) this.queue.addAfter(key, Math.max(plan.requeueAfterMs, 100));
  }
}
