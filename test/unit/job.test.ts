// The Job and CronJob controllers' decisions (planJob, planCronJob: pure): pods up to
// parallelism and the completions left, upstream's pod-failure back-off (10 s doubling, capped),
// backoffLimit, activeDeadlineSeconds, podFailurePolicy, suspend, the Complete/Failed
// conditions with their interim SuccessCriteriaMet/FailureTarget, ttlSecondsAfterFinished; cron
// schedules in a time zone, concurrencyPolicy, suspend and the history limits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settle } from '../helpers/job.ts';
import { parseSchedule } from '../../src/api/cron.ts';
import { applyDefaults } from '../../src/api/defaults.ts';
import type { CronJob, Job, Pod } from '../../src/api/types.ts';
import { validateCronJob, validateJob } from '../../src/api/validation/batch.ts';
import { errorString } from '../../src/api/errors.ts';
import { jobFromTemplate, planCronJob, rfc3339In } from '../../src/controllers/cronjob.ts';
import { completionIndexKey, indexFailureCountKey, jobPod, jobTrackingFinalizer, matchPodFailurePolicy, planJob, podFailureBackOff } from '../../src/controllers/job.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString().replace('.000Z', 'Z');

function job(spec: Partial<Job['spec']> = {}, status?: Job['status']): Job {
  const j: Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'pi', namespace: 'default', uid: 'job-uid', creationTimestamp: at(0) },
    spec: { selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'job-uid' } }, template: { metadata: { labels: { 'batch.kubernetes.io/controller-uid': 'job-uid' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] } }, ...spec },
    ...(status ? { status } : {}),
  };
  applyDefaults('Job', j);
  return j;
}

let seq = 0;
function pod(phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed', finishedMs = 0, o: { exitCode?: number; deleting?: boolean; ready?: boolean; index?: number; failureCount?: number; counted?: boolean } = {}): Pod {
  const terminated = phase === 'Succeeded' || phase === 'Failed';
  const annotations = { ...(o.index !== undefined ? { [completionIndexKey]: String(o.index) } : {}), ...(o.failureCount !== undefined ? { [indexFailureCountKey]: String(o.failureCount) } : {}) };
  return {
    metadata: {
      name: `pi-${seq++}`,
      namespace: 'default',
      uid: `p${seq}`,
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'pi', uid: 'job-uid', controller: true }],
      ...(o.counted ? {} : { finalizers: [jobTrackingFinalizer] }),
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ...(o.deleting ? { deletionTimestamp: at(finishedMs) } : {}),
    },
    spec: { nodeName: 'n1', containers: [{ name: 'main' }] },
    status: {
      phase,
      ...(o.ready ? { conditions: [{ type: 'Ready', status: 'True' }] } : {}),
      containerStatuses: [{ name: 'main', ready: false, restartCount: 0, state: terminated ? { terminated: { exitCode: o.exitCode ?? (phase === 'Failed' ? 1 : 0), finishedAt: at(finishedMs) } } : { running: {} } }],
    },
  } as Pod;
}

const cond = (j: Job['status'], type: string) => (j?.conditions ?? []).find((c) => c.type === type && c.status === 'True');

