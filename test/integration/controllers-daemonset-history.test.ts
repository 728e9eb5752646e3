// A DaemonSet's ControllerRevisions through the real kubectl: the controller-manager keeps one
// revision per template, `kubectl rollout history` lists and shows them, `kubectl rollout undo`
// brings a template back (its revision then renumbered as the newest), and
// revisionHistoryLimit prunes what no pod uses. Nodes are API objects only: nothing runs the pods.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, makeKubectl, repoRoot, startApiServer, startControllerManager, tempDir, type TestApiServer } from '../helpers/apiserver.ts';

const oldKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');

interface Revision {
  metadata: { name: string; labels: Record<string, string>; annotations?: Record<string, string>; ownerReferences: { kind: string; name: string; uid: string; controller: boolean }[] };
  revision: number;
  data: { spec: { template: Record<string, unknown> } };
}

const manifest = (cause: string, image: string, limit = 10) => `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  annotations: {kubernetes.io/change-cause: "${cause}"}
spec:
  revisionHistoryLimit: ${limit}
  selector: {matchLabels: {app: agent}}
  template:
    # what Go's encoding/json escapes, which kubectl's byte-for-byte match of the data sees
    metadata: {labels: {app: agent}, annotations: {note: "<pod> & more"}}
    spec:
      containers: [{name: agent, image: ${image}, command: [sleep, "3600"]}]
`;

