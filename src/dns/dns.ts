// `podpath dns` (the cluster DNS: informers → index → server) and `podpath dns serve -f`
// (the same index and server from a state file, no cluster).
import fs from 'node:fs';
import type http from 'node:http';
import { readStateFiles } from '../api/state.ts';
import type { EndpointSlice, KubeObject, Namespace, Pod, Service } from '../api/types.ts';
import { Client, loadConfig } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { serveMetrics } from '../util/prometheus.ts';
import { Forwarder, parseUpstream, type Upstream } from './forward.ts';
import { parseResolvConf } from '../util/resolvconf.ts';
import { parseHostPort, type HostPort } from '../util/ip.ts';
import { DnsMetrics, DnsServer, serveProbe } from './server.ts';
import { rcodeName } from './wire.ts';
import { buildIndex, podsModes, type ClusterState, type DnsIndex, type PodsMode, type ZoneConfig } from './zone.ts';

export class DnsError extends Error {
  constructor(
    readonly code: 'BadFlags' | 'BadState',
    message: string,
  ) {
    super(message);
  }
}

export interface DnsFlags {
  listen: string;
  zone: string;
  pods: string;
  ttl: string;
  /** comma-separated upstreams (ADDR[:PORT]); default: the nameservers of --resolv-conf */
  upstream?: string;
  resolvConf: string;
  health?: string;
  ready?: string;
  metrics?: string;
}

const dnsName = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

export function zoneConfig(f: Pick<DnsFlags, 'zone' | 'pods' | 'ttl'>): ZoneConfig {
  const zone = f.zone.replace(/\.$/, '').toLowerCase();
  if (!dnsName.test(zone)) throw new DnsError('BadFlags', `--zone ${JSON.stringify(f.zone)}: not a DNS domain name (e.g. cluster.local)`);
  if (!podsModes.includes(f.pods as PodsMode)) throw new DnsError('BadFlags', `--pods ${JSON.stringify(f.pods)}: expected one of ${podsModes.join(', ')}`);
  const ttl = Number(f.ttl);
  if (!/^\d+$/.test(String(f.ttl)) || ttl > 3600) throw new DnsError('BadFlags', `--ttl ${JSON.stringify(f.ttl)}: expected whole seconds from 0 to 3600`);
  return { zone, pods: f.pods as PodsMode, ttl };
}

/** --upstream, or the nameservers of the resolv.conf (CoreDNS: forward . /etc/resolv.conf). */
export function upstreams(f: Pick<DnsFlags, 'upstream' | 'resolvConf'>): Upstream[] {
  if (f.upstream !== undefined) {
    if (f.upstream === '' || f.upstream === 'none') return [];
    return f.upstream.split(',').map((s) => {
      const u = parseUpstream(s.trim());
      if (!u) throw new DnsError('BadFlags', `--upstream ${JSON.stringify(s)}: expected ADDRESS or ADDRESS:PORT`);
      return u;
    });
  }
  let text: string;
  try {
    text = fs.readFileSync(f.resolvConf, 'utf8');
  } catch (e) {
    throw new DnsError('BadFlags', `--resolv-conf ${f.resolvConf}: ${(e as Error).message}`);
  }
  return parseResolvConf(text)
    .nameservers.map((n) => parseUpstream(n))
    .filter((u): u is Upstream => u !== undefined);
}

function optionalListen(s: string | undefined, flag: string): HostPort | undefined {
  return s === undefined || s === '' || s === 'off' ? undefined : parseHostPort(s, flag);
}

/** Services, EndpointSlices, Pods and Namespaces from state files ("-" is stdin). */
export function readState(files: string[]): ClusterState {
  let objs: KubeObject[];
  try {
    objs = readStateFiles(files, [
      { apiVersion: 'v1', kind: 'Service', namespaced: true },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespaced: true },
      { apiVersion: 'v1', kind: 'Pod', namespaced: true },
      { apiVersion: 'v1', kind: 'Namespace', namespaced: false },
    ]);
  } catch (e) {
    throw new DnsError('BadState', (e as Error).message);
  }
  return {
    services: objs.filter((o): o is Service => o.kind === 'Service'),
    slices: objs.filter((o): o is EndpointSlice => o.kind === 'EndpointSlice'),
    pods: objs.filter((o): o is Pod => o.kind === 'Pod'),
    namespaces: objs.filter((o): o is Namespace => o.kind === 'Namespace'),
  };
}

export interface RunningDns {
  server: DnsServer;
  metrics: DnsMetrics;
  close(): Promise<void>;
}

