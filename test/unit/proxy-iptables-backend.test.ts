// iptables mode's live backend against src/iptables' fake (iptables-restore's semantics and
// refusals): a partial sync writes only the changed Services' chains and leaves the tables as a
// full sync would, stale chains found in the saved nat table are deleted in the same transaction,
// and — driven by the Proxier on a fake clock — tables flushed behind its back or a refused
// restore lead to a full sync that puts everything back. In a large cluster stale chains are
// looked for once per sync period.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EndpointSlice, Service } from '../../src/api/types.ts';
import { FakeExecutor } from '../../src/exec/fake.ts';
import { appendRule, FakeIptables, newTable, type Table, type TableName } from '../../src/iptables/index.ts';
import type { ProxyFlags } from '../../src/proxy/config.ts';
import { IptablesBackend } from '../../src/proxy/iptables/backend.ts';
import { cleanupIptablesLeftovers } from '../../src/proxy/iptables/cleanup.ts';
import { extChain, sepChain, svcChain } from '../../src/proxy/iptables/render.ts';
import { ProxyMetrics } from '../../src/proxy/metrics.ts';
import { portsByService, servicePorts, type ServicePortInfo } from '../../src/proxy/model.ts';
import { Proxier } from '../../src/proxy/proxier.ts';
import { FakeClock, runnerOn } from '../helpers/proxy.ts';

const flags: ProxyFlags = { clusterCIDR: '10.244.0.0/16', masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: true, nodePortAddresses: [] };
const syncPeriodMs = 30_000;
const nodeIP = '192.168.49.2';

let rv = 0;
const clusterIPs: Record<string, string> = { a: '10.96.0.10', b: '10.96.0.11', c: '10.96.0.12' };
/** a is a NodePort Service (so it has an external chain), b and c ClusterIP ones. */
const service = (name: string): Service =>
  ({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name, resourceVersion: String(++rv) }, spec: { type: name === 'a' ? 'NodePort' : 'ClusterIP', clusterIP: clusterIPs[name], ports: [{ port: 80, protocol: 'TCP', ...(name === 'a' ? { nodePort: 30080 } : {}) }] } }) as unknown as Service;
const slice = (svc: string, ips: string[]): EndpointSlice =>
  ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { namespace: 'default', name: `${svc}-1`, resourceVersion: String(++rv), labels: { 'kubernetes.io/service-name': svc } }, addressType: 'IPv4', ports: [{ name: '', port: 8080, protocol: 'TCP' }], endpoints: ips.map((ip) => ({ addresses: [ip], nodeName: 'n1' })) }) as unknown as EndpointSlice;
/** Every Service's ports for these endpoints, by Service. */
const state = (eps: Record<string, string[]>) => portsByService(servicePorts(Object.keys(eps).map(service), Object.entries(eps).map(([s, ips]) => slice(s, ips)), 'n1'));
const port = (byService: Map<string, ServicePortInfo[]>, name: string) => byService.get(`default/${name}`)![0]!;

const newBackend = (ipt: FakeIptables, metrics = new ProxyMetrics('iptables'), now: () => number = Date.now) => new IptablesBackend(flags, metrics, ipt, syncPeriodMs, now, new FakeExecutor());
/** What iptables-save would print of the tables kube-proxy writes (and of mangle, for the canary). */
const tables = (ipt: FakeIptables) => (['filter', 'nat', 'mangle'] as TableName[]).map((t) => ipt.save(t));
/** The tables a fresh node holds after one full sync of this state. */
function fullySynced(byService: Map<string, ServicePortInfo[]>): Table[] {
  const ipt = new FakeIptables();
  newBackend(ipt).sync({ byService, nodeIP });
  return tables(ipt);
}
/** The per-service chains the last restore declared (so flushed and rewritten, or deleted). */
const declaredServiceChains = (ipt: FakeIptables) => ipt.lastRestore!.find((t) => t.name === 'nat')!.chains.map((c) => c.name).filter((n) => /^KUBE-(SVC|SVL|EXT|FW|SEP)-/.test(n)).sort();
const deletedChains = (ipt: FakeIptables) => ipt.lastRestore!.flatMap((t) => t.ops.flatMap((o) => (o.op === 'deleteChain' ? [o.chain] : [])));

