// The IPVS view of the Services (pure), shared by IPVS mode (which programs it into the kernel)
// and userspace mode (which balances over it itself): one virtual server per ClusterIP, external
// IP and LoadBalancer IP port, and per node address for NodePorts, with the real servers their
// traffic policies allow; the addresses bound to kube-ipvs0; and the text `ipvsadm -Ln`,
// `--stats`, `-Lnc` and `ipvsadm-save -n` print, so both modes show the same `podpath proxy ipvsadm`.
import { parseIP } from '../util/ip.ts';
import { categorizeEndpoints, type ServicePortInfo } from './model.ts';
import { isSchedulerName, type SchedulerName } from './schedulers.ts';

export const dummyDevice = 'kube-ipvs0';

export interface RealServer {
  ip: string;
  port: number;
  /** "ip:port" */
  key: string;
  weight: number;
  podName?: string;
}

export interface VirtualServer {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  ip: string;
  port: number;
  scheduler: SchedulerName;
  /** ClientIP affinity (`persistent <s>`), 0 without */
  persistentSeconds: number;
  /** the ServicePort ("ns/name[:port]") */
  service: string;
  /** reached from outside the cluster (NodePort, external or LoadBalancer IP): the external traffic policy applies */
  external: boolean;
  /**
   * external with externalTrafficPolicy Local: the endpoints are on this node and their replies
   * come back through it, so a proxy may connect with the client's own address
   */
  preserveClient: boolean;
  reals: RealServer[];
}

export interface IpvsOptions {
  /** --ipvs-scheduler / --scheduler */
  scheduler: SchedulerName;
  /** addresses NodePorts answer on (upstream: the node's addresses) */
  nodePortIPs: string[];
  /**
   * Who balances. IPVS: a Local traffic policy with no local endpoint falls back to the cluster's
   * endpoints, as upstream's IPVS proxier does (kubernetes#97081: local pods can still reach the
   * Service). Userspace: such a virtual server has no real servers (refused), and SCTP is left
   * out (Node has no SCTP sockets).
   */
  mode: 'ipvs' | 'userspace';
}

/** The virtual servers of every ServicePort, with the real servers their traffic policies allow. */
export function virtualServers(ports: ServicePortInfo[], o: IpvsOptions): VirtualServer[] {
  const out: VirtualServer[] = [];
  for (const sp of ports) {
    if (o.mode === 'userspace' && sp.protocol === 'SCTP') continue;
    const eps = categorizeEndpoints(sp);
    const real = (list: typeof eps.clusterEndpoints): RealServer[] =>
      list.map((e) => {
        const w = sp.weights?.[e.podName ?? ''] ?? sp.weights?.[e.ip];
        return { ip: e.ip, port: e.port, key: e.key, weight: w ?? 1, ...(e.podName ? { podName: e.podName } : {}) };
      });
    const scheduler = sp.scheduler && isSchedulerName(sp.scheduler) ? sp.scheduler : o.scheduler;
    const base = { protocol: sp.protocol, scheduler, persistentSeconds: sp.stickyMaxAgeSeconds, service: sp.name };
    const pick = (local: boolean) => (!local ? eps.clusterEndpoints : eps.localEndpoints.length || o.mode === 'userspace' ? eps.localEndpoints : eps.clusterEndpoints);
    const internal = real(pick(sp.internalPolicyLocal));
    const external = real(pick(sp.externalPolicyLocal));
    const ext = { external: true, preserveClient: sp.externalPolicyLocal, reals: external };
    out.push({ ...base, ip: sp.clusterIP, port: sp.port, external: false, preserveClient: false, reals: internal });
    for (const ip of [...sp.externalIPs, ...sp.loadBalancerVIPs]) out.push({ ...base, ip, port: sp.port, ...ext });
    if (sp.nodePort) for (const ip of o.nodePortIPs) out.push({ ...base, ip, port: sp.nodePort, ...ext });
  }
  return out;
}

/**
 * The addresses bound to kube-ipvs0: ClusterIPs, and external and LoadBalancer IPs that are not
 * already the node's own (on another interface), as upstream binds them.
 */
export function dummyAddresses(ports: ServicePortInfo[], nodeAddresses: ReadonlySet<string> = new Set()): string[] {
  const s = new Set<string>();
  for (const sp of ports) {
    s.add(sp.clusterIP);
    for (const ip of [...sp.externalIPs, ...sp.loadBalancerVIPs]) if (!nodeAddresses.has(ip)) s.add(ip);
  }
  return [...s].sort(compareIP);
}

