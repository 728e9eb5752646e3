// `podpath trace`: the computed path of one connection, hop by hop — offline from a state file of
// the cluster's objects (each node's rules rendered as its kube-proxy would write them), in a
// running lab (its objects, each node's rules read from its kernel; --observe sends one probe
// and shows the path the kernel reports beside it), or against any cluster's API server with
// each node's rules as captured there.
import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { clientIP, clusterCIDR, clusterDNS, routerIP, serviceCIDR, underlayCIDR } from '../lab/defaults.ts';
import type { Trace } from '../trace/types.ts';

const collect = (v: string, acc: string[]) => [...acc, v];

interface TraceFlags {
  filename: string[];
  name?: string;
  kubeconfig?: string;
  nodeRules: string[];
  observe?: boolean;
  from: string;
  to: string;
  protocol: 'tcp' | 'udp';
  mode?: string;
  cniBackend?: 'host-gw' | 'vxlan' | 'bgp';
  endpoint: string[];
  output: string;
}

/** NODE=FILE pairs (several files for one node are read together), each file read now: a bad one is named before anything is traced. */
export async function readNodeRuleFiles(pairs: string[]) {
  const { capturedRules } = await import('../trace/kernel.ts');
  const { TraceError } = await import('../trace/types.ts');
  const files = new Map<string, { text: string; source: string }[]>();
  for (const p of pairs) {
    const m = /^([^=]+)=(.+)$/.exec(p);
    if (!m) throw new TraceError('BadFlags', `--node-rules ${p}: expected NODE=FILE`);
    let text: string;
    try {
      text = fs.readFileSync(m[2]!, 'utf8');
    } catch (e) {
      throw new TraceError('BadFlags', `--node-rules ${p}: ${(e as Error).message}`);
    }
    files.set(m[1]!, [...(files.get(m[1]!) ?? []), { text, source: m[2]! }]);
  }
  return new Map([...files].map(([node, list]) => [node, capturedRules(list)]));
}

/** Which kind of trace the flags ask for; conflicting ones are refused before anything is read. */
function source(o: TraceFlags): 'file' | 'kubeconfig' | 'lab' {
  const bad = (msg: string) => Object.assign(new Error(msg), { code: 'BadFlags' });
  const file = o.filename.length > 0;
  if (file && (o.name || o.kubeconfig)) throw bad('-f traces a file of objects; --name (a lab) and --kubeconfig (a cluster) trace a running one: give one of them');
  if (o.name && o.kubeconfig) throw bad('--name traces a lab, --kubeconfig another cluster: give one of them');
  if (o.observe && (file || o.kubeconfig)) throw bad('--observe sends a probe in a lab: it needs the lab (--name, or the only lab running), not -f or --kubeconfig');
  if (o.nodeRules.length && !o.kubeconfig && !file) throw bad('--node-rules gives captured rules for -f or --kubeconfig; a lab\'s rules are read from its nodes');
  if (!file && !o.kubeconfig && (o.mode || o.cniBackend)) throw bad('--mode and --cni-backend are for -f and --kubeconfig: a lab\'s proxy mode comes from its kube-proxy ConfigMap and its CNI backend from the lab');
  return file ? 'file' : o.kubeconfig ? 'kubeconfig' : 'lab';
}

