// `podpath up`: a lab built step by step — the network, the lab CA (and the certificates of the
// API server's connections to the node agents), the API server and the host's tunnel to it, the
// lab's resolver, controllers and scheduler, a node agent per node, kube-proxy
// as the DaemonSet kube-system/kube-proxy — then routes from the client to the pods, the add-ons
// and manifests applied, and waits until nodes, pods and NodePorts are ready. What happens is told to an UpProgress, for the CLI
// to print; a lab that fails to come up is removed (unless kept for inspection).
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Ingress, KubeObject, Node, Pod, Service } from '../api/types.ts';
import { labTimers } from '../cni/bird.ts';
import { cniBackends, type CniBackend } from '../cni/routes.ts';
import { fromSet, matches } from '../api/labels.ts';
import { loadConfig, objectPath, type Client } from '../client/client.ts';
import { ipIn, listNetns } from '../exec/netns.ts';
import { labClient } from './access.ts';
import { announcerRBAC, calicoAddon, dnsAddon, flannelAddon, gatewayAddon, gatewayClass, ingressAddon, netpolAddon, resolverRBAC } from './addons.ts';
import { gatewayCRDs } from '../gateway/crds.ts';
import { kubeProxyAddon, labKubeProxyConfiguration } from './kubeproxy.ts';
import { applyAll, installAddon, readLabManifests } from './apply.ts';
import { clientIP, clusterCIDR, clusterDNS, labProxyModes, routerIP, serviceCIDR, tunnelHost } from './defaults.ts';
import { loadOrCreateCA, type CA } from '../util/pki.ts';
import { loadOrCreateServing, servingSANs } from '../apiserver/certs.ts';
import { publishKubeconfig } from './kubeconfig.ts';
import { componentIdentities, issueKubeletCerts, resolverUser, writeComponentKubeconfigs } from './kubeletcerts.ts';
import { buildNetwork, destroyLab, hostListener, labPaths, preflight, readState, startDaemon, validateLabName, writeState, type LabNode, type LabState } from './lab.ts';
import { waitFor, waitForNodePort, waitForNodes, waitForPods, waitForURL } from './wait.ts';


export interface UpOptions {
  name: string;
  nodes: number;
  cniBackend: CniBackend;
  /** with --cni-backend bgp: the first node is the route reflector instead of a full mesh */
  bgpRouteReflector?: boolean;
  proxyMode: string;
  /** kube-proxy's KubeProxyConfiguration file, passed to every node's proxy */
  proxyConfig?: string;
  /** --proxy-mode was given: it wins over the file's mode */
  proxyModeGiven?: boolean;
  /** the cluster DNS add-on (default on; it needs kube-proxy to reach the API server) */
  dns?: boolean;
  dnsUpstream?: string;
  /** the NetworkPolicy agent on every node (default on) */
  netpol?: boolean;
  /** the Ingress controller add-on (default on; like DNS it needs kube-proxy) */
  ingress?: boolean;
  /** the Gateway API: its CRDs, the GatewayClass podpath and the Gateway controller (default true) */
  gateway?: boolean;
  files: string[];
  kubeconfig?: string;
  timeoutSeconds: number;
  keepOnFailure?: boolean;
}

/** The lab once its pods are Ready. */
export interface UpSummary {
  name: string;
  /** from the start of the build to nodes Ready, pods Running (all, first seen) and pods Ready */
  nodesReadyMs: number;
  podsRunningMs: number;
  podsReadyMs: number;
  nodes: LabNode[];
  clientIP: string;
  /** where kubectl finds the lab */
  kubeconfig: string;
  kubeconfigGiven: boolean;
  context: string;
  apiURL: string;
  pods: Pod[];
  /** the cluster DNS address, when the lab has the DNS add-on */
  clusterDNS?: string;
  /** the lab CA's certificate: it signs Ingress certificates (cert-manager.io/cluster-issuer), podpath curl trusts it */
  labCA: string;
}

