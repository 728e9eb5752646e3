// The one fake of the iptables Interface: tables of chains of rules in memory, changed by the
// typed operations of a restore as iptables-restore changes the kernel's (with or without
// --noflush), each table all or nothing at its COMMIT, refusing what iptables refuses: rules in
// missing chains, jumps to missing chains or built-in chains, NAT targets outside the nat table,
// deleting a chain still referenced or not empty, a missing rule to delete, a chain created twice.
// Built-in chains always exist here (iptables-nft creates them in the kernel when first used).
import type { IptablesInterface, RestoreOptions, RulePosition } from './interface.ts';
import { parseRuleSpec } from './rulespec.ts';
import { builtinChains, IptError, zeroCounters, type ChainDecl, type Counters, type Rule, type Table, type TableName, type TableOp } from './types.ts';

interface FakeChain {
  policy: string;
  counters: Counters;
  rules: Rule[];
}

type Chains = Map<string, FakeChain>;

const verdicts = new Set(['ACCEPT', 'DROP', 'RETURN', 'QUEUE']);
const natOnly = new Set(['DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT', 'NETMAP']);
const notInNat = new Set(['REJECT']);
const extensions = new Set([
  ...natOnly,
  ...notInNat,
  'MARK', 'CONNMARK', 'LOG', 'NFLOG', 'NFQUEUE', 'CT', 'NOTRACK', 'TPROXY', 'CHECKSUM', 'TCPMSS', 'SET', 'CLASSIFY', 'DSCP', 'TOS', 'TTL', 'HMARK', 'AUDIT', 'TRACE', 'SECMARK', 'CONNSECMARK', 'TEE', 'SYNPROXY',
]);

const sameArgs = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((w, i) => w === b[i]);

export class FakeIptables implements IptablesInterface {
  private tables = new Map<TableName, Chains>();
  /** The tables of the last restore, whether it succeeded or not. */
  lastRestore: readonly Table[] | undefined;
  /** what hasRandomFully answers (upstream's fake: SetHasRandomFully) */
  randomFully = false;

  /** A chain's rules, or undefined when it does not exist. */
  rules(table: TableName, chain: string): Rule[] | undefined {
    return this.tables.get(table)?.get(chain)?.rules.map((r) => ({ ...r, args: [...r.args] }));
  }

  private chains(tables: Map<TableName, Chains>, name: TableName): Chains {
    let t = tables.get(name);
    if (!t) {
      t = new Map(builtinChains[name].map((c) => [c, { policy: 'ACCEPT', counters: zeroCounters(), rules: [] }]));
      tables.set(name, t);
    }
    return t;
  }

  restore(tables: readonly Table[], opts: RestoreOptions = {}): void {
    this.lastRestore = tables;
    // Each table is committed at its COMMIT: a failure leaves the tables before it applied, its own untouched.
    for (const t of tables) {
      const chains: Chains = new Map([...this.chains(this.tables, t.name)].map(([n, c]) => [n, { ...c, rules: [...c.rules] }]));
      const builtin = new Set(builtinChains[t.name]);
      if (!opts.noflush) {
        for (const [name, c] of chains) {
          if (builtin.has(name)) c.rules = [];
          else chains.delete(name);
        }
      }
      for (const d of t.chains) this.declare(chains, builtin, d, opts);
      for (const o of t.ops) this.apply(t.name, chains, o, opts);
      this.tables.set(t.name, chains);
    }
  }

  private declare(chains: Chains, builtin: Set<string>, d: ChainDecl, opts: RestoreOptions): void {
    const c = chains.get(d.name);
    if (builtin.has(d.name)) {
      // a built-in chain is not flushed by its declaration, only given its policy
      if (d.policy !== '-') {
        if (d.policy !== 'ACCEPT' && d.policy !== 'DROP') throw new IptError('EINVAL', `bad policy ${d.policy} for ${d.name}`);
        c!.policy = d.policy;
      }
      if (opts.counters) c!.counters = d.counters;
      return;
    }
    if (c) c.rules = [];
    else chains.set(d.name, { policy: '-', counters: zeroCounters(), rules: [] });
  }

  private chainOf(chains: Chains, name: string): FakeChain {
    const c = chains.get(name);
    if (!c) throw new IptError('ENOENT', `Chain '${name}' does not exist`);
    return c;
  }

