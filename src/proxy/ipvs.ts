// The IPVS view of the Services (pure): the virtual servers and real servers upstream's IPVS
// proxier programs — one virtual server per ClusterIP, external IP and LoadBalancer IP port,
// and per node address for NodePorts — the addresses it binds to kube-ipvs0, the ipsets its
// iptables rules match, and the text `ipvsadm -Ln` / `ipvsadm-save -n` print. Userspace mode
// balances over the same table, so both modes show the same `podpath proxy ipvsadm`.
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
  reals: RealServer[];
}

export interface IpvsOptions {
  /** --ipvs-scheduler / --scheduler */
  scheduler: SchedulerName;
  /** addresses NodePorts answer on (upstream: the node's addresses) */
  nodePortIPs: string[];
}

/** The virtual servers of every ServicePort, with the real servers their traffic policies allow. */
export function virtualServers(ports: ServicePortInfo[], o: IpvsOptions): VirtualServer[] {
  const out: VirtualServer[] = [];
  for (const sp of ports) {
    if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') continue;
    const eps = categorizeEndpoints(sp);
    const real = (list: typeof eps.clusterEndpoints): RealServer[] =>
      list.map((e) => {
        const w = sp.weights?.[e.podName ?? ''] ?? sp.weights?.[e.ip];
        return { ip: e.ip, port: e.port, key: e.key, weight: w ?? 1, ...(e.podName ? { podName: e.podName } : {}) };
      });
    const scheduler = sp.scheduler && isSchedulerName(sp.scheduler) ? sp.scheduler : o.scheduler;
    const base = { protocol: sp.protocol, scheduler, persistentSeconds: sp.stickyMaxAgeSeconds, service: sp.name };
    const internal = real(sp.internalPolicyLocal ? eps.localEndpoints : eps.clusterEndpoints);
    const external = real(sp.externalPolicyLocal ? eps.localEndpoints : eps.clusterEndpoints);
    out.push({ ...base, ip: sp.clusterIP, port: sp.port, external: false, reals: internal });
    for (const ip of [...sp.externalIPs, ...sp.loadBalancerVIPs]) out.push({ ...base, ip, port: sp.port, external: true, reals: external });
    if (sp.nodePort) for (const ip of o.nodePortIPs) out.push({ ...base, ip, port: sp.nodePort, external: true, reals: external });
  }
  return out;
}

