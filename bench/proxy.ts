// kube-proxy rules benchmark, both modes, at 1,000 and 10,000 Services with 10 endpoints each:
//   render    the pure functions alone (model + rules/transaction text), cold and warm
//   apply     the proxier's full sync: the backend with its real shell (render, list, kernel tool)
//   limit     the kernel tool's own time for the same text (iptables-restore --noflush / nft -f)
//             into a fresh network namespace
//   partial   a one-endpoint change through the backend (partial sync: render + kernel tool)
// Each run uses network namespaces of its own (the worker runs inside one). Root only.
//   node --import tsx bench/proxy.ts [--modes iptables,nftables] [--services 1000[,10000]] [--runs 3] [--timeout 600]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { netnsAdd, netnsDel } from '../src/exec/netns.ts';
import { serializeDump } from '../src/iptables/index.ts';
import type { Backend } from '../src/proxy/backend.ts';
import type { ProxyFlags, ProxyMode } from '../src/proxy/config.ts';
import { IptablesBackend } from '../src/proxy/iptables/backend.ts';
import { renderIptables } from '../src/proxy/iptables/render.ts';
import { ProxyMetrics } from '../src/proxy/metrics.ts';
import { portsByService, servicePorts } from '../src/proxy/model.ts';
import { NftablesBackend } from '../src/proxy/nftables/backend.ts';
import { renderNftables } from '../src/proxy/nftables/render.ts';
import { benchSlice, benchState } from './proxy-state.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const flags: ProxyFlags = { clusterCIDR: '10.244.0.0/16', masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: true, nodePortAddresses: [], serviceCIDRs: ['10.96.0.0/12'] };
const nodeIP = '192.168.49.2';

interface WorkerResult {
  renderCold: number;
  renderWarm: number;
  apply: number;
  partial: number[];
  bytes: number;
}

/** Runs inside the benchmark's namespace: the backend applies to the kernel there. */
function worker(mode: ProxyMode, n: number, textFile: string): WorkerResult {
  const st = benchState(n);
  const renderOnce = () => {
    const ports = servicePorts(st.services, st.slices, 'n1');
    return { ports, text: mode === 'iptables' ? serializeDump(renderIptables(ports, { clusterCIDR: flags.clusterCIDR!, nodePortAddresses: [] }).tables, 'restore') : renderNftables(ports, { clusterCIDR: flags.clusterCIDR!, nodePortIPs: [nodeIP], nodeIP, serviceCIDRs: flags.serviceCIDRs! }) };
  };
  const times: number[] = [];
  let out = renderOnce();
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    out = renderOnce();
    times.push(performance.now() - t0);
  }
  fs.writeFileSync(textFile, out.text);
  const metrics = new ProxyMetrics(mode);
  const backend: Backend = mode === 'iptables' ? new IptablesBackend(flags, metrics) : new NftablesBackend(flags, metrics);
  const m = portsByService(out.ports);
  const t1 = performance.now();
  backend.sync({ byService: m, nodeIP });
  const apply = performance.now() - t1;
  // One endpoint goes away, then comes back: each a partial sync of one Service.
  const partial: number[] = [];
  for (let k = 0; k < 6; k++) {
    const slice = benchSlice(0, k % 2 === 0 ? 9 : 10);
    const t2 = performance.now();
    m.set('bench/svc-0', servicePorts([st.services[0]!], [slice], 'n1'));
    backend.sync({ byService: m, changed: new Set(['bench/svc-0']), nodeIP });
    partial.push(performance.now() - t2);
  }
  return { renderCold: times[0]!, renderWarm: median(times.slice(1)), apply, partial, bytes: out.text.length };
}

function timed(ns: string, argv: string[], file: string, timeoutMs: number): number {
  const t0 = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { input: fs.readFileSync(file), timeout: timeoutMs, maxBuffer: 1 << 30 });
  if (r.error) throw new Error(`${argv[0]} did not finish in ${timeoutMs / 1000} s`);
  if (r.status !== 0) throw new Error(`${argv[0]} failed: ${r.stderr}`);
  return performance.now() - t0;
}

function main(): void {
  if (process.getuid?.() !== 0) {
    console.error('bench/proxy.ts applies rules in network namespaces and needs root');
    process.exit(1);
  }
  const modes = arg('modes', 'iptables,nftables').split(',') as ProxyMode[];
  const sizes = arg('services', '1000').split(',').map(Number);
  const runs = Number(arg('runs', '3'));
  const timeoutMs = Number(arg('timeout', '600')) * 1000;
  const self = fileURLToPath(import.meta.url);
  for (const mode of modes) {
    for (const n of sizes) {
      const results: WorkerResult[] = [];
      const limit: number[] = [];
      let failed = '';
      for (let run = 0; run < runs && !failed; run++) {
        const id = randomBytes(3).toString('hex');
        const wns = `pp-ppb${id}-w`;
        const kns = `pp-ppb${id}-k`;
        const file = path.join(os.tmpdir(), `podpath-bench-${id}.txt`);
        netnsAdd(wns);
        netnsAdd(kns);
        try {
          const r = spawnSync('nsenter', [`--net=/run/netns/${wns}`, process.execPath, '--import', 'tsx', self, '--worker', mode, String(n), file], { encoding: 'utf8', timeout: timeoutMs * 2, maxBuffer: 1 << 26 });
          if (r.status !== 0) {
            failed = r.error ? `the worker did not finish in ${(timeoutMs * 2) / 1000} s` : r.stderr.trim().split('\n').slice(-3).join(' ');
            break;
          }
          results.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as WorkerResult);
          limit.push(timed(kns, mode === 'iptables' ? ['iptables-restore', '-w', '5', '--noflush', '--counters'] : ['nft', '-f', '-'], file, timeoutMs));
        } catch (e) {
          failed = (e as Error).message;
        } finally {
          netnsDel(wns);
          netnsDel(kns);
          fs.rmSync(file, { force: true });
        }
      }
      console.log(`${mode}, ${n} Services x 10 endpoints${results[0] ? ` (${(results[0].bytes / 1e6).toFixed(1)} MB of rules)` : ''}, ${results.length} run(s):`);
      if (failed) console.log(`  stopped: ${failed}`);
      if (!results.length || !limit.length) continue;
      const lim = median(limit);
      const warm = median(results.map((r) => r.renderWarm));
      const pct = (x: number) => `${((x / lim) * 100).toFixed(1)}%`;
      console.log(`  render (model + rules), warm:                median ${warm.toFixed(0)} ms (${pct(warm)} of the kernel tool's time; first render of the process ${median(results.map((r) => r.renderCold)).toFixed(0)} ms)`);
      console.log(`  apply, the proxier's full sync:              median ${median(results.map((r) => r.apply)).toFixed(0)} ms`);
      console.log(`  reference: the kernel tool alone, same text: median ${lim.toFixed(0)} ms`);
      const partial = results.flatMap((r) => r.partial);
      console.log(`  one-endpoint change, partial sync:           median ${median(partial).toFixed(1)} ms, max ${Math.max(...partial).toFixed(1)} ms over ${partial.length}`);
    }
  }
}

const w = process.argv.indexOf('--worker');
if (w > 0) {
  const [mode, n, file] = process.argv.slice(w + 1) as [ProxyMode, string, string];
  process.stdout.write(`${JSON.stringify(worker(mode, Number(n), file))}\n`);
} else {
  main();
}
