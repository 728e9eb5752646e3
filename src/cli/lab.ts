// podpath up | down | status | curl | service: building, using and removing labs.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readManifests } from '../api/manifest.ts';
import type { KubeObject, Node, Pod, Service } from '../api/types.ts';
import { mergeKubeconfig, unmergeKubeconfig, writeKubeconfig } from '../client/kubeconfig.ts';
import { Client, loadConfig, objectPath } from '../client/client.ts';
import { findKind } from '../api/resources.ts';
import { dnsAddon } from '../lab/addons.ts';
import { buildNetwork, clientIP, clusterCIDR, clusterDNS, routerIP, destroyLab, labPaths, listLabs, podpathJs, preflight, readState, serviceCIDR, startDaemon, validateLabName, writeState, type LabState } from '../lab/lab.ts';
import { ipIn, listNetns } from '../exec/netns.ts';
import { tunnel } from '../lab/tunnel.ts';
import { alive } from '../exec/proc.ts';
import { hasTrueCondition } from '../api/conditions.ts';
import { fromSet, matches } from '../api/labels.ts';

const say = (s: string): void => void process.stdout.write(`${s}\n`);

async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function defaultKubeconfig(): string {
  return process.env.KUBECONFIG?.split(':')[0] || path.join(os.homedir(), '.kube/config');
}

export function pickLab(name: string | undefined): LabState {
  if (name) {
    const s = readState(name);
    if (!s) throw new Error(`no lab named ${name} (podpath status lists the labs)`);
    return s;
  }
  const labs = listLabs();
  if (labs.length === 0) throw new Error('no lab is running (start one with podpath up)');
  if (labs.length > 1) throw new Error(`several labs are running (${labs.join(', ')}); choose one with --name`);
  return readState(labs[0]!)!;
}

export function labClient(s: LabState): Client {
  const admin = loadConfig(labPaths(s.name).adminKubeconfig, 'podpath');
  return new Client({ ...admin, server: `https://127.0.0.1:${s.apiPort}` });
}

export interface UpOptions {
  name: string;
  nodes: number;
  cniBackend: 'host-gw' | 'vxlan';
  proxyMode: string;
  /** kube-proxy's KubeProxyConfiguration file, passed to every node's proxy */
  proxyConfig?: string;
  /** --proxy-mode was given: it wins over the file's mode */
  proxyModeGiven?: boolean;
  /** the cluster DNS add-on (default on; it needs kube-proxy to reach the API server) */
  dns?: boolean;
  dnsUpstream?: string;
  files: string[];
  kubeconfig?: string;
  timeoutSeconds: number;
  keepOnFailure?: boolean;
}

function manifests(files: string[]): KubeObject[] {
  return readManifests(files).map(({ obj: o, file: p }) => {
    // Checked before anything is built: a lab is not made for manifests it cannot apply.
    if (!findKind(String(o.apiVersion), String(o.kind))) throw new Error(`${p}: kind ${o.kind} (${o.apiVersion}) is not served by podpath`);
    if (!o.metadata?.name) throw new Error(`${p}: ${o.kind} has no metadata.name`);
    return o;
  });
}

/** Server-side apply of each object, as `kubectl apply --server-side` would. */
export async function applyAll(client: Client, objs: KubeObject[]): Promise<string[]> {
  const lines: string[] = [];
  for (const o of objs) {
    const rt = findKind(String(o.apiVersion), String(o.kind))!;
    const ns = rt.namespaced ? (o.metadata?.namespace ?? 'default') : undefined;
    const p = `${objectPath(String(o.apiVersion), rt.resource, ns, o.metadata.name!)}?fieldManager=podpath&fieldValidation=Strict&force=true`;
    await client.request('PATCH', p, JSON.stringify(o), 'application/apply-patch+yaml');
    lines.push(`${rt.resource}${rt.group ? `.${rt.group}` : ''}/${o.metadata.name} applied`);
  }
  return lines;
}

