// The IPVS view of the Services (pure): the virtual servers and real servers upstream's IPVS
// proxier programs — one virtual server per ClusterIP, external IP and LoadBalancer IP port,
// and per node address for NodePorts — the addresses it binds to kube-ipvs0, the ipsets its
// iptables rules match, and the text `ipvsadm -Ln` / `ipvsadm-save -n` print. Userspace mode
// balances over the same table, so both modes show the same `podpath proxy ipvsadm`.
import { cidrContains, parseCIDR, parseIP } from '../util/ip.ts';
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

/** One ipset of upstream's IPVS proxier: name, type, the comment its iptables rules carry, and entries. */
export interface IpvsSet {
  name: string;
  type: 'hash:ip' | 'hash:ip,port' | 'hash:ip,port,ip' | 'hash:ip,port,net' | 'bitmap:port';
  comment: string;
  entries: Set<string>;
}

// Upstream's ipsetInfo, in its order, with its comments.
const ipsetInfo: [string, IpvsSet['type'], string][] = [
  ['KUBE-LOOP-BACK', 'hash:ip,port,ip', 'Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose'],
  ['KUBE-CLUSTER-IP', 'hash:ip,port', 'Kubernetes service cluster ip + port for masquerade purpose'],
  ['KUBE-EXTERNAL-IP', 'hash:ip,port', 'Kubernetes service external ip + port for masquerade and filter purpose'],
  ['KUBE-EXTERNAL-IP-LOCAL', 'hash:ip,port', 'Kubernetes service external ip + port with externalTrafficPolicy=local'],
  ['KUBE-LOAD-BALANCER', 'hash:ip,port', 'Kubernetes service lb portal'],
  ['KUBE-LOAD-BALANCER-FW', 'hash:ip,port', 'Kubernetes service load balancer ip + port for load balancer with sourceRange'],
  ['KUBE-LOAD-BALANCER-LOCAL', 'hash:ip,port', 'Kubernetes service load balancer ip + port with externalTrafficPolicy=local'],
  ['KUBE-LOAD-BALANCER-SOURCE-IP', 'hash:ip,port,ip', 'Kubernetes service load balancer ip + port + source IP for packet filter purpose'],
  ['KUBE-LOAD-BALANCER-SOURCE-CIDR', 'hash:ip,port,net', 'Kubernetes service load balancer ip + port + source cidr for packet filter purpose'],
  ['KUBE-NODE-PORT-TCP', 'bitmap:port', 'Kubernetes nodeport TCP port for masquerade purpose'],
  ['KUBE-NODE-PORT-LOCAL-TCP', 'bitmap:port', 'Kubernetes nodeport TCP port with externalTrafficPolicy=local'],
  ['KUBE-NODE-PORT-UDP', 'bitmap:port', 'Kubernetes nodeport UDP port for masquerade purpose'],
  ['KUBE-NODE-PORT-LOCAL-UDP', 'bitmap:port', 'Kubernetes nodeport UDP port with externalTrafficPolicy=local'],
  ['KUBE-NODE-PORT-SCTP-HASH', 'hash:ip,port', "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'"],
  ['KUBE-NODE-PORT-LOCAL-SCTP-HASH', 'hash:ip,port', "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'"],
  ['KUBE-HEALTH-CHECK-NODE-PORT', 'bitmap:port', 'Kubernetes health check node port'],
  ['KUBE-IPVS-IPS', 'hash:ip', 'Addresses on the ipvs interface'],
];

/** A LoadBalancer IP:port the node itself may not reach (source ranges that leave the node out). */
export interface NoNodeAccess {
  ip: string;
  protocol: string;
  port: number;
}

export interface IpvsSets {
  sets: Map<string, IpvsSet>;
  noNodeAccess: NoNodeAccess[];
}

