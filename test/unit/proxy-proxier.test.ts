// The Proxier core with a fake backend and injected time: when it syncs, fully or partially,
// what it hands the backend, and what follows a sync. No informers, no kernel, no sleeps.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EndpointSlice, Node, Service } from '../../src/api/types.ts';
import type { Backend, SyncRequest, SyncResult } from '../../src/proxy/backend.ts';
import type { HealthCheckTarget } from '../../src/proxy/healthcheck.ts';
import { ProxyMetrics } from '../../src/proxy/metrics.ts';
import type { ServicePortInfo } from '../../src/proxy/model.ts';
import { Proxier } from '../../src/proxy/proxier.ts';
import { FakeClock, runnerOn } from '../helpers/proxy.ts';

interface Recorded {
  at: number;
  full: boolean;
  /** the changed Services of a partial sync */
  changed?: string[];
  /** endpoints of every Service handed over */
  endpoints: Record<string, string[]>;
  nodeIP?: string;
  podCIDR?: string;
}

class FakeBackend implements Backend {
  readonly mode = 'iptables' as const;
  readonly syncs: Recorded[] = [];
  rulesIntact = true;
  /** intact() throws this, as a kernel tool that cannot be run */
  intactError: Error | undefined;
  failNext: Error | undefined;
  constructor(private readonly clock: FakeClock) {}

  sync(req: SyncRequest): SyncResult {
    const e = this.failNext;
    this.failNext = undefined;
    if (e) throw e;
    const endpoints = Object.fromEntries([...req.byService].map(([k, ports]) => [k, ports.flatMap((sp) => sp.endpoints.map((x) => x.key))]));
    this.syncs.push({ at: this.clock.now(), full: !req.changed, ...(req.changed ? { changed: [...req.changed].sort() } : {}), endpoints, ...(req.nodeIP ? { nodeIP: req.nodeIP } : {}), ...(req.podCIDR ? { podCIDR: req.podCIDR } : {}) });
    return { full: !req.changed, summary: 'fake' };
  }

  intact(): boolean {
    if (this.intactError) throw this.intactError;
    return this.rulesIntact;
  }

  pendingCleanup(): boolean {
    return false;
  }
}

let rv = 0;
const service = (name: string, spec: Record<string, unknown> = {}): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name, resourceVersion: String(++rv) }, spec: { clusterIP: '10.96.0.20', ports: [{ port: 80, protocol: 'TCP' }], ...spec } }) as unknown as Service;
const slice = (svc: string, ips: string[], o: { trigger?: string; node?: string; protocol?: string } = {}): EndpointSlice =>
  ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: 'default', name: `${svc}-1`, resourceVersion: String(++rv), labels: { 'kubernetes.io/service-name': svc }, ...(o.trigger ? { annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': o.trigger } } : {}) },
    addressType: 'IPv4',
    ports: [{ name: '', port: 8080, protocol: o.protocol ?? 'TCP' }],
    endpoints: ips.map((ip) => ({ addresses: [ip], ...(o.node ? { nodeName: o.node } : {}) })),
  }) as unknown as EndpointSlice;
const node = (ip: string, podCIDR: string, labels: Record<string, string> = {}, conditions: unknown[] = []): Node =>
  ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', resourceVersion: String(++rv), labels }, spec: { podCIDR }, status: { addresses: [{ type: 'InternalIP', address: ip }], conditions } }) as unknown as Node;

const syncPeriodMs = 30_000;