/** A Service reachable through a NodePort of the first node, and a path its pods answer. */
export interface NodePortAccess {
  namespace: string;
  name: string;
  url: string;
}

export interface UpProgress {
  /** something the user should know, as it happens */
  note(text: string): void;
  /** an object applied ("RESOURCE/NAME applied") */
  applied(line: string): void;
  /** nodes and pods are Ready */
  up(s: UpSummary): void;
  /** a NodePort with ready pods still refuses connections after the wait */
  nodePortRefusing(url: string): void;
  /** the Services with NodePorts (none without kube-proxy) */
  nodePorts(services: NodePortAccess[], proxyMode: string): void;
  /** the Ingresses the lab's controller serves, with their URLs (when the lab has the controller) */
  ingresses?(list: IngressAccess[]): void;
}

/** An Ingress served by the lab's controller: its address and a URL per host. */
export interface IngressAccess {
  namespace: string;
  name: string;
  /** the controller Service's LoadBalancer IP, as in the Ingress's status */
  address?: string;
  urls: string[];
}

/** The options' own checks, before anything is read or built. */
export function checkUpOptions(o: UpOptions): void {
  if (o.nodes < 1 || o.nodes > 20) throw new Error('--nodes must be between 1 and 20');
  if (!labProxyModes.includes(o.proxyMode)) throw new Error(`--proxy-mode must be ${labProxyModes.slice(0, -1).join(', ')} or none, not ${o.proxyMode}`);
  if (!cniBackends.includes(o.cniBackend)) throw new Error(`--cni-backend must be host-gw, vxlan or bgp, not ${o.cniBackend}`);
  if (o.bgpRouteReflector && o.cniBackend !== 'bgp') throw new Error('--bgp-route-reflector needs --cni-backend bgp');
}

/** The proxy mode of the lab: a --proxy-config file's, unless --proxy-mode was given (the file is read, and refused if bad, here). */
async function proxyModeOf(o: UpOptions): Promise<string> {
  if (!o.proxyConfig) return o.proxyMode;
  const fileMode = (await import('../proxy/configfile.ts')).readKubeProxyConfig(o.proxyConfig).mode;
  return fileMode && !o.proxyModeGiven ? fileMode : o.proxyMode;
}

