// The NetworkPolicy model's semantics beyond the e2e matrices: policyTypes defaulting, nil vs empty
// selectors, NotIn, ipBlock for addresses outside the pods, named ports (per destination pod, for
// egress too), endPort, protocol-only ports, loopback, explanations; and Cyclonus's matcher
// assertions (mattfenwick/cyclonus pkg/matcher/policy_tests.go) and its endPort example.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkPolicy } from '../../src/api/types.ts';
import { explain, PolicyError, PolicyModel, type Connection } from '../../src/netpol/policy.ts';
import { findPod, from, mismatches, nsName, pod, podIP, port, Reachability, to, withPolicies } from '../helpers/netpol.ts';
import { applyDefaults } from '../../src/api/defaults.ts';

/** A policy as a user writes it: no policyTypes unless given, nothing defaulted. */
function raw(ns: string, name: string, spec: Partial<NetworkPolicy['spec']>): NetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec: { podSelector: {}, ...spec } };
}

function verdict(policies: NetworkPolicy[], f: string, t: string, p: number, protocol: 'TCP' | 'UDP' | 'SCTP' = 'TCP') {
  const m = new PolicyModel(withPolicies(policies), applyDefaults);
  const c: Connection = { from: m.resolve(f), to: m.resolve(t), port: p, protocol };
  return { v: m.evaluate(c), text: explain(c, m.evaluate(c)) };
}

describe('policyTypes defaulting', () => {
  it('a policy with only egress rules and no policyTypes isolates ingress too, with no ingress rule', () => {
    const np = raw('x', 'egress-only', { podSelector: pod('a'), egress: [{}] });
    assert.deepEqual(mismatches(withPolicies([np]), new Reachability().expectAllIngress('x/a', false), 80), []);
  });

  it('`egress: []` without policyTypes is an ingress deny, not an egress deny', () => {
    const np = raw('x', 'meant-to-deny-egress', { egress: [] });
    assert.deepEqual(mismatches(withPolicies([np]), new Reachability().expectPeer({}, { ns: 'x' }, false), 80), []);
  });

  it('policyTypes [Egress] with egress: [] denies all egress and leaves ingress open', () => {
    const np = raw('x', 'deny-egress', { policyTypes: ['Egress'] });
    assert.deepEqual(mismatches(withPolicies([np]), new Reachability().expectPeer({ ns: 'x' }, {}, false), 80), []);
  });
});

