// The container runtime under the kubelet's syncPod: a pod's sandbox, then its init containers
// one at a time to success and its app containers as processes in the sandbox; exited
// containers restarted by restartPolicy with back-off (CrashLoopBackOff); graceful termination
// (SIGTERM, the grace period, SIGKILL) before the sandbox goes. Every pod is checkpointed, so
// a restarted agent adopts what kept running.
import fs from 'node:fs';
import os from 'node:os';
import type { Container, ContainerState, Pod, Service } from '../api/types.ts';
import { netnsEtcDir } from '../exec/netns.ts';
import { ptyArgv } from '../exec/stream.ts';
import { apiTime, type Clock } from './clock.ts';
import { waitingContainer, type CheckpointStore, type RuntimeContainer, type RuntimePod } from './checkpoint.ts';
import { containerEnv, expandVars } from './env.ts';
import { containerCommand, type ImageTools } from './images.ts';
import type { AgentPaths } from './paths.ts';
import { logKey, rotateLog, type ContainerLogWriters } from './logwriter.ts';
import type { Processes } from './processes.ts';
import { containerArgv, type Bind } from './rootfs.ts';
import type { SandboxManager } from './sandbox.ts';

export const initialBackoffSeconds = 10;
export const maxBackoffSeconds = 300;

/** The kubelet's crash-loop back-off: 10 s, doubled on each restart, at most 5 minutes. */
export function nextBackoffSeconds(previous: number | undefined): number {
  return Math.min(previous ? previous * 2 : initialBackoffSeconds, maxBackoffSeconds);
}

/** The terminated state of a process that exited with `code` or was killed by `signal` (128+n, as a shell says). */
export function terminatedState(code: number | null, signal: NodeJS.Signals | null, startedAt: string | undefined, finishedAt: string): ContainerState {
  const exitCode = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 9) : 137);
  return { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt, finishedAt, ...(signal ? { signal: os.constants.signals[signal] } : {}) } };
}

export interface RuntimeOptions {
  nodeName: string;
  nodeIP: string;
  /** the command that starts a built-in image: argv prefix, e.g. [node, bin/podpath.js] */
  podpathArgv: string[];
  paths: Pick<AgentPaths, 'containerLog' | 'containerPreviousLog' | 'containerOutput' | 'containerStdin' | 'podKubeconfig' | 'podVolumes' | 'containerRoot'>;
  log: (s: string) => void;
}

export interface RuntimeDeps {
  processes: Processes;
  clock: Clock;
  checkpoints: CheckpointStore;
  sandboxes: SandboxManager;
  /** the Services the agent sees (service links) */
  services: () => Service[];
  /** writes the pod's in-cluster kubeconfig and returns its path */
  podKubeconfig: (pod: Pod) => string;
  /** a container's volumes: where each is on the host and its mountPath */
  mounts?: (pod: Pod, c: Container) => Bind[];
  /** what images other than podpath's own are made of (busybox's applets) */
  imageTools?: ImageTools;
  /** copies containers' output into their log files (none where processes are fakes) */
  logs?: ContainerLogWriters;
  /** a container (re)started: its probe results so far are void */
  containerStarted: (uid: string, container: string) => void;
  /** an event about the pod or one of its containers, as the kubelet records them */
  event?: (rp: RuntimePod, container: string | undefined, type: 'Normal' | 'Warning', reason: string, message: string) => void;
}

export class ContainerRuntime {
  private readonly pods = new Map<string, RuntimePod>();

  constructor(
    private readonly o: RuntimeOptions,
    private readonly d: RuntimeDeps,
  ) {}

  get(uid: string): RuntimePod | undefined {
    return this.pods.get(uid);
  }

  uids(): string[] {
    return [...this.pods.keys()];
  }

