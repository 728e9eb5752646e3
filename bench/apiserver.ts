// API server benchmark: durable writes, list time, watch fan-out, memory; then write
// throughput and acknowledgement stalls with 1, 8 and 32 writers in a large store.
//   node --import tsx bench/apiserver.ts [--objects 10000] [--watchers 50] [--changes 1000] [--concurrency 32]
//       [--store-mb 300] [--seconds 10] [--writers 1,8,32] [--openapi-only]
// Creates N Services and N EndpointSlices, lists them, then fans `changes` updates out to
// `watchers` watches. Reference measured in the same run: the disk's own rate of appending a
// record of the same size and fdatasync'ing it (the limit for one-at-a-time durable writes).
// The second part fills a fresh server with 4 KB ConfigMaps up to --store-mb, then updates
// them for --seconds with each number of writers: writes/s, and the longest time no write was
// acknowledged (compaction used to stop the server for seconds every 64 MB of log).
// The OpenAPI part (first, on its own server; --openapi-only to run just it): the v3 document of
// one group-version served from memory against a GET of /version, and `kubectl explain
// service.spec` against `kubectl get --raw /version` (the same kubectl start-up and connection).
import fs from 'node:fs';
import type { ClientRequest } from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { makeKubectl, startApiServer, type TestApiServer } from '../test/helpers/apiserver.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const N = arg('objects', 10_000);
const WATCHERS = arg('watchers', 50);
const CHANGES = arg('changes', 1_000);
const CONC = arg('concurrency', 32);
const STORE_MB = arg('store-mb', 300);
const SECONDS = arg('seconds', 10);
const WRITERS = (() => {
  const i = process.argv.indexOf('--writers');
  return (i > 0 ? process.argv[i + 1]! : '1,8,32').split(',').map(Number);
})();

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function client(s: TestApiServer) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: CONC + WATCHERS + 4, ca: s.caCert });
  const req = (method: string, p: string, body?: unknown, contentType = 'application/json') =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = https.request({ host: '127.0.0.1', port: s.port, method, path: p, agent, servername: 'localhost', headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': contentType } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      r.on('error', reject);
      if (body !== undefined) r.write(JSON.stringify(body));
      r.end();
    });
  return { agent, req };
}

async function runPool<T>(items: T[], conc: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

function fdatasyncReference(recordBytes: number, count: number): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pptest-bench-'));
  const fd = fs.openSync(path.join(dir, 'log'), 'a');
  const rec = Buffer.alloc(recordBytes, 'x');
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    fs.writeSync(fd, rec);
    fs.fdatasyncSync(fd);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
  return count / secs;
}

