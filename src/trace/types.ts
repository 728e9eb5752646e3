// The trace's result, as `podpath trace -o json` prints it: the ordered hops of one connection,
// each with the packet as it is there (rewritten fields named), what acted on it and the
// Kubernetes object behind that. These names are the JSON schema: keep them stable.

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** One direction of a connection as a hop sees it. */
export interface Packet {
  protocol: Protocol;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
}

export type PacketField = keyof Omit<Packet, 'protocol'>;

export type HopKind = 'resolve' | 'route' | 'netfilter' | 'conntrack' | 'ingress' | 'gateway' | 'proxy' | 'netpol' | 'deliver' | 'reply';

/** The rule that acted: iptables table and chain, or an nftables table (family and name) and chain. */
export interface RuleRef {
  table: string;
  chain: string;
  /** the rule as iptables-save or nft lists it */
  text: string;
  /** what it did: "jump KUBE-SVC-…", "DNAT to 10.244.0.5:8080", "vmap → goto service-…", "REJECT" */
  action?: string;
}

export interface ObjectRef {
  kind: string;
  namespace?: string;
  name: string;
}

export interface Hop {
  /** 1, 2, … in path order */
  step: number;
  kind: HopKind;
  /** the node whose network namespace this happens in */
  node?: string;
  /** the namespace when it is not a node's: "client", "underlay", "pod/NS/NAME" */
  namespace?: string;
  /** the hook or phase: "nat PREROUTING", "prerouting", "routing decision" */
  hook?: string;
  packet: { before: Packet; after: Packet; rewritten: PacketField[] };
  rule?: RuleRef;
  object?: ObjectRef;
  /** at a gateway hop: the Gateway the request reached ("NS/NAME"), its listener and the listener's port (the port of the Gateway's own Service, not nginx's) */
  gateway?: { gateway: string; listener: string | null; port: number };
  note: string;
  /** with --observe, for a hop the kernel reports (netfilter rules, conntrack NAT, delivery): whether the probe's packet was seen taking it */
  observed?: boolean;
}

export interface Endpoint {
  /** "NS/NAME", or the address when no pod has it */
  pod: string;
  ip: string;
  port: number;
}

export interface Candidate extends Endpoint {
  probability: number;
  /** what chose among them: the iptables chain, the nftables chain, the Ingress upstream */
  by: string;
  chosen: boolean;
}

export type Verdict = 'delivered' | 'dropped' | 'rejected';

export interface Trace {
  verdict: Verdict;
  /** one line on the outcome: where it was delivered, or which hop dropped or rejected it and why */
  reason: string;
  from: string;
  to: string;
  mode: string;
  hops: Hop[];
  endpoint?: Endpoint;
  /** every place the kernel (or nginx) picks at random, each candidate with its probability */
  candidates: Candidate[];
  /** what the computation leaves out where the rules were read (a proxy mode whose datapath is not only netfilter rules) */
  notes?: string[];
  /** with --observe: the probe's path as the kernel reported it */
  observed?: Observation;
}

/** What the probe's program reports (one JSON line). */
export interface ProbeResult {
  ok: boolean;
  error?: string;
  /** from the first packet sent to the answer's end (or the connect, with no request to make) */
  timeMs: number;
  /** the peer's address as connected to ("10.96.0.12:80"): the name's resolution, when a name was given */
  remote?: string;
  /** the start of the answer */
  answer?: string;
}

export interface ObservedHop {
  step: number;
  kind: Extract<HopKind, 'netfilter' | 'conntrack' | 'route' | 'proxy' | 'ingress' | 'gateway' | 'deliver'>;
  node?: string;
  namespace?: string;
  hook?: string;
  packet: { before: Packet; after: Packet };
  rule?: RuleRef;
  /** the computed hop it is the same as, when one is */
  computed?: number;
  /** an Ingress or Gateway controller's hop: it sent the request on over a connection it had open already */
  reused?: true;
  note: string;
}

export interface Observation {
  verdict: Verdict | 'unknown';
  reason: string;
  /** the probe: its first packet's tuple and what it got */
  probe: ProbeResult & { tuple: Packet };
  hops: ObservedHop[];
  /** the pod the connection reached, as the kernel shows it */
  endpoint?: Endpoint;
  /** computed hops not seen, hops seen and not computed, another endpoint or verdict */
  differences: string[];
  /** the namespaces watched, as places */
  watched: string[];
  /** from the first table installed to the last removed */
  timeMs: number;
}

export const sameTuple = (a: Packet, b: Packet) => a.protocol === b.protocol && a.src === b.src && a.srcPort === b.srcPort && a.dst === b.dst && a.dstPort === b.dstPort;

/** The fields of `after` that differ from `before`. */
export function rewritten(before: Packet, after: Packet): PacketField[] {
  return (['src', 'srcPort', 'dst', 'dstPort'] as const).filter((f) => before[f] !== after[f]);
}

export const tupleText = (p: Packet) => `${p.src}:${p.srcPort} → ${p.dst}:${p.dstPort}/${p.protocol}`;

export class TraceError extends Error {
  constructor(
    readonly code: 'BadSource' | 'BadDestination' | 'BadState' | 'BadFlags',
    message: string,
  ) {
    super(message);
  }
}
