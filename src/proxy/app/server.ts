// kube-proxy's process (upstream's cmd/kube-proxy/app/server.go): the API client and the
// informers for Services, EndpointSlices and this node's Node, the mode's backend from the mode
// table, /healthz and /livez, /metrics and the healthCheckNodePort servers, all feeding the
// Proxier.
import type { Server } from 'node:http';
import type { EndpointSlice, Node, Service } from '../../api/types.ts';
import { Client, loadConfig } from '../../client/client.ts';
import { Informer } from '../../client/informer.ts';
import { defaultExecutor, type Executor } from '../../exec/exec.ts';
import type { Backend } from '../backend.ts';
import { defaultScheduler, type ProxyFlags, type ProxyMode } from '../config.ts';
import { reconcileConntrack } from '../conntrack.ts';
import { ProxyHealthServer, ServiceHealthServers } from '../healthcheck.ts';
import { ProxyMetrics } from '../metrics.ts';
import { cleanupLeftovers } from './cleanup.ts';
import { modes } from './modes.ts';
import { Proxier } from '../proxier.ts';
import { ipvsadmList, virtualServers } from '../virtualserver.ts';

export interface ProxyServerOptions {
  kubeconfig?: string;
  mode: ProxyMode;
  nodeName: string;
  flags: ProxyFlags;
  minSyncPeriodMs: number;
  syncPeriodMs: number;
  /** where /healthz and /livez listen (upstream 0.0.0.0:10256); none when absent */
  healthz?: { host: string; port: number };
  /** where /metrics listens (upstream 127.0.0.1:10249); none when absent */
  metrics?: { host: string; port: number };
  log: (s: string) => void;
  /** what the backend's commands run through (the real machine unless given) */
  ex?: Executor;
  /** remove other modes' rules at start, as upstream does (default true) */
  cleanupLeftovers?: boolean;
}

export class ProxyServer {
  readonly metrics: ProxyMetrics;
  private readonly client: Client;
  private readonly services: Informer<Service>;
  private readonly slices: Informer<EndpointSlice>;
  private readonly nodes: Informer<Node>;
  private readonly backend: Backend;
  private readonly proxyHealth: ProxyHealthServer;
  private readonly serviceHealth: ServiceHealthServers;
  private readonly proxier: Proxier;
  private metricsServer: Server | undefined;

  constructor(private readonly o: ProxyServerOptions) {
    const ex = o.ex ?? defaultExecutor;
    const mode = modes[o.mode];
    this.client = new Client(loadConfig(o.kubeconfig, `kube-proxy/podpath (${o.nodeName})`));
    this.services = new Informer<Service>(this.client, 'v1', 'services');
    this.slices = new Informer<EndpointSlice>(this.client, 'discovery.k8s.io/v1', 'endpointslices');
    this.nodes = new Informer<Node>(this.client, 'v1', 'nodes', { fieldSelector: `metadata.name=${o.nodeName}` });
    this.metrics = new ProxyMetrics(o.mode);
    this.backend = mode.newBackend({ flags: o.flags, metrics: this.metrics, syncPeriodMs: o.syncPeriodMs, log: o.log, ex });
    // Healthy while asked-for syncs complete within two sync periods, as upstream.
    this.proxyHealth = new ProxyHealthServer(2 * o.syncPeriodMs, (path, code) => (path === '/healthz' ? this.metrics.healthzTotal : this.metrics.livezTotal).inc(1, { code: String(code) }));
    this.serviceHealth = new ServiceHealthServers(() => this.proxyHealth.healthy(), o.log);
    // A backend that counts connections per endpoint (userspace mode) has /metrics read them when scraped.
    const counts = this.backend.connectionCounts?.bind(this.backend);
    if (counts) {
      this.metrics.beforeExpose = () => {
        for (const c of counts()) {
          this.metrics.endpointConnections.set(c.active, { service: c.service, endpoint: c.endpoint });
          this.metrics.endpointConnectionsTotal.set(c.total, { service: c.service, endpoint: c.endpoint });
        }
      };
    }
    this.proxier = new Proxier({
      nodeName: o.nodeName,
      backend: this.backend,
      metrics: this.metrics,
      syncPeriodMs: o.syncPeriodMs,
      minSyncPeriodMs: o.minSyncPeriodMs,
      log: o.log,
      proxyHealth: this.proxyHealth,
      serviceHealth: this.serviceHealth,
      // Only NAT in the kernel leaves conntrack entries to clean up.
      ...(mode.kernelNAT ? { conntrack: (udp) => reconcileConntrack(udp, ex) } : {}),
      // What other modes left goes once this mode's rules are in place (upstream removes it before
      // its first sync): a mode switched by deleting the pods keeps Service traffic flowing.
      ...(o.cleanupLeftovers !== false
        ? {
            afterFirstSync: () => {
              const removed = cleanupLeftovers(o.mode, ex);
              if (removed.length) o.log(`removed what other proxy modes left: ${removed.join(', ')}`);
            },
          }
        : {}),
    });
  }

  async start(): Promise<void> {
    const p = this.proxier;
    // upstream's line, as `kubectl logs -n kube-system kube-proxy-xxxxx | grep "Using ipvs Proxier"` finds it
    this.o.log(`Using ${this.o.mode} Proxier`);
    this.services.on({ add: (s) => p.onServiceAdd(s), update: (old, s) => p.onServiceUpdate(old, s), delete: (s) => p.onServiceDelete(s) });
    this.slices.on({ add: (s) => p.onEndpointSliceAdd(s), update: (old, s) => p.onEndpointSliceUpdate(old, s), delete: (s) => p.onEndpointSliceDelete(s) });
    this.nodes.on({ add: (n) => p.onNodeAdd(n), update: (old, n) => p.onNodeUpdate(old, n), delete: () => p.onNodeDelete() });
    for (const inf of [this.services, this.slices, this.nodes]) {
      inf.onError = (e) => this.o.log(`informer: ${e.message}`);
      inf.start();
    }
    if (this.o.healthz) this.proxyHealth.listen(this.o.healthz.host, this.o.healthz.port, this.o.log);
    if (this.o.metrics) this.metricsServer = this.metrics.listen(this.o.metrics.host, this.o.metrics.port, this.o.log, { '/ipvsadm': (q) => this.ipvsadm(q) });
    // The Node (for its address) too: a first sync without it would leave NodePorts unanswered
    // in nftables mode until it arrives. A Node not registered yet comes later, with a resync.
    await Promise.all([this.services.waitForSync(), this.slices.waitForSync(), this.nodes.waitForSync()]);
    p.onServicesSynced();
    p.onEndpointSlicesSynced();
    this.o.log(`${this.o.mode} proxier for ${this.o.nodeName} started`);
  }

  stop(): void {
    this.proxier.stop();
    for (const inf of [this.services, this.slices, this.nodes]) inf.stop();
    this.serviceHealth.close();
    this.proxyHealth.close();
    this.metricsServer?.close();
    this.backend.close?.();
    this.client.close();
  }

  /**
   * `ipvsadm -Ln` of this node: the live table of a backend that balances itself (userspace mode,
   * with ?stats or ?connections), else what IPVS mode would program for the same Services.
   */
  private ipvsadm(q: URLSearchParams): string {
    if (this.backend.debugInfo) return this.backend.debugInfo(q);
    const ip = this.proxier.nodeIP();
    return ipvsadmList(virtualServers(this.proxier.servicePorts(), { scheduler: defaultScheduler(this.o.flags), nodePortIPs: ip ? [ip] : [], mode: 'ipvs' }));
  }
}
