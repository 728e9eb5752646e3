// Events and Jobs in a one-node lab, with the real kubectl (1.32 and Debian's 1.20): `kubectl
// describe pod` lists the scheduler's and the kubelet's events; a failing readiness probe is an
// Unhealthy event carrying the probe's output, counted up as it repeats; a Job whose pod fails
// twice retries after the back-off and completes; a CronJob on a one-minute schedule fires;
// `kubectl events --for` and `kubectl get events -w` see the events.
// Indexed Jobs in the same lab: each pod of a three-completion Job echoes its
// JOB_COMPLETION_INDEX and hostname; `kubectl get job` and `kubectl describe job` show it complete
// with its Completed Indexes; the pods' tracking finalizers are gone once they are counted, so
// deleting the pods loses no count; backoffLimitPerIndex fails one index and the Job with
// FailedIndexes; a successPolicy ends a Job early; validation in upstream's words.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, kubectlBin, repoRoot, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';

const debianKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');
const kubectls = [{ version: '1.32', bin: kubectlBin }, ...(fs.existsSync(debianKubectl) ? [{ version: '1.20', bin: debianKubectl }] : [])];

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

// One lab for both: the two suites' objects are apart by name and label.
describe('Jobs and events in a lab', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  before(async () => {
    lab = await startLab({ args: ['--no-netpol', '--no-dns'] });
    // the Indexed Jobs run while the events suite waits on its own Job's back-off
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

  describe('events and Jobs in a lab', () => {
    let counter: string;
    let cronCreated = 0;
    const homes: string[] = [];
    const run = (bin: string, home: string, args: string[]) => {
      const r = spawnSync(bin, args, { env: { ...process.env, HOME: home, KUBECONFIG: lab.kubeconfig }, encoding: 'utf8', timeout: 150_000 });
      return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    };
    const json = (args: string[]) => JSON.parse(lab.ok([...args, '-o', 'json']));

    before(async () => {
      counter = path.join('/tmp', `${lab.name}-attempts`);
      // The CronJob first: its minute comes while the rest runs.
      lab.ok(['create', 'cronjob', 'tick', '--image=busybox', '--schedule=*/1 * * * *', '--', 'echo', 'tick']);
      cronCreated = Date.now();
      // Each attempt is a new pod; a hostPath directory counts them.
      fs.mkdirSync(counter, { recursive: true });
      lab.ok(
        ['apply', '-f', '-'],
        `apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  template:
    spec:
      restartPolicy: Never
      volumes: [{name: state, hostPath: {path: ${counter}, type: Directory}}]
      containers:
      - name: flaky
        image: busybox
        volumeMounts: [{name: state, mountPath: /state}]
        command: [sh, -c, 'n=$(cat /state/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /state/n; echo attempt $n; [ $n -ge 3 ]']
`,
      );
      lab.ok(['run', 'web', '--image=busybox', '--restart=Never', '--', 'sleep', '3600']);
      lab.ok(['run', 'crash', '--image=busybox', '--', 'sh', '-c', 'exit 1']);
      lab.ok(['run', 'nowhere', '--image=busybox', '--overrides={"spec":{"nodeSelector":{"disktype":"ssd"}}}', '--', 'sleep', '3600']);
      lab.ok(
        ['apply', '-f', '-'],
        `apiVersion: v1
kind: Pod
metadata: {name: unready}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    readinessProbe:
      exec: {command: [sh, -c, "echo backend not reachable; exit 1"]}
      periodSeconds: 1
`,
      );
    });
    after(() => {
      if (counter) fs.rmSync(counter, { recursive: true, force: true });
      for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
    });

    for (const k of kubectls) {
      it(`kubectl ${k.version} describe pod lists Scheduled, Pulled, Created and Started`, async () => {
        const home = tempDir(`home-ev-${k.version}`);
        homes.push(home);
        lab.ok(['wait', '--for=condition=Ready', 'pod/web', '--timeout=60s']);
        const node = json(['get', 'pod', 'web']).spec.nodeName;
        const out = await eventually(() => {
          const r = run(k.bin, home, ['describe', 'pod', 'web']);
          return /Normal\s+Started\s/.test(r.stdout) ? r.stdout : undefined;
        }, 30_000, 'the Started event in kubectl describe');
        const events = out!.slice(out!.indexOf('Events:'));
        assert.match(events, /^\s+Type\s+Reason\s+Age\s+From\s+Message$/m);
        assert.match(events, new RegExp(`^\\s+Normal\\s+Scheduled\\s+\\S+\\s+default-scheduler\\s+Successfully assigned default/web to ${node}$`, 'm'));
        assert.match(events, /^\s+Normal\s+Pulled\s+\S+\s+kubelet(, \S+)?\s+Container image "busybox" already present on machine$/m);
        assert.match(events, /^\s+Normal\s+Created\s+\S+\s+kubelet(, \S+)?\s+Created container: web$/m);
        assert.match(events, /^\s+Normal\s+Started\s+\S+\s+kubelet(, \S+)?\s+Started container web$/m);
      });
    }

    it('a failing readiness probe is an Unhealthy event with the probe\'s output, counted as it repeats', async () => {
      const ev = await eventually(() => {
        const items = lab.get(`/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent('involvedObject.name=unready,reason=Unhealthy')}`).items;
        return items.length === 1 && items[0].count >= 3 ? items[0] : undefined;
      }, 30_000, 'an Unhealthy event seen three times');
      assert.equal(ev.type, 'Warning');
      assert.equal(ev.message, 'Readiness probe failed: backend not reachable\n');
      assert.equal(ev.involvedObject.fieldPath, 'spec.containers{app}');
      assert.ok(Date.parse(ev.lastTimestamp) > Date.parse(ev.firstTimestamp), 'lastTimestamp moves, firstTimestamp stays');
      const described = lab.ok(['describe', 'pod', 'unready']);
      assert.match(described, /Warning\s+Unhealthy\s+\S+ \(x\d+ over \S+\)\s+kubelet(, \S+)?\s+Readiness probe failed: backend not reachable$/m);
      const events = lab.ok(['events', '--for', 'pod/unready']);
      assert.match(events, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m);
      assert.match(events, /Warning\s+Unhealthy\s+Pod\/unready\s+Readiness probe failed: backend not reachable/);
    });

    it('a pod that fits no node is FailedScheduling, and a crashing container BackOff, in upstream\'s words', async () => {
      const failed = await eventually(() => lab.get(`/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent('involvedObject.name=nowhere,reason=FailedScheduling')}`).items[0], 30_000, 'FailedScheduling');
      assert.deepEqual([failed.type, failed.source.component, failed.message], [
        'Warning',
        'default-scheduler',
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
      ]);
      const uid = json(['get', 'pod', 'crash']).metadata.uid;
      const backOff = await eventually(() => lab.get(`/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent('involvedObject.name=crash,reason=BackOff')}`).items[0], 30_000, 'BackOff');
      assert.deepEqual([backOff.type, backOff.message, backOff.involvedObject.fieldPath], ['Warning', `Back-off restarting failed container crash in pod crash_default(${uid})`, 'spec.containers{crash}']);
    });

    it('kubectl get events -w streams events as they are recorded', async () => {
      const home = tempDir('home-ev-watch');
      homes.push(home);
      const child = spawn(kubectlBin, ['get', 'events', '-w', '--field-selector', 'involvedObject.name=late'], { env: { ...process.env, HOME: home, KUBECONFIG: lab.kubeconfig } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await eventually(() => child.pid !== undefined, 5_000, 'kubectl to start');
        lab.ok(['run', 'late', '--image=busybox', '--restart=Never', '--', 'sleep', '3600']);
        await eventually(() => /Normal\s+Started\s+pod\/late\s+Started container late/.test(out), 30_000, 'the Started event in the watch');
        assert.match(out, /Normal\s+Scheduled\s+pod\/late\s+Successfully assigned default\/late to /);
      } finally {
        child.kill();
      }
    });

    it('a Job whose pod fails twice retries after the back-off and completes', async () => {
      const w = lab.kubectl(['wait', '--for=condition=complete', 'job/flaky', '--timeout=150s']);
      assert.equal(w.code, 0, `${w.stderr}\n${lab.diagnose()}`);
      assert.equal(w.stdout, 'job.batch/flaky condition met\n');
      const pods = json(['get', 'pods', '-l', 'batch.kubernetes.io/job-name=flaky', '--sort-by=.metadata.creationTimestamp']).items;
      assert.deepEqual(pods.map((p: { status: { phase: string } }) => p.status.phase), ['Failed', 'Failed', 'Succeeded']);
      // The second pod came at least 10 s after the first failed, the third at least 20 s after the second.
      const finished = (p: any) => Date.parse(p.status.containerStatuses[0].state.terminated.finishedAt);
      const created = (p: any) => Date.parse(p.metadata.creationTimestamp);
      assert.ok(created(pods[1]) - finished(pods[0]) >= 9_000, 'a 10 s back-off before the second attempt');
      assert.ok(created(pods[2]) - finished(pods[1]) >= 19_000, 'a 20 s back-off before the third attempt');
      const job = json(['get', 'job', 'flaky']);
      assert.deepEqual([job.status.succeeded, job.status.failed, job.status.conditions.map((c: { type: string }) => c.type)], [1, 2, ['SuccessCriteriaMet', 'Complete']]);
      assert.match(lab.ok(['get', 'job', 'flaky']), /^NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE\nflaky\s+Complete\s+1\/1\s+\d+s\s+\S+\n$/);
      const described = lab.ok(['describe', 'job', 'flaky']);
      assert.match(described, /Pods Statuses:\s+0 Active \(0 Ready\) \/ 1 Succeeded \/ 2 Failed/);
      for (const p of pods) assert.match(described, new RegExp(`Normal\\s+SuccessfulCreate\\s+\\S+\\s+job-controller\\s+Created pod: ${p.metadata.name}$`, 'm'));
      assert.match(described, /Normal\s+Completed\s+\S+\s+job-controller\s+Job completed$/m);
      // kubectl picks the pod itself (podutils.ByLogging: among finished pods, the oldest) and says so.
      const logs = lab.kubectl(['logs', 'job/flaky']);
      assert.deepEqual([logs.code, logs.stdout, logs.stderr], [0, 'attempt 1\n', `Found 3 pods, using pod/${pods[0].metadata.name}\n`]);
      assert.equal(lab.ok(['logs', pods[2].metadata.name]), 'attempt 3\n');
    });

    it('a CronJob on a one-minute schedule fires, and kubectl create job --from makes one by hand', async () => {
      const jobs = await eventually(() => {
        const items = lab.get('/apis/batch/v1/namespaces/default/jobs').items.filter((j: any) => j.metadata.ownerReferences?.[0]?.kind === 'CronJob');
        return items.length ? items : undefined;
      }, Math.max(1_000, cronCreated + 70_000 - Date.now()), 'a Job of the CronJob');
      // By now the schedule may have fired more than once: the Job to check is the one of the CronJob's last schedule.
      const cj = json(['get', 'cronjob', 'tick']);
      const ofCron = lab.get('/apis/batch/v1/namespaces/default/jobs').items.filter((x: any) => x.metadata.ownerReferences?.[0]?.kind === 'CronJob');
      const j = ofCron.find((x: any) => x.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'] === cj.status.lastScheduleTime) ?? jobs![0];
      const scheduled = j.metadata.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp'];
      assert.equal(j.metadata.name, `tick-${Date.parse(scheduled) / 60_000}`);
      assert.equal(new Date(scheduled).getUTCSeconds(), 0);
      assert.equal(cj.status.lastScheduleTime, scheduled);
      assert.match(lab.ok(['describe', 'cronjob', 'tick']), new RegExp(`Normal\\s+SuccessfulCreate\\s+\\S+\\s+cronjob-controller\\s+Created job ${j.metadata.name}$`, 'm'));
      assert.match(lab.ok(['get', 'cronjob', 'tick']), /^NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE\ntick\s+\*\/1 \* \* \* \*\s+<none>\s+False\s+[0-2]\s+\d+s\s+\S+\n$/);
      assert.equal(lab.ok(['create', 'job', 'by-hand', '--from=cronjob/tick']), 'job.batch/by-hand created\n');
      const manual = json(['get', 'job', 'by-hand']);
      assert.equal(manual.metadata.annotations['cronjob.kubernetes.io/instantiate'], 'manual');
      assert.equal(manual.metadata.ownerReferences[0].name, 'tick');
      lab.ok(['wait', '--for=condition=complete', 'job/by-hand', '--timeout=60s']);
      assert.equal(lab.ok(['logs', 'job/by-hand']), 'tick\n');
    });
  });

  describe('Indexed Jobs in a lab', () => {
    const json = <T>(args: string[]): T => JSON.parse(lab.ok([...args, '-o', 'json'])) as T;
    const podsOf = (job: string) =>
      json<{ items: { metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string>; finalizers?: string[] }; spec: { hostname?: string }; status: { phase: string } }[] }>(['get', 'pods', '-l', `batch.kubernetes.io/job-name=${job}`]).items;
    const waitFor = (job: string, cond: string) => {
      const w = lab.kubectl(['wait', `--for=condition=${cond}`, `job/${job}`, '--timeout=120s']);
      assert.equal(w.code, 0, `${w.stderr}\n${lab.diagnose()}`);
    };

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
});