/**
 * The ipsets upstream's IPVS proxier fills from the ServicePorts (syncProxyRules): hairpin
 * entries for local endpoints, ClusterIPs, external and LoadBalancer IPs (with their
 * externalTrafficPolicy=Local and source-range companions), NodePorts by protocol,
 * health-check NodePorts and the addresses bound to kube-ipvs0.
 */
export function ipvsSets(ports: ServicePortInfo[], o: { nodeIP?: string; nodePortIPs: string[]; nodeAddresses?: ReadonlySet<string> }): IpvsSets {
  const sets = new Map(ipsetInfo.map(([name, type, comment]) => [name, { name, type, comment, entries: new Set<string>() }]));
  const add = (set: string, e: string) => sets.get(set)!.entries.add(e);
  const noNodeAccess: NoNodeAccess[] = [];
  for (const sp of ports) {
    const proto = sp.protocol.toLowerCase();
    const at = (ip: string, port = sp.port) => `${ip},${proto}:${port}`;
    for (const e of sp.endpoints) if (e.isLocal) add('KUBE-LOOP-BACK', `${e.ip},${proto}:${e.port},${e.ip}`);
    add('KUBE-CLUSTER-IP', at(sp.clusterIP));
    for (const ip of sp.externalIPs) add(sp.externalPolicyLocal ? 'KUBE-EXTERNAL-IP-LOCAL' : 'KUBE-EXTERNAL-IP', at(ip));
    for (const ip of sp.loadBalancerVIPs) {
      add('KUBE-LOAD-BALANCER', at(ip));
      if (sp.externalPolicyLocal) add('KUBE-LOAD-BALANCER-LOCAL', at(ip));
      if (!sp.loadBalancerSourceRanges.length) continue;
      add('KUBE-LOAD-BALANCER-FW', at(ip));
      for (const cidr of sp.loadBalancerSourceRanges) add('KUBE-LOAD-BALANCER-SOURCE-CIDR', `${at(ip)},${cidr}`);
      // The node reaches an LB IP with the LB IP as its source (it is on kube-ipvs0).
      if (o.nodeIP && sp.loadBalancerSourceRanges.some((c) => { const cidr = parseCIDR(c); return !!cidr && cidrContains(cidr, o.nodeIP!); })) add('KUBE-LOAD-BALANCER-SOURCE-IP', `${at(ip)},${ip}`);
      else noNodeAccess.push({ ip, protocol: proto, port: sp.port });
    }
    if (sp.nodePort && o.nodePortIPs.length) {
      const entries = sp.protocol === 'SCTP' ? o.nodePortIPs.map((ip) => at(ip, sp.nodePort)) : [String(sp.nodePort)];
      const suffix = sp.protocol === 'SCTP' ? 'SCTP-HASH' : sp.protocol;
      for (const e of entries) {
        add(`KUBE-NODE-PORT-${suffix}`, e);
        if (sp.externalPolicyLocal) add(`KUBE-NODE-PORT-LOCAL-${suffix}`, e);
      }
    }
    if (sp.healthCheckNodePort) add('KUBE-HEALTH-CHECK-NODE-PORT', String(sp.healthCheckNodePort));
  }
  for (const ip of dummyAddresses(ports, o.nodeAddresses)) add('KUBE-IPVS-IPS', ip);
  return { sets, noNodeAccess };
}

/** The sets as `ipset save` prints them (with the creation options upstream's ipset util passes). */
export function ipsetSave(s: IpvsSets): string {
  const lines: string[] = [];
  for (const set of s.sets.values()) {
    lines.push(`create ${set.name} ${set.type}${set.type === 'bitmap:port' ? ' range 0-65535' : ' family inet hashsize 1024 maxelem 65536'}`);
    for (const e of [...set.entries].sort()) lines.push(`add ${set.name} ${e}`);
  }
  return lines.join('\n') + '\n';
}

export interface IpvsNatOptions {
  clusterCIDR?: string;
  masqueradeAll: boolean;
  /** the fwmark bit for masquerading (14: 0x4000) */
  masqueradeBit: number;
}

