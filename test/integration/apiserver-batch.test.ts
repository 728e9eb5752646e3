// batch/v1 against the API server and the controller-manager as their own processes, with the
// real kubectl (1.32 and Debian's 1.20): Jobs and CronJobs created, defaulted and listed as
// upstream prints them, their validation errors in upstream's words, the Job's generated
// selector and pod labels, `kubectl create job --from=cronjob/X`; and Events leaving after
// --event-ttl.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, kubectlBin, makeKubectl, repoRoot, startApiServer, startControllerManager, tempDir, type TestApiServer } from '../helpers/apiserver.ts';

const debianKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');
const kubectls = [{ version: '1.32', bin: kubectlBin }, ...(fs.existsSync(debianKubectl) ? [{ version: '1.20', bin: debianKubectl }] : [])];

describe('batch/v1 and Events against the API server', () => {
  let s: TestApiServer;
  let cm: { stop: () => Promise<void> } | undefined;
  const homes: string[] = [];
  const runners = new Map<string, (args: string[], input?: string) => { code: number; stdout: string; stderr: string }>();
  const kubectl = (args: string[], input?: string) => runners.get('1.32')!(args, input);
  const json = (args: string[]) => {
    const r = kubectl([...args, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    s = await startApiServer();
    for (const k of kubectls) {
      const home = tempDir(`home-batch-${k.version}`);
      homes.push(home);
      runners.set(k.version, makeKubectl(s.kubeconfig, k.bin, home));
    }
    cm = startControllerManager(s);
  });
  after(async () => {
    await cm?.stop();
    await s?.dispose();
    for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
  });

  for (const k of kubectls) {
    it(`kubectl ${k.version} creates a Job: defaults, generated selector and labels, its pod, upstream's columns`, async () => {
      const run = runners.get(k.version)!;
      const name = `pi-${k.version.replace('.', '-')}`;
      const r = run(['create', 'job', name, '--image=busybox', '--', 'sh', '-c', 'echo 3.14']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `job.batch/${name} created\n`);
      const job = json(['get', 'job', name]);
      const uid = job.metadata.uid;
      assert.deepEqual(job.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } });
      const labels = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid, 'job-name': name };
      assert.deepEqual(job.spec.template.metadata.labels, labels);
      assert.deepEqual(job.metadata.labels, labels);
      assert.deepEqual(
        [job.spec.backoffLimit, job.spec.completions, job.spec.parallelism, job.spec.completionMode, job.spec.suspend, job.spec.podReplacementPolicy, job.spec.template.spec.restartPolicy],
        [6, 1, 1, 'NonIndexed', false, 'TerminatingOrFailed', 'Never'],
      );
      const pod = await eventually(() => json(['get', 'pods', '-l', `job-name=${name}`]).items[0], 20_000, "the Job's pod");
      assert.match(pod.metadata.name, new RegExp(`^${name}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      assert.deepEqual(pod.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name, uid, controller: true, blockOwnerDeletion: true }]);
      const table = await eventually(() => {
        const out = run(['get', 'job', name]).stdout;
        return new RegExp(`^${name}\\s+Running\\s+0/1\\s+\\d+s\\s+\\d+s$`, 'm').test(out) ? out : undefined;
      }, 20_000, 'the Job as Running');
      assert.match(table!, /^NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE$/m);
      assert.match(run(['get', 'job', name, '-o', 'wide']).stdout, new RegExp(`^NAME\\s+STATUS\\s+COMPLETIONS\\s+DURATION\\s+AGE\\s+CONTAINERS\\s+IMAGES\\s+SELECTOR\\n${name}\\s+Running\\s+0/1\\s+\\S+\\s+\\S+\\s+${name}\\s+busybox\\s+batch.kubernetes.io/controller-uid=${uid}\\n$`));
      const events = await eventually(() => {
        const out = run(['describe', 'job', name]).stdout;
        return /SuccessfulCreate/.test(out) ? out : undefined;
      }, 20_000, 'the SuccessfulCreate event');
      assert.match(events!, new RegExp(`Normal\\s+SuccessfulCreate\\s+\\S+\\s+job-controller\\s+Created pod: ${pod.metadata.name}$`, 'm'));
    });
  }

  it('refuses what upstream refuses, in its words', () => {
    const always = kubectl(['apply', '-f', '-'], 'apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: a, image: busybox}]}}}\n');
    assert.equal(always.code, 1);
    assert.equal(always.stderr, 'The Job "x" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"\n');
    const sched = kubectl(['create', 'cronjob', 'bad', '--image=busybox', '--schedule=* * *', '--', 'true']);
    assert.equal(sched.stderr, 'error: failed to create cronjob: CronJob.batch "bad" is invalid: spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]\n');
    const long = kubectl(['create', 'cronjob', 'a'.repeat(53), '--image=busybox', '--schedule=@hourly', '--', 'true']);
    assert.match(long.stderr, /metadata.name: Invalid value: "a{53}": must be no more than 52 characters/);
    const tz = kubectl(['apply', '-f', '-'], 'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: tz}\nspec: {schedule: "0 9 * * *", timeZone: Mars/Olympus, jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: a, image: busybox}]}}}}}\n');
    assert.equal(tz.stderr, 'The CronJob "tz" is invalid: spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus\n');
    const made = kubectl(['create', 'job', 'fixed', '--image=busybox', '--', 'true']);
    assert.equal(made.code, 0, made.stderr);
    const img = kubectl(['set', 'image', 'job/fixed', 'fixed=busybox:1.36']);
    assert.equal(img.stderr, 'error: failed to patch image update to pod template: Job.batch "fixed" is invalid: spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable\n');
  });

  it('makes a Job from a CronJob\'s template with kubectl create job --from, and prints CronJobs as upstream', () => {
    let r = kubectl(['create', 'cronjob', 'nightly', '--image=busybox', '--schedule=0 3 * * *', '--', 'echo', 'backup']);
    assert.equal(r.code, 0, r.stderr);
    r = kubectl(['patch', 'cronjob', 'nightly', '-p', '{"spec":{"timeZone":"Europe/Paris","suspend":true}}']);
    assert.equal(r.code, 0, r.stderr);
    const cj = json(['get', 'cronjob', 'nightly']);
    assert.deepEqual([cj.spec.concurrencyPolicy, cj.spec.successfulJobsHistoryLimit, cj.spec.failedJobsHistoryLimit], ['Allow', 3, 1]);
    assert.match(kubectl(['get', 'cronjob', 'nightly']).stdout, /^NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE\nnightly\s+0 3 \* \* \*\s+Europe\/Paris\s+True\s+0\s+<none>\s+\S+\n$/);
    r = kubectl(['create', 'job', 'backup-now', '--from=cronjob/nightly']);
    assert.equal(r.stdout, 'job.batch/backup-now created\n', r.stderr);
    const job = json(['get', 'job', 'backup-now']);
    assert.deepEqual(job.metadata.ownerReferences.map((o: { kind: string; name: string; uid: string }) => [o.kind, o.name, o.uid]), [['CronJob', 'nightly', cj.metadata.uid]]);
    assert.deepEqual(job.spec.template.spec.containers[0].command, ['echo', 'backup']);
  });

  it('serves the Events of v1 as events.k8s.io/v1 too: one storage, fields renamed both ways', () => {
    const core = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'web.1', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'web', namespace: 'default', uid: 'u1' }, reason: 'Started', message: 'Started container web', type: 'Normal', count: 2, source: { component: 'kubelet', host: 'n1' }, firstTimestamp: '2026-01-01T00:00:00Z', lastTimestamp: '2026-01-01T00:01:00Z', reportingComponent: 'kubelet', reportingInstance: 'n1' };
    let r = kubectl(['create', '-f', '-'], JSON.stringify(core));
    assert.equal(r.code, 0, r.stderr);
    const seen = json(['get', 'events.v1.events.k8s.io', 'web.1']);
    assert.deepEqual(
      [seen.apiVersion, seen.regarding, seen.note, seen.deprecatedCount, seen.deprecatedSource, seen.deprecatedFirstTimestamp, seen.deprecatedLastTimestamp, seen.reportingController, seen.reportingInstance],
      ['events.k8s.io/v1', core.involvedObject, core.message, 2, core.source, core.firstTimestamp, core.lastTimestamp, 'kubelet', 'n1'],
    );
    const v1 = { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'db.1', namespace: 'default' }, regarding: { kind: 'Pod', name: 'db', namespace: 'default' }, reason: 'Scheduled', note: 'Successfully assigned default/db to n1', type: 'Normal', eventTime: '2026-01-01T00:00:00.000000Z', reportingController: 'default-scheduler', reportingInstance: 'default-scheduler-n1', action: 'Binding' };
    r = kubectl(['create', '-f', '-'], JSON.stringify(v1));
    assert.equal(r.stdout, 'event.events.k8s.io/db.1 created\n', r.stderr);
    const stored = json(['get', 'events', 'db.1']);
    assert.deepEqual([stored.apiVersion, stored.involvedObject, stored.message, stored.reportingComponent, stored.action, stored.eventTime], ['v1', v1.regarding, v1.note, 'default-scheduler', 'Binding', v1.eventTime]);
    r = kubectl(['patch', 'events.events.k8s.io', 'db.1', '--type=merge', '-p', '{"note":"bound again"}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(['get', 'events', 'db.1']).message, 'bound again');
    assert.match(kubectl(['get', 'events.events.k8s.io', '--field-selector', 'involvedObject.name=db']).stdout, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n\S+\s+Normal\s+Scheduled\s+pod\/db\s+bound again\n$/);
    assert.match(kubectl(['api-resources', '--api-group=events.k8s.io', '--no-headers']).stdout, /^events\s+ev\s+events.k8s.io\/v1\s+true\s+Event$/m);
    r = kubectl(['delete', 'events.events.k8s.io', 'db.1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(kubectl(['get', 'events', 'db.1']).stderr, /NotFound/);
  });

  it('removes Events once --event-ttl has passed since their last write', async () => {
    // A server of its own, whose Events live four seconds.
    const short = await startApiServer({ extraArgs: ['--event-ttl', '4s'] });
    try {
      const k = makeKubectl(short.kubeconfig);
      const ev = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'x.1', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'x', namespace: 'default' }, reason: 'Test', message: 'm', type: 'Normal', count: 1 };
      const written = Date.now();
      const r = k(['create', '-f', '-'], JSON.stringify(ev));
      assert.equal(r.code, 0, r.stderr);
      const got = k(['get', 'event', 'x.1']);
      // On a loaded machine the two kubectl calls alone can outlast the TTL; the Event is then
      // rightly gone already, and only its expiry below can be checked.
      if (Date.now() - written < 3_000) assert.match(got.stdout, /Normal\s+Test\s+pod\/x\s+m/, got.stderr);
      await eventually(() => k(['get', 'event', 'x.1']).stderr.includes('NotFound'), 15_000, 'the Event to expire');
    } finally {
      await short.dispose();
    }
  });
});
