// Event recording's cost to `podpath up`: the time from `podpath up -f examples/seed-001` to its
// pods Ready, with every component recording events (the scheduler's, the kubelet's, the
// controllers') and, as the reference in the same run, with recording off
// (PODPATH_EVENT_RECORDING=off in the lab's processes' environment). Runs alternate so load on
// the machine falls on both alike. Root only.
//   npm run build && node --import tsx bench/events.ts [--runs 3]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { podpathBin, repoRoot } from '../test/helpers/apiserver.ts';

const i = process.argv.indexOf('--runs');
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 3;

function up(recording: boolean): { readyMs: number; events: number } {
  const name = `bev${randomBytes(3).toString('hex')}`;
  const kc = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-events-')), 'kubeconfig');
  const env = { ...process.env, ...(recording ? {} : { PODPATH_EVENT_RECORDING: 'off' }) };
  try {
    const r = spawnSync(process.execPath, [podpathBin, 'up', '--name', name, '--kubeconfig', kc, '--no-netpol', '--no-ingress', '--no-gateway', '-f', path.join(repoRoot, 'examples/seed-001')], { encoding: 'utf8', env, timeout: 300_000 });
    if (r.status !== 0) throw new Error(`podpath up failed:\n${r.stdout}\n${r.stderr}`);
    const m = /pods Ready ([\d.]+) s/.exec(r.stdout);
    if (!m) throw new Error(`podpath up did not print its milestones:\n${r.stdout}`);
    const ev = spawnSync('kubectl', ['get', 'events', '-A', '--no-headers'], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: kc } });
    return { readyMs: Number(m[1]) * 1000, events: ev.stdout.split('\n').filter(Boolean).length };
  } finally {
    spawnSync(process.execPath, [podpathBin, 'down', '--name', name], { encoding: 'utf8', timeout: 120_000 });
    fs.rmSync(path.dirname(kc), { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const on: number[] = [];
const off: number[] = [];
let events = 0;
for (let run = 0; run < RUNS; run++) {
  const a = up(false);
  off.push(a.readyMs);
  const b = up(true);
  on.push(b.readyMs);
  events = b.events;
  console.log(`run ${run + 1}: pods Ready in ${(a.readyMs / 1000).toFixed(2)} s without events, ${(b.readyMs / 1000).toFixed(2)} s with (${b.events} events; ${a.events} without)`);
}
// On a shared machine single runs swing by seconds: the fastest run of each is the figure least
// disturbed by others' load; the median of the paired differences is shown beside it.
const pct = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(1)}%`;
const pairs = on.map((x, k) => (x - off[k]!) / off[k]!);
console.log(`podpath up -f examples/seed-001 to pods Ready, ${RUNS} runs each:`);
console.log(`  recording off (reference)  fastest ${(Math.min(...off) / 1000).toFixed(2)} s, median ${(median(off) / 1000).toFixed(2)} s`);
console.log(`  recording events           fastest ${(Math.min(...on) / 1000).toFixed(2)} s, median ${(median(on) / 1000).toFixed(2)} s  (${events} events)`);
console.log(`  cost: ${pct(Math.min(...on), Math.min(...off))} fastest to fastest, ${(median(pairs) * 100).toFixed(1)}% median of the paired runs (aim: under 5%)`);
