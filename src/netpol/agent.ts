// `podpath netpol agent`: one per node, as kube-network-policies or Calico's Felix. Informers for
// NetworkPolicies, Pods and Namespaces; on any change a sync (coalesced, at most one at a time)
// computes the node's table with the same model `netpol check` uses and applies the difference as
// one nft transaction. /metrics serves sync counts and the drop counters of the pods' chains,
// per policy and per pod.
import type http from 'node:http';
import { Client, loadConfig } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import type { KubeObject, Namespace, NetworkPolicy, Pod } from '../api/types.ts';
import { Nftables, type NftInterface } from '../knftables/index.ts';
import { Counter, serveMetrics } from '../util/prometheus.ts';
import type { HostPort } from '../util/ip.ts';
import { PolicyModel, type Cluster } from './policy.ts';
import { desiredTable, tableFamily, tableName, type DesiredTable } from './rules.ts';
import { planSync } from './sync.ts';

export interface Sources {
  cluster(): Cluster;
  /** calls `changed` on every add, update and delete */
  onChange(changed: () => void): void;
}

export interface SyncerOptions {
  nodeName: string;
  nft: NftInterface;
  log: (s: string) => void;
  /** least time between the end of one sync and the start of the next (default 100 ms) */
  minIntervalMs?: number;
  /** after a failed sync, the next (full) one starts this much later (default 1 s) */
  retryMs?: number;
}

export class SyncMetrics {
  readonly syncs = new Counter('podpath_netpol_syncs_total', 'nft transactions applied, by kind (full or partial).');
  readonly failures = new Counter('podpath_netpol_sync_failures_total', 'Syncs whose transaction nft refused.');
  readonly last = new Counter('podpath_netpol_last_sync_timestamp_seconds', 'When the last successful sync finished.', 'gauge');
  readonly operations = new Counter('podpath_netpol_sync_operations', 'Operations in the last transaction applied.', 'gauge');
  readonly dropsByPolicy = new Counter('podpath_netpol_dropped_packets_total', 'Packets dropped because no rule of the policies isolating a pod allowed them, per policy and direction (a drop counts for every policy isolating the pod).');
  readonly dropsByPod = new Counter('podpath_netpol_pod_dropped_packets_total', 'Packets dropped per local pod and direction.');
  constructor() {
    this.syncs.labelled = this.dropsByPolicy.labelled = this.dropsByPod.labelled = true;
  }
}

/** Keeps the node's table in line with the sources: the shell around desiredTable + planSync. */
export class Syncer {
  readonly metrics = new SyncMetrics();
  private applied: DesiredTable | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private pending = false;
  private stopped = false;
  private lastEnd = 0;

  constructor(
    private readonly sources: Pick<Sources, 'cluster'>,
    private readonly o: SyncerOptions,
  ) {}

  /** The table last applied (undefined before the first sync, and after a failed one). */
  get current(): DesiredTable | undefined {
    return this.applied;
  }

  /** Forgets what was applied: the next sync rebuilds the table whole. */
  invalidate(): void {
    this.applied = undefined;
  }