describe('peers', () => {
  it('podSelector {} in a peer means every pod of the policy\'s namespace; namespaceSelector {} every namespace', () => {
    const own = raw('x', 'own-ns', { ingress: [from({ podSelector: {} })] });
    assert.deepEqual(mismatches(withPolicies([own]), new Reachability().expectPeer({ ns: 'y' }, { ns: 'x' }, false).expectPeer({ ns: 'z' }, { ns: 'x' }, false), 80), []);
    const all = raw('x', 'all-ns', { ingress: [from({ namespaceSelector: {} })] });
    assert.deepEqual(mismatches(withPolicies([all]), new Reachability(), 80), []);
  });

  it('NotIn matches pods that lack the key; In and Exists require it', () => {
    const c = withPolicies([raw('x', 'not-in', { podSelector: pod('a'), ingress: [from({ podSelector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] } })] })], (c) => {
      findPod(c, 'x/b').metadata.labels = { pod: 'b', tier: 'web' };
    });
    assert.deepEqual(mismatches(c, new Reachability().expectAllIngress('x/a', false).expect('x/c', 'x/a', true), 80), []);
  });

  it('an address that is no pod matches only ipBlocks and peer-less rules', () => {
    const sel = raw('x', 'from-all-pods', { podSelector: pod('a'), ingress: [from({ namespaceSelector: {} })] });
    assert.equal(verdict([sel], '192.168.49.100', 'x/a', 80).v.allowed, false);
    const block = raw('x', 'from-underlay', { podSelector: pod('a'), ingress: [from({ ipBlock: { cidr: '192.168.49.0/24', except: ['192.168.49.100/32'] } })] });
    assert.equal(verdict([block], '192.168.49.7', 'x/a', 80).v.allowed, true);
    assert.equal(verdict([block], '192.168.49.100', 'x/a', 80).v.allowed, false);
    const any = raw('x', 'from-anyone', { podSelector: pod('a'), ingress: [{ ports: [port(80)] }] });
    assert.equal(verdict([any], '203.0.113.9', 'x/a', 80).v.allowed, true);
  });

  it('an ipBlock matches pods by their IP, and a pod\'s IP given as --from stands for the pod', () => {
    const np = raw('x', 'from-y-b-ip', { podSelector: pod('a'), ingress: [from({ ipBlock: { cidr: `${podIP('y', 'b')}/32` } })] });
    assert.equal(verdict([np], 'y/b', 'x/a', 80).v.allowed, true);
    assert.equal(verdict([np], podIP('y', 'b'), 'x/a', 80).v.egress.pod, 'y/b');
    assert.equal(verdict([np], 'y/c', 'x/a', 80).v.allowed, false);
  });

  it('egress to an external address: allowed unless the source is egress-isolated', () => {
    assert.equal(verdict([], 'x/a', '198.51.100.1', 443).v.allowed, true);
    const deny = raw('x', 'deny-egress', { policyTypes: ['Egress'] });
    assert.equal(verdict([deny], 'x/a', '198.51.100.1', 443).v.allowed, false);
  });
});

describe('ports', () => {
  it('a named port resolves against the destination pod, for egress too; a name no container has matches nothing', () => {
    const c = withPolicies([raw('x', 'egress-named', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ ports: [port('serve-81-tcp')] }] })], (c) => {
      // y/b serves "serve-81-tcp" on 8081 instead
      findPod(c, 'y/b').spec.containers[0]!.ports = [{ name: 'serve-81-tcp', containerPort: 8081 }];
    });
    const m = new PolicyModel(c, applyDefaults);
    const ev = (t: string, p: number) => m.evaluate({ from: m.resolve('x/a'), to: m.resolve(t), port: p, protocol: 'TCP' }).allowed;
    assert.equal(ev('y/a', 81), true);
    assert.equal(ev('y/b', 81), false);
    assert.equal(ev('y/b', 8081), true);
    assert.equal(ev('198.51.100.1', 81), false, 'an address has no named ports');
    const none = raw('x', 'no-such-name', { podSelector: pod('a'), ingress: [{ ports: [port('serve-99-tcp')] }] });
    assert.equal(verdict([none], 'y/a', 'x/a', 80).v.allowed, false);
  });

  it('a named port matches only its own protocol', () => {
    const np = raw('x', 'udp-name', { podSelector: pod('a'), ingress: [{ ports: [{ port: 'serve-80-udp', protocol: 'UDP' }] }] });
    assert.equal(verdict([np], 'y/a', 'x/a', 80, 'UDP').v.allowed, true);
    assert.equal(verdict([np], 'y/a', 'x/a', 80, 'TCP').v.allowed, false);
    const wrong = raw('x', 'tcp-name-udp', { podSelector: pod('a'), ingress: [{ ports: [{ port: 'serve-80-tcp', protocol: 'UDP' }] }] });
    assert.equal(verdict([wrong], 'y/a', 'x/a', 80, 'UDP').v.allowed, false);
  });

  it('protocol defaults to TCP: {port: 80} never matches UDP', () => {
    const np = raw('x', 'port-80', { podSelector: pod('a'), ingress: [{ ports: [{ port: 80 }] }] });
    assert.equal(verdict([np], 'y/a', 'x/a', 80, 'TCP').v.allowed, true);
    assert.equal(verdict([np], 'y/a', 'x/a', 80, 'UDP').v.allowed, false);
  });

  it('a port entry with only a protocol admits every port of it', () => {
    const np = raw('x', 'all-udp', { podSelector: pod('a'), ingress: [{ ports: [{ protocol: 'UDP' }] }] });
    for (const p of [1, 53, 81, 65535]) assert.equal(verdict([np], 'y/a', 'x/a', p, 'UDP').v.allowed, true);
    assert.equal(verdict([np], 'y/a', 'x/a', 81, 'TCP').v.allowed, false);
  });

  it('endPort is an inclusive range (Cyclonus networkpolicies/features/portrange1.yaml: 80–103 TCP)', () => {
    const np = raw('x', 'portrange1', { podSelector: pod('a'), ingress: [{ ports: [{ protocol: 'TCP', port: 80, endPort: 103 }] }] });
    assert.deepEqual([79, 80, 81, 103, 104].map((p) => verdict([np], 'y/a', 'x/a', p).v.allowed), [false, true, true, true, false]);
  });

  it('ports and peers of one rule are ANDed; rules are ORed', () => {
    const np = raw('x', 'two-rules', { podSelector: pod('a'), ingress: [{ ...from({ namespaceSelector: nsName('y') }), ports: [port(80)] }, { ...from({ namespaceSelector: nsName('z') }), ports: [port(81)] }] });
    assert.deepEqual([['y/a', 80], ['y/a', 81], ['z/a', 80], ['z/a', 81]].map(([f, p]) => verdict([np], f as string, 'x/a', p as number).v.allowed), [true, false, false, true]);
  });
});

