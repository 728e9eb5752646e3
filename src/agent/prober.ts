// The kubelet's prober: readiness and liveness probes (httpGet, tcpSocket, exec) of running
// containers, each on its period after its initial delay, with success and failure thresholds.
// Readiness sets the container's ready flag; liveness failing kills the container (the runtime
// then restarts it by restartPolicy). HTTP and TCP go through an injected transport, exec
// through the executor, so outcomes and thresholds are unit-tested with fakes.
import http from 'node:http';
import net from 'node:net';
import type { Container, Pod, Probe } from '../api/types.ts';
import type { Executor } from '../exec/exec.ts';
import type { RuntimeContainer, RuntimePod } from './checkpoint.ts';
import type { Clock } from './clock.ts';
import type { Processes } from './processes.ts';

export type ProbeKind = 'readiness' | 'liveness';

export interface HttpProbeRequest {
  host: string | undefined;
  port: number;
  path: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

/** A probe's result: success, or the failure's text as the kubelet reports it in Unhealthy events. */
export interface ProbeResult {
  ok: boolean;
  output: string;
}

/** How httpGet and tcpSocket probes reach a pod; netTransport is the real thing. */
export interface ProbeTransport {
  /** success when the answer's status is 2xx or 3xx */
  httpGet(req: HttpProbeRequest): Promise<ProbeResult>;
  /** success when a connection is accepted */
  tcpConnect(host: string | undefined, port: number, timeoutMs: number): Promise<ProbeResult>;
}

/** Go's net.Dial error text for a Node socket error (what the kubelet's probes print). */
function dialError(host: string | undefined, port: number, e: NodeJS.ErrnoException | 'timeout'): string {
  const addr = `${host?.includes(':') ? `[${host}]` : host}:${port}`;
  if (e === 'timeout') return `dial tcp ${addr}: i/o timeout`;
  const why: Record<string, string> = { ECONNREFUSED: 'connect: connection refused', EHOSTUNREACH: 'connect: no route to host', ENETUNREACH: 'connect: network is unreachable', ECONNRESET: 'read: connection reset by peer' };
  return `dial tcp ${addr}: ${why[e.code ?? ''] ?? e.message}`;
}

export const netTransport: ProbeTransport = {
  httpGet: (r) =>
    new Promise((resolve) => {
      const url = `http://${r.host?.includes(':') ? `[${r.host}]` : r.host}:${r.port}${r.path}`;
      let timedOut = false;
      // a connection per probe, closed after it (the kubelet's prober disables keep-alives)
      const req = http.get({ host: r.host, port: r.port, path: r.path, timeout: r.timeoutMs, headers: r.headers, agent: false }, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400 ? { ok: true, output: '' } : { ok: false, output: `HTTP probe failed with statuscode: ${code}` });
      });
      req.on('timeout', () => {
        timedOut = true;
        req.destroy();
      });
      req.on('error', (e: NodeJS.ErrnoException) =>
        resolve({ ok: false, output: timedOut ? `Get ${JSON.stringify(url)}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)` : `Get ${JSON.stringify(url)}: ${dialError(r.host, r.port, e)}` }),
      );
    }),
  tcpConnect: (host, port, timeoutMs) =>
    new Promise((resolve) => {
      const s = net.connect({ host, port, timeout: timeoutMs }, () => {
        s.destroy();
        resolve({ ok: true, output: '' });
      });
      s.on('timeout', () => {
        s.destroy();
        resolve({ ok: false, output: dialError(host, port, 'timeout') });
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, output: dialError(host, port, e) }));
    }),
};

export interface ProbeDeps {
  executor: Executor;
  transport: ProbeTransport;
}

/** Runs a probe once against a container of pod `rp`: whether it succeeded, and what it said if not. */
export async function runProbe(p: Probe, rp: Pick<RuntimePod, 'netns' | 'podIP' | 'containers'>, c: Container, d: ProbeDeps): Promise<ProbeResult> {
  const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
  const portOf = (v: number | string | undefined) => (typeof v === 'number' ? v : (c.ports ?? []).find((x) => x.name === v)?.containerPort ?? 0);
  if (p.httpGet) {
    const hg = p.httpGet;
    const headers = { 'User-Agent': 'kube-probe/1.33', Accept: '*/*', ...Object.fromEntries((hg.httpHeaders ?? []).map((h) => [h.name, h.value])) };
    return d.transport.httpGet({ host: hg.host ?? rp.podIP, port: portOf(hg.port), path: hg.path ?? '/', headers, timeoutMs });
  }
  if (p.tcpSocket) return d.transport.tcpConnect(p.tcpSocket.host ?? rp.podIP, portOf(p.tcpSocket.port), timeoutMs);
  if (p.exec?.command?.length) {
    // Beside the container's process: its namespaces, root and working directory, as the runtime's exec.
    const pid = rp.containers[c.name]?.pid;
    if (!pid) return { ok: false, output: `container ${c.name} is not running` };
    const r = await d.executor.execAsync(p.exec.command, { enter: pid, timeoutMs });
    if (r.status === 0) return { ok: true, output: '' };
    // The command's combined output, as the kubelet's exec prober reports it.
    return { ok: false, output: `${r.stdout ?? ''}${r.stderr ?? ''}` || (r.error ?? '') };
  }
  return { ok: true, output: '' };
}

