// `podpath trace` computed offline, at 10 and 10,000 Services (plus seed 001's cluster: the
// traced Service sorts last in KUBE-SERVICES), in iptables and nftables modes:
//   rules     the node's rules rendered as kube-proxy renders them and read into the walker
//             (the reference: what any trace of a changed cluster pays first)
//   parse     the same rules read from their iptables-restore text alone (iptables mode: what a
//             trace from a captured `iptables-save` pays)
//   trace     one computed trace with the rules in hand (median), client → NodePort and
//             pod → Service name (DNS, search path, ClusterIP)
// With --observe (root): a lab of its own (seed 001, one node, named ppb…; removed at the end) in
// each --modes mode, and the observed trace of the NodePort request, run --runs times:
//   observed  `podpath trace --observe` end to end, in process (the lab's objects and the node's
//             rules read, one probe watched in every namespace it crosses, the join and the
//             comparison); watch: tables added, monitors listening, probe, reports, clean-up
//   probe     the probe connection's own time (connect to answer), the reference
//   node --import tsx bench/trace.ts [--services 10,10000] [--runs 5] [--observe] [--modes iptables,nftables]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labTrace } from '../src/lab/trace.ts';
import { parseDump } from '../src/iptables/index.ts';
import { modes } from '../src/proxy/app/modes.ts';
import { servicePorts } from '../src/proxy/model.ts';
import { ClusterIndex } from '../src/trace/cluster.ts';
import { trace } from '../src/trace/engine.ts';
import { IptablesWalker } from '../src/trace/iptables.ts';
import { readTraceState, renderedRules } from '../src/trace/offline.ts';
import { labProxyFlags } from '../src/trace/rules.ts';
import { clientIP, clusterCIDR, clusterDNS, routerIP, serviceCIDR, underlayCIDR } from '../src/lab/defaults.ts';
import { arg } from './common.ts';
import { benchState } from './proxy-state.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const plan = { underlayCIDR, routerIP, clientIP, clusterCIDR, serviceCIDR, clusterDNS, clusterDomain: 'cluster.local', cniBackend: 'host-gw' as const };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const runs = Number(arg('runs', '5'));

for (const n of arg('services', '10,10000').split(',').map(Number)) {
  for (const mode of ['iptables', 'nftables'] as const) {
    const objects = readTraceState([path.join(root, 'examples/trace/seed-001.yaml')]);
    const extra = benchState(n);
    // seed 001's NodePort stays its own
    for (const svc of extra.services) for (const p of svc.spec.ports ?? []) if (p.nodePort === 30080) delete p.nodePort;
    objects.services.push(...extra.services);
    objects.slices.push(...extra.slices);
    const ix = new ClusterIndex(objects, plan);
    let t0 = process.hrtime.bigint();
    const rules = renderedRules(ix, mode);
    rules('minikube');
    const render = ms(t0);
    let parse = NaN;
    if (mode === 'iptables') {
      const node = { flags: labProxyFlags(clusterCIDR), nodeIP: '192.168.49.2' };
      const text = modes.iptables.render(servicePorts(objects.services, objects.slices, 'minikube'), node);
      t0 = process.hrtime.bigint();
      new IptablesWalker(parseDump(text));
      parse = ms(t0);
    }
    const ctx = { ix, mode, rules };
    const time = (to: string, from: string) => {
      const xs: number[] = [];
      let verdict = '';
      for (let i = 0; i < runs; i++) {
        const s = process.hrtime.bigint();
        verdict = trace(ctx, { from, to }).verdict;
        xs.push(ms(s));
      }
      return { first: xs[0]!, median: median(xs), verdict };
    };
    const np = time('192.168.49.2:30080', 'client');
    const dns = time('api-service:8080', 'pod/default/curl');
    const f = (x: number) => x.toFixed(1).padStart(8);
    process.stdout.write(
      `${String(n).padStart(6)} Services ${mode.padEnd(8)} rules ${f(render)} ms  parse ${Number.isNaN(parse) ? '       -' : f(parse)} ms  trace NodePort ${f(np.median)} ms (first ${f(np.first)}, ${np.verdict})  trace pod→name ${f(dns.median)} ms (first ${f(dns.first)}, ${dns.verdict})\n`,
    );
  }
}

if (process.argv.includes('--observe')) {
  const podpath = path.join(root, 'bin/podpath.js');
  for (const mode of arg('modes', 'iptables,nftables').split(',')) {
    const name = `ppb${randomBytes(3).toString('hex')}`;
    const up = spawnSync(process.execPath, [podpath, 'up', '--name', name, '-f', path.join(root, 'examples/seed-001'), '--proxy-mode', mode, '--no-ingress', '--no-gateway', '--no-dns', '--no-netpol', '--timeout', '120'], { encoding: 'utf8' });
    try {
      if (up.status !== 0) throw new Error(`podpath up failed: ${up.stderr}`);
      const total: number[] = [];
      const watch: number[] = [];
      const probe: number[] = [];
      let differences = 0;
      for (let i = 0; i < runs; i++) {
        const s = process.hrtime.bigint();
        const t = await labTrace({ name, observe: true }, { from: 'client', to: 'http://192.168.49.2:30080/api/v1/whoami' });
        total.push(ms(s));
        watch.push(t.observed!.timeMs);
        probe.push(t.observed!.probe.timeMs);
        differences += t.observed!.differences.length;
      }
      const f = (x: number) => x.toFixed(1).padStart(8);
      process.stdout.write(`observed trace ${mode.padEnd(8)} observed ${f(median(total))} ms (first ${f(total[0]!)}; watch ${f(median(watch))})  probe connection ${f(median(probe))} ms (reference)  differences ${differences} in ${runs} runs\n`);
    } finally {
      spawnSync(process.execPath, [podpath, 'down', '--name', name], { encoding: 'utf8' });
    }
  }
}
