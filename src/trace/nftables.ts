// The nftables walker: a ruleset (src/knftables' Ruleset: `nft -j list ruleset` read back, or a
// rendered transaction applied to the Fake) evaluated for one packet as the kernel evaluates it —
// every base chain by hook and priority, statements left to right, jump/goto/return, verdict maps
// looked up by key (a map lookup, as in the kernel: never a walk over the elements), numgen
// branches with every endpoint's share, NAT and mark statements. Rules read back from the kernel
// carry their statements; rendered ones are read from their text (nfttext.ts).
import { parsePriority, verdictText, type Expr, type Ruleset, type SetItem, type Statement, type Verdict } from '../knftables/index.ts';
import { addressMatches, hex, type Branch, type Chooser, type Hook, type HookResult, type NodeView, type PacketState, type RuleWalker } from './netfilter.ts';
import { parseRuleText } from './nfttext.ts';

interface NftRule {
  stmts: Statement[];
  /** the rule as nft lists it, its comment included */
  text: string;
  comment?: string;
}

interface NftChain {
  table: string;
  name: string;
  hook?: string;
  priority?: number;
  type?: string;
  policy?: string;
  rules: NftRule[];
}

interface SetIndex {
  exact: Set<string>;
  /** prefixes and ranges, looked at only when the exact lookup fails */
  intervals: string[];
}

interface MapElement {
  value: string[];
  comment?: string;
}

type Val = string | number | boolean | undefined | Val[];

const keyText = (v: Val): string => (Array.isArray(v) ? v.map(keyText).join(' . ') : String(v));

/** A rule as nft lists it, its comment included: the text a hit carries (and an observed rule is named by). */
export const nftRuleText = (r: { rule: string; comment?: string }) => r.rule + (r.comment !== undefined ? ` comment "${r.comment}"` : '');

/** A verdict written as a word or two ("goto service-…", "drop"). */
function parseVerdict(words: string): Verdict | undefined {
  const [a, b] = words.split(' ');
  if (a === 'jump' || a === 'goto') return b ? { type: a, target: b } : undefined;
  if (a === 'accept' || a === 'drop' || a === 'return' || a === 'continue' || a === 'queue') return { type: a };
  return undefined;
}

export class NftablesWalker implements RuleWalker {
  private readonly chains = new Map<string, NftChain>();
  private readonly sets = new Map<string, SetIndex>();
  private readonly maps = new Map<string, Map<string, MapElement>>();

  constructor(rs: Ruleset) {
    const tkey = (o: { family?: string; table?: string }) => `${o.family ?? 'ip'} ${o.table ?? ''}`;
    for (const c of rs.chains) {
      const table = tkey(c);
      this.chains.set(`${table} ${c.name}`, {
        table,
        name: c.name,
        rules: [],
        ...(c.hook ? { hook: c.hook } : {}),
        ...(c.priority !== undefined ? { priority: parsePriority(c.family, c.priority) ?? 0 } : {}),
        ...(c.type ? { type: c.type } : {}),
        ...(c.policy ? { policy: c.policy } : {}),
      });
    }
    for (const r of rs.rules) {
      const c = this.chains.get(`${tkey(r)} ${r.chain}`);
      if (!c) continue;
      const stmts = r.expr?.length ? r.expr : parseRuleText(r.rule);
      c.rules.push({ stmts, text: nftRuleText(r), ...(r.comment !== undefined ? { comment: r.comment } : {}) });
    }
    for (const s of rs.sets) this.sets.set(`${tkey(s)} ${s.name}`, { exact: new Set(), intervals: [] });
    for (const m of rs.maps) this.maps.set(`${tkey(m)} ${m.name}`, new Map());
    for (const e of rs.elements) {
      const key = e.key.join(' . ');
      if (e.set !== undefined) {
        const s = this.sets.get(`${tkey(e)} ${e.set}`);
        if (!s) continue;
        if (/[/-]/.test(key) && !/[a-z]/i.test(key)) s.intervals.push(key);
        else s.exact.add(key);
      } else if (e.map !== undefined) {
        this.maps.get(`${tkey(e)} ${e.map}`)?.set(key, { value: e.value ?? [], ...(e.comment !== undefined ? { comment: e.comment } : {}) });
      }
    }
  }

