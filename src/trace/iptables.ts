// The iptables walker: a node's tables (an iptables-save dump parsed by src/iptables, or the
// tables kube-proxy renders) evaluated for one packet as the kernel evaluates them — each
// built-in chain at its hook and priority, rules in order, jumps and gotos on a call stack,
// RETURN, terminal DNAT/SNAT/MASQUERADE in nat, MARK, ACCEPT/DROP/REJECT, the chain policy at the
// end. A `statistic --mode random` cascade (KUBE-SVC-…) is a branch: every endpoint with its
// effective probability, one taken. Long chains (KUBE-SERVICES at 10,000 Services) are indexed
// by destination address, so only the rules that can match are looked at — in kernel order.
import { parseRuleSpec, ruleLine, type RuleSpec, type Table } from '../iptables/index.ts';
import { addressMatches, hex, interfaceMatches, portMatches, type Branch, type Chooser, type Hook, type HookResult, type NodeView, type PacketState, type RuleWalker } from './netfilter.ts';

/** A rule as read; its arguments are parsed, and its text written, only when a walk reaches it (a large nat table has hundreds of thousands). */
class IptRule {
  private parsed: RuleSpec | undefined;
  private line: string | undefined;
  constructor(
    readonly chain: string,
    readonly args: string[],
  ) {}
  get spec(): RuleSpec {
    return (this.parsed ??= parseRuleSpec(this.args));
  }
  /** as iptables-save prints it */
  get text(): string {
    return (this.line ??= ruleLine('-A', { chain: this.chain, args: this.args }, 'save'));
  }
}

interface IptChain {
  name: string;
  /** built-in chains only */
  policy?: string;
  rules: IptRule[];
  /** destination address → indices of rules matching only it; the other rules' indices */
  index?: { byDst: Map<string, number[]>; rest: number[] };
}

/** Chains with more rules than this are indexed by destination. */
const indexThreshold = 32;

const hookChain: Record<Hook, string> = { prerouting: 'PREROUTING', input: 'INPUT', forward: 'FORWARD', output: 'OUTPUT', postrouting: 'POSTROUTING' };

/** The priority iptables-nft (and the legacy tables) register each table's chains at. */
function priority(table: string, hook: Hook): number | undefined {
  switch (table) {
    case 'raw':
      return hook === 'prerouting' || hook === 'output' ? -300 : undefined;
    case 'mangle':
      return -150;
    case 'nat':
      return hook === 'prerouting' || hook === 'output' ? -100 : hook === 'forward' ? undefined : 100;
    case 'filter':
      return hook === 'prerouting' || hook === 'postrouting' ? undefined : 0;
    case 'security':
      return hook === 'prerouting' || hook === 'postrouting' ? undefined : 50;
  }
  return undefined;
}

function splitAddrPort(s: string): { ip: string; port?: number } {
  const m = /^([0-9.]+)(?:-[0-9.]+)?(?::(\d+)(?:-\d+)?)?$/.exec(s);
  return m ? { ip: m[1]!, ...(m[2] ? { port: Number(m[2]) } : {}) } : { ip: s };
}

function markValue(s: string): { value: number; mask: number } {
  const [v, m] = s.split('/');
  return { value: Number(v), mask: m === undefined ? 0xffffffff : Number(m) };
}

export class IptablesWalker implements RuleWalker {
  private readonly tables = new Map<string, Map<string, IptChain>>();
  /** rules skipped because a match module is not modelled, by module */
  readonly unknownModules = new Set<string>();

  /** Tables of one or more dumps; tables of the same name are merged (declarations, then rules in order). */
  constructor(tables: readonly Table[]) {
    for (const t of tables) {
      let chains = this.tables.get(t.name);
      if (!chains) this.tables.set(t.name, (chains = new Map()));
      for (const c of t.chains) {
        const had = chains.get(c.name);
        if (!had) chains.set(c.name, { name: c.name, ...(c.policy !== '-' ? { policy: c.policy } : {}), rules: [] });
        else if (c.policy !== '-') had.policy = c.policy;
      }
      for (const op of t.ops) {
        if (op.op !== 'append' && op.op !== 'insert') continue;
        let c = chains.get(op.rule.chain);
        if (!c) chains.set(op.rule.chain, (c = { name: op.rule.chain, rules: [] }));
        const r = new IptRule(op.rule.chain, op.rule.args);
        if (op.op === 'append') c.rules.push(r);
        else c.rules.splice(op.position === undefined ? 0 : op.position - 1, 0, r);
      }
    }
    for (const chains of this.tables.values()) for (const c of chains.values()) if (c.rules.length > indexThreshold) c.index = indexChain(c.rules);
  }