export async function up(given: UpOptions, progress: UpProgress): Promise<void> {
  validateLabName(given.name);
  const o = { ...given, proxyMode: await proxyModeOf(given) };
  checkUpOptions(o);
  const objs = readLabManifests(o.files);
  const withIngress = (o.ingress ?? true) && o.proxyMode !== 'none';
  const withGateway = (o.gateway ?? true) && o.proxyMode !== 'none';
  const missing = preflight({ proxyMode: o.proxyMode, netpol: o.netpol !== false, ingress: withIngress || withGateway, cniBackend: o.cniBackend });
  if (missing.length) throw new Error(`cannot build a lab, missing:\n  - ${missing.join('\n  - ')}`);
  // The DNS pods reach the API server through the `kubernetes` Service: no proxy, no DNS.
  const withDNS = (o.dns ?? true) && o.proxyMode !== 'none';
  if ((o.dns ?? true) && !withDNS) progress.note('no cluster DNS: CoreDNS reaches the API server through the kubernetes Service, which needs a --proxy-mode');
  if ((o.ingress ?? true) && !withIngress) progress.note('no Ingress controller: it reaches the API server through the kubernetes Service, which needs a --proxy-mode');
  if (readState(o.name) || listNetns().some((n) => n.startsWith(`pp-${o.name}-`))) {
    progress.note(`cleaning up what is left of a previous lab named ${o.name}`);
    await destroyLab(o.name);
  }
  const t0 = Date.now();
  try {
    const s = buildNetwork(o.name, o.nodes, o.cniBackend);
    if (o.bgpRouteReflector) {
      s.bgpRouteReflector = true;
      writeState(s);
    }
    const { ca } = await loadOrCreateCA(labPaths(s.name).labCA, `CN=podpath lab ${s.name} CA`);
    await issueKubeletCerts(ca, s.nodes, labPaths(s.name));
    await startApiServer(s);
    await writeComponentCredentials(s, ca);
    const client = labClient(s);
    try {
      // the node agents' LoadBalancer announcer reads what MetalLB's speaker reads, and the
      // resolver what external-dns reads: granted before they start
      for (const line of await installAddon(client, [...announcerRBAC(), ...resolverRBAC(resolverUser)])) progress.applied(line);
      startResolver(s);
      startControllers(s);
      startAgents(s);
      const registered = (async () => {
        const nodes = await waitForNodes(client, s.nodes.length, o.timeoutSeconds * 1000);
        await markControlPlane(client, s.nodes[0]!.name);
        const readyMs = Date.now() - t0;
        routeToPods(s, nodes);
        return readyMs;
      })();
      // The add-ons (kubeadm's, then podpath's own) are applied while the nodes register: their
      // pods wait for a node, and DaemonSets cover each node as it comes. The user's objects wait
      // for every node, as after kind or kubeadm: a Deployment applied while one node of three is
      // registered would put all its pods on that one.
      const applied = (async () => {
        // the network daemon: flannel's DaemonSet keeping each node's routes (or VXLAN) to the others' pod CIDRs, or Calico's running BIRD
        for (const line of await installAddon(client, networkAddon(s))) progress.applied(line);
        // kube-proxy as kubeadm deploys it: a DaemonSet whose pods reach the API server at its address, from its ConfigMap.
        if (o.proxyMode !== 'none') for (const line of await installAddon(client, kubeProxyAddon({ config: labKubeProxyConfiguration(o.proxyMode, o.proxyConfig), apiServer: `https://${s.nodes[0]!.ip}:6443` }))) progress.applied(line);
        // the NetworkPolicy agent as a DaemonSet too, enforcing on each node in the node's namespace
        if (o.netpol !== false) for (const line of await installAddon(client, netpolAddon({ apiHost: s.nodes[0]!.ip, apiPort: 6443 }))) progress.applied(line);
        // CoreDNS: kubeadm's two replicas across nodes; on a single node one, as minikube scales it
        // (a second copy there adds memory and start-up work, and no resilience).
        if (withDNS) for (const line of await installAddon(client, dnsAddon({ clusterIP: clusterDNS, zone: 'cluster.local', replicas: s.nodes.length === 1 ? 1 : 2, ...(o.dnsUpstream ? { upstream: o.dnsUpstream } : {}) }))) progress.applied(line);
        if (withIngress) for (const line of await installAddon(client, ingressAddon())) progress.applied(line);
        if (withGateway) for (const line of await installGatewayAPI(client)) progress.applied(line);
        await registered;
        for (const line of await applyAll(client, objs)) progress.applied(line);
      })();
      const [nodesReadyMs] = await Promise.all([registered, applied]);
      const ready = await waitForPods(client, o.timeoutSeconds * 1000);
      const kc = publishKubeconfig(s, o.kubeconfig);
      const podsReadyMs = Date.now() - t0;
      progress.up({
        name: o.name,
        nodesReadyMs,
        podsRunningMs: ready.runningAt !== undefined ? ready.runningAt - t0 : podsReadyMs,
        podsReadyMs,
        nodes: s.nodes,
        clientIP,
        kubeconfig: kc.file,
        kubeconfigGiven: Boolean(o.kubeconfig),
        context: kc.context,
        apiURL: `https://${tunnelHost}:${s.apiPort}`,
        pods: ready.pods,
        ...(withDNS ? { clusterDNS } : {}),
        labCA: labPaths(o.name).labCACert,
      });
      if (o.proxyMode !== 'none') progress.nodePorts(await openNodePorts(client, s, ready.pods, progress), o.proxyMode);
      if (withIngress) progress.ingresses?.(await servedIngresses(client, s, ready.pods));
    } finally {
      client.close();
    }
  } catch (e) {
    const p = labPaths(o.name);
    const logs = fs.existsSync(p.logs) ? fs.readdirSync(p.logs) : [];
    const tails = logs.map((f) => `--- ${f}\n${fs.readFileSync(path.join(p.logs, f), 'utf8').split('\n').slice(-8).join('\n')}`).join('\n');
    if (o.keepOnFailure) progress.note(`keeping lab ${o.name} for inspection (podpath down --name ${o.name} removes it)`);
    else await destroyLab(o.name);
    throw new Error(`${(e as Error).message}\n${tails}`);
  }
}

