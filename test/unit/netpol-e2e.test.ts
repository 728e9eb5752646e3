// The NetworkPolicy cases of kubernetes test/e2e/network/netpol/network_policy.go, encoded as
// upstream writes them: its policies (GenNetworkPolicyWithNameAndPodSelector + SetSpec*Rules, which
// set policyTypes) and its Reachability expectations over x/y/z × a/b/c, compared with the model's
// matrix (`podpath netpol matrix`), loopback ignored as upstream ignores it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { from, mismatches, nsName, pod, podIP, policy, port, Reachability, to, withPolicies, findPod } from '../helpers/netpol.ts';

const ns = (n: string) => ({ ns: n });
const p = (n: string, name: string) => ({ ns: n, pod: name });
const notIn = (key: string, ...values: string[]) => ({ matchExpressions: [{ key, operator: 'NotIn', values }] });
const inSel = (key: string, ...values: string[]) => ({ matchExpressions: [{ key, operator: 'In', values }] });
const ok = (got: string[]) => assert.deepEqual(got, []);

describe('upstream e2e: NetworkPolicy between server and client (TCP)', () => {
  it("supports a 'default-deny-ingress' policy", () => {
    const c = withPolicies([policy('x', 'deny-ingress', {}, { ingress: [] })]);
    ok(mismatches(c, new Reachability().expectPeer({}, ns('x'), false), 80));
  });

  it("supports a 'default-deny-all' policy", () => {
    const c = withPolicies([policy('x', 'deny-all', {}, { ingress: [], egress: [] })]);
    ok(mismatches(c, new Reachability().expectPeer({}, ns('x'), false).expectPeer(ns('x'), {}, false), 80));
  });

  it('allows traffic from pods within the server namespace based on PodSelector', () => {
    const c = withPolicies([policy('x', 'x-a-allows-x-b', pod('a'), { ingress: [from({ podSelector: pod('b') })] })]);
    ok(mismatches(c, new Reachability().expectAllIngress('x/a', false).expect('x/b', 'x/a', true), 80));
  });

  it('allows ingress traffic for a target (deny-all plus allow-all-to-a)', () => {
    const c = withPolicies([
      policy('x', 'deny-all', {}, { ingress: [] }),
      policy('x', 'allow-all-to-a', pod('a'), { ingress: [from({ podSelector: {}, namespaceSelector: {} })] }),
    ]);
    ok(mismatches(c, new Reachability().expectAllIngress('x/a', true).expectAllIngress('x/b', false).expectAllIngress('x/c', false), 80));
  });

  it('allows ingress traffic from pods in all namespaces (namespaceSelector {})', () => {
    const c = withPolicies([policy('x', 'allow-from-another-ns', pod('a'), { ingress: [from({ namespaceSelector: { matchLabels: {} } })] })]);
    ok(mismatches(c, new Reachability(), 80));
  });

  it('allows traffic only from a different namespace, based on NamespaceSelector', () => {
    const c = withPolicies([policy('x', 'allow-client-a-via-ns-selector', pod('a'), { ingress: [from({ namespaceSelector: nsName('y') })] })]);
    ok(mismatches(c, new Reachability().expectPeer(ns('x'), p('x', 'a'), false).expectPeer(ns('z'), p('x', 'a'), false), 80));
  });

  it('enforces a PodSelector with MatchExpressions', () => {
    const c = withPolicies([policy('x', 'x-a-allows-x-b', pod('a'), { ingress: [from({ podSelector: inSel('pod', 'b') })] })]);
    ok(mismatches(c, new Reachability().expectAllIngress('x/a', false).expect('x/b', 'x/a', true), 80));
  });

  it('enforces a NamespaceSelector with MatchExpressions', () => {
    const c = withPolicies([policy('x', 'allow-ns-y-match-selector', pod('a'), { ingress: [from({ namespaceSelector: inSel('kubernetes.io/metadata.name', 'y') })] })]);
    ok(mismatches(c, new Reachability().expectPeer(ns('x'), p('x', 'a'), false).expectPeer(ns('z'), p('x', 'a'), false), 80));
  });

  it('enforces PodSelector OR NamespaceSelector (two peers)', () => {
    const c = withPolicies([policy('x', 'allow-ns-y-match-selector', pod('a'), { ingress: [from({ namespaceSelector: notIn('kubernetes.io/metadata.name', 'x') }, { podSelector: pod('b') })] })]);
    ok(mismatches(c, new Reachability().expect('x/a', 'x/a', false).expect('x/c', 'x/a', false), 80));
  });

  it('enforces PodSelector AND NamespaceSelector (one peer)', () => {
    const c = withPolicies([policy('x', 'allow-ns-y-podselector-and-nsselector', pod('a'), { ingress: [from({ namespaceSelector: notIn('kubernetes.io/metadata.name', 'x'), podSelector: pod('b') })] })]);
    ok(mismatches(c, new Reachability().expectAllIngress('x/a', false).expect('y/b', 'x/a', true).expect('z/b', 'x/a', true), 80));
  });

  it('enforces multiple PodSelectors and NamespaceSelectors', () => {
    const c = withPolicies([policy('x', 'allow-ns-y-z-pod-b-c', pod('a'), { ingress: [from({ namespaceSelector: notIn('kubernetes.io/metadata.name', 'x'), podSelector: inSel('pod', 'b', 'c') })] })]);
    ok(mismatches(c, new Reachability().expectPeer(ns('x'), p('x', 'a'), false).expect('y/a', 'x/a', false).expect('z/a', 'x/a', false), 80));
  });

  it('enforces any of several PodSelectors', () => {
    const c = withPolicies([policy('x', 'allow-ns-x-pod-b-c', pod('a'), { ingress: [from({ podSelector: pod('b') }, { podSelector: pod('c') })] })]);
    ok(mismatches(c, new Reachability().expectAllIngress('x/a', false).expect('x/b', 'x/a', true).expect('x/c', 'x/a', true), 80));
  });

  it('allows traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector', () => {
    const c = withPolicies([policy('x', 'allow-ns-y-pod-a-via-namespace-pod-selector', pod('a'), { ingress: [from({ namespaceSelector: nsName('y'), podSelector: pod('a') })] })]);
    ok(mismatches(c, new Reachability().expectAllIngress('x/a', false).expect('y/a', 'x/a', true), 80));
  });

  it('enforces policy based on Ports (81 from y only)', () => {
    const c = withPolicies([policy('x', 'allow-client-a-via-ns-selector', pod('a'), { ingress: [{ ...from({ namespaceSelector: nsName('y') }), ports: [port(81, 'TCP')] }] })]);
    ok(mismatches(c, new Reachability().expectPeer(ns('x'), p('x', 'a'), false).expectPeer(ns('y'), p('x', 'a'), true).expectPeer(ns('z'), p('x', 'a'), false), 81));
    ok(mismatches(c, new Reachability().expectAllIngress('x/a', false), 80));
  });

  it('enforces multiple, stacked policies with overlapping podSelectors', () => {
    const p81 = policy('x', 'allow-client-a-via-ns-selector', pod('a'), { ingress: [{ ...from({ namespaceSelector: nsName('y') }), ports: [port(81, 'TCP')] }] });
    const allow = new Reachability().expectPeer(ns('x'), p('x', 'a'), false).expectPeer(ns('y'), p('x', 'a'), true).expectPeer(ns('z'), p('x', 'a'), false);
    ok(mismatches(withPolicies([p81]), allow, 81));
    ok(mismatches(withPolicies([p81]), new Reachability().expectAllIngress('x/a', false), 80));
    const p80 = policy('x', 'allow-client-a-via-ns-selector-80', pod('a'), { ingress: [{ ...from({ namespaceSelector: nsName('y') }), ports: [port(80, 'TCP')] }] });
    ok(mismatches(withPolicies([p81, p80]), allow, 80));
  });

  it('supports an allow-all policy', () => {
    const c = withPolicies([policy('x', 'allow-all', { matchLabels: {} }, { ingress: [{}] })]);
    ok(mismatches(c, new Reachability(), 80));
    ok(mismatches(c, new Reachability(), 81));
  });

  it('allows ingress access on one named port', () => {
    const c = withPolicies([policy('x', 'allow-all', {}, { ingress: [{ ports: [port('serve-81-tcp')] }] })]);
    ok(mismatches(c, new Reachability(), 81));
    ok(mismatches(c, new Reachability().expectPeer({}, ns('x'), false), 80));
  });

  it('allows ingress access from a namespace on one named port', () => {
    const c = withPolicies([policy('x', 'allow-client-a-via-ns-selector-80', pod('a'), { ingress: [{ ...from({ namespaceSelector: nsName('y') }), ports: [port('serve-80-tcp', 'TCP')] }] })]);
    ok(mismatches(c, new Reachability().expectPeer(ns('x'), p('x', 'a'), false).expectPeer(ns('z'), p('x', 'a'), false), 80));
    ok(mismatches(c, new Reachability().expectAllIngress('x/a', false), 81));
  });

  it('allows egress access on one named port', () => {
    const c = withPolicies([policy('x', 'allow-egress', {}, { egress: [{ ports: [port('serve-80-tcp')] }] })]);
    ok(mismatches(c, new Reachability(), 80));
    ok(mismatches(c, new Reachability().expectPeer(ns('x'), {}, false), 81));
  });

  it('enforces an updated policy (allow-all, then the same policy with no rules)', () => {
    const np = policy('x', 'allow-all-mutate-to-deny-all', {}, { ingress: [{}] });
    ok(mismatches(withPolicies([np]), new Reachability(), 81));
    np.spec.ingress = [];
    ok(mismatches(withPolicies([np]), new Reachability().expectPeer({}, ns('x'), false), 81));
  });

  it('allows ingress access from an updated namespace (live namespace labels)', () => {
    const np = policy('x', 'allow-client-a-via-ns-selector', pod('a'), { ingress: [from({ namespaceSelector: { matchLabels: { ns2: 'updated' } } })] });
    ok(mismatches(withPolicies([np]), new Reachability().expectAllIngress('x/a', false), 80));
    const labelled = withPolicies([np], (c) => {
      const y = c.namespaces.find((n) => n.metadata.name === 'y')!;
      y.metadata.labels = { ...y.metadata.labels, ns2: 'updated' };
    });
    ok(mismatches(labelled, new Reachability().expectAllIngress('x/a', false).expectPeer(ns('y'), {}, true), 80));
  });

  it('allows ingress access from an updated pod (live pod labels)', () => {
    const np = policy('x', 'allow-client-a-via-pod-selector', pod('a'), { ingress: [from({ podSelector: { matchLabels: { pod: 'b', pod2: 'updated' } } })] });
    ok(mismatches(withPolicies([np]), new Reachability().expectAllIngress('x/a', false), 80));
    const labelled = withPolicies([np], (c) => void (findPod(c, 'x/b').metadata.labels = { pod: 'b', pod2: 'updated' }));
    ok(mismatches(labelled, new Reachability().expectAllIngress('x/a', false).expect('x/b', 'x/a', true), 80));
  });

  it('denies ingress from pods in other namespaces (podSelector {} peer)', () => {
    const c = withPolicies([policy('x', 'deny-empty-policy', {}, { ingress: [from({ podSelector: { matchLabels: {} } })] })]);
    ok(mismatches(c, new Reachability().expectPeer(ns('y'), ns('x'), false).expectPeer(ns('z'), ns('x'), false), 80));
  });

  it('denies ingress access to an updated pod', () => {
    const np = policy('x', 'deny-ingress-via-label-selector', { matchLabels: { target: 'isolated' } }, { ingress: [] });
    ok(mismatches(withPolicies([np]), new Reachability(), 80));
    const labelled = withPolicies([np], (c) => void (findPod(c, 'x/a').metadata.labels = { pod: 'a', target: 'isolated' }));
    ok(mismatches(labelled, new Reachability().expectAllIngress('x/a', false), 80));
  });

  it('denies egress from pods based on PodSelector', () => {
    const c = withPolicies([policy('x', 'deny-egress-pod-a', pod('a'), { egress: [] })]);
    ok(mismatches(c, new Reachability().expectAllEgress('x/a', false), 80));
  });

  it('denies egress from all pods in a namespace', () => {
    const c = withPolicies([policy('x', 'deny-egress-ns-x', {}, { egress: [] })]);
    ok(mismatches(c, new Reachability().expectPeer(ns('x'), {}, false), 80));
  });

  it('works with Ingress and Egress specified together', () => {
    const c = withPolicies([policy('x', 'allow-client-a-via-pod-selector', pod('a'), { ingress: [from({ podSelector: pod('b') })], egress: [{ ports: [port(80)] }], policyTypes: ['Egress', 'Ingress'] })]);
    ok(mismatches(c, new Reachability().expectAllIngress('x/a', false).expect('x/b', 'x/a', true), 80));
    ok(mismatches(c, new Reachability().expectAllIngress('x/a', false).expectAllEgress('x/a', false).expect('x/b', 'x/a', true), 81));
  });

  it('denies egress on the client side even when the server explicitly allows it', () => {
    const ingress = [from({ namespaceSelector: nsName('x'), podSelector: pod('a') })];
    const c = withPolicies([
      policy('x', 'allow-to-ns-y-pod-a', pod('a'), { egress: [to({ namespaceSelector: nsName('y'), podSelector: pod('a') })] }),
      policy('y', 'allow-from-xa-on-ya-match-selector', pod('a'), { ingress }),
      policy('y', 'allow-from-xa-on-yb-match-selector', pod('b'), { ingress }),
    ]);
    const r = new Reachability().expectPeer(p('x', 'a'), {}, false).expectPeer({}, p('y', 'a'), false).expectPeer(p('x', 'a'), p('y', 'a'), true).expectPeer({}, p('y', 'b'), false);
    ok(mismatches(c, r, 80));
  });

  it('allows egress to a server in a different namespace based on PodSelector and NamespaceSelector', () => {
    const c = withPolicies([policy('x', 'allow-to-ns-y-pod-a', pod('a'), { egress: [to({ namespaceSelector: nsName('y'), podSelector: pod('a') })] })]);
    ok(mismatches(c, new Reachability().expectAllEgress('x/a', false).expect('x/a', 'y/a', true), 80));
  });

  it('allows any port of one protocol (TCP allowed, UDP denied)', () => {
    const c = withPolicies([policy('x', 'allow-ingress-by-proto', pod('a'), { ingress: [{ ports: [{ protocol: 'TCP' }] }] })]);
    ok(mismatches(c, new Reachability(), 80, 'TCP'));
    ok(mismatches(c, new Reachability().expectPeer({}, p('x', 'a'), false), 80, 'UDP'));
  });

  it('lets an allow-all ingress policy take precedence over a narrower one', () => {
    const only80 = policy('x', 'allow-ingress-port-80', { matchLabels: {} }, { ingress: [{ ports: [port(80)] }] });
    ok(mismatches(withPolicies([only80]), new Reachability().expectPeer({}, ns('x'), false), 81));
    ok(mismatches(withPolicies([only80, policy('x', 'allow-ingress', { matchLabels: {} }, { ingress: [{}] })]), new Reachability(), 81));
  });

  it('lets an allow-all egress policy take precedence over a narrower one', () => {
    const only80 = policy('x', 'allow-egress-port-80', { matchLabels: {} }, { egress: [{ ports: [port(80)] }] });
    ok(mismatches(withPolicies([only80]), new Reachability().expectPeer(ns('x'), {}, false), 81));
    ok(mismatches(withPolicies([only80, policy('x', 'allow-egress', { matchLabels: {} }, { egress: [{}] })]), new Reachability(), 81));
  });

  it('stops enforcing policies after they are deleted', () => {
    ok(mismatches(withPolicies([policy('x', 'deny-all', {}, { ingress: [], egress: [] })]), new Reachability().expectPeer(ns('x'), {}, false).expectPeer({}, ns('x'), false), 80));
    ok(mismatches(withPolicies([]), new Reachability(), 80));
  });

  it('allows egress access to a server in a CIDR block (a pod IP /32)', () => {
    const c = withPolicies([policy('x', 'allow-client-a-via-cidr-egress-rule', pod('a'), { egress: [to({ ipBlock: { cidr: `${podIP('y', 'b')}/32` } })] })]);
    ok(mismatches(c, new Reachability().expectAllEgress('x/a', false).expect('x/a', 'y/b', true), 80));
  });

  it('enforces the except clause of an egress CIDR block', () => {
    // makeLargeCIDRForIP: the pod IP with a /4 mask
    const c = withPolicies([policy('x', 'allow-client-a-via-cidr-egress-rule', pod('a'), { egress: [to({ ipBlock: { cidr: '0.0.0.0/4', except: [`${podIP('x', 'b')}/32`] } })] })]);
    ok(mismatches(c, new Reachability().expect('x/a', 'x/b', false), 80));
  });

  it('allows an IP in both a CIDR and its except once a policy of the same name allows it (the update replaces)', () => {
    const name = 'allow-client-a-via-cidr-egress-rule';
    const replaced = withPolicies([policy('x', name, pod('a'), { egress: [to({ ipBlock: { cidr: `${podIP('x', 'b')}/32` } })] })]);
    ok(mismatches(replaced, new Reachability().expectAllEgress('x/a', false).expect('x/a', 'x/b', true), 80));
  });

  it('controls ingress and egress independently', () => {
    const egress = policy('x', 'allow-egress-for-target', pod('a'), { egress: [{}] });
    ok(mismatches(withPolicies([egress]), new Reachability(), 80));
    ok(mismatches(withPolicies([egress, policy('x', 'deny-ingress-via-label-selector', pod('a'), { ingress: [] })]), new Reachability().expectAllIngress('x/a', false), 80));
  });

  it("does not treat 'protocol: SCTP' as TCP", () => {
    const c = withPolicies([policy('x', 'deny-ingress', {}, { ingress: [] }), policy('x', 'allow-only-sctp-ingress-on-port-81', pod('a'), { ingress: [{ ports: [port(81, 'SCTP')] }] })]);
    ok(mismatches(c, new Reachability().expectPeer({}, ns('x'), false), 81));
  });

  it('isolates pods selected by a policy allowing only SCTP', () => {
    const c = withPolicies([policy('x', 'allow-only-sctp-ingress-on-port-80', pod('a'), { ingress: [{ ports: [port(80, 'SCTP')] }] })]);
    ok(mismatches(c, new Reachability().expectAllIngress('x/a', false), 81));
  });

  it('does not allow TCP when a policy names only UDP', () => {
    const c = withPolicies([policy('x', 'allow-only-udp-ingress-on-port-81', pod('a'), { ingress: [{ ports: [port(81, 'UDP')] }] })]);
    ok(mismatches(c, new Reachability().expectAllIngress('x/a', false), 81));
  });

  it('matches namespaces by the default kubernetes.io/metadata.name label (MatchLabels)', () => {
    const c = withPolicies([policy('x', 'allow-client-a-via-ns-selector-for-immutable-ns-label', pod('a'), { ingress: [from({ namespaceSelector: nsName('y') })] })]);
    ok(mismatches(c, new Reachability().expectPeer(ns('x'), p('x', 'a'), false).expectPeer(ns('z'), p('x', 'a'), false), 80));
  });

  it('matches namespaces by the default label (MatchExpressions NotIn, egress)', () => {
    const c = withPolicies([policy('x', 'allow-ns-y-match-selector-for-immutable-ns-label', pod('a'), { egress: [to({ namespaceSelector: notIn('kubernetes.io/metadata.name', 'y') })] })]);
    ok(mismatches(c, new Reachability().expectPeer(p('x', 'a'), ns('y'), false), 80));
  });
});

