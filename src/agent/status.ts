// The kubelet's status manager: a pod's status computed from what the runtime knows (phase,
// conditions, container statuses) and written to the API server's status subresource when it
// changed since the last write.
import type { Container, ContainerStatus, Pod, PodCondition, PodStatus } from '../api/types.ts';
import type { Client } from '../client/client.ts';
import { objectPath } from '../client/client.ts';
import { waitingContainer, type RuntimePod } from './checkpoint.ts';
import { imageName } from './images.ts';

/** A container's status; `waiting` is its reason while the runtime has not got to it. */
function containerStatus(c: Container, rp: RuntimePod, waiting: string): ContainerStatus {
  const rc = rp.containers[c.name] ?? waitingContainer(waiting);
  return {
    name: c.name,
    state: rc.state,
    lastState: rc.lastState ?? {},
    ready: rc.ready,
    restartCount: rc.restartCount,
    image: c.image ?? '',
    imageID: `podpath://${imageName(c.image)}`,
    ...(rc.pid ? { containerID: `podpath://${rp.uid.slice(0, 8)}-${c.name}-${rc.pid}` } : {}),
    started: rc.started && Boolean(rc.state.running),
  };
}

/**
 * The pod's status. Phase: Pending until a container runs (or while init containers have not
 * all succeeded; Failed when one failed and the pod never restarts), Running, then Succeeded or
 * Failed once all containers ended and restartPolicy will not run them again. A condition keeps
 * its lastTransitionTime while its status stays (`now` otherwise).
 */
export function podStatus(pod: Pod, rp: RuntimePod, nodeIP: string, now: string): PodStatus {
  const initStatuses = (pod.spec.initContainers ?? []).map((c) => ({ ...containerStatus(c, rp, 'PodInitializing'), ready: rp.containers[c.name]?.state.terminated?.exitCode === 0 }));
  const initialized = initStatuses.every((s) => s.state?.terminated?.exitCode === 0);
  const statuses = pod.spec.containers.map((c) => containerStatus(c, rp, initialized ? 'ContainerCreating' : 'PodInitializing'));
  const allReady = initialized && statuses.length > 0 && statuses.every((s) => s.ready);
  const policy = pod.spec.restartPolicy ?? 'Always';
  const allDone = statuses.every((s) => s.state?.terminated);
  let phase = statuses.some((s) => s.state?.running || s.state?.terminated || s.state?.waiting?.reason === 'CrashLoopBackOff') ? 'Running' : 'Pending';
  if (!initialized) phase = policy === 'Never' && initStatuses.some((s) => (s.state?.terminated?.exitCode ?? 0) !== 0) ? 'Failed' : 'Pending';
  else if (allDone && policy !== 'Always') {
    const failed = statuses.some((s) => (s.state?.terminated?.exitCode ?? 0) !== 0);
    if (policy === 'Never' || !failed) phase = failed ? 'Failed' : 'Succeeded';
  }
  const prev = pod.status?.conditions ?? [];
  const cond = (type: string, ok: boolean, reason?: string): PodCondition => {
    const status = ok ? 'True' : 'False';
    const old = prev.find((c) => c.type === type);
    return { type, status, lastProbeTime: null, lastTransitionTime: old?.status === status && old.lastTransitionTime ? old.lastTransitionTime : now, ...(reason && !ok ? { reason } : {}) };
  };
  const scheduled = prev.find((c) => c.type === 'PodScheduled') ?? cond('PodScheduled', true);
  return {
    phase,
    conditions: [
      cond('PodReadyToStartContainers', Boolean(rp.podIP)),
      cond('Initialized', initialized, 'ContainersNotInitialized'),
      cond('Ready', allReady, 'ContainersNotReady'),
      cond('ContainersReady', allReady, 'ContainersNotReady'),
      scheduled,
    ],
    hostIP: nodeIP,
    hostIPs: [{ ip: nodeIP }],
    ...(rp.podIP ? { podIP: rp.podIP, podIPs: [{ ip: rp.podIP }] } : {}),
    startTime: rp.startTime,
    ...(initStatuses.length ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: statuses,
    ...(pod.spec.ephemeralContainers?.length ? { ephemeralContainerStatuses: pod.spec.ephemeralContainers.map((c) => ({ ...containerStatus(c, rp, 'ContainerCreating'), ready: false })) } : {}),
    qosClass: pod.status?.qosClass ?? 'BestEffort',
  };
}

/**
 * The last status of a pod killed because it was deleted: Failed, its running containers
 * terminated (137, Error) and nothing ready, as the kubelet writes before the pod goes.
 */
export function terminatedStatus(pod: Pod, now: string): PodStatus {
  const st = pod.status ?? {};
  const end = (cs: ContainerStatus): ContainerStatus => {
    const running = cs.state?.running as { startedAt?: string } | undefined;
    if (cs.state?.terminated) return { ...cs, ready: false };
    return { ...cs, ready: false, started: false, state: { terminated: { exitCode: 137, reason: 'Error', ...(running?.startedAt ? { startedAt: running.startedAt } : {}), finishedAt: now } } };
  };
  return {
    ...st,
    phase: 'Failed',
    conditions: (st.conditions ?? []).map((c) => (c.type === 'Ready' || c.type === 'ContainersReady' || c.type === 'PodReadyToStartContainers') && c.status === 'True' ? { ...c, status: 'False', lastTransitionTime: now } : c),
    ...(st.containerStatuses ? { containerStatuses: st.containerStatuses.map(end) } : {}),
    ...(st.initContainerStatuses ? { initContainerStatuses: st.initContainerStatuses.map(end) } : {}),
    ...(st.ephemeralContainerStatuses ? { ephemeralContainerStatuses: st.ephemeralContainerStatuses.map(end) } : {}),
  };
}

/** Writes pod statuses, each only when it differs from the last one written for the pod. */
export class StatusManager {
  private readonly written = new Map<string, string>();

  constructor(private readonly client: Pick<Client, 'request'>) {}

  async set(pod: Pod, status: PodStatus): Promise<void> {
    const uid = pod.metadata.uid!;
    const digest = JSON.stringify(status);
    if (this.written.get(uid) === digest) return;
    await this.client.request('PUT', objectPath('v1', 'pods', pod.metadata.namespace, pod.metadata.name!, 'status'), { ...pod, status });
    this.written.set(uid, digest);
  }

  /** The pod is gone from this node. */
  forget(uid: string): void {
    this.written.delete(uid);
  }
}
