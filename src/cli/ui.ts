// `podpath ui`: the web page of a cluster (a lab's, a kubeconfig's, or a state file's) and of a
// packet's path through it.
import { Option, type Command } from 'commander';
import path from 'node:path';
import { clientIP, clusterCIDR, clusterDNS, routerIP, serviceCIDR, underlayCIDR } from '../lab/defaults.ts';
import type { UIServerOptions } from '../ui/server.ts';

const collect = (v: string, acc: string[]) => [...acc, v];

interface UIFlags {
  name?: string;
  kubeconfig?: string;
  filename: string[];
  nodeRules: string[];
  listen: string;
  mode: string;
  cniBackend?: 'host-gw' | 'vxlan' | 'bgp';
}

export function addUICommands(program: Command): void {
  program
    .command('ui')
    .description(
      "Serve a web page of the cluster and of a packet's path through it: the topology (nodes, pods by node and namespace, Services with their endpoints, Ingresses, NetworkPolicies), live through watches; the path of a connection as a swimlane with the packet as rewritten at each hop, a verdict per layer and each step's rule and object (podpath trace's, whose JSON the page reads: in a lab each node's rules from its kernel, and Observe runs podpath trace --observe, one at a time), with podpath diagnose's finding where it fails; a node's kube-proxy rules as a tree from KUBE-SERVICES (or the nftables services map) down to the endpoints. From the lab (--name, or the only one running), a kubeconfig's cluster, or offline from a file of objects (-f). Loopback only by default; the printed address carries a token every request needs.",
    )
    .option('--name <name>', 'the lab (default: the only one running)')
    .option('--kubeconfig <file>', "a kubeconfig's current context instead of a lab")
    .option('-f, --filename <file-or-dir>', 'offline: YAML of the cluster\'s objects, as podpath trace -f reads them (repeatable; - for stdin)', collect, [] as string[])
    .option('--listen <host:port>', 'where to serve (port 0: a free one)', '127.0.0.1:0')
    .option('--node-rules <node=file>', "offline: a node's rules as captured there, as podpath trace --node-rules reads them (repeatable); the path is traced over them, in --mode as the nodes ran it", collect, [] as string[])
    .addOption(new Option('--mode <mode>', "offline: kube-proxy's mode on every node (live: kube-system/kube-proxy's ConfigMap says); ipvs and userspace with --node-rules").choices(['iptables', 'nftables', 'ipvs', 'userspace']).default('iptables'))
    .addOption(new Option('--cni-backend <backend>', 'how nodes route pod traffic between them (default: the lab\'s, else host-gw)').choices(['host-gw', 'vxlan', 'bgp']))
    .action(async (o: UIFlags) => {
      const { startUIServer, parseListen } = await import('../ui/server.ts');
      const { fileSource, watchSource } = await import('../ui/source.ts');
      const listen = parseListen(o.listen);
      let cniBackend = o.cniBackend ?? 'host-gw';
      let source;
      let label: string;
      let rules;
      let live: Pick<UIServerOptions, 'trace' | 'observe' | 'diagnose'> = {};
      if (o.filename.length) {
        if (o.name || o.kubeconfig) throw new Error('-f is offline: leave out --name and --kubeconfig');
        // the trace's objects and any Events (a probe's failures), as podpath diagnose -f reads them
        const { readDiagnoseState } = await import('../diagnose/offline.ts');
        const { offlineDiagnosis } = await import('../ui/trace.ts');
        const state = readDiagnoseState(o.filename);
        source = fileSource(state.objects, o.mode);
        live = { diagnose: offlineDiagnosis(state.events) };
        if (o.nodeRules.length) {
          // traced as podpath trace -f … --node-rules traces it: over the rules captured on the nodes
          const kernel = await (await import('./trace.ts')).readNodeRuleFiles(o.nodeRules);
          const { ClusterIndex } = await import('../trace/cluster.ts');
          const { kernelTrace } = await import('../trace/kernel.ts');
          live.trace = (i, req) => kernelTrace({ ix: new ClusterIndex(i.objects, i.plan), mode: i.mode, kernel }, req);
        } else if (o.mode !== 'iptables' && o.mode !== 'nftables') throw Object.assign(new Error(`--mode ${o.mode}: the rules are computed for iptables and nftables; for ${o.mode}, give the nodes' captured rules (--node-rules NODE=FILE)`), { code: 'BadFlags' });
        label = o.filename.map((f) => (f === '-' ? 'stdin' : path.basename(f))).join(', ');
      } else {
        if (o.nodeRules.length) throw Object.assign(new Error("--node-rules gives captured rules for -f; a lab's rules are read from its nodes"), { code: 'BadFlags' });
        const { Client, loadConfig } = await import('../client/client.ts');
        let client;
        if (o.kubeconfig) {
          if (o.name) throw new Error('--kubeconfig names the cluster: leave out --name');
          client = new Client(loadConfig(path.resolve(o.kubeconfig), 'podpath-ui'));
          label = o.kubeconfig;
        } else {
          const { pickLab, labClient } = await import('../lab/access.ts');
          const lab = pickLab(o.name);
          client = labClient(lab);
          cniBackend = o.cniBackend ?? lab.cniBackend;
          label = `lab ${lab.name}`;
          // the lab's nodes are namespaces here: their rules (with counters) are read from the kernel
          const { kernelRuleTrees } = await import('../ui/kernel.ts');
          rules = kernelRuleTrees((node) => lab.nodes.find((n) => n.name === node)?.netns);
          // traces as podpath trace --name computes them (each node's rules from its kernel) and
          // observes them (--observe), over the objects the page's watches hold; diagnose with the
          // lab's live facts
          const { labTraceOver } = await import('../lab/trace.ts');
          const { diagnoseLab } = await import('../lab/diagnose.ts');
          live = {
            trace: (i, req) => labTraceOver(lab, i.objects, i.proxy, {}, req),
            observe: (i, req) => labTraceOver(lab, i.objects, i.proxy, { observe: true }, req),
            diagnose: (_i, req) => diagnoseLab(lab.name, req),
          };
        }
        source = await watchSource(client, o.mode);
      }
      const plan = { underlayCIDR, routerIP, clientIP, clusterCIDR, serviceCIDR, clusterDNS, clusterDomain: 'cluster.local', cniBackend };
      const server = await startUIServer({ source, plan, ...listen, ...(rules ? { rules } : {}), ...live });
      if (!['127.0.0.1', '::1', 'localhost'].includes(listen.host)) process.stderr.write(`podpath ui: serving on ${listen.host}, not loopback: anyone who can reach it and has the token can read the cluster's objects\n`);
      process.stdout.write(`podpath ui (${label}): ${server.url}\n`);
      const stop = () => {
        source.stop();
        void server.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