describe('Job controller (planJob)', () => {
  it('starts parallelism pods but never more than the completions left, and records the start', () => {
    const p = planJob(job({ completions: 5, parallelism: 2 }), [], T0);
    assert.equal(p.create, 2);
    assert.deepEqual([p.status.active, p.status.startTime], [2, at(0)]);
    const q = planJob(job({ completions: 3, parallelism: 3 }, { startTime: at(0), succeeded: 2 }), [pod('Succeeded', 0, { counted: true }), pod('Succeeded', 0, { counted: true })], T0 + 1000);
    assert.equal(q.create, 1);
  });

  it('replaces a failed pod after 10 s, 20 s, 40 s …, capped at six minutes', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 10].map(podFailureBackOff), [10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 360_000, 360_000]);
    const j = job({ backoffLimit: 6 }, { startTime: at(0) });
    const failed1 = [pod('Failed', 5_000)];
    const early = settle(j, failed1, T0 + 14_000).plan;
    assert.deepEqual([early.create, early.requeueAfterMs, early.status.failed], [0, 1_000, 1]);
    assert.equal(planJob(j, failed1, T0 + 15_000).create, 1);
    const failed2 = [pod('Failed', 5_000), pod('Failed', 30_000)];
    assert.equal(planJob(j, failed2, T0 + 49_000).requeueAfterMs, 1_000);
    assert.equal(planJob(j, failed2, T0 + 50_000).create, 1);
    // A success resets the back-off.
    assert.equal(planJob(job({ completions: 2, backoffLimit: 6 }, { startTime: at(0) }), [pod('Failed', 5_000), pod('Succeeded', 6_000)], T0 + 6_500).create, 1);
  });

  it('completes once completions pods succeeded: SuccessCriteriaMet, then Complete with completionTime, a Completed event', () => {
    const { plan: p, plans } = settle(job({ completions: 1 }, { startTime: at(0), active: 1 }), [pod('Failed', 5_000), pod('Failed', 30_000), pod('Succeeded', 80_000)], T0 + 81_000);
    assert.equal(plans[0]!.create, 0);
    assert.ok(cond(plans[0]!.status, 'SuccessCriteriaMet'));
    assert.equal(cond(plans[0]!.status, 'Complete'), undefined, 'not before the pods are counted');
    assert.deepEqual(
      [cond(p.status, 'Complete')?.reason, cond(p.status, 'Complete')?.message, p.status.completionTime, p.status.succeeded, p.status.failed, p.status.active],
      ['CompletionsReached', 'Reached expected number of succeeded pods', at(81_000), 1, 2, undefined],
    );
    assert.deepEqual(p.status.uncountedTerminatedPods, {});
    assert.deepEqual(plans.flatMap((x) => x.events), [{ type: 'Normal', reason: 'Completed', message: 'Job completed' }]);
  });

  it('fails past backoffLimit: FailureTarget and the active pods deleted, then Failed once none is left', () => {
    const j = job({ backoffLimit: 1, parallelism: 2, completions: 4 }, { startTime: at(0) });
    const running = pod('Running');
    const pods = [pod('Failed', 1_000), pod('Failed', 2_000), running];
    const p = planJob(j, pods, T0 + 3_000);
    assert.equal(cond(p.status, 'FailureTarget')?.reason, 'BackoffLimitExceeded');
    assert.equal(cond(p.status, 'Failed'), undefined);
    assert.deepEqual(p.delete, [running.metadata.name]);
    // The deleted pod counts as failed; Failed comes once it is counted and gone.
    const s = settle({ ...j, status: p.status }, pods, T0 + 4_000);
    assert.equal(cond(s.plan.status, 'Failed'), undefined, 'not while a pod is terminating');
    assert.equal(s.plan.status.failed, 3);
    const after = planJob(s.job, s.pods.filter((x) => x !== running && x.metadata.name !== running.metadata.name), T0 + 5_000);
    assert.deepEqual([cond(after.status, 'Failed')?.reason, cond(after.status, 'Failed')?.message], ['BackoffLimitExceeded', 'Job has reached the specified backoff limit']);
    assert.ok(after.events.some((e) => e.type === 'Warning' && e.reason === 'BackoffLimitExceeded'));
  });

  it('fails a Job active longer than activeDeadlineSeconds, and looks again when the deadline comes', () => {
    const j = job({ activeDeadlineSeconds: 30 }, { startTime: at(0) });
    const running = [pod('Running')];
    assert.equal(planJob(j, running, T0 + 10_000).requeueAfterMs, 20_000);
    const p = planJob(j, running, T0 + 30_000);
    assert.deepEqual([cond(p.status, 'FailureTarget')?.reason, cond(p.status, 'FailureTarget')?.message], ['DeadlineExceeded', 'Job was active longer than specified deadline']);
  });

  it('applies podFailurePolicy: FailJob with upstream\'s message, Ignore does not count against backoffLimit', () => {
    const rules = [
      { action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [42] } },
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] },
    ];
    const j = job({ backoffLimit: 0, podFailurePolicy: { rules } }, { startTime: at(0) });
    const p42 = pod('Failed', 1_000, { exitCode: 42 });
    assert.equal(matchPodFailurePolicy(rules, p42)?.message, `Container main for pod default/${p42.metadata.name} failed with exit code 42 matching FailJob rule at index 0`);
    assert.equal(cond(planJob(j, [p42], T0 + 2_000).status, 'FailureTarget')?.reason, 'PodFailurePolicy');
    const evicted = pod('Failed', 1_000);
    evicted.status!.conditions = [{ type: 'DisruptionTarget', status: 'True' }];
    const q = planJob(j, [evicted], T0 + 2_000);
    assert.equal(cond(q.status, 'FailureTarget'), undefined);
    assert.deepEqual([q.create, q.status.failed], [1, undefined]);
  });

  it('suspends (pods deleted, Suspended condition) and resumes with a new start time', () => {
    const running = pod('Running');
    const s = planJob(job({ suspend: true }, { startTime: at(0), active: 1 }), [running], T0 + 5_000);
    assert.deepEqual(s.delete, [running.metadata.name]);
    assert.equal(cond(s.status, 'Suspended')?.reason, 'JobSuspended');
    assert.equal(s.status.startTime, undefined);
    const r = planJob(job({ suspend: false }, s.status), [], T0 + 9_000);
    assert.equal(r.create, 1);
    assert.equal(r.status.startTime, at(9_000));
    assert.equal(r.status.conditions?.find((c) => c.type === 'Suspended')?.reason, 'JobResumed');
  });

  it('deletes a finished Job ttlSecondsAfterFinished after it finished', () => {
    const done = { startTime: at(0), completionTime: at(10_000), succeeded: 1, conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: at(10_000) }] };
    const j = job({ ttlSecondsAfterFinished: 60 }, done);
    assert.deepEqual([planJob(j, [], T0 + 30_000).deleteJob, planJob(j, [], T0 + 30_000).requeueAfterMs], [undefined, 40_000]);
    assert.equal(planJob(j, [], T0 + 70_000).deleteJob, true);
  });

  it("makes the Job's pods from its template, named JOB-xxxxx and owned by it", () => {
    const p = jobPod(job());
    assert.equal(p.metadata.generateName, 'pi-');
    assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name: 'pi', uid: 'job-uid', controller: true, blockOwnerDeletion: true }]);
    assert.equal(p.metadata.labels?.['batch.kubernetes.io/controller-uid'], 'job-uid');
  });

  it('validates as upstream: restartPolicy, selector, podFailurePolicy with OnFailure', () => {
    const bad = job();
    bad.spec.template.spec.restartPolicy = 'Always';
    assert.deepEqual(validateJob(bad).map(errorString), ['spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"']);
    const noSel = job();
    delete noSel.spec.selector;
    assert.deepEqual(validateJob(noSel).map(errorString), ['spec.selector: Required value']);
    const onFailure = job({ podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [1] } }] } });
    onFailure.spec.template.spec.restartPolicy = 'OnFailure';
    assert.deepEqual(validateJob(onFailure).map(errorString), ['spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified']);
  });
});

