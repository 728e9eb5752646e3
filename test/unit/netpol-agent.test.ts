// The NetworkPolicy agent's table (src/netpol/rules.ts + sync.ts + the Syncer) applied to
// knftables' Fake: what a node holds for its pods, that a label change only edits a set and a
// policy change only the chains it concerns, that what is no longer wanted goes, and that a failed
// transaction leads to a full rebuild.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rulesInChainBlocks } from '../../src/knftables/cachefree.ts';
import { Fake, NftError } from '../../src/knftables/index.ts';
import { Syncer } from '../../src/netpol/agent.ts';
import { PolicyModel, type Cluster } from '../../src/netpol/policy.ts';
import { desiredTable, tableFamily, tableName } from '../../src/netpol/rules.ts';
import { planSync } from '../../src/netpol/sync.ts';
import { findPod, from, nsName, pod, podIP, policy, port, to, withPolicies } from '../helpers/netpol.ts';
import { applyDefaults } from '../../src/api/defaults.ts';
import type { KubeObject } from '../../src/api/types.ts';

/** x/* and z/* on node n1, y/* on n2. */
function placed(c: Cluster): Cluster {
  for (const p of c.pods) p.spec.nodeName = p.metadata.namespace === 'y' ? 'n2' : 'n1';
  return c;
}

const newFake = () => new Fake({ family: tableFamily, table: tableName });

/** The cluster as the agent's informers hold it: Namespaces and NetworkPolicies defaulted, as the API server serves them. */
function served(c: Cluster): Cluster {
  const defaulted = <T extends KubeObject>(kind: string, o: T): T => {
    const copy = structuredClone(o);
    applyDefaults(kind, copy);
    return copy;
  };
  return { namespaces: c.namespaces.map((n) => defaulted('Namespace', n)), pods: c.pods, policies: c.policies.map((np) => defaulted('NetworkPolicy', np)) };
}

function syncer(c: { cluster: Cluster }, fake = newFake()) {
  const logs: string[] = [];
  return { s: new Syncer({ cluster: () => served(c.cluster) }, { nodeName: 'n1', nft: fake, log: (l) => logs.push(l) }), fake, logs };
}

