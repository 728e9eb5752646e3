// kube-proxy in a real lab, at growing numbers of Services (each with an EndpointSlice of 10
// endpoints, written through the API server):
//   latency      from an EndpointSlice write (one endpoint removed or restored) to the proxier's
//                log line saying the partial sync that applied it finished
//   connect      TCP connection set-up from the node to a pod through its Service's ClusterIP,
//                against a direct connection to the pod IP (the limit), interleaved
//   floor        (nftables mode) the kernel's own time for the smallest transaction a partial sync
//                can be on this table: a new chain holding one jump, through the same libnftables
//                context, against one holding a rule without a jump. A jump makes the kernel check
//                the whole table for loops at commit (every chain reachable from the base chains),
//                and every partial sync of a Service writes jumps, so that check is a floor no
//                proxy can go under on this kernel.
// Root only; builds its own lab (named ppb…) and removes it.
//   npm run build && node --import tsx bench/proxy-lab.ts [--mode nftables|iptables] [--services 10,10000] [--connects 500] [--changes 10]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EndpointSlice } from '../src/api/types.ts';
import { Client, loadConfig } from '../src/client/client.ts';
import { labPaths, readState } from '../src/lab/lab.ts';
import { NftSession } from '../src/knftables/libnftables.ts';
import { podpathBin } from '../test/helpers/apiserver.ts';
import { benchSlice } from './proxy-state.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
}
const mode = arg('mode', 'nftables');
const sizes = arg('services', '10,10000').split(',').map(Number);
const connects = Number(arg('connects', '500'));
const changes = Number(arg('changes', '10'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

const target = `apiVersion: apps/v1
kind: Deployment
metadata: {name: target}
spec:
  replicas: 1
  selector: {matchLabels: {app: target}}
  template:
    metadata: {labels: {app: target}}
    spec:
      containers:
      - {name: web, image: podpath/echo, ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: target}
spec:
  selector: {app: target}
  ports: [{port: 80, targetPort: 8080}]
`;

/** What kube-proxy logged: its container's log file (CRI format) without each line's timestamp-and-stream prefix. */
function readLog(file: string): string {
  return fs.readFileSync(file, 'utf8').replace(/^\S+ (?:stdout|stderr) [FP] /gm, '');
}

/** Waits until the proxy has logged nothing for 1.5 s plus its last sync's duration (no sync in flight, tokens back). */
async function idle(log: string): Promise<void> {
  for (;;) {
    const text = readLog(log);
    const lastMs = Number(/ in ([\d.]+) ms\n?$/.exec(text)?.[1] ?? 0);
    await sleep(1500 + lastMs);
    if (readLog(log).length === text.length) return;
  }
}

/** Median ms of the kernel taking one new chain with a jump, and one with a counter, in kube-proxy's table (made and removed by netlink). */
function commitFloor(netns: string, runs = 5): { jump: number; plain: number } | { error: string } {
  const s = NftSession.open({ netns });
  if ('error' in s) return s;
  const time = (body: string) => {
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      s.run(`add chain ip kube-proxy pp-bench-floor-to\nadd chain ip kube-proxy pp-bench-floor {\n${body}\n}\n`);
      ms.push(performance.now() - t);
      s.remove('ip', 'kube-proxy', [{ kind: 'chain', name: 'pp-bench-floor' }, { kind: 'chain', name: 'pp-bench-floor-to' }]);
    }
    return pct(ms, 0.5);
  };
  try {
    return { jump: time('jump pp-bench-floor-to'), plain: time('counter') };
  } finally {
    s.close();
  }
}

/** Runs `count` creations with at most 32 in flight. */
async function pool(count: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < count) await fn(next++);
  }));
}

