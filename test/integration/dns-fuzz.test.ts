// Bad input for the DNS server: mutated and random packets get FORMERR (or another rcode, or
// nothing) and never crash it; floods are answered without unbounded memory growth.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { readState } from '../../src/dns/dns.ts';
import { DnsMetrics, DnsServer } from '../../src/dns/server.ts';
import { decodeMessage, encodeQuery } from '../../src/dns/wire.ts';
import { buildIndex } from '../../src/dns/zone.ts';
import { repoRoot } from '../helpers/apiserver.ts';
import { dig, fakeUpstream, serveDns, type FakeUpstream, type ServedDns } from '../helpers/dns.ts';

const statePath = path.join(repoRoot, 'examples/dns/cluster-state.yaml');

// A small deterministic generator, so a failure can be replayed.
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const names = ['kubernetes.default.svc.cluster.local', '_https._tcp.headless.testns.svc.cluster.local', 'external.testns.svc.cluster.local', '1.0.96.10.in-addr.arpa', 'dns-version.cluster.local', 'x.example.com'];

function mutate(r: () => number, base: Buffer): Buffer {
  const b = Buffer.from(base);
  switch (Math.floor(r() * 6)) {
    case 0: // flip bits
      for (let i = 0; i < 1 + r() * 6; i++) b[Math.floor(r() * b.length)]! ^= 1 << Math.floor(r() * 8);
      return b;
    case 1: // cut short
      return b.subarray(0, Math.floor(r() * b.length));
    case 2: // random section counts
      b.writeUInt16BE(Math.floor(r() * 65536), 4 + 2 * Math.floor(r() * 4));
      return b;
    case 3: // garbage appended
      return Buffer.concat([b, Buffer.from(Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256)))]);
    case 4: // random bytes after a header
      return Buffer.concat([b.subarray(0, 12), Buffer.from(Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256)))]);
    default: // compression pointers sprinkled in
      for (let i = 0; i < 3; i++) {
        const at = 12 + Math.floor(r() * (b.length - 13));
        b[at] = 0xc0 | Math.floor(r() * 64);
      }
      return b;
  }
}

test('fuzz: 40,000 mutated queries through the server\'s handler — answers parse, carry the query ID, never a crash', async () => {
  const zone = { zone: 'cluster.local', pods: 'insecure' as const, ttl: 5 };
  const ix = buildIndex(readState([statePath]), zone, 1);
  const metrics = new DnsMetrics('dns://:53');
  const logs: string[] = [];
  const server = new DnsServer({ listen: { host: '127.0.0.1', port: 0 }, zone, index: () => ix, metrics, log: (s) => logs.push(s) });
  const r = rng(20261202);
  const bases = names.flatMap((n, i) => [encodeQuery(i, { name: n, type: [1, 28, 33, 12, 16, 5][i]!, class: 1 }), encodeQuery(i + 100, { name: n, type: 1, class: 1 }, { edns: { udpSize: 1232, version: 0, do: true } })]);
  const rcodes = new Map<number, number>();
  let answered = 0;
  for (let i = 0; i < 40_000; i++) {
    const pkt = mutate(r, bases[Math.floor(r() * bases.length)]!);
    let out = server.handle(pkt, r() < 0.5 ? 'udp' : 'tcp', 4);
    if (out instanceof Promise) out = await out;
    if (!out) continue;
    answered++;
    const m = decodeMessage(out);
    assert.equal(m.id, pkt.readUInt16BE(0));
    assert.ok(m.flags & 0x8000, 'QR set');
    rcodes.set(m.rcode, (rcodes.get(m.rcode) ?? 0) + 1);
  }
  assert.equal(metrics.panics.get(), 0, logs.join('\n'));
  assert.ok(answered > 10_000, `${answered} answered`);
  assert.ok((rcodes.get(1) ?? 0) > 1000, `FORMERR answers: ${JSON.stringify([...rcodes])}`);
  for (const rc of rcodes.keys()) assert.ok([0, 1, 2, 3, 4, 5].includes(rc), `rcode ${rc}`);
});

let upstream: FakeUpstream;
let dns: ServedDns;

before(async () => {
  upstream = await fakeUpstream({}, (n) => n.endsWith('.example.com'));
  dns = await serveDns(['-f', statePath, '--upstream', `127.0.0.1:${upstream.port}`]);
});
after(async () => {
  await dns?.stop();
  await upstream?.close();
});

function rssKB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

/** Sends `count` packets from `make`, at most `window` unanswered at a time; returns replies. */
async function blast(port: number, count: number, make: (i: number) => Buffer, window = 200, limitMs = 60_000): Promise<Buffer[]> {
  const s = dgram.createSocket('udp4');
  const replies: Buffer[] = [];
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  let sent = 0;
  const deadline = Date.now() + limitMs;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (sent < count && sent - replies.length < window) s.send(make(sent++), port, '127.0.0.1');
      if (sent >= count || Date.now() > deadline) return resolve();
      setTimeout(pump, 1);
    };
    s.on('message', (m) => replies.push(m));
    pump();
  });
  await new Promise((r) => setTimeout(r, 500));
  s.close();
  return replies;
}

test('fuzz: 5,000 random datagrams and a TCP stream of garbage at the running server, which keeps answering', async () => {
  const r = rng(7);
  await blast(dns.port, 5000, () => Buffer.from(Array.from({ length: Math.floor(r() * 600) }, () => Math.floor(r() * 256))), 500, 20_000);
  await new Promise<void>((resolve) => {
    const c = net.connect(dns.port, '127.0.0.1', () => {
      c.write(Buffer.from([0x00, 0x05, 1, 2, 3, 4, 5, 0xff, 0xff, 9, 9, 9]));
      setTimeout(() => c.destroy(), 200);
    });
    c.on('error', () => resolve());
    c.on('close', () => resolve());
  });
  assert.equal(dns.proc.exitCode, null, dns.log());
  assert.equal((await dig(dns.port, ['kubernetes.default.svc.cluster.local'])).status, 'NOERROR');
});

test('flood: 150,000 distinct names (in the zone and forwarded to a silent upstream) without unbounded memory', async () => {
  const pid = dns.proc.pid!;
  // Warm up, then measure.
  await blast(dns.port, 20_000, (i) => encodeQuery(i & 0xffff, { name: `warm${i}.testns.svc.cluster.local`, type: 1, class: 1 }));
  const start = rssKB(pid);
  const zoneReplies = await blast(dns.port, 120_000, (i) => encodeQuery(i & 0xffff, { name: `n${i}.testns.svc.cluster.local`, type: 1, class: 1 }));
  // Forwarded names the upstream never answers: at most 1,000 wait at once, the rest REFUSED.
  const fwdReplies = await blast(dns.port, 30_000, (i) => encodeQuery(i & 0xffff, { name: `f${i}.example.com`, type: 1, class: 1 }), 3000);
  const grown = rssKB(pid) - start;
  assert.ok(zoneReplies.length >= 110_000, `${zoneReplies.length} of 120,000 answered`);
  assert.ok(zoneReplies.every((m) => (m.readUInt16BE(2) & 0xf) === 3), 'NXDOMAIN for unknown names');
  const refused = fwdReplies.filter((m) => (m.readUInt16BE(2) & 0xf) === 5).length;
  assert.ok(refused > 0, `REFUSED beyond the concurrency limit (${fwdReplies.length} replies)`);
  assert.ok(grown < 100_000, `RSS grew ${grown} kB`);
  assert.equal((await dig(dns.port, ['kubernetes.default.svc.cluster.local'])).status, 'NOERROR');
});
