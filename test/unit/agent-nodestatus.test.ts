// The node agent's node status: the Node it registers (labels, addresses, conditions, capacity,
// node info), creating it or refreshing the one there, retrying until the API server answers,
// and heartbeats that keep a condition's lastTransitionTime while its status stays.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node } from '../../src/api/types.ts';
import { mergeConditions, nodeConditions, nodeObject, NodeStatusManager, type MachineInfo, type NodeCondition } from '../../src/agent/nodestatus.ts';
import { FakeClock } from '../helpers/agent.ts';

const machine: MachineInfo = { osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.1.0', cpus: 2, memoryKi: 4000000 };
const opts = { nodeName: 'n1', nodeIP: '192.168.49.2', controlPlane: true };

/** A client answering GET from `node` (404 when undefined, or failing `failures` times first) and recording writes. */
function fakeClient(node: Node | undefined, failures = 0) {
  const writes: { method: string; path: string; body: any }[] = [];
  const client = {
    get: async () => {
      if (failures-- > 0) throw Object.assign(new Error('connect ECONNREFUSED 192.168.49.2:6443'), { code: 'ECONNREFUSED' });
      if (!node) throw Object.assign(new Error('nodes "n1" not found'), { code: 404 });
      return structuredClone(node);
    },
    request: async (method: string, path: string, body?: unknown) => void writes.push({ method, path, body }),
  };
  return { client: client as any, writes };
}

describe('node agent node status', () => {
  it('registers the Node as the kubelet does: hostname/os/arch labels, control-plane role, InternalIP and Hostname, Ready', () => {
    const n = nodeObject(opts, machine, '2025-01-01T00:00:00Z');
    assert.deepEqual(n.metadata.labels, { 'kubernetes.io/hostname': 'n1', 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64', 'node-role.kubernetes.io/control-plane': '' });
    assert.deepEqual(n.status!.addresses, [{ type: 'InternalIP', address: '192.168.49.2' }, { type: 'Hostname', address: 'n1' }]);
    assert.deepEqual(n.status!.conditions!.map((c) => `${c.type}=${c.status}`), ['MemoryPressure=False', 'DiskPressure=False', 'PIDPressure=False', 'Ready=True']);
    assert.equal(n.status!.conditions![3]!.reason, 'KubeletReady');
    assert.deepEqual(n.status!.capacity, { cpu: '2', memory: '4000000Ki', pods: '110', 'ephemeral-storage': '0' });
    assert.deepEqual(n.status!.allocatable, n.status!.capacity);
    assert.equal(n.status!.nodeInfo!.kubeletVersion, 'v1.33.0');
    assert.equal(n.status!.nodeInfo!.osImage, machine.osImage);
    assert.deepEqual(n.status!.daemonEndpoints, { kubeletEndpoint: { Port: 10250 } });
    assert.equal(nodeObject({ ...opts, controlPlane: false }, machine, '').metadata.labels!['node-role.kubernetes.io/control-plane'], undefined);
  });

  it('keeps a condition\'s lastTransitionTime while its status stays', () => {
    const old: NodeCondition[] = [{ type: 'Ready', status: 'True', lastTransitionTime: 'then' }, { type: 'MemoryPressure', status: 'True', lastTransitionTime: 'then' }];
    const merged = mergeConditions(old, nodeConditions('now'));
    assert.equal(merged.find((c) => c.type === 'Ready')!.lastTransitionTime, 'then');
    assert.equal(merged.find((c) => c.type === 'Ready')!.lastHeartbeatTime, 'now');
    assert.equal(merged.find((c) => c.type === 'MemoryPressure')!.lastTransitionTime, 'now', 'True to False is a transition');
  });

  it('creates the Node when there is none, retrying each second until the API server answers', async () => {
    const clock = new FakeClock();
    const logs: string[] = [];
    const { client, writes } = fakeClient(undefined, 2);
    const m = new NodeStatusManager({ ...opts, log: (s) => void logs.push(s) }, { client, clock, machine, cached: () => undefined });
    const t0 = clock.now();
    await m.register();
    assert.equal(clock.now() - t0, 2000);
    assert.deepEqual(logs, ['registering node: connect ECONNREFUSED 192.168.49.2:6443', 'registering node: connect ECONNREFUSED 192.168.49.2:6443']);
    assert.deepEqual(writes.map((w) => `${w.method} ${w.path}`), ['POST /api/v1/nodes']);
    assert.equal(writes[0]!.body.metadata.name, 'n1');
  });

  it('refreshes the status of a Node already there, keeping its spec and transition times', async () => {
    const there = nodeObject(opts, machine, '2024-12-01T00:00:00Z');
    there.spec = { podCIDR: '10.244.0.0/24' };
    const { client, writes } = fakeClient(there);
    const clock = new FakeClock();
    const m = new NodeStatusManager({ ...opts, log: () => {} }, { client, clock, machine, cached: () => undefined });
    await m.register();
    assert.deepEqual(writes.map((w) => `${w.method} ${w.path}`), ['PUT /api/v1/nodes/n1/status']);
    assert.equal(writes[0]!.body.spec.podCIDR, '10.244.0.0/24');
    const ready = writes[0]!.body.status.conditions.find((c: any) => c.type === 'Ready');
    assert.equal(ready.lastTransitionTime, '2024-12-01T00:00:00Z');
    assert.equal(ready.lastHeartbeatTime, '2025-01-01T00:00:00Z');
  });

  it('heartbeats through the status of the Node it last saw, and registers again when it has none', async () => {
    const seen = nodeObject(opts, machine, '2024-12-01T00:00:00Z');
    const { client, writes } = fakeClient(undefined);
    const clock = new FakeClock();
    let cached: Node | undefined = seen;
    const m = new NodeStatusManager({ ...opts, log: () => {} }, { client, clock, machine, cached: () => cached });
    clock.advance(10_000);
    await m.heartbeat();
    assert.deepEqual(writes.map((w) => `${w.method} ${w.path}`), ['PUT /api/v1/nodes/n1/status']);
    assert.equal(writes[0]!.body.status.conditions[3].lastHeartbeatTime, '2025-01-01T00:00:10Z');
    assert.equal(writes[0]!.body.status.nodeInfo.osImage, machine.osImage, 'the rest of the status is kept');
    cached = undefined;
    await m.heartbeat();
    assert.equal(writes[1]!.method, 'POST');
  });
});