/** The jumps into upstream's chains (iptablesJumpChain), each inserted at the top of its built-in chain. */
export const ipvsJumpRules: { table: 'nat' | 'filter'; chain: string; args: string[] }[] = (
  [
    ['nat', 'OUTPUT', 'KUBE-SERVICES', 'kubernetes service portals'],
    ['nat', 'PREROUTING', 'KUBE-SERVICES', 'kubernetes service portals'],
    ['nat', 'POSTROUTING', 'KUBE-POSTROUTING', 'kubernetes postrouting rules'],
    ['filter', 'FORWARD', 'KUBE-FORWARD', 'kubernetes forwarding rules'],
    ['filter', 'INPUT', 'KUBE-NODE-PORT', 'kubernetes health check rules'],
    ['filter', 'INPUT', 'KUBE-PROXY-FIREWALL', 'kube-proxy firewall rules'],
    ['filter', 'FORWARD', 'KUBE-PROXY-FIREWALL', 'kube-proxy firewall rules'],
    ['filter', 'INPUT', 'KUBE-IPVS-FILTER', 'kubernetes ipvs access filter'],
    ['filter', 'OUTPUT', 'KUBE-IPVS-OUT-FILTER', 'kubernetes ipvs access filter'],
  ] as const
).map(([table, chain, to, comment]) => ({ table, chain, args: ['-m', 'comment', '--comment', comment, '-j', to] }));

// ipsetWithIptablesChain: a non-empty set sends its matches from one chain to another.
const setJumps: [set: string, table: 'nat' | 'filter', from: string, to: string, match: string, proto?: string][] = [
  ['KUBE-LOOP-BACK', 'nat', 'KUBE-POSTROUTING', 'MASQUERADE', 'dst,dst,src'],
  ['KUBE-LOAD-BALANCER', 'nat', 'KUBE-SERVICES', 'KUBE-LOAD-BALANCER', 'dst,dst'],
  ['KUBE-LOAD-BALANCER-LOCAL', 'nat', 'KUBE-LOAD-BALANCER', 'RETURN', 'dst,dst'],
  ['KUBE-NODE-PORT-LOCAL-TCP', 'nat', 'KUBE-NODE-PORT', 'RETURN', 'dst', 'tcp'],
  ['KUBE-NODE-PORT-TCP', 'nat', 'KUBE-NODE-PORT', 'KUBE-MARK-MASQ', 'dst', 'tcp'],
  ['KUBE-NODE-PORT-LOCAL-UDP', 'nat', 'KUBE-NODE-PORT', 'RETURN', 'dst', 'udp'],
  ['KUBE-NODE-PORT-UDP', 'nat', 'KUBE-NODE-PORT', 'KUBE-MARK-MASQ', 'dst', 'udp'],
  ['KUBE-NODE-PORT-LOCAL-SCTP-HASH', 'nat', 'KUBE-NODE-PORT', 'RETURN', 'dst,dst', 'sctp'],
  ['KUBE-NODE-PORT-SCTP-HASH', 'nat', 'KUBE-NODE-PORT', 'KUBE-MARK-MASQ', 'dst,dst', 'sctp'],
  ['KUBE-LOAD-BALANCER-FW', 'filter', 'KUBE-PROXY-FIREWALL', 'KUBE-SOURCE-RANGES-FIREWALL', 'dst,dst'],
  ['KUBE-LOAD-BALANCER-SOURCE-CIDR', 'filter', 'KUBE-SOURCE-RANGES-FIREWALL', 'RETURN', 'dst,dst,src'],
  ['KUBE-LOAD-BALANCER-SOURCE-IP', 'filter', 'KUBE-SOURCE-RANGES-FIREWALL', 'RETURN', 'dst,dst,src'],
];

