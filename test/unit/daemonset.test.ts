// The DaemonSet controller's decisions (planDaemonSet, pure) and the placement rules it shares
// with the scheduler: one pod per eligible node — node selectors, required node affinity, taints
// and the tolerations every daemon pod gets — RollingUpdate within maxUnavailable or maxSurge,
// OnDelete, and the status `kubectl get ds` prints.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyDefaults } from '../../src/api/defaults.ts';
import { effectiveTaints, fitsNodeAffinity, targetNodeName, toleratesTaint, untoleratedTaint } from '../../src/api/scheduling.ts';
import type { DaemonSet, Node, Pod } from '../../src/api/types.ts';
import { daemonPod, nodeShouldRunDaemonPod, planDaemonSet } from '../../src/controllers/daemonset.ts';
import { pickNode } from '../../src/scheduler/scheduler.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

function node(name: string, o: { labels?: Record<string, string>; taints?: { key: string; value?: string; effect: string }[]; ready?: boolean; unschedulable?: boolean } = {}): Node {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...(o.labels ?? {}) } },
    spec: { podCIDR: '10.244.0.0/24', ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: { conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  } as Node;
}

function daemonSet(o: { generation?: number; image?: string; nodeSelector?: Record<string, string>; tolerations?: unknown[]; strategy?: DaemonSet['spec']['updateStrategy']; minReadySeconds?: number; hostNetwork?: boolean } = {}): DaemonSet {
  const ds = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'kube-proxy', namespace: 'kube-system', uid: 'ds-uid', generation: 1, annotations: { 'deprecated.daemonset.template.generation': String(o.generation ?? 1) } },
    spec: {
      selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
      ...(o.strategy ? { updateStrategy: o.strategy } : {}),
      ...(o.minReadySeconds ? { minReadySeconds: o.minReadySeconds } : {}),
      template: {
        metadata: { labels: { 'k8s-app': 'kube-proxy' } },
        spec: {
          containers: [{ name: 'kube-proxy', image: o.image ?? 'podpath/kube-proxy' }],
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          ...(o.tolerations ? { tolerations: o.tolerations } : {}),
          ...(o.hostNetwork ? { hostNetwork: true } : {}),
        },
      },
    },
  } as unknown as DaemonSet;
  applyDefaults('DaemonSet', ds);
  return ds;
}

let seq = 0;
/** A pod of `ds` on `nodeName` as the API server and the node agent would have it. */
function podOf(ds: DaemonSet, nodeName: string, o: { ready?: boolean; readySince?: number; created?: number; phase?: string; deleting?: boolean } = {}): Pod {
  const p = daemonPod(ds, nodeName, planDaemonSet(ds, [], [], T0).hash) as Pod;
  p.metadata.name = `kube-proxy-${(seq++).toString(36).padStart(5, 'b')}`;
  p.metadata.uid = p.metadata.name;
  p.metadata.creationTimestamp = at(o.created ?? 0);
  if (o.deleting) p.metadata.deletionTimestamp = at(1);
  p.spec.nodeName = nodeName;
  p.status = {
    phase: o.phase ?? 'Running',
    conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: at(o.readySince ?? 0) }],
  };
  return p;
}

