// The cluster zone's answers (pure lookup over an index), against the Kubernetes DNS
// specification's records and CoreDNS's conventions (handler_test.go, the pod-mode tests).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readState } from '../../src/dns/dns.ts';
import { buildIndex, lookup, reverseToIP, type Answer, type ZoneConfig } from '../../src/dns/zone.ts';
import { rcodeName, Type, typeName, type RR } from '../../src/dns/wire.ts';
import { repoRoot } from '../helpers/apiserver.ts';

const statePath = path.join(repoRoot, 'examples/dns/cluster-state.yaml');
const state = readState([statePath]);
const zone = (o: Partial<ZoneConfig> = {}): ZoneConfig => ({ zone: 'cluster.local', pods: 'disabled', ttl: 5, ...o });
const ix = buildIndex(state, zone(), 1700000000);
const types = Object.fromEntries(Object.entries(Type)) as Record<string, number>;

function rr(r: RR): string {
  const d = r.data as unknown;
  const data =
    r.type === Type.SRV ? `${(d as { priority: number }).priority} ${(d as { weight: number }).weight} ${(d as { port: number }).port} ${(d as { target: string }).target}.`
    : r.type === Type.SOA ? (() => { const s = d as Record<string, string | number>; return `${s.mname}. ${s.rname}. ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`; })()
    : r.type === Type.TXT ? (d as string[]).map((x) => `"${x}"`).join(' ')
    : r.type === Type.CNAME || r.type === Type.PTR || r.type === Type.NS ? `${d as string}.`
    : String(d);
  return `${r.name}.\t${r.ttl}\tIN\t${typeName(r.type)}\t${data}`;
}

function show(a: Answer): string {
  if (a.forward) return 'FORWARD';
  const parts = [`${rcodeName(a.rcode)}${a.authoritative ? ' aa' : ''}${a.chase ? ` chase ${a.chase.name} ${typeName(a.chase.type)}` : ''}`];
  for (const [title, list] of [['answer', a.answer], ['authority', a.authority], ['additional', a.additional]] as const) for (const r of list) parts.push(`  ${title}: ${rr(r)}`);
  return parts.join('\n');
}

const ask = (name: string, type: string, x = ix) => lookup(x, { name, type: types[type]!, class: 1 });

// Each question of the transcript (test/golden/dns-answers.txt): the specification's examples,
// CoreDNS's NXDOMAIN/NODATA cases, ExternalName, PTR, SRV and the pod modes.
const questions: [string, string][] = [
  ['kubernetes.default.svc.cluster.local', 'A'],
  ['Kubernetes.DEFAULT.svc.Cluster.Local', 'A'],
  ['kubernetes.default.svc.cluster.local', 'AAAA'],
  ['kubernetes.default.svc.cluster.local', 'TXT'],
  ['kubernetes.default.svc.cluster.local', 'SRV'],
  ['_https._tcp.kubernetes.default.svc.cluster.local', 'SRV'],
  ['_https._udp.kubernetes.default.svc.cluster.local', 'SRV'],
  ['_http._tcp.svc1.testns.svc.cluster.local', 'SRV'],
  ['_dns._udp.svc1.testns.svc.cluster.local', 'SRV'],
  ['api-service.default.svc.cluster.local', 'A'],
  ['api-service.default.svc.cluster.local', 'SRV'],
  ['svcempty.testns.svc.cluster.local', 'A'],
  ['headless.testns.svc.cluster.local', 'A'],
  ['headless.testns.svc.cluster.local', 'AAAA'],
  ['my-pet.headless.testns.svc.cluster.local', 'A'],
  ['10-244-1-102.headless.testns.svc.cluster.local', 'A'],
  ['not-ready.headless.testns.svc.cluster.local', 'A'],
  ['bogus.headless.testns.svc.cluster.local', 'A'],
  ['_https._tcp.headless.testns.svc.cluster.local', 'SRV'],
  ['headless-empty.testns.svc.cluster.local', 'A'],
  ['dns-querier-2.dns-test-service-2.testns.svc.cluster.local', 'A'],
  ['_http._tcp.dns-test-service-2.testns.svc.cluster.local', 'SRV'],
  ['external.testns.svc.cluster.local', 'CNAME'],
  ['external.testns.svc.cluster.local', 'A'],
  ['endpoint.external.testns.svc.cluster.local', 'A'],
  ['external-to-service.testns.svc.cluster.local', 'A'],
  ['dual.testns.svc.cluster.local', 'A'],
  ['dual.testns.svc.cluster.local', 'AAAA'],
  ['_http._tcp.dual.testns.svc.cluster.local', 'SRV'],
  ['nope.default.svc.cluster.local', 'A'],
  ['nope.nonamespace.svc.cluster.local', 'A'],
  ['a.b.c.svc1.testns.svc.cluster.local', 'A'],
  ['svc.cluster.local', 'A'],
  ['testns.svc.cluster.local', 'A'],
  ['nonamespace.svc.cluster.local', 'A'],
  ['pod.cluster.local', 'A'],
  ['10-244-0-9.testns.pod.cluster.local', 'A'],
  ['foo.cluster.local', 'A'],
  ['foo.cluster.local', 'NS'],
  ['foo.svc.cluster.local', 'NS'],
  ['testns.svc.cluster.local', 'NS'],
  ['svc1.testns.svc.cluster.local', 'NS'],
  ['nope.testns.svc.cluster.local', 'NS'],
  ['my-pet.headless.testns.svc.cluster.local', 'NS'],
  ['external.testns.svc.cluster.local', 'NS'],
  ['10-244-0-9.testns.pod.cluster.local', 'NS'],
  ['ns.dns.cluster.local', 'NS'],
  ['dns-version.cluster.local', 'NS'],
  ['cluster.local', 'SOA'],
  ['cluster.local', 'NS'],
  ['cluster.local', 'A'],
  ['ns.dns.cluster.local', 'A'],
  ['dns-version.cluster.local', 'TXT'],
  ['dns-version.cluster.local', 'A'],
  ['1.0.96.10.in-addr.arpa', 'PTR'],
  ['100.1.244.10.in-addr.arpa', 'PTR'],
  ['102.1.244.10.in-addr.arpa', 'PTR'],
  ['103.1.244.10.in-addr.arpa', 'PTR'],
  ['0.6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa', 'PTR'],
  ['9.9.9.10.in-addr.arpa', 'PTR'],
  ['www.example.com', 'A'],
];

