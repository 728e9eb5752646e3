// Deployment revisions as kubectl reads and replays them: `kubectl rollout history` lists the
// revisions the deployment controller wrote on the ReplicaSets, with their change-cause;
// `rollout undo` (client-side: it copies an old ReplicaSet's template back) makes the
// controller renumber that ReplicaSet; old ReplicaSets beyond revisionHistoryLimit go. Both
// kubectl versions, against the controller-manager as its own process.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, kubectlBin, makeKubectl, repoRoot, startApiServer, startControllerManager, tempDir, type TestApiServer } from '../helpers/apiserver.ts';

const debianKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');
const kubectls = [{ name: '1.32', bin: kubectlBin }, ...(fs.existsSync(debianKubectl) ? [{ name: '1.20', bin: debianKubectl }] : [])];

const rev = 'deployment.kubernetes.io/revision';

const deployment = (name: string, o: { replicas: number; image: string; cause: string; limit?: number }) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  annotations:
    kubernetes.io/change-cause: ${o.cause}
spec:
  replicas: ${o.replicas}
${o.limit !== undefined ? `  revisionHistoryLimit: ${o.limit}\n` : ''}  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: web, image: "${o.image}"}]
`;

describe('Deployment revisions', () => {
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
  /** The Deployment's ReplicaSets as revision -> {image, annotations, replicas}. */
  const replicaSets = (name: string) => {
    const out = new Map<string, { name: string; image: string; annotations: Record<string, string>; replicas: number }>();
    for (const rs of json(['get', 'rs', '-l', `app=${name}`]).items) {
      out.set(rs.metadata.annotations?.[rev] ?? '', { name: rs.metadata.name, image: rs.spec.template.spec.containers[0].image, annotations: rs.metadata.annotations ?? {}, replicas: rs.spec.replicas });
    }
    return out;
  };
  const revisionOfDeployment = (name: string) => json(['get', 'deployment', name]).metadata.annotations?.[rev];
  /** Waits until the ReplicaSet of `image` carries revision `r` and the Deployment names it. */
  const waitRevision = (name: string, r: string, image: string) =>
    eventually(() => replicaSets(name).get(r)?.image === image && revisionOfDeployment(name) === r, 20_000, `${name} at revision ${r} (${image})`);

  before(async () => {
    s = await startApiServer();
    for (const k of kubectls) {
      const home = tempDir(`home-${k.name}`);
      homes.push(home);
      runners.set(k.name, makeKubectl(s.kubeconfig, k.bin, home));
    }
    cm = startControllerManager(s);
  });
  after(async () => {
    await cm?.stop();
    await s?.dispose();
    for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
  });

  for (const k of kubectls) {
    it(`lists, shows and undoes revisions with kubectl ${k.name}`, async () => {
      const run = runners.get(k.name)!;
      const name = `web-${k.name.replace('.', '-')}`;
      let r = run(['apply', '-f', '-'], deployment(name, { replicas: 2, image: 'podpath/echo:1', cause: 'first' }));
      assert.equal(r.code, 0, r.stderr);
      await waitRevision(name, '1', 'podpath/echo:1');
      const first = replicaSets(name).get('1')!;
      // desired-replicas and max-replicas: 2 and 2 + 25% surge rounded up.
      assert.equal(first.annotations['deployment.kubernetes.io/desired-replicas'], '2');
      assert.equal(first.annotations['deployment.kubernetes.io/max-replicas'], '3');
      assert.equal(first.annotations['kubernetes.io/change-cause'], 'first');
      assert.equal(first.annotations['kubectl.kubernetes.io/last-applied-configuration'], undefined, 'not copied from the Deployment');

      r = run(['set', 'image', `deployment/${name}`, 'web=podpath/echo:2']);
      assert.equal(r.code, 0, r.stderr);
      r = run(['annotate', `deployment/${name}`, 'kubernetes.io/change-cause=second', '--overwrite']);
      assert.equal(r.code, 0, r.stderr);
      await waitRevision(name, '2', 'podpath/echo:2');
      await eventually(() => replicaSets(name).get('2')?.annotations['kubernetes.io/change-cause'] === 'second', 20_000, 'the change-cause copied to the new ReplicaSet');
      assert.equal(replicaSets(name).get('1')!.annotations['kubernetes.io/change-cause'], 'first', 'an old ReplicaSet keeps its own');

      r = run(['rollout', 'history', `deployment/${name}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `deployment.apps/${name} \nREVISION  CHANGE-CAUSE\n1         first\n2         second\n\n`);
      r = run(['rollout', 'history', `deployment/${name}`, '--revision=1']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^deployment.apps/${name} with revision #1\nPod Template:\n`));
      assert.match(r.stdout, /^\s+Image:\s+podpath\/echo:1$/m);

      // Undo: the ReplicaSet of revision 1 comes back as revision 3, remembering 1.
      r = run(['rollout', 'undo', `deployment/${name}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `deployment.apps/${name} rolled back\n`);
      await waitRevision(name, '3', 'podpath/echo:1');
      const back = replicaSets(name).get('3')!;
      assert.equal(back.name, first.name, 'the old ReplicaSet is reused');
      assert.equal(back.annotations['deployment.kubernetes.io/revision-history'], '1');
      assert.equal(json(['get', 'deployment', name]).metadata.annotations['kubernetes.io/change-cause'], 'first', "undo takes the ReplicaSet's annotations back");
      r = run(['rollout', 'history', `deployment/${name}`]);
      assert.equal(r.stdout, `deployment.apps/${name} \nREVISION  CHANGE-CAUSE\n2         second\n3         first\n\n`);

      r = run(['rollout', 'undo', `deployment/${name}`, '--to-revision=2']);
      assert.equal(r.code, 0, r.stderr);
      await waitRevision(name, '4', 'podpath/echo:2');
      assert.equal(replicaSets(name).get('4')!.annotations['deployment.kubernetes.io/revision-history'], '2');
      r = run(['rollout', 'undo', `deployment/${name}`, '--to-revision=4']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `deployment.apps/${name} skipped rollback (current template already matches revision 4)\n`);
      r = run(['rollout', 'undo', `deployment/${name}`, '--to-revision=1']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /unable to find specified revision 1 in history/);
    });
  }

  it('keeps revisionHistoryLimit old ReplicaSets, dropping the lowest revisions', async () => {
    const name = 'limited';
    let r = kubectl(['apply', '-f', '-'], deployment(name, { replicas: 0, image: 'podpath/echo:1', cause: 'v1', limit: 2 }));
    assert.equal(r.code, 0, r.stderr);
    await waitRevision(name, '1', 'podpath/echo:1');
    for (let v = 2; v <= 5; v++) {
      r = kubectl(['set', 'image', `deployment/${name}`, `web=podpath/echo:${v}`]);
      assert.equal(r.code, 0, r.stderr);
      await waitRevision(name, String(v), `podpath/echo:${v}`);
    }
    const kept = await eventually(() => {
      const m = replicaSets(name);
      return m.size === 3 ? m : undefined;
    }, 20_000, 'the current and 2 old ReplicaSets');
    assert.deepEqual([...kept!.keys()].sort(), ['3', '4', '5']);
    r = kubectl(['rollout', 'history', `deployment/${name}`]);
    assert.match(r.stdout, /^REVISION {2}CHANGE-CAUSE\n3 {9}v1\n4 {9}v1\n5 {9}v1\n/m);
    // The limit also holds when it is lowered.
    r = kubectl(['patch', 'deployment', name, '-p', '{"spec":{"revisionHistoryLimit":0}}']);
    assert.equal(r.code, 0, r.stderr);
    await eventually(() => [...replicaSets(name).keys()].join() === '5', 20_000, 'only the current ReplicaSet');
  });
});
