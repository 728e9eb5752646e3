// NetworkPolicy benchmark (issue 16): a cluster of --pods pods over --nodes nodes and --policies
// policies (each selects one app's pods and admits another app on 80/TCP, or a namespace, or a CIDR):
//   evaluate  the model's verdicts per second (random pod pairs)
//   compute   model (of objects as served, defaulted) + node n0's table (desiredTable) + full-sync plan (planSync) + its text: the
//             pure code's time, against `nft -f` of the same text (the kernel tool's own time, the
//             reference), interleaved run by run; aim: under 10%
//   latency   as root, in a scratch network namespace: a policy write handed to a Syncer (real nft)
//             until its partial transaction is applied; aim: within 200 ms
//   connect   as root: TCP connection set-up between two local pods (namespaces joined through the
//             node's namespace by veths, routed there): (a) no table at all, (b) kube-proxy's rules
//             for one Service (conntrack on, as on any node: no policy at all, the reference),
//             (c) (b) + the agent's table with no policy, (d) (b) + the agent's table with the
//             policies; aim: (d) within 10% of (b)
//   node --import tsx bench/netpol.ts [--pods 1000] [--nodes 1] [--policies 1000] [--runs 5] [--connects 200] [--rounds 15] [--first]
//     [--parts evaluate,compute,latency,connect] (the parts to run; all by default)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Namespace, NetworkPolicy, Pod } from '../src/api/types.ts';
import { applyDefaults } from '../src/api/defaults.ts';
import { commandExists, run } from '../src/exec/exec.ts';
import { ipIn, netnsAdd, netnsDel } from '../src/exec/netns.ts';
import { Nftables } from '../src/knftables/index.ts';
import { Syncer } from '../src/netpol/agent.ts';
import { PolicyModel, type Cluster } from '../src/netpol/policy.ts';
import { desiredTable, tableFamily, tableName } from '../src/netpol/rules.ts';
import { planSync } from '../src/netpol/sync.ts';
import { servicePorts } from '../src/proxy/model.ts';
import { kubeProxyTable, renderNftables } from '../src/proxy/nftables/render.ts';
import { benchState } from './proxy-state.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i > 0 ? process.argv[i + 1]! : def);
};
const [nPods, nNodes, nPolicies, runs, connects, rounds] = [arg('pods', '1000'), arg('nodes', '1'), arg('policies', '1000'), arg('runs', '5'), arg('connects', '200'), arg('rounds', '15')];
const partsArg = process.argv.indexOf('--parts');
const parts = new Set(partsArg > 0 ? process.argv[partsArg + 1]!.split(',') : ['evaluate', 'compute', 'latency', 'connect']);
// a 10 MB table on a loaded machine may take nft far longer than exec's default minute
const nftTimeout = 600_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = (fn: () => void) => {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    xs.push(performance.now() - t0);
  }
  return median(xs);
};
const once = (fn: () => void) => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function served(c: Cluster): Cluster {
  const d = <T extends Namespace | NetworkPolicy>(kind: string, o: T): T => {
    applyDefaults(kind, o);
    return o;
  };
  return { namespaces: c.namespaces.map((n) => d('Namespace', n)), pods: c.pods, policies: c.policies.map((np) => d('NetworkPolicy', np)) };
}

function cluster(): Cluster {
  const nss = Array.from({ length: 10 }, (_, i) => `ns${i}`);
  const namespaces: Namespace[] = nss.map((name, i) => ({ metadata: { name, labels: { team: `t${i % 3}` } } }));
  const pods: Pod[] = Array.from({ length: nPods }, (_, i) => ({
    metadata: { name: `p${i}`, namespace: nss[i % nss.length]!, labels: { app: `app${i % 20}` } },
    spec: { nodeName: `n${i % nNodes}`, containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80 }] }] },
    status: { phase: 'Running', podIP: `10.${100 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}` },
  }));
  const policies: NetworkPolicy[] = Array.from({ length: nPolicies }, (_, i) => {
    const peer = i % 3 === 0 ? { podSelector: { matchLabels: { app: `app${(i + 1) % 20}` } } } : i % 3 === 1 ? { namespaceSelector: { matchLabels: { team: `t${i % 3}` } } } : { ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.1.0/24'] } };
    return { metadata: { name: `np${i}`, namespace: nss[i % nss.length]! }, spec: { podSelector: { matchLabels: { app: `app${i % 20}` } }, policyTypes: ['Ingress'], ingress: [{ from: [peer], ports: [{ protocol: 'TCP', port: i % 2 ? 80 : 'http' }] }] } };
  });
  return { namespaces, pods, policies };
}

