// kube-proxy's configuration as every mode takes it: the flags a user gives (with
// upstream's names and defaults) and how --nodeport-addresses becomes the addresses
// NodePorts answer on.
import { isSchedulerName, schedulerNames, type SchedulerName } from './schedulers.ts';
import { cidrContains, isLoopback, parseCIDR } from '../util/ip.ts';

export type ProxyMode = 'iptables' | 'nftables' | 'userspace' | 'ipvs';
export const proxyModes: ProxyMode[] = ['iptables', 'nftables', 'userspace', 'ipvs'];
/** kube-proxy's mode when none is asked for, as upstream's on Linux */
export const defaultProxyMode: ProxyMode = 'iptables';

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

/** The IPVS scheduler virtual servers get unless a Service asks for its own (--ipvs-scheduler, rr by default). */
export const defaultScheduler = (f: ProxyFlags): SchedulerName => (f.scheduler as SchedulerName | undefined) ?? 'rr';

/** The fwmark bit that marks traffic for masquerading, as the modes' rules write it (bit 14: 0x4000). */
export const masqueradeMark = (bit = 14) => `0x${(1 << bit).toString(16).padStart(4, '0')}`;

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

/**
 * What podpath's kube-proxy takes from a KubeProxyConfiguration file (--config), by flag name.
 * Sync periods and masquerading come from the section of the mode in use, as upstream reads them
 * (IPVS and userspace modes masquerade by the iptables section).
 */
export interface KubeProxyFileSettings {
  mode?: ProxyMode;
  nodeName?: string;
  kubeconfig?: string;
  healthzBindAddress?: string;
  metricsBindAddress?: string;
  clusterCidr?: string;
  nodeportAddresses?: string;
  syncPeriod?: string;
  minSyncPeriod?: string;
  masqueradeAll?: boolean;
  masqueradeBit?: string;
  iptablesLocalhostNodeports?: string;
  ipvsScheduler?: string;
  ipvsStrictArp?: boolean;
}

// KubeProxyConfiguration v1alpha1's fields: those podpath uses, and those it accepts and ignores.
const fileFields: Record<string, readonly string[] | 'ignored'> = {
  apiVersion: [], kind: [], mode: [], clusterCIDR: [], hostnameOverride: [], healthzBindAddress: [], metricsBindAddress: [], nodePortAddresses: [],
  clientConnection: ['kubeconfig', 'acceptContentTypes', 'contentType', 'qps', 'burst'],
  iptables: ['masqueradeBit', 'masqueradeAll', 'localhostNodePorts', 'syncPeriod', 'minSyncPeriod'],
  ipvs: ['syncPeriod', 'minSyncPeriod', 'scheduler', 'excludeCIDRs', 'strictARP', 'tcpTimeout', 'tcpFinTimeout', 'udpTimeout'],
  nftables: ['masqueradeBit', 'masqueradeAll', 'syncPeriod', 'minSyncPeriod'],
  featureGates: 'ignored', bindAddress: 'ignored', bindAddressHardFail: 'ignored', enableProfiling: 'ignored', oomScoreAdj: 'ignored', portRange: 'ignored',
  conntrack: 'ignored', configSyncPeriod: 'ignored', winkernel: 'ignored', showHiddenMetricsForVersion: 'ignored', detectLocalMode: 'ignored', detectLocal: 'ignored', logging: 'ignored',
};

/** Reads a KubeProxyConfiguration (already parsed from YAML), refusing what kube-proxy's strict decoding refuses. */
export function kubeProxyFileSettings(doc: unknown, file: string): KubeProxyFileSettings {
  const bad = (what: string) => new ProxyConfigError(`--config ${file}: ${what}`);
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw bad('not a KubeProxyConfiguration object');
  const c = doc as Record<string, unknown>;
  if (c.apiVersion !== 'kubeproxy.config.k8s.io/v1alpha1' || c.kind !== 'KubeProxyConfiguration') throw bad(`apiVersion/kind must be kubeproxy.config.k8s.io/v1alpha1 KubeProxyConfiguration, not ${String(c.apiVersion)} ${String(c.kind)}`);
  for (const [k, v] of Object.entries(c)) {
    const known = fileFields[k];
    if (!known) throw bad(`unknown field "${k}"`);
    if (known === 'ignored' || !known.length || v === null || v === undefined) continue;
    if (typeof v !== 'object' || Array.isArray(v)) throw bad(`${k}: must be an object`);
    for (const f of Object.keys(v)) if (!known.includes(f)) throw bad(`unknown field "${k}.${f}"`);
  }
  const section = (k: string) => (c[k] ?? {}) as Record<string, unknown>;
  const str = (v: unknown, field: string) => {
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw bad(`${field}: must be a string`);
    return v;
  };
  const bool = (v: unknown, field: string) => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw bad(`${field}: must be true or false`);
    return v;
  };
  // A zero duration is unset: kube-proxy's defaulting gives it the default (kubeadm's ConfigMap writes 0s).
  const duration = (v: unknown, field: string) => {
    const d = str(v, field);
    return d === undefined || /^(0+(\.0+)?(ns|us|µs|ms|s|m|h)?)+$/.test(d) ? undefined : d;
  };
  const modeText = str(c.mode, 'mode');
  if (modeText !== undefined && !proxyModes.includes(modeText as ProxyMode)) throw bad(`mode: ${JSON.stringify(modeText)} is not one of ${proxyModes.join(', ')}`);
  const mode = modeText as ProxyMode | undefined;
  // The mode's own section holds its sync periods; IPVS (and the userspace proxier) masquerade by iptables'.
  const periods = mode === 'ipvs' ? 'ipvs' : mode === 'nftables' ? 'nftables' : 'iptables';
  const masq = mode === 'nftables' ? 'nftables' : 'iptables';
  const nodePorts = c.nodePortAddresses;
  if (nodePorts !== undefined && nodePorts !== null && (!Array.isArray(nodePorts) || nodePorts.some((a) => typeof a !== 'string'))) throw bad('nodePortAddresses: must be a list of strings');
  const bit = section(masq).masqueradeBit;
  if (bit !== undefined && bit !== null && !Number.isInteger(bit)) throw bad(`${masq}.masqueradeBit: must be a whole number`);
  const out: KubeProxyFileSettings = {
    mode,
    nodeName: str(c.hostnameOverride, 'hostnameOverride'),
    kubeconfig: str(section('clientConnection').kubeconfig, 'clientConnection.kubeconfig'),
    healthzBindAddress: str(c.healthzBindAddress, 'healthzBindAddress'),
    metricsBindAddress: str(c.metricsBindAddress, 'metricsBindAddress'),
    clusterCidr: str(c.clusterCIDR, 'clusterCIDR'),
    nodeportAddresses: Array.isArray(nodePorts) && nodePorts.length ? nodePorts.join(',') : undefined,
    syncPeriod: duration(section(periods).syncPeriod, `${periods}.syncPeriod`),
    minSyncPeriod: duration(section(periods).minSyncPeriod, `${periods}.minSyncPeriod`),
    masqueradeAll: bool(section(masq).masqueradeAll, `${masq}.masqueradeAll`),
    masqueradeBit: typeof bit === 'number' ? String(bit) : undefined,
    iptablesLocalhostNodeports: bool(section('iptables').localhostNodePorts, 'iptables.localhostNodePorts')?.toString(),
    ipvsScheduler: str(section('ipvs').scheduler, 'ipvs.scheduler'),
    ipvsStrictArp: bool(section('ipvs').strictARP, 'ipvs.strictARP'),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as KubeProxyFileSettings;
}

