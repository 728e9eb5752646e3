// The lab's component processes: each runs in the foreground until SIGTERM/SIGINT.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { defaultProxyMode, proxyModes, validateFlags, type ProxyFlags, type ProxyMode } from '../proxy/config.ts';
import { parseHostPort } from '../util/ip.ts';
import type { CniBackend } from '../cni/routes.ts';
import { clusterCIDR, clusterDNS, loadBalancerPool } from '../lab/defaults.ts';
import { daemonNodeFlags } from '../util/nodeflags.ts';
import { onStop } from '../util/lifecycle.ts';

const log = (component: string) => (line: string) => process.stderr.write(`${new Date().toISOString()} ${component}: ${line}\n`);

/** A Go-style duration: 1s, 500ms, 1m30s. */
function durationMs(s: string): number {
  let ms = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let m: RegExpExecArray | null;
  let seen = '';
  while ((m = re.exec(s))) {
    ms += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    seen += m[0];
  }
  if (!seen || seen !== s) throw new Error(`invalid duration ${JSON.stringify(s)} (examples: 1s, 500ms, 1m30s)`);
  return ms;
}

const hostPort = (s: string, flag = 'address') => parseHostPort(s, flag);

/** A Go-style boolean flag: given alone it is true, or =true / =false. */
const boolFlag = (flag: string) => (v: string) => {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new InvalidArgumentError(`${flag} is true or false, not ${JSON.stringify(v)}`);
};