export async function up(o: UpOptions): Promise<void> {
  validateLabName(o.name);
  if (o.proxyConfig) {
    // Read (and refused, if bad) before anything is built; its mode is the lab's unless one was given.
    const fileMode = (await import('../proxy/configfile.ts')).readKubeProxyConfig(o.proxyConfig).mode;
    if (fileMode && !o.proxyModeGiven) o = { ...o, proxyMode: fileMode };
  }
  if (o.nodes < 1 || o.nodes > 20) throw new Error('--nodes must be between 1 and 20');
  if (!['iptables', 'nftables', 'userspace', 'ipvs', 'none'].includes(o.proxyMode)) throw new Error(`--proxy-mode must be iptables, nftables, userspace, ipvs or none, not ${o.proxyMode}`);
  if (o.cniBackend !== 'host-gw' && o.cniBackend !== 'vxlan') throw new Error(`--cni-backend must be host-gw or vxlan, not ${o.cniBackend}`);
  const objs = manifests(o.files);
  const missing = preflight(o.proxyMode);
  if (missing.length) throw new Error(`cannot build a lab, missing:\n  - ${missing.join('\n  - ')}`);
  // The DNS pods reach the API server through the `kubernetes` Service: no proxy, no DNS.
  const withDNS = (o.dns ?? true) && o.proxyMode !== 'none';
  if ((o.dns ?? true) && !withDNS) say('no cluster DNS: CoreDNS reaches the API server through the kubernetes Service, which needs a --proxy-mode');
  if (readState(o.name) || listNetns().some((n) => n.startsWith(`pp-${o.name}-`))) {
    say(`cleaning up what is left of a previous lab named ${o.name}`);
    await destroyLab(o.name);
  }
  const t0 = Date.now();
  const p = labPaths(o.name);
  let s: LabState | undefined;
  try {
    s = buildNetwork(o.name, o.nodes, o.cniBackend);
    const n1 = s.nodes[0]!;
    startDaemon(s, 'apiserver', n1.netns, ['apiserver', '--data-dir', p.apiserverData, '--listen', `${n1.ip}:6443`, '--listen-unix', p.apiserverSocket, '--advertise-address', n1.ip, '--kubeconfig', p.adminKubeconfig, '--service-cidr', serviceCIDR]);
    await waitFor(() => fs.existsSync(p.adminKubeconfig) && fs.existsSync(p.apiserverSocket), 30_000, 'the API server');
    const portFile = path.join(p.dir, 'tunnel.port');
    startDaemon(s, 'tunnel', undefined, ['tunnel', '--listen', '127.0.0.1:0', '--unix', p.apiserverSocket, '--port-file', portFile]);
    s.apiPort = await waitFor(() => Number(fs.readFileSync(portFile, 'utf8')) || undefined, 10_000, 'the API tunnel');
    writeState(s);
    startDaemon(s, 'resolver', s.underlay, ['lab-resolver', '--listen', `${routerIP}:53`, '--host', `router.lab=${routerIP}`, '--host', `client.lab=${clientIP}`, ...s.nodes.flatMap((n) => ['--host', `${n.name}.lab=${n.ip}`])]);
    startDaemon(s, 'controller-manager', n1.netns, ['controller-manager', '--kubeconfig', p.adminKubeconfig, '--cluster-cidr', clusterCIDR]);
    startDaemon(s, 'scheduler', n1.netns, ['scheduler', '--kubeconfig', p.adminKubeconfig]);
    for (const [i, n] of s.nodes.entries()) {
      startDaemon(s, `agent-${n.name}`, n.netns, [
        'agent',
        '--kubeconfig',
        p.adminKubeconfig,
        '--node-name',
        n.name,
        '--node-ip',
        n.ip,
        '--state-dir',
        p.node(n.name),
        '--pod-netns-prefix',
        s.podNetnsPrefix,
        '--cluster-cidr',
        clusterCIDR,
        '--cni-backend',
        s.cniBackend,
        '--cluster-dns',
        clusterDNS,
        '--resolv-conf',
        p.nodeResolvConf,
        ...(i === 0 ? ['--control-plane'] : []),
      ]);
    }
    if (o.proxyMode !== 'none') {
      for (const n of s.nodes) {
        // The lab announces LoadBalancer IPs on the underlay as MetalLB's layer-2 mode does,
        // which, beside Service IPs on kube-ipvs0, needs strict ARP (as MetalLB's docs say).
        const strictARP = o.proxyMode === 'userspace' || o.proxyMode === 'ipvs' ? ['--ipvs-strict-arp'] : [];
        // The lab's own flags (where the API server is, which node, its networks) win over a --proxy-config file.
        const config = o.proxyConfig ? ['--config', o.proxyConfig] : [];
        startDaemon(s, `proxy-${n.name}`, n.netns, ['proxy', ...config, '--kubeconfig', p.adminKubeconfig, '--node-name', n.name, '--mode', o.proxyMode, '--cluster-cidr', clusterCIDR, '--service-cidr', serviceCIDR, ...strictARP]);
      }
    }
    const client = labClient(s);
    try {
      const lab = s;
      // The client namespace reaches each node's pods through that node (static routes, as a
      // user adds them on their computer for a local cluster).
      const nodes = await waitFor(
        async () => {
          const list = (await client.get<{ items: Node[] }>('/api/v1/nodes')).items;
          const ready = list.filter((n) => n.spec?.podCIDR && hasTrueCondition(n));
          return ready.length === lab.nodes.length ? ready : undefined;
        },
        o.timeoutSeconds * 1000,
        'nodes to be Ready',
      );
      const nodesReadyMs = Date.now() - t0;
      for (const n of nodes) {
        const via = n.status!.addresses!.find((a) => a.type === 'InternalIP')!.address;
        ipIn(lab.client, 'route', 'replace', n.spec!.podCIDR!, 'via', via);
        // The router (the lab's resolver) answers pods directly, as a host-gw network's router does.
        ipIn(lab.underlay, 'route', 'replace', n.spec!.podCIDR!, 'via', via);
      }
      if (withDNS) for (const line of await applyAll(client, dnsAddon({ clusterIP: clusterDNS, zone: 'cluster.local', ...(o.dnsUpstream ? { upstream: o.dnsUpstream } : {}) }))) say(line);
      for (const line of await applyAll(client, objs)) say(line);
      let podsRunningMs: number | undefined;
      const running = await waitFor(
        async () => {
          const pods = (await client.get<{ items: Pod[] }>('/api/v1/pods')).items.filter((x) => !x.metadata.deletionTimestamp);
          const deps = (await client.get<{ items: { spec: { replicas?: number }; status?: { readyReplicas?: number } }[] }>('/apis/apps/v1/deployments')).items;
          const allCreated = pods.length >= deps.reduce((n, d) => n + (d.spec.replicas ?? 1), 0);
          const depsReady = deps.every((d) => (d.status?.readyReplicas ?? 0) >= (d.spec.replicas ?? 1));
          if (podsRunningMs === undefined && allCreated && pods.every((x) => x.status?.phase === 'Running' && x.status.podIP)) podsRunningMs = Date.now() - t0;
          const ready = pods.every((x) => hasTrueCondition(x) || x.status?.phase === 'Succeeded');
          return depsReady && ready ? { pods } : undefined;
        },
        o.timeoutSeconds * 1000,
        'pods to be Ready',
      );
      const admin = loadConfig(p.adminKubeconfig);
      const context = o.name === 'podpath' ? 'podpath' : `podpath-${o.name}`;
      const entry = { name: context, server: `https://127.0.0.1:${s.apiPort}`, caCert: admin.ca!, token: admin.token! };
      const kc = o.kubeconfig ?? defaultKubeconfig();
      if (o.kubeconfig) writeKubeconfig(kc, entry);
      else mergeKubeconfig(kc, entry);
      s.kubeconfig = kc;
      s.context = context;
      writeState(s);
      const secs = (ms: number | undefined) => `${((ms ?? Date.now() - t0) / 1000).toFixed(1)} s`;
      say(`\nlab ${o.name} is up in ${secs(undefined)} (nodes Ready ${secs(nodesReadyMs)}, pods Running ${secs(podsRunningMs)}, pods Ready ${secs(undefined)})`);
      say(`nodes ${s.nodes.map((n) => `${n.name} ${n.ip}`).join(', ')}; client ${clientIP}`);
      say(`kubectl: context ${context} in ${kc} (API server through https://127.0.0.1:${s.apiPort})`);
      say(`  kubectl${o.kubeconfig ? ` --kubeconfig ${kc}` : ''} get nodes,pods,svc -o wide`);
      for (const x of running.pods) say(`  pod ${x.metadata.namespace}/${x.metadata.name} ${x.status?.podIP ?? ''} on ${x.spec.nodeName ?? ''}`);
      if (withDNS) say(`cluster DNS: Service kube-system/kube-dns ${clusterDNS} (CoreDNS, ${running.pods.filter((x) => x.metadata.labels?.['k8s-app'] === 'kube-dns').length} pods); pods resolve Service names, e.g. api-service or kubernetes.default`);
      const first = running.pods.find((x) => x.metadata.namespace !== 'kube-system' && x.status?.podIP && x.spec.containers[0]?.ports?.length);
      if (first) {
        const port = first.spec.containers[0]!.ports![0]!.containerPort;
        say(`reach a pod from the client namespace (the lab's stand-in for your computer, ${clientIP}):`);
        const probePath = first.spec.containers[0]!.readinessProbe?.httpGet?.path ?? '/';
        say(`  podpath curl --name ${o.name} http://${first.status!.podIP}:${port}${probePath}`);
      }
      if (o.proxyMode !== 'none') {
        const svcs = (await client.get<{ items: Service[] }>('/api/v1/services')).items.filter((x) => x.spec.ports?.some((q) => q.nodePort));
        // Pods Ready is not yet rules written (kube-proxy syncs at most once a second): wait
        // until each NodePort that has ready pods stops refusing connections from the client.
        const backed = svcs.filter((svc) => svc.spec.selector && running.pods.some((x) => x.metadata.namespace === svc.metadata.namespace && matches(fromSet(svc.spec.selector!), x.metadata.labels)));
        for (const svc of backed) {
          const url = `http://${lab.nodes[0]!.ip}:${svc.spec.ports!.find((q) => q.nodePort)!.nodePort}/`;
          const refused = () => spawnSync('ip', ['netns', 'exec', lab.client, 'curl', '-s', '-o', '/dev/null', '--max-time', '1', url]).status === 7;
          await waitFor(() => !refused() || undefined, 15_000, `kube-proxy to open ${url}`).catch(() => say(`warning: ${url} still refuses connections`));
        }
        for (const svc of svcs) {
          const np = svc.spec.ports!.find((q) => q.nodePort)!.nodePort!;
          // A path the backing pods answer: their readiness probe's, when they have one.
          const selector = svc.spec.selector ? fromSet(svc.spec.selector) : undefined;
          const backing = selector && running.pods.find((x) => x.metadata.namespace === svc.metadata.namespace && matches(selector, x.metadata.labels));
          const svcPath = backing?.spec.containers[0]?.readinessProbe?.httpGet?.path ?? '/';
          say(`reach Service ${svc.metadata.namespace}/${svc.metadata.name} through its NodePort (kube-proxy, ${o.proxyMode} mode):`);
          say(`  podpath curl --name ${o.name} http://${s.nodes[0]!.ip}:${np}${svcPath}        # from the client namespace`);
          say(`  podpath service ${svc.metadata.name} --name ${o.name}${svc.metadata.namespace !== 'default' ? ` -n ${svc.metadata.namespace}` : ''} --url     # a 127.0.0.1 URL on this host`);
        }
      }
      say(`remove the lab:\n  podpath down --name ${o.name}`);
    } finally {
      client.close();
    }
  } catch (e) {
    const logs = fs.existsSync(p.logs) ? fs.readdirSync(p.logs) : [];
    const tails = logs.map((f) => `--- ${f}\n${fs.readFileSync(path.join(p.logs, f), 'utf8').split('\n').slice(-8).join('\n')}`).join('\n');
    if (o.keepOnFailure) say(`keeping lab ${o.name} for inspection (podpath down --name ${o.name} removes it)`);
    else await destroyLab(o.name);
    throw new Error(`${(e as Error).message}\n${tails}`);
  }
}

