// nftables mode, live: each sync is one knftables transaction on the `ip kube-proxy` table that
// planNftSync fills from what the last sync applied (only the changed Services' chains and
// elements on a partial sync), run through an nftables Interface — nft itself, or in tests the
// knftables Fake; chains a sync left unused are deleted a second later, in a transaction of their own.
import { defaultExecutor, type Executor } from '../../exec/exec.ts';
import { isNotFound, Nftables, type ListableType, type NftInterface } from '../../knftables/index.ts';
import type { Backend, SyncRequest, SyncResult } from '../backend.ts';
import type { ProxyFlags } from '../config.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { liveNodePortIPs } from '../nodeaddresses.ts';
import { deleteChains, kubeProxyTable, nftablesConfig, planNftSync, renderService, type NftAppliedState, type NftSyncPlan, type ServiceNft } from './render.ts';

/** Chains flushed by a sync are deleted at least this long after (older kernels keep references a moment). */
const staleChainDelayMs = 1000;

/**
 * The kernel's `ip kube-proxy` table, through nft run by `ex` (a large sync may take minutes);
 * with the real executor, transactions go through one libnftables context kept open where
 * build/nftctx.node is built.
 */
export function kubeProxyNftables(ex: Executor = defaultExecutor, netns?: string): Nftables {
  return new Nftables({ ...kubeProxyTable, executor: ex, timeoutMs: 600_000, ...(netns ? { netns } : {}), session: true });
}

export class NftablesBackend implements Backend {
  readonly mode = 'nftables' as const;
  private applied: NftAppliedState | undefined;
  private staleChains = new Map<string, number>();
  private lastNodeIP: string | undefined;

  constructor(
    private readonly flags: ProxyFlags,
    private readonly metrics: ProxyMetrics,
    private readonly nft: NftInterface = kubeProxyNftables(),
    private readonly now: () => number = Date.now,
    /** runs `ip addr` when --nodeport-addresses names CIDRs */
    private readonly ex: Executor = defaultExecutor,
  ) {}

  sync(req: SyncRequest): SyncResult {
    this.deleteStaleChains();
    // The node's address decides nodeport-ips: a change of it needs the set rewritten.
    const full = req.changed === undefined || this.applied === undefined || req.nodeIP !== this.lastNodeIP;
    const ips = liveNodePortIPs('nftables', this.flags, req.nodeIP, this.ex);
    const cfg = nftablesConfig(this.flags, ips, req.nodeIP);
    const keys = full ? [...req.byService.keys()] : [...req.changed!];
    const services = new Map<string, ServiceNft>();
    for (const k of keys) {
      const ports = req.byService.get(k);
      if (ports?.length) services.set(k, renderService(ports, cfg));
    }
    let plan: NftSyncPlan;
    try {
      const tx = this.nft.newTransaction();
      plan = planNftSync({
        tx,
        services,
        ...(full ? { existingChains: this.existing('chains'), existingSets: this.existing('sets') } : { changed: new Set(keys), prev: this.applied! }),
        cfg,
      });
      if (tx.numOperations > 0) this.nft.run(tx);
    } catch (e) {
      // Nothing was applied; what the table holds is no longer known: the next sync is full.
      this.metrics.nftablesSyncFailures.inc();
      this.applied = undefined;
      throw e;
    }
    this.applied = plan.commit();
    this.lastNodeIP = req.nodeIP;
    const t = this.now();
    if (full) this.staleChains.clear();
    for (const c of plan.staleChains) this.staleChains.set(c, t);
    // A chain in use again is no longer stale.
    for (const svc of services.values()) for (const c of svc.chains) this.staleChains.delete(c.chain.name);
    return { full, summary: `${plan.tx.numOperations} nft operations${full ? '' : ` for ${keys.length} changed services`}` };
  }

  /** Names of the table's chains or sets; none before the first sync made the table. */
  private existing(type: ListableType): string[] {
    try {
      return this.nft.list(type);
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
  }

  /** Deletes, in a transaction of its own, chains that have been stale for a second or more. */
  private deleteStaleChains(): void {
    const cutoff = this.now() - staleChainDelayMs;
    const old = [...this.staleChains].filter(([, t]) => t <= cutoff).map(([c]) => c);
    if (!old.length) return;
    for (const c of old) this.staleChains.delete(c);
    try {
      this.nft.run(deleteChains(this.nft.newTransaction(), old));
    } catch {
      // Still there (or the table went, ENOENT): the next full sync finds and flushes what is left.
      this.metrics.nftablesCleanupFailures.inc();
    }
  }

  pendingCleanup(): boolean {
    return this.staleChains.size > 0;
  }

  /** Whether the table still dispatches Services: its services chain is there with its rules (a flushed or deleted table has none). */
  intact(): boolean {
    try {
      return this.nft.hasRules('services');
    } catch {
      // Gone (ENOENT), or nft could not say: a full sync rewrites the table, or fails and says why.
      return false;
    }
  }
}
