// iptables mode, live: each sync is one `iptables-restore --noflush` of the tables renderIptables
// builds (only the changed Services' chains on a partial sync, stale chains found in the saved
// nat table deleted in the same transaction), the jump rules and upstream's canary chains kept in
// place on full syncs — all through src/iptables' Interface (its fake in unit tests).
import { defaultExecutor, type Executor } from '../../exec/exec.ts';
import { Iptables, withEnsured, type IptablesInterface, type Table, type TableName } from '../../iptables/index.ts';
import { allServicePorts, type Backend, type SyncRequest, type SyncResult } from '../backend.ts';
import type { ProxyFlags } from '../config.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { liveNodePortIPs } from '../nodeaddresses.ts';
import { deleteChains, iptablesConfig, jumpRules, largeClusterEndpointsThreshold, renderIptables, staleChains } from './render.ts';

const canaryTables: TableName[] = ['mangle', 'nat', 'filter'];
/** The jumps' targets, then upstream's canary chains. */
const ensuredChains = [...jumpRules.map((j) => ({ table: j.table, chain: j.args.at(-1)! })), ...canaryTables.map((table) => ({ table, chain: 'KUBE-PROXY-CANARY' }))];
const ensuredTables = [...new Set(ensuredChains.map((c) => c.table))];
/** The built-in chains jumps go from. */
const jumpChains = [...new Set(jumpRules.map((j) => j.chain))];

export class IptablesBackend implements Backend {
  readonly mode = 'iptables' as const;
  private serviceNatRules = new Map<string, number>();
  private lastStaleCheck = -Infinity;

  constructor(
    private readonly flags: ProxyFlags,
    private readonly metrics: ProxyMetrics,
    private readonly iptables: IptablesInterface = new Iptables({ timeoutMs: 600_000 }),
    /** in large clusters stale chains are looked for once per sync period (upstream's largeClusterMode) */
    private readonly syncPeriodMs = 30_000,
    private readonly now: () => number = Date.now,
    /** runs `ip addr` when --nodeport-addresses names CIDRs */
    private readonly ex: Executor = defaultExecutor,
  ) {}

  sync(req: SyncRequest): SyncResult {
    const full = req.changed === undefined;
    const ips = liveNodePortIPs('iptables', this.flags, req.nodeIP, this.ex);
    const ports = allServicePorts(req.byService);
    const r = renderIptables(ports, { ...iptablesConfig(this.flags, ips), randomFully: this.iptables.hasRandomFully() }, req.changed);
    // Stale per-service chains go in the same transaction. Listing them costs seconds in a
    // large cluster, so there it happens on full syncs and once per sync period.
    const large = ports.reduce((n, sp) => n + sp.endpoints.length, 0) > largeClusterEndpointsThreshold;
    const check = full || !large || this.now() - this.lastStaleCheck >= this.syncPeriodMs;
    if (check) this.lastStaleCheck = this.now();
    const [, nat] = r.tables;
    // A full sync reads the tables anyway: the jump rules' built-in chains come along.
    const saved = full ? new Map<TableName, Table>(ensuredTables.map((t) => [t, this.iptables.save(t, jumpChains)])) : undefined;
    const chainsNow = saved ? saved.get('nat')!.chains.map((c) => c.name) : check ? this.iptables.listChains('nat') : [];
    const stale = check ? staleChains(chainsNow, r.activeNatChains) : [];
    deleteChains(nat, stale);
    // As upstream on a full sync: each jump's chain made if missing, the jump put first in its
    // built-in chain unless it is there, and the canary chains that tell of a flush; in the
    // same transaction here, not as ~45 iptables commands.
    const tables = saved ? withEnsured(r.tables, saved, ensuredChains, jumpRules) : r.tables;
    try {
      this.iptables.restore(tables, { noflush: true, counters: true });
    } catch (e) {
      this.metrics.iptablesRestoreFailures.inc();
      if (!full) this.metrics.iptablesPartialRestoreFailures.inc();
      throw e;
    }
    if (full) this.serviceNatRules.clear();
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
    return { full, summary: `${r.rulesWritten.nat + r.rulesWritten.filter} rules written${stale.length ? `, ${stale.length} stale chains removed` : ''}` };
  }

  intact(): boolean {
    return this.iptables.hasChain('mangle', 'KUBE-PROXY-CANARY');
  }

  pendingCleanup(): boolean {
    return false;
  }
}
