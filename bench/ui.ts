// `podpath ui`, in Debian's Chromium at 1280×800:
//   first render   from opening the page to every Service and pod drawn, offline from a state of
//                  100 Services and 1,000 pods (aim: under 2 s), against seed 001's 2 Services
//                  and 4 pods measured the same way (the reference: the page's fixed cost)
//   scale          with --lab: in a one-node lab running seed 001, from the API server accepting
//                  a scale of the Deployment to the page showing the new pod (aim: under 1 s),
//                  against a watch of pods in this process (the reference: the API's own latency)
//   node --import tsx bench/ui.ts [--runs 3] [--lab] [--scales 3]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { Client } from '../src/client/client.ts';
import { Informer } from '../src/client/informer.ts';
import { labClient } from '../src/lab/access.ts';
import { readState } from '../src/lab/lab.ts';
import { launchBrowser, startUI } from '../test/helpers/ui.ts';
import { arg } from './common.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const podpath = path.join(root, 'bin/podpath.js');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const runs = Number(arg('runs', '3'));

/** Nodes, `services` Services with `pods / services` ready endpoints each, in the lab's address plan. */
function bigState(services: number, pods: number, nodes = 4): string {
  const docs: unknown[] = [];
  for (let n = 0; n < nodes; n++) docs.push({ apiVersion: 'v1', kind: 'Node', metadata: { name: `node-${n}` }, spec: { podCIDR: `10.244.${n}.0/24` }, status: { addresses: [{ type: 'InternalIP', address: `192.168.49.${n + 2}` }], conditions: [{ type: 'Ready', status: 'True' }] } });
  const per = Math.ceil(pods / services);
  for (let s = 0; s < services; s++) {
    const name = `svc-${s}`;
    docs.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { type: s % 10 === 0 ? 'NodePort' : 'ClusterIP', clusterIP: `10.96.${1 + Math.floor(s / 250)}.${(s % 250) + 1}`, selector: { app: name }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP', ...(s % 10 === 0 ? { nodePort: 30000 + s } : {}) }] } });
    const eps = [];
    for (let i = 0; i < per && s * per + i < pods; i++) {
      const k = s * per + i;
      const node = k % nodes;
      const ip = `10.244.${node}.${Math.floor(k / nodes) + 2}`;
      const pod = `${name}-pod-${i}`;
      docs.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: 'default', labels: { app: name } }, spec: { nodeName: `node-${node}`, containers: [{ name: 'app', image: 'podpath/echo', ports: [{ containerPort: 8080 }] }] }, status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] } });
      eps.push({ addresses: [ip], conditions: { ready: true, serving: true, terminating: false }, nodeName: `node-${node}`, targetRef: { kind: 'Pod', namespace: 'default', name: pod } });
    }
    docs.push({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-abcde`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4', ports: [{ name: '', port: 8080, protocol: 'TCP' }], endpoints: eps });
  }
  return docs.map((d) => stringify(d)).join('---\n');
}

async function firstRender(file: string, services: number, pods: number): Promise<number[]> {
  const ui = await startUI(['-f', file]);
  const browser = await launchBrowser();
  const times: number[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const t0 = performance.now();
      await page.goto(ui.url);
      await page.waitForFunction(([s, p]) => document.querySelectorAll('[data-service]').length === s && document.querySelectorAll('[data-pod]').length === p, [services, pods] as const, { polling: 'raf', timeout: 60_000 });
      times.push(performance.now() - t0);
      await page.close();
    }
  } finally {
    await browser.close();
    await ui.stop();
  }
  return times;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ppbench-ui-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const big = path.join(dir, 'big.yaml');
fs.writeFileSync(big, bigState(100, 1000));
const seed = await firstRender(path.join(root, 'examples/trace/seed-001.yaml'), 2, 4);
const large = await firstRender(big, 100, 1000);
const f = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (runs: ${xs.map((x) => x.toFixed(0)).join(', ')})`;
console.log(`first render, seed 001 (2 Services, 4 pods; reference): ${f(seed)}`);
console.log(`first render, 100 Services, 1,000 pods:               ${f(large)}   aim < 2000 ms`);

if (process.argv.includes('--lab')) {
  const name = `uibench${randomBytes(3).toString('hex')}`;
  const up = spawnSync(process.execPath, [podpath, 'up', '--name', name, '-f', path.join(root, 'examples/seed-001'), '--no-dns', '--no-ingress', '--no-gateway', '--kubeconfig', path.join(dir, 'kubeconfig')], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    if (up.status !== 0) throw new Error('podpath up failed');
    const client: Client = labClient(readState(name)!);
    const watch = new Informer(client, 'v1', 'pods', { namespace: 'default' });
    const seen = new Map<string, number>();
    watch.on({ add: (p) => seen.set(p.metadata.name!, performance.now()) });
    watch.start();
    await watch.waitForSync();
    const ui = await startUI(['--name', name]);
    const browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(ui.url);
    await page.waitForSelector('[data-pod^="default/api-server-"]');
    const apiLat: number[] = [];
    const pageLat: number[] = [];
    try {
      for (let i = 0; i < Number(arg('scales', '3')); i++) {
        const want = 3 + i;
        const before = new Set(seen.keys());
        await client.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/api-server/scale', { spec: { replicas: want } }, 'application/merge-patch+json');
        const t0 = performance.now();
        await page.waitForFunction((n) => document.querySelectorAll('[data-pod^="default/api-server-"]').length >= n, want, { polling: 'raf', timeout: 30_000 });
        pageLat.push(performance.now() - t0);
        const added = [...seen].find(([k]) => !before.has(k) && k.startsWith('api-server-'));
        if (added) apiLat.push(added[1] - t0);
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      watch.stop();
      client.close();
      await browser.close();
      await ui.stop();
    }
    console.log(`scale → a watch in this process sees the new pod (reference): ${f(apiLat)}`);
    console.log(`scale → the page shows the new pod:                          ${f(pageLat)}   aim < 1000 ms`);
  } finally {
    spawnSync(process.execPath, [podpath, 'down', '--name', name], { stdio: 'ignore' });
  }
}
