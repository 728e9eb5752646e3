// iptables mode, live: each sync is one `iptables-restore --noflush` of the rules renderIptables
// writes (only the changed Services' chains on a partial sync, stale chains deleted in the same
// transaction), the jump rules and upstream's canary chains kept in place on full syncs.
import { defaultExecutor, type Executor } from '../../exec/exec.ts';
import { allServicePorts, type Backend, type SyncRequest, type SyncResult } from '../backend.ts';
import type { ProxyFlags } from '../config.ts';
import { realIptables, type IptablesShell } from '../iptablesshell.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { liveNodePortIPs } from '../nodeaddresses.ts';
import { iptablesConfig, jumpRules, largeClusterEndpointsThreshold, renderIptables, staleChainLines } from './render.ts';

const canaryTables = ['mangle', 'nat', 'filter'];

export class IptablesBackend implements Backend {
  readonly mode = 'iptables' as const;
  private serviceNatRules = new Map<string, number>();
  private randomFully: boolean | undefined;
  private lastStaleCheck = -Infinity;

  constructor(
    private readonly flags: ProxyFlags,
    private readonly metrics: ProxyMetrics,
    private readonly shell: IptablesShell = realIptables(),
    /** in large clusters stale chains are looked for once per sync period (upstream's largeClusterMode) */
    private readonly syncPeriodMs = 30_000,
    private readonly now: () => number = Date.now,
    /** runs `ip addr` when --nodeport-addresses names CIDRs */
    private readonly ex: Executor = defaultExecutor,
  ) {}

  sync(req: SyncRequest): SyncResult {
    const full = req.changed === undefined;
    this.randomFully ??= this.shell.supportsRandomFully?.() ?? false;
    const ips = liveNodePortIPs('iptables', this.flags, req.nodeIP, this.ex);
    const ports = allServicePorts(req.byService);
    const r = renderIptables(ports, { ...iptablesConfig(this.flags, ips), randomFully: this.randomFully }, req.changed);
    // Stale per-service chains go in the same transaction. Listing them costs seconds in a
    // large cluster, so there it happens on full syncs and once per sync period.
    const large = ports.reduce((n, sp) => n + sp.endpoints.length, 0) > largeClusterEndpointsThreshold;
    const check = full || !large || this.now() - this.lastStaleCheck >= this.syncPeriodMs;
    if (check) this.lastStaleCheck = this.now();
    const stale = check ? staleChainLines(this.shell.saveNat(), r.activeNatChains) : [];
    const text = stale.length ? r.text.replace(/COMMIT\n$/, `${stale.join('\n')}\nCOMMIT\n`) : r.text;
    try {
      this.shell.restore(text);
    } catch (e) {
      this.metrics.iptablesRestoreFailures.inc();
      if (!full) this.metrics.iptablesPartialRestoreFailures.inc();
      throw e;
    }
    if (full) {
      for (const j of jumpRules) this.shell.ensureRule(j.table, j.chain, j.args);
      // Upstream's canary: if these vanish, someone flushed the tables and a full sync is due.
      for (const t of canaryTables) this.shell.ensureChain(t, 'KUBE-PROXY-CANARY');
      this.serviceNatRules.clear();
    }
    for (const k of req.changed ?? []) this.serviceNatRules.delete(k);
    let writtenServiceRules = 0;
    for (const [k, n] of r.serviceNatRules) {
      this.serviceNatRules.set(k, n);
      writtenServiceRules += n;
    }
    let owned = 0;
    for (const n of this.serviceNatRules.values()) owned += n;
    this.metrics.iptablesRulesLast.set(r.rulesWritten.filter, { table: 'filter' });
    this.metrics.iptablesRulesLast.set(r.rulesWritten.nat, { table: 'nat' });
    this.metrics.iptablesRulesTotal.set(r.rulesWritten.filter, { table: 'filter' });
    this.metrics.iptablesRulesTotal.set(r.rulesWritten.nat - writtenServiceRules + owned, { table: 'nat' });
    return { full, summary: `${r.rulesWritten.nat + r.rulesWritten.filter} rules written${stale.length ? `, ${stale.length / 2} stale chains removed` : ''}` };
  }

  intact(): boolean {
    return this.shell.hasChain('mangle', 'KUBE-PROXY-CANARY');
  }

  pendingCleanup(): boolean {
    return false;
  }
}