  /** Reads the checkpoints back; containers that died meanwhile are recorded as exited. */
  adopt(): void {
    for (const cp of this.d.checkpoints.loadAll()) {
      if ('error' in cp) {
        this.o.log(`cannot adopt ${cp.file}: ${cp.error}`);
        continue;
      }
      try {
        for (const [name, c] of Object.entries(cp.pod.containers)) {
          if (c.pid && !this.d.processes.alive(c.pid)) this.exited(cp.pod, c, null, null);
          // What it wrote while no agent read its output is still in the FIFOs.
          else if (c.pid) this.readOutput(cp.pod.uid, name);
        }
        this.pods.set(cp.pod.uid, cp.pod);
      } catch (e) {
        this.o.log(`cannot adopt ${cp.file}: ${(e as Error).message}`);
      }
    }
  }

  /** The pod's sandbox, recorded (and checkpointed) with no container started yet. */
  async createPod(pod: Pod): Promise<RuntimePod> {
    const sb = await this.d.sandboxes.create(pod);
    const rp: RuntimePod = { uid: pod.metadata.uid!, namespace: pod.metadata.namespace!, name: pod.metadata.name!, netns: sb.netns, startTime: apiTime(this.d.clock.now()), containers: {} };
    if (sb.podIP) rp.podIP = sb.podIP;
    if (sb.hostNetwork) rp.hostNetwork = true;
    this.pods.set(rp.uid, rp);
    this.d.checkpoints.save(rp);
    this.o.log(`pod ${rp.namespace}/${rp.name} sandbox ${sb.netns} ip ${sb.podIP}`);
    return rp;
  }

  /**
   * Init containers one at a time, each to success; then the app containers. Ephemeral
   * containers start as soon as they are added, whatever the others are doing, and run once.
   */
  runContainers(pod: Pod, rp: RuntimePod): void {
    const policy = pod.spec.restartPolicy ?? 'Always';
    for (const c of pod.spec.ephemeralContainers ?? []) {
      const rc = (rp.containers[c.name] ??= waitingContainer('ContainerCreating'));
      this.runContainer(pod, c, rp, rc, 'Never');
    }
    for (const c of pod.spec.initContainers ?? []) {
      const rc = (rp.containers[c.name] ??= waitingContainer('PodInitializing'));
      if (rc.state.terminated?.exitCode === 0) continue;
      // A failed init container is retried unless the pod never restarts (then the pod fails).
      this.runContainer(pod, c, rp, rc, policy === 'Never' ? 'Never' : 'OnFailure');
      return;
    }
    for (const c of pod.spec.containers) {
      const rc = (rp.containers[c.name] ??= waitingContainer('ContainerCreating'));
      this.runContainer(pod, c, rp, rc, policy);
    }
  }

