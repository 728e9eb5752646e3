// Indexed Jobs in a one-node lab, with the real kubectl: each pod of a three-completion Job
// echoes its JOB_COMPLETION_INDEX and hostname; `kubectl get job` and `kubectl describe job`
// show it complete with its Completed Indexes; the pods' tracking finalizers are gone once they
// are counted, so deleting the pods loses no count; backoffLimitPerIndex fails one index and
// the Job with FailedIndexes; a successPolicy ends a Job early; validation in upstream's words.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';

const indexedJob = (name: string, extra: string, command: string) => `apiVersion: batch/v1
kind: Job
metadata: {name: ${name}}
spec:
  completionMode: Indexed
  completions: 3
  parallelism: 3
${extra}  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: [sh, -c, '${command}']
`;

interface JobJSON {
  status: { succeeded?: number; failed?: number; completedIndexes?: string; failedIndexes?: string; uncountedTerminatedPods?: object; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

describe('Indexed Jobs in a lab', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  const json = <T>(args: string[]): T => JSON.parse(lab.ok([...args, '-o', 'json'])) as T;
  const podsOf = (job: string) =>
    json<{ items: { metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string>; finalizers?: string[] }; spec: { hostname?: string }; status: { phase: string } }[] }>(['get', 'pods', '-l', `batch.kubernetes.io/job-name=${job}`]).items;
  const waitFor = (job: string, cond: string) => {
    const w = lab.kubectl(['wait', `--for=condition=${cond}`, `job/${job}`, '--timeout=120s']);
    assert.equal(w.code, 0, `${w.stderr}\n${lab.diagnose()}`);
  };

  before(async () => {
    lab = await startLab({ args: ['--no-netpol', '--no-dns'] });
    lab.ok(['apply', '-f', '-'], indexedJob('ix', '', 'echo index $JOB_COMPLETION_INDEX on $(hostname)'));
    lab.ok(['apply', '-f', '-'], indexedJob('perindex', '  backoffLimitPerIndex: 0\n', '[ $JOB_COMPLETION_INDEX != 1 ]'));
    lab.ok(['apply', '-f', '-'], indexedJob('early', '  successPolicy:\n    rules: [{succeededIndexes: "0"}]\n', 'if [ $JOB_COMPLETION_INDEX = 0 ]; then exit 0; fi; sleep 3600'));
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
  });

  it('runs one pod per index that echoes its index; get and describe show the Completed Indexes', () =>
    explained(lab, async () => {
      waitFor('ix', 'complete');
      const pods = podsOf('ix').sort((a, b) => Number(a.metadata.labels['batch.kubernetes.io/job-completion-index']) - Number(b.metadata.labels['batch.kubernetes.io/job-completion-index']));
      assert.deepEqual(pods.map((p) => p.metadata.annotations['batch.kubernetes.io/job-completion-index']), ['0', '1', '2']);
      assert.deepEqual(pods.map((p) => p.spec.hostname), ['ix-0', 'ix-1', 'ix-2']);
      pods.forEach((p, i) => {
        assert.match(p.metadata.name, new RegExp(`^ix-${i}-[a-z0-9]{5}$`));
        assert.equal(lab.ok(['logs', p.metadata.name]), `index ${i} on ix-${i}\n`);
      });
      // counted: no pod keeps the tracking finalizer
      await eventually(() => podsOf('ix').every((p) => !(p.metadata.finalizers ?? []).length) || undefined, 20_000, 'the finalizers removed');
      const job = json<JobJSON>(['get', 'job', 'ix']);
      assert.deepEqual([job.status.succeeded, job.status.completedIndexes, job.status.uncountedTerminatedPods], [3, '0-2', {}]);
      assert.match(lab.ok(['get', 'job', 'ix']), /^NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE\nix\s+Complete\s+3\/3\s+\d+s\s+\S+\n$/);
      const described = lab.ok(['describe', 'job', 'ix']);
      assert.match(described, /^Completion Mode:\s+Indexed$/m);
      assert.match(described, /^Completed Indexes:\s+0-2$/m);
      assert.match(described, /Pods Statuses:\s+0 Active \(0 Ready\) \/ 3 Succeeded \/ 0 Failed/);

      // the pods go when deleted (no finalizer holds them) and the Job's counts stay
      lab.ok(['delete', 'pods', '-l', 'batch.kubernetes.io/job-name=ix', '--wait=true', '--timeout=60s']);
      assert.deepEqual(podsOf('ix'), []);
      const again = json<JobJSON>(['get', 'job', 'ix']);
      assert.deepEqual([again.status.succeeded, again.status.completedIndexes], [3, '0-2']);
    }));

  it('with backoffLimitPerIndex: 0 fails index 1 and the Job with FailedIndexes, the others completed', () =>
    explained(lab, async () => {
      waitFor('perindex', 'failed');
      const job = json<JobJSON>(['get', 'job', 'perindex']);
      assert.deepEqual([job.status.completedIndexes, job.status.failedIndexes, job.status.succeeded, job.status.failed], ['0,2', '1', 2, 1]);
      const failed = job.status.conditions!.find((c) => c.type === 'Failed')!;
      assert.deepEqual([failed.reason, failed.message], ['FailedIndexes', 'Job has failed indexes']);
      assert.ok(job.status.conditions!.some((c) => c.type === 'FailureTarget' && c.reason === 'FailedIndexes'));
      const described = lab.ok(['describe', 'job', 'perindex']);
      assert.match(described, /^Completed Indexes:\s+0,2$/m);
      assert.match(described, /Warning\s+FailedIndexes\s+\S+\s+job-controller\s+Job has failed indexes$/m);
    }));

  it('a successPolicy on index 0 ends the Job once it succeeds: SuccessCriteriaMet, the other pods deleted, Complete', () =>
    explained(lab, async () => {
      waitFor('early', 'complete');
      const job = json<JobJSON>(['get', 'job', 'early']);
      const types = job.status.conditions!.filter((c) => c.status === 'True').map((c) => `${c.type}/${c.reason}/${c.message}`);
      assert.deepEqual(types, ['SuccessCriteriaMet/SuccessPolicy/Matched rules at index 0', 'Complete/SuccessPolicy/Matched rules at index 0']);
      assert.equal(job.status.completedIndexes, '0');
      // the sleeping pods were deleted, counted as failed, and are gone
      await eventually(() => podsOf('early').every((p) => p.status.phase === 'Succeeded') || undefined, 60_000, 'the other pods gone');
      assert.equal(json<JobJSON>(['get', 'job', 'early']).status.failed, 2);
    }));

  it('refuses invalid Indexed Jobs in upstream’s words', () =>
    explained(lab, async () => {
      let r = lab.kubectl(['apply', '-f', '-'], indexedJob('bad', '  backoffLimitPerIndex: 1\n', 'true').replace('completionMode: Indexed', 'completionMode: NonIndexed'));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /The Job "bad" is invalid: spec\.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode/);
      r = lab.kubectl(['apply', '-f', '-'], indexedJob('bad', '  successPolicy:\n    rules: [{succeededIndexes: "1-7", succeededCount: 5}]\n', 'true'));
      assert.match(r.stderr, /spec\.successPolicy\.rules\[0\]\.succeededIndexes: Invalid value: "1-7": error parsing succeededIndexes: too large index: "7"/);
      assert.match(r.stderr, /spec\.successPolicy\.rules\[0\]\.succeededCount: Invalid value: 5: must be less than or equal to 3 \(the number of specified completions\)/);
      r = lab.kubectl(['apply', '-f', '-'], indexedJob('bad', '', 'true').replace('  completions: 3\n', ''));
      assert.match(r.stderr, /spec\.completions: Required value: when completion mode is Indexed/);
    }));
});