  baseChains(hook: Hook): { priority: number; id: string; label: string }[] {
    const out: { priority: number; id: string; label: string }[] = [];
    for (const [id, c] of this.chains) {
      if (c.hook !== hook) continue;
      const family = c.table.split(' ')[0];
      if (family !== 'ip' && family !== 'inet') continue;
      out.push({ priority: c.priority ?? 0, id, label: `${c.table} ${c.name}` });
    }
    return out;
  }

  private value(e: Expr, s: PacketState, view: NodeView): Val {
    const p = s.pkt;
    const local = (ip: string) => view.localIPs.has(ip) || ip.startsWith('127.');
    switch (e.kind) {
      case 'value':
        return e.value;
      case 'payload':
        if (e.protocol === 'ip') return e.field === 'daddr' ? p.dst : e.field === 'saddr' ? p.src : e.field === 'protocol' ? p.protocol : undefined;
        if (e.protocol === 'th' || e.protocol === p.protocol) return e.field === 'dport' ? p.dstPort : e.field === 'sport' ? p.srcPort : undefined;
        return undefined;
      case 'meta':
        switch (e.key) {
          case 'l4proto':
          case 'protocol':
            return p.protocol;
          case 'mark':
            return s.mark;
          case 'iifname':
          case 'iif':
            return s.iif;
          case 'oifname':
          case 'oif':
            return s.oif;
          case 'nfproto':
            return 'ipv4';
        }
        return undefined;
      case 'ct':
        if (e.key === 'state') return s.ctNew ? 'new' : 'established';
        if (e.key === 'status') return s.dnat ? 'dnat' : undefined;
        if (e.key === 'mark') return 0;
        return undefined;
      case 'fib':
        if (e.result !== 'type') return undefined;
        if (e.flags.includes('daddr')) return local(p.dst) ? 'local' : 'unicast';
        if (e.flags.includes('saddr')) return local(p.src) ? 'local' : 'unicast';
        return undefined;
      case 'binop': {
        const l = Number(this.value(e.left, s, view));
        const r = Number(this.value(e.right, s, view));
        switch (e.op) {
          case '&':
            return (l & r) >>> 0;
          case '|':
            return (l | r) >>> 0;
          case '^':
            return (l ^ r) >>> 0;
          case '<<':
            return (l << r) >>> 0;
          case '>>':
            return l >>> r;
        }
        return undefined;
      }
      case 'concat':
        return e.parts.map((x) => this.value(x, s, view));
      default:
        return undefined;
    }
  }

  /** Whether v is in a set of elements given as key text. */
  private inItems(v: Val, items: SetItem[], s: PacketState, view: NodeView): SetItem | undefined {
    return items.find((it) => this.equals(v, it.key, s, view));
  }

  private equals(v: Val, right: Expr, s: PacketState, view: NodeView): boolean {
    if (v === undefined) return false;
    switch (right.kind) {
      case 'prefix':
        return typeof v === 'string' && addressMatches(`${right.addr}/${right.len}`, v);
      case 'range': {
        const n = Number(v);
        return n >= Number(this.value(right.from, s, view)) && n <= Number(this.value(right.to, s, view));
      }
      case 'list':
        return right.items.some((x) => this.equals(v, x, s, view));
      case 'set':
        return this.inItems(v, right.items, s, view) !== undefined;
      case 'concat':
        return Array.isArray(v) && v.length === right.parts.length && right.parts.every((x, i) => this.equals(v[i], x, s, view));
      default: {
        const r = this.value(right, s, view);
        return keyText(v) === keyText(r);
      }
    }
  }

  private inNamedSet(table: string, name: string, v: Val): boolean {
    const key = keyText(v);
    const set = this.sets.get(`${table} ${name}`);
    if (set) return set.exact.has(key) || set.intervals.some((iv) => intervalHas(iv, key));
    return this.maps.get(`${table} ${name}`)?.has(key) ?? false;
  }

  private match(st: Extract<Statement, { kind: 'match' }>, table: string, s: PacketState, view: NodeView): boolean {
    const v = this.value(st.left, s, view);
    let ok: boolean;
    if (st.right.kind === 'setRef') ok = this.inNamedSet(table, st.right.name, v);
    else if (st.op === '<' || st.op === '>' || st.op === '<=' || st.op === '>=') {
      const a = Number(v);
      const b = Number(this.value(st.right, s, view));
      ok = st.op === '<' ? a < b : st.op === '>' ? a > b : st.op === '<=' ? a <= b : a >= b;
    } else ok = this.equals(v, st.right, s, view);
    return st.op === '!=' ? !ok : ok;
  }

