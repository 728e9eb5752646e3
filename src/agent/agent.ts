// The node agent (the kubelet's job, with a process runtime): wires its parts to the API server.
// It registers the Node and heartbeats (nodestatus.ts), keeps the node's pod network as the
// Nodes say (network.ts), and syncs every pod bound to it — sandbox and containers
// (runtime.ts, sandbox.ts), probes (prober.ts), status (status.ts) — on each change and every
// half second; it serves container logs (logs.ts), exec/attach/port-forward (streaming.ts) and
// the Summary API over HTTPS to the users its auth filter lets in (server.ts, auth.ts). Pod state is checkpointed, so a restarted
// agent adopts the pods that kept running.
import fs from 'node:fs';
import type { EndpointSlice, KubeObject, Node, Pod, PodStatus, Service } from '../api/types.ts';
import { Client, loadConfig, objectPath, type ClientConfig } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { defaultExecutor, type Executor } from '../exec/exec.ts';
import { CheckpointStore, type RuntimePod } from './checkpoint.ts';
import { apiTime, realClock, type Clock } from './clock.ts';
import { logHandler } from './logs.ts';
import { AgentAuth } from './auth.ts';
import { loadAgentTLS } from './certs.ts';
import { startAgentServer } from './server.ts';
import { webhookReviews } from './webhook.ts';
import { ContainerLogWriters, logKey } from './logwriter.ts';
import { containerEnv } from './env.ts';
import { StreamingServer, type StreamingHost } from './streaming.ts';
import { LoadBalancerAnnouncer } from './network.ts';
import { addressLifetimeSeconds } from './memberlist.ts';
import { hostUnderlay, ipUnderlay } from './underlay.ts';
import { kubeletPort, NodeStatusManager, readMachineInfo } from './nodestatus.ts';
import { isTerminal } from '../api/pod.ts';
import { agentPaths, type AgentPaths } from './paths.ts';
import { hostProcesses, type Processes } from './processes.ts';
import { netTransport, Prober, type ProbeTransport } from './prober.ts';
import { ContainerRuntime } from './runtime.ts';
import { SandboxManager } from './sandbox.ts';
import { writePodKubeconfig } from './serviceaccount.ts';
import { apiAccessToken, containerMounts, setUpVolumes, tokenRefreshAt, type PodToken, type TokenWant, type VolumeSources } from './volumes.ts';
import { EventRecorder, type EventType } from '../client/events.ts';
import { CniError, sandboxSetupError } from './cni.ts';
import path from 'node:path';
import { podStatus, StatusManager, terminatedStatus } from './status.ts';
import { StatsCollector, type RunningContainer } from './stats.ts';
import { metricResolutionSeconds } from '../api/stats.ts';
import { builtFile } from '../util/built.ts';

/** The pod bridge's MTU under VXLAN: 1500 less 50 bytes of outer headers (flannel's FLANNEL_MTU). */
const vxlanBridgeMTU = 1450;

export interface AgentOptions {
  kubeconfig?: string;
  nodeName: string;
  nodeIP: string;
  /** directory for this node's pod state, logs and IPAM */
  stateDir: string;
  /** network namespace names of pods start with this */
  podNetnsPrefix: string;
  controlPlane?: boolean;
  clusterDNS: string;
  /** the node's resolv.conf (kubelet --resolv-conf) */
  resolvConf?: string;
  clusterDomain: string;
  /** how pod CIDRs of other nodes are reached (the network daemon's backend): the pod bridge's MTU follows it */
  cniBackend: 'host-gw' | 'vxlan' | 'bgp';
  /** where the node's CNI configuration list is written, as 10-<backend>.conflist (kubelet --cni-conf-dir); the state dir by default */
  cniConfDir?: string;
  /** the interface LoadBalancer IPs are held on (the node's underlay link) */
  underlayDevice: string;
  /** the serving certificate and key (kubelet --tls-cert-file, --tls-private-key-file); without them a self-signed one */
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  /** the CA bundle client certificates are verified against (kubelet --client-ca-file); without it only bearer tokens authenticate */
  clientCAFile?: string;
  /** the command that starts a built-in image: argv prefix, e.g. [node, bin/podpath.js] */
  podpathArgv: string[];
  log: (s: string) => void;
}

