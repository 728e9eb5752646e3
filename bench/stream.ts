// Streaming benchmark, in a lab of its own: `kubectl exec POD -- true` latency (the whole
// command: kubectl's start, the upgrade through the API server, the agent running `true` in the
// pod's namespace), and `kubectl port-forward` requests per second against the same pod reached
// directly from the host through the lab's tunnel (`podpath service --url` to a NodePort: the limit),
// small requests (kept-alive, and a connection each) and throughput (a pod answering every GET
// with an 8 MiB body).
// Beside exec, the floors no server can go under: kubectl's own start (`kubectl version --client`)
// and its cheapest round trip (`kubectl get --raw /healthz`); and the servers' part alone, an exec
// over WebSocket (v5.channel.k8s.io) from this process: the connection, the upgrade through the
// API server to the agent, `true` run in the container, the status and the close frame.
// Root only.
// For each port-forward run, the CPU per request (or per MB) of every process (podpath's by subcommand; the
// load generator is this bench, "node").
//   node --import tsx bench/stream.ts [--calls 30] [--seconds 5] [--rounds 3] [--concurrency 10] [--parts exec,requests,throughput]
// (--seconds of each side in --rounds alternating turns, port-forward then direct: a drift in the
// machine's speed falls on both sides alike, not on one.)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { loadConfig } from '../src/client/client.ts';
import { sysctlIn } from '../src/exec/netns.ts';
import { arg, cpuByPlace, cpuSnapshot } from './common.ts';

const calls = Number(arg('calls', '30'));
const seconds = Number(arg('seconds', '5'));
const rounds = Math.max(1, Number(arg('rounds', '3')));
const concurrency = Number(arg('concurrency', '10'));
const parts = new Set(arg('parts', 'exec,requests,throughput').split(','));
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const podpath = path.join(root, 'bin/podpath.js');
const name = `ppb${randomBytes(3).toString('hex')}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ppb-stream-'));
const kubeconfig = path.join(dir, 'kubeconfig');
const kubectls = [
  ['1.32', process.env.PODPATH_KUBECTL ?? '/usr/bin/kubectl'],
  ['1.20', process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(root, '.cache/kubernetes-client/usr/bin/kubectl')],
].filter(([, bin]) => fs.existsSync(bin!)) as [string, string][];
const env = { ...process.env, HOME: dir, KUBECONFIG: kubeconfig };
/** the body the bulk pod answers every GET with */
const bulkBytes = 8 << 20;
const children: ChildProcess[] = [];

const manifest = `apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers: [{name: main, image: podpath/echo, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 8080, targetPort: 8080, nodePort: 30088}]
---
apiVersion: v1
kind: Pod
metadata: {name: bulk, labels: {app: bulk}}
spec:
  containers:
  - name: main
    image: node:20
    command: [node, -e, "const b = Buffer.alloc(${bulkBytes}, 120); require('node:http').createServer((q, s) => s.end(b)).listen(8090)"]
    ports: [{containerPort: 8090}]
---
apiVersion: v1
kind: Service
metadata: {name: bulk}
spec:
  type: NodePort
  selector: {app: bulk}
  ports: [{port: 8090, targetPort: 8090, nodePort: 30089}]
`;

function waitFor(child: ChildProcess, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`no ${re} in ${out}`)), 30_000);
    const on = (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
  });
}

/** `podpath service NAME --url`: the 127.0.0.1 URL of the tunnel to its NodePort. */
async function tunnelTo(svc: string): Promise<string> {
  const tunnel = spawn(process.execPath, [podpath, 'service', svc, '--name', name, '--url'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(tunnel);
  return (await waitFor(tunnel, /(http:\/\/127\.0\.0\.1:\d+)/))[1]!;
}

/** `kubectl port-forward pod/POD :PORT` running, and the local port it chose. */
async function portForward(bin: string, pod: string, port: number): Promise<{ pf: ChildProcess; port: string }> {
  const pf = spawn(bin, ['port-forward', `pod/${pod}`, `:${port}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(pf);
  return { pf, port: (await waitFor(pf, /Forwarding from 127\.0\.0\.1:(\d+)/))[1]! };
}

/** One side of a comparison: its work (requests, or MB), seconds, and each process's CPU-seconds, summed over its turns. */
interface Side {
  units: number;
  s: number;
  cpu: Map<string, number>;
}

