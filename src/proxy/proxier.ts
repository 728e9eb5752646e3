// The live kube-proxy: informers for Services, EndpointSlices and its own Node, a change
// tracker (which Services changed since the last sync), a bounded-frequency sync runner with
// upstream's defaults, and a rule backend (iptables or nftables) that turns the ServicePorts
// into kernel rules — fully at start, after a failure, when the rules were flushed behind its
// back and once an hour; otherwise only for the Services that changed.
import type { Server } from 'node:http';
import type { EndpointSlice, KubeObject, Node, Service } from '../api/types.ts';
import { Client, loadConfig } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { familyOf } from '../util/ip.ts';
import { defaultExecutor } from '../exec/exec.ts';
import type { Backend } from './backend.ts';
import { defaultScheduler, type ProxyFlags, type ProxyMode } from './config.ts';
import { reconcileConntrack } from './conntrack.ts';
import { ProxyHealthServer, ServiceHealthServers } from './healthcheck.ts';
import { ProxyMetrics } from './metrics.ts';
import { modes } from './modes.ts';
import { BoundedFrequencyRunner } from './runner.ts';
import { ipvsadmList, virtualServers } from './virtualserver.ts';
import { serviceKey, sliceServiceKey } from '../api/keys.ts';
import { categorizeEndpoints, externallyAccessible, nodeZone, servicePorts, type ServicePortInfo } from './model.ts';

export interface ProxierOptions {
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
}

/** Upstream's proxyutil.FullSyncPeriod: a full sync at least this often. */
const fullSyncPeriodMs = 3_600_000;
const keyOf = (o: KubeObject) => serviceKey(o.metadata.namespace, o.metadata.name);

const internalIPv4 = (n: Node) => n.status?.addresses?.find((a) => a.type === 'InternalIP' && familyOf(a.address) === 4)?.address;

export class Proxier {
  private client: Client;
  private services: Informer<Service>;
  private slices: Informer<EndpointSlice>;
  private nodes: Informer<Node>;
  private backend: Backend;
  readonly metrics: ProxyMetrics;
  private timer: NodeJS.Timeout | undefined;
  private runner: BoundedFrequencyRunner;
  private lastFullSync = 0;
  private needFullSync = true;
  /** no sync before both informers have listed: a Service without its slices would be REJECTed */
  private initialized = false;
  /** EndpointSlices by Service, and each Service's ports as of the last sync */
  private slicesByService = new Map<string, Map<string, EndpointSlice>>();
  private ports = new Map<string, ServicePortInfo[]>();
  private changedServices = new Set<string>();
  private changedEndpoints = new Set<string>();
  /** last-change-trigger-time of the EndpointSlice changes waiting for a sync */
  private triggerTimes: number[] = [];
  private health: ServiceHealthServers;
  private proxyHealth: ProxyHealthServer;
  private metricsServer: Server | undefined;

  constructor(private readonly o: ProxierOptions) {
    this.client = new Client(loadConfig(o.kubeconfig, `kube-proxy/podpath (${o.nodeName})`));
    this.services = new Informer<Service>(this.client, 'v1', 'services');
    this.slices = new Informer<EndpointSlice>(this.client, 'discovery.k8s.io/v1', 'endpointslices');
    this.nodes = new Informer<Node>(this.client, 'v1', 'nodes', { fieldSelector: `metadata.name=${o.nodeName}` });
    this.metrics = new ProxyMetrics(o.mode);
    this.backend = modes[o.mode].newBackend({ flags: o.flags, metrics: this.metrics, syncPeriodMs: o.syncPeriodMs, log: o.log, ex: defaultExecutor });
    // Healthy while asked-for syncs complete within two sync periods, as upstream.
    this.proxyHealth = new ProxyHealthServer(2 * o.syncPeriodMs, (path, code) => (path === '/healthz' ? this.metrics.healthzTotal : this.metrics.livezTotal).inc(1, { code: String(code) }));
    this.health = new ServiceHealthServers(() => this.proxyHealth.healthy(), o.log);
    // Upstream's runner: burstSyncs 2, at most one sync per minSyncPeriod beyond that.
    this.runner = new BoundedFrequencyRunner(() => this.sync(), o.minSyncPeriodMs, 2);
    // Userspace mode counts connections per endpoint; /metrics reads them when scraped.
    const backend = this.backend;
    if (backend.connectionCounts) {
      this.metrics.beforeExpose = () => {
        for (const c of backend.connectionCounts!()) {
          this.metrics.endpointConnections.set(c.active, { service: c.service, endpoint: c.endpoint });
          this.metrics.endpointConnectionsTotal.set(c.total, { service: c.service, endpoint: c.endpoint });
        }
      };
    }
  }