async function start(f: DnsFlags, zone: ZoneConfig, index: () => DnsIndex | undefined, log: (s: string) => void): Promise<RunningDns> {
  const listen = parseHostPort(f.listen, '--listen');
  const health = optionalListen(f.health, '--health-addr');
  const ready = optionalListen(f.ready, '--ready-addr');
  const metricsAt = optionalListen(f.metrics, '--metrics-addr');
  const ups = upstreams(f);
  const metrics = new DnsMetrics(`dns://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`);
  const forwarder = new Forwarder(ups, {
    onUpstream: (to, rcode, s) => metrics.proxyDuration.observe(s, { proxy_name: 'forward', rcode: rcodeName(rcode), to }),
    onReject: () => metrics.maxConcurrentRejects.inc(1, { proxy_name: 'forward' }),
  });
  const server = new DnsServer({ listen, zone, index, forwarder, metrics, log });
  await server.start();
  const http: http.Server[] = [];
  if (health) http.push(serveProbe('/health', health, () => true, log));
  if (ready) http.push(serveProbe('/ready', ready, () => index() !== undefined, log));
  if (metricsAt) {
    http.push(
      serveMetrics(
        () => {
          metrics.cacheEntries.set(forwarder.cacheSize, { server: metrics.server, type: 'success', view: '', zones: '.' });
          return metrics.expose();
        },
        metricsAt.host,
        metricsAt.port,
        log,
      ),
    );
  }
  const a = server.address;
  log(`dns: serving ${zone.zone} on ${a.host}:${a.port} (udp, tcp); forwarding to ${ups.length ? forwarder.upstreamLabels.join(', ') : '(no upstream: SERVFAIL)'}`);
  return {
    server,
    metrics,
    async close() {
      for (const h of http) h.close();
      await server.close();
    },
  };
}

/** `podpath dns serve -f`: answers from files, no cluster. */
export async function serveFromFiles(files: string[], f: DnsFlags, log: (s: string) => void): Promise<RunningDns> {
  const zone = zoneConfig(f);
  if (!files.length) throw new DnsError('BadFlags', '-f is needed: a file of Services, EndpointSlices, Pods and Namespaces');
  const state = readState(files);
  const serial = Math.floor(Math.max(...files.map((x) => (x === '-' ? Date.now() : fs.statSync(x).mtimeMs))) / 1000);
  const ix = buildIndex(state, zone, serial);
  return start(f, zone, () => ix, log);
}

/** `podpath dns`: the cluster DNS, from informers. */
export async function runDns(f: DnsFlags & { kubeconfig?: string }, log: (s: string) => void): Promise<RunningDns> {
  const zone = zoneConfig(f);
  upstreams(f); // refuse bad flags before connecting
  const client = new Client(loadConfig(f.kubeconfig, 'podpath-dns'));
  const services = new Informer<Service>(client, 'v1', 'services');
  const slices = new Informer<EndpointSlice>(client, 'discovery.k8s.io/v1', 'endpointslices');
  const namespaces = new Informer<Namespace>(client, 'v1', 'namespaces');
  const pods = zone.pods === 'verified' ? new Informer<Pod>(client, 'v1', 'pods') : undefined;
  let ix: DnsIndex | undefined;
  let dirty = true;
  let serial = Math.floor(Date.now() / 1000);
  const synced = () => services.hasSynced && slices.hasSynced && namespaces.hasSynced && (!pods || pods.hasSynced);
  // The index is rebuilt lazily: at the first query after a change (changes in a burst cost one build).
  const index = () => {
    if (!synced()) return undefined;
    if (dirty || !ix) {
      ix = buildIndex({ services: services.list(), slices: slices.list(), pods: pods?.list() ?? [], namespaces: namespaces.list() }, zone, serial);
      dirty = false;
    }
    return ix;
  };
  const running = await start(f, zone, index, log);
  const changed = () => {
    dirty = true;
    serial = Math.floor(Date.now() / 1000);
  };
  const headless = (s: EndpointSlice) => services.get(s.metadata.namespace, s.metadata.labels?.['kubernetes.io/service-name'] ?? '')?.spec.clusterIP === 'None';
  // DNS programming latency, as CoreDNS measures it: headless Services' endpoint changes, from
  // the EndpointSlice controller's trigger time to this server having them.
  const programmed = (s: EndpointSlice) => {
    changed();
    const t = Date.parse(s.metadata.annotations?.['endpoints.kubernetes.io/last-change-trigger-time'] ?? '');
    if (slices.hasSynced && Number.isFinite(t) && headless(s)) running.metrics.programming.observe(Math.max(0, Date.now() - t) / 1000, { service_kind: 'headless_with_selector' });
  };
  for (const inf of [services, namespaces, ...(pods ? [pods] : [])] as Informer<KubeObject>[]) inf.on({ add: changed, update: changed, delete: changed });
  slices.on({ add: programmed, update: (_o, c) => programmed(c), delete: changed });
  // as CoreDNS's kubernetes plugin logs its reflectors' failures
  for (const inf of [services, slices, namespaces, pods]) if (inf) inf.onError = (e) => log(`dns: [ERROR] plugin/kubernetes: failed to list or watch ${inf.resource}: ${e.message}`);
  for (const inf of [services, slices, namespaces, pods]) inf?.start();
  void Promise.all([services, slices, namespaces, pods].map((i) => i?.waitForSync())).then(() => log('dns: informers synced; answering the cluster zone'));
  return {
    ...running,
    async close() {
      for (const inf of [services, slices, namespaces, pods]) inf?.stop();
      await running.close();
    },
  };
}
