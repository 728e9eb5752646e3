// The node's side of the pod network, kept as the Node objects say, as flannel's daemon keeps it:
// masquerade for pod traffic leaving the cluster network (--ip-masq), and the routes (host-gw) or
// the VXLAN device and per-peer entries (vxlan) that reach the other nodes' pod CIDRs. What to run
// is planned by routes.ts; this runs it through the executor (the masquerade rule through
// src/iptables' Interface) in the namespace the daemon runs in (the node's).
import type { Node } from '../api/types.ts';
import { run, succeeds, type Executor } from '../exec/exec.ts';
import { Iptables, type IptablesInterface } from '../iptables/index.ts';
import { peerCommands, peerRemovalCommands, vxlanDevice, vxlanDeviceCommands, type FlannelBackend, type NetCommand, type PeerNode } from './routes.ts';

export interface PodNetworkOptions {
  nodeName: string;
  nodeIP: string;
  /** masquerade pod traffic whose destination is outside this range */
  clusterCIDR: string;
  backend: FlannelBackend;
  log: (s: string) => void;
}

export const masqueradeComment = 'podpath: masquerade pod traffic leaving the cluster network';

/** One nat rule in the node's namespace: pod traffic leaving the cluster network is masqueraded (flannel's --ip-masq, Calico's natOutgoing). */
export function ensureMasquerade(iptables: IptablesInterface, clusterCIDR: string): void {
  iptables.ensureRule('append', 'nat', 'POSTROUTING', ['-s', clusterCIDR, '!', '-d', clusterCIDR, '-m', 'comment', '--comment', masqueradeComment, '-j', 'MASQUERADE']);
}

/** The node's internal address, as the Node reports it. */
export function internalIP(n: Node): string | undefined {
  return n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}

export class PodNetwork {
  private ownPodCIDR: string | undefined;
  /** peers whose pod CIDR is reachable, by node name */
  private readonly peers = new Map<string, PeerNode>();

  constructor(
    private readonly o: PodNetworkOptions,
    private readonly ex: Executor,
    private readonly iptables: IptablesInterface = new Iptables({ executor: ex }),
  ) {}

  get podCIDR(): string | undefined {
    return this.ownPodCIDR;
  }

  private apply(cmds: NetCommand[], allowFail = false): void {
    for (const c of cmds) run([c.tool, ...c.args], { allowFail }, this.ex);
  }

  /** One nat rule in the node's namespace: pod traffic leaving the cluster network is masqueraded. */
  ensureMasquerade(): void {
    ensureMasquerade(this.iptables, this.o.clusterCIDR);
  }

  /** This node's pod CIDR (from its Node's spec); under VXLAN its device is made for it. */
  setPodCIDR(cidr: string): void {
    this.ownPodCIDR = cidr;
    if (this.o.backend === 'vxlan') this.ensureVxlanDevice(cidr);
  }

  private ensureVxlanDevice(podCIDR: string): void {
    // A daemon restarting finds its device in place; a new pod CIDR means a fresh device.
    if (succeeds(['ip', 'link', 'show', vxlanDevice], {}, this.ex)) run(['ip', 'link', 'del', vxlanDevice], {}, this.ex);
    this.apply(vxlanDeviceCommands({ name: this.o.nodeName, internalIP: this.o.nodeIP, podCIDR }));
  }

  /** Makes another node's pod CIDR reachable (again, when its address or CIDR changed). */
  peerChanged(n: Node): void {
    const cidr = n.spec?.podCIDR;
    const ip = internalIP(n);
    // Peers seen before this node has its own CIDR (and VXLAN device) are wired once it has.
    if (!cidr || !ip || !this.ownPodCIDR) return;
    const peer: PeerNode = { name: n.metadata.name!, internalIP: ip, podCIDR: cidr };
    const had = this.peers.get(peer.name);
    if (had && had.internalIP === ip && had.podCIDR === cidr) return;
    try {
      if (had) this.apply(peerRemovalCommands(this.o.backend, had), true);
      this.apply(peerCommands(this.o.backend, peer));
      this.peers.set(peer.name, peer);
      this.o.log(`Subnet added: ${cidr} via ${ip} (node ${peer.name})`);
    } catch (e) {
      this.o.log(`route to ${cidr} on ${peer.name}: ${(e as Error).message}`);
    }
  }

  peerGone(n: Node): void {
    const had = this.peers.get(n.metadata.name!);
    if (!had) return;
    this.apply(peerRemovalCommands(this.o.backend, had), true);
    this.peers.delete(had.name);
    this.o.log(`Subnet removed: ${had.podCIDR} (node ${had.name})`);
  }
}