  /** Starts a container that is not running, restarting an exited one by `policy` with back-off. */
  private runContainer(pod: Pod, c: Container, rp: RuntimePod, rc: RuntimeContainer, policy: string): void {
    if (rc.state.running) return;
    const now = this.d.clock.now();
    const term = rc.state.terminated;
    if (term) {
      const again = policy === 'Always' || (policy === 'OnFailure' && term.exitCode !== 0);
      if (!again) return;
      rc.backoffSeconds = nextBackoffSeconds(rc.backoffSeconds);
      rc.nextStart = now + rc.backoffSeconds * 1000;
      rc.lastState = { terminated: term };
      rc.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${rc.backoffSeconds}s restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})` } };
      this.d.checkpoints.save(rp);
      this.d.event?.(rp, c.name, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`);
      return;
    }
    if (rc.nextStart && now < rc.nextStart) return;
    const env = containerEnv(pod, c, { nodeName: this.o.nodeName, nodeIP: this.o.nodeIP, ...(rp.podIP ? { podIP: rp.podIP } : {}), services: this.d.services() });
    // $(VAR) in command and args, from the container's environment (kubeadm's kube-proxy: --hostname-override=$(NODE_NAME))
    const expanded = { ...c, ...(c.command ? { command: c.command.map((a) => expandVars(a, env)) } : {}), ...(c.args ? { args: c.args.map((a) => expandVars(a, env)) } : {}) };
    let kubeconfig: string | undefined;
    const cmd = containerCommand(expanded, this.o.podpathArgv, () => (kubeconfig = this.d.podKubeconfig(pod)), this.d.imageTools);
    if ('error' in cmd) {
      // Told once per cause: the sync comes back every half second.
      if (rc.state.waiting?.message !== cmd.error) this.d.event?.(rp, c.name, 'Warning', 'Failed', `Error: ${cmd.error}`);
      rc.state = { waiting: { reason: 'CreateContainerConfigError', message: cmd.error } };
      return;
    }
    if (rc.nextStart) rc.restartCount++;
    rc.nextStart = undefined;
    if (cmd.etcDirs.length) this.d.sandboxes.imageEtcDirs(rp.netns, cmd.etcDirs);
    // what the image sets (busybox's PATH), unless the container sets it itself
    for (const [k, v] of Object.entries(cmd.env ?? {})) if (!(c.env ?? []).some((e) => e.name === k)) env[k] = v;
    // The container's own root: its volumes at their mountPaths, and what the image brings from
    // the host at the same paths (busybox's applets; a built-in image's in-cluster kubeconfig).
    const imageFiles = [...(cmd.files ?? []), ...(kubeconfig ? [kubeconfig] : [])];
    // A hostPath with no type is not checked: one whose path is missing has nothing to mount (podpath creates nothing on the host).
    const binds = [...(this.d.mounts?.(pod, c) ?? []), ...imageFiles.map((f) => ({ source: f, target: f, readOnly: true }))].filter((b) => fs.existsSync(b.source));
    const mountPoint = this.o.paths.containerRoot(rp.uid, c.name);
    fs.mkdirSync(mountPoint, { recursive: true });
    // A host-network pod has the node's hostname, as it shares the node's UTS namespace upstream.
    const hostname = rp.hostNetwork ? this.o.nodeName : (pod.spec.hostname ?? pod.metadata.name!);
    // `tty: true` runs it on a pseudo-terminal; `stdin: true` gives it a FIFO kubectl attach writes to.
    const argv = containerArgv({ netns: rp.netns, hostname, mountPoint, etcDir: netnsEtcDir(rp.netns), binds, ...(c.workingDir ? { workingDir: c.workingDir } : {}) }, c.tty ? ptyArgv(cmd.argv) : cmd.argv);
    this.startProcess(c, rp, rc, argv, env, cmd.argv[0]!);
  }

  /** Starts `argv` (the container's command as containerArgv wraps it) as the container's process. */
  private startProcess(c: Container, rp: RuntimePod, rc: RuntimeContainer, argv: string[], env: Record<string, string>, program: string): void {
    const stdinFifo = c.stdin ? { stdinFifo: this.o.paths.containerStdin(rp.uid, c.name) } : {};
    const output = this.o.paths.containerOutput(rp.uid, c.name);
    // A new instance: the last one's log becomes the previous log.
    const readOutput = () => {
      rotateLog(this.o.paths.containerLog(rp.uid, c.name), this.o.paths.containerPreviousLog(rp.uid, c.name));
      this.readOutput(rp.uid, c.name);
    };
    // The probes wait for the container's own command, not the assembly of its root before it
    // (a second on a busy machine: a first probe then finds nothing listening, and readiness
    // waits a whole period); their clock starts there.
    let pid: number | undefined;
    rc.execPending = true;
    const onExec = () => {
      if (pid !== undefined && rc.pid !== pid) return;
      rc.execPending = false;
      rc.startedAtMs = this.d.clock.now();
    };
    pid = this.d.processes.start(argv, { env, output, readOutput, onExec, ...stdinFifo }, (code, signal) => {
      if (rc.pid === pid) this.exited(rp, rc, code, signal);
    });
    // podpath has no image store: every image is on the machine already.
    this.d.event?.(rp, c.name, 'Normal', 'Pulled', `Container image ${JSON.stringify(c.image ?? '')} already present on machine`);
    this.d.event?.(rp, c.name, 'Normal', 'Created', `Created container: ${c.name}`);
    if (!pid) {
      rc.state = { waiting: { reason: 'RunContainerError', message: `cannot start ${program}` } };
      this.d.event?.(rp, c.name, 'Warning', 'Failed', `Error: cannot start ${program}`);
      return;
    }
    const now = this.d.clock.now();
    rc.pid = pid;
    rc.startedAt = apiTime(now);
    if (rc.execPending) rc.startedAtMs = now; // else the process has exec'd already (onExec set it)
    rc.state = { running: { startedAt: rc.startedAt } };
    rc.started = true;
    rc.ready = !c.readinessProbe;
    this.d.containerStarted(rp.uid, c.name);
    this.d.checkpoints.save(rp);
    this.d.event?.(rp, c.name, 'Normal', 'Started', `Started container ${c.name}`);
    this.o.log(`started ${rp.namespace}/${rp.name} container ${c.name} pid ${pid}`);
  }

  /** The log writer copies the container's output FIFOs into its log. */
  private readOutput(uid: string, container: string): void {
    this.d.logs?.open(logKey(uid, container), this.o.paths.containerOutput(uid, container), this.o.paths.containerLog(uid, container));
  }

  private exited(rp: RuntimePod, rc: RuntimeContainer, code: number | null, signal: NodeJS.Signals | null): void {
    rc.state = terminatedState(code, signal, rc.startedAt, apiTime(this.d.clock.now()));
    rc.pid = undefined;
    rc.ready = false;
    this.d.checkpoints.save(rp);
  }

  /** Processes adopted from a previous agent have no exit listener: their exit is noticed here. */
  noticeExits(rp: RuntimePod): void {
    for (const rc of Object.values(rp.containers)) {
      if (rc.state.running && rc.pid && !this.d.processes.alive(rc.pid) && !this.d.processes.supervises(rc.pid)) this.exited(rp, rc, null, null);
    }
  }

  /** SIGTERM, wait up to the grace period, SIGKILL; then release the sandbox and forget the pod. */
  async terminate(rp: RuntimePod, graceSeconds: number): Promise<void> {
    const { processes, clock } = this.d;
    rp.terminating = true;
    const pids = Object.values(rp.containers).map((c) => c.pid).filter((p): p is number => Boolean(p));
    for (const [name, c] of Object.entries(rp.containers)) if (c.pid && c.state.running) this.d.event?.(rp, name, 'Normal', 'Killing', `Stopping container ${name}`);
    const anyAlive = () => pids.some((pid) => processes.alive(pid));
    for (const pid of pids) processes.signal(pid, 'SIGTERM');
    const deadline = clock.now() + graceSeconds * 1000;
    while (anyAlive() && clock.now() < deadline) await clock.sleep(100);
    for (const pid of pids) if (processes.alive(pid)) processes.signal(pid, 'SIGKILL');
    while (anyAlive()) await clock.sleep(50);
    await this.d.sandboxes.remove(rp);
    this.d.checkpoints.remove(rp.uid);
    fs.rmSync(this.o.paths.podKubeconfig(rp.uid), { force: true });
    for (const name of Object.keys(rp.containers)) {
      this.d.logs?.close(logKey(rp.uid, name));
      const { stdout, stderr } = this.o.paths.containerOutput(rp.uid, name);
      for (const f of [this.o.paths.containerStdin(rp.uid, name), this.o.paths.containerLog(rp.uid, name), this.o.paths.containerPreviousLog(rp.uid, name), stdout, stderr]) fs.rmSync(f, { force: true });
      fs.rmSync(this.o.paths.containerRoot(rp.uid, name), { recursive: true, force: true });
    }
    fs.rmSync(this.o.paths.podVolumes(rp.uid), { recursive: true, force: true });
    this.pods.delete(rp.uid);
    this.o.log(`pod ${rp.namespace}/${rp.name} torn down`);
  }
}