async function main() {
  const s = await startApiServer();
  const { agent, req } = client(s);
  try {
    const svc = (i: number) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, labels: { app: `a${i % 100}` } }, spec: { selector: { app: `a${i}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    const slice = (i: number) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `svc-${i}-abcde`, labels: { 'kubernetes.io/service-name': `svc-${i}`, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
      addressType: 'IPv4',
      endpoints: Array.from({ length: 10 }, (_, k) => ({ addresses: [`10.244.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`.replace(/\.(\d+)$/, `.${((i * 10 + k) % 250) + 1}`)], conditions: { ready: true }, nodeName: 'node1' })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    const latencies: number[] = [];
    const ids = Array.from({ length: N }, (_, i) => i);
    const t0 = performance.now();
    await runPool(ids, CONC, async (i) => {
      const a = performance.now();
      const r = await req('POST', '/api/v1/namespaces/default/services', svc(i));
      if (r.status !== 201) throw new Error(`create service ${i}: ${r.status} ${r.body}`);
      latencies.push(performance.now() - a);
    });
    await runPool(ids, CONC, async (i) => {
      const a = performance.now();
      const r = await req('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', slice(i));
      if (r.status !== 201) throw new Error(`create slice ${i}: ${r.status} ${r.body}`);
      latencies.push(performance.now() - a);
    });
    const writeSecs = (performance.now() - t0) / 1000;

    const tl = performance.now();
    const svcList = await req('GET', '/api/v1/namespaces/default/services');
    const listSvcMs = performance.now() - tl;
    const ts = performance.now();
    const sliceList = await req('GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices');
    const listSliceMs = performance.now() - ts;
    const rv = JSON.parse(svcList.body).metadata.resourceVersion as string;
    void sliceList;

    // Watch fan-out: each change stamps the time it was sent; each watcher records when it saw it.
    const sentAt = new Map<string, number>();
    const delivery: number[] = [];
    let received = 0;
    const watchers = await Promise.all(
      Array.from(
        { length: WATCHERS },
        () =>
          new Promise<ClientRequest>((resolve) => {
            const w = https.request(
              { host: '127.0.0.1', port: s.port, path: `/api/v1/namespaces/default/services?watch=true&resourceVersion=${rv}`, agent, servername: 'localhost', headers: { Authorization: `Bearer ${s.token}` } },
              (res) => {
                let buf = '';
                res.on('data', (c: Buffer) => {
                  const now = performance.now();
                  buf += c.toString();
                  let nl;
                  while ((nl = buf.indexOf('\n')) >= 0) {
                    const line = buf.slice(0, nl);
                    buf = buf.slice(nl + 1);
                    const m = /"bench":"(\d+)"/.exec(line);
                    if (m) {
                      delivery.push(now - sentAt.get(m[1]!)!);
                      received++;
                    }
                  }
                });
                resolve(w);
              },
            );
            w.end();
          }),
      ),
    );
    const changes = Array.from({ length: CHANGES }, (_, i) => i);
    const tc = performance.now();
    await runPool(changes, 8, async (i) => {
      sentAt.set(String(i), performance.now());
      const r = await req('PATCH', `/api/v1/namespaces/default/services/svc-${i % N}`, { metadata: { labels: { bench: String(i) } } }, 'application/merge-patch+json');
      if (r.status !== 200) throw new Error(`patch ${i}: ${r.status} ${r.body}`);
    });
    const deadline = Date.now() + 30_000;
    while (received < CHANGES * WATCHERS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const fanoutSecs = (performance.now() - tc) / 1000;
    for (const w of watchers) w.destroy();

    const rss = rssMiB(s.child.pid!);
    const recordBytes = Math.round(Buffer.byteLength(JSON.stringify(slice(1))) * 1.3);
    const ref = fdatasyncReference(recordBytes, 2000);
    const writes = 2 * N;
    const rate = writes / writeSecs;
    console.log(`podpath apiserver benchmark (${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'cpu'})`);
    console.log(`objects: ${N} Services + ${N} EndpointSlices (10 endpoints each), concurrency ${CONC}`);
    console.log(`  durable writes:        ${rate.toFixed(0)} writes/s  (${writes} in ${writeSecs.toFixed(2)} s)`);
    console.log(`  write latency:         p50 ${pct(latencies, 50).toFixed(2)} ms, p99 ${pct(latencies, 99).toFixed(2)} ms`);
    console.log(`  reference (disk):      ${ref.toFixed(0)} append+fdatasync/s of a ${recordBytes}-byte record, one at a time`);
    console.log(`  list ${N} Services:    ${listSvcMs.toFixed(0)} ms (${(svcList.body.length / 1e6).toFixed(1)} MB)`);
    console.log(`  list ${N} slices:      ${listSliceMs.toFixed(0)} ms (${(sliceList.body.length / 1e6).toFixed(1)} MB)`);
    console.log(`  watch fan-out:         ${CHANGES} changes x ${WATCHERS} watchers, ${received} deliveries in ${fanoutSecs.toFixed(2)} s`);
    console.log(`  watch delivery:        p50 ${pct(delivery, 50).toFixed(2)} ms, p99 ${pct(delivery, 99).toFixed(2)} ms (write issued -> event read)`);
    console.log(`  apiserver RSS:         ${rss.toFixed(0)} MiB`);
    if (received < CHANGES * WATCHERS) console.log(`  WARNING: only ${received} of ${CHANGES * WATCHERS} deliveries arrived`);
  } finally {
    agent.destroy();
    await s.dispose();
  }
}

function median(xs: number[]): number {
  return pct(xs, 50);
}

async function timed(n: number, fn: () => Promise<unknown> | unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

/** OpenAPI: a group-version's v3 document and `kubectl explain`, each beside its baseline. */
async function openapiFigures(): Promise<void> {
  const s = await startApiServer();
  const { agent, req } = client(s);
  const kubectl = makeKubectl(s.kubeconfig);
  try {
    const index = JSON.parse((await req('GET', '/openapi/v3')).body) as { paths: Record<string, { serverRelativeURL: string }> };
    const url = index.paths['api/v1']!.serverRelativeURL;
    const size = (await req('GET', url)).body.length;
    const version = await timed(50, async () => req('GET', '/version'));
    const doc = await timed(50, async () => {
      const r = await req('GET', url);
      if (r.status !== 200) throw new Error(`GET ${url}: ${r.status}`);
    });
    const raw = await timed(5, () => kubectl(['get', '--raw', '/version']));
    const explain = await timed(5, () => {
      const r = kubectl(['explain', 'service.spec']);
      if (r.code !== 0) throw new Error(`kubectl explain: ${r.stderr}`);
    });
    console.log('OpenAPI (medians)');
    console.log(`  v3 document api/v1:    ${median(doc).toFixed(2)} ms (${(size / 1e6).toFixed(2)} MB; aim < 20 ms)   baseline GET /version ${median(version).toFixed(2)} ms`);
    console.log(`  kubectl explain service.spec: ${median(explain).toFixed(0)} ms (aim < 300 ms)   baseline kubectl get --raw /version ${median(raw).toFixed(0)} ms`);
  } finally {
    agent.destroy();
    await s.dispose();
  }
}

/** Writes/s and the longest acknowledgement gap, per number of writers, in a store of STORE_MB of 4 KB objects. */
async function writeStalls(): Promise<void> {
  const s = await startApiServer();
  const { agent, req } = client(s);
  try {
    const value = 'x'.repeat(4000);
    const count = Math.max(1, Math.round((STORE_MB * 1024 * 1024) / 4300));
    const cm = (i: number, gen: number) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}` }, data: { v: value, gen: String(gen) } });
    const tf = performance.now();
    await runPool(
      Array.from({ length: count }, (_, i) => i),
      32,
      async (i) => {
        const r = await req('POST', '/api/v1/namespaces/default/configmaps', cm(i, 0));
        if (r.status !== 201) throw new Error(`create configmap ${i}: ${r.status} ${r.body}`);
      },
    );
    console.log(`writes into a store of ${count} ConfigMaps of 4 KB (~${STORE_MB} MB; filled in ${((performance.now() - tf) / 1000).toFixed(1)} s), ${SECONDS} s per row`);
    let gen = 1;
    for (const writers of WRITERS) {
      let done = 0;
      let lastAck = performance.now();
      let longestGap = 0;
      let longestLatency = 0;
      const end = performance.now() + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: writers }, async () => {
          while (performance.now() < end) {
            const i = Math.floor(Math.random() * count);
            const a = performance.now();
            const r = await req('PUT', `/api/v1/namespaces/default/configmaps/cm-${i}`, cm(i, gen++));
            if (r.status !== 200) throw new Error(`update configmap ${i}: ${r.status} ${r.body}`);
            const now = performance.now();
            longestGap = Math.max(longestGap, now - lastAck);
            longestLatency = Math.max(longestLatency, now - a);
            lastAck = now;
            done++;
          }
        }),
      );
      console.log(`  ${String(writers).padStart(2)} writer(s):  ${(done / SECONDS).toFixed(0).padStart(6)} writes/s, longest gap between acknowledgements ${longestGap.toFixed(0)} ms, longest write ${longestLatency.toFixed(0)} ms`);
    }
    console.log(`  apiserver RSS:         ${rssMiB(s.child.pid!).toFixed(0)} MiB`);
  } finally {
    agent.destroy();
    await s.dispose();
  }
}

await openapiFigures();
if (!process.argv.includes('--openapi-only')) {
  await main();
  if (STORE_MB > 0) await writeStalls();
}