describe('upstream e2e: UDP and SCTP variants', () => {
  for (const proto of ['UDP', 'SCTP'] as const) {
    it(`${proto}: supports a 'default-deny-ingress' policy`, () => {
      const c = withPolicies([policy('x', 'deny-all', {}, { ingress: [] })]);
      ok(mismatches(c, new Reachability().expectPeer({}, ns('x'), false), 80, proto));
    });
    it(`${proto}: enforces policy based on Ports`, () => {
      const c = withPolicies([policy('x', 'allow-ingress-on-port-81-ns-x', pod('a'), { ingress: [{ ...from({ namespaceSelector: nsName('y') }), ports: [port(81, proto)] }] })]);
      ok(mismatches(c, new Reachability().expectPeer(ns('x'), p('x', 'a'), false).expectPeer(ns('z'), p('x', 'a'), false), 81, proto));
      // the rule names one protocol: TCP to the same port stays closed
      ok(mismatches(c, new Reachability().expectAllIngress('x/a', false), 81, 'TCP'));
    });
    it(`${proto}: allows traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector`, () => {
      const c = withPolicies([policy('x', 'allow-ns-y-pod-a-via-namespace-pod-selector', pod('a'), { ingress: [from({ namespaceSelector: nsName('y'), podSelector: pod('a') })] })]);
      ok(mismatches(c, new Reachability().expectAllIngress('x/a', false).expect('y/a', 'x/a', true), 80, proto));
    });
  }
});

