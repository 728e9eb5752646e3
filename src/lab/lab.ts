// A lab: an underlay namespace with a bridge (the "physical" 192.168.49.0/24 network), node
// namespaces on it, a client namespace standing for the user's computer, and one process per
// component inside the namespace where its upstream counterpart lives. Nothing is added to the
// host's root namespace: the host reaches the lab through sockets on 127.0.0.1 (the API server
// serves one made in the host's namespace and handed to it; tunnels do the rest).
import { proxyPreflight } from '../proxy/app/modes.ts';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labDaemonNodeFlags } from '../util/nodeflags.ts';
import { commandExists, wrapNetns } from '../exec/exec.ts';
import { Iptables } from '../iptables/index.ts';
import { ipIn, listNetns, netnsAdd, netnsDel, pidsIn, sysctlIn, writeNetnsEtc } from '../exec/netns.ts';
import { alive, killGroup } from '../exec/proc.ts';

import { clientIP, nodeIP, routerIP, serviceCIDR, tunnelHost } from './defaults.ts';
import type { CniBackend } from '../cni/routes.ts';

export const stateRoot = process.env.PODPATH_STATE_ROOT ?? '/run/podpath';
/** bin/podpath.js of this checkout, found from this module whether it runs from src/ or dist/. */
export const podpathJs = ((): string => {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const bin = path.join(dir, 'bin/podpath.js');
    if (fs.existsSync(bin)) return bin;
  }
  throw new Error('cannot find bin/podpath.js above this module');
})();

export interface LabNode {
  name: string;
  netns: string;
  ip: string;
}

export interface LabState {
  name: string;
  createdAt: string;
  stateDir: string;
  underlay: string;
  client: string;
  nodes: LabNode[];
  podNetnsPrefix: string;
  cniBackend: CniBackend;
  /** with the bgp backend: the first node reflects routes to the others (no full mesh) */
  bgpRouteReflector?: boolean;
  /** component -> pid */
  pids: Record<string, number>;
  /** component -> how it was started, so it can be restarted */
  daemons?: Record<string, DaemonSpec>;
  apiPort?: number;
  kubeconfig?: string;
  context?: string;
}

export interface DaemonSpec {
  netns?: string;
  args: string[];
  /** it serves a listening socket on the host's 127.0.0.1 at this port, inherited as fd 3 */
  hostPort?: number;
}

export function validateLabName(name: string): void {
  if (!/^[a-z]([a-z0-9-]{0,18}[a-z0-9])?$/.test(name)) {
    throw new Error(`invalid lab name ${JSON.stringify(name)}: use 1-20 lower-case letters, digits and '-', starting with a letter`);
  }
}

export function labPaths(name: string) {
  const dir = path.join(stateRoot, name);
  return {
    dir,
    state: path.join(dir, 'state.json'),
    logs: path.join(dir, 'logs'),
    apiserverData: path.join(dir, 'apiserver'),
    adminKubeconfig: path.join(dir, 'admin.kubeconfig'),
    nodeResolvConf: path.join(dir, 'resolv.conf'),
    /** the lab's CA (ca.crt, ca.key): it signs Ingress certificates, and `podpath curl` trusts it */
    labCA: path.join(dir, 'ca'),
    labCACert: path.join(dir, 'ca', 'ca.crt'),
    labCAKey: path.join(dir, 'ca', 'ca.key'),
    /** the API server's client certificate to the node agents, and each node's serving certificate, both of the lab CA */
    kubeletClientCert: path.join(dir, 'ca', 'apiserver-kubelet-client.crt'),
    kubeletClientKey: path.join(dir, 'ca', 'apiserver-kubelet-client.key'),
    nodeServingCert: (n: string) => path.join(dir, 'ca', `kubelet-${n}.crt`),
    nodeServingKey: (n: string) => path.join(dir, 'ca', `kubelet-${n}.key`),
    /** the components' own credentials (client certificates of the lab CA), as kubeadm's scheduler.conf and kubelet.conf */
    schedulerKubeconfig: path.join(dir, 'scheduler.kubeconfig'),
    controllerManagerKubeconfig: path.join(dir, 'controller-manager.kubeconfig'),
    /** the lab resolver's, which publishes names as external-dns does and reads what its role allows */
    resolverKubeconfig: path.join(dir, 'resolver.kubeconfig'),
    nodeKubeconfig: (n: string) => path.join(dir, `kubelet-${n}.kubeconfig`),
    node: (n: string) => path.join(dir, 'nodes', n),
    /** what a node shell sees over /etc (podpath ssh): the node's CNI configuration in cni/net.d */
    nodeEtc: (n: string) => path.join(dir, 'nodes', n, 'etc'),
    nodeCniConfDir: (n: string) => path.join(dir, 'nodes', n, 'etc', 'cni', 'net.d'),
    /** BIRD's directories (bgp backend), one per node: bird.conf and the control socket bird.ctl */
    bird: path.join(dir, 'bird'),
    nodeBird: (n: string) => path.join(dir, 'bird', n),
  };
}