describe('placement rules', () => {
  it('tolerates taints as Toleration.ToleratesTaint does', () => {
    const taint = { key: 'dedicated', value: 'infra', effect: 'NoSchedule' };
    assert.ok(toleratesTaint({ operator: 'Exists' }, taint), 'an empty key with Exists tolerates everything');
    assert.ok(toleratesTaint({ key: 'dedicated', value: 'infra' }, taint), 'no operator means Equal');
    assert.ok(!toleratesTaint({ key: 'dedicated', value: 'web' }, taint));
    assert.ok(!toleratesTaint({ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }, taint), 'another effect');
    assert.equal(untoleratedTaint([taint, { key: 'x', effect: 'PreferNoSchedule' }], []), taint, 'PreferNoSchedule never filters');
  });

  it('treats a node that is not Ready or cordoned as tainted', () => {
    assert.deepEqual(effectiveTaints(node('a', { ready: false })).map((t) => `${t.key}:${t.effect}`), ['node.kubernetes.io/not-ready:NoSchedule', 'node.kubernetes.io/not-ready:NoExecute']);
    assert.deepEqual(effectiveTaints(node('a', { unschedulable: true })).map((t) => `${t.key}:${t.effect}`), ['node.kubernetes.io/unschedulable:NoSchedule']);
  });

  it('matches nodeSelector and required node affinity (terms ORed, requirements ANDed, matchFields on the name)', () => {
    const n = node('n2', { labels: { zone: 'a', size: '8' } });
    const aff = (terms: unknown[]) => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } });
    assert.ok(fitsNodeAffinity({ nodeSelector: { zone: 'a' } }, n));
    assert.ok(!fitsNodeAffinity({ nodeSelector: { zone: 'b' } }, n));
    assert.ok(fitsNodeAffinity(aff([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }, { matchExpressions: [{ key: 'size', operator: 'Gt', values: ['4'] }] }]), n));
    assert.ok(!fitsNodeAffinity(aff([{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }], matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['n2'] }] }]), n));
    assert.ok(!fitsNodeAffinity(aff([{}]), n), 'an empty term matches no node');
    assert.equal(targetNodeName(aff([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n7'] }] }])), 'n7');
  });

  it('schedules a daemon pod only on its node, and host-network pods without a pod CIDR', () => {
    const ds = daemonSet({ hostNetwork: true });
    const pod = daemonPod(ds, 'n2', 'h') as Pod;
    const n3 = node('n3');
    delete n3.spec!.podCIDR;
    assert.equal(pickNode(pod, [node('n1'), node('n2'), n3], [])?.metadata.name, 'n2');
    const p3 = daemonPod(ds, 'n3', 'h') as Pod;
    assert.equal(pickNode(p3, [node('n1'), node('n2'), n3], [])?.metadata.name, 'n3');
    const plain = { metadata: { name: 'web' }, spec: { containers: [] } } as unknown as Pod;
    assert.equal(pickNode(plain, [n3], []), undefined, 'a pod with its own network needs a pod CIDR');
    assert.equal(pickNode(daemonPod(ds, 'n1', 'h') as Pod, [node('n1', { unschedulable: true })], [])?.metadata.name, 'n1', 'daemon pods tolerate cordoned nodes');
    assert.equal(pickNode(plain, [node('n1', { unschedulable: true, labels: {} })], []), undefined);
  });
});