describe('upstream e2e helpers (policies.go)', () => {
  it('GetDenyAllWithEgressDNS: deny all but egress to UDP 53', () => {
    const c = withPolicies([policy('x', 'deny-all-tcp-allow-dns', {}, { ingress: [], egress: [{ ports: [port(53, 'UDP')] }], policyTypes: ['Egress', 'Ingress'] })]);
    ok(mismatches(c, new Reachability().expectPeer(ns('x'), {}, false).expectPeer({}, ns('x'), false), 80));
    // UDP 53 leaves x (y and z accept it); nothing enters x
    ok(mismatches(c, new Reachability().expectPeer({}, ns('x'), false), 53, 'UDP'));
  });

  it('GetAllowEgressByCIDRExcept plus another policy: an excepted IP is allowed through the other (additivity)', () => {
    const c = withPolicies([
      policy('x', 'allow-client-a-via-cidr-egress-rule', pod('a'), { egress: [to({ ipBlock: { cidr: '10.244.0.0/16', except: [`${podIP('x', 'b')}/32`] } })] }),
      policy('x', 'allow-client-a-to-x-b', pod('a'), { egress: [to({ ipBlock: { cidr: `${podIP('x', 'b')}/32` } })] }),
    ]);
    ok(mismatches(c, new Reachability(), 80));
  });
});