/** What the agent runs things with; the real ones unless a caller gives others. */
export interface AgentDeps {
  executor: Executor;
  clock: Clock;
  processes: Processes;
  transport: ProbeTransport;
}

/** A pod's tokens are kept per audience and lifetime asked for. */
const tokenKey = (w: TokenWant) => `${w.audience ?? ''}/${w.expirationSeconds}`;

export class NodeAgent {
  private readonly client: Client;
  private readonly clientConfig: ClientConfig;
  private readonly pods: Informer<Pod>;
  private readonly nodes: Informer<Node>;
  private readonly services: Informer<Service>;
  private readonly slices: Informer<EndpointSlice>;
  private readonly nodeStatus: NodeStatusManager;
  private readonly announcer: LoadBalancerAnnouncer;
  private podCIDR: string | undefined;
  private readonly sandboxes: SandboxManager;
  private readonly runtime: ContainerRuntime;
  private readonly prober: Prober;
  private readonly status: StatusManager;
  private readonly clock: Clock;
  private readonly paths: AgentPaths;
  private readonly processes: Processes;
  private timers: NodeJS.Timeout[] = [];
  /** pods whose sync is under way (one at a time per pod) */
  private syncing = new Set<string>();
  /** pods whose volumes are set up (by this agent: an adopted pod's are written again), or why they are not */
  private volumes = new Map<string, true | string>();
  /** when a pod's volumes that hold tokens are to be written again with new tokens (ms; by pod uid) */
  private tokenRefresh = new Map<string, number>();
  /** each pod's service account tokens (by pod uid, then audience and lifetime), as the kubelet's token manager caches them */
  private readonly podTokens = new Map<string, Map<string, PodToken>>();
  private readonly recorder: EventRecorder;
  private server: { close(): void } | undefined;
  private readonly logWriters: ContainerLogWriters;
  private readonly stats: StatsCollector;

  constructor(
    private readonly o: AgentOptions,
    deps: Partial<AgentDeps> = {},
  ) {
    const executor = deps.executor ?? defaultExecutor;
    const processes = (this.processes = deps.processes ?? hostProcesses());
    this.clock = deps.clock ?? realClock;
    this.clientConfig = loadConfig(o.kubeconfig, `kubelet/podpath (${o.nodeName})`);
    this.client = new Client(this.clientConfig);
    this.pods = new Informer<Pod>(this.client, 'v1', 'pods', { fieldSelector: `spec.nodeName=${o.nodeName}` });
    this.nodes = new Informer<Node>(this.client, 'v1', 'nodes');
    this.services = new Informer<Service>(this.client, 'v1', 'services');
    this.slices = new Informer<EndpointSlice>(this.client, 'discovery.k8s.io/v1', 'endpointslices');
    const paths = (this.paths = agentPaths(o.stateDir, { ...(o.cniConfDir ? { confDir: o.cniConfDir } : {}), backend: o.cniBackend }));
    fs.mkdirSync(paths.logsDir, { recursive: true });
    fs.mkdirSync(path.dirname(paths.confList), { recursive: true });
    this.logWriters = new ContainerLogWriters(o.log);
    this.nodeStatus = new NodeStatusManager(o, { client: this.client, clock: this.clock, machine: readMachineInfo(), cached: () => this.nodes.get(undefined, o.nodeName) });
    // rtnetlink in the agent's own namespace only on the host's executor: a test's fake executor keeps the `ip` commands it records
    const held = deps.executor ? { underlay: ipUnderlay(executor, o.underlayDevice, addressLifetimeSeconds) } : hostUnderlay(executor, o.underlayDevice, addressLifetimeSeconds);
    o.log(`LoadBalancer speaker: addresses through ${held.underlay.via}${held.why ? ` (${held.why})` : ''}`);
    this.announcer = new LoadBalancerAnnouncer(o, executor, { underlay: held.underlay });
    this.sandboxes = new SandboxManager({ ...o, ipamDir: paths.ipamDir, confListFile: paths.confList }, executor);
    this.prober = new Prober({
      executor,
      transport: deps.transport ?? netTransport,
      clock: this.clock,
      processes,
      log: o.log,
      resync: (uid) => void this.syncPod(uid),
      event: (rp, c, type, reason, message) => this.podEvent(rp, c.name, type, reason, message),
    });
    this.runtime = new ContainerRuntime(
      { ...o, paths },
      {
        processes,
        clock: this.clock,
        checkpoints: new CheckpointStore(paths.podsDir),
        sandboxes: this.sandboxes,
        services: () => this.services.list(),
        podKubeconfig: (pod) => writePodKubeconfig(paths.podKubeconfig(pod.metadata.uid!), this.services.get('default', 'kubernetes'), { ca: this.clientConfig.ca ?? '', token: this.podTokens.get(pod.metadata.uid!)?.get(tokenKey(apiAccessToken))?.token ?? '' }),
        mounts: (pod, c) => containerMounts(pod, c, (v) => path.join(paths.podVolumes(pod.metadata.uid!), v)),
        imageTools: { busyboxBin: () => this.busyboxBin(executor), nativeProgram: builtFile },
        containerStarted: (uid, container) => this.prober.forget(uid, container),
        logs: this.logWriters,
        event: (rp, container, type, reason, message) => this.podEvent(rp, container, type, reason, message),
      },
    );
    this.status = new StatusManager(this.client);
    this.stats = new StatsCollector({ nodeName: o.nodeName, agentPid: process.pid });
    this.recorder = new EventRecorder(this.client, { component: 'kubelet', host: o.nodeName });
  }

