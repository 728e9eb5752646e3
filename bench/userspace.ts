// kube-proxy's userspace mode against HAProxy in TCP mode (Debian's haproxy), a direct
// connection and — as root — the kernel's DNAT path (an nft DNAT with numgen balancing, as
// nftables mode writes it, in a network namespace of the bench's own), all on 127.0.0.0/8:
//   short      new TCP connections per second, each reading a small reply and closing
//              (--concurrency loops for --seconds), with p50/p99 connect-to-reply latency
//   bulk       one connection streaming --megabytes to a sink, MB/s
// The proxies and the backends run on CPU 1 and the load generator on CPU 0 when there are two.
//   node --import tsx bench/userspace.ts [--seconds 5] [--concurrency 32] [--megabytes 1024] [--rounds 3]
// Each row is measured once per round, rounds one after another; ratios are taken within a round.
import { spawnSync } from 'node:child_process';
import { buildSync } from 'esbuild';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../test/helpers/apiserver.ts';
import { arg, freePort, on, pinned, scratch, sleep } from './common.ts';

const seconds = Number(arg('seconds', '5'));
const concurrency = Number(arg('concurrency', '32'));
const megabytes = Number(arg('megabytes', '1024'));
const rounds = Number(arg('rounds', '3'));
const { dir, start } = scratch('podpath-bench-us-');

// Backends: "reply" answers each connection with a line and closes; "sink" swallows everything.
const backendSrc = `
const net = require('node:net');
const [mode, port] = [process.argv[1], Number(process.argv[2])];
net.createServer((c) => { c.on('error', () => {}); if (mode === 'reply') c.end('ok\\n'); else c.on('data', () => {}); }).listen(port, '127.0.0.1');
`;

// The userspace proxy in a process of its own, balancing a loopback "ClusterIP" over the backends.
const proxySrc = `
import { UserspaceBackend } from '${path.join(repoRoot, 'src/proxy/userspace/backend.ts')}';
const [vip, port, ...eps] = process.argv.slice(2);
const b = new UserspaceBackend({ scheduler: 'rr', strictARP: false, udpTimeoutMs: 250, connectTimeoutMs: 1000, nodePortIPs: () => undefined, log: console.error,
  dummy: { ensure() {}, exists: () => true, list: () => [], nodeAddresses: () => [], add() {}, del() {} } });
const endpoints = eps.map((e) => { const [ip, p] = e.split(':'); return { ip, port: Number(p), key: e, ready: true, serving: true, terminating: false, isLocal: true, zoneHints: [], nodeHints: [] }; });
b.sync({ byService: new Map([['bench/svc', [{ name: 'bench/svc', namespace: 'bench', serviceName: 'svc', portName: '', protocol: 'TCP', clusterIP: vip, port: Number(port), nodePort: 0, externalIPs: [], loadBalancerVIPs: [], loadBalancerSourceRanges: [], externalPolicyLocal: false, internalPolicyLocal: false, stickyMaxAgeSeconds: 0, healthCheckNodePort: 0, endpoints, topology: { nodeName: 'n' } }]]]) });
`;

// The load generator (CPU 0): short connections or one bulk stream.
const loadSrc = `
const net = require('node:net');
const [mode, host, port, a, b] = [process.argv[1], process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
if (mode === 'short') {
  const until = Date.now() + a * 1000; let done = 0, failed = 0; const lat = [];
  const loop = () => { if (Date.now() >= until) return finish(); const t = process.hrtime.bigint();
    const c = net.connect(port, host); let got = false;
    c.on('data', () => { got = true; }); c.on('error', () => { failed++; });
    c.on('close', () => { if (got) { done++; if (lat.length < 2e6) lat.push(Number(process.hrtime.bigint() - t) / 1e6); } loop(); }); };
  let live = b; const finish = () => { if (--live === 0) { lat.sort((x, y) => x - y); console.log(JSON.stringify({ rate: done / a, failed, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)] })); } };
  for (let i = 0; i < b; i++) loop();
} else {
  const total = a * 1024 * 1024; const chunk = Buffer.alloc(64 * 1024, 7); let sent = 0; const t0 = process.hrtime.bigint();
  const c = net.connect(port, host, () => { const pump = () => { while (sent < total) { sent += chunk.length; if (!c.write(chunk)) return c.once('drain', pump); } c.end(); }; pump(); });
  c.on('close', () => { const s = Number(process.hrtime.bigint() - t0) / 1e9; console.log(JSON.stringify({ mbps: a / s })); });
}
`;

function load(mode: 'short' | 'bulk', host: string, port: number, netns?: string): Record<string, number> {
  const inner = [process.execPath, '-e', loadSrc, mode, host, String(port), ...(mode === 'short' ? [String(seconds), String(concurrency)] : [String(megabytes), '0'])];
  const argv = on(0, netns ? ['nsenter', `--net=/run/netns/${netns}`, ...inner] : inner);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 300_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop() || '{}');
}