  /** Asks for a sync soon; changes arriving meanwhile ride along. */
  request(delayMs = 0): void {
    if (this.stopped) return;
    this.pending = true;
    if (this.timer || this.running) return;
    const wait = Math.max(delayMs, this.lastEnd + (this.o.minIntervalMs ?? 100) - Date.now(), 0);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.syncNow();
    }, wait);
  }

  /** One sync, now: true when nft took the transaction. */
  syncNow(): boolean {
    this.pending = false;
    this.running = true;
    let ok = false;
    try {
      const want = desiredTable(new PolicyModel(this.sources.cluster(), null), this.o.nodeName);
      const full = this.applied === undefined;
      const tx = planSync(this.o.nft, want, this.applied);
      if (tx.numOperations) this.o.nft.run(tx);
      this.applied = want;
      this.metrics.syncs.inc(1, { kind: full ? 'full' : 'partial' });
      this.metrics.operations.set(tx.numOperations);
      this.metrics.last.set(Date.now() / 1000);
      ok = true;
    } catch (e) {
      this.applied = undefined; // the kernel's table is unknown now: rebuild it whole
      this.metrics.failures.inc();
      this.o.log(`sync failed: ${(e as Error).message}`);
    } finally {
      this.running = false;
      this.lastEnd = Date.now();
    }
    if (!ok) this.request(this.o.retryMs ?? 1000);
    else if (this.pending) this.request();
    return ok;
  }

  /** The drop counters of the pod chains, read from the kernel into the metrics. */
  readDrops(): void {
    const owners = this.applied?.owners;
    if (!owners) return;
    let rules;
    try {
      rules = this.o.nft.listRules('');
    } catch {
      return;
    }
    const byPolicy = new Map<string, number>();
    for (const r of rules) {
      const owner = owners.get(r.chain);
      const counter = r.expr?.find((s) => s.kind === 'counter') as { packets?: number } | undefined;
      if (!owner || !counter) continue;
      const n = counter.packets ?? 0;
      const direction = owner.direction.toLowerCase();
      const [namespace, pod] = owner.pod.split('/') as [string, string];
      this.metrics.dropsByPod.set(n, { namespace, pod, direction });
      for (const p of owner.policies) byPolicy.set(`${p} ${direction}`, (byPolicy.get(`${p} ${direction}`) ?? 0) + n);
    }
    for (const [k, n] of byPolicy) {
      const [policy, direction] = k.split(' ') as [string, string];
      const [namespace, name] = policy.split('/') as [string, string];
      this.metrics.dropsByPolicy.set(n, { namespace, policy: name, direction });
    }
  }

  expose(): string {
    this.readDrops();
    const m = this.metrics;
    return [m.syncs, m.failures, m.last, m.operations, m.dropsByPolicy, m.dropsByPod].map((x) => x.expose()).join('');
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

export interface AgentOptions {
  kubeconfig?: string;
  nodeName: string;
  /** the network namespace whose table to keep (default: the agent's own) */
  netns?: string;
  metrics?: HostPort;
  /** how often the table is checked and rebuilt if it vanished (default 30 s) */
  resyncMs?: number;
  log: (s: string) => void;
}

/** Informers over the API server as the sources of a Syncer. */
export function informerSources(client: Client): Sources & { start(): Promise<void>; stop(): void } {
  const namespaces = new Informer<Namespace>(client, 'v1', 'namespaces');
  const pods = new Informer<Pod>(client, 'v1', 'pods');
  const policies = new Informer<NetworkPolicy>(client, 'networking.k8s.io/v1', 'networkpolicies');
  const all = [namespaces, pods, policies] as Informer<KubeObject>[];
  return {
    cluster: () => ({ namespaces: namespaces.list(), pods: pods.list(), policies: policies.list() }),
    onChange: (changed) => {
      for (const i of all) i.on({ add: changed, update: changed, delete: changed });
    },
    start: async () => {
      for (const i of all) i.start();
      await Promise.all(all.map((i) => i.waitForSync()));
    },
    stop: () => {
      for (const i of all) i.stop();
    },
  };
}

export interface RunningAgent {
  syncer: Syncer;
  stop(): Promise<void>;
}

export async function runAgent(o: AgentOptions): Promise<RunningAgent> {
  const client = new Client(loadConfig(o.kubeconfig, 'podpath-netpol'));
  const nft = new Nftables({ family: tableFamily, table: tableName, ...(o.netns ? { netns: o.netns } : {}) });
  const sources = informerSources(client);
  const syncer = new Syncer(sources, { nodeName: o.nodeName, nft, log: o.log });
  let synced = false;
  sources.onChange(() => synced && syncer.request());
  await sources.start();
  synced = true;
  syncer.syncNow();
  o.log(`informers synced; table ${tableFamily} ${tableName} written for node ${o.nodeName}`);
  // The table may vanish under us (nft flush ruleset): check, and rebuild it whole if so.
  const resync = setInterval(() => {
    try {
      nft.list('chains');
    } catch {
      o.log(`table ${tableFamily} ${tableName} is gone; rebuilding it`);
      syncer.invalidate();
      syncer.syncNow();
      return;
    }
    syncer.request();
  }, o.resyncMs ?? 30_000);
  let server: http.Server | undefined;
  if (o.metrics) server = serveMetrics(() => syncer.expose(), o.metrics.host, o.metrics.port, o.log);
  return {
    syncer,
    stop: async () => {
      clearInterval(resync);
      syncer.stop();
      sources.stop();
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    },
  };
}
