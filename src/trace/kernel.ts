// A node's packet rules as its kernel holds them, read into the walkers the trace takes: the
// iptables tables (`iptables-save`, read with src/iptables' parser) and every other nftables table
// (`nft -j list ruleset` plus the `nft -a` listing for each rule's text, read with src/knftables'
// parser). With iptables-nft, iptables' tables are nftables tables too (`ip nat`, `ip filter`, …);
// they are walked once, from iptables-save, whose rule text is what a user greps for. The same
// reading serves a captured dump (`--node-rules NODE=FILE`) and a live node's namespace, and
// kernelTrace runs the engine over what was read.
import { defaultExecutor, type Executor } from '../exec/exec.ts';
import { parseDump, ruleLine, type Table } from '../iptables/index.ts';
import { parseRuleset, type Ruleset } from '../knftables/index.ts';
import type { ProxyMode } from '../proxy/config.ts';
import type { ClusterIndex } from './cluster.ts';
import { trace, type TraceRequest } from './engine.ts';
import { IptablesWalker } from './iptables.ts';
import type { RuleWalker } from './netfilter.ts';
import { NftablesWalker, nftRuleText } from './nftables.ts';
import { userspaceProxy } from './rules.ts';
import { TraceError, type RuleRef, type Trace } from './types.ts';

/** What a node's kernel holds, parsed. */
export interface KernelRules {
  /** the iptables tables, as iptables-save lists them */
  iptables: Table[];
  /** every nftables table, iptables-nft's own among them (their rules carry the handles nft monitor trace names) */
  nft: Ruleset;
  /** `iptables --version`'s backend: nf_tables (iptables-nft) or legacy; undefined for a capture */
  iptablesBackend?: 'nf_tables' | 'legacy';
  walkers: RuleWalker[];
  /** what the walkers leave out in this proxy mode, in words for the trace's report */
  notes: string[];
}

const emptyRuleset = (): Ruleset => ({ tables: [], chains: [], rules: [], sets: [], maps: [], elements: [], flowtables: [] });

/** Whether an nftables object belongs to one of iptables-nft's tables (those iptables-save listed, in family ip). */
const iptablesOwned = (ipt: readonly Table[]) => {
  const names = new Set<string>(ipt.map((t) => t.name));
  return (o: { family?: string; table?: string; name?: string }, isTable = false) => (o.family ?? 'ip') === 'ip' && names.has((isTable ? o.name : o.table) ?? '');
};

/** The nftables tables other than iptables-nft's. */
export function withoutIptablesTables(rs: Ruleset, ipt: readonly Table[]): Ruleset {
  const owned = iptablesOwned(ipt);
  return {
    tables: rs.tables.filter((t) => !owned(t, true)),
    chains: rs.chains.filter((c) => !owned(c)),
    rules: rs.rules.filter((r) => !owned(r)),
    sets: rs.sets.filter((s) => !owned(s)),
    maps: rs.maps.filter((m) => !owned(m)),
    elements: rs.elements.filter((e) => !owned(e)),
    flowtables: rs.flowtables.filter((f) => !owned(f)),
  };
}

/** What a proxy mode's datapath has beyond netfilter rules, which the walkers do not compute. */
export function modeNotes(mode: ProxyMode | string): string[] {
  if (mode === 'ipvs') return ['IPVS mode: the virtual servers (ipvsadm -Ln) choose the endpoint at the input hook, outside netfilter rules; the walk shows the iptables rules around them (KUBE-SERVICES with its ipsets), not the IPVS choice'];
  if (mode === 'userspace') return ["userspace mode: kube-proxy's own process accepts the connection on the node (a socket on the Service's address or NodePort) and opens its own to an endpoint; what it listens on and the endpoints it picks among are computed from the objects as its sync computes them (not read from the process), its onward connection is traced from the node"];
  return [];
}

/** The walkers over a node's iptables tables and its other nftables tables, in that order (iptables first at equal priority). */
export function kernelWalkers(ipt: readonly Table[], nft: Ruleset): RuleWalker[] {
  const own = withoutIptablesTables(nft, ipt);
  const out: RuleWalker[] = [];
  if (ipt.length) out.push(new IptablesWalker(ipt));
  if (own.chains.length) out.push(new NftablesWalker(own));
  return out;
}

