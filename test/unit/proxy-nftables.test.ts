// kube-proxy's nftables mode as pure functions, checked against upstream's documented table
// (its overall test case, after its canonical sort) and its incremental-sync behaviour
// (operations per transaction, delayed deletion of stale chains), through the knftables Fake,
// which refuses what nft would refuse.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { EndpointSlice, Service } from '../../src/api/types.ts';
import { servicePorts } from '../../src/proxy/model.ts';
import { Fake, isNotFound, NftError, type ListableType } from '../../src/knftables/index.ts';
import { deleteChains, fullSyncTransaction, kubeProxyTable, planNftSync, renderNftables, renderService, type NftAppliedState, type NftablesConfig, type ServiceNft } from '../../src/proxy/nftables/render.ts';
import { readState, render } from '../../src/proxy/app/render.ts';
import { repoRoot } from '../helpers/apiserver.ts';
import { sortNftables } from '../helpers/nft-sort.ts';
import { codeOf as codes } from '../fixtures/codes.ts';

const upstreamCfg: NftablesConfig = { clusterCIDR: '10.0.0.0/8', nodePortIPs: ['192.168.0.2'], nodeIP: '192.168.0.2', serviceCIDRs: ['172.30.0.0/16'] };
const svc = (ns: string, name: string, spec: Record<string, unknown>): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name }, spec }) as unknown as Service;
const slice = (ns: string, svcName: string, port: number, ips: string[], portName = 'p80'): EndpointSlice =>
  ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name: `${svcName}-1`, labels: { 'kubernetes.io/service-name': svcName } },
    addressType: 'IPv4',
    ports: [{ name: portName, port, protocol: 'TCP' }],
    endpoints: ips.map((ip) => ({ addresses: [ip] })),
  }) as unknown as EndpointSlice;

const codeOf = (f: () => void) => codes(f, NftError);

