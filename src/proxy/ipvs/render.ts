// IPVS mode's own rules (pure): the ipsets upstream's IPVS proxier fills, the nat and filter
// rules it keeps beside the IPVS table (typed tables, as iptables mode's), their jumps, and what
// `podpath proxy render --mode ipvs` prints. The IPVS table itself (virtual and real servers) is
// ../virtualserver.ts, shared with userspace mode.
import { appendRule, joinArgs, newTable, serializeDump, type Table, type TableName } from '../../iptables/index.ts';
import { cidrContains, parseCIDR } from '../../util/ip.ts';
import type { ServicePortInfo } from '../model.ts';
import { dummyAddresses, dummyDevice, ipvsadmSave, virtualServers, type IpvsOptions } from '../virtualserver.ts';

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
export const ipvsJumpRules: { table: TableName; chain: string; args: string[] }[] = (
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
const setJumps: [set: string, table: TableName, from: string, to: string, match: string, proto?: string][] = [
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
 * (writeIptablesRules), as the tables of an iptables-restore --noflush: masquerading by the
 * ipsets, hairpin through KUBE-LOOP-BACK, LoadBalancer source ranges, the health-check ports, and
 * the filter that stops other ports of the node being reached through a Service address.
 */
export function ipvsIptablesRules(s: IpvsSets, o: IpvsNatOptions): [nat: Table, filter: Table] {
  const mark = `0x${(1 << o.masqueradeBit).toString(16)}`;
  const set = (n: string) => s.sets.get(n)!;
  const nonEmpty = (n: string) => set(n).entries.size > 0;
  const nat = newTable('nat', ['KUBE-SERVICES', 'KUBE-POSTROUTING', 'KUBE-NODE-PORT', 'KUBE-LOAD-BALANCER', 'KUBE-MARK-MASQ']);
  const filter = newTable('filter', ['KUBE-FORWARD', 'KUBE-NODE-PORT', 'KUBE-PROXY-FIREWALL', 'KUBE-SOURCE-RANGES-FIREWALL', 'KUBE-IPVS-FILTER', 'KUBE-IPVS-OUT-FILTER']);
  const natRule = (chain: string, ...args: string[]) => appendRule(nat, chain, args);
  const filterRule = (chain: string, ...args: string[]) => appendRule(filter, chain, args);
  natRule('KUBE-SERVICES', '-s', '127.0.0.0/8', '-j', 'RETURN');
  for (const [name, table, from, to, match, proto] of setJumps) {
    if (!nonEmpty(name)) continue;
    appendRule(table === 'nat' ? nat : filter, from, [...(proto ? ['-p', proto] : []), '-m', 'comment', '--comment', set(name).comment, '-m', 'set', '--match-set', name, match, '-j', to]);
  }
  const matchSet = (name: string, m: string) => ['-m', 'comment', '--comment', set(name).comment, '-m', 'set', '--match-set', name, m];
  if (nonEmpty('KUBE-CLUSTER-IP')) {
    // Off-cluster traffic to a ClusterIP is masqueraded; without a cluster CIDR, node-originated traffic from a VIP is.
    if (o.masqueradeAll) natRule('KUBE-SERVICES', ...matchSet('KUBE-CLUSTER-IP', 'dst,dst'), '-j', 'KUBE-MARK-MASQ');
    else if (o.clusterCIDR) natRule('KUBE-SERVICES', ...matchSet('KUBE-CLUSTER-IP', 'dst,dst'), '!', '-s', o.clusterCIDR, '-j', 'KUBE-MARK-MASQ');
    else natRule('KUBE-SERVICES', ...matchSet('KUBE-CLUSTER-IP', 'src,dst'), '-j', 'KUBE-MARK-MASQ');
  }
  // External IPs: accepted from off the machine (not a bridge port, not a local source) and when local.
  const externalIPRules = (name: string) => {
    natRule('KUBE-SERVICES', ...matchSet(name, 'dst,dst'), '-m', 'physdev', '!', '--physdev-is-in', '-m', 'addrtype', '!', '--src-type', 'LOCAL', '-j', 'ACCEPT');
    natRule('KUBE-SERVICES', ...matchSet(name, 'dst,dst'), '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'ACCEPT');
  };
  if (nonEmpty('KUBE-EXTERNAL-IP')) {
    natRule('KUBE-SERVICES', ...matchSet('KUBE-EXTERNAL-IP', 'dst,dst'), '-j', 'KUBE-MARK-MASQ');
    externalIPRules('KUBE-EXTERNAL-IP');
  }
  if (nonEmpty('KUBE-EXTERNAL-IP-LOCAL')) externalIPRules('KUBE-EXTERNAL-IP-LOCAL');
  natRule('KUBE-SERVICES', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'KUBE-NODE-PORT');
  natRule('KUBE-LOAD-BALANCER', '-j', 'KUBE-MARK-MASQ');
  filterRule('KUBE-SOURCE-RANGES-FIREWALL', '-j', 'DROP');
  for (const e of s.noNodeAccess) filterRule('KUBE-IPVS-OUT-FILTER', '-s', e.ip, '-m', 'ipvs', '--vaddr', e.ip, '--vproto', e.protocol, '--vport', String(e.port), '-j', 'DROP');
  // Accept what IPVS serves, in case later rules would drop it (last in KUBE-SERVICES).
  for (const name of ['KUBE-CLUSTER-IP', 'KUBE-LOAD-BALANCER']) if (nonEmpty(name)) natRule('KUBE-SERVICES', '-m', 'set', '--match-set', name, 'dst,dst', '-j', 'ACCEPT');
  filterRule('KUBE-FORWARD', '-m', 'comment', '--comment', 'kubernetes forwarding rules', '-m', 'mark', '--mark', `${mark}/${mark}`, '-j', 'ACCEPT');
  filterRule('KUBE-FORWARD', '-m', 'comment', '--comment', 'kubernetes forwarding conntrack rule', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT');
  filterRule('KUBE-NODE-PORT', ...matchSet('KUBE-HEALTH-CHECK-NODE-PORT', 'dst'), '-j', 'ACCEPT');
  for (const [name, m] of [['KUBE-LOAD-BALANCER', 'dst,dst'], ['KUBE-CLUSTER-IP', 'dst,dst'], ['KUBE-EXTERNAL-IP', 'dst,dst'], ['KUBE-EXTERNAL-IP-LOCAL', 'dst,dst'], ['KUBE-HEALTH-CHECK-NODE-PORT', 'dst']] as const) {
    filterRule('KUBE-IPVS-FILTER', '-m', 'set', '--match-set', name, m, '-j', 'RETURN');
  }
  filterRule('KUBE-IPVS-FILTER', '-m', 'conntrack', '--ctstate', 'NEW', '-m', 'set', '--match-set', 'KUBE-IPVS-IPS', 'dst', '-j', 'REJECT');
  natRule('KUBE-POSTROUTING', '-m', 'mark', '!', '--mark', `${mark}/${mark}`, '-j', 'RETURN');
  natRule('KUBE-POSTROUTING', '-j', 'MARK', '--xor-mark', mark);
  natRule('KUBE-POSTROUTING', '-m', 'comment', '--comment', 'kubernetes service traffic requiring SNAT', '-j', 'MASQUERADE', '--random-fully');
  natRule('KUBE-MARK-MASQ', '-j', 'MARK', '--or-mark', mark);
  return [nat, filter];
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
    ...ipvsJumpRules.map((j) => `# -t ${j.table} -I ${j.chain} ${joinArgs(j.args, 'restore')}`),
    '# iptables-restore --noflush',
    serializeDump(ipvsIptablesRules(sets, nat), 'restore').trimEnd(),
    '',
  ].join('\n');
}
