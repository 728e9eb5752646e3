// How a node reaches the other nodes' pod CIDRs: pure functions from Node objects to the `ip`
// and `bridge` commands that make it so; the agent runs them.
//   host-gw: a route per peer, via the peer's InternalIP on the underlay (flannel's host-gw).
//   vxlan:   one VXLAN device per node (VNI 1, UDP 8472, no learning); per peer a route onlink to
//            the peer's VTEP address (the .0 of its pod CIDR), a permanent ARP entry for that
//            address and an FDB entry sending the peer's VTEP MAC to its InternalIP (flannel's vxlan).

/** How pod CIDRs of other nodes are reached: flannel's host-gw or VXLAN, or routes learned over BGP (bgp.ts). */
export type CniBackend = 'host-gw' | 'vxlan' | 'bgp';
/** The backends flannel's daemon keeps. */
export type FlannelBackend = Exclude<CniBackend, 'bgp'>;
export const cniBackends: readonly CniBackend[] = ['host-gw', 'vxlan', 'bgp'];

export const vxlanDevice = 'podpath.1';
export const vxlanVNI = 1;
export const vxlanPort = 8472;
/** The pod bridge's MTU under VXLAN: 1500 minus 50 bytes of outer headers. */
export const vxlanMTU = 1450;

export interface PeerNode {
  name: string;
  internalIP: string;
  podCIDR: string;
}

/** A command: argv for `ip` (tool 'ip') or `bridge` (tool 'bridge'). */
export interface NetCommand {
  tool: 'ip' | 'bridge';
  args: string[];
}

/** The VTEP address of a node: the network address of its pod CIDR, as flannel uses. */
export function vtepAddress(podCIDR: string): string {
  return podCIDR.split('/')[0]!;
}

/** A stable VTEP MAC from the node's InternalIP (locally administered, unicast). */
export function vtepMAC(internalIP: string): string {
  const b = internalIP.split('.').map((x) => Number(x).toString(16).padStart(2, '0'));
  return `0a:58:${b.join(':')}`;
}

/** The commands that create this node's VXLAN device (run once, before peers are added). */
export function vxlanDeviceCommands(self: PeerNode, underlayDevice = 'eth0'): NetCommand[] {
  return [
    { tool: 'ip', args: ['link', 'add', vxlanDevice, 'address', vtepMAC(self.internalIP), 'type', 'vxlan', 'id', String(vxlanVNI), 'local', self.internalIP, 'dev', underlayDevice, 'dstport', String(vxlanPort), 'nolearning'] },
    { tool: 'ip', args: ['link', 'set', vxlanDevice, 'mtu', String(vxlanMTU), 'up'] },
    { tool: 'ip', args: ['addr', 'replace', `${vtepAddress(self.podCIDR)}/32`, 'dev', vxlanDevice] },
  ];
}

/** The commands that make `peer`'s pods reachable (idempotent: all are `replace`). */
export function peerCommands(backend: FlannelBackend, peer: PeerNode): NetCommand[] {
  if (backend === 'host-gw') return [{ tool: 'ip', args: ['route', 'replace', peer.podCIDR, 'via', peer.internalIP] }];
  const vtep = vtepAddress(peer.podCIDR);
  const mac = vtepMAC(peer.internalIP);
  return [
    { tool: 'ip', args: ['neigh', 'replace', vtep, 'lladdr', mac, 'dev', vxlanDevice, 'nud', 'permanent'] },
    { tool: 'bridge', args: ['fdb', 'replace', mac, 'dev', vxlanDevice, 'dst', peer.internalIP, 'self', 'permanent'] },
    { tool: 'ip', args: ['route', 'replace', peer.podCIDR, 'via', vtep, 'dev', vxlanDevice, 'onlink'] },
  ];
}

/** The commands that forget `peer` (each may fail harmlessly when already gone). */
export function peerRemovalCommands(backend: FlannelBackend, peer: PeerNode): NetCommand[] {
  const route: NetCommand = { tool: 'ip', args: ['route', 'del', peer.podCIDR] };
  if (backend === 'host-gw') return [route];
  const mac = vtepMAC(peer.internalIP);
  return [
    route,
    { tool: 'bridge', args: ['fdb', 'del', mac, 'dev', vxlanDevice, 'dst', peer.internalIP, 'self'] },
    { tool: 'ip', args: ['neigh', 'del', vtepAddress(peer.podCIDR), 'dev', vxlanDevice] },
  ];
}
