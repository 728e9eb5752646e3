// Indexed Jobs and what counts a Job's pods: the compressed index strings ("1,3-5,7") as the
// controller reads and writes them and as the API server checks them; planJob for Indexed
// Jobs (the first pending indexes, one pod per index, completedIndexes, backoffLimitPerIndex
// with failedIndexes and maxFailedIndexes, successPolicy), the tracking finalizer's two-step
// count that survives the pods' deletion, and the pods an Indexed Job makes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settle } from '../helpers/job.ts';
import { containerEnv } from '../../src/agent/env.ts';
import { findResource } from '../../src/api/resources.ts';
import { ClusterIPAllocator, PortAllocator } from '../../src/apiserver/allocators.ts';
import type { RawBody } from '../../src/apiserver/decode.ts';
import { Registry } from '../../src/apiserver/registry.ts';
import { ServiceAllocations } from '../../src/apiserver/serviceips.ts';
import { Store } from '../../src/apiserver/storage/store.ts';
import { applyDefaults } from '../../src/api/defaults.ts';
import { errorString } from '../../src/api/errors.ts';
import { firstPendingIndexes, formatIntervals, intervalsOf, parseIntervals, totalIndexes, validateIndexesFormat, withIndexes } from '../../src/api/indexes.ts';
import type { Job, Pod } from '../../src/api/types.ts';
import { validateJob, validateJobStatusUpdate } from '../../src/api/validation/batch.ts';
import { completionIndex, completionIndexKey, indexFailureCountKey, jobPod, jobTrackingFinalizer, planJob } from '../../src/controllers/job.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString().replace('.000Z', 'Z');

function job(spec: Partial<Job['spec']> = {}, status?: Job['status']): Job {
  const j: Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'ix', namespace: 'default', uid: 'job-uid', creationTimestamp: at(0) },
    spec: {
      completionMode: 'Indexed',
      completions: 3,
      parallelism: 3,
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'job-uid' } },
      template: { metadata: { labels: { 'batch.kubernetes.io/controller-uid': 'job-uid' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] } },
      ...spec,
    },
    status: { startTime: at(0), ...(status ?? {}) },
  };
  applyDefaults('Job', j);
  return j;
}

let seq = 0;
/** A pod of index `ix` in `phase`, as the controller made it (tracked) unless `counted`. */
function pod(ix: number, phase: 'Running' | 'Succeeded' | 'Failed', o: { finishedMs?: number; failureCount?: number; counted?: boolean; exitCode?: number } = {}): Pod {
  const terminated = phase !== 'Running';
  const n = seq++;
  return {
    metadata: {
      name: `ix-${ix}-${n}`,
      namespace: 'default',
      uid: `u${n}`,
      annotations: { [completionIndexKey]: String(ix), ...(o.failureCount !== undefined ? { [indexFailureCountKey]: String(o.failureCount) } : {}) },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'ix', uid: 'job-uid', controller: true }],
      ...(o.counted ? {} : { finalizers: [jobTrackingFinalizer] }),
    },
    spec: { nodeName: 'n1', containers: [{ name: 'main' }] },
    status: {
      phase,
      containerStatuses: [{ name: 'main', ready: false, restartCount: 0, state: terminated ? { terminated: { exitCode: o.exitCode ?? (phase === 'Failed' ? 1 : 0), finishedAt: at(o.finishedMs ?? 0) } } : { running: {} } }],
    },
  } as Pod;
}

const cond = (s: Job['status'], type: string) => (s?.conditions ?? []).find((c) => c.type === type && c.status === 'True');