describe('iptables backend on the iptables fake', () => {
  it('a partial sync declares and writes only the changed Service\'s chains, and leaves the tables as a full sync would', () => {
    const ipt = new FakeIptables();
    const b = newBackend(ipt);
    const before = state({ a: ['10.244.0.5', '10.244.0.6'], b: ['10.244.0.7'], c: ['10.244.0.8'] });
    assert.equal(b.sync({ byService: before, nodeIP }).full, true);
    const bRules = ipt.rules('nat', svcChain(port(before, 'b')));
    assert.equal(bRules?.length, 2, 'masquerade from outside the cluster, then its endpoint');

    const after = state({ a: ['10.244.0.6', '10.244.0.9'], b: ['10.244.0.7'], c: ['10.244.0.8'] });
    const r = b.sync({ byService: after, changed: new Set(['default/a']), nodeIP });
    assert.equal(r.full, false);
    const a = port(after, 'a');
    const gone = sepChain(a, '10.244.0.5:8080');
    assert.deepEqual(declaredServiceChains(ipt), [svcChain(a), extChain(a), sepChain(a, '10.244.0.6:8080'), sepChain(a, '10.244.0.9:8080'), gone].sort(), 'a\'s chains, and the chain of its endpoint that went');
    assert.deepEqual(deletedChains(ipt), [gone]);
    assert.match(r.summary, /, 1 stale chains removed$/);
    assert.equal(ipt.hasChain('nat', gone), false);
    assert.deepEqual(ipt.rules('nat', svcChain(port(after, 'b'))), bRules, 'b\'s chain, not written, kept its rules');
    assert.deepEqual(tables(ipt), fullySynced(after));
  });

  it('puts each jump rule first in its built-in chain once, however many full syncs, below what another program inserted later', () => {
    const ipt = new FakeIptables();
    const b = newBackend(ipt);
    const two = state({ a: ['10.244.0.5'], b: ['10.244.0.7'] });
    b.sync({ byService: two, nodeIP });
    const jumps = (table: TableName, chain: string) => ipt.rules(table, chain)!.map((r) => r.args.at(-1));
    assert.deepEqual(jumps('nat', 'PREROUTING'), ['KUBE-SERVICES']);
    assert.deepEqual(jumps('filter', 'INPUT'), ['KUBE-FIREWALL', 'KUBE-PROXY-FIREWALL', 'KUBE-NODEPORTS', 'KUBE-EXTERNAL-SERVICES'], 'each prepended in turn, as upstream\'s -I one after another');
    ipt.ensureRule('prepend', 'filter', 'INPUT', ['-j', 'ACCEPT']);
    b.sync({ byService: two, nodeIP });
    assert.deepEqual(jumps('filter', 'INPUT'), ['ACCEPT', 'KUBE-FIREWALL', 'KUBE-PROXY-FIREWALL', 'KUBE-NODEPORTS', 'KUBE-EXTERNAL-SERVICES'], 'present jumps are left where they are');
    for (const t of ['mangle', 'nat', 'filter'] as const) assert.equal(ipt.hasChain(t, 'KUBE-PROXY-CANARY'), true);
  });

  it('deletes the stale chains it finds in the saved nat table: ones left by an earlier run, a deleted Service\'s', () => {
    const ipt = new FakeIptables();
    // An earlier kube-proxy left a Service chain and its endpoint chain behind.
    const leftover = newTable('nat', ['KUBE-SVC-LEFTOVERLEFTOVER', 'KUBE-SEP-LEFTOVERLEFTOVER']);
    appendRule(leftover, 'KUBE-SVC-LEFTOVERLEFTOVER', ['-j', 'KUBE-SEP-LEFTOVERLEFTOVER']);
    ipt.restore([leftover], { noflush: true });
    const b = newBackend(ipt);
    const two = state({ a: ['10.244.0.5'], b: ['10.244.0.7'] });
    assert.match(b.sync({ byService: two, nodeIP }).summary, /, 2 stale chains removed$/);
    assert.equal(ipt.hasChain('nat', 'KUBE-SVC-LEFTOVERLEFTOVER') || ipt.hasChain('nat', 'KUBE-SEP-LEFTOVERLEFTOVER'), false);

    // Service b deleted: a partial sync naming it deletes its chains.
    const one = state({ a: ['10.244.0.5'] });
    b.sync({ byService: one, changed: new Set(['default/b']), nodeIP });
    assert.deepEqual(deletedChains(ipt).sort(), [svcChain(port(two, 'b')), sepChain(port(two, 'b'), '10.244.0.7:8080')].sort());
    assert.equal(ipt.hasChain('nat', svcChain(port(two, 'b'))), false);
    assert.deepEqual(tables(ipt), fullySynced(one));
  });

  it('in a large cluster writes only the changed Services\' chains and looks for stale chains once per sync period', () => {
    const services: Service[] = [];
    const slices: EndpointSlice[] = [];
    for (let i = 0; i < 101; i++) {
      services.push({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'ns', name: `s${i}` }, spec: { clusterIP: `172.30.1.${i}`, ports: [{ port: 80 }] } } as unknown as Service);
      slices.push({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { namespace: 'ns', name: `s${i}-1`, labels: { 'kubernetes.io/service-name': `s${i}` } }, addressType: 'IPv4', ports: [{ name: '', port: 8080, protocol: 'TCP' }], endpoints: Array.from({ length: 10 }, (_, j) => ({ addresses: [`10.1.${i}.${j}`] })) } as unknown as EndpointSlice);
    }
    let saves = 0;
    const ipt = new (class extends FakeIptables {
      override save(table: TableName, chains?: readonly string[]): Table {
        saves++;
        return super.save(table, chains);
      }
    })();
    let now = 0;
    const backend = newBackend(ipt, new ProxyMetrics('iptables'), () => now);
    const m = portsByService(servicePorts(services, slices, 'n'));
    backend.sync({ byService: m });
    assert.equal(saves, 3, 'a full sync reads filter, nat and mangle once each (jumps, canaries, stale chains)');
    const seps = () => declaredServiceChains(ipt).filter((c) => c.startsWith('KUBE-SEP-')).length;
    assert.equal(seps(), 1010, 'a full sync declares every endpoint chain');
    now = 1000;
    backend.sync({ byService: m, changed: new Set(['ns/s7']) });
    assert.equal(seps(), 10, 'a partial sync declares only the changed Service\'s endpoint chains');
    assert.ok(ipt.rules('nat', 'KUBE-SERVICES')!.some((r) => r.args.includes('172.30.1.99')), 'KUBE-SERVICES is still written whole');
    assert.equal(saves, 3, '1,010 endpoints: no stale-chain listing on this partial sync');
    now = 31_000;
    backend.sync({ byService: m, changed: new Set(['ns/s7']) });
    assert.equal(saves, 4, 'a sync period later it looks again');
  });
});