  chain(table: string, name: string): IptChain | undefined {
    return this.tables.get(table)?.get(name);
  }

  baseChains(hook: Hook): { priority: number; id: string; label: string }[] {
    const out: { priority: number; id: string; label: string }[] = [];
    for (const [table, chains] of this.tables) {
      const p = priority(table, hook);
      const c = chains.get(hookChain[hook]);
      if (p === undefined || !c) continue;
      out.push({ priority: p, id: `${table} ${c.name}`, label: `${table} ${c.name}` });
    }
    return out;
  }

  /** The endpoint a chain DNATs to (a KUBE-SEP-… chain's DNAT rule). */
  private dnatOf(table: string, chain: string): { ip: string; port?: number } | undefined {
    for (const r of this.chain(table, chain)?.rules ?? []) {
      const to = r.spec.target?.name === 'DNAT' ? r.spec.target.params.find((p) => p.name === 'to-destination')?.values[0] : undefined;
      if (to) return splitAddrPort(to);
    }
    return undefined;
  }

  /** Whether the rule's matches hold, the random statistic left aside (reported as its probability). */
  private matches(spec: RuleSpec, s: PacketState, view: NodeView): { ok: boolean; probability?: number } {
    const p = s.pkt;
    const neg = (cond: boolean, negated: boolean) => (negated ? !cond : cond);
    if (spec.protocol && !neg(spec.protocol.value.toLowerCase() === p.protocol || spec.protocol.value === 'all', spec.protocol.negated)) return { ok: false };
    if (spec.source && !neg(addressMatches(spec.source.value, p.src), spec.source.negated)) return { ok: false };
    if (spec.destination && !neg(addressMatches(spec.destination.value, p.dst), spec.destination.negated)) return { ok: false };
    if (spec.inInterface && !neg(interfaceMatches(spec.inInterface.value, s.iif), spec.inInterface.negated)) return { ok: false };
    if (spec.outInterface && !neg(interfaceMatches(spec.outInterface.value, s.oif), spec.outInterface.negated)) return { ok: false };
    if (spec.fragment && !spec.fragment.negated) return { ok: false };
    let probability: number | undefined;
    for (const m of spec.matches) {
      for (const prm of m.params) {
        const v = prm.values[0] ?? '';
        let ok: boolean;
        switch (m.module) {
          case 'comment':
            continue;
          case 'tcp':
          case 'udp':
          case 'sctp':
            if (prm.name === 'dport' || prm.name === 'destination-port') ok = portMatches(v, p.dstPort);
            else if (prm.name === 'sport' || prm.name === 'source-port') ok = portMatches(v, p.srcPort);
            else if (prm.name === 'syn') ok = p.protocol === 'tcp' && s.ctNew;
            else ok = true; // tcp-flags and the like: the first packet of a connection passes them
            break;
          case 'multiport':
            if (prm.name === 'dports' || prm.name === 'destination-ports') ok = portMatches(v, p.dstPort);
            else if (prm.name === 'sports' || prm.name === 'source-ports') ok = portMatches(v, p.srcPort);
            else ok = portMatches(v, p.dstPort) || portMatches(v, p.srcPort);
            break;
          case 'statistic':
            if (prm.name === 'probability') probability = Number(v);
            else if (prm.name === 'every') probability = 1 / Number(v);
            continue;
          case 'addrtype': {
            const types = v.split(',');
            const local = (ip: string) => view.localIPs.has(ip) || ip.startsWith('127.');
            if (prm.name === 'dst-type') ok = types.some((t) => (t === 'LOCAL' ? local(p.dst) : t === 'UNICAST' ? !local(p.dst) : false));
            else if (prm.name === 'src-type') ok = types.some((t) => (t === 'LOCAL' ? local(p.src) : t === 'UNICAST' ? !local(p.src) : false));
            else continue;
            break;
          }
          case 'mark': {
            const { value, mask } = markValue(v);
            ok = ((s.mark & mask) >>> 0) === ((value & mask) >>> 0);
            break;
          }
          case 'conntrack':
          case 'state':
            if (prm.name === 'ctstate' || prm.name === 'state') {
              const states = new Set([s.ctNew ? 'NEW' : 'ESTABLISHED', ...(s.dnat ? ['DNAT'] : [])]);
              ok = v.split(',').some((x) => states.has(x));
            } else ok = true;
            break;
          case 'recent':
            // no address is in a recent list before the first connection: --rcheck/--update fail, --set passes
            ok = !(prm.name === 'rcheck' || prm.name === 'update');
            if (prm.name === 'seconds' || prm.name === 'reap' || prm.name === 'name' || prm.name === 'rsource' || prm.name === 'mask') continue;
            break;
          case 'nfacct':
            continue;
          default:
            this.unknownModules.add(m.module);
            return { ok: false };
        }
        if (!neg(ok, prm.negated)) return { ok: false };
      }
    }
    return { ok: true, ...(probability !== undefined ? { probability } : {}) };
  }

