// The node's own addresses as the live proxy reads them (`ip addr`), and the addresses NodePorts
// answer on here: --nodeport-addresses CIDRs select among the node's addresses.
import { defaultExecutor, run, type Executor } from '../exec/exec.ts';
import { nodePortIPs, type ProxyFlags, type ProxyMode } from './config.ts';

/** IPv4 addresses `ip addr show [ARGS]` lists, leaving out the interface `except`. */
export function ipv4Addresses(args: string[], except?: string, ex: Executor = defaultExecutor): string[] {
  const j = JSON.parse(run(['ip', '-j', '-4', 'addr', 'show', ...args], {}, ex) || '[]') as { ifname?: string; addr_info?: { local?: string }[] }[];
  return j.filter((l) => l.ifname !== except).flatMap((l) => (l.addr_info ?? []).map((a) => a.local ?? '')).filter(Boolean);
}

/** The node's IPv4 addresses, for --nodeport-addresses CIDRs. */
function localIPv4s(ex: Executor): string[] {
  try {
    return ipv4Addresses([], undefined, ex);
  } catch {
    return [];
  }
}

/** The addresses NodePorts answer on here (the interfaces are read only when CIDRs ask for them). */
export function liveNodePortIPs(mode: ProxyMode, flags: ProxyFlags, nodeIP: string | undefined, ex: Executor = defaultExecutor): string[] | undefined {
  const local = flags.nodePortAddresses.some((a) => a !== 'primary') ? localIPv4s(ex) : [];
  return nodePortIPs(mode, flags.nodePortAddresses, nodeIP, local, flags.localhostNodePorts);
}
