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

export type HopKind = 'resolve' | 'route' | 'netfilter' | 'conntrack' | 'ingress' | 'netpol' | 'deliver' | 'reply';

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
  note: string;
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