  /** The endpoint an endpoint chain DNATs to. */
  private dnatOf(table: string, chain: string): { ip: string; port?: number } | undefined {
    for (const r of this.chains.get(`${table} ${chain}`)?.rules ?? []) {
      for (const st of r.stmts) if (st.kind === 'nat' && st.type === 'dnat' && st.addr?.kind === 'value') return { ip: String(st.addr.value), ...(st.port?.kind === 'value' ? { port: Number(st.port.value) } : {}) };
    }
    return undefined;
  }

  walk(id: string, state: PacketState, view: NodeView, choose: Chooser): HookResult {
    const base = this.chains.get(id)!;
    const table = base.table;
    const out: HookResult = { verdict: 'accept', state, hits: [], choices: [] };
    if (base.type === 'nat' && !state.ctNew) return out;
    const s: PacketState = { ...state, pkt: { ...state.pkt } };
    const stack: { chain: NftChain; next: number; hitAt: number }[] = [];
    let chain = base;
    let i = 0;
    const finish = (v: 'accept' | 'drop' | 'reject') => {
      out.verdict = v;
      out.state = s;
      return out;
    };
    const hit = (r: NftRule, action: string, detail: string, extra: { comment?: string; target?: string } = {}) => {
      const comment = extra.comment ?? r.comment;
      out.hits.push({ table, chain: chain.name, text: r.text, action, detail, ...(comment !== undefined ? { comment } : {}), pkt: { ...s.pkt }, ...(extra.target ? { target: extra.target } : {}) });
    };
    for (;;) {
      if (i >= chain.rules.length) {
        const frame = stack.pop();
        if (!frame) return finish(chain.policy === 'drop' ? 'drop' : 'accept');
        if (out.hits.length === frame.hitAt + 1) out.hits.pop();
        chain = frame.chain;
        i = frame.next;
        continue;
      }
      const r = chain.rules[i++]!;
      /** a verdict reached: what the walk does next, or undefined to go on with the next rule */
      let verdict: { v: Verdict; detail?: string; comment?: string } | undefined;
      let stop: 'accept' | 'drop' | 'reject' | undefined;
      let matched = true;
      for (const st of r.stmts) {
        if (st.kind === 'match') {
          if (!this.match(st, table, s, view)) {
            matched = false;
            break;
          }
        } else if (st.kind === 'verdict') {
          verdict = { v: st.verdict };
          break;
        } else if (st.kind === 'vmap') {
          const found = this.vmap(st, table, chain.name, s, view, choose, out);
          if (!found) {
            matched = false;
            break;
          }
          verdict = found;
          break;
        } else if (st.kind === 'reject') {
          hit(r, 'reject', `reject${st.type ? ` with ${st.type} ${st.code ?? ''}`.trimEnd() : ''}`);
          stop = 'reject';
          break;
        } else if (st.kind === 'nat') {
          if (st.type === 'dnat' || st.type === 'redirect') {
            if (st.addr?.kind === 'value') s.pkt.dst = String(st.addr.value);
            if (st.port?.kind === 'value') s.pkt.dstPort = Number(st.port.value);
            s.dnat = true;
            hit(r, 'dnat', `DNAT to ${s.pkt.dst}:${s.pkt.dstPort}`);
          } else if (st.type === 'snat') {
            if (st.addr?.kind === 'value') s.pkt.src = String(st.addr.value);
            if (st.port?.kind === 'value') s.pkt.srcPort = Number(st.port.value);
            hit(r, 'snat', `SNAT to ${s.pkt.src}:${s.pkt.srcPort}`);
          } else {
            if (s.oifAddress) s.pkt.src = s.oifAddress;
            hit(r, 'masquerade', `masquerade to ${s.pkt.src} (the address of ${s.oif ?? 'the outgoing interface'})${st.flags.includes('fully-random') || st.flags.includes('random') ? ', source port chosen at random' : ''}`);
          }
          stop = 'accept';
          break;
        } else if (st.kind === 'mangle') {
          if (st.key.kind === 'meta' && st.key.key === 'mark') {
            const before = s.mark;
            s.mark = Number(this.value(st.value, s, view)) >>> 0;
            hit(r, 'mark', `mark ${hex(before)} → ${hex(s.mark)}`);
          }
        } else if (st.kind === 'setUpdate') {
          hit(r, 'none', `${st.op} @${st.set} (session affinity remembers the client)`);
        } else if (st.kind === 'other' && st.name === 'unparsed') {
          matched = false;
          break;
        }
      }
      if (stop) return finish(stop);
      if (!matched || !verdict) continue;
      const v = verdict.v;
      const extra = { ...(verdict.comment !== undefined ? { comment: verdict.comment } : {}) };
      switch (v.type) {
        case 'accept':
          hit(r, 'accept', verdict.detail ?? 'accept', extra);
          return finish('accept');
        case 'drop':
          hit(r, 'drop', verdict.detail ?? 'drop', extra);
          return finish('drop');
        case 'continue':
          continue;
        case 'queue':
          return finish('accept');
        case 'return': {
          hit(r, 'return', verdict.detail ?? 'return', extra);
          const frame = stack.pop();
          if (!frame) return finish(chain.policy === 'drop' ? 'drop' : 'accept');
          chain = frame.chain;
          i = frame.next;
          continue;
        }
        case 'jump':
        case 'goto': {
          const next = this.chains.get(`${table} ${v.target}`);
          hit(r, v.type, verdict.detail ?? verdictText(v), { ...extra, target: v.target });
          if (!next) continue;
          if (v.type === 'jump') stack.push({ chain, next: i, hitAt: out.hits.length - 1 });
          chain = next;
          i = 0;
          continue;
        }
      }
    }
  }