test('dns: the cluster zone answers as the specification and CoreDNS do (golden transcript)', () => {
  const text = questions.map(([n, t]) => `${n} ${t}\n${show(ask(n, t))}\n`).join('');
  const golden = path.join(repoRoot, 'test/golden/dns-answers.txt');
  if (process.env.PODPATH_UPDATE_GOLDEN) fs.writeFileSync(golden, text);
  assert.equal(text, fs.readFileSync(golden, 'utf8'));
});

test('dns: ClusterIP, headless and NODATA/NXDOMAIN facts', () => {
  const a = ask('kubernetes.default.svc.cluster.local', 'A');
  assert.deepEqual(a.answer.map((r) => r.data), ['10.96.0.1']);
  assert.equal(a.answer[0]!.ttl, 5);
  assert.ok(a.authoritative);
  // Case is echoed in the owner name.
  assert.equal(ask('Kubernetes.DEFAULT.svc.Cluster.Local', 'A').answer[0]!.name, 'Kubernetes.DEFAULT.svc.Cluster.Local');
  // An existing name with a missing type: NOERROR, no answer, the zone's SOA.
  const nodata = ask('kubernetes.default.svc.cluster.local', 'AAAA');
  assert.equal(nodata.rcode, 0);
  assert.equal(nodata.answer.length, 0);
  assert.deepEqual(nodata.authority.map((r) => [r.name, r.type]), [['cluster.local', Type.SOA]]);
  assert.deepEqual(nodata.authority[0]!.data, { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 1700000000, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 });
  for (const n of ['nope.default.svc.cluster.local', 'nope.nonamespace.svc.cluster.local', 'headless-empty.testns.svc.cluster.local', 'endpoint.external.testns.svc.cluster.local', 'not-ready.headless.testns.svc.cluster.local']) assert.equal(ask(n, 'A').rcode, 3, n);
  for (const n of ['svc.cluster.local', 'testns.svc.cluster.local', 'pod.cluster.local', 'cluster.local']) assert.equal(ask(n, 'A').rcode, 0, n);
  // Headless: one A per ready endpoint; the not-ready one is left out.
  assert.deepEqual(ask('headless.testns.svc.cluster.local', 'A').answer.map((r) => r.data), ['10.244.1.100', '10.244.1.101', '10.244.1.102']);
  // A ClusterIP Service with no endpoints still answers its VIP.
  assert.deepEqual(ask('svcempty.testns.svc.cluster.local', 'A').answer.map((r) => r.data), ['10.96.0.40']);
});

