// The pod network's backends in a real lab, each against the same pods on one node (the limit):
//   throughput   one TCP stream, pod to pod, for --seconds (bytes the receiver counted)
//   connections  TCP connections opened and closed one after another for --seconds, pod to pod
//   join         from a new node's Node Ready (`podpath node add`) to a route to its pod CIDR on
//                every other node: flannel's host-gw route, its VXLAN route/FDB entry, or the
//                route BIRD learned over BGP
// per backend (host-gw, vxlan, bgp): VXLAN's encapsulation against the routed paths. Root only;
// builds a 2-node lab (named ppb…) per backend and removes it.
//   npm run build && node --import tsx bench/cni.ts [--backends host-gw,vxlan,bgp] [--seconds 5] [--runs 3]
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pod } from '../src/api/types.ts';
import { Client, loadConfig } from '../src/client/client.ts';
import { sandboxName } from '../src/agent/sandbox.ts';
import { addNode } from '../src/lab/nodes.ts';
import { nodeName, readState } from '../src/lab/lab.ts';
import { podpathBin } from '../test/helpers/apiserver.ts';
import { arg, sleep } from './common.ts';

const backends = arg('backends', 'host-gw,vxlan,bgp').split(',');
const seconds = Number(arg('seconds', '5'));
const runs = Number(arg('runs', '3'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const podsYaml = (lab: string) =>
  [
    ['server', nodeName(lab, 0)],
    ['same', nodeName(lab, 0)],
    ['cross', nodeName(lab, 1)],
  ]
    .map(([name, node]) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  nodeName: ${node}\n  containers:\n  - {name: web, image: podpath/echo, ports: [{containerPort: 8080}]}\n`)
    .join('---\n');

const inNetns = (netns: string, script: string) => ['nsenter', `--net=/run/netns/${netns}`, process.execPath, '-e', script];

/** Bytes per second of one TCP stream from `fromNetns` to a sink in `toNetns` at `ip`. */
async function throughput(fromNetns: string, toNetns: string, ip: string): Promise<number> {
  const sinkScript = `const net=require('net');let n=0,t0=0;const srv=net.createServer(s=>{t0=process.hrtime.bigint();s.on('data',d=>n+=d.length);s.on('end',()=>{console.log(JSON.stringify({bytes:n,s:Number(process.hrtime.bigint()-t0)/1e9}));process.exit(0);});});srv.listen(5201,'${ip}',()=>console.error('listening'));setTimeout(()=>process.exit(2),${(seconds + 20) * 1000});`;
  const sink = spawn(inNetns(toNetns, sinkScript)[0]!, inNetns(toNetns, sinkScript).slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  sink.stdout.on('data', (d) => (out += d));
  await new Promise<void>((r) => sink.stderr.once('data', () => r()));
  const sendScript = `const net=require('net');const buf=Buffer.alloc(1<<20);const s=net.connect(5201,'${ip}',()=>{const end=Date.now()+${seconds * 1000};const pump=()=>{while(Date.now()<end){if(!s.write(buf))return s.once('drain',pump);}s.end();};pump();});s.on('error',e=>{console.error(e.message);process.exit(1);});`;
  const r = spawnSync(inNetns(fromNetns, sendScript)[0]!, inNetns(fromNetns, sendScript).slice(1), { encoding: 'utf8', timeout: (seconds + 20) * 1000 });
  if (r.status !== 0) throw new Error(`sender failed: ${r.stderr}`);
  await new Promise((r2) => sink.once('exit', r2));
  const j = JSON.parse(out) as { bytes: number; s: number };
  return j.bytes / j.s;
}

/** TCP connections per second, one after another, from `fromNetns` to `ip`:8080. */
function connectionRate(fromNetns: string, ip: string): number {
  const script = `const net=require('net');let n=0;const end=Date.now()+${seconds * 1000};const t0=process.hrtime.bigint();
function one(){if(Date.now()>=end){console.log(JSON.stringify({n,s:Number(process.hrtime.bigint()-t0)/1e9}));return;}const s=net.connect(8080,'${ip}');s.once('connect',()=>{n++;s.destroy();setImmediate(one);});s.once('error',e=>{console.error(e.message);process.exit(1);});}
one();`;
  const r = spawnSync(inNetns(fromNetns, script)[0]!, inNetns(fromNetns, script).slice(1), { encoding: 'utf8', timeout: (seconds + 20) * 1000 });
  if (r.status !== 0) throw new Error(`connect test failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { n: number; s: number };
  return j.n / j.s;
}

/** Milliseconds from the new node Ready to a route to its pod CIDR in every other node. */
async function joinTime(lab: string, client: Client): Promise<number> {
  const { node, readyAt } = await addNode(lab, 90_000);
  const cidr = (await client.get<{ spec: { podCIDR: string } }>(`/api/v1/nodes/${node.name}`)).spec.podCIDR;
  const others = readState(lab)!.nodes.filter((n) => n.name !== node.name);
  for (;;) {
    const have = others.every((n) => spawnSync('ip', ['-n', n.netns, 'route', 'show', cidr], { encoding: 'utf8' }).stdout.includes('via'));
    if (have) return Date.now() - readyAt;
    if (Date.now() - readyAt > 60_000) throw new Error(`no route to ${cidr} on every node after 60 s`);
    await sleep(20);
  }
}

async function bench(backend: string): Promise<{ same: [number, number]; cross: [number, number]; join: number[] }> {
  const name = `ppb${randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podpath-bench-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  const manifest = path.join(dir, 'pods.yaml');
  fs.writeFileSync(manifest, podsYaml(name));
  const podpath = (args: string[]) => spawnSync(process.execPath, [podpathBin, ...args], { encoding: 'utf8', timeout: 300_000 });
  const up = podpath(['up', '--name', name, '--nodes', '2', '--cni-backend', backend, '--no-dns', '--no-netpol', '--no-ingress', '--kubeconfig', kubeconfig, '-f', manifest]);
  try {
    if (up.status !== 0) throw new Error(`podpath up failed:\n${up.stdout}\n${up.stderr}`);
    const s = readState(name)!;
    const client = new Client(loadConfig(kubeconfig));
    try {
      const pods = new Map((await client.get<{ items: Pod[] }>('/api/v1/namespaces/default/pods')).items.map((p) => [p.metadata.name!, { ip: p.status!.podIP!, netns: sandboxName(s.podNetnsPrefix, p.metadata.uid!) }]));
      const server = pods.get('server')!;
      const same: number[][] = [[], []];
      const cross: number[][] = [[], []];
      for (let i = 0; i < runs; i++) {
        // interleaved, so drift on the shared machine touches both alike
        same[0]!.push(await throughput(pods.get('same')!.netns, server.netns, server.ip));
        cross[0]!.push(await throughput(pods.get('cross')!.netns, server.netns, server.ip));
        same[1]!.push(connectionRate(pods.get('same')!.netns, server.ip));
        cross[1]!.push(connectionRate(pods.get('cross')!.netns, server.ip));
      }
      const join: number[] = [];
      for (let i = 0; i < Math.min(runs, 3); i++) join.push(await joinTime(name, client));
      return { same: [median(same[0]!), median(same[1]!)], cross: [median(cross[0]!), median(cross[1]!)], join };
    } finally {
      client.close();
    }
  } finally {
    podpath(['down', '--name', name]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('bench/cni.ts builds labs and needs root');
    process.exit(1);
  }
  console.log(`pod-to-pod, one TCP stream and sequential connections for ${seconds} s each, median of ${runs}; join: node add, Ready to routed on every other node`);
  console.log('backend   same-node Gbit/s  cross-node Gbit/s (of same)  same-node conn/s  cross-node conn/s (of same)  join ms');
  for (const b of backends) {
    const r = await bench(b);
    const gbit = (x: number) => ((x * 8) / 1e9).toFixed(2);
    const pctOf = (x: number, ref: number) => `${Math.round((100 * x) / ref)}%`;
    console.log(
      `${b.padEnd(9)} ${gbit(r.same[0]).padStart(16)}  ${`${gbit(r.cross[0])} (${pctOf(r.cross[0], r.same[0])})`.padStart(27)}  ${r.same[1].toFixed(0).padStart(16)}  ${`${r.cross[1].toFixed(0)} (${pctOf(r.cross[1], r.same[1])})`.padStart(27)}  ${r.join.join(', ')}`,
    );
  }
}

await main();
