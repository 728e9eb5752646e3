// The controller-manager as its own process against a real API server, started after the
// objects it manages exist (so it first learns of them from a list, not a watch event).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, makeKubectl, request, startApiServer, startControllerManager, type TestApiServer } from '../helpers/apiserver.ts';

describe('controller-manager', () => {
  let s: TestApiServer;
  let cm: { stop: () => Promise<void> } | undefined;
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
    // Endpoints that exist before the controller starts: one whose Service is gone, a leader
    // lock (never a Service's), and a selectorless Service's own.
    const ep = (name: string, annotations?: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, ...(annotations ? { annotations } : {}) },
      subsets: [{ addresses: [{ ip: '10.9.9.9' }], ports: [{ port: 80 }] }],
    });
    const manual = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'manual' }, spec: { ports: [{ port: 80 }] } };
    for (const o of [ep('stale'), ep('lock', { 'control-plane.alpha.kubernetes.io/leader': '{"holderIdentity":"x"}' }), manual, ep('manual')]) {
      const r = kubectl(['create', '-f', '-'], JSON.stringify(o));
      assert.equal(r.code, 0, r.stderr);
    }
    cm = startControllerManager(s);
  });
  after(async () => {
    await cm?.stop();
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
      assert.match(p.metadata.name, new RegExp(`^${rs.metadata.name}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
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

  it('runs a DaemonSet pod on each Ready node its selector admits, and reports it in kubectl get ds', async () => {
    const node = (name: string, os: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/os': os } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
    for (const n of [node('n1', 'linux'), node('n2', 'linux'), node('w1', 'windows')]) {
      const r = kubectl(['create', '-f', '-'], JSON.stringify(n));
      assert.equal(r.code, 0, r.stderr);
    }
    const ds = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers: [{name: agent, image: busybox, command: [sleep, "3600"]}]
`;
    const r = kubectl(['apply', '-f', '-'], ds);
    assert.equal(r.code, 0, r.stderr);
    const pods = await eventually(() => {
      const items = json(['get', 'pods', '-l', 'app=agent']).items;
      return items.length === 2 ? items : undefined;
    }, 20_000, '2 daemon pods');
    const targets = pods!.map((p: any) => p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]).sort();
    assert.deepEqual(targets, ['n1', 'n2']);
    for (const p of pods!) {
      assert.match(p.metadata.name, /^agent-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.equal(p.metadata.labels['pod-template-generation'], '1');
      assert.match(p.metadata.labels['controller-revision-hash'], /^[bcdf4-9]+$/);
    }
    const table = await eventually(() => {
      const out = kubectl(['get', 'ds', 'agent']).stdout;
      return /^agent\s+2\s+2\s+0\s+2\s+0\s+kubernetes.io\/os=linux\s+\S+$/m.test(out) ? out : undefined;
    }, 20_000, 'DESIRED 2 CURRENT 2 UP-TO-DATE 2');
    assert.match(table!, /^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE$/m);
  });

  it('deletes Endpoints whose Service is gone, at start and when the Service is deleted; leaves leader locks and selectorless Services\' own', async () => {
    const names = () => (json(['get', 'endpoints']).items as { metadata: { name: string } }[]).map((e) => e.metadata.name).sort();
    await eventually(() => !names().includes('stale'), 20_000, 'the leftover Endpoints to be deleted');
    await eventually(() => names().includes('web'), 20_000, "the web Service's Endpoints");
    assert.deepEqual(names().filter((n) => n !== 'kubernetes'), ['lock', 'manual', 'web']);
    assert.deepEqual(json(['get', 'endpoints', 'manual']).subsets[0].addresses, [{ ip: '10.9.9.9' }]);
    const r = kubectl(['delete', 'service', 'web']);
    assert.equal(r.code, 0, r.stderr);
    await eventually(() => !names().includes('web'), 20_000, "the web Endpoints to follow its Service");
    assert.ok(names().includes('lock') && names().includes('manual'), names().join(' '));
  });

  it('fails a deleted pod whose node is gone, as PodGC does, so a Job under podReplacementPolicy: Failed lets it go and replaces it', async () => {
    const nodeJson = JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'gone' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
    assert.equal(kubectl(['create', '-f', '-'], nodeJson).code, 0);
    const job = `apiVersion: batch/v1
kind: Job
metadata: {name: held}
spec:
  podReplacementPolicy: Failed
  podFailurePolicy: {rules: [{action: Ignore, onPodConditions: [{type: DisruptionTarget}]}]}
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox, command: [sleep, "3600"]}]
`;
    const r = kubectl(['apply', '-f', '-'], job);
    assert.equal(r.code, 0, r.stderr);
    const pods = () => json(['get', 'pods', '-l', 'job-name=held']).items as { metadata: { name: string; deletionTimestamp?: string; finalizers?: string[] }; status: { phase?: string; conditions?: { type: string; reason?: string; message?: string }[] } }[];
    const first = await eventually(() => pods()[0], 20_000, "the Job's pod");
    const name = first!.metadata.name;
    assert.deepEqual(first!.metadata.finalizers, ['batch.kubernetes.io/job-tracking']);
    const bind = await request(s, 'POST', `/api/v1/namespaces/default/pods/${name}/binding`, JSON.stringify({ apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { kind: 'Node', name: 'gone' } }));
    assert.equal(bind.status, 201, bind.body);
    assert.equal(kubectl(['delete', 'node', 'gone']).code, 0);
    assert.equal(kubectl(['delete', 'pod', name, '--wait=false']).code, 0);
    // Marked Failed with PodGC's condition, released by the Job controller, then gone; the
    // Ignore rule on DisruptionTarget means the Job does not count it as a failure.
    await eventually(() => !pods().some((p) => p.metadata.name === name), 20_000, 'the orphaned pod to go');
    const next = await eventually(() => pods().find((p) => p.metadata.name !== name), 20_000, 'a replacement pod');
    assert.ok(next);
    const st = json(['get', 'job', 'held']).status;
    assert.equal(st.failed ?? 0, 0, JSON.stringify(st));
    assert.equal(st.active, 1, JSON.stringify(st));
  });

  it('asks for a new token at once when its service account is remade: a controller whose token the API server refuses (401) is back within seconds', async () => {
    // The ReplicaSet controller's token names its service account's uid; deleting the account
    // makes every request of that controller a 401, long before the token's timer would renew it.
    const sa = json(['get', 'serviceaccount', 'replicaset-controller', '-n', 'kube-system']);
    assert.equal(kubectl(['delete', 'serviceaccount', 'replicaset-controller', '-n', 'kube-system']).code, 0);
    const r = kubectl(['scale', 'deployment', 'web', '--replicas=4']);
    assert.equal(r.code, 0, r.stderr);
    await eventually(() => json(['get', 'pods', '-l', 'app=web']).items.length === 4 || undefined, 20_000, 'the fourth pod, created with a new token');
    const remade = json(['get', 'serviceaccount', 'replicaset-controller', '-n', 'kube-system']);
    assert.notEqual(remade.metadata.uid, sa.metadata.uid, 'the service account was made again');
  });
});
