// What the checklist reads off a pod, as `kubectl describe pod` shows it: readiness from its
// Ready condition, why a container is not ready (its state, the readiness probe it fails and the
// kubelet's Unhealthy events), the port a Service's targetPort resolves to in it.
import type { Container, Event, IntOrString, Pod, Probe } from '../api/types.ts';
import type { ObjectRef } from '../trace/types.ts';

export const podRef = (p: Pod): ObjectRef => ({ kind: 'Pod', namespace: p.metadata.namespace ?? 'default', name: p.metadata.name! });
export const podName = (p: Pod) => `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;

export const isReady = (p: Pod) => Boolean(p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

/** Pods that still run or will (finished ones are no Service's endpoints). */
export const isLive = (p: Pod) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !p.metadata.deletionTimestamp;

/** A probe in the words of `kubectl describe pod` (http-get http://:8080/health delay=0s timeout=1s period=10s #success=1 #failure=3). */
export function probeText(p: Probe): string {
  const how = p.httpGet
    ? `http-get ${(p.httpGet.scheme ?? 'HTTP').toLowerCase()}://${p.httpGet.host ?? ''}:${p.httpGet.port}${p.httpGet.path ?? '/'}`
    : p.tcpSocket
      ? `tcp-socket ${p.tcpSocket.host ?? ''}:${p.tcpSocket.port}`
      : p.exec
        ? `exec [${(p.exec.command ?? []).join(' ')}]`
        : p.grpc
          ? `grpc <pod>:${p.grpc.port} ${p.grpc.service ?? ''}`.trimEnd()
          : 'unknown';
  return `${how} delay=${p.initialDelaySeconds ?? 0}s timeout=${p.timeoutSeconds ?? 1}s period=${p.periodSeconds ?? 10}s #success=${p.successThreshold ?? 1} #failure=${p.failureThreshold ?? 3}`;
}

/** The events about a pod, newest last, as `kubectl describe` lists them. */
export function podEvents(events: Event[], p: Pod): Event[] {
  const ns = p.metadata.namespace ?? 'default';
  const when = (e: Event) => e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? '';
  return events.filter((e) => e.involvedObject?.kind === 'Pod' && e.involvedObject.name === p.metadata.name && (e.involvedObject.namespace ?? e.metadata.namespace) === ns).sort((a, b) => when(a).localeCompare(when(b)));
}

/** Why a pod is not Ready, one line per cause: phase, each unready container's state and readiness probe (run now, when `probe` can), the Ready condition, Warning events. */
export function notReadyEvidence(p: Pod, events: Event[], probe?: (p: Pod, c: Container) => { ok: boolean; message: string }): string[] {
  const out: string[] = [];
  const name = podName(p);
  if (p.status?.phase !== 'Running') out.push(`pod ${name}: phase ${p.status?.phase ?? '(none)'}${p.status?.reason ? ` (${p.status.reason}${p.status.message ? `: ${p.status.message}` : ''})` : ''}`);
  for (const c of p.spec.containers) {
    const cs = p.status?.containerStatuses?.find((s) => s.name === c.name);
    if (cs?.ready) continue;
    const st = cs?.state;
    const state = st?.running ? `running since ${st.running.startedAt ?? '?'}` : st?.waiting ? `waiting: ${st.waiting.reason ?? ''}${st.waiting.message ? ` (${st.waiting.message})` : ''}` : st?.terminated ? `terminated: ${st.terminated.reason ?? ''} exit code ${st.terminated.exitCode}` : 'no status';
    out.push(`pod ${name} container ${c.name}: not ready, ${state}${cs?.restartCount ? `, ${cs.restartCount} restarts` : ''}`);
    if (c.readinessProbe && st?.running) {
      out.push(`  its readiness probe fails: ${probeText(c.readinessProbe)}`);
      const now = probe?.(p, c);
      if (now) out.push(`  run now from node ${p.spec.nodeName ?? '?'}: ${now.ok ? `it passes (${now.message}); the kubelet marks the pod Ready after successThreshold passes` : `Readiness probe failed: ${now.message}`}`);
    }
  }
  const cond = p.status?.conditions?.find((c) => c.type === 'Ready');
  if (cond && cond.status !== 'True') out.push(`pod ${name} condition Ready=${cond.status}${cond.reason ? ` ${cond.reason}` : ''}${cond.message ? `: ${cond.message}` : ''}${cond.lastTransitionTime ? ` (since ${cond.lastTransitionTime})` : ''}`);
  for (const e of podEvents(events, p).filter((e) => e.type === 'Warning').slice(-3)) out.push(`event ${e.reason ?? ''}${e.count && e.count > 1 ? ` (x${e.count})` : ''}: ${e.message ?? ''}`);
  return out;
}

/** The container port a targetPort names in this pod: a number as it is, a name looked up among its containers' ports. */
export function resolveTargetPort(p: Pod, target: IntOrString | undefined, port: number, protocol: string): { port?: number; declared: boolean; container?: Container } {
  const t = target ?? port;
  const proto = protocol.toUpperCase();
  for (const c of p.spec.containers) {
    for (const cp of c.ports ?? []) {
      if ((cp.protocol ?? 'TCP').toUpperCase() !== proto) continue;
      if (typeof t === 'number' ? cp.containerPort === t : cp.name === t) return { port: cp.containerPort, declared: true, container: c };
    }
  }
  if (typeof t === 'number') return { port: t, declared: false };
  const n = Number(t);
  return Number.isInteger(n) && String(n) === t ? { port: n, declared: false } : { declared: false };
}

/** A pod's declared ports, as `8080/TCP, http=80/TCP`. */
export function declaredPorts(p: Pod): string {
  const all = p.spec.containers.flatMap((c) => (c.ports ?? []).map((cp) => `${cp.name ? `${cp.name}=` : ''}${cp.containerPort}/${cp.protocol ?? 'TCP'}`));
  return all.length ? all.join(', ') : 'none';
}
