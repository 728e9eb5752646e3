// iptables mode's live backend against src/iptables' fake (iptables-restore's semantics and
// refusals): in a large cluster a partial sync writes only the changed Services' chains, and
// stale chains are looked for once per sync period.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EndpointSlice, Service } from '../../src/api/types.ts';
import { FakeExecutor } from '../../src/exec/fake.ts';
import { FakeIptables, type Table, type TableName } from '../../src/iptables/index.ts';
import type { ProxyFlags } from '../../src/proxy/config.ts';
import { IptablesBackend } from '../../src/proxy/iptables/backend.ts';
import { ProxyMetrics } from '../../src/proxy/metrics.ts';
import { portsByService, servicePorts } from '../../src/proxy/model.ts';

const flags: ProxyFlags = { clusterCIDR: '10.244.0.0/16', masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: true, nodePortAddresses: [] };
const syncPeriodMs = 30_000;

const newBackend = (ipt: FakeIptables, metrics = new ProxyMetrics('iptables'), now: () => number = Date.now) => new IptablesBackend(flags, metrics, ipt, syncPeriodMs, now, new FakeExecutor());
/** The per-service chains the last restore declared (so flushed and rewritten, or deleted). */
const declaredServiceChains = (ipt: FakeIptables) => ipt.lastRestore!.find((t) => t.name === 'nat')!.chains.map((c) => c.name).filter((n) => /^KUBE-(SVC|SVL|EXT|FW|SEP)-/.test(n)).sort();

describe('iptables backend on the iptables fake', () => {
  it('in a large cluster writes only the changed Services\' chains and looks for stale chains once per sync period', () => {
    const services: Service[] = [];
    const slices: EndpointSlice[] = [];
    for (let i = 0; i < 101; i++) {
      services.push({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'ns', name: `s${i}` }, spec: { clusterIP: `172.30.1.${i}`, ports: [{ port: 80 }] } } as unknown as Service);
      slices.push({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { namespace: 'ns', name: `s${i}-1`, labels: { 'kubernetes.io/service-name': `s${i}` } }, addressType: 'IPv4', ports: [{ name: '', port: 8080, protocol: 'TCP' }], endpoints: Array.from({ length: 10 }, (_, j) => ({ addresses: [`10.1.${i}.${j}`] })) } as unknown as EndpointSlice);
    }
    let saves = 0;
    const ipt = new (class extends FakeIptables {
      override save(table: TableName): Table {
        saves++;
        return super.save(table);
      }
    })();
    let now = 0;
    const backend = newBackend(ipt, new ProxyMetrics('iptables'), () => now);
    const m = portsByService(servicePorts(services, slices, 'n'));
    backend.sync({ byService: m });
    assert.equal(saves, 1);
    const seps = () => declaredServiceChains(ipt).filter((c) => c.startsWith('KUBE-SEP-')).length;
    assert.equal(seps(), 1010, 'a full sync declares every endpoint chain');
    now = 1000;
    backend.sync({ byService: m, changed: new Set(['ns/s7']) });
    assert.equal(seps(), 10, 'a partial sync declares only the changed Service\'s endpoint chains');
    assert.ok(ipt.rules('nat', 'KUBE-SERVICES')!.some((r) => r.args.includes('172.30.1.99')), 'KUBE-SERVICES is still written whole');
    assert.equal(saves, 1, '1,010 endpoints: no stale-chain listing on this partial sync');
    now = 31_000;
    backend.sync({ byService: m, changed: new Set(['ns/s7']) });
    assert.equal(saves, 2, 'a sync period later it looks again');
  });
});
