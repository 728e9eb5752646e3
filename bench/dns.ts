// The cluster DNS under dnsperf (Debian's dnsperf), on 127.0.0.1, with references measured in
// the same run:
//   node-udp    the least a Node.js UDP server can do: each query echoed back as an answer
//               (the ceiling for any Node DNS server on this machine)
//   upstream    the fake upstream resolver itself (what forwarding can at best reach)
// and the anchor, CoreDNS at ~33.7k internal QPS on 2 vCPUs (Scaling_CoreDNS.md).
// Workloads against `podpath dns serve` with --services Services (plus examples/dns):
//   internal    A queries for Service FQDNs
//   search      what a pod's resolver sends for "svcN.bench" from namespace default with the
//               ndots:5 search path: svcN.bench.default.svc.cluster.local (NXDOMAIN), then
//               svcN.bench.svc.cluster.local (the answer); figures are per query
//   forwarded   A queries for names outside the zone, forwarded to the upstream (and cached 30 s)
// Each: the most queries per second dnsperf gets answered (-c 4 -q 500), then the latency
// distribution (p50/p99 from dnsperf -v) at a fixed rate (--rate, default 60000/s), after a
// warm-up run. With two or more CPUs, dnsperf runs on CPU 0 and the servers on CPU 1 (taskset),
// so that the load generator and the server under test do not take turns on one core.
// No root needed.
//   npm run build && node --import tsx bench/dns.ts [--services 1000] [--seconds 10] [--rate 60000]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { podpathBin, repoRoot } from '../test/helpers/apiserver.ts';
import { arg, freePort, on, pinned, scratch, sleep } from './common.ts';

const services = Number(arg('services', '1000'));
const seconds = Number(arg('seconds', '10'));
const rate = Number(arg('rate', '60000'));

if (spawnSync('dnsperf', ['-h']).error) {
  console.error('bench/dns: dnsperf is missing — apt-get install -y dnsperf');
  process.exit(1);
}

const { dir, start } = scratch('podpath-bench-dns-');

// A minimal UDP responder in its own process: the reference for "Node's own cost per datagram".
// With `answer` it appends one A record (a fake upstream resolver); without, it echoes the query
// back flagged as a response.
const responder = (answer: boolean) => `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
const rr = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 53]);
s.on('message', (m, r) => {
  let p = 12; while (p < m.length && m[p]) p += m[p] + 1; p += 5;
  const out = ${answer} ? Buffer.concat([m.subarray(0, p), rr]) : Buffer.from(m);
  out[2] |= 0x84; out[3] = 0x80; ${answer ? 'out.writeUInt16BE(1, 6); out.writeUInt16BE(0, 10);' : ''}
  s.send(out, r.port, r.address);
});
s.bind(Number(process.argv[1]), '127.0.0.1');
`;

async function startResponder(answer: boolean): Promise<number> {
  const port = await freePort();
  start([process.execPath, '-e', responder(answer), String(port)]);
  await sleep(300);
  return port;
}

function writeState(): string {
  const f = path.join(dir, 'state.yaml');
  const docs: string[] = ['apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}'];
  for (let i = 0; i < services; i++) {
    const ip = `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    docs.push(`apiVersion: v1\nkind: Service\nmetadata: {name: svc${i}, namespace: bench}\nspec: {clusterIP: ${ip}, ports: [{name: http, port: 80}]}`);
  }
  fs.writeFileSync(f, docs.join('\n---\n') + '\n');
  return f;
}

function dataFile(name: string, lines: string[]): string {
  const f = path.join(dir, `${name}.txt`);
  fs.writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

interface Run {
  qps: number;
  lost: number;
  completed: number;
  avgMs: number;
}

function dnsperf(port: number, data: string, extra: string[], verbose = false): { run: Run; latencies: number[] } {
  const argv = on(0, ['dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', data, '-l', String(seconds), ...extra, ...(verbose ? ['-v'] : [])]);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 30 });
  const num = (re: RegExp) => Number(re.exec(r.stdout)?.[1] ?? NaN);
  const latencies: number[] = [];
  if (verbose) for (const m of r.stdout.matchAll(/^> \w+ \S+ \S+ ([\d.]+)$/gm)) latencies.push(Number(m[1]) * 1000);
  return {
    run: { qps: num(/Queries per second:\s+([\d.]+)/), lost: num(/Queries lost:\s+(\d+)/), completed: num(/Queries completed:\s+(\d+)/), avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000 },
    latencies,
  };
}

const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]! : NaN);
const max = ['-c', '4', '-T', pinned ? '1' : '2', '-q', '500'];

function measure(label: string, port: number, data: string): void {
  // Warm the caches (answers, forwarded names), then the peak, then latency at a fixed rate.
  dnsperf(port, data, ['-l', '2', ...max]);
  const peak = dnsperf(port, data, max).run;
  const fixed = dnsperf(port, data, ['-c', '2', '-T', '1', '-q', '300', '-Q', String(rate)], true);
  console.log(
    `${label.padEnd(26)} peak ${peak.qps.toFixed(0).padStart(6)} q/s (lost ${peak.lost}, avg ${peak.avgMs.toFixed(2)} ms)   at ${rate}/s: ${fixed.run.qps.toFixed(0)} q/s, lost ${fixed.run.lost}, p50 ${pct(fixed.latencies, 0.5).toFixed(3)} ms, p99 ${pct(fixed.latencies, 0.99).toFixed(3)} ms`,
  );
}

async function main(): Promise<void> {
  console.log(`bench/dns: ${os.cpus().length} CPUs${pinned ? ' (dnsperf on CPU 0, servers on CPU 1)' : ''}, ${services} Services, dnsperf ${seconds} s per run\n`);
  const echo = await startResponder(false);
  const upstream = await startResponder(true);
  const state = writeState();
  const port = await freePort();
  const dnsArgv = [process.execPath, podpathBin, 'dns', 'serve', '--listen', `127.0.0.1:${port}`, '-f', state, '-f', path.join(repoRoot, 'examples/dns/cluster-state.yaml'), '--upstream', `127.0.0.1:${upstream}`];
  const dns = start(dnsArgv, 'pipe');
  let log = '';
  dns.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 100 && !log.includes('serving'); i++) await sleep(100);
  if (!log.includes('serving')) throw new Error(`dns serve did not start: ${log}`);

  const n = Math.min(services, 1000);
  const internal = dataFile('internal', Array.from({ length: n }, (_, i) => `svc${i}.bench.svc.cluster.local A`));
  const search = dataFile('search', Array.from({ length: n }, (_, i) => [`svc${i}.bench.default.svc.cluster.local A`, `svc${i}.bench.svc.cluster.local A`]).flat());
  const forwarded = dataFile('forwarded', Array.from({ length: n }, (_, i) => `host${i}.example.com A`));

  measure('reference: node-udp echo', echo, internal);
  measure('reference: upstream', upstream, forwarded);
  measure('podpath internal', port, internal);
  measure('podpath search path', port, search);
  measure('podpath forwarded', port, forwarded);
  const rss = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${dns.pid}/status`, 'utf8'))?.[1];
  console.log(`\npodpath dns RSS after the runs: ${(Number(rss) / 1024).toFixed(1)} MB; anchor: CoreDNS ~33.7k internal q/s on 2 vCPUs; aim: >= 60k q/s with p99 < 5 ms`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