export function addDaemonCommands(program: Command): void {
  program
    .command('controller-manager')
    .description('Run the controllers (deployment, replicaset, daemonset, endpointslice, endpoints, node-ipam, loadbalancer IPs, and with a signing CA Ingress certificates as cert-manager issues them) against an API server.')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--cluster-cidr <cidr>', 'pod network of the cluster', clusterCIDR)
    .option('--node-cidr-mask-size <n>', 'prefix length of each node\'s pod CIDR', '24')
    .option('--load-balancer-pool <first-last>', 'addresses for LoadBalancer Services (empty: none)', loadBalancerPool)
    .option('--cluster-signing-cert-file <file>', 'PEM CA certificate that signs the TLS Secrets of Ingresses annotated cert-manager.io/cluster-issuer (with --cluster-signing-key-file)')
    .option('--cluster-signing-key-file <file>', 'PEM private key of --cluster-signing-cert-file')
    .option('--use-service-account-credentials [bool]', 'each controller acts as its own service account kube-system/NAME (bound to ClusterRole system:controller:NAME), with a token renewed through the TokenRequest API; the manager\'s own credential only makes those and watches', boolFlag('--use-service-account-credentials'), false)
    .option('--scheduler-kubeconfig <file>', "also run the scheduler in this process, with this kubeconfig's identity (as k3s runs its control plane: one process less, about 12 MiB and a third of a CPU-second at start)")
    .action(async (o: { kubeconfig?: string; clusterCidr: string; nodeCidrMaskSize: string; loadBalancerPool: string; clusterSigningCertFile?: string; clusterSigningKeyFile?: string; useServiceAccountCredentials: boolean; schedulerKubeconfig?: string }) => {
      const { runControllerManager } = await import('../controllers/manager.ts');
      if (o.schedulerKubeconfig) {
        const { runScheduler } = await import('../scheduler/server.ts');
        onStop(await runScheduler({ kubeconfig: o.schedulerKubeconfig, log: log('scheduler') }));
      }
      const stop = await runControllerManager({
        ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
        clusterCIDR: o.clusterCidr,
        nodeCIDRMaskSize: Number(o.nodeCidrMaskSize),
        loadBalancerPool: o.loadBalancerPool,
        ...(o.clusterSigningCertFile ? { clusterSigningCertFile: o.clusterSigningCertFile } : {}),
        ...(o.clusterSigningKeyFile ? { clusterSigningKeyFile: o.clusterSigningKeyFile } : {}),
        useServiceAccountCredentials: o.useServiceAccountCredentials,
        log: log('controller-manager'),
      });
      onStop(stop);
    });

  program
    .command('scheduler')
    .description('Run the scheduler (binds pending pods to Ready nodes, spreading replicas).')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .action(async (o: { kubeconfig?: string }) => {
      const { runScheduler } = await import('../scheduler/server.ts');
      const stop = await runScheduler({ ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), log: log('scheduler') });
      onStop(stop);
    });

  program
    .command('agent')
    .description("Run a node agent (the kubelet's job): registers the node, runs its pods in network namespaces wired by CNI, and serves on port 10250 over HTTPS their logs, exec/attach/port-forward and the Summary API (/stats/summary, measured every 15 s) to clients with a certificate of --client-ca-file or a bearer token the API server's TokenReview accepts, as its SubjectAccessReview for nodes/proxy (nodes/stats for /stats) allows. It answers on eth0 for the LoadBalancer IPs it is chosen for, and learns which nodes are alive from the other agents' heartbeats (UDP 7946 on --node-ip).")
    .requiredOption('--node-name <name>', 'name of the Node')
    .requiredOption('--node-ip <ip>', "the node's InternalIP")
    .requiredOption('--state-dir <dir>', 'directory for pod state, logs and IPAM')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--pod-netns-prefix <prefix>', 'prefix of pod network namespace names', 'pp-pod-')
    .option('--control-plane', 'label the node as control plane')
    .option('--cluster-dns <ip>', 'nameserver written into pods\' resolv.conf', clusterDNS)
    .option('--resolv-conf <file>', "the node's resolv.conf: what dnsPolicy Default pods get, and the search domains ClusterFirst appends", '/etc/resolv.conf')
    .option('--cluster-domain <domain>', 'cluster DNS domain', 'cluster.local')
    .option('--cni-backend <backend>', "the network daemon's backend (host-gw, vxlan or bgp): under vxlan the pod bridge's MTU leaves room for the outer headers; it names the configuration list 10-<backend>.conflist", 'host-gw')
    .option('--cni-conf-dir <dir>', "where the node's CNI configuration list is written (default: --state-dir)")
    .option('--tls-cert-file <file>', 'PEM serving certificate of port 10250 (default: a self-signed one kept in STATE-DIR/pki)')
    .option('--tls-private-key-file <file>', 'PEM private key of --tls-cert-file')
    .option('--client-ca-file <file>', "PEM CA bundle: a client certificate it signed authenticates as its CN in the groups of its O (the API server's --kubelet-client-certificate)")
    .action(async (o: { nodeName: string; nodeIp: string; stateDir: string; kubeconfig?: string; podNetnsPrefix: string; controlPlane?: boolean; clusterDns: string; resolvConf: string; clusterDomain: string; cniBackend: string; tlsCertFile?: string; tlsPrivateKeyFile?: string; clientCaFile?: string; cniConfDir?: string }) => {
      const { cniBackends } = await import('../cni/routes.ts');
      if (!(cniBackends as string[]).includes(o.cniBackend)) throw new Error(`--cni-backend must be ${cniBackends.join(', ')}, not ${o.cniBackend}`);
      const { NodeAgent } = await import('../agent/agent.ts');
      const agent = new NodeAgent({
        ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
        nodeName: o.nodeName,
        nodeIP: o.nodeIp,
        stateDir: path.resolve(o.stateDir),
        podNetnsPrefix: o.podNetnsPrefix,
        controlPlane: Boolean(o.controlPlane),
        clusterDNS: o.clusterDns,
        resolvConf: o.resolvConf,
        clusterDomain: o.clusterDomain,
        cniBackend: o.cniBackend as CniBackend,
        ...(o.cniConfDir ? { cniConfDir: path.resolve(o.cniConfDir) } : {}),
        ...(o.tlsCertFile ? { tlsCertFile: path.resolve(o.tlsCertFile) } : {}),
        ...(o.tlsPrivateKeyFile ? { tlsPrivateKeyFile: path.resolve(o.tlsPrivateKeyFile) } : {}),
        ...(o.clientCaFile ? { clientCAFile: path.resolve(o.clientCaFile) } : {}),
        underlayDevice: 'eth0',
        podpathArgv: [process.execPath, ...daemonNodeFlags, process.argv[1]!],
        log: log(`agent ${o.nodeName}`),
      });
      await agent.start();
      onStop(() => agent.stop());
    });

  program
    .command('flanneld')
    .description("Run the node's network daemon, as flannel's flanneld with --kube-subnet-mgr: takes the node's pod CIDR from its Node, annotates the Node with its backend, and keeps host-gw routes or the VXLAN device and per-peer entries to every other node's pod CIDR (in a lab, the DaemonSet kube-system/kube-flannel-ds).")
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--node-name <name>', 'the Node this daemon runs on (default: $NODE_NAME)')
    .option('--net-config-path <file>', 'net-conf.json: {"Network": CIDR, "Backend": {"Type": "host-gw"|"vxlan"}}', '/etc/kube-flannel/net-conf.json')
    .option('--ip-masq', 'masquerade pod traffic leaving the pod network')
    .option('--kube-subnet-mgr', "take the pod CIDR from the Node (the only subnet manager; accepted for flannel's manifests)")
    .action(async (o: { kubeconfig?: string; nodeName?: string; netConfigPath: string; ipMasq?: boolean }) => {
      const nodeName = o.nodeName ?? process.env.NODE_NAME;
      if (!nodeName) throw new Error('flanneld: --node-name or $NODE_NAME is required');
      const { parseNetConf } = await import('../cni/netconf.ts');
      const netConf = parseNetConf(fs.readFileSync(o.netConfigPath, 'utf8'), o.netConfigPath);
      const { runDaemon } = await import('../cni/daemon.ts');
      const d = await runDaemon({ ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), nodeName, netConf, ipMasq: Boolean(o.ipMasq), log: log(`flanneld ${nodeName}`) });
      onStop(() => d.stop());
    });

  program
    .command('calico-node')
    .description("Run the node's BGP daemon, as Calico's calico-node runs BIRD: renders bird.conf from the Nodes (this node's pod CIDR originated; a session to every other node — the node-to-node mesh — or with --route-reflector only to the first node, which reflects), starts a real BIRD in this namespace (bird -f -c DIR/bird.conf -s DIR/bird.ctl) and reloads it with `birdc configure` when Nodes join or leave; BIRD installs the learned routes in the kernel (proto bird). In a lab, the DaemonSet kube-system/calico-node.")
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--node-name <name>', 'the Node this daemon runs on (default: $NODE_NAME)')
    .option('--bird-dir <dir>', "BIRD's directory: a subdirectory per node holds bird.conf and the control socket bird.ctl", '/var/run/calico/bird')
    .option('--cluster-cidr <cidr>', 'the pod network (Calico\'s IP pool; what --ip-masq leaves alone)', clusterCIDR)
    .option('--as-number <n>', 'the AS number of every node (one iBGP AS, as Calico\'s default)', '64512')
    .option('--route-reflector', 'peer only with the first node (by address), which reflects routes to the others, instead of the full node-to-node mesh')
    .option('--hold-time <s>', 'BGP hold time: a peer silent this long is down and its routes withdrawn', '9')
    .option('--keepalive-time <s>', 'BGP keepalive interval', '3')
    .option('--connect-retry-time <s>', 'seconds between attempts to reach a peer that is down', '2')
    .option('--ip-masq', 'masquerade pod traffic leaving the pod network (Calico\'s natOutgoing)')
    .action(async (o: { kubeconfig?: string; nodeName?: string; birdDir: string; clusterCidr: string; asNumber: string; routeReflector?: boolean; holdTime: string; keepaliveTime: string; connectRetryTime: string; ipMasq?: boolean }) => {
      const nodeName = o.nodeName ?? process.env.NODE_NAME;
      if (!nodeName) throw new Error('calico-node: --node-name or $NODE_NAME is required');
      const num = (flag: string, v: string, min: number, max: number) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < min || n > max) throw new Error(`calico-node: ${flag} must be an integer from ${min} to ${max}, not ${v}`);
        return n;
      };
      const holdSeconds = num('--hold-time', o.holdTime, 3, 65535);
      const keepaliveSeconds = num('--keepalive-time', o.keepaliveTime, 1, 65535);
      if (keepaliveSeconds * 3 > holdSeconds) throw new Error(`calico-node: --keepalive-time ${keepaliveSeconds} must be at most a third of --hold-time ${holdSeconds}`);
      const { runBgpDaemon } = await import('../cni/bgp.ts');
      const d = await runBgpDaemon({
        ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
        nodeName,
        dir: path.join(o.birdDir, nodeName),
        clusterCIDR: o.clusterCidr,
        bird: { asNumber: num('--as-number', o.asNumber, 1, 4294967295), routeReflector: Boolean(o.routeReflector), timers: { holdSeconds, keepaliveSeconds, connectRetrySeconds: num('--connect-retry-time', o.connectRetryTime, 1, 65535) } },
        ipMasq: Boolean(o.ipMasq),
        log: log(`calico-node ${nodeName}`),
      });
      onStop(() => d.stop());
      // BIRD gone on its own: the daemon stops too, so the pod's restart starts both again.
      void d.failed.then(async (why) => {
        log(`calico-node ${nodeName}`)(`${why}; exiting`);
        await d.stop();
        process.exit(1);
      });
    });

  // The flags `proxy` and `proxy render` share, with kube-proxy's names and defaults.
  const proxyOptions = (c: Command) =>
    c
      .addOption(new Option('--mode <mode>', 'iptables or nftables rules, the userspace proxy, or IPVS (rendered; applied only where the kernel has it)').choices(proxyModes).default(defaultProxyMode))
      // kube-proxy's own spelling of the same flag
      .addOption(new Option('--proxy-mode <mode>').choices(proxyModes).hideHelp())
      .option('--ipvs-scheduler <name>', 'userspace and IPVS modes: the scheduler (rr, wrr, lc, wlc, sh, dh, sed, nq); a Service may choose its own with the proxy.podpath.dev/scheduler annotation', 'rr')
      // a shorter spelling of the same flag
      .addOption(new Option('--scheduler <name>').hideHelp())
      .option('--udp-timeout <duration>', 'userspace mode: idle UDP sessions end after this long', '250ms')
      .option('--ipvs-strict-arp', 'userspace and IPVS modes: arp_ignore=1 and arp_announce=2, so the node answers no ARP for the Service IPs on kube-ipvs0 (needed beside a layer-2 LoadBalancer announcer)')
      .option('--cluster-cidr <cidr>', 'pod network: ClusterIP traffic from outside it is masqueraded (detect-local-mode ClusterCIDR)')
      .option('--masquerade-all', 'masquerade all traffic to ClusterIPs')
      .option('--masquerade-bit <n>', 'bit of the fwmark that marks traffic to masquerade', '14')
      .option('--nodeport-addresses <cidrs>', 'comma-separated CIDRs (or "primary") of the addresses NodePorts answer on (default: iptables all local addresses, nftables primary)')
      .option('--iptables-localhost-nodeports <bool>', 'iptables mode: NodePorts answer on 127.0.0.0/8 too', 'true')
      .option('--service-cidr <cidrs>', 'comma-separated Service CIDRs (nftables mode drops traffic to their unallocated addresses)')
      .option('--config <file>', 'a KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) file: mode, clusterCIDR, ipvs.scheduler, ipvs.strictARP, sync periods, …; flags given on the command line win');
  /** Settings from --config fill in every option not given on the command line. */
  const applyConfigFile = async (o: ProxyCliFlags & Record<string, unknown>, cmd: Command): Promise<void> => {
    if (!o.config) return;
    const { readKubeProxyConfig } = await import('../proxy/configfile.ts');
    const fromCli = (k: string) => cmd.getOptionValueSource(k) === 'cli';
    for (const [k, v] of Object.entries(readKubeProxyConfig(o.config))) {
      if (fromCli(k) || (k === 'mode' && fromCli('proxyMode'))) continue;
      o[k] = v;
      if (k === 'mode') delete o.proxyMode;
    }
  };
  type ProxyCliFlags = { config?: string; mode: ProxyMode; proxyMode?: ProxyMode; ipvsScheduler: string; scheduler?: string; ipvsStrictArp?: boolean; udpTimeout: string; clusterCidr?: string; masqueradeAll?: boolean; masqueradeBit: string; nodeportAddresses?: string; iptablesLocalhostNodeports: string; serviceCidr?: string };
  const list = (s: string | undefined) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : []);
  const proxyFlags = (o: ProxyCliFlags): ProxyFlags => ({
    ...(o.clusterCidr ? { clusterCIDR: o.clusterCidr } : {}),
    masqueradeAll: Boolean(o.masqueradeAll),
    masqueradeBit: Number(o.masqueradeBit),
    localhostNodePorts: o.iptablesLocalhostNodeports !== 'false',
    nodePortAddresses: list(o.nodeportAddresses),
    ...(o.serviceCidr ? { serviceCIDRs: list(o.serviceCidr) } : {}),
    scheduler: o.scheduler ?? o.ipvsScheduler,
    strictARP: Boolean(o.ipvsStrictArp),
    udpTimeoutMs: durationMs(o.udpTimeout),
  });

  const proxy = proxyOptions(
    program
      .command('proxy')
      .description("Run kube-proxy for one node: Services and EndpointSlices become the node's iptables or nftables rules, the userspace proxy's listeners (keeping client addresses for externalTrafficPolicy Local), or the IPVS table with its ipsets and rules.")
      .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
      .option('--node-name <name>', 'the Node this proxy runs on', os.hostname())
      // kube-proxy's own name for it (kubeadm's DaemonSet passes --hostname-override=$(NODE_NAME))
      .addOption(new Option('--hostname-override <name>', 'the Node this proxy runs on (kube-proxy\'s name for --node-name)'))
      .option('--min-sync-period <duration>', 'least time between syncs', '1s')
      .option('--sync-period <duration>', 'time between periodic syncs', '30s')
      .option('--healthz-bind-address <host:port>', '/healthz and /livez', '0.0.0.0:10256')
      .option('--metrics-bind-address <host:port>', 'Prometheus /metrics', '127.0.0.1:10249')
      // `proxy render` has the same flags: options after `render` belong to it.
      .enablePositionalOptions(),
  ).action(async (o: ProxyCliFlags & { kubeconfig?: string; nodeName: string; hostnameOverride?: string; minSyncPeriod: string; syncPeriod: string; healthzBindAddress: string; metricsBindAddress: string }, cmd: Command) => {
    await applyConfigFile(o, cmd);
    if (o.hostnameOverride) o.nodeName = o.hostnameOverride;
    const flags = proxyFlags(o);
    validateFlags(flags);
    const mode = o.proxyMode ?? o.mode;
    const { proxyPreflight } = await import('../proxy/app/modes.ts');
    const missing = proxyPreflight(mode);
    if (missing.length) throw new Error(`cannot run kube-proxy in ${mode} mode, missing:\n  - ${missing.join('\n  - ')}`);
    const { ProxyServer } = await import('../proxy/app/server.ts');
    const server = new ProxyServer({
      ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
      mode,
      nodeName: o.nodeName,
      flags,
      minSyncPeriodMs: durationMs(o.minSyncPeriod),
      syncPeriodMs: durationMs(o.syncPeriod),
      ...(o.healthzBindAddress ? { healthz: hostPort(o.healthzBindAddress, '--healthz-bind-address') } : {}),
      ...(o.metricsBindAddress ? { metrics: hostPort(o.metricsBindAddress, '--metrics-bind-address') } : {}),
      log: log(`kube-proxy ${o.nodeName}`),
    });
    await server.start();
    onStop(() => server.stop());
  });
  proxyOptions(
    proxy
      .command('render')
      .description('Print what a full sync would apply on a node (the iptables-restore input, the nft -f transaction, or for IPVS the addresses, ipvsadm-save table, ipsets and iptables rules), from a file of Services and EndpointSlices. No cluster, no root.')
      .requiredOption('-f, --filename <file-or-dir>', 'multi-document YAML of Services, EndpointSlices and Nodes, or a directory of them (repeatable; - for stdin)', (v: string, acc: string[]) => [...acc, v], [] as string[])
      .option('--node-name <name>', 'the node whose rules are rendered (decides which endpoints are local)', 'node')
      .option('--node-ip <ip>', "the node's primary IP (nftables mode's NodePort address; LoadBalancer source ranges)"),
  ).action(async (o: ProxyCliFlags & { filename: string[]; nodeName: string; nodeIp?: string }, cmd: Command) => {
    await applyConfigFile(o, cmd);
    const { render } = await import('../proxy/app/render.ts');
    process.stdout.write(render(o.filename, { mode: o.proxyMode ?? o.mode, nodeName: o.nodeName, ...(o.nodeIp ? { nodeIP: o.nodeIp } : {}), config: proxyFlags(o) }));
  });

  // The flags `dns` and `dns serve` share (CoreDNS's kubernetes plugin options, as flags).
  const dnsOptions = (c: Command, listen: string, probes: boolean) =>
    c
      .option('--listen <addr:port>', 'UDP and TCP address to answer on', listen)
      .option('--zone <domain>', 'the cluster domain', 'cluster.local')
      .addOption(new Option('--pods <mode>', 'pod records a-b-c-d.<ns>.pod.<zone>').choices(['disabled', 'insecure', 'verified']).default('disabled'))
      .option('--ttl <seconds>', 'TTL of the answers (0–3600)', '5')
      .option('--upstream <addrs>', 'comma-separated resolvers for names outside the zone (ADDR[:PORT]; "none": SERVFAIL) (default: the nameservers of --resolv-conf)')
      .option('--resolv-conf <file>', 'where the upstream resolvers are read from', '/etc/resolv.conf')
      .option('--health-addr <addr:port>', 'HTTP /health ("off": none)', probes ? ':8080' : 'off')
      .option('--ready-addr <addr:port>', 'HTTP /ready, 200 once the informers have synced ("off": none)', probes ? ':8181' : 'off')
      .option('--metrics-addr <addr:port>', 'Prometheus /metrics ("off": none)', probes ? ':9153' : 'off');
  type DnsCliFlags = { listen: string; zone: string; pods: string; ttl: string; upstream?: string; resolvConf: string; healthAddr: string; readyAddr: string; metricsAddr: string };
  const dnsFlags = (o: DnsCliFlags) => ({ listen: o.listen, zone: o.zone, pods: o.pods, ttl: o.ttl, resolvConf: o.resolvConf, health: o.healthAddr, ready: o.readyAddr, metrics: o.metricsAddr, ...(o.upstream !== undefined ? { upstream: o.upstream } : {}) });
  const dns = dnsOptions(
    program
      .command('dns')
      .description('Run the cluster DNS (CoreDNS with its kubernetes plugin): Services, EndpointSlices, Pods and Namespaces answered per the Kubernetes DNS specification; other names forwarded upstream.')
      .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
      .enablePositionalOptions(),
    ':53',
    true,
  ).action(async (o: DnsCliFlags & { kubeconfig?: string }) => {
    const { runDns } = await import('../dns/dns.ts');
    const running = await runDns({ ...dnsFlags(o), ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}) }, log('dns'));
    onStop(() => running.close());
  });
  dnsOptions(
    dns
      .command('serve')
      .description('Answer DNS from a file of Services, EndpointSlices, Pods and Namespaces, with no cluster and no root (the same answers as `podpath dns`).')
      .requiredOption('-f, --filename <file-or-dir>', 'multi-document YAML of the objects, or a directory of them (repeatable; - for stdin)', (v: string, acc: string[]) => [...acc, v], [] as string[]),
    '127.0.0.1:5353',
    false,
  ).action(async (o: DnsCliFlags & { filename: string[] }) => {
    const { serveFromFiles } = await import('../dns/dns.ts');
    const running = await serveFromFiles(o.filename, dnsFlags(o), log('dns'));
    onStop(() => running.close());
  });

  proxy
    .command('ipvsadm')
    .description("A lab node's IPVS table in `ipvsadm -Ln` format: live, with connection counts, in userspace mode (podpath is the one balancing); in the other modes what IPVS mode would program.")
    .option('--name <name>', 'lab name (default: the only lab)')
    .option('--node <name>', 'the node (default: the first)')
    .option('--stats', 'per-server totals (ipvsadm -Ln --stats: connections and bytes; a userspace proxy sees no packets, so those columns are 0)')
    .option('-c, --connections', 'the connection entries (ipvsadm -Lnc)')
    .action(async (o: { name?: string; node?: string; stats?: boolean; connections?: boolean }) => {
      const { ipvsadm } = await import('./lab.ts');
      process.exitCode = ipvsadm(o.name, o.node, o);
    });

  const image = program.command('image').description("Built-in container images (run inside pods by the node agent).");
  image
    .command('echo')
    .description('The seeds\' app: /health, /api/v1/* (who served, who asked), /metrics; on every --port, and a UDP echo on every --udp-port.')
    .option('--port <port>', 'TCP port to serve HTTP on (repeatable; default 8080)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--message <text>', 'add "message" to /api/v1/* answers')
    .option('--udp-port <port>', 'answer UDP datagrams on this port (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(async (o: { port: string[]; message?: string; udpPort: string[] }) => {
      const { startEcho, startUdpEcho } = await import('../images/echo.ts');
      const tcp = [...new Set(o.port.length ? o.port : ['8080'])];
      const servers = tcp.map((p) => startEcho({ port: Number(p), ...(o.message !== undefined ? { message: o.message } : {}) }));
      const udp = [...new Set(o.udpPort)].map((p) => startUdpEcho(Number(p)));
      onStop(() => {
        for (const s of servers) s.close();
        for (const u of udp) u.close();
      });
    });

  program
    .command('lab-resolver', { hidden: true })
    .description("The lab's upstream DNS resolver: the lab's hosts (zone lab), with --kubeconfig the names the cluster publishes (Ingress hosts, LoadBalancer Services' external-dns hostname annotation), REFUSED for other names.")
    .requiredOption('--listen <host:port>', 'UDP address')
    .option('--host <name=ip>', 'a host of the lab (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--kubeconfig <file>', "the cluster whose Ingresses and LoadBalancer Services get public names (as external-dns publishes them)")
    .action(async (o: { listen: string; host: string[]; kubeconfig?: string }) => {
      const { startLabResolver, watchPublicNames } = await import('../lab/resolver.ts');
      const { host, port } = hostPort(o.listen);
      const published = o.kubeconfig ? watchPublicNames(o.kubeconfig, log('resolver')) : undefined;
      const s = startLabResolver(host, port, new Map(o.host.map((h) => h.split('=') as [string, string])), log('resolver'), published?.current);
      onStop(() => {
        published?.stop();
        s.close();
      });
    });

  program
    .command('forward', { hidden: true })
    .description('Listen on a unix socket and connect each connection to HOST:PORT from this namespace.')
    .requiredOption('--listen-unix <path>', 'unix socket to listen on')
    .requiredOption('--to <host:port>', 'address to connect to')
    .action(async (o: { listenUnix: string; to: string }) => {
      const { host, port } = hostPort(o.to);
      const { forwarder } = await import('../lab/tunnel.ts');
      const server = await forwarder(o.listenUnix, host, port);
      onStop(() => {
        server.close();
        fs.rmSync(o.listenUnix, { force: true });
      });
    });
}