/** Connection set-up times (µs) from the node: direct to the pod and through the ClusterIP, interleaved. */
function connectTimes(netns: string, podIP: string, clusterIP: string, n: number): { direct: number[]; service: number[] } {
  const script = `const net=require('net');const out={direct:[],service:[]};let i=0;
const targets=[['direct','${podIP}',8080],['service','${clusterIP}',80]];
function one(){if(i>=${2 * n}){console.log(JSON.stringify(out));return;}const [k,h,p]=targets[i++%2];const t=process.hrtime.bigint();
const s=net.connect({host:h,port:p});s.once('connect',()=>{out[k].push(Number(process.hrtime.bigint()-t)/1e3);s.destroy();setImmediate(one);});
s.once('error',e=>{console.error(k+': '+e.message);process.exit(1);});s.setTimeout(5000,()=>{console.error(k+': timeout');process.exit(1);});}
one();`;
  const r = spawnSync('nsenter', [`--net=/run/netns/${netns}`, process.execPath, '-e', script], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`connect test failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('bench/proxy-lab.ts builds a lab and needs root');
    process.exit(1);
  }
  const name = `ppb${randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podpath-bench-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  const manifest = path.join(dir, 'target.yaml');
  fs.writeFileSync(manifest, target);
  const podpath = (args: string[]) => spawnSync(process.execPath, [podpathBin, ...args], { encoding: 'utf8', timeout: 300_000 });
  const up = podpath(['up', '--name', name, '--proxy-mode', mode, '--no-gateway', '--kubeconfig', kubeconfig, '-f', manifest]);
  try {
    if (up.status !== 0) throw new Error(`podpath up failed:\n${up.stdout}\n${up.stderr}`);
    const s = readState(name)!;
    const netns = s.nodes[0]!.netns;
    const client = new Client(loadConfig(kubeconfig));
    // kube-proxy runs as the DaemonSet kube-system/kube-proxy: its pod's container log on the node
    const proxyPods = await client.get<{ items: { metadata: { uid: string }; spec: { nodeName: string } }[] }>('/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-proxy');
    const proxyPod = proxyPods.items.find((p) => p.spec.nodeName === s.nodes[0]!.name);
    if (!proxyPod) throw new Error(`no kube-proxy pod on ${s.nodes[0]!.name}`);
    const log = path.join(labPaths(name).node(s.nodes[0]!.name), 'logs', `${proxyPod.metadata.uid}_kube-proxy.log`);
    const svc = await client.get<{ spec: { clusterIP: string } }>('/api/v1/namespaces/default/services/target');
    const podList = await client.get<{ items: { status: { podIP: string } }[] }>('/api/v1/namespaces/default/pods?labelSelector=app%3Dtarget');
    const podIP = podList.items[0]!.status.podIP;
    await client.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
    console.log(`kube-proxy ${mode} mode, lab ${name}; ${connects} connections each way per size, ${changes} one-endpoint changes per size`);
    let have = 0;
    for (const n of sizes) {
      const t0 = performance.now();
      await pool(n - have, async (k) => {
        const i = have + k;
        await client.request('POST', '/api/v1/namespaces/bench/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: 'bench' }, spec: { ports: [{ name: 'http', port: 80 }] } });
        await client.request('POST', '/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices', benchSlice(i, 10));
      });
      const written = performance.now() - t0;
      // All of them in the rules: a sync line with at least n + 2 Services (kubernetes, target).
      const want = n + 2;
      for (let waited = 0; ; waited += 500) {
        const lines = readLog(log).trim().split('\n').filter((l) => l.includes(' synced '));
        const last = lines.at(-1) ?? '';
        if (Number(/synced (\d+) services/.exec(last)?.[1] ?? 0) >= want) break;
        if (waited > 1_800_000) throw new Error(`the proxy did not reach ${want} services within 30 min: ${last}`);
        await sleep(500);
      }
      const converged = performance.now() - t0;
      have = n;
      const c = connectTimes(netns, podIP, svc.spec.clusterIP, connects);
      const latencies: number[] = [];
      const syncMs: number[] = [];
      for (let k = 0; k < changes; k++) {
        await idle(log);
        const before = readLog(log).length;
        const slice: EndpointSlice = benchSlice(0, k % 2 === 0 ? 9 : 10);
        const tw = Date.now();
        await client.request('PATCH', '/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices/svc-0-x', { endpoints: slice.endpoints }, 'application/merge-patch+json');
        for (let waited = 0; ; waited += 5) {
          // The first sync that started after the write and wrote something (not one that only
          // deleted chains an earlier sync flushed).
          const line = readLog(log)
            .slice(before)
            .split('\n')
            .map((l) => ({ l, end: Date.parse(l.slice(0, 24)), ms: Number(/ in ([\d.]+) ms$/.exec(l)?.[1] ?? NaN) }))
            .find((x) => / synced .*\(partial, (?!0 nft)/.test(x.l) && x.end - x.ms >= tw - 2);
          if (line) {
            latencies.push(line.end - tw);
            syncMs.push(line.ms);
            break;
          }
          if (waited > 60_000) throw new Error('no partial sync within 60 s of the EndpointSlice write');
          await sleep(5);
        }
      }
      console.log(`${n} Services (+2): written in ${(written / 1000).toFixed(1)} s, in the rules after ${(converged / 1000).toFixed(1)} s`);
      console.log(`  EndpointSlice write -> rules applied: median ${pct(latencies, 0.5)} ms, max ${Math.max(...latencies)} ms (the sync itself: median ${pct(syncMs, 0.5).toFixed(1)} ms)`);
      const d50 = pct(c.direct, 0.5);
      const s50 = pct(c.service, 0.5);
      if (mode === 'nftables') {
        await idle(log);
        const f = commitFloor(netns);
        if ('error' in f) console.log(`  kernel floor: not measured (${f.error})`);
        else console.log(`  kernel floor: a new chain with one jump committed in ${f.jump.toFixed(1)} ms, one with a counter in ${f.plain.toFixed(1)} ms (median of 5, libnftables context)`);
      }
      console.log(`  connect through the ClusterIP: median ${s50.toFixed(0)} µs, p99 ${pct(c.service, 0.99).toFixed(0)} µs`);
      console.log(`  reference, direct to the pod:  median ${d50.toFixed(0)} µs, p99 ${pct(c.direct, 0.99).toFixed(0)} µs  (ClusterIP is ${(((s50 - d50) / d50) * 100).toFixed(0)}% slower at the median)`);
    }
    client.close();
  } finally {
    podpath(['down', '--name', name]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