/** A probe worker's record for one container and kind. */
export interface ProbeWorker {
  successes: number;
  failures: number;
  /** when it last fired (ms) */
  last: number;
  running: boolean;
}

/** What a result means for the container, once the worker has counted it. */
export type ProbeVerdict = 'ready' | 'unready' | 'kill' | undefined;

/** Counts a result and applies the thresholds (successThreshold 1, failureThreshold 3 by default). */
export function countResult(kind: ProbeKind, p: Probe, w: ProbeWorker, ok: boolean): ProbeVerdict {
  if (ok) {
    w.successes++;
    w.failures = 0;
  } else {
    w.failures++;
    w.successes = 0;
  }
  if (kind === 'readiness') {
    if (ok && w.successes >= (p.successThreshold ?? 1)) return 'ready';
    if (!ok && w.failures >= (p.failureThreshold ?? 3)) return 'unready';
    return undefined;
  }
  return !ok && w.failures >= (p.failureThreshold ?? 3) ? 'kill' : undefined;
}

/** Like the kubelet's probe worker, which first sees a new container on a later sync, a probe never fires in the instant its container started. */
export const firstProbeAfterMs = 500;

export interface ProberDeps extends ProbeDeps {
  clock: Clock;
  processes: Pick<Processes, 'alive' | 'signal' | 'supervises'>;
  log: (s: string) => void;
  /** a probe finished: the pod's status may have changed */
  resync: (uid: string) => void;
  /** an event about a container of the pod (the kubelet's Unhealthy and Killing) */
  event?: (rp: RuntimePod, c: Container, type: 'Normal' | 'Warning', reason: string, message: string) => void;
}

export class Prober {
  private readonly workers = new Map<string, ProbeWorker>();

  constructor(private readonly d: ProberDeps) {}

  /** A container (re)started: its probes start over. */
  forget(uid: string, container: string): void {
    this.workers.delete(`${uid}/${container}/readiness`);
    this.workers.delete(`${uid}/${container}/liveness`);
  }

  /** Fires the probes that are due for the pod's running containers. */
  tick(pod: Pod, rp: RuntimePod): void {
    const now = this.d.clock.now();
    for (const c of pod.spec.containers) {
      const rc = rp.containers[c.name];
      if (!rc?.state.running || !rc.pid || !this.d.processes.alive(rc.pid)) continue;
      // (a container a previous agent started, adopted, has long run its command)
      if (rc.execPending && this.d.processes.supervises(rc.pid)) continue;
      const startedMs = rc.startedAtMs ?? (Date.parse(rc.startedAt ?? '') || now);
      for (const kind of ['readiness', 'liveness'] as const) {
        const probe = kind === 'readiness' ? c.readinessProbe : c.livenessProbe;
        if (!probe) continue;
        const key = `${rp.uid}/${c.name}/${kind}`;
        const w = this.workers.get(key) ?? { successes: 0, failures: 0, last: 0, running: false };
        this.workers.set(key, w);
        const period = (probe.periodSeconds ?? 10) * 1000;
        const delay = Math.max((probe.initialDelaySeconds ?? 0) * 1000, firstProbeAfterMs);
        if (w.running || now - startedMs < delay || now - w.last < period) continue;
        w.running = true;
        w.last = now;
        void runProbe(probe, rp, c, this.d).then((r) => {
          w.running = false;
          // Every failed probe is an Unhealthy event (the recorder counts repeats).
          if (!r.ok) this.d.event?.(rp, c, 'Warning', 'Unhealthy', `${kind === 'readiness' ? 'Readiness' : 'Liveness'} probe failed: ${r.output}`);
          this.apply(countResult(kind, probe, w, r.ok), rp, c, rc);
          this.d.resync(rp.uid);
        });
      }
    }
  }

  private apply(verdict: ProbeVerdict, rp: RuntimePod, c: Container, rc: RuntimeContainer): void {
    if (verdict === 'ready') rc.ready = true;
    else if (verdict === 'unready') rc.ready = false;
    else if (verdict === 'kill' && rc.pid) {
      this.d.log(`liveness probe failed for ${rp.namespace}/${rp.name} container ${c.name}; restarting`);
      this.d.event?.(rp, c, 'Normal', 'Killing', `Container ${c.name} failed liveness probe, will be restarted`);
      this.d.processes.signal(rc.pid, 'SIGKILL');
    }
  }
}