async function main(): Promise<void> {
  if (spawnSync('haproxy', ['-v']).error) {
    console.error('bench/userspace: haproxy is missing — apt-get install -y haproxy');
    process.exit(1);
  }
  console.log(`bench/userspace: ${os.cpus().length} CPUs${pinned ? ' (load on CPU 0; proxies and backends on CPU 1)' : ''}; short: ${concurrency} loops × ${seconds} s; bulk: ${megabytes} MB; ${rounds} rounds\n`);
  const reply = [await freePort(), await freePort()];
  const sink = [await freePort(), await freePort()];
  for (const p of reply) start([process.execPath, '-e', backendSrc, 'reply', String(p)]);
  for (const p of sink) start([process.execPath, '-e', backendSrc, 'sink', String(p)]);
  const [usShort, usBulk, haShort, haBulk] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // Bundled as `npm run build` bundles podpath (esbuild, no TypeScript loader at run time).
  const proxyTs = path.join(dir, 'proxy.ts');
  const proxyFile = path.join(dir, 'proxy.mjs');
  fs.writeFileSync(proxyTs, proxySrc);
  buildSync({ entryPoints: [proxyTs], outfile: proxyFile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' });
  start([process.execPath, proxyFile, '127.0.0.70', String(usShort), ...reply.map((p) => `127.0.0.1:${p}`)]);
  start([process.execPath, proxyFile, '127.0.0.71', String(usBulk), ...sink.map((p) => `127.0.0.1:${p}`)]);
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    cfg,
    `global\n  maxconn 4000\n  nbthread 1\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n` +
      `listen short\n  bind 127.0.0.72:${haShort}\n  balance roundrobin\n${reply.map((p, i) => `  server r${i} 127.0.0.1:${p}\n`).join('')}` +
      `listen bulk\n  bind 127.0.0.73:${haBulk}\n  balance roundrobin\n${sink.map((p, i) => `  server s${i} 127.0.0.1:${p}\n`).join('')}`,
  );
  start(['haproxy', '-db', '-f', cfg]);
  await sleep(2500);
  const fmt = (r: Record<string, number>) => (r.rate !== undefined ? `${r.rate.toFixed(0).padStart(6)} conn/s  p50 ${r.p50?.toFixed(2)} ms  p99 ${r.p99?.toFixed(2)} ms  failed ${r.failed}` : `${r.mbps?.toFixed(0).padStart(6)} MB/s`);
  const rows: [string, () => Record<string, number>][] = [
    ['direct short', () => load('short', '127.0.0.1', reply[0]!)],
    ['haproxy short', () => load('short', '127.0.0.72', haShort)],
    ['userspace short', () => load('short', '127.0.0.70', usShort)],
    ['direct bulk', () => load('bulk', '127.0.0.1', sink[0]!)],
    ['haproxy bulk', () => load('bulk', '127.0.0.73', haBulk)],
    ['userspace bulk', () => load('bulk', '127.0.0.71', usBulk)],
  ];
  // The kernel's path: its own namespace (torn down at exit), backends inside it, and the
  // DNAT kube-proxy's nftables mode writes: numgen random mod 2 over the two backends.
  const isRoot = process.getuid?.() === 0;
  const netns = `ppb-us-${process.pid}`;
  if (isRoot && !spawnSync('nft', ['--version']).error) {
    const sh = (argv: string[]) => {
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    };
    sh(['ip', 'netns', 'add', netns]);
    process.on('exit', () => spawnSync('ip', ['netns', 'del', netns]));
    sh(['ip', 'netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
    const [kr, ks] = [reply.map((p) => p + 1), sink.map((p) => p + 1)];
    for (const p of kr) start(['nsenter', `--net=/run/netns/${netns}`, process.execPath, '-e', backendSrc, 'reply', String(p)]);
    for (const p of ks) start(['nsenter', `--net=/run/netns/${netns}`, process.execPath, '-e', backendSrc, 'sink', String(p)]);
    const dnat = (vip: string, ports: number[]) => `ip daddr ${vip} tcp dport 80 dnat to numgen random mod 2 map { 0 : 127.0.0.1 . ${ports[0]}, 1 : 127.0.0.1 . ${ports[1]} }`;
    const nftText = `table ip bench {\n  chain output { type nat hook output priority -100; ${dnat('127.0.0.80', kr)}; ${dnat('127.0.0.81', ks)}; }\n}\n`;
    const r = spawnSync('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], { input: nftText, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`nft: ${r.stderr}`);
    await sleep(1000);
    rows.push(['nft DNAT short', () => load('short', '127.0.0.80', 80, netns)], ['nft DNAT bulk', () => load('bulk', '127.0.0.81', 80, netns)]);
  } else console.log('(not root, or no nft: the kernel DNAT rows are left out)');
  // The machine's speed drifts between seconds; so every row is measured in each of --rounds
  // rounds, one after another, and each ratio is taken within a round (paired), then the median.
  const runs: Record<string, Record<string, number>[]> = {};
  for (let round = 1; round <= rounds; round++) {
    for (const [name, run] of rows) {
      const r = run();
      (runs[name] ??= []).push(r);
      console.log(`${`round ${round}`.padEnd(8)} ${name.padEnd(18)} ${fmt(r)}`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  const metric = (name: string) => (name.endsWith('short') ? 'rate' : 'mbps');
  console.log('\nmedians:');
  for (const [name] of rows) {
    const rs = runs[name]!;
    const m: Record<string, number> = {};
    for (const k of Object.keys(rs[0]!)) m[k] = median(rs.map((r) => r[k]!));
    console.log(`${name.padEnd(18)} ${fmt(m)}`);
  }
  const paired = (a: string, b: string) => {
    const xs = runs[a]!.map((r, i) => (r[metric(a)]! / runs[b]![i]![metric(b)]!) * 100);
    return `${median(xs).toFixed(0)}% (rounds: ${xs.map((x) => x.toFixed(0)).join(', ')})`;
  };
  console.log('');
  if (runs['nft DNAT short']) console.log(`userspace vs the kernel's DNAT: short connections ${paired('userspace short', 'nft DNAT short')}, bulk ${paired('userspace bulk', 'nft DNAT bulk')}`);
  console.log(`userspace vs HAProxy: short connections ${paired('userspace short', 'haproxy short')} (aim ≥ 50%), bulk ${paired('userspace bulk', 'haproxy bulk')} (aim ≥ 80%)`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