/**
 * The nat and filter rules upstream's IPVS proxier keeps beside the IPVS table
 * (writeIptablesRules), as iptables-restore --noflush input: masquerading by the ipsets, hairpin
 * through KUBE-LOOP-BACK, LoadBalancer source ranges, the health-check ports, and the filter that
 * stops other ports of the node being reached through a Service address.
 */
export function ipvsIptablesRules(s: IpvsSets, o: IpvsNatOptions): string {
  const mark = `0x${(1 << o.masqueradeBit).toString(16)}`;
  const q = (c: string) => `"${c}"`;
  const set = (n: string) => s.sets.get(n)!;
  const nonEmpty = (n: string) => set(n).entries.size > 0;
  const nat: string[] = ['-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN'];
  const filter: string[] = [];
  for (const [name, table, from, to, match, proto] of setJumps) {
    if (!nonEmpty(name)) continue;
    (table === 'nat' ? nat : filter).push(['-A', from, ...(proto ? ['-p', proto] : []), '-m', 'comment', '--comment', q(set(name).comment), '-m', 'set', '--match-set', name, match, '-j', to].join(' '));
  }
  const matchSet = (name: string, m: string) => ['-A', 'KUBE-SERVICES', '-m', 'comment', '--comment', q(set(name).comment), '-m', 'set', '--match-set', name, m].join(' ');
  if (nonEmpty('KUBE-CLUSTER-IP')) {
    // Off-cluster traffic to a ClusterIP is masqueraded; without a cluster CIDR, node-originated traffic from a VIP is.
    if (o.masqueradeAll) nat.push(`${matchSet('KUBE-CLUSTER-IP', 'dst,dst')} -j KUBE-MARK-MASQ`);
    else if (o.clusterCIDR) nat.push(`${matchSet('KUBE-CLUSTER-IP', 'dst,dst')} ! -s ${o.clusterCIDR} -j KUBE-MARK-MASQ`);
    else nat.push(`${matchSet('KUBE-CLUSTER-IP', 'src,dst')} -j KUBE-MARK-MASQ`);
  }
  // External IPs: accepted from off the machine (not a bridge port, not a local source) and when local.
  const externalIPRules = (name: string) => {
    nat.push(`${matchSet(name, 'dst,dst')} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT`);
    nat.push(`${matchSet(name, 'dst,dst')} -m addrtype --dst-type LOCAL -j ACCEPT`);
  };
  if (nonEmpty('KUBE-EXTERNAL-IP')) {
    nat.push(`${matchSet('KUBE-EXTERNAL-IP', 'dst,dst')} -j KUBE-MARK-MASQ`);
    externalIPRules('KUBE-EXTERNAL-IP');
  }
  if (nonEmpty('KUBE-EXTERNAL-IP-LOCAL')) externalIPRules('KUBE-EXTERNAL-IP-LOCAL');
  nat.push('-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT');
  nat.push('-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ');
  filter.push('-A KUBE-SOURCE-RANGES-FIREWALL -j DROP');
  for (const e of s.noNodeAccess) filter.push(`-A KUBE-IPVS-OUT-FILTER -s ${e.ip} -m ipvs --vaddr ${e.ip} --vproto ${e.protocol} --vport ${e.port} -j DROP`);
  // Accept what IPVS serves, in case later rules would drop it (last in KUBE-SERVICES).
  for (const name of ['KUBE-CLUSTER-IP', 'KUBE-LOAD-BALANCER']) if (nonEmpty(name)) nat.push(`-A KUBE-SERVICES -m set --match-set ${name} dst,dst -j ACCEPT`);
  filter.push(`-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`);
  filter.push('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
  filter.push(`-A KUBE-NODE-PORT -m comment --comment ${q(set('KUBE-HEALTH-CHECK-NODE-PORT').comment)} -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT`);
  for (const [name, m] of [['KUBE-LOAD-BALANCER', 'dst,dst'], ['KUBE-CLUSTER-IP', 'dst,dst'], ['KUBE-EXTERNAL-IP', 'dst,dst'], ['KUBE-EXTERNAL-IP-LOCAL', 'dst,dst'], ['KUBE-HEALTH-CHECK-NODE-PORT', 'dst']]) {
    filter.push(`-A KUBE-IPVS-FILTER -m set --match-set ${name} ${m} -j RETURN`);
  }
  filter.push('-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT');
  nat.push(`-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`);
  nat.push(`-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`);
  nat.push('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully');
  nat.push(`-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`);
  const chains = (names: string[]) => names.map((c) => `:${c} - [0:0]`);
  return [
    '*nat',
    ...chains(['KUBE-SERVICES', 'KUBE-POSTROUTING', 'KUBE-NODE-PORT', 'KUBE-LOAD-BALANCER', 'KUBE-MARK-MASQ']),
    ...nat,
    'COMMIT',
    '*filter',
    ...chains(['KUBE-FORWARD', 'KUBE-NODE-PORT', 'KUBE-PROXY-FIREWALL', 'KUBE-SOURCE-RANGES-FIREWALL', 'KUBE-IPVS-FILTER', 'KUBE-IPVS-OUT-FILTER']),
    ...filter,
    'COMMIT',
    '',
  ].join('\n');
}

/** `proxy render --mode ipvs`: kube-ipvs0's addresses, the IPVS table, the ipsets, the iptables rules and their jumps. */
export function renderIpvs(ports: ServicePortInfo[], o: IpvsOptions, nat: IpvsNatOptions & { nodeIP?: string }): string {
  const vss = virtualServers(ports, o);
  const nodeAddresses = new Set(nat.nodeIP ? [nat.nodeIP] : []);
  const sets = ipvsSets(ports, { nodePortIPs: o.nodePortIPs, nodeAddresses, ...(nat.nodeIP ? { nodeIP: nat.nodeIP } : {}) });
  return [
    `# ip addr: ${dummyDevice} (type dummy) holds`,
    ...dummyAddresses(ports, nodeAddresses).map((ip) => `${ip}/32`),
    '# ipvsadm-save -n',
    ipvsadmSave(vss).trimEnd(),
    '# ipset save',
    ipsetSave(sets).trimEnd(),
    '# jump rules (iptables -I, each kept once)',
    ...ipvsJumpRules.map((j) => `# -t ${j.table} -I ${j.chain} ${j.args.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ')}`),
    '# iptables-restore --noflush',
    ipvsIptablesRules(sets, nat).trimEnd(),
    '',
  ].join('\n');
}

/** A table as `ipvsadm-save -n` prints it: virtual server → its -A line options and real servers' -a options. */
export function parseIpvsadmSave(text: string): Map<string, { opts: string; reals: Map<string, string> }> {
  const out = new Map<string, { opts: string; reals: Map<string, string> }>();
  for (const line of text.split('\n')) {
    const m = /^-([Aa]) (-[tu]|--sctp-service) (\S+)(?: (.*))?$/.exec(line.trim());
    if (!m) continue;
    const vs = `${m[2]} ${m[3]}`;
    if (m[1] === 'A') out.set(vs, { opts: m[4] ?? '', reals: out.get(vs)?.reals ?? new Map() });
    else {
      const r = /^-r (\S+)(?: (.*))?$/.exec(m[4] ?? '');
      if (!r) continue;
      const e = out.get(vs) ?? { opts: '', reals: new Map<string, string>() };
      e.reals.set(r[1]!, r[2] ?? '');
      out.set(vs, e);
    }
  }
  return out;
}

/** Connection counts per real server as `ipvsadm -Ln` prints them: "-t ip:port" → real "ip:port" → counts. */
export function parseIpvsadmList(text: string): Map<string, Map<string, RealCounts>> {
  const out = new Map<string, Map<string, RealCounts>>();
  let vs: Map<string, RealCounts> | undefined;
  for (const line of text.split('\n')) {
    const v = /^(TCP|UDP|SCTP)\s+(\S+)\s/.exec(line);
    if (v) {
      out.set(`${v[1] === 'TCP' ? '-t' : v[1] === 'UDP' ? '-u' : '--sctp-service'} ${v[2]}`, (vs = new Map()));
      continue;
    }
    const r = /^\s+->\s+(\S+)\s+\S+\s+\d+\s+(\d+)\s+(\d+)/.exec(line);
    if (r && vs) vs.set(r[1]!, { active: Number(r[2]), inactive: Number(r[3]) });
  }
  return out;
}

/**
 * The `ipvsadm-restore` lines that take the kernel's table (`current`, from `ipvsadm-save -n`)
 * to the wanted one, touching only what differs — existing connections keep their servers, as
 * upstream's proxier edits the table in place (-E/-e) rather than rebuilding it. A TCP real
 * server that goes while it still has connections (`counts`, from `ipvsadm -Ln`) is kept with
 * weight 0 until they are gone, as upstream's graceful termination does; UDP and SCTP ones go at once.
 */
export function planIpvsTable(current: string, want: VirtualServer[], counts: Map<string, Map<string, RealCounts>> = new Map()): string[] {
  const have = parseIpvsadmSave(current);
  const wanted = parseIpvsadmSave(ipvsadmSave(want));
  const lines: string[] = [];
  for (const [vs, w] of wanted) {
    const h = have.get(vs);
    if (!h) lines.push(`-A ${vs} ${w.opts}`.trimEnd());
    else if (h.opts !== w.opts) lines.push(`-E ${vs} ${w.opts}`.trimEnd());
    for (const [r, opts] of w.reals) {
      const hr = h?.reals.get(r);
      if (hr === undefined) lines.push(`-a ${vs} -r ${r} ${opts}`.trimEnd());
      else if (hr !== opts) lines.push(`-e ${vs} -r ${r} ${opts}`.trimEnd());
    }
    for (const [r, opts] of h?.reals ?? []) {
      if (w.reals.has(r)) continue;
      const c = counts.get(vs)?.get(r);
      const draining = vs.startsWith('-t ') && c !== undefined && c.active + c.inactive > 0;
      if (!draining) lines.push(`-d ${vs} -r ${r}`);
      else if (!/-w 0$/.test(opts)) lines.push(`-e ${vs} -r ${r} -m -w 0`);
    }
  }
  for (const vs of have.keys()) if (!wanted.has(vs)) lines.push(`-D ${vs}`);
  return lines;
}

/**
 * `ipset restore` input that replaces each set atomically: filled under a temporary name, then
 * swapped in (so a rule never matches a half-filled set).
 */
export function ipsetSwapScript(saveText: string): string {
  const out: string[] = [];
  const creates = new Map<string, string>();
  const adds = new Map<string, string[]>();
  for (const line of saveText.split('\n')) {
    const c = /^create (\S+) (.*)$/.exec(line);
    if (c) {
      creates.set(c[1]!, c[2]!);
      adds.set(c[1]!, []);
      continue;
    }
    const a = /^add (\S+) (.*)$/.exec(line);
    if (a) adds.get(a[1]!)?.push(a[2]!);
  }
  let i = 0;
  for (const [name, spec] of creates) {
    // Set names are at most 31 characters: a long name's temporary one is cut and numbered, so
    // KUBE-LOAD-BALANCER-SOURCE-IP and -SOURCE-CIDR do not share one.
    const tmp = name.length + 4 <= 31 ? `${name}-tmp` : `${name.slice(0, 25)}-tmp${i}`;
    i++;
    out.push(`create ${name} ${spec} -exist`, `create ${tmp} ${spec} -exist`, `flush ${tmp}`);
    for (const e of adds.get(name)!) out.push(`add ${tmp} ${e}`);
    out.push(`swap ${tmp} ${name}`, `destroy ${tmp}`);
  }
  return out.join('\n') + '\n';
}