function cronJob(spec: Partial<CronJob['spec']> = {}, status?: CronJob['status']): CronJob {
  const cj: CronJob = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'hello', namespace: 'default', uid: 'cj-uid', creationTimestamp: at(0) },
    spec: { schedule: '*/1 * * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'hello', image: 'busybox' }] } } } }, ...spec },
    ...(status ? { status } : {}),
  };
  applyDefaults('CronJob', cj);
  return cj;
}

function ownedJob(name: string, finished?: 'Complete' | 'Failed', startMs = 0): Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default', uid: `u-${name}`, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'hello', uid: 'cj-uid', controller: true }], creationTimestamp: at(startMs) },
    spec: { template: { spec: { containers: [] } } },
    status: { startTime: at(startMs), ...(finished ? { conditions: [{ type: finished, status: 'True' }], ...(finished === 'Complete' ? { completionTime: at(startMs + 5_000) } : {}) } : {}) },
  } as Job;
}

describe('CronJob controller (planCronJob)', () => {
  it('parses standard cron schedules and refuses others in robfig/cron\'s words', () => {
    const s = parseSchedule('*/5 * * * *');
    assert.equal(s.next(T0 + 1_000), T0 + 300_000);
    assert.equal(parseSchedule('@hourly').next(T0), T0 + 3_600_000);
    assert.throws(() => parseSchedule('* * *'), /^Error: expected exactly 5 fields, found 3: \[\* \* \*\]$/);
    assert.throws(() => parseSchedule('0 0 * * * *'), /expected exactly 5 fields, found 6/);
    assert.throws(() => parseSchedule('@often'), /unrecognized descriptor: @often/);
    // 09:00 in Paris is 08:00 UTC in winter.
    assert.equal(new Date(parseSchedule('0 9 * * *', 'Europe/Paris').next(T0)).toISOString(), '2026-01-01T08:00:00.000Z');
    assert.deepEqual(validateCronJob(cronJob({ timeZone: 'Mars/Olympus' })).map(errorString), ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']);
    assert.deepEqual(validateCronJob(cronJob({ schedule: 'TZ=UTC * * * * *' })).map(errorString), ['spec.schedule: Invalid value: "TZ=UTC * * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead']);
  });

  it('creates NAME-<minutes> for the latest time missed, and waits for the next one', () => {
    const p = planCronJob(cronJob(), [], T0 + 150_000);
    assert.equal(p.create?.metadata.name, `hello-${(T0 + 120_000) / 60_000}`);
    assert.equal(p.create?.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'], at(120_000));
    assert.deepEqual(p.create?.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'hello', uid: 'cj-uid', controller: true, blockOwnerDeletion: true }]);
    assert.equal(p.status.lastScheduleTime, at(120_000));
    assert.equal(p.requeueAfterMs, 30_100);
    // Already made: nothing more until the next minute.
    assert.equal(planCronJob(cronJob({}, p.status), [ownedJob(p.create!.metadata.name!)], T0 + 151_000).create, undefined);
    assert.equal(rfc3339In(T0 + 120_000, 'Europe/Paris'), '2026-01-01T01:02:00+01:00');
  });

  it('honours suspend and concurrencyPolicy Forbid and Replace', () => {
    assert.equal(planCronJob(cronJob({ suspend: true }), [], T0 + 150_000).create, undefined);
    const running = ownedJob('hello-1');
    const status = { active: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'hello-1', namespace: 'default', uid: 'u-hello-1' }], lastScheduleTime: at(60_000) };
    const f = planCronJob(cronJob({ concurrencyPolicy: 'Forbid' }, status), [running], T0 + 150_000);
    assert.equal(f.create, undefined);
    assert.deepEqual(f.events, [{ type: 'Normal', reason: 'JobAlreadyActive', message: 'Not starting job because prior execution is running and concurrency policy is Forbid' }]);
    const r = planCronJob(cronJob({ concurrencyPolicy: 'Replace' }, status), [running], T0 + 150_000);
    assert.deepEqual(r.delete, ['hello-1']);
    assert.ok(r.create);
  });

  it('drops finished Jobs from active with SawCompletedJob and keeps only the history limits', () => {
    const jobs = [ownedJob('a', 'Complete', 0), ownedJob('b', 'Complete', 60_000), ownedJob('c', 'Complete', 120_000), ownedJob('d', 'Complete', 180_000), ownedJob('e', 'Failed', 10_000), ownedJob('f', 'Failed', 70_000)];
    const status = { active: [{ name: 'd', uid: 'u-d' }], lastScheduleTime: at(180_000) };
    const p = planCronJob(cronJob({}, status), jobs, T0 + 200_000);
    assert.deepEqual(p.delete.sort(), ['a', 'e']);
    assert.equal(p.status.active, undefined);
    assert.equal(p.status.lastSuccessfulTime, at(185_000));
    assert.ok(p.events.some((e) => e.reason === 'SawCompletedJob' && e.message === 'Saw completed job: d, status: Complete'));
    assert.equal(jobFromTemplate(cronJob(), T0).spec.template.spec.restartPolicy, 'OnFailure');
    // A Job made by hand from the CronJob is told about, not adopted into active.
    const manual = planCronJob(cronJob({}, { lastScheduleTime: at(180_000) }), [ownedJob('by-hand')], T0 + 200_000);
    assert.equal(manual.status.active, undefined);
    assert.deepEqual(manual.events, [{ type: 'Warning', reason: 'UnexpectedJob', message: 'Saw a job that the controller did not create or forgot: by-hand' }]);
  });
});