  private busybox: string | undefined;
  /** when each pod's sandbox last failed, and why: a failure is told again after 10 s at most once */
  private sandboxFailures = new Map<string, { message: string; at: number }>();

  /** An event about a pod (or, with `container`, its spec.containers{NAME}), as the kubelet records it. */
  private podEvent(rp: { uid: string; namespace: string; name: string }, container: string | undefined, type: EventType, reason: string, message: string): void {
    const pod = this.pods.list().find((p) => p.metadata.uid === rp.uid);
    const obj = { apiVersion: 'v1', kind: 'Pod', metadata: { name: rp.name, namespace: rp.namespace, uid: rp.uid, ...(pod?.metadata.resourceVersion ? { resourceVersion: pod.metadata.resourceVersion } : {}) } };
    let fieldPath: string | undefined;
    if (container) fieldPath = (pod?.spec.initContainers ?? []).some((c) => c.name === container) ? `spec.initContainers{${container}}` : `spec.containers{${container}}`;
    void this.recorder.record(obj, type, reason, message, fieldPath);
  }

  /** busybox's applets as links in a directory of this node's state (busybox --install -s), made once. */
  private busyboxBin(ex: Executor): string | { error: string } {
    if (this.busybox) return this.busybox;
    const dir = path.join(this.o.stateDir, 'images', 'busybox', 'bin');
    if (fs.existsSync(path.join(dir, 'sh'))) return (this.busybox = dir);
    fs.mkdirSync(dir, { recursive: true });
    const r = ex.exec(['busybox', '--install', '-s', dir]);
    if (r.status !== 0 || !fs.existsSync(path.join(dir, 'sh'))) {
      return { error: `images busybox and alpine run Debian's busybox, which this node cannot run (${(r.error ?? r.stderr).trim() || `exit ${r.status}`}): apt-get install -y busybox` };
    }
    return (this.busybox = dir);
  }

  /** The objects a pod's volumes are made of, read from the API server. */
  private volumeSources(): VolumeSources {
    const get = (resource: string) => (ns: string, name: string) =>
      this.client.get<KubeObject>(objectPath('v1', resource, ns, name)).catch((e: { code?: number }) => {
        if (e.code === 404) return undefined;
        throw e;
      });
    return { configMap: get('configmaps'), secret: get('secrets'), serviceAccount: (pod, want) => this.podToken(pod, want) };
  }