export function addTraceCommands(program: Command): void {
  program
    .command('trace')
    .description(
      "Compute every hop of one connection's path: name resolution (search path, ndots, the record that answered), the route in each network namespace, each node's netfilter rules in hook order (table, chain, rule text, what it did, the Service, EndpointSlice or Pod behind it; every endpoint of a random choice with its probability), the conntrack entry, NetworkPolicy, the Ingress controller's choice, delivery and the reply. In a running lab (--name, or the only one running) each node's rules are read from its kernel (iptables-save, nft -j list ruleset) and the proxy mode from the kube-proxy ConfigMap; --observe also sends one real probe of the connection, records its path with nft monitor trace and conntrack -E in every namespace it crosses, and shows computed and observed hops side by side with their differences. With -f, offline from a file of the cluster's objects (rules rendered as kube-proxy renders them; no cluster, no root); with --kubeconfig, any cluster's objects plus --node-rules captured on its nodes. Exit status 0 when delivered, 3 when dropped or rejected (computed or observed), 4 when observed and computed paths differ, 1 on bad input.",
    )
    .option('-f, --filename <file-or-dir>', 'offline: YAML of Nodes (InternalIP, podCIDR), Pods (status.podIP), Services, EndpointSlices, and as needed Namespaces, Ingresses, IngressClasses, NetworkPolicies, Secrets (repeatable; - for stdin)', collect, [] as string[])
    .option('--name <lab>', 'the lab to trace in (default: the only lab running)')
    .option('--kubeconfig <file>', "another cluster: its objects from this kubeconfig's API server, each node's rules from --node-rules")
    .option('--node-rules <node=file>', "a node's rules as captured there: `iptables-save > FILE`, `nft -j list ruleset > FILE`, and for the nft rules' text `nft -a list ruleset > FILE` (repeatable, also for one node; with --kubeconfig or -f)", collect, [] as string[])
    .option('--observe', 'in a lab: send one probe of the connection from the source (a fixed source port), trace its packets with a narrow nftrace rule and nft monitor trace in every namespace the path may cross plus conntrack -E on the nodes (all removed on exit), and compare')
    .requiredOption('--from <source>', "client (the lab's client, 192.168.49.100), node/NAME or pod/NAMESPACE/NAME")
    .requiredOption('--to <destination>', 'a URL (http://HOST[:PORT]/PATH, https://…), HOST:PORT (a name or an address) or svc/NAMESPACE/NAME[:PORT]')
    .addOption(new Option('--protocol <protocol>', 'transport protocol').choices(['tcp', 'udp']).default('tcp'))
    .addOption(new Option('--mode <mode>', "kube-proxy's mode on every node (-f: the rules rendered, default iptables; --kubeconfig: default from the kube-proxy ConfigMap)").choices(['iptables', 'nftables', 'ipvs', 'userspace']))
    .addOption(new Option('--cni-backend <backend>', 'how nodes route pod traffic between them (-f and --kubeconfig; default host-gw)').choices(['host-gw', 'vxlan', 'bgp']))
    .option('--endpoint <pod-or-ip>', 'where the kernel or nginx picks an endpoint at random, follow this one (NAMESPACE/POD or IP; repeatable); default: the first candidate, or with --observe the one the kernel took', collect, [] as string[])
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'mermaid']).default('text'))
    .action(async (o: TraceFlags) => {
      const kind = source(o);
      const req = { from: o.from, to: o.to, protocol: o.protocol, prefer: o.endpoint };
      const plan = { underlayCIDR, routerIP, clientIP, clusterCIDR, serviceCIDR, clusterDNS, clusterDomain: 'cluster.local', cniBackend: o.cniBackend ?? 'host-gw' };
      let t: Trace;
      if (kind === 'lab') {
        t = await (await import('../lab/trace.ts')).labTrace({ ...(o.name ? { name: o.name } : {}), observe: o.observe === true }, req);
      } else if (kind === 'file' && !o.nodeRules.length) {
        const { readTraceState, traceObjects } = await import('../trace/offline.ts');
        t = traceObjects(readTraceState(o.filename), plan, o.mode ?? 'iptables', req);
      } else {
        const kernel = await readNodeRuleFiles(o.nodeRules);
        const { ClusterIndex } = await import('../trace/cluster.ts');
        const { kernelTrace } = await import('../trace/kernel.ts');
        let objects;
        let mode = o.mode;
        let podNetwork: string | undefined;
        let scheduler: string | undefined;
        if (kind === 'file') objects = (await import('../trace/offline.ts')).readTraceState(o.filename);
        else {
          const { Client, loadConfig } = await import('../client/client.ts');
          const { readClusterObjects, readProxyConfig } = await import('../trace/live.ts');
          const client = new Client(loadConfig(o.kubeconfig));
          try {
            const [objs, proxy] = await Promise.all([readClusterObjects(client), readProxyConfig(client)]);
            objects = objs;
            mode ??= proxy?.mode;
            podNetwork = proxy?.clusterCIDR;
            scheduler = proxy?.scheduler;
          } finally {
            client.close();
          }
        }
        t = kernelTrace({ ix: new ClusterIndex(objects, { ...plan, clusterCIDR: podNetwork ?? clusterCIDR }), mode: mode ?? 'iptables', kernel, ...(scheduler ? { scheduler } : {}) }, req);
      }
      const render = o.output === 'json' ? (await import('../trace/json.ts')).traceJSON : o.output === 'mermaid' ? (await import('../trace/mermaid.ts')).traceMermaid : (await import('../trace/text.ts')).traceText;
      process.stdout.write(render(t));
      const observedBad = t.observed && t.observed.verdict !== 'delivered';
      if (t.verdict !== 'delivered' || observedBad) process.exitCode = 3;
      else if (t.observed?.differences.length) process.exitCode = 4;
    });
}