test('dns: SRV priority 0, weight 100 split over the records, targets and additional records', () => {
  const srv = ask('_https._tcp.headless.testns.svc.cluster.local', 'SRV');
  assert.deepEqual(srv.answer.map((r) => r.data), [
    { priority: 0, weight: 33, port: 8443, target: 'my-pet.headless.testns.svc.cluster.local' },
    { priority: 0, weight: 33, port: 8443, target: 'my-pet-2.headless.testns.svc.cluster.local' },
    { priority: 0, weight: 33, port: 8443, target: '10-244-1-102.headless.testns.svc.cluster.local' },
  ]);
  assert.deepEqual(srv.additional.map((r) => [r.name, r.data]), [
    ['my-pet.headless.testns.svc.cluster.local', '10.244.1.100'],
    ['my-pet-2.headless.testns.svc.cluster.local', '10.244.1.101'],
    ['10-244-1-102.headless.testns.svc.cluster.local', '10.244.1.102'],
  ]);
  assert.deepEqual(ask('_https._tcp.kubernetes.default.svc.cluster.local', 'SRV').answer.map((r) => r.data), [{ priority: 0, weight: 100, port: 443, target: 'kubernetes.default.svc.cluster.local' }]);
  // Dual-stack ClusterIP: one record per family (weight 50), collapsed to one SRV; both addresses additional.
  const dual = ask('_http._tcp.dual.testns.svc.cluster.local', 'SRV');
  assert.deepEqual(dual.answer.map((r) => r.data), [{ priority: 0, weight: 50, port: 80, target: 'dual.testns.svc.cluster.local' }]);
  assert.deepEqual(dual.additional.map((r) => r.data), ['10.96.0.60', 'fd00:10:96::60']);
  // Unnamed ports have no _port._proto name; the wrong protocol is no name either.
  assert.equal(ask('_https._udp.kubernetes.default.svc.cluster.local', 'SRV').rcode, 3);
  // A ClusterIP Service's SRV port is the Service port; a headless one's is the endpoint's (above: 8443, not 443).
  assert.equal((ask('_http._tcp.svc1.testns.svc.cluster.local', 'SRV').answer[0]!.data as { port: number }).port, 80);
});

test('dns: six endpoint records give weight 16; duplicate hostnames collapse in SRV but not in additional', () => {
  const st = structuredClone(state);
  const slice = st.slices.find((s) => s.metadata.name === 'headless-1')!;
  slice.endpoints = ['172.0.0.2', '172.0.0.3', '172.0.0.4', '172.0.0.5', '172.0.0.6', '172.0.0.7'].map((ip, i) => ({ addresses: [ip], conditions: { ready: true }, ...(i >= 4 ? { hostname: 'dup-name' } : {}) }));
  const x = buildIndex(st, zone(), 1);
  const srv = ask('_https._tcp.headless.testns.svc.cluster.local', 'SRV', x);
  assert.deepEqual(new Set(srv.answer.map((r) => (r.data as { weight: number }).weight)), new Set([16]));
  assert.equal(srv.answer.filter((r) => (r.data as { target: string }).target.startsWith('dup-name.')).length, 1);
  assert.equal(srv.additional.filter((r) => r.name.startsWith('dup-name.')).length, 2);
  assert.deepEqual(ask('dup-name.headless.testns.svc.cluster.local', 'A', x).answer.map((r) => r.data), ['172.0.0.6', '172.0.0.7']);
});

test('dns: ExternalName is a CNAME; an in-cluster target is chased, an outside one left to the upstream', () => {
  const c = ask('external.testns.svc.cluster.local', 'CNAME');
  assert.deepEqual(c.answer.map((r) => [r.type, r.data]), [[Type.CNAME, 'www.example.com']]);
  assert.equal(c.chase, undefined);
  const a = ask('external.testns.svc.cluster.local', 'A');
  assert.deepEqual(a.chase, { name: 'www.example.com', type: Type.A, class: 1 });
  const inner = ask('external-to-service.testns.svc.cluster.local', 'A');
  assert.deepEqual(inner.answer.map((r) => [r.type, r.data]), [[Type.CNAME, 'svc1.testns.svc.cluster.local'], [Type.A, '10.96.0.30']]);
});

