// The controller-manager as its own process against a real API server, started after the
// objects it manages exist (so it first learns of them from a list, not a watch event).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { eventually, makeKubectl, podpathBin, startApiServer, type TestApiServer } from '../helpers/apiserver.ts';

describe('controller-manager', () => {
  let s: TestApiServer;
  let cm: ChildProcess | undefined;
  let kubectl: ReturnType<typeof makeKubectl>;
  const json = (args: string[]) => {
    const r = kubectl([...args, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    s = await startApiServer();
    kubectl = makeKubectl(s.kubeconfig);
    const r = kubectl(['create', 'deployment', 'web', '--image=podpath/echo', '--replicas=3']);
    assert.equal(r.code, 0, r.stderr);
    const svc = kubectl(['expose', 'deployment', 'web', '--port=80', '--target-port=8080']);
    assert.equal(svc.code, 0, svc.stderr);
    cm = spawn(process.execPath, [podpathBin, 'controller-manager', '--kubeconfig', s.kubeconfig], { stdio: 'ignore' });
  });
  after(async () => {
    if (cm?.exitCode === null) {
      cm.kill('SIGTERM');
      await new Promise((r) => cm!.once('exit', r));
    }
    await s?.dispose();
  });

  it('creates the ReplicaSet and Pods with complete controller owner references', async () => {
    const rs = await eventually(() => json(['get', 'rs']).items[0], 20_000, 'a ReplicaSet');
    const dep = json(['get', 'deployment', 'web']);
    assert.deepEqual(rs.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: dep.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.match(rs.metadata.name, /^web-[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    const pods = await eventually(() => {
      const items = json(['get', 'pods']).items;
      return items.length === 3 ? items : undefined;
    }, 20_000, '3 pods');
    for (const p of pods!) {
      assert.equal(p.metadata.ownerReferences[0].kind, 'ReplicaSet');
      assert.equal(p.metadata.ownerReferences[0].apiVersion, 'apps/v1');
      assert.equal(p.metadata.ownerReferences[0].uid, rs.metadata.uid);
      assert.equal(p.metadata.labels['pod-template-hash'], rs.metadata.labels['pod-template-hash']);
    }
    // Pods nobody runs have no IP: the Service's slice exists, with no endpoints yet.
    const slice = await eventually(() => json(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web']).items[0], 20_000, 'the EndpointSlice');
    assert.equal(slice.metadata.ownerReferences[0].kind, 'Service');
    assert.deepEqual(slice.endpoints ?? [], []);
  });
});
