// `podpath dns serve -f` answering the real dig (dnsutils) over UDP and TCP: every record type
// of the specification, NXDOMAIN/NODATA, ExternalName, forwarding with its cache and deadline,
// truncation and TCP retry, EDNS0, malformed packets, metrics and probes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Type } from '../../src/dns/wire.ts';
import { podpathBin, repoRoot, tempDir } from '../helpers/apiserver.ts';
import { dig, fakeUpstream, freePort, serveDns, type FakeUpstream, type ServedDns } from '../helpers/dns.ts';

const state = path.join(repoRoot, 'examples/dns/cluster-state.yaml');
let upstream: FakeUpstream;
let dns: ServedDns;
let metricsPort: number;
let readyPort: number;
let healthPort: number;

// A headless Service with 120 endpoints: its A answer does not fit 512 (or 1232) octets.
function bigState(): string {
  const dir = tempDir('dns-state');
  const f = path.join(dir, 'big.yaml');
  const eps = Array.from({ length: 120 }, (_, i) => `  - {addresses: [10.244.${(i >> 8) + 2}.${i & 255}], conditions: {ready: true}}`).join('\n');
  fs.writeFileSync(f, `apiVersion: v1\nkind: Service\nmetadata: {name: big, namespace: testns}\nspec: {clusterIP: None, ports: [{name: http, port: 80}]}\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: big-1, namespace: testns, labels: {kubernetes.io/service-name: big}}\naddressType: IPv4\nports: [{name: http, port: 80, protocol: TCP}]\nendpoints:\n${eps}\n`);
  return f;
}

before(async () => {
  upstream = await fakeUpstream(
    {
      'www.example.com': [{ name: 'www.example.com', type: Type.A, ttl: 60, data: '192.0.2.53' }],
      'many.example.com': Array.from({ length: 60 }, (_, i) => ({ name: 'many.example.com', type: Type.A, ttl: 60, data: `192.0.2.${i + 1}` })),
    },
    ['silent.example.com'],
  );
  [metricsPort, readyPort, healthPort] = [await freePort(), await freePort(), await freePort()];
  dns = await serveDns(['-f', state, '-f', bigState(), '--upstream', `127.0.0.1:${upstream.port}`, '--metrics-addr', `127.0.0.1:${metricsPort}`, '--ready-addr', `127.0.0.1:${readyPort}`, '--health-addr', `127.0.0.1:${healthPort}`]);
});

after(async () => {
  await dns?.stop();
  await upstream?.close();
});

test('dig: A, case echoed, authoritative, no recursion offered; TTL 5', async () => {
  const r = (await dig(dns.port, ['Kubernetes.Default.SVC.cluster.local', 'A']));
  assert.equal(r.status, 'NOERROR');
  assert.ok(r.flags.includes('aa') && !r.flags.includes('ra'), r.raw);
  assert.deepEqual(r.answer, [['Kubernetes.Default.SVC.cluster.local.', '5', 'IN', 'A', '10.96.0.1']]);
});

test('dig: NXDOMAIN and NODATA carry the zone SOA (CoreDNS conventions)', async () => {
  const nx = (await dig(dns.port, ['nope.testns.svc.cluster.local', 'A']));
  assert.equal(nx.status, 'NXDOMAIN');
  assert.equal(nx.answer.length, 0);
  assert.deepEqual(nx.authority[0]!.slice(0, 6), ['cluster.local.', '5', 'IN', 'SOA', 'ns.dns.cluster.local.', 'hostmaster.cluster.local.']);
  assert.deepEqual(nx.authority[0]!.slice(7), ['7200', '1800', '86400', '5']);
  for (const [name, type] of [['svc1.testns.svc.cluster.local', 'AAAA'], ['svc1.testns.svc.cluster.local', 'TXT'], ['testns.svc.cluster.local', 'A'], ['svc.cluster.local', 'A'], ['pod.cluster.local', 'A']] as const) {
    const r = (await dig(dns.port, [name, type]));
    assert.equal(r.status, 'NOERROR', `${name} ${type}`);
    assert.equal(r.answer.length, 0);
    assert.equal(r.authority[0]![3], 'SOA');
  }
  for (const name of ['headless-empty.testns.svc.cluster.local', 'nope.nonamespace.svc.cluster.local', '10-244-0-9.testns.pod.cluster.local', 'endpoint.external.testns.svc.cluster.local']) assert.equal((await dig(dns.port, [name, 'A'])).status, 'NXDOMAIN', name);
});

