// kube-proxy's configuration as both rule backends take it: the flags a user gives (with
// upstream's names and defaults) and how --nodeport-addresses becomes the addresses
// NodePorts answer on.
import { isSchedulerName, schedulerNames } from './schedulers.ts';
import { cidrContains, isLoopback, parseCIDR } from '../util/ip.ts';
import type { IptablesConfig } from './iptables.ts';
import type { NftablesConfig } from './nftables.ts';

export type ProxyMode = 'iptables' | 'nftables' | 'userspace' | 'ipvs';
export const proxyModes: ProxyMode[] = ['iptables', 'nftables', 'userspace', 'ipvs'];

export interface ProxyFlags {
  clusterCIDR?: string;
  masqueradeAll: boolean;
  masqueradeBit: number;
  /** iptables mode: NodePorts answer on 127.0.0.0/8 too */
  localhostNodePorts: boolean;
  /** CIDRs and/or "primary"; empty: the mode's default (iptables: all addresses, nftables: primary) */
  nodePortAddresses: string[];
  /** Service CIDRs (nftables mode drops traffic to their unallocated addresses) */
  serviceCIDRs?: string[];
  /** userspace and IPVS modes: the default scheduler (--ipvs-scheduler), rr unless given */
  scheduler?: string;
  /** userspace mode: idle UDP sessions end after this long */
  udpTimeoutMs?: number;
  /** userspace and IPVS modes: arp_ignore=1/arp_announce=2 (--ipvs-strict-arp; upstream's default is off) */
  strictARP?: boolean;
}

export class ProxyConfigError extends Error {
  readonly code = 'BadFlags';
}

/** Checks the flags that take addresses, naming the bad one. */
export function validateFlags(f: ProxyFlags): void {
  if (f.clusterCIDR && !parseCIDR(f.clusterCIDR)) throw new ProxyConfigError(`--cluster-cidr: ${JSON.stringify(f.clusterCIDR)} is not a CIDR`);
  for (const a of f.nodePortAddresses) if (a !== 'primary' && !parseCIDR(a)) throw new ProxyConfigError(`--nodeport-addresses: ${JSON.stringify(a)} is neither a CIDR nor "primary"`);
  for (const c of f.serviceCIDRs ?? []) if (!parseCIDR(c)) throw new ProxyConfigError(`--service-cidr: ${JSON.stringify(c)} is not a CIDR`);
  if (!Number.isInteger(f.masqueradeBit) || f.masqueradeBit < 0 || f.masqueradeBit > 31) throw new ProxyConfigError(`--masquerade-bit: must be 0..31, not ${f.masqueradeBit}`);
  if (f.scheduler !== undefined && !isSchedulerName(f.scheduler)) throw new ProxyConfigError(`--ipvs-scheduler: ${JSON.stringify(f.scheduler)} is not one of ${schedulerNames.join(', ')}`);
}

/**
 * The addresses NodePorts answer on, or undefined for "every local address".
 * `primary` is the node's own IP; a CIDR selects the local addresses inside it.
 */
export function nodePortIPs(mode: ProxyMode, spec: string[], nodeIP: string | undefined, localIPs: string[], localhostNodePorts: boolean): string[] | undefined {
  const effective = spec.length ? spec : mode === 'nftables' ? ['primary'] : [];
  if (!effective.length || effective.some((a) => /^0\.0\.0\.0\/0$/.test(a))) return undefined;
  const out = new Set<string>();
  for (const a of effective) {
    if (a === 'primary') {
      if (nodeIP) out.add(nodeIP);
      continue;
    }
    const c = parseCIDR(a)!;
    for (const ip of localIPs) if (cidrContains(c, ip)) out.add(ip);
  }
  // Loopback NodePorts exist only in iptables mode, with localhostNodePorts.
  return [...out].filter((ip) => !isLoopback(ip) || (mode === 'iptables' && localhostNodePorts));
}

export function iptablesConfig(f: ProxyFlags, ips: string[] | undefined): IptablesConfig {
  return {
    ...(f.clusterCIDR ? { clusterCIDR: f.clusterCIDR } : {}),
    masqueradeAll: f.masqueradeAll,
    masqueradeBit: f.masqueradeBit,
    localhostNodePorts: f.localhostNodePorts,
    ...(ips ? { nodePortAddresses: ips } : {}),
  };
}

export function nftablesConfig(f: ProxyFlags, ips: string[] | undefined, nodeIP: string | undefined): NftablesConfig {
  return {
    ...(f.clusterCIDR ? { clusterCIDR: f.clusterCIDR } : {}),
    masqueradeAll: f.masqueradeAll,
    masqueradeBit: f.masqueradeBit,
    ...(ips ? { nodePortIPs: ips } : {}),
    ...(nodeIP ? { nodeIP } : {}),
    ...(f.serviceCIDRs?.length ? { serviceCIDRs: f.serviceCIDRs } : {}),
  };
}