export async function down(name: string | undefined): Promise<void> {
  const names = name ? [name] : listLabs();
  if (names.length === 0) return say('no lab to remove');
  for (const n of names) {
    validateLabName(n);
    const s = readState(n);
    for (const line of await destroyLab(n)) say(`${n}: ${line}`);
    if (s?.kubeconfig && s.context && s.kubeconfig === defaultKubeconfig()) unmergeKubeconfig(s.kubeconfig, s.context);
    say(`lab ${n} removed`);
  }
}

export async function status(): Promise<void> {
  const labs = listLabs();
  if (!labs.length) return say('no labs');
  for (const n of labs) {
    const s = readState(n)!;
    const procs = Object.entries(s.pids).map(([c, pid]) => `${c}${alive(pid) ? '' : ' (dead)'}`);
    say(`lab ${n}: created ${s.createdAt}; API https://127.0.0.1:${s.apiPort}; processes: ${procs.join(', ')}`);
    const client = labClient(s);
    try {
      const nodes = (await client.get<{ items: Node[] }>('/api/v1/nodes')).items;
      for (const node of nodes) {
        const ready = hasTrueCondition(node);
        say(`  node ${node.metadata.name} ${node.status?.addresses?.[0]?.address ?? ''} ${ready ? 'Ready' : 'NotReady'} podCIDR ${node.spec?.podCIDR ?? '-'}`);
      }
    } catch (e) {
      say(`  API server unreachable: ${(e as Error).message}`);
    } finally {
      client.close();
    }
  }
}

