// The node agent (the kubelet's job, with a process runtime): registers the Node and keeps it
// Ready, wires each pod bound to it into a network namespace with the CNI plugins, runs its
// containers as processes there, probes them, restarts them by restartPolicy with back-off,
// terminates them gracefully, and reports pod status. Pod state is kept on disk, so a restarted
// agent adopts the pods that kept running.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Container, ContainerState, ContainerStatus, EndpointSlice, KubeObject, Node, Pod, PodCondition, Probe, Service } from '../api/types.ts';
import { Client, loadConfig, objectPath, type ClientConfig } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { ip, netnsAdd, netnsDel, netnsExists, run, succeeds, writeNetnsEtc } from '../exec/netns.ts';
import { announcements } from './announce.ts';
import { podResolvConf } from './dns.ts';
import { writeKubeconfig } from '../client/kubeconfig.ts';
import { serviceLinksFor } from './env.ts';
import { cniAdd, cniDel, loopbackConf, nodeConfList, type NetConfList } from './cni.ts';
import { peerCommands, peerRemovalCommands, vxlanDevice, vxlanDeviceCommands, vxlanMTU, type CniBackend, type NetCommand, type PeerNode } from './routes.ts';
import { alive, killGroup } from '../exec/proc.ts';

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
  /** masquerade pod traffic whose destination is outside this range */
  clusterCIDR: string;
  /** how pod CIDRs of other nodes are reached */
  cniBackend: CniBackend;
  /** the interface LoadBalancer IPs are held on (the node's underlay link) */
  underlayDevice: string;
  /** the command that starts a built-in image: argv prefix, e.g. [node, bin/podpath.js] */
  podpathArgv: string[];
  log: (s: string) => void;
}

interface RuntimeContainer {
  pid?: number;
  startedAt?: string;
  /** startedAt to the millisecond (the API's timestamps are whole seconds) */
  startedAtMs?: number;
  restartCount: number;
  state: ContainerState;
  lastState?: ContainerState;
  backoffSeconds?: number;
  nextStart?: number;
  ready: boolean;
  started: boolean;
}

interface RuntimePod {
  uid: string;
  namespace: string;
  name: string;
  netns: string;
  podIP?: string;
  startTime: string;
  containers: Record<string, RuntimeContainer>;
  terminating?: boolean;
}

interface ProbeState {
  successes: number;
  failures: number;
  last: number;
  running: boolean;
}

function applyAll(cmds: NetCommand[], allowFail = false): void {
  for (const c of cmds) run([c.tool, ...c.args], { allowFail });
}

const firstProbeAfterMs = 500;

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
// Built-in images: the podpath subcommand each runs (after the agent's argv prefix).
const builtinImages: Record<string, (c: Container, kubeconfig: string) => string[]> = {
  'podpath/echo': (c) => ['image', 'echo', '--port', String(c.ports?.[0]?.containerPort ?? 8080)],
  // The cluster DNS, reaching the API server through the `kubernetes` Service as a pod does.
  'podpath/coredns': (_c, kubeconfig) => ['dns', '--kubeconfig', kubeconfig],
};