/** The pod network's daemon of the lab's backend: flannel's (host-gw, vxlan) or Calico's (bgp). */
export function networkAddon(s: LabState): KubeObject[] {
  const api = { apiHost: s.nodes[0]!.ip, apiPort: 6443, network: clusterCIDR };
  if (s.cniBackend !== 'bgp') return flannelAddon({ ...api, backend: s.cniBackend });
  return calicoAddon({ ...api, birdDir: labPaths(s.name).bird, routeReflector: Boolean(s.bgpRouteReflector), holdSeconds: labTimers.holdSeconds, keepaliveSeconds: labTimers.keepaliveSeconds });
}

/**
 * The API server on the first node, until its kubeconfig exists (it is written once every
 * listener serves): it also serves a socket made here on the host's 127.0.0.1, the lab's API
 * address for kubectl on this host.
 */
async function startApiServer(s: LabState): Promise<void> {
  const p = labPaths(s.name);
  const n1 = s.nodes[0]!;
  const host = await hostListener(0);
  s.apiPort = (host.address() as AddressInfo).port;
  // Its CA and serving certificate made here, where the certificate library is loaded already:
  // the server finds them and starts without loading it (about a tenth of a second).
  await loadOrCreateServing(p.apiserverData, servingSANs({ listenHost: n1.ip, serviceCIDR, advertiseAddress: n1.ip }));
  // A lab does not outlive the machine's boot (its namespaces go with it): its storage need not
  // be synced to disk, only written (which a crash of the API server alone does not lose).
  startDaemon(s, 'apiserver', n1.netns, ['apiserver', '--unsafe-no-fsync', '--data-dir', p.apiserverData, '--listen', `${n1.ip}:6443`, '--listen-fd', '3', '--advertise-address', n1.ip, '--kubeconfig', p.adminKubeconfig, '--service-cidr', serviceCIDR, '--kubelet-client-certificate', p.kubeletClientCert, '--kubelet-client-key', p.kubeletClientKey, '--kubelet-certificate-authority', p.labCACert, '--client-ca-file', p.labCACert], host);
  await waitFor(() => fs.existsSync(p.adminKubeconfig), 30_000, 'the API server');
}

/** Each component's own kubeconfig: a client certificate of the lab CA, for the API server the admin kubeconfig names. */
export async function writeComponentCredentials(s: LabState, ca: CA, nodes: readonly LabNode[] = s.nodes, controlPlane = true): Promise<void> {
  const p = labPaths(s.name);
  const admin = loadConfig(p.adminKubeconfig);
  await writeComponentKubeconfigs(ca, componentIdentities(nodes, p, controlPlane), admin.server, admin.ca ?? '');
}

/**
 * kubeadm's mark-control-plane phase: the first node's role label, set with the admin credential
 * (NodeRestriction keeps node agents from setting node-role.kubernetes.io/ labels themselves).
 */
async function markControlPlane(client: Client, node: string): Promise<void> {
  await client.request('PATCH', objectPath('v1', 'nodes', undefined, node), { metadata: { labels: { 'node-role.kubernetes.io/control-plane': '' } } }, 'application/strategic-merge-patch+json');
}