function compareIP(a: string, b: string): number {
  const n = (ip: string) => parseIP(ip)?.value ?? 0n;
  return n(a) < n(b) ? -1 : n(a) > n(b) ? 1 : 0;
}

/** A virtual server's identity: protocol, address and port. */
export const vsKey = (v: VirtualServer) => `${v.protocol}/${v.ip}:${v.port}`;
const byAddress = (a: VirtualServer, b: VirtualServer) => (a.protocol !== b.protocol ? (a.protocol < b.protocol ? -1 : 1) : compareIP(a.ip, b.ip) || a.port - b.port);

export interface RealCounts {
  active: number;
  inactive: number;
}

/** `ipvsadm -Ln`: header, virtual servers (persistence as `persistent <s>`), real servers with counts. */
export function ipvsadmList(vss: VirtualServer[], counts: (v: VirtualServer, r: RealServer) => RealCounts = () => ({ active: 0, inactive: 0 })): string {
  const lines = ['IP Virtual Server version 1.2.1 (size=4096)', 'Prot LocalAddress:Port Scheduler Flags', '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn'];
  for (const v of [...vss].sort(byAddress)) {
    lines.push(`${v.protocol}  ${v.ip}:${v.port} ${v.scheduler}${v.persistentSeconds ? ` persistent ${v.persistentSeconds}` : ''}`);
    for (const r of v.reals) {
      const c = counts(v, r);
      lines.push(`  -> ${`${r.ip}:${r.port}`.padEnd(28)} ${'Masq'.padEnd(7)} ${String(r.weight).padEnd(6)} ${String(c.active).padEnd(10)} ${String(c.inactive).padEnd(10)}`);
    }
  }
  return lines.join('\n') + '\n';
}

export interface RealStats {
  conns: number;
  inPkts: number;
  outPkts: number;
  inBytes: number;
  outBytes: number;
}

/** `ipvsadm -Ln --stats`. */
export function ipvsadmStats(vss: VirtualServer[], stats: (v: VirtualServer, r: RealServer) => RealStats): string {
  const cols = (s: RealStats) => [s.conns, s.inPkts, s.outPkts, s.inBytes, s.outBytes].map((x) => String(x).padStart(8)).join(' ');
  const lines = ['IP Virtual Server version 1.2.1 (size=4096)', `${'Prot LocalAddress:Port'.padEnd(34)}${['Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes'].map((x) => x.padStart(8)).join(' ')}`, '  -> RemoteAddress:Port'];
  for (const v of [...vss].sort(byAddress)) {
    const per = v.reals.map((r) => stats(v, r));
    const sum = per.reduce((a, s) => ({ conns: a.conns + s.conns, inPkts: a.inPkts + s.inPkts, outPkts: a.outPkts + s.outPkts, inBytes: a.inBytes + s.inBytes, outBytes: a.outBytes + s.outBytes }), { conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 });
    lines.push(`${`${v.protocol}  ${v.ip}:${v.port}`.padEnd(34)}${cols(sum)}`);
    v.reals.forEach((r, i) => lines.push(`${`  -> ${r.ip}:${r.port}`.padEnd(34)}${cols(per[i]!)}`));
  }
  return lines.join('\n') + '\n';
}

export interface ConnectionEntry {
  protocol: 'TCP' | 'UDP';
  expiresInSeconds: number;
  state: string;
  source: string;
  virtual: string;
  destination: string;
}

/** `ipvsadm -Lnc`. */
export function ipvsadmConnections(conns: ConnectionEntry[]): string {
  const mmss = (s: number) => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
  const lines = ['IPVS connection entries', 'pro expire state       source             virtual            destination'];
  for (const c of conns) lines.push(`${c.protocol.padEnd(3)} ${mmss(c.expiresInSeconds)}  ${c.state.padEnd(11)} ${c.source.padEnd(18)} ${c.virtual.padEnd(18)} ${c.destination}`);
  return lines.join('\n') + '\n';
}

/** `ipvsadm-save -n`: the rules that rebuild the table. */
export function ipvsadmSave(vss: VirtualServer[]): string {
  const flag = (p: VirtualServer['protocol']) => (p === 'TCP' ? '-t' : p === 'UDP' ? '-u' : '--sctp-service');
  const lines: string[] = [];
  for (const v of [...vss].sort(byAddress)) {
    lines.push(`-A ${flag(v.protocol)} ${v.ip}:${v.port} -s ${v.scheduler}${v.persistentSeconds ? ` -p ${v.persistentSeconds}` : ''}`);
    for (const r of v.reals) lines.push(`-a ${flag(v.protocol)} ${v.ip}:${v.port} -r ${r.ip}:${r.port} -m -w ${r.weight}`);
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}
