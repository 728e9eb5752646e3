// BGP routing as Calico's BGP mode does it with BIRD: every node originates its pod CIDR and
// learns the others' from its peers — each other node (Calico's default node-to-node mesh), or
// only the route reflector on the first node (`routeReflector`, as Calico recommends past ~50
// nodes) — and BIRD installs the learned routes in the node's kernel (`proto bird`, via the
// originating node's underlay address). Pure functions: the bird.conf of a node from the Nodes,
// and `birdc show protocols` read back into peers.
import type { Node } from '../api/types.ts';

/** Calico's default AS number for every node (one iBGP AS). */
export const defaultASNumber = 64512;
export const bgpPort = 179;

/** BGP timers. Calico keeps BIRD's (hold 240 s, keepalive 80 s); the lab's are short so a node going away is seen within seconds. */
export interface BgpTimers {
  holdSeconds: number;
  keepaliveSeconds: number;
  /** seconds between connection attempts to a peer that is down */
  connectRetrySeconds: number;
}

export const labTimers: BgpTimers = { holdSeconds: 9, keepaliveSeconds: 3, connectRetrySeconds: 2 };

export interface BgpNode {
  name: string;
  /** the node's underlay address: its BGP router ID, where it peers, the next hop of its pod CIDR */
  ip: string;
  podCIDR?: string;
}

export interface BirdConfOptions {
  asNumber: number;
  timers: BgpTimers;
  /** the first node (by address) reflects routes to the others instead of a full mesh */
  routeReflector: boolean;
}

/** A Node's name, InternalIP and pod CIDR, or undefined while it has no InternalIP. */
export function bgpNode(n: Node): BgpNode | undefined {
  const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  if (!ip) return undefined;
  return { name: n.metadata.name!, ip, ...(n.spec?.podCIDR ? { podCIDR: n.spec.podCIDR } : {}) };
}

/** Nodes in the order of their addresses (numerically): the first is the route reflector. */
export function byAddress(nodes: BgpNode[]): BgpNode[] {
  const key = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  return [...nodes].sort((a, b) => key(a.ip) - key(b.ip));
}

/** The BIRD protocol name of the session to `ip`, as Calico names them: Mesh_192_168_49_3, or Node_… to a route reflector, RR_… to a client. */
export function peerProtocol(kind: PeerKind, ip: string): string {
  return `${kind === 'mesh' ? 'Mesh' : kind === 'rr-client' ? 'RR' : 'Node'}_${ip.replace(/\./g, '_')}`;
}

/** mesh: node-to-node mesh; rr: to the route reflector; rr-client: the reflector's session to a client. */
export type PeerKind = 'mesh' | 'rr' | 'rr-client';

export interface Peer {
  node: BgpNode;
  kind: PeerKind;
  protocol: string;
}

/** Whom `self` peers with among `nodes`. */
export function peersOf(self: BgpNode, nodes: BgpNode[], routeReflector: boolean): Peer[] {
  const others = byAddress(nodes).filter((n) => n.name !== self.name && n.ip !== self.ip);
  if (!routeReflector) return others.map((node) => ({ node, kind: 'mesh', protocol: peerProtocol('mesh', node.ip) }));
  const rr = byAddress(nodes)[0];
  if (!rr) return [];
  if (rr.name === self.name) return others.map((node) => ({ node, kind: 'rr-client', protocol: peerProtocol('rr-client', node.ip) }));
  return [{ node: rr, kind: 'rr', protocol: peerProtocol('rr', rr.ip) }];
}

