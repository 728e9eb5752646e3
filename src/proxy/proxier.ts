// The Proxier: kube-proxy's core, the same for every mode. Told of Service, EndpointSlice and
// Node events, it tracks which Services changed and has its Backend sync through a
// bounded-frequency runner: fully at start (once Services and EndpointSlices are listed), after
// a failure, when the rules were flushed behind its back, when the node's address, pod range or
// zone changes, and once an hour; otherwise only for the Services that changed. It has no client
// or informers (server.ts feeds it) and its time is injected, so tests step it.
import type { EndpointSlice, Node, Service } from '../api/types.ts';
import { familyOf } from '../util/ip.ts';
import type { Backend } from './backend.ts';
import { EndpointSliceChangeTracker, ServiceChangeTracker } from './changetracker.ts';
import type { HealthCheckTarget, ProxyHealthServer, ServiceHealthServers } from './healthcheck.ts';
import type { ProxyMetrics } from './metrics.ts';
import { categorizeEndpoints, externallyAccessible, nodeZone, servicePorts, type ServicePortInfo } from './model.ts';
import { BoundedFrequencyRunner } from './runner.ts';

/** Time as the Proxier sees it. */
export interface Clock {
  now(): number;
  /** runs fn once after ms; the returned function cancels it */
  after(ms: number, fn: () => void): () => void;
  /** runs fn every ms; the returned function stops it */
  every(ms: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  every: (ms, fn) => {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
};

/** Runs the sync when asked, rate-limited (upstream's BoundedFrequencyRunner). */
export interface SyncRunner {
  run(): void;
  stop(): void;
}

/** The sync health /healthz reports (upstream's ProxyHealthServer). */
export type SyncHealth = Pick<ProxyHealthServer, 'queued' | 'updated' | 'nodeEligible'>;
/** The healthCheckNodePort servers (upstream's ServiceHealthServer). */
export type ServiceHealth = Pick<ServiceHealthServers, 'sync'>;

export interface ProxierOptions {
  nodeName: string;
  backend: Backend;
  metrics: ProxyMetrics;
  /** between periodic syncs; a failed sync is retried after one */
  syncPeriodMs: number;
  /** the default runner's least time between syncs, beyond a burst of two */
  minSyncPeriodMs: number;
  log: (s: string) => void;
  proxyHealth?: SyncHealth;
  serviceHealth?: ServiceHealth;
  /** deletes stale UDP conntrack entries and says how many; absent where the kernel NATs nothing */
  conntrack?: (udpPorts: ServicePortInfo[]) => number;
  clock?: Clock;
  runner?: (sync: () => void) => SyncRunner;
  /** called once, after the first sync that succeeded */
  afterFirstSync?: () => void;
}

/** Upstream's proxyutil.FullSyncPeriod: a full sync at least this often. */
const fullSyncPeriodMs = 3_600_000;
/** Chains a sync flushed are deleted by a later one, this long after. */
const cleanupDelayMs = 1100;

const internalIPv4 = (n: Node | undefined) => n?.status?.addresses?.find((a) => a.type === 'InternalIP' && familyOf(a.address) === 4)?.address;
/** What of the Node the rules depend on: its address (NodePorts), pod range and zone (topology). */
const nodeRuleView = (n: Node | undefined) => JSON.stringify([internalIPv4(n), n?.spec?.podCIDR, nodeZone(n)]);

export class Proxier {
  private readonly clock: Clock;
  private readonly runner: SyncRunner;
  private readonly serviceChanges = new ServiceChangeTracker();
  private readonly endpointChanges = new EndpointSliceChangeTracker();
  /** each Service's ports as of the last sync (upstream's ServicePortMap) */
  private readonly ports = new Map<string, ServicePortInfo[]>();
  private node: Node | undefined;
  private servicesSynced = false;
  private endpointSlicesSynced = false;
  /** no sync before both are listed: a Service without its slices would be REJECTed */
  private initialized = false;
  private needFullSync = true;
  private lastFullSync = 0;
  /** when stale UDP flows were last looked for (ms) */
  private lastConntrack = -Infinity;
  /** cancels the timers still to fire */
  private readonly timers = new Set<() => void>();

  constructor(private readonly o: ProxierOptions) {
    this.clock = o.clock ?? realClock;
    // Upstream's runner: burstSyncs 2, at most one sync per minSyncPeriod beyond that.
    this.runner = (o.runner ?? ((sync) => new BoundedFrequencyRunner(sync, o.minSyncPeriodMs, 2)))(() => this.sync());
    // The first sync is due from the start: /healthz turns unhealthy if it takes too long.
    o.proxyHealth?.queued();
    o.metrics.lastQueued.set(this.clock.now() / 1000);
  }

  onServiceAdd(s: Service): void {
    this.serviceChanged(undefined, s);
  }

  onServiceUpdate(old: Service, s: Service): void {
    this.serviceChanged(old, s);
  }

  onServiceDelete(s: Service): void {
    this.serviceChanged(s, undefined);
  }

  /** The Services have been listed. */
  onServicesSynced(): void {
    this.servicesSynced = true;
    this.startSyncing();
  }

  onEndpointSliceAdd(s: EndpointSlice): void {
    this.endpointSliceChanged(undefined, s);
  }

  onEndpointSliceUpdate(old: EndpointSlice, s: EndpointSlice): void {
    this.endpointSliceChanged(old, s);
  }

  onEndpointSliceDelete(s: EndpointSlice): void {
    this.endpointSliceChanged(s, undefined);
  }

  /** The EndpointSlices have been listed. */
  onEndpointSlicesSynced(): void {
    this.endpointSlicesSynced = true;
    this.startSyncing();
  }

  onNodeAdd(n: Node): void {
    this.nodeChanged(n);
    this.requestSync(nodeRuleView(n) !== nodeRuleView(undefined));
  }

  onNodeUpdate(old: Node, n: Node): void {
    this.nodeChanged(n);
    // A new address, pod range or zone changes the rules of every Service; other labels are what
    // upstream resyncs for. Heartbeats (status updates) change neither.
    const full = nodeRuleView(old) !== nodeRuleView(n);
    if (full || JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(n.metadata.labels ?? {})) this.requestSync(full);
  }

  onNodeDelete(): void {
    this.nodeChanged(undefined);
  }

  /** Every Service's ports as of the last sync. */
  servicePorts(): ServicePortInfo[] {
    return [...this.ports.values()].flat();
  }

  /** The node's primary IP, once its Node object says. */
  nodeIP(): string | undefined {
    return internalIPv4(this.node);
  }

  stop(): void {
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    this.runner.stop();
  }

  private serviceChanged(old: Service | undefined, cur: Service | undefined): void {
    this.serviceChanges.update(old, cur);
    this.o.metrics.serviceChangesTotal.inc();
    this.o.metrics.serviceChangesPending.set(this.serviceChanges.pending);
    this.requestSync();
  }

  private endpointSliceChanged(old: EndpointSlice | undefined, cur: EndpointSlice | undefined): void {
    this.endpointChanges.update(old, cur);
    this.o.metrics.endpointChangesTotal.inc();
    this.o.metrics.endpointChangesPending.set(this.endpointChanges.pending);
    this.requestSync();
  }

  private nodeChanged(n: Node | undefined): void {
    this.node = n;
    // Upstream: a Node being deleted, or marked for deletion by the cluster autoscaler, fails /healthz.
    if (this.o.proxyHealth) this.o.proxyHealth.nodeEligible = !n || (!n.metadata.deletionTimestamp && !(n.spec?.taints ?? []).some((t) => t.key === 'ToBeDeletedByClusterAutoscaler'));
  }

  /** The first sync, once Services and EndpointSlices are listed, then the periodic ones. */
  private startSyncing(): void {
    if (this.initialized || !this.servicesSynced || !this.endpointSlicesSynced) return;
    this.initialized = true;
    this.sync();
    // Periodic syncs: partial (nothing to do unless something changed) unless the rules were
    // flushed behind our back or a full sync is due.
    this.timers.add(this.clock.every(this.o.syncPeriodMs, () => this.requestSync(!this.rulesIntact() || this.clock.now() - this.lastFullSync > fullSyncPeriodMs)));
  }

  /** Whether the backend's rules are still there; a kernel tool that cannot answer counts as no. */
  private rulesIntact(): boolean {
    try {
      return this.o.backend.intact();
    } catch (e) {
      this.o.log(`checking the rules failed: ${(e as Error).message}`);
      return false;
    }
  }

  /** Asks the runner for a sync (several requests make one sync). */
  private requestSync(full = false): void {
    if (full) this.needFullSync = true;
    this.o.proxyHealth?.queued();
    this.o.metrics.lastQueued.set(this.clock.now() / 1000);
    this.runner.run();
  }

  private later(ms: number, fn: () => void): void {
    const cancel = this.clock.after(ms, () => {
      this.timers.delete(cancel);
      fn();
    });
    this.timers.add(cancel);
  }

  /** Brings each changed Service's ports up to date; returns the Services to rewrite, and whether any had or has a UDP port. */
  private takeChanges(full: boolean): { keys: Set<string>; udp: boolean } {
    const changed = new Set([...this.serviceChanges.checkoutChanges(), ...this.endpointChanges.checkoutChanges()]);
    this.o.metrics.serviceChangesPending.set(0);
    this.o.metrics.endpointChangesPending.set(0);
    const keys = full ? new Set([...this.ports.keys(), ...this.serviceChanges.keys(), ...changed]) : changed;
    const zone = nodeZone(this.node);
    const hasUdp = (ports?: ServicePortInfo[]) => ports?.some((sp) => sp.protocol === 'UDP') ?? false;
    let udp = false;
    for (const k of keys) {
      const svc = this.serviceChanges.get(k);
      const ports = svc ? servicePorts([svc], this.endpointChanges.slicesFor(k), this.o.nodeName, zone) : [];
      udp ||= hasUdp(this.ports.get(k)) || hasUdp(ports);
      if (ports.length) this.ports.set(k, ports);
      else this.ports.delete(k);
    }
    return { keys, udp };
  }

  private sync(): void {
    if (!this.initialized) return;
    const t0 = performance.now();
    const full = this.needFullSync;
    const triggers = this.endpointChanges.checkoutTriggerTimes();
    try {
      const { keys: changed, udp: udpChanged } = this.takeChanges(full);
      const nodeIP = this.nodeIP();
      const podCIDR = this.node?.spec?.podCIDR;
      const r = this.o.backend.sync({ byService: this.ports, ...(full ? {} : { changed }), ...(nodeIP ? { nodeIP } : {}), ...(podCIDR ? { podCIDR } : {}) });
      this.needFullSync = false;
      if (full) this.lastFullSync = this.clock.now();
      this.afterSync(triggers, full || udpChanged);
      // Chains a sync flushed are deleted by a later one: make sure there is one.
      if (this.o.backend.pendingCleanup()) this.later(cleanupDelayMs, () => this.requestSync());
      const ms = performance.now() - t0;
      for (const h of [this.o.metrics.syncDuration, r.full ? this.o.metrics.syncFullDuration : this.o.metrics.syncPartialDuration]) h.observe(ms / 1000);
      this.o.log(`synced ${this.ports.size} services (${r.full ? 'full' : 'partial'}, ${r.summary}) in ${ms.toFixed(1)} ms`);
      const first = this.o.afterFirstSync;
      if (first) {
        this.o.afterFirstSync = undefined;
        first();
      }
    } catch (e) {
      this.needFullSync = true;
      this.o.log(`sync failed: ${(e as Error).message}`);
      this.later(this.o.syncPeriodMs, () => this.requestSync(true));
    }
  }

  /**
   * What follows a successful sync: health, metrics, health-check servers, conntrack. Stale UDP
   * flows are looked for after a sync that changed a UDP Service port (or a full one), and at
   * least once a sync period: listing the node's flows runs `conntrack`, and starting a process
   * from a proxy holding 10,000 Services' state blocks it for tens of milliseconds, which every
   * partial sync paid (upstream lists them in-process through netlink after every sync).
   */
  private afterSync(triggers: number[], udpChanged: boolean): void {
    const { metrics } = this.o;
    this.o.proxyHealth?.updated();
    const now = this.clock.now();
    metrics.lastSync.set(now / 1000);
    for (const t of triggers) metrics.networkProgramming.observe(Math.max(0, now - t) / 1000);
    const hc: HealthCheckTarget[] = [];
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
    metrics.noLocalEndpoints.set(noLocalInternal, { traffic_policy: 'internal' });
    metrics.noLocalEndpoints.set(noLocalExternal, { traffic_policy: 'external' });
    this.o.serviceHealth?.sync(hc);
    if (udp.length && this.o.conntrack && (udpChanged || now - this.lastConntrack >= this.o.syncPeriodMs)) {
      this.lastConntrack = now;
      try {
        const n = this.o.conntrack(udp);
        if (n) {
          metrics.conntrackDeleted.inc(n);
          this.o.log(`deleted ${n} stale UDP conntrack entries`);
        }
      } catch (e) {
        this.o.log(`conntrack cleanup failed: ${(e as Error).message}`);
      }
    }
  }
}
