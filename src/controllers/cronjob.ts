// The CronJob controller (kube-controller-manager's cronjob controller, v2): at each time the
// schedule names (in spec.timeZone) it creates the Job NAME-<minutes since the epoch> from the
// jobTemplate, as concurrencyPolicy allows, keeps status.active and lastScheduleTime, and
// deletes finished Jobs beyond the history limits. planCronJob decides, pure; the controller
// applies it.
import { missedTimes, parseSchedule, timeZoneError } from '../api/cron.ts';
import { sameValue } from '../api/fieldset.ts';
import { controllerOf } from '../api/pod.ts';
import type { CronJob, Job, KubeObject } from '../api/types.ts';
import { wireValue } from '../api/wire.ts';
import { objectPath, type Client } from '../client/client.ts';
import { EventRecorder } from '../client/events.ts';
import type { Informer } from '../client/informer.ts';
import { nsName, splitKey, WorkQueue } from '../client/workqueue.ts';
import { isJobFinished, type JobEvent } from './job.ts';

/** The annotation a scheduled Job carries: the time it was scheduled for, in the CronJob's zone. */
export const scheduledTimestampAnnotation = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

export interface CronJobPlan {
  status: NonNullable<CronJob['status']>;
  create?: Job;
  /** names of Jobs to delete (Replace, history limits) */
  delete: string[];
  events: JobEvent[];
  requeueAfterMs?: number;
}