  async start(): Promise<void> {
    this.services.on({
      add: (s) => this.serviceChanged(s),
      update: (_, s) => this.serviceChanged(s),
      delete: (s) => this.serviceChanged(s),
    });
    this.slices.on({
      add: (s) => this.sliceChanged(undefined, s),
      update: (old, s) => this.sliceChanged(old, s),
      delete: (s) => this.sliceChanged(s, undefined),
    });
    // A new node address changes NodePort addresses (the backend resyncs fully then); labels
    // are what upstream resyncs for. Heartbeats (status updates) change neither.
    const nodeView = (n: Node) => JSON.stringify([internalIPv4(n), n.metadata.labels ?? {}]);
    const eligible = (n: Node | undefined) => {
      // Upstream: a Node being deleted, or marked for deletion by the cluster autoscaler, fails /healthz.
      this.proxyHealth.nodeEligible = !n || (!n.metadata.deletionTimestamp && !(n.spec?.taints ?? []).some((t) => t.key === 'ToBeDeletedByClusterAutoscaler'));
    };
    this.nodes.on({
      add: (n) => {
        eligible(n);
        this.requestSync(nodeZone(n) !== undefined);
      },
      update: (old, cur) => {
        eligible(cur);
        // A new zone label changes topology-aware routing of every Service: a full sync.
        if (nodeView(old) !== nodeView(cur)) this.requestSync(nodeZone(old) !== nodeZone(cur));
      },
      delete: () => eligible(undefined),
    });
    for (const inf of [this.services, this.slices, this.nodes]) {
      inf.onError = (e) => this.o.log(`informer: ${e.message}`);
      inf.start();
    }
    if (this.o.healthz) this.proxyHealth.listen(this.o.healthz.host, this.o.healthz.port, this.o.log);
    if (this.o.metrics) this.metricsServer = this.metrics.listen(this.o.metrics.host, this.o.metrics.port, this.o.log, { '/ipvsadm': (q) => this.ipvsadm(q) });
    this.proxyHealth.queued();
    this.metrics.lastQueued.set(Date.now() / 1000);
    // The Node (for its address) too: a first sync without it would leave NodePorts unanswered
    // in nftables mode until it arrives. A Node not registered yet comes later, with a resync.
    await Promise.all([this.services.waitForSync(), this.slices.waitForSync(), this.nodes.waitForSync()]);
    this.initialized = true;
    this.sync();
    // Periodic syncs: partial (nothing to do unless something changed) unless the rules were
    // flushed behind our back or a full sync is due.
    this.timer = setInterval(() => this.requestSync(!this.backend.intact() || Date.now() - this.lastFullSync > fullSyncPeriodMs), this.o.syncPeriodMs);
    // upstream's line ("Using ipvs Proxier"), then ours
    this.o.log(`Using ${this.o.mode} Proxier`);
    this.o.log(`${this.o.mode} proxier for ${this.o.nodeName} started`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.runner.stop();
    for (const inf of [this.services, this.slices, this.nodes]) inf.stop();
    this.health.close();
    this.proxyHealth.close();
    this.metricsServer?.close();
    this.backend.close?.();
    this.client.close();
  }

  private serviceChanged(s: Service): void {
    this.changedServices.add(keyOf(s));
    this.metrics.serviceChangesTotal.inc();
    this.metrics.serviceChangesPending.set(this.changedServices.size);
    this.requestSync();
  }

  private sliceChanged(old: EndpointSlice | undefined, cur: EndpointSlice | undefined): void {
    const name = (cur ?? old)!.metadata.name!;
    const oldKey = old && sliceServiceKey(old);
    const newKey = cur && sliceServiceKey(cur);
    if (oldKey) {
      this.slicesByService.get(oldKey)?.delete(name);
      this.changedEndpoints.add(oldKey);
    }
    if (newKey && cur) {
      let m = this.slicesByService.get(newKey);
      if (!m) this.slicesByService.set(newKey, (m = new Map()));
      m.set(name, cur);
      this.changedEndpoints.add(newKey);
    }
    const trigger = Date.parse(cur?.metadata.annotations?.['endpoints.kubernetes.io/last-change-trigger-time'] ?? '');
    if (!Number.isNaN(trigger)) this.triggerTimes.push(trigger);
    this.metrics.endpointChangesTotal.inc();
    this.metrics.endpointChangesPending.set(this.changedEndpoints.size);
    this.requestSync();
  }

  /** Asks the runner for a sync (several requests make one sync). */
  private requestSync(full = false): void {
    if (full) this.needFullSync = true;
    this.proxyHealth.queued();
    this.metrics.lastQueued.set(Date.now() / 1000);
    this.runner.run();
  }

  private nodeIP(): string | undefined {
    const node = this.nodes.list()[0];
    return node && internalIPv4(node);
  }

  /** Brings each changed Service's ports up to date; returns the Services to rewrite. */
  private takeChanges(full: boolean): Set<string> {
    const changed = new Set([...this.changedServices, ...this.changedEndpoints]);
    this.changedServices.clear();
    this.changedEndpoints.clear();
    this.metrics.serviceChangesPending.set(0);
    this.metrics.endpointChangesPending.set(0);
    const keys = full ? new Set([...this.ports.keys(), ...this.services.list().map(keyOf), ...changed]) : changed;
    const zone = nodeZone(this.nodes.list()[0]);
    for (const k of keys) {
      const [ns, name] = k.split('/') as [string, string];
      const svc = this.services.get(ns, name);
      const ports = svc ? servicePorts([svc], [...(this.slicesByService.get(k)?.values() ?? [])], this.o.nodeName, zone) : [];
      if (ports.length) this.ports.set(k, ports);
      else this.ports.delete(k);
    }
    return keys;
  }

  private sync(): void {
    if (!this.initialized) return;
    const t0 = performance.now();
    const full = this.needFullSync;
    const triggers = this.triggerTimes;
    this.triggerTimes = [];
    try {
      const changed = this.takeChanges(full);
      const nodeIP = this.nodeIP();
      const podCIDR = this.nodes.list()[0]?.spec?.podCIDR;
      const r = this.backend.sync({ byService: this.ports, ...(full ? {} : { changed }), ...(nodeIP ? { nodeIP } : {}), ...(podCIDR ? { podCIDR } : {}) });
      this.needFullSync = false;
      if (full) this.lastFullSync = Date.now();
      this.afterSync(triggers);
      // Chains a sync flushed are deleted by a later one: make sure there is one.
      if (this.backend.pendingCleanup()) setTimeout(() => this.requestSync(), 1100).unref();
      const ms = performance.now() - t0;
      for (const h of [this.metrics.syncDuration, r.full ? this.metrics.syncFullDuration : this.metrics.syncPartialDuration]) h.observe(ms / 1000);
      this.o.log(`synced ${this.ports.size} services (${r.full ? 'full' : 'partial'}, ${r.summary}) in ${ms.toFixed(1)} ms`);
    } catch (e) {
      this.needFullSync = true;
      this.o.log(`sync failed: ${(e as Error).message}`);
      setTimeout(() => this.requestSync(true), this.o.syncPeriodMs);
    }
  }

  /** What follows a successful sync: health, metrics, health-check servers, conntrack. */
  private afterSync(triggers: number[]): void {
    this.proxyHealth.updated();
    const now = Date.now();
    this.metrics.lastSync.set(now / 1000);
    for (const t of triggers) this.metrics.networkProgramming.observe(Math.max(0, now - t) / 1000);
    const hc: { namespace: string; name: string; port: number; localEndpoints: number }[] = [];
    let noLocalInternal = 0;
    let noLocalExternal = 0;
    const udp: ServicePortInfo[] = [];
    for (const ports of this.ports.values()) {
      for (const sp of ports) {
        if (sp.protocol === 'UDP') udp.push(sp);
        // Only Services with a Local policy need their endpoints categorized here.
        if (!sp.healthCheckNodePort && !sp.internalPolicyLocal && !sp.externalPolicyLocal) continue;
        const eps = categorizeEndpoints(sp);
        if (sp.healthCheckNodePort) hc.push({ namespace: sp.namespace, name: sp.serviceName, port: sp.healthCheckNodePort, localEndpoints: eps.localEndpoints.filter((e) => e.ready).length });
        if (eps.hasAnyEndpoints && eps.localEndpoints.length === 0) {
          if (sp.internalPolicyLocal) noLocalInternal++;
          if (sp.externalPolicyLocal && externallyAccessible(sp)) noLocalExternal++;
        }
      }
    }
    this.metrics.noLocalEndpoints.set(noLocalInternal, { traffic_policy: 'internal' });
    this.metrics.noLocalEndpoints.set(noLocalExternal, { traffic_policy: 'external' });
    this.health.sync(hc);
    // Only NAT in the kernel leaves conntrack entries to clean up.
    if (udp.length && modes[this.o.mode].kernelNAT) {
      try {
        const n = reconcileConntrack(udp);
        if (n) {
          this.metrics.conntrackDeleted.inc(n);
          this.o.log(`deleted ${n} stale UDP conntrack entries`);
        }
      } catch (e) {
        this.o.log(`conntrack cleanup failed: ${(e as Error).message}`);
      }
    }
  }

  /**
   * `ipvsadm -Ln` of this node: in userspace mode the live table podpath balances over (with
   * ?stats or ?connections), in the other modes what IPVS mode would program for the same Services.
   */
  ipvsadm(q: URLSearchParams): string {
    if (this.backend.debugInfo) return this.backend.debugInfo(q);
    const ip = this.nodeIP();
    return ipvsadmList(virtualServers([...this.ports.values()].flat(), { scheduler: defaultScheduler(this.o.flags), nodePortIPs: ip ? [ip] : [], mode: 'ipvs' }));
  }
}
