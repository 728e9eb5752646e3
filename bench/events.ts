// Event recording's cost to `podpath up`: the time from `podpath up -f examples/seed-001` to its
// pods Ready, with every component recording events (the scheduler's, the kubelet's, the
// controllers') and, as the reference in the same run, with recording off
// (PODPATH_EVENT_RECORDING=off in the lab's processes' environment; a reference run that leaves
// any Event behind fails the bench, so the switch is seen to turn off every event write).
// Runs are interleaved in pairs, the order alternating (off-on, on-off, …) so drifting load
// on the machine falls on both alike; each line shows the 1-minute load average at its start.
// Root only.
//   npm run build && node --import tsx bench/events.ts [--runs 6]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { podpathBin, repoRoot } from '../test/helpers/apiserver.ts';
import { arg } from './common.ts';

const RUNS = Number(arg('runs', '6'));

interface Run {
  readyMs: number;
  events: number;
  /** the events' reporting components, with counts */
  sources: Map<string, number>;
  load: number;
}

function up(recording: boolean): Run {
  const name = `bev${randomBytes(3).toString('hex')}`;
  const kc = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-events-')), 'kubeconfig');
  const env = { ...process.env, ...(recording ? {} : { PODPATH_EVENT_RECORDING: 'off' }) };
  const load = os.loadavg()[0]!;
  try {
    const r = spawnSync(process.execPath, [podpathBin, 'up', '--name', name, '--kubeconfig', kc, '--no-netpol', '--no-ingress', '--no-gateway', '-f', path.join(repoRoot, 'examples/seed-001')], { encoding: 'utf8', env, timeout: 300_000 });
    if (r.status !== 0) throw new Error(`podpath up failed:\n${r.stdout}\n${r.stderr}`);
    const m = /pods Ready ([\d.]+) s/.exec(r.stdout);
    if (!m) throw new Error(`podpath up did not print its milestones:\n${r.stdout}`);
    const ev = spawnSync('kubectl', ['get', 'events', '-A', '-o', 'jsonpath={range .items[*]}{.source.component}{"\\n"}{end}'], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: kc } });
    if (ev.status !== 0) throw new Error(`kubectl get events failed: ${ev.stderr}`);
    const sources = new Map<string, number>();
    for (const c of ev.stdout.split('\n').filter(Boolean)) sources.set(c, (sources.get(c) ?? 0) + 1);
    const events = [...sources.values()].reduce((a, b) => a + b, 0);
    return { readyMs: Number(m[1]) * 1000, events, sources, load };
  } finally {
    spawnSync(process.execPath, [podpathBin, 'down', '--name', name], { encoding: 'utf8', timeout: 120_000 });
    fs.rmSync(path.dirname(kc), { recursive: true, force: true });
  }
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => {
  const s = sorted(xs);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const summary = (xs: number[]) => `median ${sec(median(xs))}, min ${sec(Math.min(...xs))}, max ${sec(Math.max(...xs))}`;
const sourcesText = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');

const off: Run[] = [];
const on: Run[] = [];
console.log(`podpath up -f examples/seed-001 to pods Ready, ${RUNS} pairs, ${os.cpus().length} CPUs; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (let k = 0; k < RUNS; k++) {
  const order = k % 2 === 0 ? [false, true] : [true, false];
  for (const recording of order) {
    const r = up(recording);
    if (!recording && r.events > 0) throw new Error(`PODPATH_EVENT_RECORDING=off left ${r.events} events behind (${sourcesText(r.sources)}): the reference is not a lab without events`);
    (recording ? on : off).push(r);
    console.log(`pair ${k + 1} ${recording ? 'recording' : 'off      '}  pods Ready in ${sec(r.readyMs)}  (${r.events} events${r.events ? `: ${sourcesText(r.sources)}` : ''}; load ${r.load.toFixed(2)})`);
  }
}
const diffs = on.map((r, k) => (r.readyMs - off[k]!.readyMs) / off[k]!.readyMs);
const loads = [...on, ...off].map((r) => r.load);
console.log(`podpath up -f examples/seed-001 to pods Ready, ${RUNS} runs each (1-minute load ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} on ${os.cpus().length} CPUs):`);
console.log(`  recording off (reference)  ${summary(off.map((r) => r.readyMs))}  (0 events)`);
console.log(`  recording events           ${summary(on.map((r) => r.readyMs))}  (median ${median(on.map((r) => r.events))} events)`);
console.log(`  cost: ${pct(median(on.map((r) => r.readyMs)) / median(off.map((r) => r.readyMs)) - 1)} median to median; paired runs ${pct(median(diffs))} median, from ${pct(Math.min(...diffs))} to ${pct(Math.max(...diffs))} (aim: under 5%)`);