describe('completion index intervals', () => {
  it('writes indexes compressed as upstream: two neighbours with a comma, three or more as a range', () => {
    assert.equal(formatIntervals(intervalsOf([1, 3, 4, 5, 7])), '1,3-5,7');
    assert.equal(formatIntervals(intervalsOf([0, 1])), '0,1');
    assert.equal(formatIntervals(intervalsOf([5, 0, 2, 1])), '0-2,5');
    assert.equal(formatIntervals([]), '');
    assert.equal(formatIntervals(withIndexes(parseIntervals('0,1,5-7', 10), [2, 3, 9])), '0-3,5-7,9');
    assert.equal(totalIndexes(parseIntervals('1,3-5,7', 10)), 5);
  });

  it('reads a status string leniently (past completions cut, corrupt parts skipped) and picks the first pending indexes', () => {
    assert.deepEqual(parseIntervals('0-2,4-9', 6), [{ first: 0, last: 2 }, { first: 4, last: 5 }]);
    assert.deepEqual(parseIntervals('0,x,2,3', 6), [{ first: 0, last: 0 }, { first: 2, last: 3 }]);
    assert.deepEqual(parseIntervals('8', 6), []);
    assert.deepEqual(firstPendingIndexes(parseIntervals('0,2-3', 10), 3, 10), [1, 4, 5]);
    assert.deepEqual(firstPendingIndexes(parseIntervals('0-1', 3), 5, 3), [2]);
  });

  it('checks an index string in upstream’s words', () => {
    assert.deepEqual(validateIndexesFormat('0,2-4', 5), { total: 4 });
    assert.deepEqual(validateIndexesFormat('0-2-3', 5), { error: `the fragment "0-2-3" violates the requirement that an index interval can have at most two parts separated by '-'` });
    assert.deepEqual(validateIndexesFormat('a', 5), { error: 'cannot convert string to integer for index: "a"' });
    assert.deepEqual(validateIndexesFormat('1-7', 5), { error: 'too large index: "7"' });
    assert.deepEqual(validateIndexesFormat('3-1', 5), { error: 'non-increasing order, previous: 3, current: 1' });
    assert.deepEqual(validateIndexesFormat('2,1', 5), { error: 'non-increasing order, previous: 2, current: 1' });
  });
});

