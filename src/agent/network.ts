// The node's side of the pod network, kept as the Node objects say: masquerade for pod traffic
// leaving the cluster network, the routes (host-gw) or VXLAN device and per-peer entries (vxlan)
// that reach the other nodes' pod CIDRs, and the LoadBalancer IPs this node answers for on the
// underlay. What to run is planned by routes.ts and announce.ts; this runs it, through the
// executor (the masquerade rule through src/iptables' Interface), in the namespace the agent runs
// in (the node's).
import type { EndpointSlice, Node, Service } from '../api/types.ts';
import { run, succeeds, type Executor } from '../exec/exec.ts';
import { Iptables, type IptablesInterface } from '../iptables/index.ts';
import { announcements } from './announce.ts';
import { peerCommands, peerRemovalCommands, vxlanDevice, vxlanDeviceCommands, vxlanMTU, type CniBackend, type NetCommand, type PeerNode } from './routes.ts';

export interface NetworkOptions {
  nodeName: string;
  nodeIP: string;
  /** masquerade pod traffic whose destination is outside this range */
  clusterCIDR: string;
  cniBackend: CniBackend;
  /** the interface LoadBalancer IPs are held on (the node's underlay link) */
  underlayDevice: string;
  log: (s: string) => void;
}

export const masqueradeComment = 'podpath: masquerade pod traffic leaving the cluster network';

export class NodeNetwork {
  private ownPodCIDR: string | undefined;
  /** peers whose pod CIDR is reachable, by node name */
  private readonly peers = new Map<string, PeerNode>();
  /** LoadBalancer IPs this node holds on its underlay interface */
  private readonly announced = new Set<string>();

  constructor(
    private readonly o: NetworkOptions,
    private readonly ex: Executor,
    private readonly iptables: IptablesInterface = new Iptables({ executor: ex }),
  ) {}

  get podCIDR(): string | undefined {
    return this.ownPodCIDR;
  }

  /** The pod bridge's MTU: smaller under VXLAN, for the outer headers. */
  get bridgeMTU(): number | undefined {
    return this.o.cniBackend === 'vxlan' ? vxlanMTU : undefined;
  }

  private apply(cmds: NetCommand[], allowFail = false): void {
    for (const c of cmds) run([c.tool, ...c.args], { allowFail }, this.ex);
  }

  /** One nat rule in the node's namespace: pod traffic leaving the cluster network is masqueraded. */
  ensureMasquerade(): void {
    this.iptables.ensureRule('append', 'nat', 'POSTROUTING', ['-s', this.o.clusterCIDR, '!', '-d', this.o.clusterCIDR, '-m', 'comment', '--comment', masqueradeComment, '-j', 'MASQUERADE']);
  }

  /** This node's pod CIDR (from its Node's spec); under VXLAN its device is made for it. */
  setPodCIDR(cidr: string): void {
    this.ownPodCIDR = cidr;
    if (this.o.cniBackend === 'vxlan') this.ensureVxlanDevice(cidr);
  }

  private ensureVxlanDevice(podCIDR: string): void {
    // An agent restarting finds its device in place; a new pod CIDR means a fresh device.
    if (succeeds(['ip', 'link', 'show', vxlanDevice], {}, this.ex)) run(['ip', 'link', 'del', vxlanDevice], {}, this.ex);
    this.apply(vxlanDeviceCommands({ name: this.o.nodeName, internalIP: this.o.nodeIP, podCIDR }));
  }

  /** Makes another node's pod CIDR reachable (again, when its address or CIDR changed). */
  peerChanged(n: Node): void {
    const cidr = n.spec?.podCIDR;
    const internalIP = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    // Peers seen before this node has its own CIDR (and VXLAN device) are wired once it has.
    if (!cidr || !internalIP || !this.ownPodCIDR) return;
    const peer: PeerNode = { name: n.metadata.name!, internalIP, podCIDR: cidr };
    const had = this.peers.get(peer.name);
    if (had && had.internalIP === internalIP && had.podCIDR === cidr) return;
    try {
      if (had) this.apply(peerRemovalCommands(this.o.cniBackend, had), true);
      this.apply(peerCommands(this.o.cniBackend, peer));
      this.peers.set(peer.name, peer);
    } catch (e) {
      this.o.log(`route to ${cidr} on ${peer.name}: ${(e as Error).message}`);
    }
  }

  peerGone(n: Node): void {
    const had = this.peers.get(n.metadata.name!);
    if (!had) return;
    this.apply(peerRemovalCommands(this.o.cniBackend, had), true);
    this.peers.delete(had.name);
  }

  /** Holds the LoadBalancer IPs this node is chosen to answer for, and lets go of the others. */
  announce(services: Service[], slices: EndpointSlice[], nodes: Node[]): void {
    const mine = new Set(announcements(services, slices, nodes).filter((a) => a.node === this.o.nodeName).map((a) => a.ip));
    for (const ip of mine) {
      if (this.announced.has(ip)) continue;
      if (succeeds(['ip', 'addr', 'replace', `${ip}/32`, 'dev', this.o.underlayDevice], {}, this.ex)) {
        this.announced.add(ip);
        this.o.log(`answering for LoadBalancer IP ${ip}`);
      }
    }
    for (const ip of [...this.announced]) {
      if (mine.has(ip)) continue;
      succeeds(['ip', 'addr', 'del', `${ip}/32`, 'dev', this.o.underlayDevice], {}, this.ex);
      this.announced.delete(ip);
      this.o.log(`no longer answering for LoadBalancer IP ${ip}`);
    }
  }
}
