// The two rule backends of the live proxier: each takes the ServicePorts of every Service
// (and which Services changed since the last sync) and brings the kernel there through a
// small shell interface — iptables-restore, or one nft transaction — keeping what it needs
// for the next partial sync. Fakes of the shells stand in for the kernel in unit tests.
import fs from 'node:fs';
import { commandExists, run, succeeds } from '../exec/netns.ts';
import type { SchedulerName } from './schedulers.ts';
import { dummyAddresses, dummyDevice, ipsetSave, ipsetSwapScript, ipvsIptablesRules, ipvsJumpRules, ipvsSets, parseIpvsadmList, planIpvsTable, virtualServers } from './ipvs.ts';
import { realTransparent } from './transparent.ts';
import { ipv4Addresses, realDummy, UserspaceBackend, type DummyShell } from './userspace.ts';
import { iptablesConfig, nftablesConfig, nodePortIPs, type ProxyFlags, type ProxyMode } from './config.ts';
import { jumpRules, largeClusterEndpointsThreshold, renderIptables, staleChainLines } from './iptables.ts';
import type { ProxyMetrics } from './metrics.ts';
import type { ServicePortInfo } from './model.ts';
import { deleteChainsText, planNftSync, renderService, table, type NftAppliedState, type ServiceNft } from './nftables.ts';

export interface SyncRequest {
  /** every Service's ports, by "<namespace>/<name>" */
  byService: Map<string, ServicePortInfo[]>;
  /** undefined: a full sync; else the Services whose objects or EndpointSlices changed */
  changed?: Set<string>;
  /** the node's primary IP, once its Node object says */
  nodeIP?: string;
  /** the node's pod range (spec.podCIDR), once assigned */
  podCIDR?: string;
}

export interface SyncResult {
  /** whether everything was rewritten (the backend may widen a partial sync) */
  full: boolean;
  /** a line for the log */
  summary: string;
}

export interface Backend {
  readonly mode: ProxyMode;
  /** Applies the rules; throws when the kernel tool refuses them. */
  sync(req: SyncRequest): SyncResult;
  /** Whether the rules a full sync wrote are still in place (someone may have flushed them). */
  intact(): boolean;
  /** Whether a later sync has cleaning up to do (stale chains waiting for deletion). */
  pendingCleanup(): boolean;
}

/** The node's IPv4 addresses, for --nodeport-addresses CIDRs. */
function localIPv4s(): string[] {
  try {
    return ipv4Addresses([]);
  } catch {
    return [];
  }
}

/** The addresses NodePorts answer on here (the interfaces are read only when CIDRs ask for them). */
function liveNodePortIPs(mode: ProxyMode, flags: ProxyFlags, nodeIP: string | undefined): string[] | undefined {
  const local = flags.nodePortAddresses.some((a) => a !== 'primary') ? localIPv4s() : [];
  return nodePortIPs(mode, flags.nodePortAddresses, nodeIP, local, flags.localhostNodePorts);
}

const flatten = (m: Map<string, ServicePortInfo[]>) => [...m.values()].flat();

export interface IptablesShell {
  restore(text: string): void;
  saveNat(): string;
  /** -C, then -I when missing */
  ensureRule(table: string, chain: string, args: string[]): void;
  ensureChain(table: string, chain: string): void;
  hasChain(table: string, chain: string): boolean;
}

export const realIptables: IptablesShell = {
  restore: (text) => void run(['iptables-restore', '-w', '5', '-W', '100000', '--noflush', '--counters'], { input: text, timeoutMs: 600_000 }),
  saveNat: () => run(['iptables-save', '-t', 'nat'], { timeoutMs: 600_000 }),
  ensureRule: (t, chain, args) => {
    if (!succeeds(['iptables', '-w', '5', '-t', t, '-C', chain, ...args])) run(['iptables', '-w', '5', '-t', t, '-I', chain, ...args]);
  },
  ensureChain: (t, chain) => {
    if (!succeeds(['iptables', '-w', '5', '-t', t, '-S', chain, '1'])) run(['iptables', '-w', '5', '-t', t, '-N', chain]);
  },
  hasChain: (t, chain) => succeeds(['iptables', '-w', '5', '-t', t, '-S', chain, '1']),
};

/** Whether iptables supports MASQUERADE --random-fully (1.6.2 and later). */
function supportsRandomFully(): boolean {
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(run(['iptables', '--version'], { allowFail: true }));
  if (!m) return false;
  const [a, b, c] = m.slice(1).map(Number) as [number, number, number];
  return a > 1 || (a === 1 && (b > 6 || (b === 6 && c >= 2)));
}