describe('verdicts and explanations', () => {
  it('both directions must allow: egress of the source and ingress of the destination', () => {
    const eg = raw('y', 'y-egress-only-z', { policyTypes: ['Egress'], egress: [to({ namespaceSelector: nsName('z') })] });
    const { v } = verdict([eg], 'y/a', 'x/a', 80);
    assert.equal(v.allowed, false);
    assert.equal(v.ingress.allowed, true);
    assert.deepEqual(v.egress.policies, ['y/y-egress-only-z']);
  });

  it('a pod can always reach itself (loopback), even when isolated', () => {
    const { v, text } = verdict([raw('x', 'deny', {})], 'x/a', 'x/a', 80);
    assert.equal(v.allowed, true);
    assert.equal(v.loopback, true);
    assert.match(text, /loopback/);
  });

  it('names the policies that isolate each end and the rules that allow, or that none does', () => {
    const a = raw('x', 'allow-from-y', { ingress: [from({ namespaceSelector: nsName('y') })] });
    const b = raw('x', 'allow-81', { podSelector: pod('a'), ingress: [{ ports: [port(81)] }] });
    const yes = verdict([a, b], 'y/b', 'x/a', 81);
    assert.deepEqual(yes.v.ingress.allowedBy, [{ policy: 'x/allow-from-y', direction: 'Ingress', rule: 0 }, { policy: 'x/allow-81', direction: 'Ingress', rule: 0 }]);
    assert.equal(
      yes.text,
      'y/b -> x/a 81/TCP: allowed\n' +
        '  egress: y/b is selected by no policy with Egress in policyTypes, not isolated\n' +
        '  ingress: x/a is isolated by x/allow-from-y, x/allow-81; allowed by x/allow-from-y ingress[0], x/allow-81 ingress[0]\n',
    );
    const no = verdict([a, b], 'z/b', 'x/a', 80);
    assert.equal(no.v.allowed, false);
    assert.match(no.text, /^z\/b -> x\/a 80\/TCP: denied\n.*\n  ingress: x\/a is isolated by x\/allow-from-y, x\/allow-81; no rule allows this\n$/);
  });

  it('refuses unknown pods and malformed endpoints with codes', () => {
    const m = new PolicyModel(withPolicies([]), applyDefaults);
    assert.throws(() => m.resolve('x/q'), (e: PolicyError) => e.code === 'UnknownPod' && /x\/q/.test(e.message));
    assert.throws(() => m.resolve('not-an-ip'), (e: PolicyError) => e.code === 'BadEndpoint');
  });
});

