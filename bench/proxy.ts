// kube-proxy (iptables mode) benchmark: at 1,000 and 10,000 Services with 10 endpoints each,
// the time to render a full sync against the kernel tool's own time to apply the same text
// (iptables-restore --noflush in a fresh network namespace of our own, the limit), and the
// time of a sync after a one-endpoint change. Root only.
//   node --import tsx bench/proxy.ts [--services 1000[,10000]] [--runs 3] [--restore-timeout 600]
// (At 10,000 Services iptables-restore itself, with the nf_tables backend, ran for more than
// 8 minutes on a 2-core machine; each restore is bounded by --restore-timeout seconds.)
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { EndpointSlice, Service } from '../src/api/types.ts';
import { renderIptables } from '../src/proxy/iptables.ts';
import { servicePorts } from '../src/proxy/model.ts';
import { netnsAdd, netnsDel } from '../src/lab/netns.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
}
const SIZES = arg('services', '1000').split(',').map(Number);
const RESTORE_TIMEOUT_MS = Number(arg('restore-timeout', '600')) * 1000;
const RUNS = Number(arg('runs', '3'));

function state(n: number): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < n; i++) {
    const name = `svc-${i}`;
    services.push({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'bench', name }, spec: { type: 'NodePort', clusterIP: `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, ports: [{ name: 'http', port: 80, nodePort: 30000 + (i % 2768) }] } } as unknown as Service);
    slices.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { namespace: 'bench', name: `${name}-x`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: Array.from({ length: 10 }, (_, j) => ({ addresses: [`10.${244 + (j >> 2)}.${(i >> 6) & 255}.${((i & 63) << 2) + (j & 3)}`], conditions: { ready: true }, nodeName: 'n1' })),
    } as unknown as EndpointSlice);
  }
  return { services, slices };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function restore(ns: string, text: string): number {
  const t0 = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', ns, 'iptables-restore', '-w', '5', '--noflush', '--counters'], { input: text, encoding: 'utf8', maxBuffer: 1 << 30, timeout: RESTORE_TIMEOUT_MS });
  if (r.error) throw new Error(`iptables-restore did not finish in ${RESTORE_TIMEOUT_MS / 1000} s`);
  if (r.status !== 0) throw new Error(`iptables-restore failed: ${r.stderr}`);
  return performance.now() - t0;
}

if (process.getuid?.() !== 0) {
  console.error('bench/proxy.ts applies rules in a network namespace and needs root');
  process.exit(1);
}
for (const n of SIZES) {
  const st = state(n);
  const render: number[] = [];
  const apply: number[] = [];
  const change: number[] = [];
  let bytes = 0;
  for (let run = 0; run < RUNS; run++) {
    const ns = `pp-ppb${randomBytes(3).toString('hex')}-x`;
    netnsAdd(ns);
    try {
      const t0 = performance.now();
      const text = renderIptables(servicePorts(st.services, st.slices, 'n1'), { clusterCIDR: '10.244.0.0/16' }).text;
      render.push(performance.now() - t0);
      bytes = text.length;
      apply.push(restore(ns, text));
      // One endpoint changes: what a full sync costs for it (partial syncs are not implemented).
      const changed = { ...st.slices[0]!, endpoints: st.slices[0]!.endpoints.slice(1) } as EndpointSlice;
      const t1 = performance.now();
      const text2 = renderIptables(servicePorts(st.services, [changed, ...st.slices.slice(1)], 'n1'), { clusterCIDR: '10.244.0.0/16' }).text;
      restore(ns, text2);
      change.push(performance.now() - t1);
    } finally {
      netnsDel(ns);
    }
  }
  console.log(`${n} services x 10 endpoints (${(bytes / 1e6).toFixed(1)} MB of rules):`);
  console.log(`  render (model + rules): median ${median(render).toFixed(0)} ms`);
  console.log(`  reference: iptables-restore --noflush of that text into a fresh namespace: median ${median(apply).toFixed(0)} ms (render is ${((median(render) / median(apply)) * 100).toFixed(0)}% of it)`);
  console.log(`  one-endpoint change, full re-render + restore: median ${median(change).toFixed(0)} ms`);
}