/** `a` and `b` in `rounds` alternating turns of seconds/rounds each. */
async function paired(a: (secs: number) => Promise<{ units: number; s: number }>, b: (secs: number) => Promise<{ units: number; s: number }>): Promise<[Side, Side]> {
  const sides: [Side, Side] = [
    { units: 0, s: 0, cpu: new Map() },
    { units: 0, s: 0, cpu: new Map() },
  ];
  for (let i = 0; i < rounds; i++) {
    for (const [side, run] of [
      [sides[0], a],
      [sides[1], b],
    ] as const) {
      const c0 = cpuSnapshot();
      const r = await run(seconds / rounds);
      for (const [who, sec] of cpuByPlace(c0, cpuSnapshot(), new Map())) side.cpu.set(who, (side.cpu.get(who) ?? 0) + sec);
      side.units += r.units;
      side.s += r.s;
    }
  }
  return sides;
}

/** Each process's CPU per unit of a side's work (`scale`: CPU-seconds to the unit printed), largest first. */
function cpuPer(side: Side, scale: number): string {
  return [...side.cpu]
    .sort((p, q) => q[1] - p[1])
    .filter(([, sec]) => sec >= 0.05)
    .map(([who, sec]) => `${who.replace(/^other /, '')} ${((sec * scale) / side.units).toFixed(scale >= 1e6 ? 0 : 1)}`)
    .join(', ');
}

/** GET /health for `secs` from `concurrency` loops: the requests made. */
async function load(url: string, keepAlive: boolean, secs: number): Promise<{ units: number; s: number }> {
  const agent = new http.Agent({ keepAlive, maxSockets: concurrency });
  const t0 = performance.now();
  const end = Date.now() + secs * 1000;
  let n = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      http
        // A connection per request is closed by the client once the answer is in, as curl's is. With
        // `Connection: close` the pod would close first and keep each connection in TIME_WAIT; the
        // direct path's masqueraded connections then meet those on their random source ports, and
        // the pod's kernel refuses them (PAWS) until their SYN is sent again a second later.
        .get(url, { agent, headers: { Connection: 'keep-alive' } }, (res) => {
          res.resume();
          res.on('end', () => {
            // (without keep-alive the agent destroys the socket once it is free: the client's FIN)
            if (res.statusCode === 200) resolve();
            else reject(new Error(`status ${res.statusCode}`));
          });
        })
        .on('error', reject);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        await one();
        n++;
      }
    }),
  );
  agent.destroy();
  return { units: n, s: (performance.now() - t0) / 1000 };
}

/** GETs of the bulk pod's body for `secs` over `streams` kept-alive connections: the MB received. */
async function bulk(url: string, secs: number, streams = 2): Promise<{ units: number; s: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: streams });
  const end = Date.now() + secs * 1000;
  let bytes = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      http
        .get(url, { agent }, (res) => {
          res.on('data', (d: Buffer) => (bytes += d.length));
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        })
        .on('error', reject);
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async () => {
      while (Date.now() < end) await one();
    }),
  );
  agent.destroy();
  return { units: bytes / 1e6, s: (performance.now() - t0) / 1000 };
}

/** An exec of `true` over WebSocket straight from here; the time until the server's close frame. */
function wsExec(): Promise<number> {
  const c = loadConfig(kubeconfig);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const url = `${c.server.replace(/^https/, 'wss')}/api/v1/namespaces/default/pods/web/exec?command=true&container=main&stdout=true&stderr=true`;
    const ws = new WebSocket(url, ['v5.channel.k8s.io'], { headers: { Authorization: `Bearer ${c.token}` }, ...(c.ca ? { ca: c.ca } : {}) });
    let status = '';
    ws.on('message', (d: Buffer) => {
      if (d[0] === 3) status = d.subarray(1).toString();
    });
    ws.on('close', (code) => (code === 1000 && status.includes('"Success"') ? resolve(performance.now() - t0) : reject(new Error(`exec over WebSocket: close ${code}, status ${status}`))));
    ws.on('error', reject);
  });
}