test('dig: headless A per ready endpoint, endpoint hostnames, SRV with additional addresses', async () => {
  assert.deepEqual((await dig(dns.port, ['headless.testns.svc.cluster.local'])).answer.map((a) => a[4]).sort(), ['10.244.1.100', '10.244.1.101', '10.244.1.102']);
  assert.deepEqual((await dig(dns.port, ['my-pet.headless.testns.svc.cluster.local'])).answer.map((a) => a[4]), ['10.244.1.100']);
  assert.deepEqual((await dig(dns.port, ['dns-querier-2.dns-test-service-2.testns.svc.cluster.local'])).answer.map((a) => a[4]), ['10.244.0.9']);
  const srv = (await dig(dns.port, ['_https._tcp.headless.testns.svc.cluster.local', 'SRV']));
  assert.deepEqual(srv.answer.map((a) => a.slice(4)).sort(), [
    ['0', '33', '8443', '10-244-1-102.headless.testns.svc.cluster.local.'],
    ['0', '33', '8443', 'my-pet-2.headless.testns.svc.cluster.local.'],
    ['0', '33', '8443', 'my-pet.headless.testns.svc.cluster.local.'],
  ]);
  assert.deepEqual(srv.additional.map((a) => `${a[0]} ${a[4]}`).sort(), ['10-244-1-102.headless.testns.svc.cluster.local. 10.244.1.102', 'my-pet-2.headless.testns.svc.cluster.local. 10.244.1.101', 'my-pet.headless.testns.svc.cluster.local. 10.244.1.100']);
  assert.deepEqual((await dig(dns.port, ['_https._tcp.kubernetes.default.svc.cluster.local', 'SRV'])).answer.map((a) => a.slice(4)), [['0', '100', '443', 'kubernetes.default.svc.cluster.local.']]);
});

test('dig: PTR (dig -x) for a ClusterIP and an endpoint; the dns-version TXT', async () => {
  assert.deepEqual((await dig(dns.port, ['-x', '10.96.0.1'])).answer.map((a) => a.slice(3)), [['PTR', 'kubernetes.default.svc.cluster.local.']]);
  assert.deepEqual((await dig(dns.port, ['-x', '10.244.1.101'])).answer.map((a) => a[4]), ['my-pet-2.headless.testns.svc.cluster.local.']);
  assert.deepEqual((await dig(dns.port, ['-x', 'fd00:10:96::60'])).answer.map((a) => a[4]), ['dual.testns.svc.cluster.local.']);
  assert.deepEqual((await dig(dns.port, ['dns-version.cluster.local', 'TXT'])).answer, [['dns-version.cluster.local.', '28800', 'IN', 'TXT', '"1.1.0"']]);
});

test('dig: ExternalName — CNAME alone for CNAME, CNAME first then the upstream\'s A for A', async () => {
  assert.deepEqual((await dig(dns.port, ['external.testns.svc.cluster.local', 'CNAME'])).answer.map((a) => a.slice(3)), [['CNAME', 'www.example.com.']]);
  const a = (await dig(dns.port, ['external.testns.svc.cluster.local', 'A']));
  assert.deepEqual(a.answer.map((x) => `${x[0]} ${x[3]} ${x[4]}`), ['external.testns.svc.cluster.local. CNAME www.example.com.', 'www.example.com. A 192.0.2.53']);
  const inner = (await dig(dns.port, ['external-to-service.testns.svc.cluster.local', 'A']));
  assert.deepEqual(inner.answer.map((x) => `${x[3]} ${x[4]}`), ['CNAME svc1.testns.svc.cluster.local.', 'A 10.96.0.30']);
});

test('dig: names outside the zone go to the upstream, then come from the cache (TTL capped at 30)', async () => {
  const before = upstream.seen.filter((s) => s.startsWith('www.example.com ')).length;
  const first = (await dig(dns.port, ['WWW.example.com', 'A']));
  assert.equal(first.status, 'NOERROR');
  assert.ok(first.flags.includes('ra'));
  assert.deepEqual(first.answer.map((a) => [a[0], a[4]]), [['WWW.example.com.', '192.0.2.53']]);
  const second = (await dig(dns.port, ['www.example.com', 'A']));
  assert.deepEqual(second.answer.map((a) => a[4]), ['192.0.2.53']);
  assert.ok(Number(second.answer[0]![1]) <= 30, second.raw);
  // One upstream question for both (the first may have been asked earlier by the ExternalName test).
  assert.ok(upstream.seen.filter((s) => s.startsWith('www.example.com ')).length <= before + 1);
  assert.equal((await dig(dns.port, ['nothing.example.com', 'A'])).status, 'NXDOMAIN');
});

test('dig: a silent upstream gives SERVFAIL before the client gives up, never a hang', async () => {
  const r = (await dig(dns.port, ['silent.example.com', 'A']));
  assert.equal(r.status, 'SERVFAIL', r.raw);
});

