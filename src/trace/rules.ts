// A node's packet rules computed from the cluster's objects, as the lab's node would hold them:
// kube-proxy's (rendered by the same functions the proxy runs, then read back into the typed
// models the kernel's own listings are read into) and the network daemon's masquerade rule for pod
// traffic leaving the cluster network. The walkers take them as they would take the kernel's.
import type { EndpointSlice, Service } from '../api/types.ts';
import { parseDump, newTable, type Table } from '../iptables/index.ts';
import { Fake, type Ruleset } from '../knftables/index.ts';
import { modes } from '../proxy/app/modes.ts';
import { nodePortIPs, type ProxyFlags } from '../proxy/config.ts';
import { jumpRules } from '../proxy/iptables/render.ts';
import { servicePorts } from '../proxy/model.ts';
import { isSchedulerName, type SchedulerName } from '../proxy/schedulers.ts';
import { dummyAddresses, virtualServers, type VirtualServer } from '../proxy/virtualserver.ts';
import { fullSyncTransaction, kubeProxyTable, nftablesConfig } from '../proxy/nftables/render.ts';
import { masqueradeComment } from '../cni/network.ts';
import { IptablesWalker } from './iptables.ts';
import type { ClusterIndex } from './cluster.ts';
import type { LocalProxy } from './engine.ts';
import type { RuleWalker } from './netfilter.ts';
import type { Packet } from './types.ts';
import { NftablesWalker } from './nftables.ts';

export type TraceProxyMode = 'iptables' | 'nftables';
export const traceProxyModes: readonly TraceProxyMode[] = ['iptables', 'nftables'];

export interface NodeRulesInput {
  mode: TraceProxyMode;
  nodeName: string;
  nodeIP: string;
  /** the node's local addresses (NodePorts answer on them in iptables mode) */
  localIPs: string[];
  services: Service[];
  slices: EndpointSlice[];
  /** the pod network (kube-proxy's clusterCIDR, flanneld's masquerade rule) */
  clusterCIDR: string;
  zone?: string;
}

/** kube-proxy's flags as the lab's KubeProxyConfiguration gives them. */
export const labProxyFlags = (clusterCIDR: string): ProxyFlags => ({ clusterCIDR, masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: true, nodePortAddresses: [] });

