// The podpath command line.
import { Command, Option } from 'commander';
import path from 'node:path';
import { addDaemonCommands } from './daemons.ts';
import { addDiagnoseCommands } from './diagnose.ts';
import { addGatewayCommands } from './gateway.ts';
import { addIngressCommands } from './ingress.ts';
import { addNetpolCommands } from './netpol.ts';
import { addTraceCommands } from './trace.ts';
import { addUICommands } from './ui.ts';
import { labProxyModes, serviceCIDR } from '../lab/defaults.ts';
import { defaultProxyMode } from '../proxy/config.ts';
import { parseGoDuration } from '../api/duration.ts';

// Each command loads its modules when it runs: a pod's built-in image should not pay for the
// API server's schema at start-up.
const labCli = () => import('./lab.ts');

const program = new Command();
program
  .name('podpath')
  .description('Kubernetes service networking, from the user to the Pod, running for real on one Linux machine.')
  .version('0.1.0')
  .showHelpAfterError()
  // Options after a subcommand belong to it (`proxy` and `proxy render` share flag names).
  .enablePositionalOptions();

program
  .command('up')
  .description('Build a lab (underlay, nodes, client namespace; API server, controllers, scheduler, node agents), apply manifests, wait for their pods to be Ready.')
  .option('-f, --filename <file-or-dir>', 'manifests to apply (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--name <name>', 'lab name (network namespaces are named pp-<name>-...)', 'podpath')
  .option('--nodes <n>', 'number of nodes', '1')
  .addOption(new Option('--cni-backend <backend>', "how nodes reach each other's pod CIDRs: host-gw routes or a VXLAN overlay kept by flannel's DaemonSet kube-system/kube-flannel-ds, or routes learned over BGP from a real BIRD on every node, Calico's DaemonSet kube-system/calico-node (bgp needs Debian's bird2)").choices(['host-gw', 'vxlan', 'bgp']).default('host-gw'))
  .option('--bgp-route-reflector', 'with --cni-backend bgp: every node peers only with the first node, which reflects the routes (as Calico recommends past ~50 nodes), instead of the full node-to-node mesh')
  .addOption(new Option('--proxy-mode <mode>', 'kube-proxy mode on every node (none: no Service rules; ipvs needs a kernel with IPVS)').choices([...labProxyModes]).default(defaultProxyMode))
  .option('--proxy-config <file>', "kube-proxy's KubeProxyConfiguration file for every node (its mode is the lab's unless --proxy-mode is given); `podpath restart proxy-NODE` rereads it")
  .option('--no-dns', 'leave out the cluster DNS (CoreDNS, the kube-dns Service at 10.96.0.10); it needs a proxy mode')
  .option('--no-ingress', 'leave out the Ingress controller (ingress-nginx: namespace ingress-nginx, a real nginx behind the LoadBalancer Service ingress-nginx-controller, IngressClass nginx); it needs a proxy mode')
  .option('--no-gateway', 'leave out the Gateway API (its standard-channel CRDs, the GatewayClass podpath, and its controller: namespace podpath-gateway, a real nginx; each Gateway gets a LoadBalancer Service and address of its own); it needs a proxy mode')
  .option('--no-netpol', 'leave out the NetworkPolicy agent (the DaemonSet kube-system/podpath-netpol running `podpath netpol agent` on every node): policies are then stored but not enforced')
  .option('--dns-upstream <addrs>', "where the cluster DNS forwards names outside cluster.local (ADDR[:PORT],...; default: the node's resolv.conf)")
  .option('--kubeconfig <file>', 'write the kubeconfig here instead of merging it into $KUBECONFIG or ~/.kube/config')
  .option('--timeout <seconds>', 'how long to wait for nodes and pods', '120')
  .option('--keep-on-failure', 'leave a lab that did not come up in place for inspection')
  .action(async (o: { filename: string[]; name: string; nodes: string; cniBackend: 'host-gw' | 'vxlan' | 'bgp'; proxyMode: string; proxyConfig?: string; dns: boolean; netpol: boolean; ingress: boolean; gateway: boolean; dnsUpstream?: string; kubeconfig?: string; timeout: string; keepOnFailure?: boolean; bgpRouteReflector?: boolean }, cmd: Command) => {
    await (await labCli()).up({
      name: o.name,
      nodes: Number(o.nodes),
      cniBackend: o.cniBackend,
      ...(o.bgpRouteReflector ? { bgpRouteReflector: true } : {}),
      proxyMode: o.proxyMode,
      ...(o.proxyConfig ? { proxyConfig: path.resolve(o.proxyConfig), proxyModeGiven: cmd.getOptionValueSource('proxyMode') === 'cli' } : {}),
      dns: o.dns,
      netpol: o.netpol,
      ingress: o.ingress,
      gateway: o.gateway,
      ...(o.dnsUpstream ? { dnsUpstream: o.dnsUpstream } : {}),
      files: o.filename.map((f) => path.resolve(f)),
      ...(o.kubeconfig ? { kubeconfig: path.resolve(o.kubeconfig) } : {}),
      timeoutSeconds: Number(o.timeout),
      keepOnFailure: o.keepOnFailure,
    });
  });