/** Names in the Fake's table; none before the table exists. */
function names(fake: Fake, type: ListableType): string[] {
  try {
    return fake.list(type);
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

/** The proxier's bookkeeping, minus the informers: one wanted ServiceNft per Service. */
function wanted(services: Service[], slices: EndpointSlice[], cfg = upstreamCfg): Map<string, ServiceNft> {
  const m = new Map<string, ServiceNft>();
  for (const s of services) {
    const k = `${s.metadata.namespace}/${s.metadata.name}`;
    m.set(k, renderService(servicePorts([s], slices, 'test-node'), cfg));
  }
  return m;
}

describe('nftables proxier rules', () => {
  it('holds exactly upstream\'s table for upstream\'s overall test case', () => {
    const st = readState([path.join(repoRoot, 'test/fixtures/proxy-overall-state.yaml')]);
    const fake = new Fake(kubeProxyTable);
    fake.run(fullSyncTransaction(servicePorts(st.services, st.slices, 'test-node'), upstreamCfg));
    const golden = fs.readFileSync(path.join(repoRoot, 'test/golden/proxy-nftables-upstream-overall.txt'), 'utf8');
    assert.equal(sortNftables(fake.dump()), sortNftables(golden));
  });

  it('renders through `proxy render --mode nftables` the same transaction, and a second full sync of it is accepted', () => {
    const file = path.join(repoRoot, 'test/fixtures/proxy-overall-state.yaml');
    const text = render([file], { mode: 'nftables', nodeName: 'test-node', config: { clusterCIDR: '10.0.0.0/8', masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: true, nodePortAddresses: [], serviceCIDRs: ['172.30.0.0/16'] }, nodeIP: '192.168.0.2' });
    const st = readState([file]);
    const tx = fullSyncTransaction(servicePorts(st.services, st.slices, 'test-node'), upstreamCfg);
    assert.equal(text, tx.toString(), 'nodeport-addresses default to the primary IP in nftables mode');
    const fake = new Fake(kubeProxyTable);
    fake.run(tx);
    const once = fake.dump();
    fake.run(tx);
    assert.equal(fake.dump(), once);
  });

  it('renders seed 001 (a NodePort Service with two endpoints) exactly as the golden file', () => {
    const golden = path.join(repoRoot, 'test/golden/proxy-nftables-seed-001.txt');
    const text = render([path.join(repoRoot, 'examples/proxy/seed-001-state.yaml')], { mode: 'nftables', nodeName: 'minikube', nodeIP: '192.168.49.2', config: { clusterCIDR: '10.244.0.0/16', masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: true, nodePortAddresses: [], serviceCIDRs: ['10.96.0.0/12'] } });
    if (process.env.PODPATH_UPDATE_GOLDEN) fs.writeFileSync(golden, text);
    assert.equal(text, fs.readFileSync(golden, 'utf8'));
  });

  it('matches every local address but 127.0.0.0/8 for NodePorts when no addresses are given', () => {
    const fake = new Fake(kubeProxyTable);
    fake.run(fullSyncTransaction([], { clusterCIDR: '10.0.0.0/8' }));
    const d = fake.dump();
    assert.ok(d.includes('add rule ip kube-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports'));
    assert.ok(d.includes('add rule ip kube-proxy nodeport-endpoints-check fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports'));
    assert.ok(!d.includes('nodeport-ips'), 'the nodeport-ips set is deleted');
    assert.ok(!d.includes('Drop traffic to unallocated ClusterIPs'), 'no drop rule without Service CIDRs');
  });

  it('masquerades all ClusterIP traffic with --masquerade-all, and drops internalTrafficPolicy Local traffic without a local endpoint', () => {
    const s1 = svc('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80 }] });
    const s2 = svc('ns2', 'svc2', { clusterIP: '172.30.0.42', internalTrafficPolicy: 'Local', ports: [{ name: 'p80', port: 80 }] });
    const text = renderNftables(servicePorts([s1, s2], [slice('ns1', 'svc1', 80, ['10.180.0.1']), slice('ns2', 'svc2', 80, ['10.180.0.2'])], 'test-node'), { ...upstreamCfg, masqueradeAll: true });
    const lines = text.split('\n');
    assert.ok(lines.includes('add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 tcp dport 80 jump mark-for-masquerade'));
    assert.ok(lines.includes('add element ip kube-proxy no-endpoint-services { 172.30.0.42 . tcp . 80 comment "ns2/svc2:p80" : drop }'));
    assert.ok(!text.includes('service-ips { 172.30.0.42'), 'no dispatch to a ClusterIP without a local endpoint');
  });

  it('writes only what changed on partial syncs, with upstream\'s operation counts, and deletes stale chains a sync later', () => {
    const cfg = upstreamCfg;
    const s1 = svc('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80 }] });
    const s2 = svc('ns2', 'svc2', { clusterIP: '172.30.0.42', ports: [{ name: 'p8080', port: 8080 }] });
    const s3 = svc('ns3', 'svc3', { clusterIP: '172.30.0.43', ports: [{ name: 'p80', port: 80 }] });
    const s4 = svc('ns4', 'svc4', { clusterIP: '172.30.0.44', ports: [{ name: 'p80', port: 80 }] });
    let slices = [slice('ns1', 'svc1', 80, ['10.0.1.1']), slice('ns2', 'svc2', 8080, ['10.0.2.1'], 'p8080')];
    const fake = new Fake(kubeProxyTable);
    let prev: NftAppliedState | undefined;
    const sync = (services: Service[], changed?: string[]) => {
      // A partial sync is given only the changed Services' contents.
      const all = wanted(services, slices, cfg);
      const given = changed ? new Map([...all].filter(([k]) => changed.includes(k))) : all;
      const plan = planNftSync({ services: given, ...(changed ? { changed: new Set(changed) } : {}), ...(prev ? { prev } : {}), existingChains: names(fake, 'chains'), existingSets: names(fake, 'sets'), cfg });
      fake.run(plan.tx);
      prev = plan.commit();
      return { ...plan, operations: fake.lastOperations };
    };
    const hasChain = (name: string) => fake.list('chains').includes(name);
    sync([s1, s2]);
    // A new Service with one endpoint: 2 elements, 2 chains added and flushed with 2 rules each.
    slices = [...slices, slice('ns3', 'svc3', 80, ['10.0.3.1'])];
    assert.equal(sync([s1, s2, s3], ['ns3/svc3']).operations, 10);
    // Deleting a Service: 2 elements deleted, its 2 chains flushed (not yet deleted).
    const del = sync([s1, s3], ['ns2/svc2']);
    assert.equal(del.operations, 4);
    assert.deepEqual(del.staleChains.sort(), ['endpoint-7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080', 'service-MHHHYRWA-ns2/svc2/tcp/p8080']);
    assert.ok(hasChain('service-MHHHYRWA-ns2/svc2/tcp/p8080'));
    fake.run(deleteChains(fake.newTransaction(), del.staleChains));
    assert.ok(!hasChain('service-MHHHYRWA-ns2/svc2/tcp/p8080'), 'deleted in a later transaction');
    // A Service without endpoints: its ClusterIP and a reject element; then its endpoints arrive.
    assert.equal(sync([s1, s3, s4], ['ns4/svc4']).operations, 2);
    assert.ok(fake.dump().includes('add element ip kube-proxy no-endpoint-services { 172.30.0.44 . tcp . 80 comment "ns4/svc4:p80" : goto reject-chain }'));
    slices = [...slices, slice('ns4', 'svc4', 80, ['10.0.4.1'])];
    assert.equal(sync([s1, s3, s4], ['ns4/svc4']).operations, 10);
    assert.ok(!fake.dump().includes('no-endpoint-services { 172.30.0.44'));
    // One endpoint replaced: the service chain and the new endpoint chain written, the old one flushed.
    slices = slices.map((s) => (s.metadata.name === 'svc3-1' ? slice('ns3', 'svc3', 80, ['10.0.3.2']) : s));
    const moved = sync([s1, s3, s4], ['ns3/svc3']);
    assert.equal(moved.operations, 9);
    assert.deepEqual(moved.staleChains, ['endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80']);
    assert.ok(fake.dump().includes('add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80 }'));
    // Nothing changed: an empty transaction.
    assert.equal(sync([s1, s3, s4], []).operations, 0);
    // A full sync afterwards holds the same table as one from scratch.
    sync([s1, s3, s4]);
    fake.run(deleteChains(fake.newTransaction(), moved.staleChains));
    const fresh = new Fake(kubeProxyTable);
    fresh.run(planNftSync({ services: wanted([s1, s3, s4], slices, cfg), cfg }).tx);
    assert.equal(sortNftables(fake.dump()), sortNftables(fresh.dump()));
  });

  it('flushes chains and deletes affinity sets that a restarted proxy finds stale', () => {
    const s5 = svc('ns5', 'svc5', { clusterIP: '172.30.0.45', ports: [{ name: 'p80', port: 80 }], sessionAffinity: 'ClientIP' });
    const fake = new Fake(kubeProxyTable);
    fake.run(planNftSync({ services: wanted([s5], [slice('ns5', 'svc5', 80, ['10.180.0.3'])]), cfg: upstreamCfg }).tx);
    assert.ok(fake.list('sets').includes('affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80'));
    // The Service went away while no proxy ran: the next proxy's first (full) sync cleans up.
    const plan = planNftSync({ services: new Map(), existingChains: fake.list('chains'), existingSets: fake.list('sets'), cfg: upstreamCfg });
    fake.run(plan.tx);
    assert.ok(!fake.list('sets').some((s) => s.startsWith('affinity-')));
    fake.run(deleteChains(fake.newTransaction(), plan.staleChains));
    assert.ok(!fake.list('chains').some((c) => c.includes('/')), fake.list('chains').join(' '));
  });

  it('keeps cluster traffic to the endpoints hinted for this node or its zone, when every ready endpoint has hints', () => {
    const s1 = svc('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80 }] });
    const hinted = (hints: { zones?: string[]; nodes?: string[] }[]): EndpointSlice => {
      const sl = slice('ns1', 'svc1', 80, hints.map((_, i) => `10.180.0.${i + 1}`));
      sl.endpoints.forEach((e, i) => (e.hints = { ...(hints[i]!.zones ? { forZones: hints[i]!.zones!.map((name) => ({ name })) } : {}), ...(hints[i]!.nodes ? { forNodes: hints[i]!.nodes!.map((name) => ({ name })) } : {}) }));
      return sl;
    };
    const mod = (sl: EndpointSlice, zone?: string) => /numgen random mod (\d+)/.exec(renderNftables(servicePorts([s1], [sl], 'test-node', zone), upstreamCfg))![1];
    const zones = hinted([{ zones: ['a'] }, { zones: ['a'] }, { zones: ['b'] }]);
    assert.equal(mod(zones, 'a'), '2', 'PreferSameZone: the two endpoints for zone a');
    assert.equal(mod(zones, 'b'), '1');
    assert.equal(mod(zones, 'c'), '3', 'no endpoint for this zone: all of them');
    assert.equal(mod(hinted([{ zones: ['a'] }, {}, { zones: ['b'] }]), 'a'), '3', 'an endpoint without hints: all of them');
    assert.equal(mod(hinted([{ nodes: ['test-node'], zones: ['a'] }, { nodes: ['other'], zones: ['a'] }, { nodes: ['other'], zones: ['a'] }]), 'a'), '1', 'PreferSameNode before zones');
  });

  it('is checked against a Fake that refuses what nft refuses', () => {
    const fake = new Fake(kubeProxyTable);
    fake.run(fullSyncTransaction([], upstreamCfg));
    const before = fake.dump();
    assert.equal(codeOf(() => fake.run(fake.newTransaction().add({ kind: 'chain', name: 'a' }).add({ kind: 'rule', chain: 'a', rule: 'goto nowhere' }))), 'ENOENT');
    assert.equal(fake.dump(), before, 'a failed transaction changes nothing');
    assert.equal(codeOf(() => fake.run(fake.newTransaction().delete({ kind: 'element', map: 'service-ips', key: ['1.2.3.4', 'tcp', '80'] }))), 'ENOENT');
  });
});
