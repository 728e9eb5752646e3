// nftables mode, live: each sync is one `nft -f` transaction that planNftSync makes from what the
// last sync applied (only the changed Services' chains and elements on a partial sync); chains a
// sync left unused are deleted a second later, in a transaction of their own.
import { defaultExecutor, type Executor } from '../../exec/exec.ts';
import type { Backend, SyncRequest, SyncResult } from '../backend.ts';
import type { ProxyFlags } from '../config.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { liveNodePortIPs } from '../nodeaddresses.ts';
import { deleteChainsText, nftablesConfig, planNftSync, renderService, type NftAppliedState, type ServiceNft } from './render.ts';
import { realNft, type NftShell } from './shell.ts';

/** Chains flushed by a sync are deleted at least this long after (older kernels keep references a moment). */
const staleChainDelayMs = 1000;

export class NftablesBackend implements Backend {
  readonly mode = 'nftables' as const;
  private applied: NftAppliedState | undefined;
  private staleChains = new Map<string, number>();
  private lastNodeIP: string | undefined;

  constructor(
    private readonly flags: ProxyFlags,
    private readonly metrics: ProxyMetrics,
    private readonly shell: NftShell = realNft(),
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
    const plan = planNftSync({
      services,
      ...(full ? { existingChains: this.shell.listChains(), existingSets: this.shell.listSets() } : { changed: new Set(keys), prev: this.applied! }),
      cfg,
    });
    if (plan.text) {
      try {
        this.shell.run(plan.text);
      } catch (e) {
        this.metrics.nftablesSyncFailures.inc();
        this.applied = undefined;
        throw e;
      }
    }
    this.applied = plan.commit();
    this.lastNodeIP = req.nodeIP;
    const t = this.now();
    if (full) this.staleChains.clear();
    for (const c of plan.staleChains) this.staleChains.set(c, t);
    // A chain in use again is no longer stale.
    for (const svc of services.values()) for (const c of svc.chains) this.staleChains.delete(c.name);
    return { full, summary: `${plan.operations} nft operations${full ? '' : ` for ${keys.length} changed services`}` };
  }

  /** Deletes, in a transaction of its own, chains that have been stale for a second or more. */
  private deleteStaleChains(): void {
    const cutoff = this.now() - staleChainDelayMs;
    const old = [...this.staleChains].filter(([, t]) => t <= cutoff).map(([c]) => c);
    if (!old.length) return;
    for (const c of old) this.staleChains.delete(c);
    try {
      this.shell.run(deleteChainsText(old));
    } catch {
      // Still there: the next full sync finds and flushes them again.
      this.metrics.nftablesCleanupFailures.inc();
    }
  }

  pendingCleanup(): boolean {
    return this.staleChains.size > 0;
  }

  intact(): boolean {
    return this.shell.hasChain('services');
  }
}
