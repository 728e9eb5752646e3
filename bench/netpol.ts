// NetworkPolicy benchmark: a cluster of --pods pods over --nodes nodes and --policies policies
// (each selects one app's pods and admits another app on 80/TCP, or a namespace, or a CIDR):
//   evaluate  the model's verdicts per second (random pod pairs)
//   table     one node's table from the objects (desiredTable), and the full-sync transaction
//   apply     as root: that transaction through nft into a fresh network namespace, against
//             nft -f of the same text alone (limit), then a one-label change (a partial sync)
//   node --import tsx bench/netpol.ts [--pods 1000] [--nodes 10] [--policies 100] [--runs 3]
import { randomBytes } from 'node:crypto';
import type { Namespace, NetworkPolicy, Pod } from '../src/api/types.ts';
import { commandExists, run } from '../src/exec/exec.ts';
import { netnsAdd, netnsDel } from '../src/exec/netns.ts';
import { Nftables } from '../src/knftables/index.ts';
import { PolicyModel, type Cluster } from '../src/netpol/policy.ts';
import { desiredTable, tableFamily, tableName } from '../src/netpol/rules.ts';
import { planSync } from '../src/netpol/sync.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i > 0 ? process.argv[i + 1]! : def);
};
const [nPods, nNodes, nPolicies, runs] = [arg('pods', '1000'), arg('nodes', '10'), arg('policies', '100'), arg('runs', '3')];
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

const c = cluster();
const m = new PolicyModel(c);
const pods = m.allPods();
const pairs = Array.from({ length: 20_000 }, (_, i) => [pods[(i * 7919) % pods.length]!, pods[(i * 104729) % pods.length]!] as const);
const evalMs = time(() => {
  for (const [a, b] of pairs) m.evaluate({ from: { pod: a }, to: { pod: b }, port: 80, protocol: 'TCP' });
});
console.log(`${nPods} pods, ${nNodes} nodes, ${nPolicies} policies`);
console.log(`evaluate: ${Math.round(pairs.length / (evalMs / 1000)).toLocaleString('en')} verdicts/s`);
const fake = { newTransaction: () => new Nftables({ family: tableFamily, table: tableName }).newTransaction() };
let text = '';
const tableMs = time(() => {
  text = planSync(fake, desiredTable(new PolicyModel(c), 'n0'), undefined).toString();
});
console.log(`table: model + node n0's table + full transaction ${tableMs.toFixed(1)} ms (${text.split('\n').length} lines, ${text.length} bytes)`);

if (process.getuid?.() === 0 && commandExists('nft')) {
  const ns = `podpath-bench-np-${randomBytes(3).toString('hex')}`;
  netnsAdd(ns);
  try {
    const nft = new Nftables({ family: tableFamily, table: tableName, netns: ns });
    const apply = time(() => nft.run(planSync(nft, desiredTable(new PolicyModel(c), 'n0'), undefined)));
    const limit = time(() => run(['nft', '-f', '-'], { netns: ns, input: text }));
    const before = desiredTable(new PolicyModel(c), 'n0');
    nft.run(planSync(nft, before, undefined));
    const changed = structuredClone(c);
    changed.pods[0]!.metadata.labels = { app: 'app10' }; // p0 (on n0) is now selected by app10's policies
    let ops = 0;
    const partial = time(() => {
      const tx = planSync(nft, desiredTable(new PolicyModel(changed), 'n0'), before);
      ops = tx.numOperations;
      nft.run(tx);
      nft.run(planSync(nft, before, desiredTable(new PolicyModel(changed), 'n0'))); // and back
    });
    console.log(`apply: full sync ${apply.toFixed(1)} ms; nft -f of the same text alone ${limit.toFixed(1)} ms (${(apply / limit).toFixed(2)}×)`);
    console.log(`partial: a local pod's label changed (it becomes isolated) and back, ${ops} operations: ${(partial / 2).toFixed(1)} ms per sync, ${(partial / 2 / apply).toFixed(2)}× a full one`);
  } finally {
    netnsDel(ns);
  }
} else console.log('apply: skipped (needs root and nft)');