describe('DaemonSet ControllerRevisions with kubectl rollout', () => {
  let s: TestApiServer;
  let cm: { stop: () => Promise<void> } | undefined;
  let kubectl: ReturnType<typeof makeKubectl>;
  const ok = (args: string[], input?: string) => {
    const r = kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const names = (rs: Revision[]) => rs.map((r) => r.metadata.name);
  const revisions = (): Revision[] => (JSON.parse(ok(['get', 'controllerrevisions', '-o', 'json'])).items as Revision[]).sort((a, b) => a.revision - b.revision);
  const podHashes = () => (JSON.parse(ok(['get', 'pods', '-l', 'app=agent', '-o', 'json'])).items as { metadata: { labels: Record<string, string> } }[]).map((p) => p.metadata.labels['controller-revision-hash']);
  /** the revisions once there are `n`, and every pod (one per node) carries the newest one's hash */
  const settledAt = (n: number, hashOfNewest?: string) =>
    eventually(() => {
      const rs = revisions();
      const newest = rs.at(-1);
      if (rs.length !== n || !newest || (hashOfNewest && newest.metadata.labels['controller-revision-hash'] !== hashOfNewest)) return undefined;
      const hashes = podHashes();
      return hashes.length === 2 && hashes.every((h) => h === newest.metadata.labels['controller-revision-hash']) ? rs : undefined;
    }, 30_000, `${n} revisions and the pods on the newest`);

  before(async () => {
    s = await startApiServer();
    kubectl = makeKubectl(s.kubeconfig);
    for (const name of ['n1', 'n2']) ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }));
    cm = startControllerManager(s);
  });
  after(async () => {
    await cm?.stop();
    await s?.dispose();
  });

  it('keeps a revision per template, lists them in rollout history and undoes to revision 1', async () => {
    ok(['apply', '-f', '-'], manifest('first', 'busybox'));
    const [r1] = (await settledAt(1))!;
    const ds = JSON.parse(ok(['get', 'ds', 'agent', '-o', 'json']));
    // <ds>-<hash>, labelled with the template's labels and the hash, owned by the DaemonSet, the DaemonSet's annotations
    const hash1 = r1!.metadata.labels['controller-revision-hash']!;
    assert.equal(r1!.metadata.name, `agent-${hash1}`);
    assert.match(hash1, /^[bcdf4-9]+$/);
    assert.deepEqual(r1!.metadata.labels, { app: 'agent', 'controller-revision-hash': hash1 });
    assert.equal(r1!.metadata.annotations?.['kubernetes.io/change-cause'], 'first');
    assert.equal(r1!.metadata.annotations?.['deprecated.daemonset.template.generation'], '1');
    assert.deepEqual(r1!.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: ds.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.equal(r1!.revision, 1);
    // data: the patch that puts the template back, with the template as the server stores it
    assert.deepEqual(r1!.data, { spec: { template: { ...ds.spec.template, $patch: 'replace' } } });

    ok(['apply', '-f', '-'], manifest('second', 'alpine'));
    await settledAt(2);
    ok(['apply', '-f', '-'], manifest('third', 'podpath/netshoot'));
    const three = (await settledAt(3))!;
    assert.deepEqual(three.map((r) => [r.revision, r.metadata.annotations?.['kubernetes.io/change-cause']]), [[1, 'first'], [2, 'second'], [3, 'third']]);
    assert.equal(JSON.parse(ok(['get', 'ds', 'agent', '-o', 'json'])).metadata.annotations['deprecated.daemonset.template.generation'], '3');

    // the server-side Table kubectl get prints
    const table = ok(['get', 'controllerrevisions']);
    assert.match(table, /^NAME\s+CONTROLLER\s+REVISION\s+AGE\n/);
    for (const r of three) assert.match(table, new RegExp(`^${r.metadata.name}\\s+daemonset\\.apps/agent\\s+${r.revision}\\s+\\d+s\\n`, 'm'));

    assert.equal(ok(['rollout', 'history', 'daemonset/agent']), 'daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n1         first\n2         second\n3         third\n\n');
    const rev2 = ok(['rollout', 'history', 'daemonset/agent', '--revision=2']);
    assert.equal(
      rev2,
      'daemonset.apps/agent with revision #2\nPod Template:\n  Labels:\tapp=agent\n  Annotations:\tnote: <pod> & more\n  Containers:\n   agent:\n    Image:\talpine\n    Port:\t<none>\n    Host Port:\t<none>\n' +
        '    Command:\n      sleep\n      3600\n    Environment:\t<none>\n    Mounts:\t<none>\n  Volumes:\t<none>\n  Node-Selectors:\t<none>\n  Tolerations:\t<none>\n\n',
    );

    // undo to revision 1: its template is back, its revision renumbered 4, the pods on its hash again
    assert.equal(ok(['rollout', 'undo', 'daemonset/agent', '--to-revision=1']), 'daemonset.apps/agent rolled back\n');
    assert.equal(JSON.parse(ok(['get', 'ds', 'agent', '-o', 'json'])).spec.template.spec.containers[0].image, 'busybox');
    const four = (await settledAt(3, hash1))!;
    assert.deepEqual(four.map((r) => [r.metadata.name, r.revision]), [[three[1]!.metadata.name, 2], [three[2]!.metadata.name, 3], [r1!.metadata.name, 4]]);
    assert.equal(ok(['rollout', 'history', 'daemonset/agent']), 'daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n2         second\n3         third\n4         first\n\n');
    // kubectl compares the DaemonSet's template with the revision's data byte for byte
    assert.equal(ok(['rollout', 'undo', 'daemonset/agent', '--to-revision=4']), 'daemonset.apps/agent skipped rollback (current template already matches revision 4)\n');
    // undo without a revision goes to the one before the newest
    assert.equal(ok(['rollout', 'undo', 'daemonset/agent']), 'daemonset.apps/agent rolled back\n');
    await settledAt(3, three[2]!.metadata.labels['controller-revision-hash']);
    assert.equal(JSON.parse(ok(['get', 'ds', 'agent', '-o', 'json'])).spec.template.spec.containers[0].image, 'podpath/netshoot');

    const bad = kubectl(['rollout', 'undo', 'daemonset/agent', '--to-revision=9']);
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stderr, 'error: unable to find specified revision 9 in history\n');
  });

  it("rollout history and undo work with Debian's kubectl 1.20 too", { skip: fs.existsSync(oldKubectl) ? false : `no ${oldKubectl}` }, async () => {
    const home = tempDir('dsrev-kubectl-');
    const kubectlOld = makeKubectl(s.kubeconfig, oldKubectl, home);
    const old = (args: string[]) => {
      const r = kubectlOld(args);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(old(['rollout', 'history', 'daemonset/agent']), 'daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n2         second\n4         first\n5         third\n\n');
    const second = revisions().find((r) => r.revision === 2)!.metadata.labels['controller-revision-hash'];
    assert.equal(old(['rollout', 'undo', 'daemonset/agent', '--to-revision=2']), 'daemonset.apps/agent rolled back\n');
    await settledAt(3, second);
    assert.equal(old(['rollout', 'history', 'daemonset/agent']), 'daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n4         first\n5         third\n6         second\n\n');
    assert.equal(old(['rollout', 'undo', 'daemonset/agent']), 'daemonset.apps/agent rolled back\n');
    await eventually(() => JSON.parse(ok(['get', 'ds', 'agent', '-o', 'json'])).spec.template.spec.containers[0].image === 'podpath/netshoot', 10_000, 'the netshoot template back');
  });

  it('prunes old revisions beyond revisionHistoryLimit that no pod uses', async () => {
    // the newest two of three or four revisions: the current one and the one before
    const before = revisions();
    ok(['apply', '-f', '-'], manifest('third', 'podpath/netshoot', 1));
    const rs = await eventually(() => {
      const rs = revisions();
      return rs.length === 2 ? rs : undefined;
    }, 30_000, 'one old revision kept');
    assert.deepEqual(names(rs!).sort(), names(before.slice(-2)).sort());
    const newest = rs!.at(-1)!.data.spec.template as { spec: { containers: { image: string }[] } };
    assert.equal(newest.spec.containers[0]!.image, 'podpath/netshoot');
  });

  it('names the revision anew, with status.collisionCount raised, when another revision holds its name', async () => {
    const ds = (name: string) => manifest('x', 'busybox').replace('name: agent', `name: ${name}`).replace(/app: agent/g, `app: ${name}`);
    ok(['apply', '-f', '-'], ds('clash'));
    const taken = await eventually(() => revisions().find((r) => r.metadata.name.startsWith('clash-')), 30_000, "clash's revision");
    ok(['delete', 'ds', 'clash']);
    await eventually(() => !revisions().some((r) => r.metadata.name === taken!.metadata.name), 30_000, 'the revision collected with its DaemonSet');
    ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: taken!.metadata.name }, data: { other: true }, revision: 1 }));
    ok(['apply', '-f', '-'], ds('clash'));
    const made = await eventually(() => revisions().find((r) => r.metadata.name.startsWith('clash-') && r.metadata.ownerReferences?.length), 30_000, 'a revision under another name');
    assert.notEqual(made!.metadata.name, taken!.metadata.name);
    assert.equal(made!.revision, 1);
    assert.equal(JSON.parse(ok(['get', 'ds', 'clash', '-o', 'json'])).status.collisionCount, 1);
  });

  it('rejects a revision without data or with a negative number, and a change to data', () => {
    const r = kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: 'bad' }, revision: -1 }));
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr, 'The ControllerRevision "bad" is invalid: \n* data: Required value: data is mandatory\n* revision: Invalid value: -1: must be greater than or equal to 0\n');
    ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: 'snap' }, data: { a: 1 }, revision: 1 }));
    const u = kubectl(['patch', 'controllerrevision', 'snap', '--type=merge', '-p', '{"data":{"a":2},"revision":2}']);
    assert.notEqual(u.code, 0);
    assert.match(u.stderr, /^The ControllerRevision "snap" is invalid: data: Invalid value: .*: field is immutable\n$/);
    assert.equal(ok(['patch', 'controllerrevision', 'snap', '--type=merge', '-p', '{"revision":2}']), 'controllerrevision.apps/snap patched\n');
  });
});
