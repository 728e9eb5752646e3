// The NetworkPolicy agent's transactions against the real nft and kernel, in a network namespace
// of the test's own: a full sync loads, partial syncs (a label change, a new policy, policies
// deleted) load on top of it, and the kernel's table then matches the Fake's chain for chain.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { commandExists, run } from '../../src/exec/exec.ts';
import { Fake, Nftables } from '../../src/knftables/index.ts';
import { Syncer } from '../../src/netpol/agent.ts';
import type { Cluster } from '../../src/netpol/policy.ts';
import { tableFamily, tableName } from '../../src/netpol/rules.ts';
import { isRoot } from '../helpers/lab.ts';
import { findPod, from, nsName, pod, policy, port, to, withPolicies } from '../helpers/netpol.ts';
import { testName } from '../helpers/lab.ts';

const skip = !isRoot ? 'needs root for a network namespace' : !commandExists('nft') ? 'nft is not installed' : false;
// Named as the suite's labs, so its leftover check would see it.
const ns = `pp-${testName('', 3)}-np`;

function placed(c: Cluster): Cluster {
  for (const p of c.pods) p.spec.nodeName = p.metadata.namespace === 'y' ? 'n2' : 'n1';
  return c;
}

describe('netpol agent on the kernel', { skip }, () => {
  before(() => run(['ip', 'netns', 'add', ns]));
  after(() => run(['ip', 'netns', 'del', ns], { allowFail: true }));

  it('applies full and partial syncs that nft accepts, leaving what the Fake holds', () => {
    const ctx = { family: tableFamily, table: tableName } as const;
    const nft = new Nftables({ ...ctx, netns: ns });
    const fake = new Fake(ctx);
    const policies = [
      policy('x', 'allow-from-y', {}, { ingress: [{ ...from({ namespaceSelector: nsName('y') }), ports: [port(80), port('serve-81-tcp'), { protocol: 'TCP', port: 8000, endPort: 8080 }] }] }),
      policy('x', 'egress', pod('a'), {
        egress: [to({ ipBlock: { cidr: '192.168.242.213/24', except: ['192.168.242.0/28'] } }), { ...to({ namespaceSelector: nsName('y'), podSelector: pod('b') }), ports: [port('serve-81-tcp')] }, { ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'SCTP' }] }],
      }),
    ];
    const state = { cluster: placed(withPolicies(policies)) };
    const logs: string[] = [];
    const real = new Syncer({ cluster: () => state.cluster }, { nodeName: 'n1', nft, log: (l) => logs.push(l) });
    const shadow = new Syncer({ cluster: () => state.cluster }, { nodeName: 'n1', nft: fake, log: () => {} });
    const both = () => {
      assert.ok(real.syncNow(), logs.join('\n'));
      assert.ok(shadow.syncNow());
      assert.deepEqual(nft.list('chains'), fake.list('chains'));
      assert.deepEqual(nft.list('sets'), fake.list('sets'));
      for (const c of fake.list('chains')) assert.equal(nft.listRules(c).length, fake.listRules(c).length, c);
      for (const s of fake.list('sets')) assert.deepEqual(nft.listElements('set', s).map((e) => e.key.join(' . ')).sort(), fake.listElements('set', s).map((e) => e.key.join(' . ')).sort(), s);
      for (const m of fake.list('maps')) assert.deepEqual(nft.listElements('map', m).length, fake.listElements('map', m).length, m);
    };
    both();
    state.cluster = placed(withPolicies(policies, (c) => void (findPod(c, 'z/a').metadata.labels = { pod: 'a', extra: 'yes' })));
    both();
    state.cluster = placed(withPolicies([...policies, policy('z', 'deny', {}, { ingress: [], egress: [] })]));
    both();
    assert.ok(nft.list('chains').includes('egress-z/a'));
    state.cluster = placed(withPolicies([]));
    both();
    assert.deepEqual(nft.list('chains'), ['forward']);
    // a second agent start (nothing known) replaces the table whole
    const again = new Syncer({ cluster: () => placed(withPolicies(policies)) }, { nodeName: 'n1', nft, log: (l) => logs.push(l) });
    assert.ok(again.syncNow(), logs.join('\n'));
    assert.deepEqual(nft.list('chains').sort(), ['egress-x/a', 'forward', 'ingress-x/a', 'ingress-x/b', 'ingress-x/c']);
  });
});
