// The NetworkPolicy model (networking.k8s.io/v1), as a pure function of Namespaces, Pods and
// NetworkPolicies: is a connection allowed, and why. Both ends must allow it — the source's egress
// and the destination's ingress — and a pod no policy selects for a direction is not isolated in
// it. Policies only add allowances; there is no deny and no order. The enforcement agent computes
// its nft sets from the same peer and port matching (peers.ts), so the offline answer and the
// kernel's agree.
import type { KubeObject, Namespace, NetworkPolicy, Pod } from '../api/types.ts';
import { compilePolicy, endpointIP, matchesPeer, matchesPorts, type CompiledPolicy, type Direction, type Endpoint, type Protocol } from './peers.ts';

export type { Direction, Endpoint, Protocol } from './peers.ts';

export interface Cluster {
  namespaces: Namespace[];
  pods: Pod[];
  policies: NetworkPolicy[];
}

export interface Connection {
  from: Endpoint;
  to: Endpoint;
  port: number;
  protocol: Protocol;
}

/** A rule of a policy: "x/allow-from-y" ingress rule 0. */
export interface RuleRef {
  policy: string;
  direction: Direction;
  /** index in spec.ingress / spec.egress */
  rule: number;
}

export interface DirectionVerdict {
  direction: Direction;
  /** "ns/name" of the pod this direction is about (the source for egress, the destination for ingress); absent for an address that is no pod */
  pod?: string;
  /** the policies that select the pod for this direction ("ns/name"); empty: the pod is not isolated in it */
  policies: string[];
  /** the rules that allow the connection (empty when not isolated, or when none does) */
  allowedBy: RuleRef[];
  allowed: boolean;
}

export interface Verdict {
  allowed: boolean;
  /** a pod talking to itself: always allowed, whatever the policies say */
  loopback: boolean;
  egress: DirectionVerdict;
  ingress: DirectionVerdict;
}

export class PolicyError extends Error {
  constructor(
    readonly code: 'UnknownPod' | 'BadEndpoint' | 'BadProtocol' | 'BadPort',
    message: string,
  ) {
    super(message);
  }
}

export const protocols: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