/** The lab's upstream resolver on the router: the lab's hosts by name, and the names the cluster publishes (Ingress hosts, LoadBalancer hostname annotations). */
function startResolver(s: LabState): void {
  const p = labPaths(s.name);
  startDaemon(s, 'resolver', s.underlay, ['lab-resolver', '--listen', `${routerIP}:53`, '--kubeconfig', p.resolverKubeconfig, '--host', `router.lab=${routerIP}`, '--host', `client.lab=${clientIP}`, ...s.nodes.flatMap((n) => ['--host', `${n.name}.lab=${n.ip}`])]);
}

/**
 * The controller manager (signing Ingress certificates with the lab CA) and the scheduler, on the
 * first node, each with its own identity; as kubeadm runs it, each controller acts as its own
 * service account (--use-service-account-credentials=true). One process for both, as k3s runs
 * them: a Node process costs about 15 MiB and half a CPU-second to start.
 */
function startControllers(s: LabState): void {
  const p = labPaths(s.name);
  const n1 = s.nodes[0]!;
  startDaemon(s, 'controller-manager', n1.netns, ['controller-manager', '--kubeconfig', p.controllerManagerKubeconfig, '--use-service-account-credentials=true', '--cluster-cidr', clusterCIDR, '--cluster-signing-cert-file', p.labCACert, '--cluster-signing-key-file', p.labCAKey, '--scheduler-kubeconfig', p.schedulerKubeconfig]);
}

/** A node agent per node, each with its own identity (system:node:NAME). */
function startAgents(s: LabState): void {
  for (const n of s.nodes) startAgent(s, n);
}

/** The node agent of node `n`, its CNI configuration where the node's shell sees /etc/cni/net.d. */
export function startAgent(s: LabState, n: LabNode): void {
  const p = labPaths(s.name);
  startDaemon(s, `agent-${n.name}`, n.netns, [
    'agent',
    '--kubeconfig',
    p.nodeKubeconfig(n.name),
    '--node-name',
    n.name,
    '--node-ip',
    n.ip,
    '--state-dir',
    p.node(n.name),
    '--pod-netns-prefix',
    s.podNetnsPrefix,
    '--cni-backend',
    s.cniBackend,
    '--cni-conf-dir',
    p.nodeCniConfDir(n.name),
    '--cluster-dns',
    clusterDNS,
    '--resolv-conf',
    p.nodeResolvConf,
    '--tls-cert-file',
    p.nodeServingCert(n.name),
    '--tls-private-key-file',
    p.nodeServingKey(n.name),
    '--client-ca-file',
    p.labCACert,
  ]);
}

/**
 * The client namespace reaches each node's pods through that node (static routes, as a user
 * adds them on their computer for a local cluster); so does the router (the lab's resolver
 * answers pods directly, as a host-gw network's router does).
 */
export function routeToPods(s: LabState, nodes: Node[]): void {
  for (const n of nodes) {
    const via = n.status!.addresses!.find((a) => a.type === 'InternalIP')!.address;
    ipIn(s.client, 'route', 'replace', n.spec!.podCIDR!, 'via', via);
    ipIn(s.underlay, 'route', 'replace', n.spec!.podCIDR!, 'via', via);
  }
}

/** The pods a Service selects, among `pods`. */
function backingPods(svc: Service, pods: Pod[]): Pod[] {
  if (!svc.spec.selector) return [];
  const selector = fromSet(svc.spec.selector);
  return pods.filter((x) => x.metadata.namespace === svc.metadata.namespace && matches(selector, x.metadata.labels));
}