  /**
   * A token of a pod's service account, bound to the pod, as the kubelet's token manager asks
   * for it: with the audience and lifetime the volume wants (kube-api-access: 3607 s, which the
   * API server extends to a year for pod-bound tokens), kept until its refresh time.
   */
  private async podToken(pod: Pod, want: TokenWant): Promise<PodToken> {
    const uid = pod.metadata.uid!;
    const key = tokenKey(want);
    const cached = this.podTokens.get(uid)?.get(key);
    if (cached && this.clock.now() < cached.refreshAt) return cached;
    const sa = pod.spec.serviceAccountName || 'default';
    const body = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: want.audience ? [want.audience] : null, expirationSeconds: want.expirationSeconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid } } };
    const r = await this.client.request<{ status?: { token?: string; expirationTimestamp?: string } }>('POST', objectPath('v1', 'serviceaccounts', pod.metadata.namespace, sa, 'token'), body);
    // issued at: the expiry the server states, less the lifetime asked for (the kubelet's reckoning)
    const expires = Date.parse(r.status?.expirationTimestamp ?? '') || this.clock.now() + want.expirationSeconds * 1000;
    const t: PodToken = { token: r.status?.token ?? '', ca: this.clientConfig.ca ?? '', refreshAt: tokenRefreshAt(expires - want.expirationSeconds * 1000, want.expirationSeconds) };
    let tokens = this.podTokens.get(uid);
    if (!tokens) this.podTokens.set(uid, (tokens = new Map()));
    tokens.set(key, t);
    return t;
  }

  /** The kubelet's WaitForAttachAndMount: whether the pod's volumes are ready (a failure is told once as a FailedMount event, and tried again on the next sync). */
  private async volumesReady(pod: Pod): Promise<boolean> {
    const uid = pod.metadata.uid!;
    if (this.volumes.get(uid) === true) {
      if (this.clock.now() >= (this.tokenRefresh.get(uid) ?? Infinity)) await this.refreshTokens(pod);
      return true;
    }
    try {
      this.tokenRefresh.set(uid, await setUpVolumes(pod, this.paths.podVolumes(uid), this.volumeSources()));
      this.volumes.set(uid, true);
      return true;
    } catch (e) {
      const msg = (e as Error).message;
      if (this.volumes.get(uid) !== msg) {
        this.volumes.set(uid, msg);
        this.o.log(`pod ${pod.metadata.namespace}/${pod.metadata.name}: ${msg}`);
        void this.recorder.record({ ...pod, apiVersion: 'v1', kind: 'Pod' }, 'Warning', 'FailedMount', msg);
      }
      return false;
    }
  }

  /**
   * Writes a running pod's token volumes again with new tokens, as the kubelet's volume manager
   * remounts projected volumes; a failure leaves the old ones and is tried again in 10 s.
   */
  private async refreshTokens(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid!;
    try {
      this.tokenRefresh.set(uid, await setUpVolumes(pod, this.paths.podVolumes(uid), this.volumeSources(), { tokensOnly: true }));
    } catch (e) {
      this.tokenRefresh.set(uid, this.clock.now() + 10_000);
      this.o.log(`pod ${pod.metadata.namespace}/${pod.metadata.name}: ${(e as Error).message}`);
    }
  }

  async start(): Promise<void> {
    // Adopt what a previous agent left running.
    this.runtime.adopt();
    await this.nodeStatus.register();
    this.pods.onError = (e) => this.o.log(`pods informer: ${e.message}`);
    this.nodes.onError = (e) => this.o.log(`nodes informer: ${e.message}`);
    this.pods.on({ add: (p) => this.kick(p.metadata.uid!), update: (_, p) => this.kick(p.metadata.uid!), delete: (p) => this.kick(p.metadata.uid!) });
    this.nodes.on({ add: (n) => this.nodeChanged(n), update: (_, n) => this.nodeChanged(n) });
    this.services.onError = (e) => this.o.log(`services informer: ${e.message}`);
    this.slices.onError = (e) => this.o.log(`endpointslices informer: ${e.message}`);
    for (const inf of [this.services, this.slices, this.nodes] as Informer<KubeObject>[]) inf.on({ add: () => this.announce(), update: () => this.announce(), delete: () => this.announce() });
    this.nodes.start();
    this.services.start();
    this.slices.start();
    this.pods.start();
    await Promise.all([this.pods.waitForSync(), this.nodes.waitForSync(), this.services.waitForSync(), this.slices.waitForSync()]);
    this.announce();
    await this.announcer.start();
    const logs = logHandler({
      pod: (ns, name) => this.podForLogs(ns, name),
      logFile: (uid, container, instance) => (instance === 'current' ? this.paths.containerLog(uid, container) : this.paths.containerPreviousLog(uid, container)),
      writing: (uid, container) => Boolean(this.runtime.get(uid)?.containers[container]?.state.running) || this.logWriters.active(logKey(uid, container)),
      log: this.o.log,
      summary: () => this.stats.summary(),
    });
    const streaming = new StreamingServer(this.streamingHost());
    const tls = await loadAgentTLS(this.o);
    this.server = await startAgentServer({
      host: this.o.nodeIP,
      port: kubeletPort,
      tls,
      auth: new AgentAuth(this.o.nodeName, webhookReviews(this.client), this.o.log),
      handler: logs,
      upgrade: (req, socket, head) => streaming.handle(req, socket, head),
      log: this.o.log,
    });
    this.timers.push(setInterval(() => void this.nodeStatus.heartbeat(), 10_000));
    this.timers.push(setInterval(() => this.tick(), 500));
    this.measure();
    this.timers.push(setInterval(() => this.measure(), metricResolutionSeconds * 1000));
    this.o.log(`node agent for ${this.o.nodeName} started (${this.runtime.uids().length} pods adopted)`);
  }

  /** A pod bound to this node, with its status as the runtime has it now (the last one written when it has not run it). */
  private podForLogs(namespace: string, name: string): { pod: Pod; status: PodStatus } | undefined {
    const pod = this.pods.list().find((p) => p.metadata.namespace === namespace && p.metadata.name === name);
    if (!pod) return undefined;
    const rp = this.runtime.get(pod.metadata.uid!);
    return { pod, status: rp ? podStatus(pod, rp, this.o.nodeIP, apiTime(this.clock.now())) : (pod.status ?? {}) };
  }

  /** exec, attach and port-forward find pods and containers here, with the kubelet's error texts. */
  private streamingHost(): StreamingHost {
    const find = (ns: string, name: string) => {
      const pod = this.pods.list().find((p) => p.metadata.namespace === ns && p.metadata.name === name);
      const rp = pod ? this.runtime.get(pod.metadata.uid!) : undefined;
      return { pod, rp };
    };
    const running = (ns: string, name: string, container: string) => {
      const { pod, rp } = find(ns, name);
      const rc = rp?.containers[container];
      const spec = [...(pod?.spec.containers ?? []), ...(pod?.spec.initContainers ?? []), ...(pod?.spec.ephemeralContainers ?? [])].find((c) => c.name === container);
      if (!pod || !rp || !rc?.state.running || !rc.pid || !spec) return { error: `container not found (${JSON.stringify(container)})` };
      return { ok: { pod, rp, rc, spec } };
    };
    return {
      exec: (ns, name, container) => {
        const found = running(ns, name, container);
        if (!found.ok) return { error: found.error };
        const r = found.ok;
        const env = containerEnv(r.pod, r.spec, { nodeName: this.o.nodeName, nodeIP: this.o.nodeIP, ...(r.rp.podIP ? { podIP: r.rp.podIP } : {}), services: this.services.list() });
        return { pid: r.rc.pid!, env };
      },
      attach: (ns, name, container) => {
        const found = running(ns, name, container);
        if (!found.ok) return { error: found.error };
        const r = found.ok;
        const pid = r.rc.pid!;
        return {
          output: (l) => this.logWriters.subscribe(logKey(r.rp.uid, container), l),
          ...(r.spec.stdin ? { stdinFifo: this.paths.containerStdin(r.rp.uid, container) } : {}),
          stdinOnce: Boolean(r.spec.stdinOnce),
          tty: Boolean(r.spec.tty),
          pid,
          running: () => (r.rc.pid === pid && Boolean(r.rc.state.running)) || this.logWriters.active(logKey(r.rp.uid, container)),
          closeStdin: () => this.processes.closeStdin(pid),
        };
      },
      pod: (ns, name) => {
        const { pod, rp } = find(ns, name);
        if (!pod || !rp) return { error: 'pod does not exist' };
        return { netns: rp.netns, uid: rp.uid };
      },
      log: this.o.log,
    };
  }

  /** One measurement of every running container (the Summary API's). */
  private measure(): void {
    const running: RunningContainer[] = [];
    for (const uid of this.runtime.uids()) {
      const rp = this.runtime.get(uid)!;
      const pod = { uid, namespace: rp.namespace, name: rp.name, startTime: rp.startTime };
      for (const [name, rc] of Object.entries(rp.containers)) if (rc.state.running && rc.pid) running.push({ pod, name, pid: rc.pid, startTime: rc.startedAt ?? rp.startTime });
    }
    try {
      this.stats.measure(running, this.clock.now());
    } catch (e) {
      this.o.log(`measuring containers: ${(e as Error).message}`);
    }
  }

  /** Stops every part; the promise settles once the LoadBalancer IPs are let go and the peers told. */
  stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.pods.stop();
    this.nodes.stop();
    this.services.stop();
    this.slices.stop();
    this.server?.close();
    this.logWriters.closeAll();
    this.client.close();
    return this.announcer.stop();
  }

  // ---- node ----

  /** This node's pod CIDR sets up its pod bridge (the network daemon, src/cni, routes the other nodes' CIDRs). */
  private nodeChanged(n: Node): void {
    if (n.metadata.name !== this.o.nodeName) return;
    const cidr = n.spec?.podCIDR;
    if (!cidr || cidr === this.podCIDR) return;
    this.podCIDR = cidr;
    this.sandboxes.setPodCIDR(cidr, this.o.cniBackend === 'vxlan' ? vxlanBridgeMTU : undefined);
    for (const p of this.pods.list()) this.kick(p.metadata.uid!);
  }

  private announce(): void {
    if (!this.services.hasSynced || !this.slices.hasSynced || !this.nodes.hasSynced) return;
    void this.announcer.announce(this.services.list(), this.slices.list(), this.nodes.list());
  }

  // ---- pods: the kubelet's syncPod ----

  private kick(uid: string): void {
    void this.syncPod(uid);
  }

  private tick(): void {
    const uids = new Set([...this.runtime.uids(), ...this.pods.list().map((p) => p.metadata.uid!)]);
    for (const uid of uids) void this.syncPod(uid);
  }

  private async syncPod(uid: string): Promise<void> {
    if (this.syncing.has(uid)) return;
    this.syncing.add(uid);
    try {
      const pod = this.pods.list().find((p) => p.metadata.uid === uid);
      let rp = this.runtime.get(uid);
      if (!pod) {
        this.sandboxFailures.delete(uid);
        if (rp && this.pods.hasSynced) await this.terminate(rp, 0);
        return;
      }
      if (pod.metadata.deletionTimestamp) {
        if (rp) await this.terminate(rp, pod.metadata.deletionGracePeriodSeconds ?? 30);
        // A pod held by finalizers stays in the API after this: as the kubelet does, its last
        // status says how it ended (killed: Failed), which is what a Job counts.
        if (!isTerminal(pod) && (pod.metadata.finalizers ?? []).length) await this.status.set(pod, terminatedStatus(pod, apiTime(this.clock.now()))).catch(() => {});
        await this.client.request('DELETE', `${objectPath('v1', 'pods', pod.metadata.namespace, pod.metadata.name!)}?gracePeriodSeconds=0`, { preconditions: { uid } }).catch(() => {});
        return;
      }
      if (isTerminal(pod)) return;
      if (!this.sandboxes.ready) return; // no pod CIDR yet
      if (!rp) {
        try {
          rp = await this.runtime.createPod(pod);
          this.sandboxFailures.delete(uid);
        } catch (e) {
          const message = `Failed to create pod sandbox: ${e instanceof CniError ? sandboxSetupError(e, uid) : (e as Error).message}`;
          const last = this.sandboxFailures.get(uid);
          if (!last || last.message !== message || this.clock.now() - last.at >= 10_000) {
            this.sandboxFailures.set(uid, { message, at: this.clock.now() });
            this.podEvent({ uid, namespace: pod.metadata.namespace!, name: pod.metadata.name! }, undefined, 'Warning', 'FailedCreatePodSandBox', message);
          }
          throw e;
        }
      }
      if (await this.volumesReady(pod)) this.runtime.runContainers(pod, rp);
      this.runtime.noticeExits(rp);
      this.prober.tick(pod, rp);
      await this.status.set(pod, podStatus(pod, rp, this.o.nodeIP, apiTime(this.clock.now())));
    } catch (e) {
      this.o.log(`pod ${uid}: ${(e as Error).message}`);
    } finally {
      this.syncing.delete(uid);
    }
  }

  private async terminate(rp: RuntimePod, graceSeconds: number): Promise<void> {
    await this.runtime.terminate(rp, graceSeconds);
    this.status.forget(rp.uid);
    this.volumes.delete(rp.uid);
    this.tokenRefresh.delete(rp.uid);
    this.podTokens.delete(rp.uid);
  }
}
