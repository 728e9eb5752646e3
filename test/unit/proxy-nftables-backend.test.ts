// The nftables backend's syncs against the knftables Fake (which applies each transaction all or
// nothing and refuses what nft refuses): the first full sync makes the table, a partial sync
// touches only the changed Service's chains and elements, stale chains are flushed and deleted a
// second later (as upstream), a map element's new value is a delete then an add, a table flushed
// behind the backend's back is noticed and restored, a refused transaction changes nothing and
// makes the next sync full; affinity sets, NodePorts, LoadBalancers and Local traffic policy.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { EndpointSlice, Service } from '../../src/api/types.ts';
import { Fake, NftError } from '../../src/knftables/index.ts';
import type { SyncRequest } from '../../src/proxy/backend.ts';
import type { ProxyFlags } from '../../src/proxy/config.ts';
import { ProxyMetrics } from '../../src/proxy/metrics.ts';
import { portsByService, servicePorts } from '../../src/proxy/model.ts';
import { NftablesBackend } from '../../src/proxy/nftables/backend.ts';
import { fullSyncTransaction, kubeProxyTable, nftablesConfig } from '../../src/proxy/nftables/render.ts';
import { readState } from '../../src/proxy/app/render.ts';
import { repoRoot } from '../helpers/apiserver.ts';
import { endpointSlice as slice, service as svc } from '../helpers/proxy.ts';
import { sortNftables } from '../helpers/nft-sort.ts';
import { codeOf as codes } from '../fixtures/codes.ts';

const codeOf = (f: () => void) => codes(f, NftError);
const nodeName = 'n1';
const nodeIP = '192.168.49.2';
const flags: ProxyFlags = { clusterCIDR: '10.244.0.0/16', masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: true, nodePortAddresses: [], serviceCIDRs: ['10.96.0.0/12'] };

/** A node's kube-proxy in nftables mode on the Fake, with the Services and EndpointSlices it watches and a clock. */
function proxy(services: Service[], slices: EndpointSlice[]) {
  const fake = new Fake(kubeProxyTable);
  const metrics = new ProxyMetrics('nftables');
  const clock = { t: 1_000_000 };
  const backend = new NftablesBackend(flags, metrics, fake, () => clock.t);
  const state = { services, slices };
  const request = (changed?: string[]): SyncRequest => ({
    byService: portsByService(servicePorts(state.services, state.slices, nodeName)),
    ...(changed ? { changed: new Set(changed.map((n) => `default/${n}`)) } : {}),
    nodeIP,
  });
  return {
    fake,
    metrics,
    clock,
    backend,
    state,
    sync: (changed?: string[]) => backend.sync(request(changed)),
    /** the last transaction the Fake was given, one operation a line */
    lastLines: () => fake.lastTransaction!.toString().trimEnd().split('\n'),
    /** what a full sync of the same state from nothing holds, in canonical order */
    fresh: () => {
      const f = new Fake(kubeProxyTable);
      f.run(fullSyncTransaction(servicePorts(state.services, state.slices, nodeName), nftablesConfig(flags, [nodeIP], nodeIP)));
      return sortNftables(f.dump());
    },
    chains: () => fake.list('chains'),
  };
}

const web = svc('web', { clusterIP: '10.96.0.20' });
const api = svc('api', { clusterIP: '10.96.0.21' });