/** A file captured on a node, as `--node-rules NODE=FILE` gives it. */
export interface CapturedFile {
  text: string;
  /** the file's name, for errors */
  source: string;
}

/**
 * A node's rules captured elsewhere, from one or more files: `iptables-save > FILE`,
 * `nft -j list ruleset > FILE` (JSON) and, for the nft rules' text, `nft -a list ruleset > FILE`
 * (text starting with "table"). A file that is none of these is named in the error.
 */
export function capturedRules(files: readonly CapturedFile[]): KernelRules {
  let iptables: Table[] = [];
  let json: { text: string; source: string } | undefined;
  let listing: { text: string; source: string } | undefined;
  for (const f of files) {
    const t = f.text.trimStart();
    if (t.startsWith('{')) json = f;
    else if (/^table\s/.test(t)) listing = f;
    else {
      let tables: Table[];
      try {
        tables = parseDump(f.text);
      } catch (e) {
        throw new TraceError('BadState', `${f.source}: not iptables-save output: ${(e as Error).message}`);
      }
      if (!tables.length) throw new TraceError('BadState', `${f.source}: neither iptables-save output (no *table), \`nft -j list ruleset\` JSON nor an \`nft -a list ruleset\` listing`);
      iptables = [...iptables, ...tables];
    }
  }
  if (listing && !json) throw new TraceError('BadState', `${listing.source}: an nft listing gives the rules' text beside \`nft -j list ruleset\` JSON of the same node, which is missing`);
  let nft = emptyRuleset();
  if (json) {
    try {
      nft = parseRuleset(json.text, listing?.text);
    } catch (e) {
      throw new TraceError('BadState', `${json.source}${listing ? ` with ${listing.source}` : ''}: not \`nft -j list ruleset\` output: ${(e as Error).message}`);
    }
  }
  return { iptables, nft, walkers: kernelWalkers(iptables, nft), notes: [] };
}

/** A command's output in the namespace; '' for a program not installed when `optional` (nft on an iptables-only host). */
async function runIn(ex: Executor, netns: string, argv: string[], optional = false): Promise<string> {
  const r = await ex.execAsync(argv, { netns, timeoutMs: 60_000 });
  // not found: spawn's ENOENT, or nsenter's 127 when it cannot exec the program in the namespace
  if (optional && ((r.status === null && /ENOENT/.test(r.error ?? '')) || r.status === 127)) return '';
  if (r.status !== 0) throw new TraceError('BadState', `${argv.join(' ')} in network namespace ${netns} failed: ${(r.error ?? r.stderr).trim() || `exit ${r.status}`}`);
  return r.stdout;
}

/**
 * Reads the rules of the network namespace `netns` (a name under /run/netns: a lab node's) from
 * its kernel: iptables-save, `nft -j list ruleset` and `nft -a list ruleset`, run concurrently
 * through the exec layer. `mode` is the node's kube-proxy mode, for the notes on what the
 * walkers leave out.
 */
export async function readKernelRules(netns: string, mode: ProxyMode | string, ex: Executor = defaultExecutor): Promise<KernelRules> {
  const [version, save, json, listing] = await Promise.all([
    runIn(ex, netns, ['iptables', '--version']).catch(() => ''),
    runIn(ex, netns, ['iptables-save']),
    runIn(ex, netns, ['nft', '-j', 'list', 'ruleset'], true),
    runIn(ex, netns, ['nft', '-a', 'list', 'ruleset'], true),
  ]);
  return kernelRulesOf({ version, save, json, listing }, mode);
}

/** What the kernel listed, read: `iptables --version`, iptables-save, `nft -j list ruleset` and `nft -a list ruleset`. */
export function kernelRulesOf(out: { version: string; save: string; json: string; listing: string }, mode: ProxyMode | string): KernelRules {
  const iptables = parseDump(out.save);
  const nft = out.json ? parseRuleset(out.json, out.listing) : emptyRuleset();
  const backend = /nf_tables/.test(out.version) ? 'nf_tables' : /legacy/.test(out.version) ? 'legacy' : undefined;
  return { iptables, nft, ...(backend ? { iptablesBackend: backend } : {}), walkers: kernelWalkers(iptables, nft), notes: modeNotes(mode) };
}