/** The built-in chains' jumps into kube-proxy's chains, each put first in its chain as kube-proxy puts them. */
function jumpTables(): Table[] {
  const filter = newTable('filter');
  const nat = newTable('nat');
  for (const t of [filter, nat]) for (const c of t.name === 'filter' ? ['INPUT', 'FORWARD', 'OUTPUT'] : ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']) t.chains.push({ name: c, policy: 'ACCEPT', counters: { packets: 0n, bytes: 0n } });
  for (const j of jumpRules) (j.table === 'filter' ? filter : nat).ops.unshift({ op: 'append', rule: { chain: j.chain, args: j.args } });
  return [filter, nat];
}

/** The network daemon's rule (--ip-masq): pod traffic leaving the cluster network is masqueraded (src/cni/network.ts). */
function masqueradeTable(clusterCIDR: string): Table {
  const nat = newTable('nat');
  nat.chains.push({ name: 'POSTROUTING', policy: 'ACCEPT', counters: { packets: 0n, bytes: 0n } });
  nat.ops.push({ op: 'append', rule: { chain: 'POSTROUTING', args: ['-s', clusterCIDR, '!', '-d', clusterCIDR, '-m', 'comment', '--comment', masqueradeComment, '-j', 'MASQUERADE'] } });
  return nat;
}

/** A Fake's table as the kernel lists it back (`nft -j list ruleset` read by parseRuleset). */
export function rulesetOf(fake: Fake): Ruleset {
  const rs: Ruleset = { tables: [], chains: [], rules: [], sets: [], maps: [], elements: [], flowtables: [] };
  const t = fake.table();
  if (!t) return rs;
  const where = { family: kubeProxyTable.family, table: kubeProxyTable.table };
  rs.tables.push({ ...t.table, family: where.family, name: where.table });
  for (const c of t.chains.values()) {
    rs.chains.push({ ...c.chain, ...where });
    for (const r of c.rules) rs.rules.push({ ...r, ...where });
  }
  for (const s of t.sets.values()) {
    rs.sets.push({ ...s.def, ...where });
    for (const e of s.elements) rs.elements.push({ ...e, ...where });
  }
  for (const m of t.maps.values()) {
    rs.maps.push({ ...m.def, ...where });
    for (const e of m.elements) rs.elements.push({ ...e, ...where });
  }
  return rs;
}

export interface NodeRules {
  walkers: RuleWalker[];
  /** the rules as `podpath proxy render` prints them (iptables-restore input or the nft transaction) */
  rendered: string;
  /** kube-proxy's tables as parsed from `rendered` (iptables mode) */
  tables?: Table[];
  /** kube-proxy's table as the kernel would list it back (nftables mode) */
  ruleset?: Ruleset;
}

/** The node's rules in this proxy mode, from the objects. */
export function renderNodeRules(i: NodeRulesInput): NodeRules {
  const flags = labProxyFlags(i.clusterCIDR);
  const ips = nodePortIPs(i.mode, flags.nodePortAddresses, i.nodeIP, i.localIPs, flags.localhostNodePorts);
  const ports = servicePorts(i.services, i.slices, i.nodeName, i.zone);
  const node = { flags, nodeIP: i.nodeIP, ...(ips ? { nodePortIPs: ips } : {}) };
  if (i.mode === 'iptables') {
    const rendered = modes.iptables.render(ports, node);
    const tables = parseDump(rendered);
    return { rendered, tables, walkers: [new IptablesWalker([...jumpTables(), ...tables, masqueradeTable(i.clusterCIDR)])] };
  }
  const tx = fullSyncTransaction(ports, nftablesConfig(flags, ips, i.nodeIP));
  const fake = new Fake(kubeProxyTable);
  fake.run(tx);
  const ruleset = rulesetOf(fake);
  return { rendered: tx.toString(), ruleset, walkers: [new IptablesWalker([masqueradeTable(i.clusterCIDR)]), new NftablesWalker(ruleset)] };
}

/**
 * kube-proxy's userspace mode on the cluster's nodes, from the objects: the virtual servers it
 * listens on (every ClusterIP, external and LoadBalancer IP bound to the node, NodePorts on every
 * address), as its own process accepts them. Each node's addresses gain the ClusterIPs its dummy
 * device holds, so a ClusterIP is local there, as in the kernel.
 */
export function userspaceProxy(ix: ClusterIndex, scheduler: string): (node: string, pkt: Packet) => LocalProxy | undefined {
  const byNode = new Map<string, VirtualServer[]>();
  const sched = (isSchedulerName(scheduler) ? scheduler : 'rr') as SchedulerName;
  for (const n of ix.nodes.values()) {
    const zone = ix.objects.nodes.find((x) => x.metadata.name === n.name)?.metadata.labels?.['topology.kubernetes.io/zone'];
    const ports = servicePorts(ix.objects.services, ix.objects.slices, n.name, zone);
    for (const ip of dummyAddresses(ports)) n.localIPs.add(ip);
    byNode.set(n.name, virtualServers(ports, { scheduler: sched, nodePortIPs: ['0.0.0.0'], mode: 'userspace' }));
  }
  return (node, pkt) => {
    const n = ix.nodes.get(node);
    const vs = byNode.get(node)?.find((v) => v.protocol.toLowerCase() === pkt.protocol && v.port === pkt.dstPort && (v.ip === pkt.dst || (v.ip === '0.0.0.0' && n?.localIPs.has(pkt.dst))));
    return vs && { proxy: 'kube-proxy (userspace)', service: vs.service, scheduler: vs.scheduler, reals: vs.reals.map((r) => ({ ip: r.ip, port: r.port, weight: r.weight })) };
  };
}
