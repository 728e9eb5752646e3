// The upstream NetworkPolicy e2e topology (examples/netpol: namespaces x, y, z × pods a, b, c, ports
// 80/81 TCP/UDP) with pod IPs, policies built as the e2e's helpers build them, and its Reachability
// expectations (NewReachability, ExpectPeer, Expect, ExpectAllIngress/Egress) to compare against
// the model's matrix, loopback ignored as upstream ignores it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, LabelSelector, Pod } from '../../src/api/types.ts';
import { readCluster } from '../../src/netpol/offline.ts';
import { reachability } from '../../src/netpol/matrix.ts';
import { PolicyModel, type Cluster, type Protocol } from '../../src/netpol/policy.ts';
import { applyDefaults } from '../../src/api/defaults.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const examplesDir = path.join(repoRoot, 'examples/netpol');

/** x/a is 10.244.1.10, x/b .11, x/c .12; y/* 10.244.2.*, z/* 10.244.3.*. */
export function podIP(ns: string, pod: string): string {
  return `10.244.${'xyz'.indexOf(ns) + 1}.${10 + 'abc'.indexOf(pod)}`;
}

/** The example topology, read from examples/netpol, each pod given its IP. */
export function topology(): Cluster {
  const c = readCluster([examplesDir]);
  for (const p of c.pods) p.status = { phase: 'Running', podIP: podIP(p.metadata.namespace!, p.metadata.name!) };
  return c;
}

export const allPods = ['x', 'y', 'z'].flatMap((ns) => ['a', 'b', 'c'].map((p) => `${ns}/${p}`));

type Spec = NetworkPolicy['spec'];
export type IngressRule = NonNullable<Spec['ingress']>[number];
export type EgressRule = NonNullable<Spec['egress']>[number];

/** GenNetworkPolicyWithNameAndPodSelector + SetSpecIngressRules/SetSpecEgressRules: each sets its policyType. */
export function policy(ns: string, name: string, podSelector: LabelSelector, o: { ingress?: IngressRule[]; egress?: EgressRule[]; policyTypes?: string[] } = {}): NetworkPolicy {
  const types = o.policyTypes ?? [...(o.ingress ? ['Ingress'] : []), ...(o.egress ? ['Egress'] : [])];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: ns },
    spec: { podSelector, policyTypes: types, ...(o.ingress ? { ingress: o.ingress } : {}), ...(o.egress ? { egress: o.egress } : {}) },
  };
}

export const pod = (name: string): LabelSelector => ({ matchLabels: { pod: name } });
export const nsName = (ns: string): LabelSelector => ({ matchLabels: { 'kubernetes.io/metadata.name': ns } });
export const from = (...peers: NetworkPolicyPeer[]) => ({ from: peers });
export const to = (...peers: NetworkPolicyPeer[]) => ({ to: peers });
export const port = (p: number | string, protocol?: string): NetworkPolicyPort => ({ port: p, ...(protocol ? { protocol } : {}) });

/** Upstream's Reachability: expectations over every pair, starting from one default. */
export class Reachability {
  readonly expected = new Map<string, boolean>();
  constructor(defaultAllowed = true) {
    for (const f of allPods) for (const t of allPods) this.expected.set(`${f} ${t}`, defaultAllowed);
  }
  private static matches(p: string, peer: { ns?: string; pod?: string }): boolean {
    const [ns, name] = p.split('/');
    return (peer.ns === undefined || peer.ns === ns) && (peer.pod === undefined || peer.pod === name);
  }
  expectPeer(f: { ns?: string; pod?: string }, t: { ns?: string; pod?: string }, allowed: boolean): this {
    for (const a of allPods) for (const b of allPods) if (Reachability.matches(a, f) && Reachability.matches(b, t)) this.expected.set(`${a} ${b}`, allowed);
    return this;
  }
  expect(f: string, t: string, allowed: boolean): this {
    this.expected.set(`${f} ${t}`, allowed);
    return this;
  }
  expectAllIngress(t: string, allowed: boolean): this {
    for (const a of allPods) this.expected.set(`${a} ${t}`, allowed);
    return this;
  }
  expectAllEgress(f: string, allowed: boolean): this {
    for (const b of allPods) this.expected.set(`${f} ${b}`, allowed);
    return this;
  }
}

/** The pairs where the model disagrees with the expectation (loopback left out, as upstream's ignoreLoopback). */
export function mismatches(c: Cluster, r: Reachability, p: number, protocol: Protocol = 'TCP'): string[] {
  const mx = reachability(new PolicyModel(c, applyDefaults), p, protocol);
  const out: string[] = [];
  mx.pods.forEach((f, i) =>
    mx.pods.forEach((t, j) => {
      if (f === t) return;
      const want = r.expected.get(`${f} ${t}`);
      if (want !== mx.allowed[i]![j]) out.push(`${f} -> ${t} ${p}/${protocol}: expected ${want ? 'allowed' : 'denied'}`);
    }),
  );
  return out;
}

/** The topology with these policies (and label changes) applied. */
export function withPolicies(policies: NetworkPolicy[], edit?: (c: Cluster) => void): Cluster {
  const c = topology();
  c.policies = policies;
  edit?.(c);
  return c;
}

export function findPod(c: Cluster, key: string): Pod {
  const p = c.pods.find((x) => `${x.metadata.namespace}/${x.metadata.name}` === key);
  if (!p) throw new Error(`no pod ${key}`);
  return p;
}
