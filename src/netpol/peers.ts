// A NetworkPolicy compiled for matching: its target selector, effective policyTypes, and per rule
// the peers (podSelector / namespaceSelector / both ANDed in one peer; ipBlock minus except) and
// ports (number, range with endPort, name resolved against the destination pod's containerPorts,
// protocol only). The offline model (policy.ts) and the agent's nft rules (rules.ts) both match
// with these.
import { fromLabelSelector, matches, type Selector } from '../api/labels.ts';
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, Pod } from '../api/types.ts';
import { cidrContains, parseCIDR, parseIP, type Cidr } from '../util/ip.ts';

export type Direction = 'Ingress' | 'Egress';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** One end of a connection: a pod, or an address that is no pod's. */
export type Endpoint = { pod: Pod } | { ip: string };

export interface IPBlock {
  cidr: Cidr;
  except: Cidr[];
  /** as written, for messages and nft */
  text: string;
  exceptText: string[];
}

export interface CompiledPeer {
  /** pods of namespaces this selects (absent: the policy's own namespace) */
  namespaces?: Selector;
  /** pods this selects within those namespaces (absent: all of them) */
  pods?: Selector;
  /** set for an ipBlock peer, which matches addresses (pods' included) and nothing else */
  ipBlock?: IPBlock;
}

export interface CompiledPort {
  protocol: Protocol;
  /** absent: every port of the protocol */
  port?: number | string;
  endPort?: number;
}

export interface CompiledRule {
  /** absent (or empty in the object): any peer, addresses outside the cluster included */
  peers?: CompiledPeer[];
  /** absent (or empty in the object): any port and protocol */
  ports?: CompiledPort[];
}

export interface CompiledPolicy {
  key: string;
  namespace: string;
  name: string;
  types: Direction[];
  selects(labels: Record<string, string> | undefined): boolean;
  rules: Record<Direction, CompiledRule[]>;
}

function compileIPBlock(b: NonNullable<NetworkPolicyPeer['ipBlock']>): IPBlock | undefined {
  // A CIDR that does not parse matches nothing (the API server refuses such objects anyway).
  const cidr = parseCIDR(b.cidr);
  if (!cidr) return undefined;
  const except = (b.except ?? []).map(parseCIDR).filter((c): c is Cidr => c !== undefined);
  return { cidr, except, text: b.cidr, exceptText: [...(b.except ?? [])] };
}

function compilePeer(p: NetworkPolicyPeer): CompiledPeer {
  if (p.ipBlock) {
    const b = compileIPBlock(p.ipBlock);
    // an unparsable block: a peer that matches nothing
    return b ? { ipBlock: b } : { pods: { requirements: [], nothing: true } };
  }
  return {
    ...(p.namespaceSelector ? { namespaces: fromLabelSelector(p.namespaceSelector) } : {}),
    ...(p.podSelector ? { pods: fromLabelSelector(p.podSelector) } : {}),
  };
}

function compilePort(p: NetworkPolicyPort): CompiledPort {
  return {
    protocol: (p.protocol ?? 'TCP').toUpperCase() as Protocol,
    ...(p.port !== undefined && p.port !== null ? { port: p.port } : {}),
    ...(p.endPort !== undefined && typeof p.port === 'number' ? { endPort: p.endPort } : {}),
  };
}

function compileRule(peers: NetworkPolicyPeer[] | undefined, ports: NetworkPolicyPort[] | undefined): CompiledRule {
  return {
    ...(peers?.length ? { peers: peers.map(compilePeer) } : {}),
    ...(ports?.length ? { ports: ports.map(compilePort) } : {}),
  };
}

/** Effective policyTypes: as given, else Ingress, plus Egress when there are egress rules (defaults.go). */
export function policyTypes(np: NetworkPolicy): Direction[] {
  const given = np.spec?.policyTypes ?? [];
  if (given.length) return given.filter((t): t is Direction => t === 'Ingress' || t === 'Egress');
  return np.spec?.egress?.length ? ['Ingress', 'Egress'] : ['Ingress'];
}

export function compilePolicy(np: NetworkPolicy, key: string): CompiledPolicy {
  const spec = np.spec ?? { podSelector: {} };
  // podSelector is required; {} (or, in a file, none) selects every pod of the namespace
  const sel = fromLabelSelector(spec.podSelector ?? {});
  return {
    key,
    namespace: np.metadata.namespace ?? 'default',
    name: np.metadata.name ?? '',
    types: policyTypes(np),
    selects: (labels) => matches(sel, labels),
    rules: {
      Ingress: (spec.ingress ?? []).map((r) => compileRule(r.from, r.ports)),
      Egress: (spec.egress ?? []).map((r) => compileRule(r.to, r.ports)),
    },
  };
}

export function endpointIP(e: Endpoint): string | undefined {
  const ip = 'pod' in e ? e.pod.status?.podIP : e.ip;
  return ip && parseIP(ip) ? ip : undefined;
}

export function inIPBlock(b: IPBlock, ip: string): boolean {
  return cidrContains(b.cidr, ip) && !b.except.some((x) => cidrContains(x, ip));
}

/**
 * Whether `peer` (of a policy in namespace `policyNs`) matches the other end `e`. Selectors match
 * pods only; an ipBlock matches any address in it, a pod's IP included (as the e2e tests expect).
 */
export function matchesPeer(peer: CompiledPeer, policyNs: string, e: Endpoint, nsLabels: (ns: string) => Record<string, string>): boolean {
  if (peer.ipBlock) {
    const ip = endpointIP(e);
    return ip !== undefined && inIPBlock(peer.ipBlock, ip);
  }
  if (!('pod' in e)) return false;
  const ns = e.pod.metadata.namespace ?? 'default';
  if (peer.namespaces ? !matches(peer.namespaces, nsLabels(ns)) : ns !== policyNs) return false;
  return peer.pods ? matches(peer.pods, e.pod.metadata.labels) : true;
}

/** The port numbers a named port has on a pod, for one protocol (a name no container has: none). */
export function namedPortNumbers(pod: Pod, name: string, protocol: Protocol): number[] {
  const out: number[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === name && (p.protocol ?? 'TCP').toUpperCase() === protocol) out.push(p.containerPort);
  }
  return out;
}

/** Whether one port entry admits `port`/`protocol` towards destination `to` (named ports resolve on it). */
export function matchesPort(p: CompiledPort, to: Endpoint, port: number, protocol: Protocol): boolean {
  if (p.protocol !== protocol) return false;
  if (p.port === undefined) return true;
  if (typeof p.port === 'number') return p.endPort !== undefined ? port >= p.port && port <= p.endPort : port === p.port;
  // a numeric string is a number the YAML kept quoted
  if (/^\d+$/.test(p.port)) return port === Number(p.port);
  return 'pod' in to && namedPortNumbers(to.pod, p.port, protocol).includes(port);
}

export function matchesPorts(ports: CompiledPort[] | undefined, to: Endpoint, port: number, protocol: Protocol): boolean {
  return ports === undefined || ports.some((p) => matchesPort(p, to, port, protocol));
}