export function nodeName(lab: string, i: number): string {
  return i === 0 ? lab : `${lab}-m${String(i + 1).padStart(2, '0')}`;
}

export function readState(name: string): LabState | undefined {
  try {
    return JSON.parse(fs.readFileSync(labPaths(name).state, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export function writeState(s: LabState): void {
  fs.writeFileSync(labPaths(s.name).state, JSON.stringify(s, null, 2));
}

export function listLabs(): string[] {
  try {
    return fs.readdirSync(stateRoot).filter((d) => fs.existsSync(path.join(stateRoot, d, 'state.json')));
  } catch {
    return [];
  }
}

/** Creates the namespaces, links and addresses of a lab. */
export function buildNetwork(name: string, nodes: number, backend: CniBackend): LabState {
  const p = labPaths(name);
  fs.mkdirSync(p.logs, { recursive: true });
  const prefix = `pp-${name}-`;
  const s: LabState = {
    name,
    createdAt: new Date().toISOString(),
    stateDir: p.dir,
    underlay: `${prefix}u`,
    client: `${prefix}c`,
    nodes: [],
    podNetnsPrefix: `${prefix}p`,
    cniBackend: backend,
    pids: {},
  };
  writeState(s);
  netnsAdd(s.underlay);
  ipIn(s.underlay, 'link', 'add', 'br0', 'type', 'bridge');
  ipIn(s.underlay, 'link', 'set', 'br0', 'up');
  ipIn(s.underlay, 'addr', 'add', `${routerIP}/24`, 'dev', 'br0');
  // The router knows no ClusterIP: a packet to one that no rule translated is answered at once
  // with ICMP host unreachable (as a real gateway answers for what it cannot route), so a
  // connection a pod opens before kube-proxy's first sync fails now and is retried, instead of
  // waiting three seconds for an ARP answer nothing gives. Every such packet is answered: the
  // Service range leads to a link that goes nowhere (svc0, a bridge without ports), the filter
  // rejects what would be forwarded there, and the router's ICMP errors are not rate-limited
  // (icmp_ratelimit 0). An `unreachable` route would answer only five at once and then one a
  // second (the kernel's route error limit, for the whole host and not per namespace), while
  // all of a node's pods reach the router masqueraded as one address: a component's informers,
  // all starting at once, then waited on SYN retransmits, a second each, which keep their
  // untranslated conntrack entry and come back here.
  sysctlIn(s.underlay, 'net.ipv4.ip_forward', '1');
  sysctlIn(s.underlay, 'net.ipv4.icmp_ratelimit', '0');
  ipIn(s.underlay, 'link', 'add', 'svc0', 'type', 'bridge');
  ipIn(s.underlay, 'link', 'set', 'svc0', 'up');
  ipIn(s.underlay, 'route', 'add', serviceCIDR, 'dev', 'svc0');
  new Iptables({ netns: s.underlay }).ensureRule('append', 'filter', 'FORWARD', ['-d', serviceCIDR, '-j', 'REJECT', '--reject-with', 'icmp-host-unreachable']);
  // The nodes' resolv.conf (the kubelet's --resolv-conf): the lab's resolver on the router.
  const resolvConf = `nameserver ${routerIP}\n`;
  fs.writeFileSync(p.nodeResolvConf, resolvConf);
  attachToUnderlay(s, s.client, 'client', clientIP);
  for (let i = 0; i < nodes; i++) addNodeNetwork(s, i);
  return s;
}

/** The namespace of node number `i` (from 0) on the lab's underlay, recorded in the state. */
export function addNodeNetwork(s: LabState, i: number): LabNode {
  const prefix = `pp-${s.name}-`;
  const n: LabNode = { name: nodeName(s.name, i), netns: `${prefix}n${i + 1}`, ip: nodeIP(i) };
  attachToUnderlay(s, n.netns, `node${i + 1}`, n.ip);
  sysctlIn(n.netns, 'net.ipv4.ip_forward', '1');
  // A real node reaches ClusterIPs through its default route: without any route, the node's
  // own connections to a Service fail before kube-proxy's output rules can DNAT them. Here the
  // Service range goes to the underlay's router, which has no route for it.
  ipIn(n.netns, 'route', 'add', serviceCIDR, 'via', routerIP, 'dev', 'eth0');
  // Bridged pod-to-pod replies must pass iptables too, or a Service's DNAT is not undone for
  // a client on the same bridge (what kubeadm and minikube set on every node).
  sysctlIn(n.netns, 'net.bridge.bridge-nf-call-iptables', '1');
  s.nodes.push(n);
  writeState(s);
  return n;
}

/** A namespace `ns` on the underlay bridge (port `port`) with `address`, resolving through the lab's router. */
function attachToUnderlay(s: LabState, ns: string, port: string, address: string): void {
  netnsAdd(ns);
  // What a command run there with `ip netns exec` (podpath exec/curl) resolves with: the
  // client's and the nodes' DNS server is the lab's router, not the host's.
  writeNetnsEtc(ns, 'resolv.conf', fs.readFileSync(labPaths(s.name).nodeResolvConf, 'utf8'));
  ipIn(s.underlay, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
  ipIn(s.underlay, 'link', 'set', port, 'master', 'br0', 'up');
  ipIn(ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
  ipIn(ns, 'link', 'set', 'eth0', 'up');
}

/** A listening socket on the host's 127.0.0.1 (port 0: any free one), made here for a daemon to inherit. */
export function hostListener(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (e) => reject(new Error(`cannot listen on ${tunnelHost}:${port} on this host: ${e.message}`)));
    server.listen(port, tunnelHost, () => resolve(server));
  });
}

/**
 * Starts `podpath <args>` as a detached process (in `netns` if given), logging to the lab's log
 * dir; with `listener`, the process inherits that socket as its fd 3 (this process's copy is closed).
 */
export function startDaemon(s: LabState, component: string, netns: string | undefined, args: string[], listener?: net.Server): number {
  const log = fs.openSync(path.join(labPaths(s.name).logs, `${component}.log`), 'a');
  // nsenter switches only the network namespace. (`ip netns exec` would also give the daemon a
  // private mount namespace, and the pod namespaces an agent creates would then be invisible to
  // everything else on the host.)
  const argv = wrapNetns([process.execPath, ...labDaemonNodeFlags(component), podpathJs, ...args], netns ? { netns } : {});
  // (a net.Server has no public file descriptor; its handle's is the listening socket)
  const inherited = listener ? [(listener as unknown as { _handle: { fd: number } })._handle.fd] : [];
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log, ...inherited], env: process.env });
  fs.closeSync(log);
  const hostPort = listener ? (listener.address() as net.AddressInfo).port : undefined;
  listener?.close();
  child.unref();
  if (!child.pid) throw new Error(`could not start ${component}`);
  s.pids[component] = child.pid;
  s.daemons = { ...s.daemons, [component]: { ...(netns ? { netns } : {}), args, ...(hostPort ? { hostPort } : {}) } };
  writeState(s);
  return child.pid;
}