/** The walkers over the rules in `netns`'s kernel (readKernelRules' walkers): what a trace or a diagnosis of a live node takes. */
export async function readNodeRules(netns: string, mode: ProxyMode | string, ex: Executor = defaultExecutor): Promise<RuleWalker[]> {
  return (await readKernelRules(netns, mode, ex)).walkers;
}

/**
 * The rule an nftables handle names, in the words the walkers use: for a table of iptables-nft's,
 * the iptables table and the rule as iptables-save prints it (the rule at the same place in its
 * chain); for any other, "family table" and the rule as nft lists it. Undefined for a rule the
 * reading did not see (added since, or a chain of the trace's own table).
 */
export function ruleByHandle(k: KernelRules): RuleLookup {
  let r = lookups.get(k);
  if (!r) lookups.set(k, (r = indexByHandle(k)));
  return r;
}

type RuleLookup = (family: string, table: string, chain: string, handle: number) => Omit<RuleRef, 'action'> | undefined;
/** each reading's index, made once: --observe asks it first for the nodes whose rules changed meanwhile, then to name every rule */
const lookups = new WeakMap<KernelRules, RuleLookup>();

function indexByHandle(k: KernelRules): RuleLookup {
  const owned = iptablesOwned(k.iptables);
  const byHandle = new Map<string, Omit<RuleRef, 'action'>>();
  const position = new Map<string, number>();
  const iptRules = new Map<string, string[]>();
  for (const t of k.iptables) {
    for (const op of t.ops) {
      if (op.op !== 'append') continue;
      const key = `${t.name} ${op.rule.chain}`;
      let l = iptRules.get(key);
      if (!l) iptRules.set(key, (l = []));
      l.push(ruleLine('-A', op.rule, 'save'));
    }
  }
  for (const r of k.nft.rules) {
    if (r.handle === undefined) continue;
    const family = r.family ?? 'ip';
    const key = `${family} ${r.table} ${r.chain} ${r.handle}`;
    if (owned(r)) {
      const at = `${r.table} ${r.chain}`;
      const i = position.get(at) ?? 0;
      position.set(at, i + 1);
      const text = iptRules.get(at)?.[i];
      if (text !== undefined) byHandle.set(key, { table: r.table!, chain: r.chain, text });
    } else byHandle.set(key, { table: `${family} ${r.table}`, chain: r.chain, text: nftRuleText(r) });
  }
  return (family, table, chain, handle) => byHandle.get(`${family} ${table} ${chain} ${handle}`);
}

/** The hook a base chain is at (iptables' built-in chains by name), for naming where an observed rule acted. */
export function hookOf(k: KernelRules, family: string, table: string, chain: string): string | undefined {
  const c = k.nft.chains.find((x) => (x.family ?? 'ip') === family && x.table === table && x.name === chain);
  return c?.hook;
}

/** A computed trace over rules read from nodes' kernels (the lab's, or captured ones). */
export interface KernelTraceContext {
  ix: ClusterIndex;
  /** the proxy mode the nodes run */
  mode: string;
  /** each node's rules, by node name */
  kernel: Map<string, KernelRules>;
  /** the IPVS scheduler a userspace proxy balances with (kube-proxy's ipvs.scheduler; rr when unset) */
  scheduler?: string;
}

/** The engine over the nodes' rules as read; a node the path crosses without rules is an error naming it. */
export function kernelTrace(c: KernelTraceContext, req: TraceRequest): Trace {
  const rules = (node: string) => {
    const k = c.kernel.get(node);
    if (!k) throw new TraceError('BadState', `the path crosses node ${node}, whose rules were not read (nodes with rules: ${[...c.kernel.keys()].join(', ') || 'none'})`);
    return k.walkers;
  };
  const t = trace({ ix: c.ix, mode: c.mode, rules, ...(c.mode === 'userspace' ? { localProxy: userspaceProxy(c.ix, c.scheduler ?? 'rr') } : {}) }, req);
  const notes = modeNotes(c.mode);
  return notes.length ? { ...t, notes } : t;
}