/** The network namespace `--from` names: client, node/NAME or pod/NS/NAME. */
export async function namespaceOf(s: LabState, from: string): Promise<string> {
  if (from === 'client') return s.client;
  const m = /^node\/(.+)$/.exec(from);
  if (m) {
    const n = s.nodes.find((x) => x.name === m[1]);
    if (!n) throw new Error(`no node ${m[1]} in lab ${s.name} (nodes: ${s.nodes.map((x) => x.name).join(', ')})`);
    return n.netns;
  }
  const pm = /^pod\/([^/]+)\/(.+)$/.exec(from);
  if (!pm) throw new Error(`--from must be client, node/NAME or pod/NAMESPACE/NAME, not ${from}`);
  const client = labClient(s);
  try {
    const pod = await client.get<Pod>(objectPath('v1', 'pods', pm[1], pm[2]!));
    return `${s.podNetnsPrefix}${pod.metadata.uid!.replace(/-/g, '').slice(0, 8)}`;
  } finally {
    client.close();
  }
}

/** Runs a command in a lab namespace, as its processes see the world (a pod's resolv.conf and hosts too). */
export async function execIn(name: string | undefined, from: string, argv: string[]): Promise<number> {
  const s = pickLab(name);
  const ns = await namespaceOf(s, from);
  const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { stdio: 'inherit' });
  return r.status ?? 1;
}