program
  .command('down')
  .description('Remove a lab: every namespace, link, process and file it made (all labs without --name).')
  .option('--name <name>', 'lab name')
  .action(async (o: { name?: string }) => (await labCli()).down(o.name));

const nodeCmd = program.command('node').description('Add or delete nodes of a running lab, as `minikube node add|delete` (the network daemons route to a new node\'s pods and withdraw a deleted node\'s).');
nodeCmd
  .command('add')
  .description("Add a node: its namespace on the underlay, a node agent, and the DaemonSets' pods on it; returns when the Node is Ready with a pod CIDR.")
  .option('--name <name>', 'lab name (default: the only one running)')
  .option('--timeout <seconds>', 'how long to wait for the Node to be Ready', '60')
  .action(async (o: { name?: string; timeout: string }) => {
    const { addNode } = await import('../lab/nodes.ts');
    const { node } = await addNode(o.name, Number(o.timeout) * 1000);
    process.stdout.write(`node ${node.name} ${node.ip} added (namespace ${node.netns})\n`);
  });
nodeCmd
  .command('delete <node>')
  .description("Delete a node (not the first, the control plane): its agent, its pods and namespaces, and its Node.")
  .option('--name <name>', 'lab name (default: the only one running)')
  .action(async (node: string, o: { name?: string }) => {
    const { deleteNode } = await import('../lab/nodes.ts');
    for (const line of await deleteNode(o.name, node)) process.stdout.write(`${line}\n`);
  });

program
  .command('status')
  .description('List labs, their processes and nodes (with --cni-backend bgp, a line per BGP peer of each node, as `calicoctl node status`).')
  .option('--name <name>', 'only this lab')
  .action(async (o: { name?: string }) => (await labCli()).status(o.name));

program
  .command('restart')
  .description('Stop a lab component and start it again as before (e.g. agent-NODE: the node agent adopts its running pods).')
  .argument('<component>', 'apiserver, controller-manager, scheduler, tunnel or agent-NODE (podpath status lists them); proxy-NODE and netpol-NODE delete the node\'s kube-proxy or NetworkPolicy agent pod, as kubectl delete pod does, and wait for the one its DaemonSet makes')
  .option('--name <name>', 'lab name (default: the only lab)')
  .action(async (component: string, o: { name?: string }) => {
    process.stdout.write(`${await (await labCli()).restart(o.name, component)}\n`);
  });

program
  .command('exec')
  .description("Run a command inside a lab: in the client namespace, a node, or a pod (with the pod's /etc/resolv.conf and /etc/hosts), e.g. podpath exec --from pod/default/NAME -- getent hosts kubernetes.default")
  .option('--name <name>', 'lab name (default: the only lab)')
  .option('--from <where>', 'client | node/NAME | pod/NAMESPACE/NAME', 'client')
  .argument('<command...>', 'the command and its arguments (after --)')
  .action(async (argv: string[], o: { name?: string; from: string }) => {
    process.exitCode = await (await labCli()).execIn(o.name, o.from, argv);
  });

program
  .command('ssh')
  .description("A shell in a lab node, as `minikube ssh` gives one: its network namespace (iptables, nft, ipvsadm, conntrack, tcpdump, ip and ss see that node), its resolv.conf and hostname, with a TTY when stdin is a terminal; or run COMMAND there, e.g. podpath ssh -- iptables -t nat -L KUBE-SERVICES -n")
  .option('--name <name>', 'lab name (default: the only lab)')
  .argument('[node]', 'the node (default: the first, the control plane)')
  .argument('[command...]', 'a command and its arguments, after -- (default: a login shell)')
  .action((node: string | undefined, command: string[], o: { name?: string }) => {
    // `podpath ssh -- CMD`: everything after -- is the command, even its first word.
    const raw = process.argv.slice(process.argv.indexOf('ssh') + 1);
    const dashes = raw.indexOf('--');
    const operands = (dashes >= 0 ? raw.slice(0, dashes) : raw).filter((a, i, all) => !a.startsWith('-') && all[i - 1] !== '--name');
    const argv = dashes >= 0 ? raw.slice(dashes + 1) : command;
    const target = dashes >= 0 ? operands[0] : node;
    return labCli().then((l) => {
      process.exitCode = l.ssh(o.name, target, argv);
    });
  });

program
  .command('curl')
  .description('Run curl inside a lab: from the client namespace (the user\'s computer), a node, or a pod.')
  .option('--name <name>', 'lab name (default: the only lab)')
  .option('--from <where>', 'client | node/NAME | pod/NAMESPACE/NAME', 'client')
  .argument('<args...>', 'URL and curl options')
  .allowUnknownOption()
  .action(async (args: string[], o: { name?: string; from: string }) => {
    process.exitCode = await (await labCli()).curl(o.name, o.from, args);
  });