describe('iptables backend under the Proxier, on the iptables fake', () => {
  /** A Proxier over the iptables backend and a fake iptables, with Services a and b, after its first (full) sync. */
  function started() {
    const clock = new FakeClock();
    const ipt = new FakeIptables();
    const metrics = new ProxyMetrics('iptables');
    const backend = newBackend(ipt, metrics, () => clock.now());
    const logs: string[] = [];
    const p = new Proxier({ nodeName: 'n1', backend, metrics, syncPeriodMs, minSyncPeriodMs: 1000, log: (l) => logs.push(l), clock, runner: runnerOn(clock) });
    p.onNodeAdd({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, spec: { podCIDR: '10.244.0.0/24' }, status: { addresses: [{ type: 'InternalIP', address: nodeIP }] } });
    for (const s of ['a', 'b']) p.onServiceAdd(service(s));
    p.onEndpointSliceAdd(slice('a', ['10.244.0.5']));
    p.onEndpointSliceAdd(slice('b', ['10.244.0.7']));
    p.onServicesSynced();
    p.onEndpointSlicesSynced();
    clock.advance();
    assert.match(logs[0]!, /^synced 2 services \(full, /);
    return { clock, ipt, backend, metrics, logs, p };
  }

  it('the canary flushed behind its back: intact() is false, and the next periodic sync is full and puts everything back', () => {
    const { clock, ipt, backend, logs } = started();
    const synced = tables(ipt);
    assert.equal(backend.intact(), true);
    clock.advance(syncPeriodMs);
    assert.match(logs.at(-1)!, /\(partial, /, 'nothing flushed: the periodic sync is partial');
    // iptables -t mangle -F; -X; the same for nat (a restore without --noflush of empty tables)
    ipt.restore([newTable('mangle'), newTable('nat')]);
    assert.equal(ipt.hasChain('nat', 'KUBE-SERVICES'), false);
    assert.equal(backend.intact(), false);
    clock.advance(syncPeriodMs);
    assert.match(logs.at(-1)!, /\(full, /);
    assert.equal(backend.intact(), true);
    assert.deepEqual(tables(ipt), synced, 'chains, rules, jumps and canaries back as they were');
  });

  it('a refused restore leaves the nat table as it was, and the sync after it is full', () => {
    const { clock, ipt, p, logs, metrics } = started();
    // nat flushed behind its back, the canary in mangle left: the Proxier cannot tell.
    ipt.restore([newTable('nat')]);
    const flushed = ipt.save('nat');
    clock.advance(10_000);
    p.onEndpointSliceUpdate(slice('a', ['10.244.0.5']), slice('a', ['10.244.0.6']));
    clock.advance();
    // The partial sync rewrites a's chains; KUBE-SERVICES still jumps to b's chain, which is gone.
    assert.match(logs.at(-1)!, /^sync failed: Couldn't load target `KUBE-SVC-/);
    assert.deepEqual(ipt.save('nat'), flushed, 'the refused restore changed nothing in nat');
    assert.match(metrics.expose(), /^kubeproxy_sync_proxy_rules_iptables_restore_failures_total 1$/m);
    assert.match(metrics.expose(), /^kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total 1$/m);
    clock.advance(syncPeriodMs);
    assert.match(logs.at(-1)!, /^synced 2 services \(full, /, 'the retry is a full sync');
    assert.deepEqual(tables(ipt), fullySynced(state({ a: ['10.244.0.6'], b: ['10.244.0.7'] })));
  });
});

describe("iptables mode's leftovers", () => {
  it('are removed as upstream CleanupLeftovers removes them: jumps, then our chains, leaving others', () => {
    const ipt = new FakeIptables();
    newBackend(ipt).sync({ byService: state({ a: ['10.244.0.5'], b: ['10.244.0.7'] }), nodeIP });
    // someone else's rule in a built-in chain, and someone else's chain
    ipt.ensureChain('filter', 'OTHER');
    ipt.ensureRule('append', 'filter', 'INPUT', ['-j', 'OTHER']);
    assert.equal(cleanupIptablesLeftovers(ipt), true);
    const text = tables(ipt).map((t) => [t.name, ...t.chains.map((c) => c.name), ...t.ops.map((o) => (o.op === 'append' ? `${o.rule.chain} ${o.rule.args.join(' ')}` : ''))].join('\n')).join('\n');
    assert.doesNotMatch(text, /KUBE-(SERVICES|NODEPORTS|POSTROUTING|SVC-|SEP-|EXT-|FORWARD|EXTERNAL-SERVICES|PROXY-FIREWALL|FIREWALL)/);
    assert.match(text, /KUBE-MARK-MASQ/, 'KUBE-MARK-MASQ stays, as upstream');
    assert.match(text, /KUBE-PROXY-CANARY/, 'so do the canaries');
    assert.deepEqual(ipt.rules('filter', 'INPUT'), [{ chain: 'INPUT', args: ['-j', 'OTHER'] }]);
    assert.equal(cleanupIptablesLeftovers(ipt), false, 'nothing left the second time');
  });
});
