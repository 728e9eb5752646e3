// kube-proxy's modes in one table: for each, what `podpath proxy render` prints, how the live
// backend is made, and what the machine needs for it. Whatever depends on the mode (render, the
// proxy server, preflight) looks it up here rather than switching on the name.
import { commandExists, defaultExecutor, type Executor } from '../../exec/exec.ts';
import { Iptables, serializeDump } from '../../iptables/index.ts';
import type { Backend } from '../backend.ts';
import { defaultScheduler, type ProxyFlags, type ProxyMode } from '../config.ts';
import { realDummy } from '../dummydevice.ts';
import { IptablesBackend } from '../iptables/backend.ts';
import { iptablesConfig, renderIptables } from '../iptables/render.ts';
import { IpvsBackend, ipvsMissing } from '../ipvs/backend.ts';
import { renderIpvs } from '../ipvs/render.ts';
import { realIpvs } from '../ipvs/shell.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { ServicePortInfo } from '../model.ts';
import { kubeProxyNftables, NftablesBackend } from '../nftables/backend.ts';
import { nftablesConfig, renderNftables } from '../nftables/render.ts';
import { liveNodePortIPs } from '../nodeaddresses.ts';
import { UserspaceBackend } from '../userspace/backend.ts';
import { renderUserspace } from '../userspace/render.ts';
import { realTransparent } from '../userspace/transparent.ts';
import type { IpvsOptions } from '../virtualserver.ts';

/** The node an offline render is made for. */
export interface OfflineNode {
  flags: ProxyFlags;
  /** its primary IP, when given */
  nodeIP?: string;
  /** the addresses NodePorts answer on; undefined: every local address */
  nodePortIPs?: string[];
}

/** What a live backend is made from. */
export interface BackendContext {
  flags: ProxyFlags;
  metrics: ProxyMetrics;
  syncPeriodMs: number;
  log: (s: string) => void;
  /** what every command of the backend runs through */
  ex: Executor;
}

export interface ProxyModeSpec {
  /** the mode's own commands, each with the Debian package that has it (preflight checks them in this order, then conntrack where the kernel NATs, then ip) */
  tools: readonly (readonly [command: string, pkg: string])[];
  /** what the kernel lacks for this mode, and what works instead; undefined when it has what it needs */
  unsupported?(): string | undefined;
  /** Service traffic is NATed by the kernel: stale UDP conntrack entries must go after endpoint changes */
  kernelNAT: boolean;
  /** why this offline render cannot be made (a flag it needs), or undefined */
  offlineProblem?(node: OfflineNode): string | undefined;
  /** what a full sync would apply, from the ServicePorts (`podpath proxy render`) */
  render(ports: ServicePortInfo[], node: OfflineNode): string;
  newBackend(c: BackendContext): Backend;
}

/** IPVS and userspace modes balance over the same table; offline, NodePorts are per given node address. */
const offlineIpvsTable = (n: OfflineNode, mode: IpvsOptions['mode']): IpvsOptions => ({ scheduler: defaultScheduler(n.flags), nodePortIPs: n.nodePortIPs ?? (n.nodeIP ? [n.nodeIP] : ['0.0.0.0']), mode });

export const modes: Record<ProxyMode, ProxyModeSpec> = {
  iptables: {
    tools: [['iptables-restore', 'iptables'], ['iptables-save', 'iptables']],
    kernelNAT: true,
    render: (ports, n) => serializeDump(renderIptables(ports, iptablesConfig(n.flags, n.nodePortIPs)).tables, 'restore'),
    newBackend: (c) => new IptablesBackend(c.flags, c.metrics, new Iptables({ executor: c.ex, timeoutMs: 600_000 }), c.syncPeriodMs, Date.now, c.ex),
  },
  nftables: {
    tools: [['nft', 'nftables']],
    kernelNAT: true,
    offlineProblem: (n) => (n.nodePortIPs !== undefined && n.nodePortIPs.length === 0 ? '--node-ip is needed: NodePorts answer on the node\'s primary IP (or give --nodeport-addresses 0.0.0.0/0)' : undefined),
    render: (ports, n) => renderNftables(ports, nftablesConfig(n.flags, n.nodePortIPs, n.nodeIP)),
    newBackend: (c) => {
      const nft = kubeProxyNftables(c.ex);
      // By nft -f -, every sync runs a new nft, which first re-reads the whole table: say so.
      c.log(`nftables transactions by ${nft.transport}`);
      return new NftablesBackend(c.flags, c.metrics, nft, Date.now, c.ex);
    },
  },
  userspace: {
    tools: [],
    // The proxy connects onward itself: no NAT state in the kernel.
    kernelNAT: false,
    render: (ports, n) => renderUserspace(ports, offlineIpvsTable(n, 'userspace')),
    newBackend: ({ flags, log, ex }) =>
      new UserspaceBackend({
        scheduler: defaultScheduler(flags),
        strictARP: flags.strictARP ?? false,
        udpTimeoutMs: flags.udpTimeoutMs ?? 250,
        connectTimeoutMs: 1000,
        nodePortIPs: (nodeIP) => liveNodePortIPs('userspace', flags, nodeIP, ex),
        dummy: realDummy(ex),
        transparent: realTransparent(ex),
        log,
      }),
  },
  ipvs: {
    tools: [['iptables-restore', 'iptables'], ['iptables-save', 'iptables'], ['ipvsadm', 'ipvsadm'], ['ipvsadm-save', 'ipvsadm'], ['ipset', 'ipset']],
    unsupported: () => ipvsMissing(),
    kernelNAT: true,
    render: (ports, n) => {
      const nat = { ...(n.flags.clusterCIDR ? { clusterCIDR: n.flags.clusterCIDR } : {}), ...(n.nodeIP ? { nodeIP: n.nodeIP } : {}), masqueradeAll: n.flags.masqueradeAll, masqueradeBit: n.flags.masqueradeBit };
      return renderIpvs(ports, offlineIpvsTable(n, 'ipvs'), nat);
    },
    newBackend: ({ flags, ex }) => {
      const m = ipvsMissing();
      if (m) throw new Error(m);
      return new IpvsBackend(flags, realIpvs(ex), realDummy(ex), ex);
    },
  },
};

/** What the live proxy needs on this machine, each with how to get it; empty when all is there. */
export function proxyPreflight(mode: ProxyMode, ex: Executor = defaultExecutor): string[] {
  const spec = modes[mode];
  const unsupported = spec.unsupported?.();
  if (unsupported) return [unsupported];
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root: kube-proxy writes the kernel\'s packet rules; run it as root in the network namespace whose rules it owns');
  const tools = [...spec.tools, ...(spec.kernelNAT ? [['conntrack', 'conntrack'] as const] : []), ['ip', 'iproute2'] as const];
  for (const [cmd, pkg] of tools) if (!commandExists(cmd, ex)) missing.push(`${cmd}: apt-get install -y ${pkg}`);
  return missing;
}