function imageName(image: string | undefined): string {
  return (image ?? '').replace(/^docker\.io\//, '').replace(/:[^/]*$/, '');
}

export class NodeAgent {
  private client: Client;
  private clientConfig: ClientConfig;
  private pods: Informer<Pod>;
  private nodes: Informer<Node>;
  private services: Informer<Service>;
  private slices: Informer<EndpointSlice>;
  /** LoadBalancer IPs this node holds on its underlay interface */
  private announced = new Set<string>();
  private runtime = new Map<string, RuntimePod>();
  private children = new Map<number, ChildProcess>();
  private probes = new Map<string, ProbeState>();
  private podCIDR: string | undefined;
  private conf: NetConfList | undefined;
  private timers: NodeJS.Timeout[] = [];
  private syncing = new Set<string>();
  /** peers whose pod CIDR is reachable, by node name */
  private peers = new Map<string, PeerNode>();
  private lastStatus = new Map<string, string>();
  private logServer: http.Server | undefined;

  constructor(private readonly o: AgentOptions) {
    this.clientConfig = loadConfig(o.kubeconfig, `kubelet/podpath (${o.nodeName})`);
    this.client = new Client(this.clientConfig);
    this.pods = new Informer<Pod>(this.client, 'v1', 'pods', { fieldSelector: `spec.nodeName=${o.nodeName}` });
    this.nodes = new Informer<Node>(this.client, 'v1', 'nodes');
    this.services = new Informer<Service>(this.client, 'v1', 'services');
    this.slices = new Informer<EndpointSlice>(this.client, 'discovery.k8s.io/v1', 'endpointslices');
    fs.mkdirSync(path.join(o.stateDir, 'pods'), { recursive: true });
    fs.mkdirSync(path.join(o.stateDir, 'logs'), { recursive: true });
  }

  private statePath(uid: string): string {
    return path.join(this.o.stateDir, 'pods', `${uid}.json`);
  }

  private save(rp: RuntimePod): void {
    fs.writeFileSync(this.statePath(rp.uid), JSON.stringify(rp));
  }

  logPath(uid: string, container: string): string {
    return path.join(this.o.stateDir, 'logs', `${uid}_${container}.log`);
  }

  async start(): Promise<void> {
    // Adopt what a previous agent left running.
    for (const f of fs.readdirSync(path.join(this.o.stateDir, 'pods'))) {
      try {
        const rp = JSON.parse(fs.readFileSync(path.join(this.o.stateDir, 'pods', f), 'utf8')) as RuntimePod;
        for (const c of Object.values(rp.containers)) {
          if (c.pid && !alive(c.pid)) this.exited(rp, c, null, null);
        }
        this.runtime.set(rp.uid, rp);
      } catch (e) {
        this.o.log(`cannot adopt ${f}: ${(e as Error).message}`);
      }
    }
    this.ensureMasquerade();
    await this.register();
    this.pods.onError = (e) => this.o.log(`pods informer: ${e.message}`);
    this.nodes.onError = (e) => this.o.log(`nodes informer: ${e.message}`);
    this.pods.on({ add: (p) => this.kick(p), update: (_, p) => this.kick(p), delete: (p) => this.kickUid(p.metadata.uid!) });
    this.nodes.on({ add: (n) => this.nodeChanged(n), update: (_, n) => this.nodeChanged(n), delete: (n) => this.nodeGone(n) });
    this.services.onError = (e) => this.o.log(`services informer: ${e.message}`);
    this.slices.onError = (e) => this.o.log(`endpointslices informer: ${e.message}`);
    for (const inf of [this.services, this.slices, this.nodes] as Informer<KubeObject>[]) inf.on({ add: () => this.announce(), update: () => this.announce(), delete: () => this.announce() });
    this.nodes.start();
    this.services.start();
    this.slices.start();
    this.pods.start();
    await Promise.all([this.pods.waitForSync(), this.nodes.waitForSync(), this.services.waitForSync(), this.slices.waitForSync()]);
    this.announce();
    this.startLogServer();
    this.timers.push(setInterval(() => void this.heartbeat(), 10_000));
    this.timers.push(setInterval(() => this.tick(), 500));
    this.o.log(`node agent for ${this.o.nodeName} started (${this.runtime.size} pods adopted)`);
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.pods.stop();
    this.nodes.stop();
    this.services.stop();
    this.slices.stop();
    this.logServer?.close();
    this.client.close();
  }

  // ---- node ----

  /** One nat rule in the node's namespace: pod traffic leaving the cluster network is masqueraded. */
  private ensureMasquerade(): void {
    const spec = ['POSTROUTING', '-s', this.o.clusterCIDR, '!', '-d', this.o.clusterCIDR, '-m', 'comment', '--comment', 'podpath: masquerade pod traffic leaving the cluster network', '-j', 'MASQUERADE'];
    if (!succeeds(['iptables', '-t', 'nat', '-C', ...spec])) run(['iptables', '-t', 'nat', '-A', ...spec]);
  }

  private nodeObject(): Node {
    let osImage = 'Linux';
    try {
      osImage = /PRETTY_NAME="?([^"\n]*)"?/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? osImage;
    } catch {
      // keep the default
    }
    const mem = Math.floor(os.totalmem() / 1024);
    const labels: Record<string, string> = {
      'kubernetes.io/hostname': this.o.nodeName,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'beta.kubernetes.io/arch': 'amd64',
    };
    if (this.o.controlPlane) labels['node-role.kubernetes.io/control-plane'] = '';
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: this.o.nodeName, labels },
      spec: {},
      status: {
        addresses: [
          { type: 'InternalIP', address: this.o.nodeIP },
          { type: 'Hostname', address: this.o.nodeName },
        ],
        conditions: this.conditions(),
        nodeInfo: {
          machineID: '',
          systemUUID: '',
          bootID: '',
          kernelVersion: os.release(),
          osImage,
          containerRuntimeVersion: 'podpath://0.1.0',
          kubeletVersion: 'v1.33.0',
          kubeProxyVersion: '',
          operatingSystem: 'linux',
          architecture: 'amd64',
        },
        capacity: { cpu: String(os.cpus().length), memory: `${mem}Ki`, pods: '110', 'ephemeral-storage': '0' },
        allocatable: { cpu: String(os.cpus().length), memory: `${mem}Ki`, pods: '110', 'ephemeral-storage': '0' },
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      },
    };
  }

  private conditions() {
    const t = now();
    const c = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: t, lastTransitionTime: t, reason, message });
    return [
      c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
      c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
    ];
  }

  private async register(): Promise<void> {
    const path0 = objectPath('v1', 'nodes', undefined, this.o.nodeName);
    for (;;) {
      try {
        const cur = await this.client.get<Node>(path0).catch((e: { code?: number }) => {
          if (e.code === 404) return undefined;
          throw e;
        });
        if (!cur) await this.client.request('POST', '/api/v1/nodes', this.nodeObject());
        else await this.client.request('PUT', `${path0}/status`, { ...cur, status: { ...this.nodeObject().status, conditions: mergeConditions(cur.status?.conditions, this.conditions()) } });
        return;
      } catch (e) {
        this.o.log(`registering node: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async heartbeat(): Promise<void> {
    const cur = this.nodes.get(undefined, this.o.nodeName);
    if (!cur) return void (await this.register());
    const body = { ...cur, status: { ...(cur.status ?? {}), conditions: mergeConditions(cur.status?.conditions, this.conditions()) } };
    await this.client.request('PUT', objectPath('v1', 'nodes', undefined, this.o.nodeName, 'status'), body).catch((e) => this.o.log(`heartbeat: ${(e as Error).message}`));
  }

  private nodeChanged(n: Node): void {
    const cidr = n.spec?.podCIDR;
    if (n.metadata.name === this.o.nodeName) {
      if (cidr && cidr !== this.podCIDR) {
        this.podCIDR = cidr;
        if (this.o.cniBackend === 'vxlan') this.ensureVxlanDevice(cidr);
        this.conf = nodeConfList(cidr, path.join(this.o.stateDir, 'ipam'), this.o.cniBackend === 'vxlan' ? vxlanMTU : undefined);
        fs.writeFileSync(path.join(this.o.stateDir, '10-podpath.conflist'), JSON.stringify(this.conf, null, 2));
        for (const p of this.pods.list()) this.kick(p);
        // Peers seen before this node had its own CIDR (and VXLAN device) are wired now.
        for (const other of this.nodes.list()) if (other.metadata.name !== this.o.nodeName) this.nodeChanged(other);
      }
      return;
    }
    const internalIP = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    if (!cidr || !internalIP || !this.podCIDR) return;
    const peer: PeerNode = { name: n.metadata.name!, internalIP, podCIDR: cidr };
    const had = this.peers.get(peer.name);
    if (had && had.internalIP === internalIP && had.podCIDR === cidr) return;
    try {
      if (had) applyAll(peerRemovalCommands(this.o.cniBackend, had), true);
      applyAll(peerCommands(this.o.cniBackend, peer));
      this.peers.set(peer.name, peer);
    } catch (e) {
      this.o.log(`route to ${cidr} on ${peer.name}: ${(e as Error).message}`);
    }
  }

  private ensureVxlanDevice(podCIDR: string): void {
    // An agent restarting finds its device in place; a new pod CIDR means a fresh device.
    if (succeeds(['ip', 'link', 'show', vxlanDevice])) ip('link', 'del', vxlanDevice);
    applyAll(vxlanDeviceCommands({ name: this.o.nodeName, internalIP: this.o.nodeIP, podCIDR }));
  }

  private nodeGone(n: Node): void {
    const had = this.peers.get(n.metadata.name!);
    if (!had) return;
    applyAll(peerRemovalCommands(this.o.cniBackend, had), true);
    this.peers.delete(had.name);
  }

  /** Holds the LoadBalancer IPs this node is chosen to answer for, and lets go of the others. */
  private announce(): void {
    if (!this.services.hasSynced || !this.slices.hasSynced || !this.nodes.hasSynced) return;
    const mine = new Set(announcements(this.services.list(), this.slices.list(), this.nodes.list()).filter((a) => a.node === this.o.nodeName).map((a) => a.ip));
    for (const ip of mine) {
      if (this.announced.has(ip)) continue;
      if (succeeds(['ip', 'addr', 'replace', `${ip}/32`, 'dev', this.o.underlayDevice])) {
        this.announced.add(ip);
        this.o.log(`answering for LoadBalancer IP ${ip}`);
      }
    }
    for (const ip of [...this.announced]) {
      if (mine.has(ip)) continue;
      succeeds(['ip', 'addr', 'del', `${ip}/32`, 'dev', this.o.underlayDevice]);
      this.announced.delete(ip);
      this.o.log(`no longer answering for LoadBalancer IP ${ip}`);
    }
  }

  // ---- pods ----

  private kick(p: Pod): void {
    void this.syncPod(p.metadata.uid!);
  }

  private kickUid(uid: string): void {
    void this.syncPod(uid);
  }

  private tick(): void {
    const uids = new Set([...this.runtime.keys(), ...this.pods.list().map((p) => p.metadata.uid!)]);
    for (const uid of uids) void this.syncPod(uid);
  }

  private podByUid(uid: string): Pod | undefined {
    return this.pods.list().find((p) => p.metadata.uid === uid);
  }

  private async syncPod(uid: string): Promise<void> {
    if (this.syncing.has(uid)) return;
    this.syncing.add(uid);
    try {
      const pod = this.podByUid(uid);
      let rp = this.runtime.get(uid);
      if (!pod) {
        if (rp && this.pods.hasSynced) await this.teardown(rp, 0);
        return;
      }
      if (pod.metadata.deletionTimestamp) {
        if (rp) await this.teardown(rp, pod.metadata.deletionGracePeriodSeconds ?? 30);
        await this.client.request('DELETE', `${objectPath('v1', 'pods', pod.metadata.namespace, pod.metadata.name!)}?gracePeriodSeconds=0`, { preconditions: { uid } }).catch(() => {});
        return;
      }
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
      if (!this.conf) return; // no pod CIDR yet
      if (!rp) rp = await this.createSandbox(pod);
      this.runContainers(pod, rp);
      await this.reportStatus(pod, rp);
    } catch (e) {
      this.o.log(`pod ${uid}: ${(e as Error).message}`);
    } finally {
      this.syncing.delete(uid);
    }
  }

  private async createSandbox(pod: Pod): Promise<RuntimePod> {
    const uid = pod.metadata.uid!;
    const netns = `${this.o.podNetnsPrefix}${uid.replace(/-/g, '').slice(0, 8)}`;
    netnsAdd(netns);
    const ns = pod.metadata.namespace!;
    const dns = podResolvConf(pod, { clusterDNS: this.o.clusterDNS ? this.o.clusterDNS.split(',') : [], clusterDomain: this.o.clusterDomain, hostResolvConf: readMaybe(this.o.resolvConf ?? '/etc/resolv.conf') });
    for (const w of dns.warnings) this.o.log(`pod ${ns}/${pod.metadata.name}: ${w.reason}: ${w.message}`);
    const resolv = dns.text;
    writeNetnsEtc(netns, 'resolv.conf', resolv);
    const inv = { containerId: uid, netns: `/run/netns/${netns}`, ifname: 'eth0', args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: ns, K8S_POD_NAME: pod.metadata.name!, K8S_POD_UID: uid } };
    await cniAdd(loopbackConf, { ...inv, ifname: 'lo' });
    const result = await cniAdd(this.conf!, inv);
    const podIP = result.ips?.[0]?.address.split('/')[0];
    const hostname = pod.spec.hostname ?? pod.metadata.name!;
    const fqdn = pod.spec.subdomain ? `${hostname}.${pod.spec.subdomain}.${ns}.svc.${this.o.clusterDomain}` : '';
    const hosts = [
      '# Kubernetes-managed hosts file.',
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      'fe00::0\tip6-localnet',
      'fe00::0\tip6-mcastprefix',
      'fe00::1\tip6-allnodes',
      'fe00::2\tip6-allrouters',
      `${podIP}\t${fqdn ? `${fqdn}\t` : ''}${hostname}`,
      ...(pod.spec.hostAliases ?? []).map((a) => `${a.ip}\t${(a.hostnames ?? []).join('\t')}`),
    ];
    writeNetnsEtc(netns, 'hosts', hosts.join('\n') + '\n');
    const rp: RuntimePod = { uid, namespace: ns, name: pod.metadata.name!, netns, startTime: now(), containers: {} };
    if (podIP) rp.podIP = podIP;
    this.runtime.set(uid, rp);
    this.save(rp);
    this.o.log(`pod ${ns}/${pod.metadata.name} sandbox ${netns} ip ${podIP}`);
    return rp;
  }

  /**
   * The in-cluster credentials a pod's process gets, as a kubeconfig: the API server at the
   * `kubernetes` Service (KUBERNETES_SERVICE_HOST:PORT, through kube-proxy), its CA and token.
   */
  private podKubeconfig(pod: Pod): string {
    const file = path.join(this.o.stateDir, 'serviceaccount', `${pod.metadata.uid}.kubeconfig`);
    const svc = this.services.get('default', 'kubernetes');
    const host = svc?.spec.clusterIP ?? '10.96.0.1';
    const port = svc?.spec.ports?.find((p) => p.name === 'https')?.port ?? 443;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeKubeconfig(file, { name: 'in-cluster', server: `https://${host}:${port}`, caCert: this.clientConfig.ca ?? '', token: this.clientConfig.token ?? '' });
    return file;
  }

  private commandFor(pod: Pod, c: Container): string[] | string {
    const builtin = builtinImages[imageName(c.image)];
    if (builtin && !c.command?.length) return [...this.o.podpathArgv, ...builtin(c, this.podKubeconfig(pod)), ...(c.args ?? [])];
    if (c.command?.length) return [...c.command, ...(c.args ?? [])];
    return `image ${c.image ?? '(none)'} is not built into podpath and the container has no command; podpath runs built-in images (${Object.keys(builtinImages).join(', ')}) or a container's command from the host's filesystem inside the pod's network namespace`;
  }

  private envFor(pod: Pod, c: Container, rp: RuntimePod): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/root',
      HOSTNAME: pod.spec.hostname ?? pod.metadata.name!,
      POD_NAME: pod.metadata.name!,
      POD_NAMESPACE: pod.metadata.namespace!,
      POD_IP: rp.podIP ?? '',
      NODE_NAME: this.o.nodeName,
      ...serviceLinksFor(pod.metadata.namespace!, pod.spec.enableServiceLinks, this.services.list()),
    };
    if (process.env.PODPATH_TEST_RUN) env.PODPATH_TEST_RUN = process.env.PODPATH_TEST_RUN;
    const field = (p: string) =>
      ({ 'metadata.name': pod.metadata.name, 'metadata.namespace': pod.metadata.namespace, 'metadata.uid': pod.metadata.uid, 'spec.nodeName': this.o.nodeName, 'status.podIP': rp.podIP, 'status.hostIP': this.o.nodeIP, 'spec.serviceAccountName': pod.spec.serviceAccountName })[p];
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, k: string) => env[k] ?? m);
      else {
        const fr = (e.valueFrom as { fieldRef?: { fieldPath?: string } } | undefined)?.fieldRef?.fieldPath;
        if (fr) env[e.name] = field(fr) ?? '';
      }
    }
    return env;
  }

  /** Init containers one at a time, each to success; then the app containers. */
  private runContainers(pod: Pod, rp: RuntimePod): void {
    const policy = pod.spec.restartPolicy ?? 'Always';
    for (const c of pod.spec.initContainers ?? []) {
      const rc = (rp.containers[c.name] ??= { restartCount: 0, state: { waiting: { reason: 'PodInitializing' } }, ready: false, started: false });
      if (rc.state.terminated?.exitCode === 0) continue;
      // A failed init container is retried unless the pod never restarts (then the pod fails).
      this.runContainer(pod, c, rp, rc, policy === 'Never' ? 'Never' : 'OnFailure');
      return;
    }
    for (const c of pod.spec.containers) {
      const rc = (rp.containers[c.name] ??= { restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } }, ready: false, started: false });
      this.runContainer(pod, c, rp, rc, policy);
    }
  }

  /** Starts a container that is not running, restarting an exited one by `policy` with back-off. */
  private runContainer(pod: Pod, c: Container, rp: RuntimePod, rc: RuntimeContainer, policy: string): void {
    if (rc.state.running) return;
    const term = rc.state.terminated;
    if (term) {
      const again = policy === 'Always' || (policy === 'OnFailure' && term.exitCode !== 0);
      if (!again) return;
      rc.backoffSeconds = Math.min(rc.backoffSeconds ? rc.backoffSeconds * 2 : 10, 300);
      rc.nextStart = Date.now() + rc.backoffSeconds * 1000;
      rc.lastState = { terminated: term };
      rc.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${rc.backoffSeconds}s restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})` } };
      this.save(rp);
      return;
    }
    if (rc.nextStart && Date.now() < rc.nextStart) return;
    const cmd = this.commandFor(pod, c);
    if (typeof cmd === 'string') {
      rc.state = { waiting: { reason: 'CreateContainerConfigError', message: cmd } };
      return;
    }
    if (rc.nextStart) rc.restartCount++;
    rc.nextStart = undefined;
    this.startProcess(pod, c, rp, rc, cmd);
  }

  private startProcess(pod: Pod, c: Container, rp: RuntimePod, rc: RuntimeContainer, cmd: string[]): void {
    const logFd = fs.openSync(this.logPath(rp.uid, c.name), 'a');
    const child = spawn('ip', ['netns', 'exec', rp.netns, ...cmd], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: this.envFor(pod, c, rp),
      ...(c.workingDir ? { cwd: c.workingDir } : {}),
    });
    fs.closeSync(logFd);
    child.unref();
    if (!child.pid) {
      rc.state = { waiting: { reason: 'RunContainerError', message: `cannot start ${cmd[0]}` } };
      return;
    }
    const pid = child.pid;
    this.children.set(pid, child);
    child.on('exit', (code, signal) => {
      this.children.delete(pid);
      if (rc.pid === pid) this.exited(rp, rc, code, signal);
    });
    rc.pid = pid;
    rc.startedAt = now();
    rc.startedAtMs = Date.now();
    rc.state = { running: { startedAt: rc.startedAt } };
    rc.started = true;
    rc.ready = !c.readinessProbe;
    this.probes.delete(`${rp.uid}/${c.name}/readiness`);
    this.probes.delete(`${rp.uid}/${c.name}/liveness`);
    this.save(rp);
    this.o.log(`started ${rp.namespace}/${rp.name} container ${c.name} pid ${pid}`);
  }

  private exited(rp: RuntimePod, rc: RuntimeContainer, code: number | null, signal: NodeJS.Signals | null): void {
    const exitCode = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 9) : 137);
    rc.state = { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: rc.startedAt, finishedAt: now(), ...(signal ? { signal: os.constants.signals[signal] } : {}) } };
    rc.pid = undefined;
    rc.ready = false;
    this.save(rp);
  }

  private tickProbes(pod: Pod, rp: RuntimePod): void {
    // Processes adopted from a previous agent have no child handle: their exit is noticed here.
    for (const rc of Object.values(rp.containers)) {
      if (rc.state.running && rc.pid && !alive(rc.pid) && !this.children.has(rc.pid)) this.exited(rp, rc, null, null);
    }
    for (const c of pod.spec.containers) {
      const rc = rp.containers[c.name];
      if (!rc?.state.running || !rc.pid || !alive(rc.pid)) continue;
      const startedMs = rc.startedAtMs ?? (Date.parse(rc.startedAt ?? '') || Date.now());
      for (const kind of ['readiness', 'liveness'] as const) {
        const probe = kind === 'readiness' ? c.readinessProbe : c.livenessProbe;
        if (!probe) continue;
        const key = `${rp.uid}/${c.name}/${kind}`;
        const st = this.probes.get(key) ?? { successes: 0, failures: 0, last: 0, running: false };
        this.probes.set(key, st);
        const period = (probe.periodSeconds ?? 10) * 1000;
        // Like the kubelet's probe worker, which first sees a new container on a later sync, a
        // probe never fires in the instant its container is started.
        const delay = Math.max((probe.initialDelaySeconds ?? 0) * 1000, firstProbeAfterMs);
        if (st.running || Date.now() - startedMs < delay || Date.now() - st.last < period) continue;
        st.running = true;
        st.last = Date.now();
        void runProbe(probe, rp, c).then((ok) => {
          st.running = false;
          if (ok) {
            st.successes++;
            st.failures = 0;
          } else {
            st.failures++;
            st.successes = 0;
          }
          if (kind === 'readiness') {
            if (ok && st.successes >= (probe.successThreshold ?? 1)) rc.ready = true;
            if (!ok && st.failures >= (probe.failureThreshold ?? 3)) rc.ready = false;
          } else if (!ok && st.failures >= (probe.failureThreshold ?? 3) && rc.pid) {
            this.o.log(`liveness probe failed for ${rp.namespace}/${rp.name} container ${c.name}; restarting`);
            killGroup(rc.pid, 'SIGKILL');
          }
          void this.syncPod(rp.uid);
        });
      }
    }
  }

  private async reportStatus(pod: Pod, rp: RuntimePod): Promise<void> {
    this.tickProbes(pod, rp);
    const statusOf = (c: Container, waiting: string): ContainerStatus => {
      const rc = rp.containers[c.name] ?? { restartCount: 0, state: { waiting: { reason: waiting } }, ready: false, started: false };
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
    };
    const initStatuses = (pod.spec.initContainers ?? []).map((c) => ({ ...statusOf(c, 'PodInitializing'), ready: rp.containers[c.name]?.state.terminated?.exitCode === 0 }));
    const initialized = initStatuses.every((s) => s.state?.terminated?.exitCode === 0);
    const statuses = pod.spec.containers.map((c) => statusOf(c, initialized ? 'ContainerCreating' : 'PodInitializing'));
    const allReady = initialized && statuses.length > 0 && statuses.every((s) => s.ready);
    const policy = pod.spec.restartPolicy ?? 'Always';
    const allDone = statuses.every((s) => s.state?.terminated);
    let phase = statuses.some((s) => s.state?.running || s.state?.terminated || (s.state?.waiting?.reason === 'CrashLoopBackOff')) ? 'Running' : 'Pending';
    if (!initialized) phase = policy === 'Never' && initStatuses.some((s) => (s.state?.terminated?.exitCode ?? 0) !== 0) ? 'Failed' : 'Pending';
    else if (allDone && policy !== 'Always') {
      const failed = statuses.some((s) => (s.state?.terminated?.exitCode ?? 0) !== 0);
      if (policy === 'Never' || !failed) phase = failed ? 'Failed' : 'Succeeded';
    }
    const prev = pod.status?.conditions ?? [];
    const cond = (type: string, ok: boolean, reason?: string): PodCondition => {
      const status = ok ? 'True' : 'False';
      const old = prev.find((c) => c.type === type);
      return { type, status, lastProbeTime: null, lastTransitionTime: old?.status === status && old.lastTransitionTime ? old.lastTransitionTime : now(), ...(reason && !ok ? { reason } : {}) };
    };
    const scheduled = prev.find((c) => c.type === 'PodScheduled') ?? cond('PodScheduled', true);
    const status = {
      phase,
      conditions: [
        cond('PodReadyToStartContainers', Boolean(rp.podIP)),
        cond('Initialized', initialized, 'ContainersNotInitialized'),
        cond('Ready', allReady, 'ContainersNotReady'),
        cond('ContainersReady', allReady, 'ContainersNotReady'),
        scheduled,
      ],
      hostIP: this.o.nodeIP,
      hostIPs: [{ ip: this.o.nodeIP }],
      ...(rp.podIP ? { podIP: rp.podIP, podIPs: [{ ip: rp.podIP }] } : {}),
      startTime: rp.startTime,
      ...(initStatuses.length ? { initContainerStatuses: initStatuses } : {}),
      containerStatuses: statuses,
      qosClass: pod.status?.qosClass ?? 'BestEffort',
    };
    const digest = JSON.stringify(status);
    if (this.lastStatus.get(rp.uid) === digest) return;
    await this.client.request('PUT', objectPath('v1', 'pods', pod.metadata.namespace, pod.metadata.name!, 'status'), { ...pod, status });
    this.lastStatus.set(rp.uid, digest);
  }

  /** SIGTERM, wait up to the grace period, SIGKILL; then release the network and forget the pod. */
  private async teardown(rp: RuntimePod, graceSeconds: number): Promise<void> {
    rp.terminating = true;
    const pids = Object.values(rp.containers).map((c) => c.pid).filter((p): p is number => Boolean(p));
    for (const pid of pids) killGroup(pid, 'SIGTERM');
    const deadline = Date.now() + graceSeconds * 1000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const pid of pids) if (alive(pid)) killGroup(pid, 'SIGKILL');
    while (pids.some(alive)) await new Promise((r) => setTimeout(r, 50));
    if (this.conf && netnsExists(rp.netns)) {
      await cniDel(this.conf, { containerId: rp.uid, netns: `/run/netns/${rp.netns}`, ifname: 'eth0' }).catch((e) => this.o.log(`CNI DEL ${rp.name}: ${(e as Error).message}`));
    }
    netnsDel(rp.netns);
    fs.rmSync(this.statePath(rp.uid), { force: true });
    fs.rmSync(path.join(this.o.stateDir, 'serviceaccount', `${rp.uid}.kubeconfig`), { force: true });
    this.runtime.delete(rp.uid);
    this.lastStatus.delete(rp.uid);
    this.o.log(`pod ${rp.namespace}/${rp.name} torn down`);
  }

  // ---- logs (the kubelet's /containerLogs endpoint, proxied by the API server) ----

  private startLogServer(): void {
    this.logServer = http.createServer((req, res) => {
      const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/?]+)/.exec(req.url ?? '');
      const pod = m ? this.pods.list().find((p) => p.metadata.namespace === m[1] && p.metadata.name === m[2]) : undefined;
      if (!m || !pod) {
        res.writeHead(404);
        return res.end('not found\n');
      }
      const file = this.logPath(pod.metadata.uid!, decodeURIComponent(m[3]!));
      const q = new URL(req.url!, 'http://x').searchParams;
      let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      const tail = Number(q.get('tailLines') ?? '');
      if (tail > 0) text = text.split('\n').slice(-tail - 1).join('\n');
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write(text);
      if (q.get('follow') !== 'true') return res.end();
      let offset = fs.existsSync(file) ? fs.statSync(file).size : 0;
      const t = setInterval(() => {
        if (!fs.existsSync(file)) return;
        const size = fs.statSync(file).size;
        if (size > offset) {
          const fd = fs.openSync(file, 'r');
          const buf = Buffer.alloc(size - offset);
          fs.readSync(fd, buf, 0, buf.length, offset);
          fs.closeSync(fd);
          offset = size;
          res.write(buf);
        }
      }, 200);
      req.on('close', () => clearInterval(t));
    });
    this.logServer.listen(10250, this.o.nodeIP);
    this.logServer.on('error', (e) => this.o.log(`log server: ${e.message}`));
  }
}

function readMaybe(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function mergeConditions<T extends { type: string; status: string; lastTransitionTime?: string }>(old: T[] | undefined, fresh: T[]): T[] {
  return fresh.map((c) => {
    const o = old?.find((x) => x.type === c.type);
    return o && o.status === c.status && o.lastTransitionTime ? { ...c, lastTransitionTime: o.lastTransitionTime } : c;
  });
}

async function runProbe(p: Probe, rp: RuntimePod, c: Container): Promise<boolean> {
  const timeout = (p.timeoutSeconds ?? 1) * 1000;
  const portOf = (v: number | string | undefined) => (typeof v === 'number' ? v : (c.ports ?? []).find((x) => x.name === v)?.containerPort ?? 0);
  if (p.httpGet) {
    const hg = p.httpGet;
    return new Promise((resolve) => {
      const req = http.get({ host: hg.host ?? rp.podIP, port: portOf(hg.port), path: hg.path ?? '/', timeout, headers: { 'User-Agent': 'kube-probe/1.33', Accept: '*/*', ...Object.fromEntries((hg.httpHeaders ?? []).map((h) => [h.name, h.value])) } }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  }
  if (p.tcpSocket) {
    const port = portOf(p.tcpSocket.port);
    return new Promise((resolve) => {
      const s = net.connect({ host: p.tcpSocket!.host ?? rp.podIP, port, timeout }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('timeout', () => {
        s.destroy();
        resolve(false);
      });
      s.on('error', () => resolve(false));
    });
  }
  if (p.exec?.command?.length) {
    return new Promise((resolve) => {
      const child = spawn('ip', ['netns', 'exec', rp.netns, ...p.exec!.command!], { stdio: 'ignore' });
      const t = setTimeout(() => child.kill('SIGKILL'), timeout);
      child.on('exit', (code) => {
        clearTimeout(t);
        resolve(code === 0);
      });
      child.on('error', () => resolve(false));
    });
  }
  return true;
}