describe('netpol agent: the node table', () => {
  it('writes nothing but the base chain and empty maps while no local pod is isolated', () => {
    const { s, fake } = syncer({ cluster: placed(withPolicies([])) });
    assert.ok(s.syncNow());
    const t = fake.table()!;
    assert.deepEqual([...t.chains.keys()], ['forward']);
    assert.deepEqual(t.chains.get('forward')!.rules.map((r) => r.rule), ['ct state established,related accept', 'ip saddr vmap @egress-pods', 'ip daddr vmap @ingress-pods']);
    assert.equal(t.chains.get('forward')!.chain.hook, 'forward');
    assert.deepEqual(fake.listElements('map', 'ingress-pods'), []);
  });

  it('isolates the local pods a policy selects: a map element and a chain each, ending in a counted drop', () => {
    const np = policy('x', 'allow-from-y', {}, { ingress: [{ ...from({ namespaceSelector: nsName('y') }), ports: [port(80), port('serve-81-tcp')] }] });
    const { s, fake } = syncer({ cluster: placed(withPolicies([np])) });
    assert.ok(s.syncNow());
    const els = fake.listElements('map', 'ingress-pods').map((e) => `${e.key.join()} : ${e.value!.join()}`);
    assert.deepEqual(els.sort(), ['10.244.1.10 : jump ingress-x/a', '10.244.1.11 : jump ingress-x/b', '10.244.1.12 : jump ingress-x/c']);
    assert.deepEqual(
      fake.listRules('ingress-x/a').map((r) => r.rule),
      ['ip saddr 10.244.1.10 return', 'ip saddr @from-x/allow-from-y-0 meta l4proto tcp th dport 80 return', 'ip saddr @from-x/allow-from-y-0 meta l4proto tcp th dport 81 return', 'counter drop'],
    );
    // the peers' set holds y's pod IPs, whatever node they run on
    assert.deepEqual(fake.listElements('set', 'from-x/allow-from-y-0').map((e) => e.key[0]).sort(), ['10.244.2.10', '10.244.2.11', '10.244.2.12']);
    // z is on this node but not isolated; y's pods are on n2
    assert.equal(fake.table()!.chains.has('ingress-z/a'), false);
    assert.equal(fake.table()!.chains.has('ingress-y/a'), false);
  });

  it('egress: ipBlocks with except, named ports per destination pod, protocol-only ports', () => {
    const np = policy('x', 'egress', pod('a'), {
      egress: [
        to({ ipBlock: { cidr: '192.168.242.213/24', except: ['192.168.242.0/28'] } }),
        { ...to({ namespaceSelector: nsName('y'), podSelector: pod('b') }), ports: [port('serve-81-tcp')] },
        { ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'SCTP' }] },
      ],
    });
    const c = placed(withPolicies([np]));
    const t = desiredTable(new PolicyModel(c, applyDefaults), 'n1');
    assert.deepEqual(t.chains.get('egress-x/a')!.rules, [
      'ip daddr 10.244.1.10 return',
      'ip daddr 192.168.242.0/24 ip daddr != { 192.168.242.0/28 } return',
      `ip daddr . meta l4proto . th dport { ${podIP('y', 'b')} . tcp . 81 } return`,
      'meta l4proto udp th dport 53 return',
      'meta l4proto sctp return',
      'counter drop',
    ]);
    assert.deepEqual([...t.maps.Egress.keys()], ['10.244.1.10']);
    const { s } = syncer({ cluster: c });
    assert.ok(s.syncNow(), 'the Fake takes it');
    // a second policy allowing the same block and DNS, and TCP 443: only the new line is added
    const again = policy('x', 'egress-too', pod('a'), { egress: [to({ ipBlock: { cidr: '192.168.242.213/24', except: ['192.168.242.0/28'] } }), { ports: [{ protocol: 'UDP', port: 53 }, port(443)] }] });
    const both = desiredTable(new PolicyModel(placed(withPolicies([np, again])), applyDefaults), 'n1');
    assert.deepEqual(both.chains.get('egress-x/a')!.rules, [...t.chains.get('egress-x/a')!.rules.slice(0, -1), 'meta l4proto tcp th dport 443 return', 'counter drop']);
  });

  it('pods the same policies select share their lines but for the numbers their named ports have', () => {
    const np = policy('x', 'allow-81', pod('a'), { ingress: [{ ports: [port('serve-81-tcp')] }] });
    // x/b looks like x/a (same labels), but serves serve-81-tcp on 8181
    const c = placed(
      withPolicies([np], (c) => {
        const b = findPod(c, 'x/b');
        b.metadata.labels = { pod: 'a' };
        for (const p of b.spec!.containers[0]!.ports!) if (p.name === 'serve-81-tcp') p.containerPort = 8181;
      }),
    );
    const t = desiredTable(new PolicyModel(c, applyDefaults), 'n1');
    assert.deepEqual(t.chains.get('ingress-x/a')!.rules, ['ip saddr 10.244.1.10 return', 'meta l4proto tcp th dport 81 return', 'counter drop']);
    assert.deepEqual(t.chains.get('ingress-x/b')!.rules, ['ip saddr 10.244.1.11 return', 'meta l4proto tcp th dport 8181 return', 'counter drop']);
  });

  it('a pod label change edits only the peers set; a policy change only the chains it concerns', () => {
    const np = policy('x', 'allow-from-b', pod('a'), { ingress: [from({ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } })] });
    const state = { cluster: placed(withPolicies([np])) };
    const { s, fake } = syncer(state);
    assert.ok(s.syncNow());
    assert.deepEqual(fake.listElements('set', 'from-x/allow-from-b-0'), []);
    state.cluster = placed(withPolicies([np], (c) => void (findPod(c, 'y/b').metadata.labels = { pod: 'b', role: 'client' })));
    assert.ok(s.syncNow());
    assert.equal(fake.lastTransaction!.toString(), `add element ip podpath-netpol from-x/allow-from-b-0 { ${podIP('y', 'b')} }\n`);
    // a second policy for x/b: x/b's chain and map element appear, x/a's chain is untouched
    const deny = policy('x', 'deny-b', pod('b'), { ingress: [] });
    state.cluster = placed(withPolicies([np, deny], (c) => void (findPod(c, 'y/b').metadata.labels = { pod: 'b', role: 'client' })));
    assert.ok(s.syncNow());
    const text = fake.lastTransaction!.toString();
    assert.match(text, /add chain ip podpath-netpol ingress-x\/b/);
    assert.match(text, /add element ip podpath-netpol ingress-pods \{ 10\.244\.1\.11 : jump ingress-x\/b \}/);
    assert.doesNotMatch(text, /ingress-x\/a/);
    // both policies deleted: chains, sets and map elements go; the table stays
    state.cluster = placed(withPolicies([]));
    assert.ok(s.syncNow());
    assert.deepEqual([...fake.table()!.chains.keys()], ['forward']);
    assert.deepEqual(fake.list('sets'), []);
    assert.deepEqual(fake.listElements('map', 'ingress-pods'), []);
  });

  it('a policy change that only rewrites chains is one nft takes without reading the table\'s chains first', () => {
    const allow = (p: number) => policy('x', 'allow-from-y', {}, { ingress: [{ ...from({ namespaceSelector: nsName('y') }), ports: [port(p)] }] });
    const state = { cluster: placed(withPolicies([allow(80)])) };
    const { s, fake } = syncer(state);
    assert.ok(s.syncNow());
    state.cluster = placed(withPolicies([allow(8080)]));
    assert.ok(s.syncNow());
    const tx = fake.lastTransaction!;
    const blocks = rulesInChainBlocks(tx);
    assert.ok(blocks, `chain blocks for:\n${tx.toString()}`);
    // the set the rules name is declared again, each chain added (to nft: nothing) and flushed before its block
    assert.match(blocks, /^add set ip podpath-netpol from-x\/allow-from-y-0 \{ type ipv4_addr ;/);
    assert.match(blocks, /add chain ip podpath-netpol ingress-x\/a\nflush chain ip podpath-netpol ingress-x\/a\nadd chain ip podpath-netpol ingress-x\/a \{\nip saddr 10\.244\.1\.10 return\nip saddr @from-x\/allow-from-y-0 meta l4proto tcp th dport 8080 return\ncounter drop\n\}/);
    assert.deepEqual(fake.listRules('ingress-x/b').map((r) => r.rule)[1], 'ip saddr @from-x/allow-from-y-0 meta l4proto tcp th dport 8080 return');
  });

  it('a failed transaction is counted and followed by a full rebuild', () => {
    const state = { cluster: placed(withPolicies([policy('x', 'deny', {}, { ingress: [] })])) };
    const fake = newFake();
    const { s, logs } = syncer(state, fake);
    assert.ok(s.syncNow());
    const run = fake.run.bind(fake);
    fake.run = () => {
      throw new NftError('EINVAL', 'injected');
    };
    state.cluster = placed(withPolicies([policy('x', 'deny', pod('a'), { ingress: [] })]));
    assert.equal(s.syncNow(), false);
    s.stop(); // no retry timer in a unit test
    assert.equal(s.metrics.failures.get(), 1);
    assert.match(logs.join('\n'), /sync failed: injected/);
    fake.run = run;
    assert.ok(s.syncNow());
    assert.match(fake.lastTransaction!.toString(), /^add table ip podpath-netpol/);
    assert.deepEqual([...fake.table()!.chains.keys()].sort(), ['forward', 'ingress-x/a']);
    assert.equal(s.metrics.syncs.get({ kind: 'full' }), 2);
  });

  it('exposes drops per policy and per pod from the chains\' counters', () => {
    const state = { cluster: placed(withPolicies([policy('x', 'deny', {}, { ingress: [] }), policy('x', 'allow-81', pod('a'), { ingress: [{ ports: [port(81)] }] })])) };
    const { s, fake } = syncer(state);
    assert.ok(s.syncNow());
    const listRules = fake.listRules.bind(fake);
    fake.listRules = (chain: string) =>
      listRules(chain).map((r) => (r.rule === 'counter drop' ? { ...r, expr: [{ kind: 'counter', packets: r.chain === 'ingress-x/a' ? 3 : 1 }, { kind: 'verdict', verdict: { type: 'drop' } }] } : r)) as never;
    const text = s.expose();
    assert.match(text, /podpath_netpol_dropped_packets_total\{namespace="x",policy="deny",direction="ingress"\} 5\n/);
    assert.match(text, /podpath_netpol_dropped_packets_total\{namespace="x",policy="allow-81",direction="ingress"\} 3\n/);
    assert.match(text, /podpath_netpol_pod_dropped_packets_total\{namespace="x",pod="b",direction="ingress"\} 1\n/);
    assert.match(text, /podpath_netpol_syncs_total\{kind="full"\} 1\n/);
  });

  it('a full sync replaces whatever table was there, in one transaction', () => {
    const np = policy('x', 'deny', {}, { ingress: [] });
    const fake = newFake();
    const tx = planSync(fake, desiredTable(new PolicyModel(placed(withPolicies([np])), applyDefaults), 'n1'), undefined);
    const lines = tx.toString().split('\n');
    assert.deepEqual(lines.slice(0, 3), ['add table ip podpath-netpol { comment "podpath NetworkPolicy agent" ; }', 'delete table ip podpath-netpol', 'add table ip podpath-netpol { comment "podpath NetworkPolicy agent" ; }']);
    fake.run(tx);
    fake.run(planSync(fake, desiredTable(new PolicyModel(placed(withPolicies([np])), applyDefaults), 'n1'), undefined));
    assert.deepEqual([...fake.table()!.chains.keys()].sort(), ['forward', 'ingress-x/a', 'ingress-x/b', 'ingress-x/c']);
  });
});