  walk(id: string, state: PacketState, view: NodeView, choose: Chooser): HookResult {
    const [table, builtin] = id.split(' ') as [string, string];
    const out: HookResult = { verdict: 'accept', state, hits: [], choices: [] };
    // nat chains see only a connection's first packet; conntrack rewrites the rest
    if (table === 'nat' && !state.ctNew) return out;
    let s: PacketState = { ...state, pkt: { ...state.pkt } };
    // the call stack: each frame a chain, the next rule to look at, and where its jump hit sits
    const stack: { chain: IptChain; next: number; hitAt: number }[] = [];
    let chain = this.chain(table, builtin)!;
    let i = 0;
    /** chosen branch: the rule index that counts as matched despite its statistic */
    let forced: { chain: IptChain; index: number; skip: Set<number> } | undefined;
    const hit = (r: IptRule, action: string, detail: string, target?: string) => {
      out.hits.push({ table, chain: chain.name, text: r.text, action, detail, ...(r.spec.comment !== undefined ? { comment: r.spec.comment } : {}), pkt: { ...s.pkt }, ...(target ? { target } : {}) });
    };
    const finish = (verdict: 'accept' | 'drop' | 'reject') => {
      out.verdict = verdict;
      out.state = s;
      return out;
    };
    for (;;) {
      const cands = candidates(chain, s.pkt.dst);
      let j = cands.findIndex((x) => x >= i);
      let matched: { rule: IptRule; index: number; probability?: number } | undefined;
      for (; j >= 0 && j < cands.length; j++) {
        const k = cands[j]!;
        const r = chain.rules[k]!;
        if (forced?.chain === chain && forced.skip.has(k)) continue;
        const m = this.matches(r.spec, s, view);
        if (!m.ok) continue;
        if (m.probability !== undefined && !(forced?.chain === chain && forced.index === k)) {
          // a random cascade starts here: every branch with its share, one taken
          const branches: Branch[] = [];
          const ruleOf: number[] = [];
          let remaining = 1;
          for (const kk of cands.slice(j)) {
            const rr = chain.rules[kk]!;
            const mm = this.matches(rr.spec, s, view);
            if (!mm.ok) continue;
            const share = mm.probability === undefined ? remaining : remaining * mm.probability;
            const target = rr.spec.target?.name ?? rr.spec.goto ?? '';
            const ep = this.dnatOf(table, target);
            branches.push({ ip: ep?.ip ?? '', port: ep?.port ?? s.pkt.dstPort, probability: share, chain: target });
            ruleOf.push(kk);
            if (mm.probability === undefined) break;
            remaining -= share;
          }
          const where = { table, chain: chain.name };
          const chosen = choose(branches, where);
          out.choices.push({ where, branches, chosen });
          forced = { chain, index: ruleOf[chosen]!, skip: new Set(ruleOf.slice(0, chosen)) };
          j--; // look again from here: the skipped branches pass, the chosen one matches
          continue;
        }
        matched = { rule: r, index: k, ...(m.probability !== undefined ? { probability: m.probability } : {}) };
        break;
      }
      if (!matched) {
        // the chain's end: return to the caller, or the built-in chain's policy
        const frame = stack.pop();
        if (!frame) {
          const policy = (chain.policy ?? 'ACCEPT').toUpperCase();
          return finish(policy === 'DROP' ? 'drop' : 'accept');
        }
        // a jump into a chain where nothing acted is left out of the path
        if (out.hits.length === frame.hitAt + 1) out.hits.pop();
        chain = frame.chain;
        i = frame.next;
        continue;
      }
      const r = matched.rule;
      const t = r.spec.target;
      const name = t?.name;
      const share = matched.probability !== undefined ? ` (random, probability ${matched.probability})` : '';
      i = matched.index + 1;
      const enter = (target: string, isGoto: boolean) => {
        const c = this.chain(table, target);
        if (!c) return false;
        hit(r, isGoto ? 'goto' : 'jump', `${isGoto ? 'goto' : 'jump'} ${target}${share}`, target);
        // a goto pushes no frame: the goto'd chain's end returns to the chain that jumped here
        if (!isGoto) stack.push({ chain, next: i, hitAt: out.hits.length - 1 });
        chain = c;
        i = 0;
        return true;
      };
      if (r.spec.goto) {
        if (enter(r.spec.goto, true)) continue;
      }
      if (!name) {
        hit(r, 'none', 'matched (no target: only counted)');
        continue;
      }
      switch (name) {
        case 'ACCEPT':
          hit(r, 'accept', 'ACCEPT');
          return finish('accept');
        case 'DROP':
          hit(r, 'drop', 'DROP');
          return finish('drop');
        case 'REJECT':
          hit(r, 'reject', `REJECT${t!.params.length ? ` --${t!.params[0]!.name} ${t!.params[0]!.values.join(' ')}` : ''}`);
          return finish('reject');
        case 'RETURN': {
          hit(r, 'return', 'RETURN');
          const frame = stack.pop();
          if (!frame) return finish((chain.policy ?? 'ACCEPT') === 'DROP' ? 'drop' : 'accept');
          chain = frame.chain;
          i = frame.next;
          continue;
        }
        case 'DNAT': {
          const to = splitAddrPort(t!.params.find((x) => x.name === 'to-destination')?.values[0] ?? '');
          s.pkt.dst = to.ip;
          if (to.port !== undefined) s.pkt.dstPort = to.port;
          s.dnat = true;
          hit(r, 'dnat', `DNAT to ${to.ip}:${s.pkt.dstPort}`);
          return finish('accept');
        }
        case 'SNAT': {
          const to = splitAddrPort(t!.params.find((x) => x.name === 'to-source')?.values[0] ?? '');
          s.pkt.src = to.ip;
          if (to.port !== undefined) s.pkt.srcPort = to.port;
          hit(r, 'snat', `SNAT to ${to.ip}:${s.pkt.srcPort}`);
          return finish('accept');
        }
        case 'MASQUERADE': {
          if (s.oifAddress) s.pkt.src = s.oifAddress;
          const random = t!.params.some((x) => x.name === 'random-fully' || x.name === 'random');
          hit(r, 'masquerade', `MASQUERADE to ${s.pkt.src} (the address of ${s.oif ?? 'the outgoing interface'})${random ? ', source port chosen at random' : ''}`);
          return finish('accept');
        }
        case 'MARK': {
          const before = s.mark;
          for (const x of t!.params) {
            const { value, mask } = markValue(x.values[0] ?? '0');
            if (x.name === 'or-mark') s.mark = (s.mark | value) >>> 0;
            else if (x.name === 'xor-mark') s.mark = (s.mark ^ value) >>> 0;
            else if (x.name === 'and-mark') s.mark = (s.mark & value) >>> 0;
            else if (x.name === 'set-mark') s.mark = ((s.mark & ~mask) | value) >>> 0;
            else if (x.name === 'set-xmark') s.mark = ((s.mark & ~mask) ^ value) >>> 0;
          }
          hit(r, 'mark', `MARK ${hex(before)} → ${hex(s.mark)}`);
          continue;
        }
        default:
          if (enter(name, false)) continue;
          // LOG, NFLOG, TRACE, CT, … : they look and go on
          hit(r, 'none', `${name} (non-terminating)`);
          continue;
      }
    }
  }
}