  /** Refuses a rule iptables would not load: bad arguments, or a target or goto that is no chain or extension. */
  private checkRule(table: TableName, chains: Chains, args: readonly string[]): void {
    const spec = parseRuleSpec(args);
    const builtin = builtinChains[table];
    const jump = (to: string, extensionsToo: boolean) => {
      if (builtin.includes(to)) throw new IptError('EOPNOTSUPP', `cannot jump to built-in chain ${to}`);
      if (chains.has(to) || (extensionsToo && verdicts.has(to))) return;
      if (extensionsToo && extensions.has(to)) {
        if (natOnly.has(to) && table !== 'nat') throw new IptError('EINVAL', `${to} is only valid in the nat table`);
        if (notInNat.has(to) && table === 'nat') throw new IptError('EINVAL', `${to} is not valid in the nat table`);
        return;
      }
      throw new IptError('ENOENT', `Couldn't load target \`${to}': No chain/target/match by that name`);
    };
    if (spec.target) jump(spec.target.name, true);
    if (spec.goto !== undefined) jump(spec.goto, false);
  }

  private isReferenced(chains: Chains, name: string): boolean {
    for (const c of chains.values()) {
      for (const r of c.rules) {
        const spec = parseRuleSpec(r.args);
        if (spec.target?.name === name || spec.goto === name) return true;
      }
    }
    return false;
  }

  private apply(table: TableName, chains: Chains, o: TableOp, opts: RestoreOptions): void {
    switch (o.op) {
      case 'append':
      case 'insert': {
        const c = this.chainOf(chains, o.rule.chain);
        this.checkRule(table, chains, o.rule.args);
        const { counters, ...rule } = o.rule;
        const stored = opts.counters && counters ? { ...rule, counters } : { ...rule, args: [...rule.args] };
        if (o.op === 'append') c.rules.push(stored);
        else {
          const at = (o.position ?? 1) - 1;
          if (at < 0 || at > c.rules.length) throw new IptError('EINVAL', 'Index of insertion too big');
          c.rules.splice(at, 0, stored);
        }
        return;
      }
      case 'delete': {
        const c = this.chainOf(chains, o.rule.chain);
        const at = c.rules.findIndex((r) => sameArgs(r.args, o.rule.args));
        if (at < 0) throw new IptError('ENOENT', 'Bad rule (does a matching rule exist in that chain?)');
        c.rules.splice(at, 1);
        return;
      }
      case 'newChain':
        if (chains.has(o.chain)) throw new IptError('EEXIST', 'Chain already exists');
        chains.set(o.chain, { policy: '-', counters: zeroCounters(), rules: [] });
        return;
      case 'flushChain':
        this.chainOf(chains, o.chain).rules = [];
        return;
      case 'deleteChain': {
        const c = this.chainOf(chains, o.chain);
        if (builtinChains[table].includes(o.chain)) throw new IptError('EINVAL', `cannot delete built-in chain ${o.chain}`);
        if (c.rules.length || this.isReferenced(chains, o.chain)) throw new IptError('EBUSY', `CHAIN_DEL failed (Device or resource busy): chain ${o.chain}`);
        chains.delete(o.chain);
      }
    }
  }

  /** As iptables-save lists a table: built-in chains first, then user chains by name, each chain's rules in turn. */
  save(table: TableName, only?: readonly string[]): Table {
    const chains = this.tables.get(table) ?? this.chains(new Map(), table);
    const builtin = builtinChains[table];
    const names = [...builtin, ...[...chains.keys()].filter((n) => !builtin.includes(n)).sort()];
    return {
      name: table,
      chains: names.map((name) => ({ name, policy: chains.get(name)!.policy, counters: chains.get(name)!.counters })),
      ops: names.filter((name) => !only || only.includes(name)).flatMap((name) => chains.get(name)!.rules.map((rule) => ({ op: 'append' as const, rule: { chain: rule.chain, args: [...rule.args] } }))),
    };
  }

  listChains(table: TableName): string[] {
    return this.save(table).chains.map((c) => c.name);
  }

  ensureChain(table: TableName, chain: string): boolean {
    const chains = this.chains(this.tables, table);
    if (chains.has(chain)) return true;
    chains.set(chain, { policy: '-', counters: zeroCounters(), rules: [] });
    return false;
  }

  ensureRule(position: RulePosition, table: TableName, chain: string, args: readonly string[]): boolean {
    const chains = this.chains(this.tables, table);
    const c = this.chainOf(chains, chain);
    if (c.rules.some((r) => sameArgs(r.args, args))) return true;
    this.checkRule(table, chains, args);
    const rule = { chain, args: [...args] };
    if (position === 'append') c.rules.push(rule);
    else c.rules.unshift(rule);
    return false;
  }

  hasChain(table: TableName, chain: string): boolean {
    return this.tables.get(table)?.has(chain) ?? false;
  }

  hasRandomFully(): boolean {
    return this.randomFully;
  }
}