const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** RFC 3339 in the zone `tz` (the annotation upstream writes with time.In(location)). */
export function rfc3339In(ms: number, tz: string | undefined): string {
  if (!tz || tz === 'UTC') return rfc3339(ms);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  const local = Date.UTC(+parts.year!, +parts.month! - 1, +parts.day!, +parts.hour!, +parts.minute!, +parts.second!);
  const offMin = Math.round((local - Math.floor(ms / 1000) * 1000) / 60_000);
  if (offMin === 0) return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}Z`;
  const sign = offMin < 0 ? '-' : '+';
  const a = Math.abs(offMin);
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

function jobStatusOf(j: Job): 'Complete' | 'Failed' | undefined {
  for (const c of j.status?.conditions ?? []) if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') return c.type;
  return undefined;
}

/** The Job a CronJob creates for `scheduled` (getJobFromTemplate2). */
export function jobFromTemplate(cj: CronJob, scheduled: number): Job {
  const t = structuredClone(cj.spec.jobTemplate);
  const name = `${cj.metadata.name}-${Math.floor(scheduled / 60_000)}`;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: cj.metadata.namespace,
      labels: { ...(t.metadata?.labels ?? {}) },
      annotations: { ...(t.metadata?.annotations ?? {}), [scheduledTimestampAnnotation]: rfc3339In(scheduled, cj.spec.timeZone) },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cj.metadata.name!, uid: cj.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    spec: t.spec,
  };
}

/** What the CronJob controller does for `cj` given the Jobs it owns at `now`. */
export function planCronJob(cj: CronJob, jobs: Job[], now: number): CronJobPlan {
  const events: JobEvent[] = [];
  const prev = cj.status ?? {};
  const byName = new Map(jobs.map((j) => [j.metadata.name!, j]));
  // status.active: the Jobs still running; a finished one leaves it with SawCompletedJob.
  let active = (prev.active ?? []).filter((ref) => byName.has(ref.name ?? ''));
  let lastSuccessfulTime = prev.lastSuccessfulTime;
  for (const ref of [...active]) {
    const j = byName.get(ref.name!)!;
    const st = jobStatusOf(j);
    if (!st) continue;
    active = active.filter((r) => r !== ref);
    events.push({ type: 'Normal', reason: 'SawCompletedJob', message: `Saw completed job: ${j.metadata.name}, status: ${st}` });
    if (st === 'Complete' && j.status?.completionTime && (!lastSuccessfulTime || Date.parse(j.status.completionTime) > Date.parse(lastSuccessfulTime))) lastSuccessfulTime = j.status.completionTime;
  }
  for (const j of jobs) {
    if (jobStatusOf(j) || active.some((r) => r.uid === j.metadata.uid)) continue;
    // One of ours the status has not caught up with (the controller stopped between creating it
    // and writing the status) joins active; one made by hand (kubectl create job --from) is
    // reported, as upstream reports it, and left out.
    if (j.metadata.annotations?.[scheduledTimestampAnnotation]) active.push(jobRef(j));
    else events.push({ type: 'Warning', reason: 'UnexpectedJob', message: `Saw a job that the controller did not create or forgot: ${j.metadata.name}` });
  }
  const status: CronJobPlan['status'] = { ...prev, active };
  if (!active.length) delete status.active;
  if (lastSuccessfulTime) status.lastSuccessfulTime = lastSuccessfulTime;
  const plan: CronJobPlan = { status, delete: [], events };

  // History: the oldest finished Jobs beyond each limit go.
  const finished = (kind: 'Complete' | 'Failed', limit: number | undefined) => {
    if (limit === undefined) return;
    const js = jobs.filter((j) => jobStatusOf(j) === kind).sort((a, b) => startOf(a) - startOf(b));
    for (const j of js.slice(0, Math.max(0, js.length - limit))) plan.delete.push(j.metadata.name!);
  };
  finished('Complete', cj.spec.successfulJobsHistoryLimit);
  finished('Failed', cj.spec.failedJobsHistoryLimit);

  if (cj.metadata.deletionTimestamp) return plan;
  const tzErr = cj.spec.timeZone ? timeZoneError(cj.spec.timeZone) : undefined;
  if (tzErr) {
    events.push({ type: 'Warning', reason: 'UnknownTimeZone', message: `invalid timeZone: ${JSON.stringify(cj.spec.timeZone)}: ${tzErr}` });
    return plan;
  }
  if (cj.spec.suspend) return plan;
  let schedule;
  try {
    schedule = parseSchedule(cj.spec.schedule, cj.spec.timeZone);
  } catch (e) {
    events.push({ type: 'Warning', reason: 'UnparseableSchedule', message: `unparseable schedule: ${JSON.stringify(cj.spec.schedule)} : ${(e as Error).message}` });
    return plan;
  }
  let earliest = Date.parse(prev.lastScheduleTime ?? cj.metadata.creationTimestamp ?? '') || now;
  const sds = cj.spec.startingDeadlineSeconds;
  if (sds !== undefined) earliest = Math.max(earliest, now - sds * 1000);
  const { latest, count } = missedTimes(schedule, earliest, now);
  // The next run after now, plus a little so the clock has passed it when the queue fires.
  plan.requeueAfterMs = schedule.next(now) - now + 100;
  if (latest === undefined) return plan;
  if (count > 100) events.push({ type: 'Warning', reason: 'TooManyMissedTimes', message: 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew' });
  const job = jobFromTemplate(cj, latest);
  if (byName.has(job.metadata.name!)) return plan;
  if (cj.spec.concurrencyPolicy === 'Forbid' && active.length) {
    events.push({ type: 'Normal', reason: 'JobAlreadyActive', message: 'Not starting job because prior execution is running and concurrency policy is Forbid' });
    return plan;
  }
  if (cj.spec.concurrencyPolicy === 'Replace') {
    for (const ref of active) plan.delete.push(ref.name!);
    status.active = [];
    delete status.active;
  }
  plan.create = job;
  status.lastScheduleTime = rfc3339(latest);
  return plan;
}

function startOf(j: Job): number {
  return Date.parse(j.status?.startTime ?? j.metadata.creationTimestamp ?? '') || 0;
}

function jobRef(j: KubeObject) {
  return { apiVersion: 'batch/v1', kind: 'Job', name: j.metadata.name, namespace: j.metadata.namespace, uid: j.metadata.uid, resourceVersion: j.metadata.resourceVersion };
}

export class CronJobController {
  readonly queue: WorkQueue;
  private readonly recorder: EventRecorder;

  constructor(
    private readonly client: Client,
    private readonly cronInformer: Informer<CronJob>,
    private readonly jobInformer: Informer<Job>,
    log: (s: string) => void,
  ) {
    this.queue = new WorkQueue((k) => this.sync(k), (k, e) => log(`cronjob ${k}: ${e.message}`));
    this.recorder = new EventRecorder(client, 'cronjob-controller');
    cronInformer.on({ add: (o) => this.queue.add(nsName(o)), update: (_, o) => this.queue.add(nsName(o)) });
    const jobChanged = (j: Job) => {
      const ref = controllerOf(j);
      if (ref?.kind === 'CronJob') this.queue.add(`${j.metadata.namespace}/${ref.name}`);
    };
    jobInformer.on({ add: jobChanged, update: (_, j) => jobChanged(j), delete: jobChanged });
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const cj = this.cronInformer.get(ns, name);
    if (!cj) return;
    const jobs = this.jobInformer.list().filter((j) => j.metadata.namespace === ns && controllerOf(j)?.uid === cj.metadata.uid);
    const plan = planCronJob(cj, jobs, Date.now());
    const cjObj = { ...cj, apiVersion: 'batch/v1', kind: 'CronJob' };
    for (const n of plan.delete) {
      await this.client.request('DELETE', objectPath('batch/v1', 'jobs', ns, n), { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }).catch(() => {});
      this.recorder.record(cjObj, 'Normal', 'SuccessfulDelete', `Deleted job ${n}`);
    }
    if (plan.create) {
      try {
        const created = await this.client.request<Job>('POST', `/apis/batch/v1/namespaces/${ns}/jobs`, plan.create);
        plan.status.active = [...(plan.status.active ?? []), jobRef(created)];
        this.recorder.record(cjObj, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata.name}`);
      } catch (e) {
        if ((e as { code?: number }).code !== 409) {
          this.recorder.record(cjObj, 'Warning', 'FailedCreate', `Error creating job: ${(e as Error).message}`);
          throw e;
        }
      }
    }
    for (const e of plan.events) this.recorder.record(cjObj, e.type, e.reason, e.message);
    if (!sameValue(wireValue('V1CronJobStatus', plan.status), cj.status ?? {})) {
      await this.client.request('PUT', objectPath('batch/v1', 'cronjobs', ns, name, 'status'), { ...cjObj, status: plan.status });
    }
    if (plan.requeueAfterMs !== undefined) this.queue.addAfter(key, plan.requeueAfterMs);
  }
}