describe('DaemonSet controller', () => {
  it('makes one pod per eligible node, bound by node affinity, labelled with the hash and generation', () => {
    const ds = daemonSet({ nodeSelector: { 'kubernetes.io/os': 'linux' } });
    const nodes = [node('n1'), node('n2'), node('win', { labels: { 'kubernetes.io/os': 'windows' } })];
    const plan = planDaemonSet(ds, nodes, [], T0);
    assert.deepEqual(plan.create.sort(), ['n1', 'n2']);
    assert.deepEqual(plan.delete, []);
    assert.equal(plan.status.desiredNumberScheduled, 2);
    assert.equal(plan.status.currentNumberScheduled, 0);
    const pod = daemonPod(ds, 'n1', plan.hash);
    assert.equal(pod.metadata.generateName, 'kube-proxy-');
    assert.deepEqual(pod.metadata.labels, { 'k8s-app': 'kube-proxy', 'controller-revision-hash': plan.hash, 'pod-template-generation': '1' });
    assert.match(plan.hash, /^[bcdf4-9]+$/);
    assert.deepEqual((pod.spec as Pod['spec']).affinity, { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }] } } });
    const tolerations = ((pod.spec as Pod['spec']).tolerations ?? []).map((t) => `${t.key}:${t.effect}`);
    assert.deepEqual(tolerations, [
      'node.kubernetes.io/not-ready:NoExecute',
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/disk-pressure:NoSchedule',
      'node.kubernetes.io/memory-pressure:NoSchedule',
      'node.kubernetes.io/pid-pressure:NoSchedule',
      'node.kubernetes.io/unschedulable:NoSchedule',
    ]);
  });

  it('keeps off tainted nodes unless tolerated; NoExecute evicts, NoSchedule only keeps new pods off', () => {
    const noSchedule = node('ns', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] });
    const noExecute = node('nx', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoExecute' }] });
    const ds = daemonSet();
    assert.deepEqual(nodeShouldRunDaemonPod(ds, noSchedule), { shouldRun: false, shouldContinueRunning: true });
    assert.deepEqual(nodeShouldRunDaemonPod(ds, noExecute), { shouldRun: false, shouldContinueRunning: false });
    assert.deepEqual(nodeShouldRunDaemonPod(daemonSet({ tolerations: [{ operator: 'Exists' }] }), noExecute), { shouldRun: true, shouldContinueRunning: true }, "kube-proxy's toleration of everything");
    assert.deepEqual(nodeShouldRunDaemonPod(ds, node('down', { ready: false })), { shouldRun: false, shouldContinueRunning: true }, 'not-ready NoSchedule is not among the daemon tolerations');
    assert.deepEqual(nodeShouldRunDaemonPod(ds, node('cordoned', { unschedulable: true })).shouldRun, true);
    const staying = podOf(ds, 'ns');
    const evicted = podOf(ds, 'nx');
    const plan = planDaemonSet(ds, [noSchedule, noExecute], [staying, evicted], T0);
    assert.deepEqual(plan.delete, [evicted.metadata.name]);
    assert.equal(plan.status.numberMisscheduled, 2);
    assert.equal(plan.status.desiredNumberScheduled, 0);
  });

  it('replaces failed pods, deletes surplus ones (keeping the oldest) and those of nodes that went away, and waits for a terminating pod', () => {
    const ds = daemonSet();
    const failed = podOf(ds, 'n1', { phase: 'Failed' });
    const old = podOf(ds, 'n2', { created: 0 });
    const young = podOf(ds, 'n2', { created: 5000 });
    const orphan = podOf(ds, 'gone');
    const terminating = podOf(ds, 'n3', { deleting: true });
    const plan = planDaemonSet(ds, [node('n1'), node('n2'), node('n3')], [failed, old, young, orphan, terminating], T0);
    assert.deepEqual(plan.delete.sort(), [failed.metadata.name, young.metadata.name, orphan.metadata.name].sort());
    assert.deepEqual(plan.create, [], 'n1 waits for its failed pod to go, n3 for its terminating one');
    const next = planDaemonSet(ds, [node('n1'), node('n2'), node('n3')], [old], T0);
    assert.deepEqual(next.create.sort(), ['n1', 'n3']);
  });

  it('counts DESIRED, CURRENT, READY, UP-TO-DATE and AVAILABLE (minReadySeconds) as upstream', () => {
    const ds = daemonSet({ minReadySeconds: 10 });
    const nodes = [node('n1'), node('n2'), node('n3'), node('n4')];
    const old = daemonSet({ generation: 0, image: 'old', minReadySeconds: 10 });
    const pods = [podOf(ds, 'n1', { readySince: 0 }), podOf(ds, 'n2', { readySince: 8000 }), podOf(old, 'n3', { ready: false })];
    const plan = planDaemonSet(ds, nodes, pods, T0 + 12_000);
    assert.deepEqual(plan.status, {
      currentNumberScheduled: 3,
      numberMisscheduled: 0,
      desiredNumberScheduled: 4,
      numberReady: 2,
      observedGeneration: 1,
      updatedNumberScheduled: 2,
      numberAvailable: 1,
      numberUnavailable: 3,
    });
    assert.deepEqual(plan.create, ['n4']);
    assert.ok(plan.recheckAfterMs! > 0 && plan.recheckAfterMs! <= 6010, 'looks again when n2 becomes available');
  });

  it('rolls a new template out node by node within maxUnavailable, deleting old pods first', () => {
    const v1 = daemonSet({ image: 'podpath/kube-proxy:1' });
    const nodes = [node('n1'), node('n2'), node('n3')];
    let pods = nodes.map((n) => podOf(v1, n.metadata.name!));
    const v2 = daemonSet({ generation: 2, image: 'podpath/kube-proxy:2' });
    let plan = planDaemonSet(v2, nodes, pods, T0);
    assert.equal(plan.delete.length, 1, 'maxUnavailable 1: one old pod at a time');
    assert.equal(plan.status.updatedNumberScheduled, 0);
    // that node's pod goes; the next sync makes the new one and deletes nothing more
    pods = pods.filter((p) => p.metadata.name !== plan.delete[0]);
    plan = planDaemonSet(v2, nodes, pods, T0);
    assert.equal(plan.create.length, 1);
    assert.deepEqual(plan.delete, []);
    const fresh = podOf(v2, plan.create[0]!, { ready: false });
    pods.push(fresh);
    plan = planDaemonSet(v2, nodes, pods, T0);
    assert.deepEqual(plan.delete, [], 'the new pod is not available yet: nothing else goes');
    fresh.status!.conditions![0]!.status = 'True';
    plan = planDaemonSet(v2, nodes, pods, T0);
    assert.equal(plan.delete.length, 1, 'then the next old pod');
    assert.equal(plan.status.updatedNumberScheduled, 1);
    // an old pod that is not available anyway is replaced at once, beyond maxUnavailable
    const broken = nodes.map((n) => podOf(v1, n.metadata.name!, { ready: false }));
    assert.equal(planDaemonSet(v2, nodes, broken, T0).delete.length, 3);
    // maxUnavailable as a percentage of the nodes that should run it, rounded up
    const pct = daemonSet({ generation: 3, image: 'podpath/kube-proxy:3', strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '50%', maxSurge: 0 } } });
    assert.equal(planDaemonSet(pct, nodes, nodes.map((n) => podOf(v1, n.metadata.name!)), T0).delete.length, 2);
  });

  it('with maxSurge starts the new pod beside the old one and deletes the old one once the new is available', () => {
    const v1 = daemonSet({ image: 'a:1' });
    const nodes = [node('n1'), node('n2')];
    const pods = nodes.map((n) => podOf(v1, n.metadata.name!));
    const v2 = daemonSet({ generation: 2, image: 'a:2', strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } });
    let plan = planDaemonSet(v2, nodes, pods, T0);
    assert.deepEqual(plan.create, ['n1']);
    assert.deepEqual(plan.delete, []);
    const fresh = podOf(v2, 'n1', { ready: false, created: 1000 });
    plan = planDaemonSet(v2, nodes, [...pods, fresh], T0);
    assert.deepEqual([plan.create, plan.delete], [[], []], 'surge used up while the new pod is not available');
    fresh.status!.conditions![0]!.status = 'True';
    plan = planDaemonSet(v2, nodes, [...pods, fresh], T0);
    assert.deepEqual(plan.delete, [pods[0]!.metadata.name]);
    assert.deepEqual(plan.create, ['n2']);
  });

  it('leaves old pods alone with OnDelete until they are deleted', () => {
    const v1 = daemonSet({ image: 'a:1' });
    const nodes = [node('n1')];
    const v2 = daemonSet({ generation: 2, image: 'a:2', strategy: { type: 'OnDelete' } });
    const plan = planDaemonSet(v2, nodes, [podOf(v1, 'n1')], T0);
    assert.deepEqual([plan.create, plan.delete], [[], []]);
    assert.equal(plan.status.updatedNumberScheduled, 0);
    assert.deepEqual(planDaemonSet(v2, nodes, [], T0).create, ['n1']);
  });
});
