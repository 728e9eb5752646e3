// The status manager's half of the node agent: a pod's status computed from what the runtime
// knows — phase, the Initialized/Ready/ContainersReady conditions, container states, restart
// counts — as kubectl then shows it, and written only when it changed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod, PodStatus } from '../../src/api/types.ts';
import { printerFor } from '../../src/api/printers.ts';
import { waitingContainer, type RuntimeContainer, type RuntimePod } from '../../src/agent/checkpoint.ts';
import { podStatus, StatusManager } from '../../src/agent/status.ts';
import { pod } from '../helpers/agent.ts';

const now = '2025-01-01T00:00:10Z';
const running = (extra: Partial<RuntimeContainer> = {}): RuntimeContainer => ({ pid: 4242, startedAt: '2025-01-01T00:00:01Z', restartCount: 0, state: { running: { startedAt: '2025-01-01T00:00:01Z' } }, ready: true, started: true, ...extra });
const exited = (exitCode: number, extra: Partial<RuntimeContainer> = {}): RuntimeContainer => ({ restartCount: 0, state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' } }, ready: false, started: true, ...extra });
const rpod = (containers: Record<string, RuntimeContainer>, podIP: string | null = '10.244.0.7'): RuntimePod => ({ uid: 'abcdef12-0000', namespace: 'default', name: 'p', netns: 'pp-x-pabcdef12', startTime: '2025-01-01T00:00:00Z', containers, ...(podIP ? { podIP } : {}) });
const condition = (s: PodStatus, type: string) => s.conditions!.find((c) => c.type === type)!;
/** The STATUS, READY and RESTARTS columns of `kubectl get pods`. */
const columns = (p: Pod, s: PodStatus) => {
  const cells = printerFor('Pod').row({ ...p, status: s }, Date.parse(now)).cells;
  return { ready: cells[1], status: cells[2], restarts: String(cells[3]) };
};

describe('pod status', () => {
  it('is Pending with ContainerCreating before the runtime starts anything, Running and Ready after', () => {
    const p = pod('p', {});
    const before = podStatus(p, rpod({}, null), '192.168.49.2', now);
    assert.equal(before.phase, 'Pending');
    assert.deepEqual(before.containerStatuses![0]!.state, { waiting: { reason: 'ContainerCreating' } });
    assert.equal(condition(before, 'PodReadyToStartContainers').status, 'False');
    assert.equal(condition(before, 'Ready').reason, 'ContainersNotReady');
    assert.equal(before.podIP, undefined);
    assert.equal(columns(p, before).status, 'ContainerCreating');

    const after = podStatus(p, rpod({ main: running() }), '192.168.49.2', now);
    assert.equal(after.phase, 'Running');
    for (const t of ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled']) assert.equal(condition(after, t).status, 'True', t);
    assert.equal(condition(after, 'Ready').reason, undefined, 'a True condition carries no reason');
    assert.deepEqual(after.podIPs, [{ ip: '10.244.0.7' }]);
    assert.deepEqual(after.hostIPs, [{ ip: '192.168.49.2' }]);
    assert.equal(after.containerStatuses![0]!.containerID, 'podpath://abcdef12-main-4242');
    assert.equal(after.containerStatuses![0]!.imageID, 'podpath://debian');
    assert.equal(after.qosClass, 'BestEffort');
    assert.deepEqual(columns(p, after), { ready: '1/1', status: 'Running', restarts: '0' });
  });

  it('is Running but not Ready while a readiness probe has not passed', () => {
    const p = pod('p', { containers: [{ name: 'a' }, { name: 'b' }] });
    const s = podStatus(p, rpod({ a: running(), b: running({ ready: false }) }), '192.168.49.2', now);
    assert.equal(s.phase, 'Running');
    assert.equal(condition(s, 'Ready').status, 'False');
    assert.equal(condition(s, 'ContainersReady').status, 'False');
    assert.equal(condition(s, 'Initialized').status, 'True');
    assert.equal(columns(p, s).ready, '1/2');
  });

  it('shows Init:0/1 while the init container runs: Initialized False, app containers PodInitializing', () => {
    const p = pod('p', { initContainers: [{ name: 'prepare', command: ['true'] }] });
    const s = podStatus(p, rpod({ prepare: running({ ready: false }) }), '192.168.49.2', now);
    assert.equal(s.phase, 'Pending');
    assert.equal(condition(s, 'Initialized').status, 'False');
    assert.equal(condition(s, 'Initialized').reason, 'ContainersNotInitialized');
    assert.deepEqual(s.containerStatuses![0]!.state, { waiting: { reason: 'PodInitializing' } });
    assert.equal(columns(p, s).status, 'Init:0/1');
    // Done: the init container is "ready" (exit 0) and the app container starts.
    const done = podStatus(p, rpod({ prepare: exited(0), main: running() }), '192.168.49.2', now);
    assert.equal(condition(done, 'Initialized').status, 'True');
    assert.equal(done.initContainerStatuses![0]!.ready, true);
    assert.equal(done.phase, 'Running');
  });

  it('fails a pod whose init container failed when it never restarts, and keeps it Pending otherwise', () => {
    const never = pod('p', { restartPolicy: 'Never', initContainers: [{ name: 'prepare', command: ['false'] }] });
    assert.equal(podStatus(never, rpod({ prepare: exited(1) }), '192.168.49.2', now).phase, 'Failed');
    const always = pod('p', { initContainers: [{ name: 'prepare', command: ['false'] }] });
    const s = podStatus(always, rpod({ prepare: exited(1) }), '192.168.49.2', now);
    assert.equal(s.phase, 'Pending');
    assert.equal(columns(always, s).status, 'Init:Error');
  });

  it('ends Succeeded or Failed by restartPolicy once every container exited', () => {
    for (const [policy, codes, phase] of [
      ['Never', [0, 0], 'Succeeded'],
      ['Never', [0, 2], 'Failed'],
      ['OnFailure', [0, 0], 'Succeeded'],
      ['OnFailure', [0, 2], 'Running'], // the failed one is restarted
      ['Always', [0, 0], 'Running'],
    ] as const) {
      const p = pod('p', { restartPolicy: policy, containers: [{ name: 'a' }, { name: 'b' }] });
      assert.equal(podStatus(p, rpod({ a: exited(codes[0]), b: exited(codes[1]) }), '192.168.49.2', now).phase, phase, `${policy} ${codes}`);
    }
    const p = pod('p', { restartPolicy: 'Never' });
    assert.equal(columns(p, podStatus(p, rpod({ main: exited(0) }), '192.168.49.2', now)).status, 'Completed');
  });

  it('reports CrashLoopBackOff with the restart count and the last termination', () => {
    const p = pod('p', {});
    const rc: RuntimeContainer = { restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=main pod=p_default(u)' } }, lastState: { terminated: { exitCode: 1, reason: 'Error' } }, ready: false, started: true };
    const s = podStatus(p, rpod({ main: rc }), '192.168.49.2', now);
    assert.equal(s.phase, 'Running', 'a crash-looping container keeps the pod Running');
    assert.equal(s.containerStatuses![0]!.restartCount, 3);
    assert.deepEqual(s.containerStatuses![0]!.lastState, { terminated: { exitCode: 1, reason: 'Error' } });
    assert.equal(s.containerStatuses![0]!.started, false);
    assert.deepEqual(columns(p, s), { ready: '0/1', status: 'CrashLoopBackOff', restarts: '3' });
  });

  it('keeps a condition\'s lastTransitionTime while its status stays, and keeps PodScheduled as the scheduler wrote it', () => {
    const scheduled = { type: 'PodScheduled', status: 'True', lastTransitionTime: '2024-12-31T23:59:59Z' };
    const p = pod('p', {}, { status: { conditions: [scheduled, { type: 'Ready', status: 'True', lastTransitionTime: '2025-01-01T00:00:05Z' }, { type: 'Initialized', status: 'False', lastTransitionTime: '2025-01-01T00:00:01Z' }] } });
    const s = podStatus(p, rpod({ main: running() }), '192.168.49.2', now);
    assert.equal(condition(s, 'Ready').lastTransitionTime, '2025-01-01T00:00:05Z');
    assert.equal(condition(s, 'Initialized').lastTransitionTime, now, 'False to True is a transition');
    assert.deepEqual(condition(s, 'PodScheduled'), scheduled);
  });

  it('writes the status subresource only when the status changed', async () => {
    const puts: { method: string; path: string; body: any }[] = [];
    const m = new StatusManager({ request: async (method: string, path: string, body?: unknown) => void puts.push({ method, path, body }) } as any);
    const p = pod('p', {});
    const s = podStatus(p, rpod({ main: running() }), '192.168.49.2', now);
    await m.set(p, s);
    await m.set(p, structuredClone(s));
    assert.equal(puts.length, 1);
    assert.equal(puts[0]!.method, 'PUT');
    assert.equal(puts[0]!.path, '/api/v1/namespaces/default/pods/p/status');
    assert.equal(puts[0]!.body.status.phase, 'Running');
    await m.set(p, podStatus(p, rpod({ main: running({ ready: false }) }), '192.168.49.2', now));
    assert.equal(puts.length, 2);
    m.forget(p.metadata.uid!);
    await m.set(p, podStatus(p, rpod({ main: running({ ready: false }) }), '192.168.49.2', now));
    assert.equal(puts.length, 3, 'a forgotten pod is written again');
  });

  it('gives a container the runtime has not seen the waiting reason of its stage', () => {
    assert.deepEqual(waitingContainer('PodInitializing'), { restartCount: 0, state: { waiting: { reason: 'PodInitializing' } }, ready: false, started: false });
  });
});
