// kube-proxy's iptables mode, as a pure function: ServicePorts in, the filter and nat tables of
// a sync out as typed objects (upstream's chains, hashed names, rule arguments and order; their
// `iptables-restore --noflush` text is src/iptables' serializeDump), plus the jump rules that
// hook those chains into the built-in ones and the stale chains a saved nat table still holds.
import { serviceKey } from '../../api/keys.ts';
import { appendRule, newTable, userChain, type Table } from '../../iptables/index.ts';
import { masqueradeMark, type ProxyFlags } from '../config.ts';
import { base32Sha256Prefix } from '../hash.ts';
import { categorizeEndpoints, externallyAccessible, type ServicePortInfo } from '../model.ts';

export interface IptablesConfig {
  /** detect-local-mode ClusterCIDR: traffic from outside this range to a ClusterIP is masqueraded */
  clusterCIDR?: string;
  masqueradeAll?: boolean;
  masqueradeBit?: number;
  /** NodePorts answer on 127.0.0.0/8 too (upstream default true) */
  localhostNodePorts?: boolean;
  /** empty: NodePorts on every local address */
  nodePortAddresses?: string[];
  /** MASQUERADE --random-fully (when iptables supports it) */
  randomFully?: boolean;
  /** nf_conntrack_tcp_be_liberal is 1: no INVALID drop rule */
  conntrackTCPBeLiberal?: boolean;
  /** the nfacct counters upstream counts dropped INVALID and accepted localhost-NodePort packets in exist */
  nfacctCounters?: boolean;
}

/** The rendering options the flags give, with the addresses NodePorts answer on (undefined: every local address). */
export function iptablesConfig(f: ProxyFlags, ips: string[] | undefined): IptablesConfig {
  return {
    ...(f.clusterCIDR ? { clusterCIDR: f.clusterCIDR } : {}),
    masqueradeAll: f.masqueradeAll,
    masqueradeBit: f.masqueradeBit,
    localhostNodePorts: f.localhostNodePorts,
    ...(ips ? { nodePortAddresses: ips } : {}),
  };
}

/** Total endpoints above which per-endpoint comments are left out (upstream's largeClusterMode). */
export const largeClusterEndpointsThreshold = 1000;

/** First 16 characters of base32(sha256(s)): upstream's iptables chain-name hash. */
export const portProtoHash = (s: string): string => base32Sha256Prefix(s, 16);

const proto = (sp: ServicePortInfo) => sp.protocol.toLowerCase();
export const svcChain = (sp: ServicePortInfo) => `KUBE-SVC-${portProtoHash(sp.name + proto(sp))}`;
export const svlChain = (sp: ServicePortInfo) => `KUBE-SVL-${portProtoHash(sp.name + proto(sp))}`;
export const extChain = (sp: ServicePortInfo) => `KUBE-EXT-${portProtoHash(sp.name + proto(sp))}`;
export const fwChain = (sp: ServicePortInfo) => `KUBE-FW-${portProtoHash(sp.name + proto(sp))}`;
export const sepChain = (sp: ServicePortInfo, endpoint: string) => `KUBE-SEP-${portProtoHash(sp.name + proto(sp) + endpoint)}`;

export interface JumpRule {
  table: 'filter' | 'nat';
  chain: string;
  /** rule arguments, ending with -j TARGET */
  args: string[];
}