// as the API server serves them (defaulted): the agent's informers hold these and its model
// applies no defaults of its own
const c = served(cluster());
const m = new PolicyModel(c, null);
const pods = m.allPods();
const pairs = Array.from({ length: 20_000 }, (_, i) => [pods[(i * 7919) % pods.length]!, pods[(i * 104729) % pods.length]!] as const);
console.log(`${nPods} pods, ${nNodes} nodes, ${nPolicies} policies`);
if (parts.has('evaluate')) {
  const evalMs = time(() => {
    for (const [a, b] of pairs) m.evaluate({ from: { pod: a }, to: { pod: b }, port: 80, protocol: 'TCP' });
  });
  console.log(`evaluate: ${Math.round(pairs.length / (evalMs / 1000)).toLocaleString('en')} verdicts/s`);
}
const fake = { newTransaction: () => new Nftables({ family: tableFamily, table: tableName }).newTransaction() };
let text = '';
const computeOnce = () => once(() => {
  text = planSync(fake, desiredTable(new PolicyModel(c, null), 'n0'), undefined).toString();
});
computeOnce(); // warm-up
const root = process.getuid?.() === 0 && commandExists('nft') && commandExists('python3');
if (!root) {
  const ms = time(() => void computeOnce());
  console.log(`compute: ${ms.toFixed(1)} ms (${text.split('\n').length} lines); nft parts skipped (need root, nft and python3)`);
  process.exit(0);
}

