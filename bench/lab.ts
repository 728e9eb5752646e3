// Lab benchmark: time from `podpath up -f examples/seed-001` to nodes Ready, pods Running and
// pods Ready; the same for a 3-node lab with 10 pods; resident memory of every process of the
// lab (RSS, and PSS from smaps_rollup, which shares pages fairly; per kind of process, at pods
// Ready and again --settle seconds later); for the seed, the time to the first successful curl through the NodePort 30080 from the
// client namespace, polled while `podpath up` runs. Root only.
//   npm run build && node --import tsx bench/lab.ts [--runs 3] [--settle 20] [--timeout 300] [--no-netpol]
// (--no-netpol: labs without the NetworkPolicy agent, for comparing with labs from before it.)
// (Build first: with src/ newer than dist/, every lab process runs through tsx, slower and larger.)
// References measured in the same run: starting one podpath process (`podpath --version`, the
// floor under each of the lab's processes), and creating a pod's network by hand (`ip netns add`
// plus the same CNI bridge/host-local ADD the agent runs).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cniAdd, cniDel, nodeConfList } from '../src/agent/cni.ts';
import { readState } from '../src/lab/lab.ts';
import { listNetns, netnsAdd, netnsDel, pidsIn } from '../src/exec/netns.ts';
import { podpathBin, repoRoot } from '../test/helpers/apiserver.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const RUNS = arg('runs', 3);
const SETTLE_MS = arg('settle', 20) * 1000;
// podpath up's own limit (its --timeout): a busy machine still gives memory figures
const TIMEOUT_S = arg('timeout', 300);
const upFlags = process.argv.includes('--no-netpol') ? ['--no-netpol'] : [];

function podpath(args: string[]): { ms: number; out: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [podpathBin, ...args], { encoding: 'utf8', timeout: 300_000 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`podpath ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return { ms, out: r.stdout };
}

/** A process's resident and proportional set sizes in MiB (PSS splits shared pages among their sharers). */
function memMiB(pid: number): { rss: number; pss: number } {
  const kB = (file: string, field: string) => {
    try {
      const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/${file}`, 'utf8'));
      return m ? Number(m[1]) / 1024 : 0;
    } catch {
      return 0;
    }
  };
  return { rss: kB('status', 'VmRSS'), pss: kB('smaps_rollup', 'Pss') };
}

/** What a process is: the lab's name for it, or for a process in a pod its podpath subcommand or program. */
function processLabel(pid: number, daemons: Map<number, string>): string {
  const d = daemons.get(pid);
  if (d) return d.startsWith('agent-') ? 'agent' : d;
  let argv: string[];
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return '?';
  }
  const js = argv.findIndex((a) => a.endsWith('podpath.js'));
  if (js >= 0) {
    const words = argv.slice(js + 1);
    const sub = words.slice(0, words.findIndex((w) => w.startsWith('-')) >>> 0);
    return `podpath ${sub.slice(0, 2).join(' ')}`;
  }
  const m = /^(nginx: \w+)/.exec(argv.join(' '));
  return m ? m[1]! : path.basename(argv[0] ?? '?');
}

interface Mem {
  processes: number;
  rss: number;
  pss: number;
  /** per kind of process: how many, their RSS and PSS */
  byKind: Map<string, { n: number; rss: number; pss: number }>;
}

/** Every process of a lab: its daemons, and whatever runs in its namespaces (pods). */
function labMemory(name: string): Mem {
  const s = readState(name)!;
  const daemons = new Map(Object.entries(s.pids).map(([c, p]) => [p, c] as const));
  const pids = new Set<number>(Object.values(s.pids));
  for (const ns of listNetns().filter((n) => n.startsWith(`pp-${name}-`))) for (const p of pidsIn(ns)) pids.add(p);
  const mem: Mem = { processes: 0, rss: 0, pss: 0, byKind: new Map() };
  for (const p of pids) {
    const m = memMiB(p);
    if (!m.rss) continue;
    const k = processLabel(p, daemons);
    const e = mem.byKind.get(k) ?? { n: 0, rss: 0, pss: 0 };
    mem.byKind.set(k, { n: e.n + 1, rss: e.rss + m.rss, pss: e.pss + m.pss });
    mem.processes++;
    mem.rss += m.rss;
    mem.pss += m.pss;
  }
  return mem;
}