describe('Cyclonus matcher assertions (pkg/matcher/policy_tests.go)', () => {
  it('an SCTP-only allow denies TCP from pods and from IPs', () => {
    const np = raw('x', 'sctp-only', { podSelector: pod('a'), ingress: [{ ports: [{ protocol: 'SCTP', port: 80 }] }] });
    assert.equal(verdict([np], 'y/a', 'x/a', 80, 'TCP').v.allowed, false);
    assert.equal(verdict([np], '8.8.8.8', 'x/a', 80, 'TCP').v.allowed, false);
    assert.equal(verdict([np], '8.8.8.8', 'x/a', 80, 'SCTP').v.allowed, true);
  });

  it('a named port port-hello is allowed', () => {
    const np = raw('x', 'hello', { podSelector: pod('a'), ingress: [{ ports: [port('port-hello')] }] });
    const c = withPolicies([np], (c) => void (findPod(c, 'x/a').spec.containers[0]!.ports = [{ name: 'port-hello', containerPort: 7890 }]));
    const m = new PolicyModel(c, applyDefaults);
    assert.equal(m.evaluate({ from: m.resolve('y/a'), to: m.resolve('x/a'), port: 7890, protocol: 'TCP' }).allowed, true);
    assert.equal(m.evaluate({ from: m.resolve('y/a'), to: m.resolve('x/a'), port: 7891, protocol: 'TCP' }).allowed, false);
  });

  it('an egress ipBlock with a non-canonical CIDR 192.168.242.213/24 admits 192.168.242.249', () => {
    const np = raw('x', 'non-canonical', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [to({ ipBlock: { cidr: '192.168.242.213/24' } })] });
    assert.equal(verdict([np], 'x/a', '192.168.242.249', 80).v.allowed, true);
    assert.equal(verdict([np], 'x/a', '192.168.243.1', 80).v.allowed, false);
  });
});

describe('Cyclonus peer combinations (pkg/generator: nil, empty and labelled pod/namespace selectors)', () => {
  // A policy in x selecting x/a, one ingress peer; which sources of the nine may connect.
  const cases: [string, { podSelector?: object; namespaceSelector?: object }, string[]][] = [
    ['pod {} / ns nil: every pod of the policy\'s namespace', { podSelector: {} }, ['x/a', 'x/b', 'x/c']],
    ['pod nil / ns {}: every pod of every namespace', { namespaceSelector: {} }, ['x/a', 'x/b', 'x/c', 'y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c']],
    ['pod {} / ns {}: every pod of every namespace', { podSelector: {}, namespaceSelector: {} }, ['x/a', 'x/b', 'x/c', 'y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c']],
    ['pod b / ns nil: b of the policy\'s namespace', { podSelector: pod('b') }, ['x/a', 'x/b']],
    ['pod b / ns {}: b of every namespace', { podSelector: pod('b'), namespaceSelector: {} }, ['x/a', 'x/b', 'y/b', 'z/b']],
    ['pod nil / ns y: every pod of y', { namespaceSelector: nsName('y') }, ['x/a', 'y/a', 'y/b', 'y/c']],
    ['pod {} / ns y: every pod of y', { podSelector: {}, namespaceSelector: nsName('y') }, ['x/a', 'y/a', 'y/b', 'y/c']],
    ['pod b / ns y: b of y', { podSelector: pod('b'), namespaceSelector: nsName('y') }, ['x/a', 'y/b']],
  ];
  for (const [name, peer, allowed] of cases) {
    it(name, () => {
      const np = raw('x', 'peer', { podSelector: pod('a'), ingress: [{ from: [peer] }] });
      const r = new Reachability().expectAllIngress('x/a', false);
      for (const f of allowed) r.expect(f, 'x/a', true);
      assert.deepEqual(mismatches(withPolicies([np]), r, 80), []);
    });
  }
});