const tag = randomBytes(3).toString('hex');
const node = `podpath-bench-np-${tag}`;
const podNs = [`podpath-bench-npa-${tag}`, `podpath-bench-npb-${tag}`];
const children: ReturnType<typeof spawn>[] = [];
try {
  for (const ns of [node, ...podNs]) netnsAdd(ns);
  const nft = new Nftables({ family: tableFamily, table: tableName, netns: node, timeoutMs: nftTimeout });

  if (parts.has('compute')) {
    // 1. compute vs nft -f of the same text, interleaved
    const comp: number[] = [];
    const tool: number[] = [];
    for (let i = 0; i < runs; i++) {
      comp.push(computeOnce());
      tool.push(once(() => run(['nft', '-f', '-'], { netns: node, input: text, timeoutMs: nftTimeout })));
    }
    const [cm, tm] = [median(comp), median(tool)];
    console.log(`compute: model + table + plan + text ${cm.toFixed(1)} ms (${text.split('\n').length} lines, ${(text.length / 1e6).toFixed(1)} MB); nft -f of that text ${tm.toFixed(1)} ms; compute/nft ${((cm / tm) * 100).toFixed(1)}% (aim < 10%)`);
  }

  if (parts.has('latency')) {
    // 2. a policy write to enforcement, through a Syncer on the real nft
    const state = structuredClone(c);
    // nft's part of each sync, timed inside the Syncer
    const inSync: number[] = [];
    const timed: typeof nft = Object.create(nft);
    timed.run = (tx) => {
      const t0 = performance.now();
      nft.run(tx);
      inSync.push(performance.now() - t0);
    };
    const syncer = new Syncer({ cluster: () => state }, { nodeName: 'n0', nft: timed, log: (x) => console.error(x) });
    if (!syncer.syncNow()) throw new Error('full sync failed');
    inSync.length = 0;
    const lat: number[] = [];
    let ops = 0;
    for (let i = 0; i < runs * 2; i++) {
      await sleep(150); // past the Syncer's least interval: the write starts a sync at once
      // a policy's port changes (80 <-> 81): its pods' chains are rewritten
      const np = state.policies[i % state.policies.length]!;
      state.policies[i % state.policies.length] = { ...np, spec: { ...np.spec!, ingress: [{ ...np.spec!.ingress![0]!, ports: [{ protocol: 'TCP', port: np.spec!.ingress![0]!.ports![0]!.port === 81 ? 80 : 81 }] }] } };
      const before = syncer.metrics.syncs.expose();
      const t0 = performance.now();
      syncer.request();
      while (syncer.metrics.syncs.expose() === before) await new Promise((r) => setImmediate(r));
      lat.push(performance.now() - t0);
      ops = Number(/podpath_netpol_sync_operations (\d+)/.exec(syncer.metrics.operations.expose())?.[1] ?? 0);
    }
    syncer.stop();
    const rest = lat.map((x, i) => x - (inSync[i] ?? 0));
    console.log(`latency: policy write -> partial transaction applied (${ops} operations) ${median(lat).toFixed(1)} ms median of ${lat.length}, max ${Math.max(...lat).toFixed(1)} ms (aim < 200 ms): nft -f ${median(inSync).toFixed(1)} ms, the rest (model, table, plan, text, scheduling) ${median(rest).toFixed(1)} ms`);
  }

  if (parts.has('connect')) {
    // 3. connection set-up between two local pods: table vs none
    const m = new PolicyModel(c, null);
    const local = m.allPods().filter((p) => p.spec?.nodeName === 'n0' && !p.status!.podIP!.endsWith('.0'));
    // the server and client: among a sample of local servers, the admitted pair whose first admitting
    // policy comes latest in the server's chain, so the SYN walks most of it (--first: earliest)
    const t = desiredTable(m, 'n0');
    const chainLen = (p: Pod) => t.chains.get(`ingress-${p.metadata.namespace}/${p.metadata.name}`)?.rules.length ?? 0;
    let server: Pod | undefined;
    let client: Pod | undefined;
    let lastRule = -1;
    for (const srv of local.filter((p) => chainLen(p) > 0).slice(0, 40)) {
      for (const q of local) {
        if (q === srv) continue;
        const v = m.evaluate({ from: { pod: q }, to: { pod: srv }, port: 80, protocol: 'TCP' });
        if (!v.allowed || !v.ingress.allowedBy.length) continue;
        const at = Math.min(...v.ingress.allowedBy.map((r) => v.ingress.policies.indexOf(r.policy)));
        if (process.argv.includes('--first') ? lastRule < 0 || at < lastRule : at > lastRule) [server, client, lastRule] = [srv, q, at];
      }
    }
    if (!server) throw new Error('no isolated local pod');
    if (!client) throw new Error('no admitted client pod');
    const [ipA, ipB] = [client.status!.podIP!, server.status!.podIP!];
    run(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { netns: node });
    [[podNs[0]!, ipA, 'a'], [podNs[1]!, ipB, 'b']].forEach(([ns, ip, x]) => {
      ipIn(node, 'link', 'add', `veth-${x}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns!);
      ipIn(node, 'link', 'set', `veth-${x}`, 'up');
      run(['sysctl', '-qw', `net.ipv4.conf.veth-${x}.proxy_arp=1`], { netns: node });
      ipIn(node, 'route', 'add', `${ip}/32`, 'dev', `veth-${x}`);
      ipIn(ns!, 'addr', 'add', `${ip}/32`, 'dev', 'eth0');
      ipIn(ns!, 'link', 'set', 'eth0', 'up');
      ipIn(ns!, 'route', 'add', 'default', 'dev', 'eth0');
    });
    const srv = spawn('nsenter', [`--net=/run/netns/${podNs[1]}`, '--', 'python3', '-c', `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('${ipB}', 80)); s.listen(512); s.settimeout(900)
print('ready', flush=True)
while True:
    c, _ = s.accept(); c.close()
`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(srv);
    await new Promise<void>((res, rej) => {
      srv.stdout!.once('data', () => res());
      srv.once('exit', (code) => rej(new Error(`server exited ${code}`)));
    });
    // the client: N connects, each timed from connect() to established; prints the median in µs
    const connectOnce = () => {
      const out = run(['python3', '-c', `
import socket, time, statistics
xs = []
for i in range(${connects}):
    s = socket.socket(); s.settimeout(2)
    t0 = time.perf_counter(); s.connect(('${ipB}', 80)); xs.append(time.perf_counter() - t0); s.close()
print(statistics.median(xs) * 1e6)
`], { netns: podNs[0]! });
      return Number(out.trim());
    };
    const full = planSync(nft, t, undefined);
    // the agent's table with no policies: its forward chain and empty verdict maps
    const empty = planSync(nft, desiredTable(new PolicyModel({ ...c, policies: [] }, null), 'n0'), undefined);
    // what a node has without any policy: kube-proxy's rules (nftables mode, here for one Service),
    // which put connection tracking and NAT lookups on every new connection, as on any node
    const st = benchState(1);
    const proxyRules = renderNftables(servicePorts(st.services, st.slices, 'n0'), { clusterCIDR: '10.100.0.0/16', nodePortIPs: ['192.168.49.2'], nodeIP: '192.168.49.2', serviceCIDRs: ['10.96.0.0/16'] }); // the pods' 10.100/16 outside it
    type State = 'bare' | 'proxy' | 'empty' | 'full';
    let now: State | undefined;
    const enter = (want: State) => {
      if (now === want) return;
      const proxy = want !== 'bare';
      if (now === undefined || (now === 'bare') === proxy) {
        run(['nft', 'delete', 'table', kubeProxyTable.family, kubeProxyTable.table], { netns: node, allowFail: true });
        if (proxy) run(['nft', '-f', '-'], { netns: node, input: proxyRules });
      }
      if (want === 'bare' || want === 'proxy') run(['nft', 'delete', 'table', tableFamily, tableName], { netns: node, allowFail: true });
      else nft.run(want === 'full' ? full : empty);
      now = want;
    };
    const times: Record<State, number[]> = { bare: [], proxy: [], empty: [], full: [] };
    const order: State[] = ['bare', 'proxy', 'empty', 'full'];
    enter('full');
    connectOnce(); // warm-up
    // interleaved, the order alternating round by round (the machine is shared and drifts)
    for (let i = 0; i < rounds; i++) {
      for (const s of i % 2 ? order : [...order].reverse()) {
        enter(s);
        times[s].push(connectOnce());
      }
    }
    enter('bare');
    const [a, b, e, f] = order.map((s) => median(times[s]));
    const pct = (x: number, ref: number) => `${x >= ref ? '+' : ''}${(((x - ref) / ref) * 100).toFixed(1)}%`;
    console.log(`connect: ${client.metadata.namespace}/${client.metadata.name} -> ${server.metadata.namespace}/${server.metadata.name}:80 (chain of ${chainLen(server)} rules, admitted by its policy #${lastRule + 1} of ${m.selecting(server, 'Ingress').length}), median of ${rounds} rounds × ${connects} connects (each round's median):`);
    const line = (what: string, us: number, vs: string) => console.log(`  ${what.padEnd(56)}${us.toFixed(1)} µs${vs ? `  ${vs}` : ''}`);
    line('(a) no table at all (no conntrack)', a, '');
    line("(b) kube-proxy's rules only (conntrack on; no policy)", b, `${pct(b, a)} vs (a)`);
    line("(c) (b) + the agent's table with no policy", e, `${pct(e, b)} vs (b)`);
    line(`(d) (b) + the agent's table with ${nPolicies} policies`, f, `${pct(f, b)} vs (b) (aim < 10%), ${pct(f, e)} vs (c)`);
  }
} finally {
  for (const ch of children) if (ch.exitCode === null && ch.pid) process.kill(ch.pid);
  for (const ns of [...podNs, node]) netnsDel(ns);
}