program
  .command('service')
  .description('Open 127.0.0.1:<port> to a Service\'s NodePort on a node and print the URL (as `minikube service --url`); runs until interrupted.')
  .argument('<name>', 'Service name')
  .option('-n, --namespace <ns>', 'namespace', 'default')
  .option('--name <lab>', 'lab name (default: the only lab)')
  .option('--url', 'print the URL only')
  .action(async (svc: string, o: { namespace: string; name?: string }) => {
    const stop = await (await labCli()).service(o.name, svc, o.namespace, (url) => process.stdout.write(`${url}\n`));
    const end = () => {
      stop();
      process.exit(0);
    };
    process.on('SIGINT', end);
    process.on('SIGTERM', end);
  });

/** A file descriptor number given on the command line. */
function fdNumber(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 3) throw new Error(`--listen-fd must be a file descriptor number of 3 or more, not ${JSON.stringify(v)}`);
  return Number(v);
}

program
  .command('apiserver')
  .description('Run a Kubernetes API server (HTTPS, bearer token or client certificate, Node and RBAC authorization, NodeRestriction, durable embedded storage, CustomResourceDefinitions) in the foreground.')
  .requiredOption('--data-dir <dir>', 'directory for storage, certificates and the token')
  .option('--listen <host:port>', 'address to listen on', '127.0.0.1:6443')
  .option('--listen-unix <path>', 'also serve on this unix socket')
  .option('--listen-fd <n>', 'also serve on the listening socket this process inherits as file descriptor N (how podpath up lets the host\'s 127.0.0.1 reach a lab\'s API server)')
  .option('--service-cidr <cidr>', 'range ClusterIPs are allocated from', serviceCIDR)
  .option('--node-port-range <lo-hi>', 'range NodePorts are allocated from', '30000-32767')
  .option('--kubeconfig <file>', 'write a kubeconfig for this server (context "podpath", mode 0600)')
  .addOption(new Option('--advertise-address <ip>', 'address the `kubernetes` Service points at (default: none)'))
  .option('--apply <file>', 'after starting, create or update the objects in this YAML file (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--event-ttl <duration>', 'how long Events are kept after their last write (kube-apiserver\'s --event-ttl)', '1h0m0s')
  .option('--kubelet-client-certificate <file>', "PEM client certificate node agents are dialed with (logs, exec, attach, port-forward, the Metrics API)")
  .option('--kubelet-client-key <file>', 'PEM private key of --kubelet-client-certificate')
  .option('--kubelet-certificate-authority <file>', "PEM CA the agents' serving certificates are verified against (without it they are not verified)")
  .option('--client-ca-file <file>', 'PEM CA whose client certificates authenticate as their CN, in the groups of their O (components and node agents)')
  .option('--unsafe-no-fsync', "write storage without fdatasync, as etcd's flag of the name: a crash of this process loses nothing, a crash of the machine may lose or corrupt what is stored (podpath up gives it: a lab does not outlive the machine's boot)")
  .action(async (o: { unsafeNoFsync?: boolean; dataDir: string; listen: string; listenUnix?: string; listenFd?: string; serviceCidr: string; nodePortRange: string; kubeconfig?: string; advertiseAddress?: string; apply: string[]; eventTtl: string; kubeletClientCertificate?: string; kubeletClientKey?: string; kubeletCertificateAuthority?: string; clientCaFile?: string }) => {
    let eventTTLMs: number;
    try {
      eventTTLMs = parseGoDuration(o.eventTtl);
    } catch (e) {
      throw new Error(`invalid argument ${JSON.stringify(o.eventTtl)} for "--event-ttl" flag: ${(e as Error).message}`);
    }
    await (await import('./apiserver.ts')).runApiServer({
      eventTTLMs,
      apply: o.apply.map((f) => path.resolve(f)),
      dataDir: path.resolve(o.dataDir),
      listen: o.listen,
      serviceCIDR: o.serviceCidr,
      nodePortRange: o.nodePortRange,
      ...(o.listenUnix ? { listenUnix: path.resolve(o.listenUnix) } : {}),
      ...(o.listenFd !== undefined ? { listenFd: fdNumber(o.listenFd) } : {}),
      ...(o.kubeconfig ? { kubeconfig: path.resolve(o.kubeconfig) } : {}),
      ...(o.advertiseAddress ? { advertiseAddress: o.advertiseAddress } : {}),
      ...(o.kubeletClientCertificate ? { kubeletClientCertificate: path.resolve(o.kubeletClientCertificate) } : {}),
      ...(o.kubeletClientKey ? { kubeletClientKey: path.resolve(o.kubeletClientKey) } : {}),
      ...(o.kubeletCertificateAuthority ? { kubeletCertificateAuthority: path.resolve(o.kubeletCertificateAuthority) } : {}),
      ...(o.clientCaFile ? { clientCAFile: path.resolve(o.clientCaFile) } : {}),
      ...(o.unsafeNoFsync ? { unsafeNoFsync: true } : {}),
    });
  });

addDaemonCommands(program);
addNetpolCommands(program);
addIngressCommands(program);
addGatewayCommands(program);
addTraceCommands(program);
addUICommands(program);
addDiagnoseCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`podpath: ${(e as Error).message}\n`);
  process.exit(1);
});