/** `podpath proxy ipvsadm`: a node's IPVS table as its kube-proxy reports it (live in userspace mode). */
export function ipvsadm(name: string | undefined, node: string | undefined, o: { stats?: boolean; connections?: boolean }): number {
  const s = pickLab(name);
  const n = node ? s.nodes.find((x) => x.name === node) : s.nodes[0];
  if (!n) throw new Error(`no node ${node} in lab ${s.name} (nodes: ${s.nodes.map((x) => x.name).join(', ')})`);
  const q = o.stats ? '?stats' : o.connections ? '?connections' : '';
  const r = spawnSync('ip', ['netns', 'exec', n.netns, 'curl', '-sSf', '--max-time', '5', `http://127.0.0.1:10249/ipvsadm${q}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kube-proxy on ${n.name} did not answer (${(r.stderr || '').trim() || `exit ${r.status}`}); is the lab's --proxy-mode none?`);
  process.stdout.write(r.stdout);
  return 0;
}

export function curl(name: string | undefined, from: string, args: string[]): Promise<number> {
  return execIn(name, from, ['curl', '-sS', '--max-time', '10', ...args]);
}

/** `minikube service NAME --url`: 127.0.0.1:<port> -> the Service's NodePort on the first node. */
export async function service(name: string | undefined, svcName: string, namespace: string, onUrl: (url: string) => void): Promise<() => void> {
  const s = pickLab(name);
  const client = labClient(s);
  let svc: Service;
  try {
    svc = await client.get<Service>(objectPath('v1', 'services', namespace, svcName));
  } finally {
    client.close();
  }
  const port = svc.spec.ports?.find((x) => x.nodePort);
  if (!port?.nodePort) throw new Error(`service ${namespace}/${svcName} has no NodePort (type ${svc.spec.type})`);
  const node = s.nodes[0]!;
  const sock = path.join(labPaths(s.name).dir, `svc-${namespace}-${svcName}-${process.pid}.sock`);
  const fwd = spawn('ip', ['netns', 'exec', node.netns, process.execPath, podpathJs, 'forward', '--listen-unix', sock, '--to', `${node.ip}:${port.nodePort}`], { stdio: 'ignore' });
  await waitFor(() => fs.existsSync(sock), 10_000, 'the forwarder');
  const t = await tunnel('127.0.0.1', 0, sock);
  onUrl(`http://127.0.0.1:${t.port}`);
  return () => {
    t.server.close();
    fwd.kill('SIGTERM');
    fs.rmSync(sock, { force: true });
  };
}

