// The nftables backend on the real nft and kernel, in a network namespace of the test's own, side
// by side with the same backend on the knftables Fake: after every sync (full, partial, the
// delayed delete of stale chains) the kernel holds the chains, sets and elements the Fake holds;
// a table flushed behind the backend's back is noticed and restored; and nft refuses with the
// Fake's code what the Fake refuses, changing nothing. Twice: transactions by `nft -f -`, and
// through the libnftables context kube-proxy keeps open (build/nftctx.node).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { commandExists, run } from '../../src/exec/exec.ts';
import { Fake, NftError, Nftables, type NftInterface } from '../../src/knftables/index.ts';
import type { ProxyFlags } from '../../src/proxy/config.ts';
import { ProxyMetrics } from '../../src/proxy/metrics.ts';
import { portsByService, servicePorts } from '../../src/proxy/model.ts';
import { libnftables } from '../../src/knftables/libnftables.ts';
import { kubeProxyNftables, NftablesBackend } from '../../src/proxy/nftables/backend.ts';
import { kubeProxyTable } from '../../src/proxy/nftables/render.ts';
import { isRoot } from '../helpers/lab.ts';
import { endpointSlice as slice, service } from '../helpers/proxy.ts';
import { codeOf as codes } from '../fixtures/codes.ts';
import { testName } from '../helpers/lab.ts';

const skip = !isRoot ? 'needs root for a network namespace' : !commandExists('nft') ? 'nft is not installed' : false;
const lib = libnftables();
const noAddon = 'error' in lib ? lib.error : false;
const flags: ProxyFlags = { clusterCIDR: '10.244.0.0/16', masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: true, nodePortAddresses: [], serviceCIDRs: ['10.96.0.0/12'] };
const nodeIP = '192.168.49.2';
const codeOf = (f: () => void) => codes(f, NftError);

/** What an Interface's table holds, by name: chains with their rules' comments, sets and maps with their elements. */
function contents(nft: NftInterface) {
  const chains = nft.list('chains').map((c) => `${c}: ${nft.listRules(c).length} rules`);
  const elements = (type: 'set' | 'map') => nft.list(type).map((n) => `${n}: ${nft.listElements(type, n).map((e) => `${e.key.join(' . ')}${e.value ? ` : ${e.value.join(' . ')}` : ''}${e.comment ? ` "${e.comment}"` : ''}`).sort().join(', ')}`);
  return { chains, sets: elements('set'), maps: elements('map') };
}

for (const transport of ['nft', 'libnftables'] as const) describe(`nftables backend on the kernel, transactions by ${transport}`, { skip: skip || (transport === 'libnftables' && noAddon) }, () => {
  // Named as the suite's labs, so its leftover check would see it.
  const ns = `pp-${testName('', 3)}-${transport === 'nft' ? 'nft' : 'nfl'}`;
  const kernel = transport === 'nft' ? new Nftables({ ...kubeProxyTable, netns: ns }) : kubeProxyNftables(undefined, ns);
  const fake = new Fake(kubeProxyTable);
  const clock = { t: 1_000_000 };
  const metrics = new ProxyMetrics('nftables');
  const onKernel = new NftablesBackend(flags, metrics, kernel, () => clock.t);
  const onFake = new NftablesBackend(flags, new ProxyMetrics('nftables'), fake, () => clock.t);
  const sticky = service('web', { clusterIP: '10.96.0.20', sessionAffinity: 'ClientIP', type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] });
  const state = { services: [sticky, service('api', { clusterIP: '10.96.0.21' })], slices: [slice('web', ['10.244.0.5', '10.244.0.6']), slice('api', ['10.244.0.7'])] };
  const sync = (changed?: string[]) => {
    const req = { byService: portsByService(servicePorts(state.services, state.slices, 'n1')), ...(changed ? { changed: new Set(changed.map((n) => `default/${n}`)) } : {}), nodeIP };
    const r = onKernel.sync(req);
    assert.deepEqual(onFake.sync(req), r);
    assert.deepEqual(contents(kernel), contents(fake));
    return r;
  };

  before(() => {
    run(['ip', 'netns', 'add', ns]);
  });
  after(() => {
    kernel.close();
    run(['ip', 'netns', 'del', ns], { allowFail: true });
  });

  it('makes the table on the first sync, then syncs partially and deletes stale chains a second later, as on the Fake', () => {
    assert.equal(onKernel.intact(), false);
    assert.equal(sync().full, true);
    assert.equal(onKernel.intact(), true);
    state.slices = [slice('web', ['10.244.0.5']), slice('api', ['10.244.0.7'])];
    assert.equal(sync(['web']).full, false);
    assert.equal(onKernel.pendingCleanup(), true);
    const flushed = kernel.list('chains').filter((c) => c.endsWith('__10.244.0.6/8080'));
    assert.equal(flushed.length, 1, 'the endpoint\'s chain is there, flushed');
    assert.ok(!kernel.list('sets').some((s) => s.endsWith('__10.244.0.6/8080')), 'its affinity set is gone at once');
    clock.t += 1000;
    sync([]);
    assert.ok(!kernel.list('chains').includes(flushed[0]!));
    state.services = [sticky];
    state.slices = [slice('web', ['10.244.0.5'])];
    sync(['api']);
    assert.equal(metrics.nftablesCleanupFailures.cell({}).v, 0);
  });

  it('notices a table flushed behind its back, and restores it with a full sync', () => {
    const before = run(['nft', 'list', 'ruleset'], { netns: ns });
    run(['nft', 'flush', 'table', 'ip', 'kube-proxy'], { netns: ns });
    fake.run(fake.newTransaction().flush({ kind: 'table' }));
    assert.equal(onKernel.intact(), false);
    sync();
    assert.equal(onKernel.intact(), true);
    assert.equal(run(['nft', 'list', 'ruleset'], { netns: ns }), before);
  });

  it('is refused by nft with the Fake\'s code, the kernel unchanged, and syncs fully next', () => {
    // a ClusterIP about to be dispatched already has another verdict
    const conflict = { kind: 'element' as const, map: 'service-ips', key: ['10.96.0.22', 'tcp', '80'], value: ['drop'] };
    kernel.run(kernel.newTransaction().add(conflict));
    fake.run(fake.newTransaction().add(conflict));
    const before = run(['nft', 'list', 'ruleset'], { netns: ns });
    state.services = [sticky, service('db', { clusterIP: '10.96.0.22' })];
    state.slices = [slice('web', ['10.244.0.5']), slice('db', ['10.244.0.9'])];
    const req = { byService: portsByService(servicePorts(state.services, state.slices, 'n1')), changed: new Set(['default/db']), nodeIP };
    assert.equal(codeOf(() => onFake.sync(req)), 'EEXIST');
    assert.equal(codeOf(() => onKernel.sync(req)), 'EEXIST');
    assert.equal(run(['nft', 'list', 'ruleset'], { netns: ns }), before);
    assert.equal(metrics.nftablesSyncFailures.cell({}).v, 1);
    assert.equal(sync([]).full, true);
    assert.ok(!kernel.listElements('map', 'service-ips').some((e) => e.value?.[0] === 'drop'), 'the stray element went with the full sync');
  });
});