test('dns: an ExternalName loop inside the zone ends after a bounded chase', () => {
  const st = structuredClone(state);
  st.services.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'loop-a', namespace: 'testns' }, spec: { type: 'ExternalName', externalName: 'loop-b.testns.svc.cluster.local' } });
  st.services.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'loop-b', namespace: 'testns' }, spec: { type: 'ExternalName', externalName: 'loop-a.testns.svc.cluster.local' } });
  const a = ask('loop-a.testns.svc.cluster.local', 'A', buildIndex(st, zone(), 1));
  assert.equal(a.rcode, 0);
  assert.equal(a.answer.length, 9);
  assert.ok(a.answer.every((r) => r.type === Type.CNAME));
});

test('dns: PTR for ClusterIPs and endpoint addresses, one per (Service, endpoint); IPv6 nibbles', () => {
  assert.deepEqual(ask('1.0.96.10.in-addr.arpa', 'PTR').answer.map((r) => r.data), ['kubernetes.default.svc.cluster.local']);
  assert.deepEqual(ask('100.1.244.10.in-addr.arpa', 'PTR').answer.map((r) => r.data), ['my-pet.headless.testns.svc.cluster.local']);
  assert.deepEqual(ask('0.6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa', 'PTR').answer.map((r) => r.data), ['dual.testns.svc.cluster.local']);
  assert.equal(reverseToIP('1.0.96.10.in-addr.arpa'), '10.96.0.1');
  assert.equal(reverseToIP('01.0.96.10.in-addr.arpa'), undefined);
  // Two Services selecting one pod: two PTRs for its address.
  const st = structuredClone(state);
  st.slices.push({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'svcempty-1', namespace: 'testns', labels: { 'kubernetes.io/service-name': 'svcempty' } }, addressType: 'IPv4', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], endpoints: [{ addresses: ['10.244.1.4'] }] });
  assert.deepEqual(ask('4.1.244.10.in-addr.arpa', 'PTR', buildIndex(st, zone(), 1)).answer.map((r) => r.data), ['10-244-1-4.svc1.testns.svc.cluster.local', '10-244-1-4.svcempty.testns.svc.cluster.local']);
  // Unknown reverse names fall through to the upstream (fallthrough in-addr.arpa ip6.arpa).
  assert.ok(ask('9.9.9.10.in-addr.arpa', 'PTR').forward);
});

test('dns: pods disabled, insecure and verified', () => {
  const name = '10-244-0-9.testns.pod.cluster.local';
  assert.equal(ask(name, 'A').rcode, 3);
  const insecure = buildIndex(state, zone({ pods: 'insecure' }), 1);
  assert.deepEqual(ask('172-0-0-2.podns.pod.cluster.local', 'A', insecure).answer.map((r) => r.data), ['172.0.0.2']);
  assert.equal(ask('blah.podns.pod.cluster.local', 'A', insecure).rcode, 3);
  const nd = ask('podns.pod.cluster.local', 'A', insecure);
  assert.equal(nd.rcode, 0);
  assert.equal(nd.answer.length, 0);
  assert.deepEqual(ask('fd00-10--5.testns.pod.cluster.local', 'AAAA', insecure).answer.map((r) => r.data), ['fd00:10::5']);
  const verified = buildIndex(state, zone({ pods: 'verified' }), 1);
  assert.deepEqual(ask(name, 'A', verified).answer.map((r) => r.data), ['10.244.0.9']);
  assert.equal(ask('172-0-0-2.testns.pod.cluster.local', 'A', verified).rcode, 3);
  assert.equal(ask('10-244-0-9.default.pod.cluster.local', 'A', verified).rcode, 3);
  assert.equal(ask('10-244-0-9.nonamespace.pod.cluster.local', 'A', verified).rcode, 3);
});

test('dns: names outside the zone, and another cluster domain', () => {
  assert.ok(ask('www.example.com', 'A').forward);
  assert.ok(ask('cluster.local.example.com', 'A').forward);
  const other = buildIndex(state, zone({ zone: 'k8s.example', ttl: 30 }), 1);
  const a = ask('kubernetes.default.svc.k8s.example', 'A', other);
  assert.deepEqual([a.answer[0]!.data, a.answer[0]!.ttl], ['10.96.0.1', 30]);
  assert.ok(ask('kubernetes.default.svc.cluster.local', 'A', other).forward);
});
