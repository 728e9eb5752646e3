// `podpath trace`: the computed path of one connection, hop by hop, from a state file of the
// cluster's objects (each node's rules rendered as its kube-proxy would write them).
import { Option, type Command } from 'commander';
import { clientIP, clusterCIDR, clusterDNS, routerIP, serviceCIDR, underlayCIDR } from '../lab/defaults.ts';

const collect = (v: string, acc: string[]) => [...acc, v];

export function addTraceCommands(program: Command): void {
  program
    .command('trace')
    .description(
      "Compute every hop of one connection's path: name resolution (search path, ndots, the record that answered), the route in each network namespace, each node's netfilter rules in hook order (table, chain, rule text, what it did, the Service, EndpointSlice or Pod behind it; every endpoint of a random choice with its probability), the conntrack entry, NetworkPolicy, the Ingress controller's choice, delivery and the reply. Offline from a file of the cluster's objects in the lab's address plan, no cluster, no root. Exit status 0 when delivered, 3 when dropped or rejected, 1 on bad input.",
    )
    .requiredOption('-f, --filename <file-or-dir>', 'YAML of Nodes (InternalIP, podCIDR), Pods (status.podIP), Services, EndpointSlices, and as needed Namespaces, Ingresses, IngressClasses, NetworkPolicies, Secrets (repeatable; - for stdin)', collect, [] as string[])
    .requiredOption('--from <source>', 'client (the lab\'s client, 192.168.49.100), node/NAME or pod/NAMESPACE/NAME')
    .requiredOption('--to <destination>', 'a URL (http://HOST[:PORT]/PATH, https://…), HOST:PORT (a name or an address) or svc/NAMESPACE/NAME[:PORT]')
    .addOption(new Option('--protocol <protocol>', 'transport protocol').choices(['tcp', 'udp']).default('tcp'))
    .addOption(new Option('--mode <mode>', "kube-proxy's mode on every node").choices(['iptables', 'nftables']).default('iptables'))
    .addOption(new Option('--cni-backend <backend>', 'how nodes route pod traffic between them').choices(['host-gw', 'vxlan']).default('host-gw'))
    .option('--endpoint <pod-or-ip>', 'where the kernel or nginx picks an endpoint at random, follow this one (NAMESPACE/POD or IP; repeatable); default: the first candidate', collect, [] as string[])
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'mermaid']).default('text'))
    .action(async (o: { filename: string[]; from: string; to: string; protocol: 'tcp' | 'udp'; mode: string; cniBackend: 'host-gw' | 'vxlan'; endpoint: string[]; output: string }) => {
      const { readTraceState, traceObjects } = await import('../trace/offline.ts');
      const objects = readTraceState(o.filename);
      const plan = { underlayCIDR, routerIP, clientIP, clusterCIDR, serviceCIDR, clusterDNS, clusterDomain: 'cluster.local', cniBackend: o.cniBackend };
      const t = traceObjects(objects, plan, o.mode, { from: o.from, to: o.to, protocol: o.protocol, prefer: o.endpoint });
      const render = o.output === 'json' ? (await import('../trace/json.ts')).traceJSON : o.output === 'mermaid' ? (await import('../trace/mermaid.ts')).traceMermaid : (await import('../trace/text.ts')).traceText;
      process.stdout.write(render(t));
      if (t.verdict !== 'delivered') process.exitCode = 3;
    });
}