/** The bird.conf of node `self` among `nodes` (self included or not). */
export function renderBirdConf(self: BgpNode, nodes: BgpNode[], o: BirdConfOptions): string {
  const t = o.timers;
  const peers = peersOf(self, nodes, o.routeReflector);
  const lines = [
    `# BIRD configuration of node ${self.name}, rendered by podpath calico-node from the Nodes.`,
    `# ${o.routeReflector ? `route reflector: ${byAddress(nodes)[0]?.name ?? self.name}` : 'node-to-node mesh'}; AS ${o.asNumber}; hold ${t.holdSeconds} s, keepalive ${t.keepaliveSeconds} s.`,
    `router id ${self.ip};`,
    'log stderr { info, remote, warning, error, auth, fatal, bug };',
    '',
    '# interfaces and their addresses, for the next hops of learned routes',
    'protocol device {',
    '  scan time 10;',
    '}',
    '',
    // Calico originates its IPAM blocks as blackhole routes; the node's own bridge route (cni0)
    // is what carries the traffic, so this one stays out of the kernel (kernel export below).
    '# this node\'s pod CIDR, originated to the peers',
    'protocol static podcidr {',
    '  ipv4;',
    ...(self.podCIDR ? [`  route ${self.podCIDR} blackhole;`] : []),
    '}',
    '',
    '# routes learned over BGP into the kernel (ip route: proto bird)',
    'protocol kernel {',
    '  ipv4 {',
    '    import none;',
    '    export filter {',
    '      if source = RTS_BGP then accept;',
    '      reject;',
    '    };',
    '  };',
    '  scan time 10;',
    '}',
    '',
    'filter podpath_export {',
    '  if proto = "podcidr" then accept;',
    '  if source = RTS_BGP then accept;',
    '  reject;',
    '}',
    '',
    'template bgp podpath_peer {',
    `  local ${self.ip} as ${o.asNumber};`,
    '  direct;',
    `  hold time ${t.holdSeconds};`,
    `  keepalive time ${t.keepaliveSeconds};`,
    `  connect retry time ${t.connectRetrySeconds};`,
    `  error wait time ${t.connectRetrySeconds}, ${t.connectRetrySeconds * 4};`,
    '  ipv4 {',
    '    import all;',
    '    export filter podpath_export;',
    '  };',
    '}',
  ];
  for (const p of peers) {
    lines.push('', `# ${p.kind === 'mesh' ? 'node-to-node mesh' : p.kind === 'rr' ? 'route reflector' : 'route reflector client'}: node ${p.node.name}`);
    lines.push(`protocol bgp ${p.protocol} from podpath_peer {`, `  neighbor ${p.node.ip} as ${o.asNumber};`);
    if (p.kind === 'rr-client') lines.push('  rr client;', `  rr cluster id ${self.ip};`);
    lines.push('}');
  }
  return lines.join('\n') + '\n';
}

/** One BGP session as `birdc show protocols` reports it. */
export interface BgpSession {
  /** the protocol's name (Mesh_192_168_49_3) */
  protocol: string;
  /** the peer's address, from the name */
  peer: string;
  kind: PeerKind;
  /** up, down, start, … */
  state: string;
  since: string;
  /** Established, Active, Connect, … */
  info: string;
}

/**
 * The BGP sessions in `birdc show protocols` output. BIRD 2 prints
 *   Name       Proto      Table      State  Since         Info
 *   Mesh_192_168_49_3 BGP  ---      up     23:01:02.123  Established
 */
export function parseShowProtocols(text: string): BgpSession[] {
  const out: BgpSession[] = [];
  for (const line of text.split('\n')) {
    const m = /^((Mesh|Node|RR)_(\d+)_(\d+)_(\d+)_(\d+))\s+BGP\s+\S+\s+(\S+)\s+(\S+(?: \S+)?)\s*(.*)$/.exec(line.trim());
    if (!m) continue;
    const kind: PeerKind = m[2] === 'Mesh' ? 'mesh' : m[2] === 'RR' ? 'rr-client' : 'rr';
    // Since is a time (23:01:02.123) or a date and time; what follows is Info.
    let since = m[8]!;
    let info = m[9]!.trim();
    const parts = since.split(' ');
    if (parts.length === 2 && !/^\d/.test(parts[1]!)) {
      since = parts[0]!;
      info = `${parts[1]} ${info}`.trim();
    }
    out.push({ protocol: m[1]!, peer: `${m[3]}.${m[4]}.${m[5]}.${m[6]}`, kind, state: m[7]!, since, info });
  }
  return out;
}

/** calicoctl's PEER TYPE of a session. */
export function bgpPeerType(k: PeerKind): string {
  return k === 'mesh' ? 'node-to-node mesh' : k === 'rr' ? 'route reflector' : 'route reflector client';
}