describe('nftables backend sync (on the knftables Fake)', () => {
  it('makes the table on its first, full, sync: seed 001\'s transaction byte for byte', () => {
    const st = readState([path.join(repoRoot, 'examples/proxy/seed-001-state.yaml')]);
    const fake = new Fake(kubeProxyTable);
    const b = new NftablesBackend(flags, new ProxyMetrics('nftables'), fake);
    assert.equal(fake.table(), undefined);
    assert.equal(b.intact(), false, 'no table yet');
    const r = b.sync({ byService: portsByService(servicePorts(st.services, st.slices, 'minikube')), nodeIP });
    assert.deepEqual(r, { full: true, summary: '90 nft operations' });
    assert.equal(fake.lastTransaction!.toString(), fs.readFileSync(path.join(repoRoot, 'test/golden/proxy-nftables-seed-001.txt'), 'utf8'));
    assert.equal(fake.table()?.table.comment, 'rules for kube-proxy');
    assert.equal(b.intact(), true);
    assert.equal(b.pendingCleanup(), false);
  });

  it('rewrites on a partial sync only the changed Service\'s chains and elements, leaving what a full sync would', () => {
    const p = proxy([web, api], [slice('web', ['10.244.0.5']), slice('api', ['10.244.0.7'])]);
    p.sync();
    const apiChains = p.chains().filter((c) => c.includes('default/api/'));
    assert.equal(apiChains.length, 2, 'api\'s service and endpoint chains');
    p.state.slices = [slice('web', ['10.244.0.5', '10.244.0.6']), slice('api', ['10.244.0.7'])];
    const r = p.sync(['web']);
    assert.deepEqual(r, { full: false, summary: '12 nft operations for 1 changed services' });
    // its service chain and both endpoint chains, added and flushed, then their two rules each
    assert.equal(p.fake.lastOperations, 3 * 2 + 3 * 2);
    for (const line of p.lastLines()) assert.match(line, /^(add|flush) (chain|rule) ip kube-proxy \S+-default\/web\/tcp\/http/, line);
    assert.ok(!p.lastLines().some((l) => l.includes('default/api') || l.includes('10.96.0.21')), 'api untouched');
    assert.equal(p.fresh(), sortNftables(p.fake.dump()));
    // nothing changed: no transaction at all
    const last = p.fake.lastTransaction;
    assert.deepEqual(p.sync([]), { full: false, summary: '0 nft operations for 0 changed services' });
    assert.equal(p.fake.lastTransaction, last);
  });

  it('flushes a removed endpoint\'s chain in the sync that drops it and deletes it a second later, in a transaction of its own', () => {
    const p = proxy([web], [slice('web', ['10.244.0.5', '10.244.0.6'])]);
    p.sync();
    const gone = p.chains().find((c) => c.endsWith('__10.244.0.6/8080'))!;
    p.state.slices = [slice('web', ['10.244.0.5'])];
    p.sync(['web']);
    assert.ok(p.lastLines().includes(`flush chain ip kube-proxy ${gone}`));
    assert.ok(!p.lastLines().some((l) => l.startsWith('delete chain')), 'not deleted yet: older kernels still see the vmap that went to it');
    assert.deepEqual(p.fake.listRules(gone), [], 'there, and empty');
    assert.equal(p.backend.pendingCleanup(), true);
    p.clock.t += 500;
    p.sync([]);
    assert.ok(p.chains().includes(gone), 'within the second: kept');
    p.clock.t += 500;
    p.sync([]);
    assert.equal(p.fake.lastTransaction!.toString(), `delete chain ip kube-proxy ${gone}\n`);
    assert.ok(!p.chains().includes(gone));
    assert.equal(p.backend.pendingCleanup(), false);
    assert.equal(p.fresh(), sortNftables(p.fake.dump()));
  });

  it('keeps a stale chain that is wanted again before its deletion', () => {
    const p = proxy([web], [slice('web', ['10.244.0.5', '10.244.0.6'])]);
    p.sync();
    p.state.slices = [slice('web', ['10.244.0.5'])];
    p.sync(['web']);
    p.state.slices = [slice('web', ['10.244.0.5', '10.244.0.6'])];
    p.sync(['web']);
    assert.equal(p.backend.pendingCleanup(), false);
    p.clock.t += 5000;
    p.sync([]);
    assert.equal(p.fresh(), sortNftables(p.fake.dump()), 'the endpoint\'s chain is there with its rules');
    assert.equal(p.metrics.nftablesCleanupFailures.cell({}).v, 0);
  });

  it('changes a map element\'s value by deleting it and adding it again in one transaction (nft refuses a second value)', () => {
    // internalTrafficPolicy Local: a remote endpoint only drops; no endpoint at all rejects
    const local = svc('web', { clusterIP: '10.96.0.20', internalTrafficPolicy: 'Local' });
    const p = proxy([local], [slice('web', ['10.244.1.5@n2'])]);
    p.sync();
    const key = ['10.96.0.20', 'tcp', '80'];
    const values = () => p.fake.listElements('map', 'no-endpoint-services').filter((e) => e.key.join() === key.join()).map((e) => e.value);
    assert.deepEqual(values(), [['drop']]);
    p.state.slices = [];
    p.sync(['web']);
    const lines = p.lastLines();
    const del = lines.indexOf('delete element ip kube-proxy no-endpoint-services { 10.96.0.20 . tcp . 80 }');
    const add = lines.indexOf('add element ip kube-proxy no-endpoint-services { 10.96.0.20 . tcp . 80 comment "default/web:http" : goto reject-chain }');
    assert.ok(del >= 0 && add > del, lines.join('\n'));
    assert.deepEqual(values(), [['goto reject-chain']]);
    // without the delete, nft (and the Fake) would refuse the add
    const tx = p.fake.newTransaction().add({ kind: 'element', map: 'no-endpoint-services', key, value: ['drop'], comment: 'default/web:http' });
    assert.equal(codeOf(() => p.fake.check(tx)), 'EEXIST');
    assert.equal(p.fresh(), sortNftables(p.fake.dump()));
  });

  for (const [what, behindTheBack] of [
    ['flushed', { kind: 'table' as const, verb: 'flush' as const }],
    ['deleted', { kind: 'table' as const, verb: 'delete' as const }],
  ] as const) {
    it(`notices a table ${what} behind its back (intact() false) and restores it on the full sync that follows`, () => {
      const p = proxy([web, api], [slice('web', ['10.244.0.5']), slice('api', ['10.244.0.7'])]);
      p.sync();
      const before = p.fake.dump();
      assert.equal(p.backend.intact(), true);
      const tx = p.fake.newTransaction();
      if (behindTheBack.verb === 'flush') tx.flush({ kind: behindTheBack.kind });
      else tx.delete({ kind: behindTheBack.kind });
      p.fake.run(tx);
      assert.equal(p.backend.intact(), false);
      // the proxier asks for a full sync when intact() says false
      assert.equal(p.sync().full, true);
      assert.equal(p.backend.intact(), true);
      assert.equal(p.fake.dump(), before);
    });
  }

  it('leaves the table as it was when nft refuses a transaction, counts the failure, and syncs fully next', () => {
    const p = proxy([web], [slice('web', ['10.244.0.5'])]);
    p.sync();
    // behind the backend's back, a ClusterIP it is about to dispatch already has another verdict
    p.fake.run(p.fake.newTransaction().add({ kind: 'element', map: 'service-ips', key: ['10.96.0.21', 'tcp', '80'], value: ['drop'] }));
    const before = p.fake.dump();
    p.state.services = [web, api];
    p.state.slices = [slice('web', ['10.244.0.5']), slice('api', ['10.244.0.7'])];
    assert.throws(() => p.sync(['api']), (e) => e instanceof NftError && e.code === 'EEXIST');
    assert.equal(p.fake.dump(), before, 'all or nothing: none of api\'s chains either');
    assert.equal(p.metrics.nftablesSyncFailures.cell({}).v, 1);
    // the proxier retries with only the changes it has since; the backend widens it to a full sync
    const r = p.sync([]);
    assert.equal(r.full, true);
    assert.equal(p.fresh(), sortNftables(p.fake.dump()), 'the stray element is gone with the maps\' flush');
  });

  it('gives a Service with session affinity a timed set per endpoint, and deletes the set with its endpoint', () => {
    const sticky = svc('web', { clusterIP: '10.96.0.20', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } });
    const p = proxy([sticky], [slice('web', ['10.244.0.5', '10.244.0.6'])]);
    p.sync();
    const sets = p.fake.list('sets').filter((s) => s.startsWith('affinity-'));
    assert.equal(sets.length, 2);
    for (const s of sets) assert.deepEqual(p.fake.table()!.sets.get(s)!.def, { kind: 'set', name: s, type: 'ipv4_addr', flags: ['dynamic', 'timeout'], timeout: 600, handle: p.fake.table()!.sets.get(s)!.def.handle });
    const serviceChain = p.chains().find((c) => c.startsWith('service-'))!;
    const rules = p.fake.listRules(serviceChain).map((r) => r.rule);
    for (const s of sets) assert.ok(rules.includes(`ip saddr @${s} goto endpoint-${s.slice('affinity-'.length)}`), rules.join('\n'));
    const endpointChain = `endpoint-${sets.find((s) => s.endsWith('__10.244.0.6/8080'))!.slice('affinity-'.length)}`;
    assert.deepEqual(p.fake.listRules(endpointChain).map((r) => r.rule)[1], `update @affinity-${endpointChain.slice('endpoint-'.length)} { ip saddr }`);
    // the endpoint goes: its chain is flushed (so nothing uses the set any more), then the set deleted
    p.state.slices = [slice('web', ['10.244.0.5'])];
    p.sync(['web']);
    const lines = p.lastLines();
    const flush = lines.indexOf(`flush chain ip kube-proxy ${endpointChain}`);
    const del = lines.indexOf(`delete set ip kube-proxy affinity-${endpointChain.slice('endpoint-'.length)}`);
    assert.ok(flush >= 0 && del > flush, lines.join('\n'));
    assert.deepEqual(p.fake.list('sets').filter((s) => s.startsWith('affinity-')), sets.filter((s) => s.endsWith('__10.244.0.5/8080')));
    // a set a rule still uses cannot go (EBUSY): the order above is what makes the delete possible
    const busy = p.fake.newTransaction().delete({ kind: 'set', name: sets.find((s) => s.endsWith('__10.244.0.5/8080'))! });
    assert.equal(codeOf(() => p.fake.check(busy)), 'EBUSY');
  });

  it('sends NodePort and LoadBalancer traffic through the external chain, and with externalTrafficPolicy Local only to local endpoints', () => {
    const lb = svc('web', { type: 'LoadBalancer', clusterIP: '10.96.0.20', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] }, { loadBalancer: { ingress: [{ ip: '192.168.49.200' }] } });
    const p = proxy([lb], [slice('web', ['10.244.0.5', '10.244.1.5@n2'])]);
    p.sync();
    const chain = (prefix: string) => p.chains().find((c) => c.startsWith(`${prefix}-`) && c.includes('default/web/'))!;
    const [service, local, external] = [chain('service'), chain('local'), chain('external')];
    const elements = (map: string) => p.fake.listElements('map', map).map((e) => `${e.key.join(' . ')} : ${e.value!.join(' . ')}`);
    assert.deepEqual(elements('service-nodeports'), [`tcp . 30080 : goto ${external}`]);
    assert.deepEqual(elements('service-ips'), [`10.96.0.20 . tcp . 80 : goto ${service}`, `192.168.49.200 . tcp . 80 : goto ${external}`]);
    const rules = (c: string) => p.fake.listRules(c).map((r) => (r.comment ? `${r.rule} comment "${r.comment}"` : r.rule));
    assert.deepEqual(rules(external), [
      `ip saddr 10.244.0.0/16 goto ${service} comment "short-circuit pod traffic"`,
      'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
      `fib saddr type local goto ${service} comment "short-circuit local traffic"`,
      `goto ${local}`,
    ]);
    assert.match(rules(local)[0]!, /^numgen random mod 1 vmap \{ 0 : goto endpoint-\S+__10\.244\.0\.5\/8080 \}$/, 'only the endpoint on this node');
    assert.match(rules(service).at(-1)!, /^numgen random mod 2 /, 'cluster traffic to both');
    assert.deepEqual(elements('no-endpoint-nodeports'), []);

    // the local endpoint goes: external traffic is dropped here, cluster traffic still reaches the remote one
    p.state.slices = [slice('web', ['10.244.1.5@n2'])];
    p.sync(['web']);
    assert.deepEqual(p.fake.listRules(local), [], 'the local chain is stale: flushed');
    assert.deepEqual(elements('no-endpoint-nodeports'), ['tcp . 30080 : drop']);
    assert.deepEqual(elements('no-endpoint-services'), ['192.168.49.200 . tcp . 80 : drop']);
    assert.equal(rules(external).length, 3, 'no goto to the local chain');
    assert.deepEqual(elements('service-ips'), [`10.96.0.20 . tcp . 80 : goto ${service}`, `192.168.49.200 . tcp . 80 : goto ${external}`]);
    p.clock.t += 1000;
    p.sync([]);
    assert.ok(!p.chains().includes(local));
    assert.equal(p.fresh(), sortNftables(p.fake.dump()), 'once the stale chains are deleted, as a full sync');
  });
});