/** A Proxier with Services a (one endpoint) and b (none) and its Node, after its first sync. */
function started(o: { conntrack?: (udp: ServicePortInfo[]) => number; health?: HealthCheckTarget[][] } = {}) {
  const clock = new FakeClock();
  const backend = new FakeBackend(clock);
  const metrics = new ProxyMetrics('iptables');
  const logs: string[] = [];
  const p = new Proxier({
    nodeName: 'n1',
    backend,
    metrics,
    syncPeriodMs,
    minSyncPeriodMs: 1000,
    log: (l) => logs.push(l),
    clock,
    runner: runnerOn(clock),
    ...(o.conntrack ? { conntrack: o.conntrack } : {}),
    ...(o.health ? { serviceHealth: { sync: (t: HealthCheckTarget[]) => void o.health!.push(t) } } : {}),
  });
  const n = node('192.168.49.2', '10.244.0.0/24');
  p.onNodeAdd(n);
  p.onServiceAdd(service('a'));
  p.onServiceAdd(service('b'));
  p.onEndpointSliceAdd(slice('a', ['10.244.0.5']));
  p.onServicesSynced();
  p.onEndpointSlicesSynced();
  // The requests the events made are still due (as with informers, whose events come first): let them run.
  clock.advance();
  return { clock, backend, metrics, logs, p, node: n };
}