/** Waits until each NodePort with ready pods accepts connections from the client; every NodePort Service, with a path its pods answer. */
async function openNodePorts(client: Client, s: LabState, pods: Pod[], progress: UpProgress): Promise<NodePortAccess[]> {
  const svcs = (await client.get<{ items: Service[] }>('/api/v1/services')).items.filter((x) => x.spec.ports?.some((q) => q.nodePort));
  const nodePort = (svc: Service) => svc.spec.ports!.find((q) => q.nodePort)!.nodePort!;
  for (const svc of svcs.filter((x) => backingPods(x, pods).length > 0)) {
    const url = `http://${s.nodes[0]!.ip}:${nodePort(svc)}/`;
    if (!(await waitForNodePort(s.client, url))) progress.nodePortRefusing(url);
  }
  return svcs.map((svc) => {
    // A path the backing pods answer: their readiness probe's, when they have one.
    const path0 = backingPods(svc, pods)[0]?.spec.containers[0]?.readinessProbe?.httpGet?.path ?? '/';
    return { namespace: svc.metadata.namespace!, name: svc.metadata.name!, url: `http://${s.nodes[0]!.ip}:${nodePort(svc)}${path0}` };
  });
}

/**
 * The Ingresses of class nginx once the controller has given them its address (at most 15 s),
 * and each host's URL once it answers from the client (https for hosts with TLS).
 */
async function servedIngresses(client: Client, s: LabState, pods: Pod[]): Promise<IngressAccess[]> {
  const services = (await client.get<{ items: Service[] }>('/api/v1/services')).items;
  // a path the backend answers: a Prefix `/` rule's backing pods' readiness probe path
  const pathFor = (ns: string, rule: NonNullable<NonNullable<Ingress['spec']>['rules']>[number]): string => {
    const p = rule.http?.paths?.[0];
    if (!p) return '/';
    // a regex (ImplementationSpecific) path is no URL; an Exact or deeper Prefix path is one
    if (p.path && p.path !== '/') return p.pathType === 'ImplementationSpecific' ? '/' : p.path;
    if (p.pathType === 'Exact') return '/';
    const svc = services.find((x) => x.metadata.namespace === ns && x.metadata.name === p.backend.service?.name);
    return (svc && backingPods(svc, pods)[0]?.spec.containers[0]?.readinessProbe?.httpGet?.path) || '/';
  };
  const list = async () => (await client.get<{ items: Ingress[] }>('/apis/networking.k8s.io/v1/ingresses')).items.filter((i) => i.spec?.ingressClassName === 'nginx');
  const addressed = await waitFor(async () => {
    const items = await list();
    return items.every((i) => i.status?.loadBalancer?.ingress?.[0]?.ip) ? items : undefined;
  }, 15_000, 'the Ingress controller to publish its address').catch(() => list());
  const out: IngressAccess[] = [];
  for (const ing of addressed) {
    const address = ing.status?.loadBalancer?.ingress?.[0]?.ip;
    const tls = new Set((ing.spec?.tls ?? []).flatMap((t) => t.hosts ?? []));
    const urls = (ing.spec?.rules ?? []).filter((r) => r.host && !r.host.startsWith('*.')).map((r) => `${tls.has(r.host!) ? 'https' : 'http'}://${r.host}${pathFor(ing.metadata.namespace!, r)}`);
    if (address) for (const u of urls) await waitForURL(s.client, u, address);
    out.push({ namespace: ing.metadata.namespace!, name: ing.metadata.name!, ...(address ? { address } : {}), urls: [...new Set(urls)] });
  }
  return out;
}

/**
 * The Gateway API's standard-channel CRDs, once established the GatewayClass podpath, then its
 * controller (which watches the CRDs' kinds from its start).
 */
async function installGatewayAPI(client: Client): Promise<string[]> {
  const lines = await installAddon(client, gatewayCRDs());
  await waitFor(
    async () => Boolean(await client.get('/apis/gateway.networking.k8s.io/v1/gatewayclasses')),
    30_000,
    'the Gateway API CRDs to be established',
  );
  const gc = gatewayClass();
  await client.request('PATCH', `/apis/gateway.networking.k8s.io/v1/gatewayclasses/${gc.metadata.name}?fieldManager=podpath&force=true`, JSON.stringify(gc), 'application/apply-patch+yaml');
  lines.push(`gatewayclasses.gateway.networking.k8s.io/${gc.metadata.name} applied`);
  lines.push(...(await installAddon(client, gatewayAddon())));
  return lines;
}