describe('Indexed Jobs (planJob)', () => {
  it('creates one pod per pending index up to parallelism, and replaces a failed index with the same index', () => {
    const p = planJob(job({ parallelism: 2 }), [], T0);
    assert.deepEqual(p.indexes, [{ index: 0 }, { index: 1 }]);
    assert.equal(p.create, 2);
    const q = planJob(job(), [pod(0, 'Running'), pod(2, 'Running')], T0);
    assert.deepEqual(q.indexes, [{ index: 1 }]);
    // a second pod of one index goes
    const dup = planJob(job(), [pod(0, 'Running'), pod(0, 'Running'), pod(1, 'Running'), pod(2, 'Running')], T0);
    assert.equal(dup.delete.length, 1);
    assert.equal(dup.create, 0);
  });

  it('records completedIndexes, counts each index once, and completes when every index succeeded', () => {
    const pods = [pod(0, 'Succeeded'), pod(1, 'Succeeded'), pod(1, 'Succeeded'), pod(2, 'Running')];
    const first = planJob(job(), pods, T0 + 1000);
    assert.equal(first.status.completedIndexes, '0,1');
    assert.equal(first.status.uncountedTerminatedPods?.succeeded?.length, 2, 'the second pod of index 1 is not counted');
    assert.equal(first.removeFinalizers.length, 3, 'every ended pod’s finalizer goes');
    const s = settle(job(), pods, T0 + 1000);
    assert.deepEqual([s.job.status!.succeeded, s.job.status!.active, cond(s.job.status, 'Complete')], [2, 1, undefined]);
    const done = settle(s.job, [...s.pods.slice(0, 3), { ...pod(2, 'Succeeded', { finishedMs: 2000 }) }], T0 + 3000);
    assert.equal(done.job.status!.completedIndexes, '0-2');
    assert.equal(done.job.status!.succeeded, 3);
    assert.deepEqual([cond(done.job.status, 'SuccessCriteriaMet')?.reason, cond(done.job.status, 'Complete')?.reason], ['CompletionsReached', 'CompletionsReached']);
  });

  it('keeps its counts when counted pods are deleted, and does not count a pod twice', () => {
    const s = settle(job({ completions: 4, parallelism: 2 }), [pod(0, 'Succeeded'), pod(1, 'Failed', { finishedMs: 500 })], T0 + 1000);
    assert.deepEqual([s.job.status!.succeeded, s.job.status!.failed, s.job.status!.completedIndexes], [1, 1, '0']);
    assert.ok(s.pods.every((p) => !(p.metadata.finalizers ?? []).length));
    // the pods are gone from the API: nothing is lost
    const gone = planJob(s.job, [], T0 + 20_000);
    assert.deepEqual([gone.status.succeeded, gone.status.failed, gone.status.completedIndexes], [1, 1, '0']);
    assert.deepEqual(gone.indexes?.map((w) => w.index), [1, 2]);
    // an end recorded as uncounted whose pod went before its finalizer was removed still counts once
    const half = planJob(job({}, { uncountedTerminatedPods: { succeeded: ['gone-uid'] }, completedIndexes: '2' }), [], T0);
    assert.deepEqual([half.status.succeeded, half.status.uncountedTerminatedPods], [1, {}]);
  });

  it('with backoffLimitPerIndex fails an index after its limit, records failedIndexes, and ends the Job with FailedIndexes', () => {
    const j = job({ backoffLimitPerIndex: 1, completions: 2, parallelism: 2 });
    assert.equal(j.spec.backoffLimit, 2147483647, 'backoffLimit defaults to MaxInt32 with backoffLimitPerIndex');
    // index 0 failed once: replaced (after its own back-off) with failure count 1
    const once = planJob(j, [pod(0, 'Failed', { finishedMs: 0 }), pod(1, 'Running')], T0 + 5_000);
    assert.equal(once.create, 0);
    assert.equal(once.requeueAfterMs, 5_000);
    const later = planJob(j, [pod(0, 'Failed', { finishedMs: 0 }), pod(1, 'Running')], T0 + 10_000);
    assert.deepEqual(later.indexes, [{ index: 0, failureCount: 1, ignoredFailureCount: 0 }]);
    assert.equal(later.status.failedIndexes, '');
    // the replacement fails too: the index has failed
    const s = settle(j, [pod(0, 'Failed', { failureCount: 1 }), pod(1, 'Succeeded')], T0 + 20_000);
    assert.deepEqual([s.job.status!.failedIndexes, s.job.status!.completedIndexes], ['0', '1']);
    assert.deepEqual([cond(s.job.status, 'FailureTarget')?.reason, cond(s.job.status, 'Failed')?.reason, cond(s.job.status, 'Failed')?.message], ['FailedIndexes', 'FailedIndexes', 'Job has failed indexes']);
  });

  it('fails with MaxFailedIndexesExceeded past maxFailedIndexes, deleting the running pods', () => {
    const j = job({ backoffLimitPerIndex: 0, maxFailedIndexes: 0, completions: 3, parallelism: 3 });
    const p = planJob(j, [pod(0, 'Failed'), pod(1, 'Running'), pod(2, 'Running')], T0 + 1000);
    assert.deepEqual([cond(p.status, 'FailureTarget')?.reason, cond(p.status, 'FailureTarget')?.message], ['MaxFailedIndexesExceeded', 'Job has exceeded the specified maximal number of failed indexes']);
    assert.equal(p.delete.length, 2);
  });

  it('meets a successPolicy: SuccessCriteriaMet with the rule’s index, the rest deleted, then Complete', () => {
    const j = job({ completions: 5, parallelism: 5, successPolicy: { rules: [{ succeededIndexes: '0,4' }, { succeededCount: 2 }] } });
    const running = [pod(1, 'Running'), pod(2, 'Running'), pod(3, 'Running')];
    const p = planJob(j, [pod(0, 'Succeeded'), pod(4, 'Running'), ...running], T0);
    assert.equal(cond(p.status, 'SuccessCriteriaMet'), undefined);
    const q = planJob(j, [pod(0, 'Succeeded'), pod(4, 'Succeeded'), ...running], T0);
    assert.deepEqual([cond(q.status, 'SuccessCriteriaMet')?.reason, cond(q.status, 'SuccessCriteriaMet')?.message], ['SuccessPolicy', 'Matched rules at index 0']);
    assert.deepEqual(q.delete, running.map((r) => r.metadata.name));
    const s = settle(j, [pod(0, 'Succeeded'), pod(4, 'Succeeded')], T0);
    assert.deepEqual([cond(s.job.status, 'Complete')?.reason, cond(s.job.status, 'Complete')?.message], ['SuccessPolicy', 'Matched rules at index 0']);
    const count = planJob(job({ completions: 5, parallelism: 5, successPolicy: { rules: [{ succeededIndexes: '0-2', succeededCount: 2 }] } }), [pod(1, 'Succeeded'), pod(2, 'Succeeded')], T0);
    assert.equal(cond(count.status, 'SuccessCriteriaMet')?.message, 'Matched rules at index 0');
  });

  it('makes an indexed pod: index annotation and label, JOB_COMPLETION_INDEX from the label, hostname, finalizer', () => {
    const j = job({ template: { metadata: { labels: { a: 'b' } }, spec: { restartPolicy: 'Never', subdomain: 'svc', containers: [{ name: 'main', image: 'busybox', env: [{ name: 'X', value: '1' }] }] } } });
    const p = jobPod(j, { index: 2 });
    assert.equal(p.metadata.generateName, 'ix-2-');
    assert.equal(p.metadata.annotations?.[completionIndexKey], '2');
    assert.equal(p.metadata.labels?.[completionIndexKey], '2');
    assert.deepEqual([p.spec.hostname, p.spec.subdomain], ['ix-2', 'svc']);
    assert.deepEqual(p.spec.containers[0]!.env, [{ name: 'X', value: '1' }, { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-completion-index']" } } }]);
    assert.deepEqual(p.metadata.finalizers, [jobTrackingFinalizer]);
    assert.equal(completionIndex(p as Pod), 2);
    assert.equal(jobPod({ ...j, metadata: { ...j.metadata, name: 'x'.repeat(60) } }, { index: 12 }).metadata.generateName, 'x'.repeat(54) + '-12-');
    assert.equal(jobPod(j, { index: 0, failureCount: 2 }).metadata.annotations?.[indexFailureCountKey], '2');
    // the agent resolves the variable from the label, and the hostname is the pod's
    const env = containerEnv({ ...p, metadata: { ...p.metadata, name: 'ix-2-abcde', namespace: 'default' } } as Pod, p.spec.containers[0]!, { nodeName: 'n1', nodeIP: '10.0.0.1', services: [], hostEnv: {} });
    assert.deepEqual([env.JOB_COMPLETION_INDEX, env.HOSTNAME, env.X], ['2', 'ix-2', '1']);
  });
});

describe('Indexed Job validation', () => {
  const errs = (j: Job) => validateJob(j).map(errorString);
  it('says what upstream says', () => {
    const base = job();
    const e1 = errs({ ...base, spec: { ...base.spec, completions: undefined } });
    assert.ok(e1.includes('spec.completions: Required value: when completion mode is Indexed'), e1.join('\n'));
    const e2 = errs({ ...base, spec: { ...base.spec, completionMode: 'NonIndexed', backoffLimitPerIndex: 1 } });
    assert.ok(e2.includes('spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode'), e2.join('\n'));
    const e3 = errs({ ...base, spec: { ...base.spec, maxFailedIndexes: 1, backoffLimitPerIndex: undefined } });
    assert.ok(e3.includes('spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified'), e3.join('\n'));
    const e4 = errs({ ...base, spec: { ...base.spec, maxFailedIndexes: 4, backoffLimitPerIndex: 1 } });
    assert.ok(e4.includes('spec.maxFailedIndexes: Invalid value: 4: must be less than or equal to completions'), e4.join('\n'));
    const e5 = errs({ ...base, spec: { ...base.spec, successPolicy: { rules: [{ succeededIndexes: '0-5' }, { succeededCount: 4 }, {}] } } });
    assert.ok(e5.includes('spec.successPolicy.rules[0].succeededIndexes: Invalid value: "0-5": error parsing succeededIndexes: too large index: "5"'), e5.join('\n'));
    assert.ok(e5.includes('spec.successPolicy.rules[1].succeededCount: Invalid value: 4: must be less than or equal to 3 (the number of specified completions)'), e5.join('\n'));
    assert.ok(e5.includes('spec.successPolicy.rules[2]: Required value: at least one of succeededCount or succeededIndexes must be specified'), e5.join('\n'));
    const e6 = errs({ ...base, spec: { ...base.spec, successPolicy: { rules: [] } } });
    assert.ok(e6.includes('spec.successPolicy.rules: Required value: at least one rules must be specified when the successPolicy is specified'), e6.join('\n'));
    const e7 = errs({ ...base, spec: { ...base.spec, completionMode: 'NonIndexed', successPolicy: { rules: [] } } });
    assert.ok(e7.includes('spec.successPolicy: Invalid value: batch.SuccessPolicy{Rules:[]batch.SuccessPolicyRule{}}: requires indexed completion mode'), e7.join('\n'));
    const e8 = errs({ ...base, spec: { ...base.spec, podFailurePolicy: { rules: [{ action: 'FailIndex', onExitCodes: { operator: 'In', values: [3] } }] } } });
    assert.ok(e8.includes('spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set'), e8.join('\n'));
    const e9 = errs({ ...base, metadata: { ...base.metadata, name: 'a'.repeat(62) } });
    assert.ok(e9.includes(`metadata.name: Invalid value: "${'a'.repeat(62)}": will not able to create pod with invalid DNS label: ${'a'.repeat(62)}-2`), e9.join('\n'));
    const st = validateJobStatusUpdate({ ...base, status: { completedIndexes: '0,0' } }, base).map(errorString);
    assert.ok(st.includes('status.completedIndexes: Invalid value: "0,0": error parsing completedIndexes: non-increasing order, previous: 0, current: 0'), st.join('\n'));
  });
});

describe('a Job pod held by the tracking finalizer (the API server)', () => {
  const raw = (o: unknown, contentType = 'application/json'): RawBody => {
    const text = JSON.stringify(o);
    return { text, contentType, bytes: Buffer.from(text) };
  };
  it('stays after its kubelet’s grace-0 delete until the finalizer goes, then is gone', async () => {
    const pods = findResource('', 'v1', 'pods')!;
    const registry = new Registry(new Store(null), { allocations: new ServiceAllocations(new ClusterIPAllocator('10.96.0.0/12'), PortAllocator.parse('30000-32767')) });
    await registry.create({ rt: findResource('', 'v1', 'namespaces')!, query: new URLSearchParams() }, raw({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } }));
    const q = new URLSearchParams();
    await registry.create({ rt: pods, namespace: 'default', query: q }, raw({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', finalizers: [jobTrackingFinalizer] }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] } }));
    const ctx = { rt: pods, namespace: 'default', name: 'p', query: q };
    await registry.delete(ctx, { gracePeriodSeconds: 30 });
    assert.equal(registry.tryGet(pods, 'default', 'p')?.metadata.deletionGracePeriodSeconds, 30);
    // the agent killed it and deletes it for good: the finalizer holds it, with no grace left
    await registry.delete(ctx, { gracePeriodSeconds: 0 });
    assert.equal(registry.tryGet(pods, 'default', 'p')?.metadata.deletionGracePeriodSeconds, 0);
    await registry.patch(ctx, raw({ metadata: { [`$deleteFromPrimitiveList/finalizers`]: [jobTrackingFinalizer] } }, 'application/strategic-merge-patch+json'));
    assert.equal(registry.tryGet(pods, 'default', 'p'), undefined);
  });
});