/** Stops a lab component (if it runs) and starts it again the way it was first started. */
export async function restartDaemon(s: LabState, component: string): Promise<number> {
  const d = s.daemons?.[component];
  if (!d) throw new Error(`lab ${s.name} has no component ${component} (it has: ${Object.keys(s.daemons ?? {}).join(', ')})`);
  const pid = s.pids[component];
  if (pid && alive(pid)) await stopPids([pid]);
  return startDaemon(s, component, d.netns, d.args, d.hostPort ? await hostListener(d.hostPort) : undefined);
}

export async function stopPids(pids: number[]): Promise<void> {
  const signal = (sig: NodeJS.Signals) => pids.forEach((pid) => killGroup(pid, sig));
  signal('SIGTERM');
  const deadline = Date.now() + 5000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  signal('SIGKILL');
  while (pids.some(alive)) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Removes everything of lab `name`: its processes (by the PIDs it recorded, then whatever still
 * runs inside its namespaces), its namespaces, the files `ip netns exec` binds, its state.
 */
export async function destroyLab(name: string): Promise<string[]> {
  const done: string[] = [];
  const s = readState(name);
  const prefix = `pp-${name}-`;
  if (s) {
    // Agents first, so nothing restarts containers while they are being stopped.
    const agents = Object.entries(s.pids).filter(([c]) => c.startsWith('agent')).map(([, p]) => p);
    await stopPids(agents);
    await stopPids(Object.values(s.pids));
    done.push(`stopped ${Object.keys(s.pids).length} lab processes`);
  }
  const namespaces = listNetns().filter((n) => n.startsWith(prefix));
  const stray = namespaces.flatMap((n) => pidsIn(n));
  if (stray.length) {
    await stopPids(stray);
    done.push(`stopped ${stray.length} processes left in the lab's namespaces`);
  }
  // Pods first, then nodes, client and underlay.
  const order = (n: string) => (n.startsWith(`${prefix}p`) ? 0 : n.endsWith('-u') ? 2 : 1);
  for (const n of namespaces.sort((a, b) => order(a) - order(b))) netnsDel(n);
  if (namespaces.length) done.push(`deleted ${namespaces.length} network namespaces`);
  for (const d of fs.existsSync('/etc/netns') ? fs.readdirSync('/etc/netns') : []) {
    if (d.startsWith(prefix)) fs.rmSync(path.join('/etc/netns', d), { recursive: true, force: true });
  }
  fs.rmSync(labPaths(name).dir, { recursive: true, force: true });
  return done;
}

/**
 * What is missing on this machine for a lab of this proxy mode, with or without the
 * NetworkPolicy agent, with how to get it (empty when all is there).
 */
export interface PreflightOptions {
  proxyMode: string;
  /** the NetworkPolicy agent (nft) */
  netpol: boolean;
  /** the Ingress or Gateway controller (nginx with its Lua module) */
  ingress: boolean;
  /** the pod network's backend (bgp needs BIRD) */
  cniBackend?: CniBackend;
}

export function preflight({ proxyMode, netpol, ingress, cniBackend }: PreflightOptions = { proxyMode: 'iptables', netpol: true, ingress: true }): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root: podpath up creates network namespaces and links; run it as root (sudo)');
  if (!commandExists('ip')) missing.push('ip (iproute2): apt-get install -y iproute2');
  if (!commandExists('iptables')) missing.push('iptables: apt-get install -y iptables');
  if (proxyMode === 'nftables' && !commandExists('nft')) missing.push('nft (nftables), for --proxy-mode nftables: apt-get install -y nftables');
  else if (netpol && !commandExists('nft')) missing.push('nft (nftables), for the NetworkPolicy agent (or leave it out: --no-netpol): apt-get install -y nftables');
  if (proxyMode === 'ipvs') missing.push(...proxyPreflight('ipvs'));
  if (!commandExists('conntrack')) missing.push('conntrack (conntrack-tools), for kube-proxy\'s UDP cleanup: apt-get install -y conntrack');
  if (!commandExists('nsenter')) missing.push('nsenter (util-linux): apt-get install -y util-linux');
  if (!commandExists('curl')) missing.push('curl: apt-get install -y curl');
  if (!commandExists('arping')) missing.push("arping (iputils-arping), the gratuitous ARP of a LoadBalancer IP's new holder: apt-get install -y iputils-arping");
  if (cniBackend === 'bgp' && !(commandExists('bird') && commandExists('birdc'))) missing.push('bird and birdc (BIRD 2), the BGP daemon of --cni-backend bgp: apt-get install -y bird2');
  if (ingress && !commandExists('nginx')) missing.push('nginx, for the Ingress and Gateway controllers (or leave them out: --no-ingress --no-gateway): apt-get install -y nginx libnginx-mod-http-lua');
  else if (ingress && !fs.existsSync('/usr/lib/nginx/modules/ngx_http_lua_module.so')) missing.push("nginx's Lua module, for the Ingress and Gateway controllers (or leave them out: --no-ingress --no-gateway): apt-get install -y libnginx-mod-http-lua");
  for (const plugin of ['bridge', 'host-local', 'loopback', 'portmap']) {
    if (!fs.existsSync(`/usr/lib/cni/${plugin}`)) {
      missing.push(`CNI plugin ${plugin} in /usr/lib/cni: apt-get install -y containernetworking-plugins`);
      break;
    }
  }
  return missing;
}