const canaryTables = ['mangle', 'nat', 'filter'];

export class IptablesBackend implements Backend {
  readonly mode = 'iptables' as const;
  private serviceNatRules = new Map<string, number>();
  private randomFully: boolean | undefined;
  private lastStaleCheck = -Infinity;

  constructor(
    private readonly flags: ProxyFlags,
    private readonly metrics: ProxyMetrics,
    private readonly shell: IptablesShell = realIptables,
    /** in large clusters stale chains are looked for once per sync period (upstream's largeClusterMode) */
    private readonly syncPeriodMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  sync(req: SyncRequest): SyncResult {
    const full = req.changed === undefined;
    this.randomFully ??= this.shell === realIptables && supportsRandomFully();
    const ips = liveNodePortIPs('iptables', this.flags, req.nodeIP);
    const ports = flatten(req.byService);
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

export interface NftShell {
  run(text: string): void;
  /** names of the table's chains and sets; empty when there is no table */
  listChains(): string[];
  listSets(): string[];
  hasChain(name: string): boolean;
}

function nftList(kind: 'chains' | 'sets'): string[] {
  const out = run(['nft', '--json', 'list', kind, 'ip'], { allowFail: true, timeoutMs: 600_000 });
  if (!out.trim()) return [];
  const one = kind === 'chains' ? 'chain' : 'set';
  const doc = JSON.parse(out) as { nftables: Record<string, { table?: string; name?: string }>[] };
  return doc.nftables.map((o) => o[one]).filter((o): o is { table: string; name: string } => o?.table === 'kube-proxy').map((o) => o.name);
}

export const realNft: NftShell = {
  run: (text) => void run(['nft', '-f', '-'], { input: text, timeoutMs: 600_000 }),
  listChains: () => nftList('chains'),
  listSets: () => nftList('sets'),
  hasChain: (name) => succeeds(['nft', 'list', 'chain', ...table.split(' '), name]),
};

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
    private readonly shell: NftShell = realNft,
    private readonly now: () => number = Date.now,
  ) {}

  sync(req: SyncRequest): SyncResult {
    this.deleteStaleChains();
    // The node's address decides nodeport-ips: a change of it needs the set rewritten.
    const full = req.changed === undefined || this.applied === undefined || req.nodeIP !== this.lastNodeIP;
    const ips = liveNodePortIPs('nftables', this.flags, req.nodeIP);
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

/** The kernel side of IPVS mode (fakes in unit tests; these machines' kernels have no IPVS). */
export interface IpvsShell {
  /** `ipvsadm-save -n` */
  save(): string;
  /** `ipvsadm -Ln` (connection counts) */
  list(): string;
  /** `ipvsadm-restore` of edit lines */
  restore(lines: string[]): void;
  /** `ipset restore` */
  ipsetRestore(text: string): void;
  iptables: IptablesShell;
  sysctl(key: string, value: string): void;
}

export const realIpvs: IpvsShell = {
  save: () => run(['ipvsadm-save', '-n']),
  list: () => run(['ipvsadm', '-Ln']),
  restore: (lines) => void (lines.length && run(['ipvsadm-restore'], { input: lines.join('\n') + '\n' })),
  ipsetRestore: (text) => void run(['ipset', 'restore'], { input: text }),
  iptables: realIptables,
  sysctl: (k, v) => void succeeds(['sysctl', '-q', '-w', `${k}=${v}`]),
};

/**
 * IPVS mode as upstream programs it: Service addresses on kube-ipvs0, the IPVS table edited in
 * place, the ipsets swapped in whole, and the nat rules beside them (iptables-restore --noflush).
 */
export class IpvsBackend implements Backend {
  readonly mode = 'ipvs' as const;
  constructor(
    private readonly flags: ProxyFlags,
    private readonly shell: IpvsShell = realIpvs,
    private readonly dummy: DummyShell = realDummy,
  ) {}

  sync(req: SyncRequest): SyncResult {
    const ports = flatten(req.byService);
    const nodePortIPs = liveNodePortIPs('ipvs', this.flags, req.nodeIP) ?? (req.nodeIP ? [req.nodeIP] : []);
    const vss = virtualServers(ports, { scheduler: (this.flags.scheduler as SchedulerName | undefined) ?? 'rr', nodePortIPs, mode: 'ipvs' });
    this.dummy.ensure(this.flags.strictARP ?? false);
    // Upstream's sysctls for IPVS with conntrack (proxier.go).
    for (const [k, v] of [['net.ipv4.vs.conntrack', '1'], ['net.ipv4.vs.expire_nodest_conn', '1'], ['net.ipv4.vs.expire_quiescent_template', '1'], ['net.ipv4.ip_forward', '1']]) this.shell.sysctl(k!, v!);
    const nodeAddresses = new Set(this.dummy.nodeAddresses());
    const want = new Set(dummyAddresses(ports, nodeAddresses));
    const have = new Set(this.dummy.list());
    for (const ip of want) if (!have.has(ip)) this.dummy.add(ip);
    const sets = ipvsSets(ports, { nodePortIPs, nodeAddresses, ...(req.nodeIP ? { nodeIP: req.nodeIP } : {}) });
    this.shell.ipsetRestore(ipsetSwapScript(ipsetSave(sets)));
    this.shell.iptables.restore(ipvsIptablesRules(sets, { ...(this.flags.clusterCIDR ? { clusterCIDR: this.flags.clusterCIDR } : {}), masqueradeAll: this.flags.masqueradeAll, masqueradeBit: this.flags.masqueradeBit }));
    for (const j of ipvsJumpRules) this.shell.iptables.ensureRule(j.table, j.chain, j.args);
    const edits = planIpvsTable(this.shell.save(), vss, parseIpvsadmList(this.shell.list()));
    this.shell.restore(edits);
    // Addresses go last: a virtual server is removed before its address is.
    for (const ip of have) if (!want.has(ip)) this.dummy.del(ip);
    return { full: true, summary: `${vss.length} virtual servers, ${edits.length} table edits, ${want.size} addresses on ${dummyDevice}` };
  }

  intact(): boolean {
    return this.dummy.exists() && this.shell.iptables.hasChain('nat', 'KUBE-SERVICES');
  }

  pendingCleanup(): boolean {
    return false;
  }
}

/** IPVS mode needs the kernel's IP Virtual Server; the message says what is missing and what works instead. */
export function ipvsMissing(procFile = '/proc/net/ip_vs'): string | undefined {
  if (fs.existsSync(procFile)) return undefined;
  return `IPVS: this kernel has no IP Virtual Server support (${procFile} is missing: the ip_vs module is not loaded, or not built). Load it with \`modprobe ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh\` where the kernel has it, or use --proxy-mode iptables, nftables or userspace, which work here (\`podpath proxy render --mode ipvs\` still shows what IPVS mode would program)`;
}

/** What the live proxy needs on this machine, each with how to get it; empty when all is there. */
export function proxyPreflight(mode: ProxyMode): string[] {
  const missing: string[] = [];
  if (mode === 'ipvs') {
    const m = ipvsMissing();
    if (m) return [m];
  }
  if (process.getuid?.() !== 0) missing.push('root: kube-proxy writes the kernel\'s packet rules; run it as root in the network namespace whose rules it owns');
  const tools = mode === 'nftables' ? [['nft', 'nftables']] : mode === 'userspace' ? [] : [['iptables-restore', 'iptables'], ['iptables-save', 'iptables'], ...(mode === 'ipvs' ? [['ipvsadm', 'ipvsadm'], ['ipvsadm-save', 'ipvsadm'], ['ipset', 'ipset']] : [])];
  for (const [cmd, pkg] of [...tools, ...(mode === 'userspace' ? [] : [['conntrack', 'conntrack']]), ['ip', 'iproute2']]) if (!commandExists(cmd!)) missing.push(`${cmd}: apt-get install -y ${pkg}`);
  return missing;
}

export function newBackend(mode: ProxyMode, flags: ProxyFlags, metrics: ProxyMetrics, syncPeriodMs: number, log: (s: string) => void = () => {}): Backend {
  if (mode === 'userspace') {
    return new UserspaceBackend({
      scheduler: (flags.scheduler as SchedulerName | undefined) ?? 'rr',
      strictARP: flags.strictARP ?? false,
      udpTimeoutMs: flags.udpTimeoutMs ?? 250,
      connectTimeoutMs: 1000,
      nodePortIPs: (nodeIP) => liveNodePortIPs(mode, flags, nodeIP),
      dummy: realDummy,
      transparent: realTransparent,
      log,
    });
  }
  if (mode === 'ipvs') {
    const m = ipvsMissing();
    if (m) throw new Error(m);
    return new IpvsBackend(flags);
  }
  return mode === 'iptables' ? new IptablesBackend(flags, metrics, realIptables, syncPeriodMs) : new NftablesBackend(flags, metrics);
}