/** The addresses bound to kube-ipvs0: ClusterIPs, external IPs and LoadBalancer IPs. */
export function dummyAddresses(ports: ServicePortInfo[]): string[] {
  const s = new Set<string>();
  for (const sp of ports) for (const ip of [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerVIPs]) s.add(ip);
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

/** The ipsets upstream's IPVS proxier fills (names and types from its ipsetInfo), as `ipset save` prints them. */
export function ipsetSave(ports: ServicePortInfo[], vss: VirtualServer[]): string {
  const sets: { name: string; type: string; entries: Set<string> }[] = [
    { name: 'KUBE-CLUSTER-IP', type: 'hash:ip,port', entries: new Set() },
    { name: 'KUBE-EXTERNAL-IP', type: 'hash:ip,port', entries: new Set() },
    { name: 'KUBE-EXTERNAL-IP-LOCAL', type: 'hash:ip,port', entries: new Set() },
    { name: 'KUBE-LOAD-BALANCER', type: 'hash:ip,port', entries: new Set() },
    { name: 'KUBE-LOAD-BALANCER-LOCAL', type: 'hash:ip,port', entries: new Set() },
    { name: 'KUBE-LOOP-BACK', type: 'hash:ip,port,ip', entries: new Set() },
    { name: 'KUBE-NODE-PORT-TCP', type: 'bitmap:port', entries: new Set() },
    { name: 'KUBE-NODE-PORT-LOCAL-TCP', type: 'bitmap:port', entries: new Set() },
    { name: 'KUBE-NODE-PORT-UDP', type: 'bitmap:port', entries: new Set() },
    { name: 'KUBE-NODE-PORT-LOCAL-UDP', type: 'bitmap:port', entries: new Set() },
  ];
  const set = (n: string) => sets.find((s) => s.name === n)!.entries;
  for (const sp of ports) {
    if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') continue;
    const proto = sp.protocol.toLowerCase();
    set('KUBE-CLUSTER-IP').add(`${sp.clusterIP},${proto}:${sp.port}`);
    for (const ip of sp.externalIPs) set(sp.externalPolicyLocal ? 'KUBE-EXTERNAL-IP-LOCAL' : 'KUBE-EXTERNAL-IP').add(`${ip},${proto}:${sp.port}`);
    for (const ip of sp.loadBalancerVIPs) {
      set('KUBE-LOAD-BALANCER').add(`${ip},${proto}:${sp.port}`);
      if (sp.externalPolicyLocal) set('KUBE-LOAD-BALANCER-LOCAL').add(`${ip},${proto}:${sp.port}`);
    }
    if (sp.nodePort) {
      set(`KUBE-NODE-PORT-${sp.protocol}`).add(String(sp.nodePort));
      if (sp.externalPolicyLocal) set(`KUBE-NODE-PORT-LOCAL-${sp.protocol}`).add(String(sp.nodePort));
    }
  }
  // Hairpin: an endpoint reaching its own Service is masqueraded (dst ip,port and src ip).
  for (const v of vss) if (!v.external) for (const r of v.reals) set('KUBE-LOOP-BACK').add(`${r.ip},${v.protocol.toLowerCase()}:${r.port},${r.ip}`);
  const lines: string[] = [];
  for (const s of sets) {
    lines.push(`create ${s.name} ${s.type}${s.type.startsWith('bitmap') ? ' range 0-65535' : ' family inet hashsize 1024 maxelem 65536'}`);
    for (const e of [...s.entries].sort()) lines.push(`add ${s.name} ${e}`);
  }
  return lines.join('\n') + '\n';
}

export interface IpvsNatOptions {
  clusterCIDR?: string;
  masqueradeAll: boolean;
  /** the fwmark bit for masquerading (14: 0x4000) */
  masqueradeBit: number;
}

/**
 * The nat-table rules upstream's IPVS proxier keeps beside the IPVS table (masquerading by the
 * ipsets, hairpin through KUBE-LOOP-BACK), as iptables-restore input. The jump rules from
 * PREROUTING/OUTPUT/POSTROUTING are shown as comments: they are installed one by one.
 */
export function ipvsNatRules(ports: ServicePortInfo[], o: IpvsNatOptions): string {
  const mark = `0x${(1 << o.masqueradeBit).toString(16)}`;
  const protos = [...new Set(ports.filter((p) => p.nodePort && (p.protocol === 'TCP' || p.protocol === 'UDP')).map((p) => p.protocol))].sort();
  const masq = o.masqueradeAll ? [] : o.clusterCIDR ? ['!', '-s', o.clusterCIDR] : undefined;
  const lines = [
    '# -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '# -A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '# -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '*nat',
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
    ':KUBE-NODE-PORT - [0:0]',
    ':KUBE-MARK-MASQ - [0:0]',
    `-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE`,
    `-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`,
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`,
    '-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN',
    // Traffic to a ClusterIP from outside the pod network (or all, with --masquerade-all) is masqueraded.
    ...(masq ? [['-A', 'KUBE-SERVICES', ...masq, '-m', 'comment', '--comment', '"Kubernetes service cluster ip + port for masquerade purpose"', '-m', 'set', '--match-set', 'KUBE-CLUSTER-IP', 'dst,dst', '-j', 'KUBE-MARK-MASQ'].join(' ')] : []),
    '-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT',
    '-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT',
    ...protos.map((p) => `-A KUBE-NODE-PORT -p ${p.toLowerCase()} -m comment --comment "Kubernetes nodeport ${p} port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-${p} dst -j KUBE-MARK-MASQ`),
    'COMMIT',
  ];
  return lines.join('\n') + '\n';
}

/** `proxy render --mode ipvs`: kube-ipvs0's addresses, the IPVS table, the ipsets and the nat rules. */
export function renderIpvs(ports: ServicePortInfo[], o: IpvsOptions, nat: IpvsNatOptions): string {
  const vss = virtualServers(ports, o);
  return [
    `# ip addr: ${dummyDevice} (type dummy) holds`,
    ...dummyAddresses(ports).map((ip) => `${ip}/32`),
    '# ipvsadm-save -n',
    ipvsadmSave(vss).trimEnd(),
    '# ipset save',
    ipsetSave(ports, vss).trimEnd(),
    '# iptables-restore --noflush (nat)',
    ipvsNatRules(ports, nat).trimEnd(),
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

/**
 * The `ipvsadm-restore` lines that take the kernel's table (`current`, from `ipvsadm-save -n`)
 * to the wanted one, touching only what differs — existing connections keep their servers, as
 * upstream's proxier edits the table in place (-E/-e) rather than rebuilding it.
 */
export function planIpvsTable(current: string, want: VirtualServer[]): string[] {
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
    for (const r of h?.reals.keys() ?? []) if (!w.reals.has(r)) lines.push(`-d ${vs} -r ${r}`);
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
  for (const [name, spec] of creates) {
    // Set names are at most 31 characters; the temporary name keeps within that.
    const tmp = `${name.slice(0, 26)}-tmp`;
    out.push(`create ${name} ${spec} -exist`, `create ${tmp} ${spec} -exist`, `flush ${tmp}`);
    for (const e of adds.get(name)!) out.push(`add ${tmp} ${e}`);
    out.push(`swap ${tmp} ${name}`, `destroy ${tmp}`);
  }
  return out.join('\n') + '\n';
}