describe('Proxier', () => {
  it('syncs first once Services and EndpointSlices have both been listed, and that sync is full', () => {
    const clock = new FakeClock();
    const backend = new FakeBackend(clock);
    const p = new Proxier({ nodeName: 'n1', backend, metrics: new ProxyMetrics('iptables'), syncPeriodMs, minSyncPeriodMs: 1000, log: () => {}, clock, runner: runnerOn(clock) });
    p.onNodeAdd(node('192.168.49.2', '10.244.0.0/24'));
    p.onServiceAdd(service('a'));
    p.onEndpointSliceAdd(slice('a', ['10.244.0.5']));
    clock.advance();
    assert.deepEqual(backend.syncs, [], 'nothing before the informers have listed');
    p.onServicesSynced();
    clock.advance();
    assert.deepEqual(backend.syncs, [], 'a Service without its slices would be rejected: wait for the slices too');
    p.onEndpointSlicesSynced();
    assert.deepEqual(backend.syncs, [{ at: 0, full: true, endpoints: { 'default/a': ['10.244.0.5:8080'] }, nodeIP: '192.168.49.2', podCIDR: '10.244.0.0/24' }]);
  });

  it('syncs later changes partially, naming only the Services that changed', () => {
    const { clock, backend, p, metrics } = started();
    p.onEndpointSliceUpdate(slice('a', ['10.244.0.5']), slice('a', ['10.244.0.5', '10.244.0.6']));
    assert.match(metrics.expose(), /^kubeproxy_sync_proxy_rules_endpoint_changes_pending 1$/m);
    clock.advance();
    assert.deepEqual(backend.syncs.at(-1), { at: 0, full: false, changed: ['default/a'], endpoints: { 'default/a': ['10.244.0.5:8080', '10.244.0.6:8080'], 'default/b': [] }, nodeIP: '192.168.49.2', podCIDR: '10.244.0.0/24' });
    assert.match(metrics.expose(), /^kubeproxy_sync_proxy_rules_endpoint_changes_pending 0$/m);
    p.onServiceDelete(service('b'));
    p.onServiceUpdate(service('a'), service('a', { ports: [{ port: 81, protocol: 'TCP' }] }));
    clock.advance();
    assert.deepEqual(backend.syncs.at(-1)!.changed, ['default/a', 'default/b'], 'two changes, one sync');
    assert.deepEqual(Object.keys(backend.syncs.at(-1)!.endpoints), ['default/a'], 'b is gone');
    // A slice that moves to another Service changes both.
    p.onServiceAdd(service('c'));
    p.onEndpointSliceUpdate(slice('a', ['10.244.0.5']), { ...slice('c', ['10.244.0.7']), metadata: { ...slice('c', []).metadata, name: 'a-1' } });
    clock.advance();
    assert.deepEqual(backend.syncs.at(-1)!.changed, ['default/a', 'default/c']);
    assert.deepEqual(backend.syncs.at(-1)!.endpoints['default/c'], ['10.244.0.7:8080']);
    // The periodic sync with nothing changed is partial and names nothing.
    const before = backend.syncs.length;
    clock.advance(syncPeriodMs);
    assert.deepEqual(backend.syncs.slice(before).map((s) => [s.full, s.changed]), [[false, []]]);
  });

  it('retries a failed sync a sync period later; the sync after a failure is full', () => {
    const { clock, backend, p, logs } = started();
    clock.advance(10_000);
    backend.failNext = new Error('iptables-restore: exit status 1');
    p.onEndpointSliceUpdate(slice('a', ['10.244.0.5']), slice('a', ['10.244.0.6']));
    clock.advance();
    assert.equal(backend.syncs.filter((s) => s.at === 10_000).length, 0);
    assert.equal(logs.at(-1), 'sync failed: iptables-restore: exit status 1');
    clock.advance(20_000);
    assert.deepEqual(backend.syncs.filter((s) => s.at > 0).map((s) => [s.at, s.full]), [[30_000, true]], 'the periodic sync after a failure is full');
    assert.deepEqual(backend.syncs.at(-1)!.endpoints['default/a'], ['10.244.0.6:8080']);
    clock.advance(10_000);
    assert.deepEqual(backend.syncs.filter((s) => s.at > 0).map((s) => [s.at, s.full]), [[30_000, true], [40_000, true]], 'and the retry a sync period after the failure, full');
  });

  it('syncs fully when the rules are no longer intact (flushed behind its back)', () => {
    const { clock, backend } = started();
    clock.advance(syncPeriodMs);
    assert.equal(backend.syncs.at(-1)!.full, false);
    backend.rulesIntact = false;
    clock.advance(syncPeriodMs);
    assert.equal(backend.syncs.at(-1)!.full, true);
  });

  it('syncs fully, and keeps running, when the rules cannot be checked (the kernel tool fails)', () => {
    const { clock, backend } = started();
    clock.advance(syncPeriodMs);
    assert.equal(backend.syncs.at(-1)!.full, false);
    backend.intactError = new Error('iptables: timed out');
    clock.advance(syncPeriodMs);
    assert.equal(backend.syncs.at(-1)!.full, true);
  });

  it('syncs fully with the new values when the Node\'s address, pod range or zone changes; a heartbeat syncs nothing', () => {
    const { clock, backend, p, node: n } = started();
    const n2 = node('192.168.49.3', '10.244.0.0/24');
    p.onNodeUpdate(n, n2);
    clock.advance();
    assert.deepEqual([backend.syncs.at(-1)!.full, backend.syncs.at(-1)!.nodeIP], [true, '192.168.49.3']);
    const n3 = node('192.168.49.3', '10.244.7.0/24');
    p.onNodeUpdate(n2, n3);
    clock.advance();
    assert.deepEqual([backend.syncs.at(-1)!.full, backend.syncs.at(-1)!.podCIDR], [true, '10.244.7.0/24']);
    const count = backend.syncs.length;
    const beat = node('192.168.49.3', '10.244.7.0/24', {}, [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2026-01-01T00:00:10Z' }]);
    p.onNodeUpdate(n3, beat);
    clock.advance();
    assert.equal(backend.syncs.length, count, 'a status heartbeat changes no rule');
    const labelled = node('192.168.49.3', '10.244.7.0/24', { team: 'x' });
    p.onNodeUpdate(beat, labelled);
    clock.advance();
    assert.equal(backend.syncs.at(-1)!.full, false, 'another label: a sync, partial');
    p.onNodeUpdate(labelled, node('192.168.49.3', '10.244.7.0/24', { team: 'x', 'topology.kubernetes.io/zone': 'z1' }));
    clock.advance();
    assert.equal(backend.syncs.at(-1)!.full, true, 'a new zone changes topology-aware routing of every Service');
  });

  it('syncs fully at least once an hour', () => {
    const { clock, backend } = started();
    clock.advance(3_600_000 + syncPeriodMs);
    const full = backend.syncs.filter((s) => s.full).map((s) => s.at);
    assert.deepEqual(full, [0, 3_600_000 + syncPeriodMs], 'the first periodic sync more than an hour after the last full one');
    assert.equal(backend.syncs.filter((s) => s.at > 0).length, 3_600_000 / syncPeriodMs + 1, 'one periodic sync per sync period');
  });

  it('observes the EndpointSlices\' trigger times in the network programming latency', () => {
    const { clock, p, metrics } = started();
    clock.advance(5_000);
    p.onEndpointSliceUpdate(slice('a', ['10.244.0.5']), slice('a', ['10.244.0.6'], { trigger: new Date(clock.now() - 2_500).toISOString() }));
    p.onEndpointSliceAdd(slice('b', ['10.244.0.7']));
    clock.advance();
    const text = metrics.expose();
    assert.match(text, /^kubeproxy_network_programming_duration_seconds_count 1$/m, 'only the change that carries a trigger time');
    assert.match(text, /^kubeproxy_network_programming_duration_seconds_sum 2\.5$/m);
    assert.match(text, /^kubeproxy_sync_proxy_rules_last_timestamp_seconds 5$/m);
  });

  it('after a sync: the health-check servers get each Local LoadBalancer\'s ready local endpoints, and stale UDP flows are cleaned up', () => {
    const udpSeen: string[][] = [];
    const health: HealthCheckTarget[][] = [];
    const { clock, p, logs, metrics } = started({ conntrack: (udp) => (udpSeen.push(udp.map((sp) => sp.name)), 2), health });
    p.onServiceAdd(service('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000, ports: [{ port: 53, protocol: 'UDP', nodePort: 30053 }] }));
    p.onEndpointSliceAdd(slice('lb', ['10.244.0.8', '10.244.1.8'], { node: 'n1', protocol: 'UDP' }));
    clock.advance();
    assert.deepEqual(health.at(-1), [{ namespace: 'default', name: 'lb', port: 32000, localEndpoints: 2 }]);
    assert.deepEqual(udpSeen.at(-1), ['default/lb']);
    assert.ok(logs.includes('deleted 2 stale UDP conntrack entries'), logs.join('\n'));
    assert.match(metrics.expose(), /^kubeproxy_conntrack_reconciler_deleted_entries_total 2$/m);
  });

  it('looks for stale UDP flows after a sync that changed a UDP Service port, and otherwise once a sync period', () => {
    let calls = 0;
    const { clock, p } = started({ conntrack: () => (calls++, 0) });
    p.onServiceAdd(service('dns', { ports: [{ port: 53, protocol: 'UDP' }] }));
    p.onEndpointSliceAdd(slice('dns', ['10.244.0.8'], { protocol: 'UDP' }));
    clock.advance();
    const afterUdp = calls;
    assert.ok(afterUdp >= 1, 'the UDP Service\'s own sync');
    p.onEndpointSliceUpdate(slice('a', ['10.244.0.5']), slice('a', ['10.244.0.6']));
    clock.advance();
    assert.equal(calls, afterUdp, 'a TCP Service\'s endpoint change lists no flows');
    p.onEndpointSliceUpdate(slice('dns', ['10.244.0.8'], { protocol: 'UDP' }), slice('dns', ['10.244.0.9'], { protocol: 'UDP' }));
    clock.advance();
    assert.equal(calls, afterUdp + 1, 'the UDP Service\'s endpoint change does');
    clock.advance(syncPeriodMs);
    assert.equal(calls, afterUdp + 2, 'and a sync period later, with nothing changed');
  });

  it('stops its timers when stopped', () => {
    const { clock, backend, p } = started();
    p.onEndpointSliceUpdate(slice('a', ['10.244.0.5']), slice('a', ['10.244.0.6']));
    const count = backend.syncs.length;
    p.stop();
    clock.advance(10 * syncPeriodMs);
    assert.equal(backend.syncs.length, count);
  });
});