test('dig: truncation — over 512 octets UDP answers set TC and dig retries over TCP; TCP alone works', async () => {
  const udpOnly = (await dig(dns.port, ['+noedns', '+ignore', 'big.testns.svc.cluster.local', 'A']));
  assert.ok(udpOnly.flags.includes('tc'), udpOnly.raw);
  assert.ok(udpOnly.answer.length > 0 && udpOnly.answer.length < 120, `${udpOnly.answer.length} answers over UDP`);
  const retried = (await dig(dns.port, ['+noedns', 'big.testns.svc.cluster.local', 'A']));
  assert.match(retried.raw, /Truncated, retrying in TCP mode/);
  assert.equal(retried.answer.length, 120);
  assert.equal((await dig(dns.port, ['+tcp', 'big.testns.svc.cluster.local', 'A'])).answer.length, 120);
  // A bigger EDNS buffer takes more of it over UDP.
  const edns = (await dig(dns.port, ['+bufsize=4096', '+ignore', 'big.testns.svc.cluster.local', 'A']));
  assert.equal(edns.answer.length, 120);
  // A forwarded answer too big for the client's UDP buffer is cut to TC as well, and whole over TCP.
  assert.ok((await dig(dns.port, ['+noedns', '+ignore', 'many.example.com', 'A'])).flags.includes('tc'));
  assert.equal((await dig(dns.port, ['+tcp', 'many.example.com', 'A'])).answer.length, 60);
});

test('dig: EDNS0 is answered with an OPT record; EDNS version 1 gets BADVERS', async () => {
  const r = (await dig(dns.port, ['+edns=0', 'kubernetes.default.svc.cluster.local']));
  assert.match(r.raw, /EDNS: version: 0/);
  const bad = (await dig(dns.port, ['+edns=1', '+noednsneg', 'kubernetes.default.svc.cluster.local']));
  assert.equal(bad.status, 'BADVERS', bad.raw);
});

test('malformed packets: FORMERR with the same ID, or no answer', async () => {
  const s = dgram.createSocket('udp4');
  const replies: Buffer[] = [];
  s.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const send = (b: Buffer) => new Promise<void>((r) => s.send(b, dns.port, '127.0.0.1', () => r()));
  // A header claiming one question with nothing after it.
  await send(Buffer.from([0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
  // Shorter than a header: dropped.
  await send(Buffer.from([1, 2, 3]));
  // A compression loop in the question name.
  await send(Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]));
  const deadline = Date.now() + 3000;
  while (replies.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  s.close();
  assert.deepEqual(replies.map((b) => [b.readUInt16BE(0), b.readUInt16BE(2) & 0x800f]).sort(), [[0x1234, 0x8001], [0xbeef, 0x8001]]);
  assert.equal((await dig(dns.port, ['kubernetes.default.svc.cluster.local'])).status, 'NOERROR');
});

test('/metrics has CoreDNS\'s names and labels; /health and /ready answer OK', async () => {
  (await dig(dns.port, ['nope.testns.svc.cluster.local']));
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const server = `dns://127.0.0.1:${dns.port}`;
  assert.match(text, /# HELP coredns_dns_requests_total Counter of DNS requests made per zone, protocol and family\.\n# TYPE coredns_dns_requests_total counter/);
  assert.match(text, new RegExp(`coredns_dns_requests_total\\{server="${server.replace(/[/.]/g, '\\$&')}",zone="\\.",view="",proto="udp",family="1",type="A"\\} \\d+`));
  assert.match(text, /coredns_dns_responses_total\{[^}]*rcode="NXDOMAIN",plugin="kubernetes"\} \d+/);
  assert.match(text, /coredns_dns_responses_total\{[^}]*rcode="NOERROR",plugin="forward"\} \d+/);
  assert.match(text, /coredns_dns_request_duration_seconds_bucket\{server="[^"]+",zone="\.",view="",type="A",le="0\.00025"\} \d+/);
  assert.match(text, /coredns_cache_hits_total\{server="[^"]+",view="",zones="\.",type="success"\} \d+/);
  assert.match(text, /coredns_proxy_request_duration_seconds_count\{proxy_name="forward",rcode="NOERROR",to="127\.0\.0\.1:\d+"\} \d+/);
  const health = await fetch(`http://127.0.0.1:${healthPort}/health`);
  assert.deepEqual([health.status, await health.text()], [200, 'OK']);
  const ready = await fetch(`http://127.0.0.1:${readyPort}/ready`);
  assert.deepEqual([ready.status, await ready.text()], [200, 'OK']);
});

test('dns serve: bad flags and bad state are refused, naming what is wrong', async () => {
  const run = (args: string[]) => spawnSync(process.execPath, [podpathBin, 'dns', 'serve', ...args], { encoding: 'utf8', timeout: 20_000 });
  const badPods = run(['-f', state, '--pods', 'maybe']);
  assert.notEqual(badPods.status, 0);
  assert.match(badPods.stderr, /--pods/);
  const badTtl = run(['-f', state, '--ttl', '9000']);
  assert.match(badTtl.stderr, /--ttl "9000": expected whole seconds from 0 to 3600/);
  const badListen = run(['-f', state, '--listen', 'nowhere']);
  assert.match(badListen.stderr, /--listen "nowhere": expected ADDRESS:PORT/);
  const f = path.join(tempDir('dns-bad'), 'bad.yaml');
  fs.writeFileSync(f, 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n');
  assert.match(run(['-f', f]).stderr, /document 1: expected v1 Service, discovery\.k8s\.io\/v1 EndpointSlice, v1 Pod or v1 Namespace, got apps\/v1 Deployment/);
});