export const podKey = (p: Pod) => `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
export const policyKey = (np: NetworkPolicy) => `${np.metadata.namespace ?? 'default'}/${np.metadata.name}`;

export function parseProtocol(s: string): Protocol {
  const p = s.toUpperCase();
  if (!(protocols as readonly string[]).includes(p)) throw new PolicyError('BadProtocol', `protocol ${JSON.stringify(s)}: expected TCP, UDP or SCTP`);
  return p as Protocol;
}

export function parsePort(s: string | number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new PolicyError('BadPort', `port ${JSON.stringify(String(s))}: expected a number from 1 to 65535`);
  return n;
}

/** Pods that take part in pod networking: not on the host's network, not finished. (Those without an address yet are kept: selectors match them; ipBlocks cannot.) */
function podNetworked(p: Pod): boolean {
  return !p.spec?.hostNetwork && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
}

/**
 * Applies a kind's API defaults to an object in place (api/defaults.ts applyDefaults): objects
 * read from files are not defaulted (policyTypes, protocol TCP, the namespace's name label).
 * The enforcement agent's come from the API server, defaulted already: it passes null, and so
 * never loads the API's schema (the models of every kind, tens of MiB in each node's agent).
 */
export type Defaulter = (kind: string, obj: KubeObject) => void;

export class PolicyModel {
  readonly policies: CompiledPolicy[];
  private readonly nsLabels = new Map<string, Record<string, string>>();
  private readonly pods: Pod[];
  private readonly byKey = new Map<string, Pod>();
  private readonly byIP = new Map<string, Pod>();

  constructor(c: Cluster, defaults: Defaulter | null) {
    for (const ns of c.namespaces) {
      const copy = defaults ? structuredClone(ns) : ns;
      defaults?.('Namespace', copy);
      this.nsLabels.set(ns.metadata.name!, copy.metadata.labels ?? {});
    }
    this.pods = c.pods.filter(podNetworked);
    for (const p of this.pods) {
      this.byKey.set(podKey(p), p);
      const ip = p.status?.podIP;
      if (ip) this.byIP.set(ip, p);
    }
    this.policies = c.policies.map((np) => {
      const copy = defaults ? structuredClone(np) : np;
      defaults?.('NetworkPolicy', copy);
      return compilePolicy(copy, policyKey(np));
    });
  }

  /** A namespace's labels; one without a Namespace object still carries its name label, as every namespace does. */
  namespaceLabels(ns: string): Record<string, string> {
    return this.nsLabels.get(ns) ?? { 'kubernetes.io/metadata.name': ns };
  }

  /** The pods taking part in pod networking (hostNetwork and finished pods left out), in the order given. */
  allPods(): Pod[] {
    return this.pods;
  }

  pod(key: string): Pod | undefined {
    return this.byKey.get(key);
  }

  podByIP(ip: string): Pod | undefined {
    return this.byIP.get(ip);
  }

  /** "NS/POD" or an IP address (a pod's IP stands for that pod). */
  resolve(ref: string): Endpoint {
    if (ref.includes('/')) {
      const pod = this.byKey.get(ref);
      if (!pod) throw new PolicyError('UnknownPod', `pod ${ref} is not in the state (known pods: ${[...this.byKey.keys()].join(', ') || 'none'})`);
      return { pod };
    }
    if (endpointIP({ ip: ref }) === undefined) throw new PolicyError('BadEndpoint', `${JSON.stringify(ref)} is neither NAMESPACE/POD nor an IP address`);
    const pod = this.byIP.get(ref);
    return pod ? { pod } : { ip: ref };
  }

  /** The policies that select `pod` for `dir` (it is isolated in that direction iff there is one). */
  selecting(pod: Pod, dir: Direction): CompiledPolicy[] {
    const ns = pod.metadata.namespace ?? 'default';
    return this.policies.filter((p) => p.namespace === ns && p.types.includes(dir) && p.selects(pod.metadata.labels));
  }

  private direction(dir: Direction, subject: Endpoint, peer: Endpoint, c: Connection): DirectionVerdict {
    // Only pods are subject to policies; an address outside them allows everything its side.
    if (!('pod' in subject)) return { direction: dir, policies: [], allowedBy: [], allowed: true };
    const sel = this.selecting(subject.pod, dir);
    const allowedBy: RuleRef[] = [];
    for (const p of sel) {
      p.rules[dir].forEach((r, i) => {
        if (r.peers !== undefined && !r.peers.some((x) => matchesPeer(x, p.namespace, peer, (ns) => this.namespaceLabels(ns)))) return;
        if (!matchesPorts(r.ports, c.to, c.port, c.protocol)) return;
        allowedBy.push({ policy: p.key, direction: dir, rule: i });
      });
    }
    return { direction: dir, pod: podKey(subject.pod), policies: sel.map((p) => p.key), allowedBy, allowed: sel.length === 0 || allowedBy.length > 0 };
  }

  evaluate(c: Connection): Verdict {
    const egress = this.direction('Egress', c.from, c.to, c);
    const ingress = this.direction('Ingress', c.to, c.from, c);
    const loopback = 'pod' in c.from && 'pod' in c.to && c.from.pod === c.to.pod;
    return { allowed: loopback || (egress.allowed && ingress.allowed), loopback, egress, ingress };
  }
}

const endpointName = (e: Endpoint) => ('pod' in e ? podKey(e.pod) : e.ip);

function directionText(v: DirectionVerdict): string {
  const what = v.direction === 'Ingress' ? 'ingress' : 'egress';
  if (v.pod === undefined) return `${what}: not a pod, no policy applies`;
  if (v.policies.length === 0) return `${what}: ${v.pod} is selected by no policy with ${v.direction} in policyTypes, not isolated`;
  const sel = `${v.pod} is isolated by ${v.policies.join(', ')}`;
  if (!v.allowed) return `${what}: ${sel}; no rule allows this`;
  return `${what}: ${sel}; allowed by ${v.allowedBy.map((r) => `${r.policy} ${r.direction.toLowerCase()}[${r.rule}]`).join(', ')}`;
}

/** The verdict in words: one line for the answer, one per direction. */
export function explain(c: Connection, v: Verdict): string {
  const head = `${endpointName(c.from)} -> ${endpointName(c.to)} ${c.port}/${c.protocol}: ${v.allowed ? 'allowed' : 'denied'}`;
  if (v.loopback) return `${head}\n  loopback: a pod can always reach itself\n`;
  return `${head}\n  ${directionText(v.egress)}\n  ${directionText(v.ingress)}\n`;
}