function printMemory(label: string, when: string, mem: Mem): void {
  console.log(`${label}: memory of all lab processes ${when}: RSS ${mem.rss.toFixed(0)} MiB, PSS ${mem.pss.toFixed(0)} MiB in ${mem.processes} processes`);
  for (const [k, e] of [...mem.byKind].sort((a, b) => b[1].rss - a[1].rss)) {
    console.log(`${label}:   ${k.padEnd(28)} ${String(e.n).padStart(2)} × RSS ${(e.rss / e.n).toFixed(1).padStart(6)} MiB, PSS ${(e.pss / e.n).toFixed(1).padStart(6)} MiB  (total RSS ${e.rss.toFixed(0)}, PSS ${e.pss.toFixed(0)})`);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The milestones `podpath up` prints: nodes Ready, pods Running (with IPs), pods Ready. */
function milestones(out: string): { nodes: number; running: number; ready: number } {
  const m = /nodes Ready ([\d.]+) s, pods Running ([\d.]+) s, pods Ready ([\d.]+) s/.exec(out);
  if (!m) throw new Error(`podpath up did not print its milestones:\n${out}`);
  return { nodes: Number(m[1]) * 1000, running: Number(m[2]) * 1000, ready: Number(m[3]) * 1000 };
}

/**
 * `podpath up` in the background while the client namespace polls `url` (bounded: up's timeout and a minute);
 * resolves with up's time and output and the time of the first successful answer.
 */
async function upPolling(args: string[], clientNs: string, url: string | undefined): Promise<{ ms: number; out: string; firstAnswerMs?: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [podpathBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let exit: number | null | undefined;
  let upMs = 0;
  child.on('exit', (code) => {
    exit = code;
    upMs = performance.now() - t0;
  });
  let firstAnswerMs: number | undefined;
  for (let i = 0; i < (TIMEOUT_S + 60) * 20 && (firstAnswerMs === undefined || exit === undefined); i++) {
    if (url && firstAnswerMs === undefined && listNetns().includes(clientNs)) {
      const r = spawnSync('ip', ['netns', 'exec', clientNs, 'curl', '-s', '-o', '/dev/null', '--max-time', '0.5', url]);
      if (r.status === 0) firstAnswerMs = performance.now() - t0;
    }
    if (!url && exit !== undefined) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  while (exit === undefined) await new Promise((res) => setTimeout(res, 50));
  if (exit !== 0) throw new Error(`podpath ${args.join(' ')} failed:\n${out}\n${err}`);
  return { ms: upMs, out, ...(firstAnswerMs !== undefined ? { firstAnswerMs } : {}) };
}

async function scenario(label: string, nodes: number, files: string[], nodePortURL?: string): Promise<void> {
  const up: number[] = [];
  const firstAnswer: number[] = [];
  const steps: { nodes: number; running: number; ready: number }[] = [];
  let mem: Mem | undefined;
  let rest: Mem | undefined;
  for (let run = 0; run < RUNS; run++) {
    const name = `ppb${randomBytes(3).toString('hex')}`;
    const kc = path.join(os.tmpdir(), `${name}.kubeconfig`);
    try {
      const r = await upPolling(['up', '--name', name, '--nodes', String(nodes), '--kubeconfig', kc, '--timeout', String(TIMEOUT_S), ...upFlags, ...files.flatMap((f) => ['-f', f])], `pp-${name}-c`, nodePortURL);
      up.push(r.ms);
      if (r.firstAnswerMs !== undefined) firstAnswer.push(r.firstAnswerMs);
      steps.push(milestones(r.out));
      mem = labMemory(name);
      // and once the lab has been idle a while (start-up garbage collected, caches warm)
      if (run === RUNS - 1) {
        await new Promise((res) => setTimeout(res, SETTLE_MS));
        rest = labMemory(name);
      }
    } finally {
      podpath(['down', '--name', name]);
      fs.rmSync(kc, { force: true });
    }
  }
  const med = (f: (x: (typeof steps)[number]) => number) => (median(steps.map(f)) / 1000).toFixed(2);
  console.log(`${label}: podpath up, wall time until it exits (pods Ready, then its NodePorts and Ingress hosts answering): median ${(median(up) / 1000).toFixed(2)} s (runs: ${up.map((x) => (x / 1000).toFixed(2)).join(', ')})`);
  console.log(`${label}:   nodes Ready ${med((x) => x.nodes)} s, pods Running with IPs ${med((x) => x.running)} s, pods Ready ${med((x) => x.ready)} s`);
  if (nodePortURL) console.log(`${label}: to the first successful curl of ${nodePortURL} from the client namespace: median ${firstAnswer.length ? (median(firstAnswer) / 1000).toFixed(2) : '-'} s (${firstAnswer.length}/${RUNS} runs answered)`);
  if (mem) printMemory(label, 'at pods Ready (last run)', mem);
  if (rest) printMemory(label, `${SETTLE_MS / 1000} s later`, rest);
}

async function references(): Promise<void> {
  const starts: number[] = [];
  for (let i = 0; i < 5; i++) starts.push(podpath(['--version']).ms);
  console.log(`reference: starting one podpath process (podpath --version): median ${median(starts).toFixed(0)} ms`);
  // The CNI reference runs in a namespace of its own, so the bridge the plugin creates never
  // touches the host: this script again, under nsenter.
  const host = `pp-ppb${randomBytes(3).toString('hex')}-h`;
  netnsAdd(host);
  try {
    const r = spawnSync('nsenter', [`--net=/run/netns/${host}`, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--cni-reference', host], { encoding: 'utf8', cwd: repoRoot });
    if (r.status !== 0) throw new Error(`CNI reference failed:\n${r.stderr}`);
    process.stdout.write(r.stdout);
  } finally {
    netnsDel(host);
  }
}

/** Inside the reference namespace: 10 pod networks made by hand, as the agent makes them. */
async function cniReference(prefix: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ppbench-'));
  const conf = nodeConfList('10.250.0.0/24', path.join(dir, 'ipam'));
  const times: number[] = [];
  const names = Array.from({ length: 10 }, (_, i) => `${prefix}${i}`);
  try {
    for (const [i, ns] of names.entries()) {
      const t0 = performance.now();
      netnsAdd(ns);
      await cniAdd(conf, { containerId: `bench${i}`, netns: `/run/netns/${ns}`, ifname: 'eth0' });
      times.push(performance.now() - t0);
    }
    for (const [i, ns] of names.entries()) await cniDel(conf, { containerId: `bench${i}`, netns: `/run/netns/${ns}`, ifname: 'eth0' });
  } finally {
    for (const ns of names) if (listNetns().includes(ns)) netnsDel(ns);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`reference: a pod network by hand (ip netns add + CNI bridge/host-local/portmap ADD): median ${median(times).toFixed(0)} ms`);
}

const seed = path.join(repoRoot, 'examples/seed-001');
if (process.getuid?.() !== 0) {
  console.error('bench/lab.ts builds labs and needs root');
  process.exit(1);
}
const ref = process.argv.indexOf('--cni-reference');
if (ref > 0) {
  await cniReference(process.argv[ref + 1]!);
  process.exit(0);
}
await references();
await scenario('seed 001 (1 node, 2 pods)', 1, [seed], 'http://192.168.49.2:30080/health');
await scenario('3 nodes, 10 pods', 3, [path.join(repoRoot, 'bench/ten-pods.yaml')]);