export const jumpRules: JumpRule[] = [
  ...['INPUT', 'FORWARD'].map((chain) => ({ table: 'filter' as const, chain, args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes externally-visible service portals', '-j', 'KUBE-EXTERNAL-SERVICES'] })),
  { table: 'filter', chain: 'INPUT', args: ['-m', 'comment', '--comment', 'kubernetes health check service ports', '-j', 'KUBE-NODEPORTS'] },
  ...['FORWARD', 'OUTPUT'].map((chain) => ({ table: 'filter' as const, chain, args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES'] })),
  { table: 'filter', chain: 'FORWARD', args: ['-m', 'comment', '--comment', 'kubernetes forwarding rules', '-j', 'KUBE-FORWARD'] },
  ...['INPUT', 'OUTPUT', 'FORWARD'].map((chain) => ({ table: 'filter' as const, chain, args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes load balancer firewall', '-j', 'KUBE-PROXY-FIREWALL'] })),
  ...['OUTPUT', 'PREROUTING'].map((chain) => ({ table: 'nat' as const, chain, args: ['-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES'] })),
  { table: 'nat', chain: 'POSTROUTING', args: ['-m', 'comment', '--comment', 'kubernetes postrouting rules', '-j', 'KUBE-POSTROUTING'] },
  ...['INPUT', 'OUTPUT'].map((chain) => ({ table: 'filter' as const, chain, args: ['-j', 'KUBE-FIREWALL'] })),
];

export interface IptablesRender {
  /** the filter and nat tables, as `iptables-restore --noflush` takes them */
  tables: [filter: Table, nat: Table];
  /** every per-service nat chain the sync keeps (the rest with a service prefix are stale) */
  activeNatChains: Set<string>;
  /** rules written, by table */
  rulesWritten: { filter: number; nat: number };
  /** nat rules of the per-service chains, by "<namespace>/<name>", for the Services written */
  serviceNatRules: Map<string, number>;
}

const probability = (n: number) => (1 / n).toFixed(10);

/**
 * A sync: the filter and nat tables' kube-proxy chains and rules. With `changed` (a partial
 * sync), the per-service chains of other Services are neither declared nor written — they
 * keep their rules and stay active; the top-level chains are always written whole.
 */
export function renderIptables(ports: ServicePortInfo[], cfg: IptablesConfig = {}, changed?: Set<string>): IptablesRender {
  const mark = masqueradeMark(cfg.masqueradeBit);
  const localhostNodePorts = cfg.localhostNodePorts ?? true;
  const filter = newTable('filter', ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL', ...(localhostNodePorts ? ['KUBE-FIREWALL'] : [])]);
  const nat = newTable('nat', ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']);
  const filterRule = (chain: string, ...args: string[]) => appendRule(filter, chain, args);
  const natRule = (chain: string, ...args: string[]) => appendRule(nat, chain, args);
  const active = new Set<string>();
  const serviceNatRules = new Map<string, number>();

  natRule('KUBE-POSTROUTING', '-m', 'mark', '!', '--mark', `${mark}/${mark}`, '-j', 'RETURN');
  natRule('KUBE-POSTROUTING', '-j', 'MARK', '--xor-mark', mark);
  natRule('KUBE-POSTROUTING', '-m', 'comment', '--comment', 'kubernetes service traffic requiring SNAT', '-j', 'MASQUERADE', ...(cfg.randomFully ? ['--random-fully'] : []));
  natRule('KUBE-MARK-MASQ', '-j', 'MARK', '--or-mark', mark);
  if (localhostNodePorts) {
    filterRule('KUBE-FIREWALL', '-m', 'comment', '--comment', 'block incoming localnet connections', '-d', '127.0.0.0/8', '!', '-s', '127.0.0.0/8', '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'DROP');
  }
  if (!cfg.conntrackTCPBeLiberal) filterRule('KUBE-FORWARD', '-m', 'conntrack', '--ctstate', 'INVALID', ...(cfg.nfacctCounters ? ['-m', 'nfacct', '--nfacct-name', 'ct_state_invalid_dropped_pkts'] : []), '-j', 'DROP');
  filterRule('KUBE-FORWARD', '-m', 'comment', '--comment', 'kubernetes forwarding rules', '-m', 'mark', '--mark', `${mark}/${mark}`, '-j', 'ACCEPT');
  filterRule('KUBE-FORWARD', '-m', 'comment', '--comment', 'kubernetes forwarding conntrack rule', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT');

  const totalEndpoints = ports.reduce((n, sp) => n + sp.endpoints.length, 0);
  const largeCluster = totalEndpoints > largeClusterEndpointsThreshold;

  // Upstream walks a Go map (random order); sorting by name makes the output reproducible.
  for (const sp of [...ports].sort((a, b) => (a.name + a.protocol < b.name + b.protocol ? -1 : 1))) {
    const p = proto(sp);
    const port = String(sp.port);
    // Upstream's match order: comment, [extra matches], protocol.
    const match = (c: string, ...extra: string[]) => ['-m', 'comment', '--comment', c, ...extra, '-m', p, '-p', p];
    const eps = categorizeEndpoints(sp);
    const hasEndpoints = eps.hasAnyEndpoints;
    const internalChain = sp.internalPolicyLocal ? svlChain(sp) : svcChain(sp);
    const clusterChain = svcChain(sp);
    const localChain = svlChain(sp);
    const externalChain = extChain(sp);
    const firewallChain = fwChain(sp);
    const hasInternalEndpoints = sp.internalPolicyLocal ? eps.localEndpoints.length > 0 : hasEndpoints;
    const hasExternalEndpoints = sp.externalPolicyLocal ? eps.localEndpoints.length > 0 : hasEndpoints;
    const usesExternalChain = hasEndpoints && externallyAccessible(sp);
    const usesFWChain = hasEndpoints && sp.loadBalancerVIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
    const internalTarget = hasEndpoints ? 'DROP' : 'REJECT';
    const internalComment = hasEndpoints ? `${sp.name} has no local endpoints` : `${sp.name} has no endpoints`;
    const externalTarget = !hasEndpoints ? 'REJECT' : 'DROP';
    const externalComment = !hasEndpoints ? `${sp.name} has no endpoints` : `${sp.name} has no local endpoints`;

    // Chains this service keeps, declared once.
    const chains: string[] = [];
    if (eps.clusterEndpoints.length > 0) chains.push(clusterChain);
    if (eps.localEndpoints.length > 0) chains.push(localChain);
    if (usesExternalChain) chains.push(externalChain);
    if (usesFWChain) chains.push(firewallChain);

    // 1. ClusterIP
    if (hasInternalEndpoints) natRule('KUBE-SERVICES', ...match(`${sp.name} cluster IP`), '-d', sp.clusterIP, '--dport', port, '-j', internalChain);
    else filterRule('KUBE-SERVICES', ...match(internalComment), '-d', sp.clusterIP, '--dport', port, '-j', internalTarget);
    // 2. externalIPs
    for (const ip of sp.externalIPs) {
      if (hasEndpoints) natRule('KUBE-SERVICES', ...match(`${sp.name} external IP`), '-d', ip, '--dport', port, '-j', externalChain);
      if (!hasExternalEndpoints) filterRule('KUBE-EXTERNAL-SERVICES', ...match(externalComment), '-d', ip, '--dport', port, '-j', externalTarget);
    }
    // 3. LoadBalancer VIPs
    for (const ip of sp.loadBalancerVIPs) {
      if (hasEndpoints) natRule('KUBE-SERVICES', ...match(`${sp.name} loadbalancer IP`), '-d', ip, '--dport', port, '-j', usesFWChain ? firewallChain : externalChain);
      if (usesFWChain) filterRule('KUBE-PROXY-FIREWALL', ...match(`${sp.name} traffic not accepted by ${firewallChain}`), '-d', ip, '--dport', port, '-j', 'DROP');
    }
    if (!hasExternalEndpoints) {
      for (const ip of sp.loadBalancerVIPs) filterRule('KUBE-EXTERNAL-SERVICES', ...match(externalComment), '-d', ip, '--dport', port, '-j', externalTarget);
    }
    // 4. NodePort
    if (sp.nodePort) {
      const nodePort = String(sp.nodePort);
      if (hasEndpoints) {
        // NodePorts on 127.0.0.0/8, counted (upstream writes this rule only with the counter).
        if (localhostNodePorts && cfg.nfacctCounters) natRule('KUBE-NODEPORTS', ...match(sp.name), '-d', '127.0.0.0/8', '--dport', nodePort, '-m', 'nfacct', '--nfacct-name', 'localhost_nps_accepted_pkts', '-j', externalChain);
        natRule('KUBE-NODEPORTS', ...match(sp.name), '--dport', nodePort, '-j', externalChain);
      }
      if (!hasExternalEndpoints) filterRule('KUBE-EXTERNAL-SERVICES', ...match(externalComment, '-m', 'addrtype', '--dst-type', 'LOCAL'), '--dport', nodePort, '-j', externalTarget);
    }
    // 5. health check NodePort
    if (sp.healthCheckNodePort) filterRule('KUBE-NODEPORTS', '-m', 'comment', '--comment', `${sp.name} health check node port`, '-m', 'tcp', '-p', 'tcp', '--dport', String(sp.healthCheckNodePort), '-j', 'ACCEPT');

    if (!hasEndpoints) continue;
    const svcKey = serviceKey(sp.namespace, sp.serviceName);
    if (changed && !changed.has(svcKey)) {
      for (const c of chains) active.add(c);
      for (const e of eps.allReachable) active.add(sepChain(sp, e.key));
      continue;
    }
    const natBefore = nat.ops.length;
    for (const c of chains) {
      nat.chains.push(userChain(c));
      active.add(c);
    }
    // 6. internal masquerade, the first rule of the internal chain
    if (hasInternalEndpoints) {
      if (cfg.masqueradeAll) natRule(internalChain, ...match(`${sp.name} cluster IP`), '-d', sp.clusterIP, '--dport', port, '-j', 'KUBE-MARK-MASQ');
      else if (cfg.clusterCIDR) natRule(internalChain, ...match(`${sp.name} cluster IP`), '-d', sp.clusterIP, '--dport', port, '!', '-s', cfg.clusterCIDR, '-j', 'KUBE-MARK-MASQ');
    }
    const writeServiceChain = (chain: string, endpoints: typeof eps.clusterEndpoints) => {
      // 9. to the endpoints: affinity first, then random choice
      const epComment = (e: { key: string }) => (largeCluster ? [] : ['-m', 'comment', '--comment', `${sp.name} -> ${e.key}`]);
      if (sp.stickyMaxAgeSeconds) {
        for (const e of endpoints) natRule(chain, ...epComment(e), '-m', 'recent', '--name', sepChain(sp, e.key), '--rcheck', '--seconds', String(sp.stickyMaxAgeSeconds), '--reap', '-j', sepChain(sp, e.key));
      }
      endpoints.forEach((e, i) => {
        const left = endpoints.length - i;
        const stat = left > 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', probability(left)] : [];
        natRule(chain, ...epComment(e), ...stat, '-j', sepChain(sp, e.key));
      });
    };
    // 7. external chain
    if (usesExternalChain) {
      if (!sp.externalPolicyLocal) {
        natRule(externalChain, '-m', 'comment', '--comment', `masquerade traffic for ${sp.name} external destinations`, '-j', 'KUBE-MARK-MASQ');
      } else {
        if (cfg.clusterCIDR) natRule(externalChain, '-m', 'comment', '--comment', `pod traffic for ${sp.name} external destinations`, '-s', cfg.clusterCIDR, '-j', clusterChain);
        natRule(externalChain, '-m', 'comment', '--comment', `masquerade LOCAL traffic for ${sp.name} external destinations`, '-m', 'addrtype', '--src-type', 'LOCAL', '-j', 'KUBE-MARK-MASQ');
        natRule(externalChain, '-m', 'comment', '--comment', `route LOCAL traffic for ${sp.name} external destinations`, '-m', 'addrtype', '--src-type', 'LOCAL', '-j', clusterChain);
      }
      if (hasExternalEndpoints) natRule(externalChain, '-j', sp.externalPolicyLocal ? localChain : clusterChain);
    }
    // 8. firewall chain
    if (usesFWChain) {
      for (const cidr of sp.loadBalancerSourceRanges) natRule(firewallChain, '-m', 'comment', '--comment', `${sp.name} loadbalancer IP`, '-s', cidr, '-j', externalChain);
      natRule(firewallChain, '-m', 'comment', '--comment', `other traffic to ${sp.name} will be dropped by KUBE-PROXY-FIREWALL`);
    }
    if (chains.includes(clusterChain)) writeServiceChain(clusterChain, eps.clusterEndpoints);
    if (chains.includes(localChain)) writeServiceChain(localChain, eps.localEndpoints);
    // 10. one chain per endpoint: hairpin masquerade, then DNAT
    for (const e of eps.allReachable) {
      const sep = sepChain(sp, e.key);
      nat.chains.push(userChain(sep));
      active.add(sep);
      const c = largeCluster ? [] : ['-m', 'comment', '--comment', sp.name];
      natRule(sep, ...c, '-s', e.ip, '-j', 'KUBE-MARK-MASQ');
      const recent = sp.stickyMaxAgeSeconds ? ['-m', 'recent', '--name', sep, '--set'] : [];
      natRule(sep, ...c, ...recent, '-m', p, '-p', p, '-j', 'DNAT', '--to-destination', e.key);
    }
    serviceNatRules.set(svcKey, (serviceNatRules.get(svcKey) ?? 0) + nat.ops.length - natBefore);
  }

  // The NodePort dispatch is the last rule of KUBE-SERVICES.
  const nodePortsComment = ['-m', 'comment', '--comment', 'kubernetes service nodeports; NOTE: this must be the last rule in this chain'];
  if (!cfg.nodePortAddresses?.length) natRule('KUBE-SERVICES', ...nodePortsComment, '-m', 'addrtype', '--dst-type', 'LOCAL', ...(localhostNodePorts ? [] : ['!', '-d', '127.0.0.0/8']), '-j', 'KUBE-NODEPORTS');
  else for (const ip of cfg.nodePortAddresses) natRule('KUBE-SERVICES', ...nodePortsComment, '-d', ip, '-j', 'KUBE-NODEPORTS');

  return { tables: [filter, nat], activeNatChains: active, rulesWritten: { filter: filter.ops.length, nat: nat.ops.length }, serviceNatRules };
}

const servicePrefixes = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-SEP-', 'KUBE-FW-', 'KUBE-EXT-'];

/** The per-service chains of a saved nat table (`iptables-save -t nat`, parsed) that the sync no longer keeps. */
export function staleChains(natChains: readonly string[], active: Set<string>): string[] {
  return natChains.filter((name) => servicePrefixes.some((p) => name.startsWith(p)) && !active.has(name));
}

/** Deletes chains in the same transaction, as upstream does: each declared (so flushed), then -X after the rules. */
export function deleteChains(table: Table, chains: readonly string[]): void {
  for (const c of chains) table.chains.push(userChain(c));
  for (const c of chains) table.ops.push({ op: 'deleteChain', chain: c });
}