  /** A verdict map: the element for the packet's key, or a numgen branch among endpoints. */
  private vmap(st: Extract<Statement, { kind: 'vmap' }>, table: string, chainName: string, s: PacketState, view: NodeView, choose: Chooser, out: HookResult): { v: Verdict; detail: string; comment?: string } | undefined {
    if (st.key.kind === 'numgen' && st.data.kind === 'set') {
      const mod = st.key.mod;
      const byTarget = new Map<string, { v: Verdict; n: number }>();
      for (const it of st.data.items) {
        const v = it.value?.kind === 'verdict' ? it.value.verdict : undefined;
        if (!v) continue;
        const k = verdictText(v);
        const had = byTarget.get(k);
        if (had) had.n++;
        else byTarget.set(k, { v, n: 1 });
      }
      const list = [...byTarget.values()];
      const branches: Branch[] = list.map(({ v, n }) => {
        const target = 'target' in v ? v.target : '';
        const ep = this.dnatOf(table, target);
        return { ip: ep?.ip ?? '', port: ep?.port ?? s.pkt.dstPort, probability: n / mod, chain: target };
      });
      const where = { table, chain: chainName };
      const chosen = choose(branches, where);
      out.choices.push({ where, branches, chosen });
      const c = list[chosen]!;
      return { v: c.v, detail: `numgen random mod ${mod} → ${verdictText(c.v)} (probability ${branches[chosen]!.probability.toFixed(4)})` };
    }
    const key = this.value(st.key, s, view);
    if (key === undefined) return undefined;
    if (st.data.kind === 'setRef') {
      const el = this.maps.get(`${table} ${st.data.name}`)?.get(keyText(key));
      if (!el) return undefined;
      const v = parseVerdict(el.value.join(' '));
      if (!v) return undefined;
      return { v, detail: `@${st.data.name}[${keyText(key)}] → ${el.value.join(' ')}`, ...(el.comment !== undefined ? { comment: el.comment } : {}) };
    }
    if (st.data.kind === 'set') {
      const it = this.inItems(key, st.data.items, s, view);
      const v = it?.value?.kind === 'verdict' ? it.value.verdict : undefined;
      return v ? { v, detail: `${keyText(key)} → ${verdictText(v)}` } : undefined;
    }
    return undefined;
  }
}

/** "10.0.0.0/8" or "a-b" (an interval element) containing key. */
function intervalHas(iv: string, key: string): boolean {
  if (iv.includes('/')) return addressMatches(iv, key);
  const [a, b] = iv.split('-');
  const n = Number(key);
  return Number.isFinite(n) && n >= Number(a) && n <= Number(b);
}