/** `calls` runs of argv, each timed whole; it must succeed. */
function timed(bin: string, argv: string[]): number[] {
  const ms: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const r = spawnSync(bin, argv, { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`kubectl ${argv.join(' ')}: ${r.stderr}`);
    ms.push(performance.now() - t0);
  }
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

try {
  fs.writeFileSync(path.join(dir, 'web.yaml'), manifest);
  const up = spawnSync(process.execPath, [podpath, 'up', '--name', name, '--kubeconfig', kubeconfig, '--no-netpol', '--no-dns', '--no-ingress', '--no-gateway', '-f', path.join(dir, 'web.yaml')], { encoding: 'utf8' });
  if (up.status !== 0) throw new Error(`podpath up: ${up.stderr}`);
  // The direct path's tunnel connects from the node's namespace to the one NodePort, and (the
  // client closing each connection) keeps each of its ports in TIME_WAIT for a minute: past some
  // 20,000 connections it runs out of ports and the reference collapses (2,000 connections/s
  // becoming a few hundred), while port-forward's agent reaches the pod over loopback, where the
  // kernel reuses such ports by default. The bench's node reuses them too.
  sysctlIn(`pp-${name}-n1`, 'net.ipv4.tcp_tw_reuse', '1');
  const server: number[] = [];
  for (let i = 0; i < (parts.has('exec') ? calls : 0); i++) server.push(await wsExec());
  const figures = (xs: number[]) => `median ${median(xs).toFixed(0)} ms, p90 ${pct(xs, 0.9).toFixed(0)} ms`;
  if (parts.has('exec')) console.log(`exec over WebSocket from this process (the servers' part): ${figures(server)} (${calls} calls)`);
  for (const [version, bin] of parts.has('exec') ? kubectls : []) {
    spawnSync(bin, ['exec', 'web', '--', 'true'], { env }); // discovery cache
    const start = timed(bin, ['version', '--client']);
    const healthz = timed(bin, ['get', '--raw', '/healthz']);
    const exec = timed(bin, ['exec', 'web', '--', 'true']);
    console.log(`kubectl ${version}: version --client ${figures(start)}; get --raw /healthz ${figures(healthz)}`);
    console.log(`kubectl ${version} exec web -- true: ${figures(exec)} (${calls} calls; the aim is under 150 ms)`);
  }
  const direct = await tunnelTo('web');
  for (const [version, bin] of parts.has('requests') ? kubectls : []) {
    const { pf, port } = await portForward(bin, 'web', 8080);
    for (const keepAlive of [true, false]) {
      const how = keepAlive ? 'kept-alive connections' : 'a connection per request';
      const [viaPf, viaTunnel] = await paired((secs) => load(`http://127.0.0.1:${port}/health`, keepAlive, secs), (secs) => load(`${direct}/health`, keepAlive, secs));
      const rps = (x: Side) => x.units / x.s;
      console.log(`kubectl ${version} port-forward, ${concurrency} x ${how}: ${rps(viaPf).toFixed(0)} req/s; direct through the tunnel ${rps(viaTunnel).toFixed(0)} req/s (${((100 * rps(viaPf)) / rps(viaTunnel)).toFixed(0)}%; the aim is 50%)`);
      console.log(`  CPU per request, µs: port-forward ${cpuPer(viaPf, 1e6)}; direct ${cpuPer(viaTunnel, 1e6)}`);
    }
    pf.kill();
  }
  // throughput: the same, for a large body
  const bulkDirect = await tunnelTo('bulk');
  for (const [version, bin] of parts.has('throughput') ? kubectls : []) {
    const { pf, port } = await portForward(bin, 'bulk', 8090);
    const [viaPf, viaTunnel] = await paired((secs) => bulk(`http://127.0.0.1:${port}/`, secs), (secs) => bulk(`${bulkDirect}/`, secs));
    const mbps = (x: Side) => x.units / x.s;
    console.log(`kubectl ${version} port-forward, throughput (${bulkBytes >> 20} MiB bodies, 2 kept-alive connections): ${mbps(viaPf).toFixed(0)} MB/s; direct through the tunnel ${mbps(viaTunnel).toFixed(0)} MB/s (${((100 * mbps(viaPf)) / mbps(viaTunnel)).toFixed(0)}%; the aim is 50%)`);
    console.log(`  CPU per MB, ms: port-forward ${cpuPer(viaPf, 1e3)}; direct ${cpuPer(viaTunnel, 1e3)}`);
    pf.kill();
  }
} finally {
  for (const c of children) if (c.exitCode === null) c.kill();
  spawnSync(process.execPath, [podpath, 'down', '--name', name]);
  fs.rmSync(dir, { recursive: true, force: true });
}