function indexChain(rules: IptRule[]): NonNullable<IptChain['index']> {
  const byDst = new Map<string, number[]>();
  const rest: number[] = [];
  rules.forEach((r, i) => {
    // the destination read off the arguments without parsing the rule: "-d X", not "! -d X"
    const at = r.args.findIndex((a) => a === '-d' || a === '--destination' || a === '--dst');
    const d = at >= 0 && r.args[at - 1] !== '!' ? r.args[at + 1] : undefined;
    const ip = d !== undefined ? (d.endsWith('/32') ? d.slice(0, -3) : d) : undefined;
    if (ip === undefined || ip.includes('/')) rest.push(i);
    else {
      const l = byDst.get(ip);
      if (l) l.push(i);
      else byDst.set(ip, [i]);
    }
  });
  return { byDst, rest };
}

/** The indices of the rules that may match a packet to dst, in chain order. */
function candidates(c: IptChain, dst: string): number[] {
  if (!c.index) return c.rules.map((_, i) => i);
  const a = c.index.byDst.get(dst) ?? [];
  const b = c.index.rest;
  const out: number[] = [];
  let x = 0;
  let y = 0;
  while (x < a.length || y < b.length) {
    if (y >= b.length || (x < a.length && a[x]! < b[y]!)) out.push(a[x++]!);
    else out.push(b[y++]!);
  }
  return out;
}
