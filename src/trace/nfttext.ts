// nft rule text read into the statements `nft -j` gives for it (src/knftables/expr.ts), for the
// rules a transaction writes (kube-proxy's, the NetworkPolicy agent's) when there is no kernel to
// list them back: the same evaluator then walks rendered rules and live ones. It reads the
// vocabulary those rules use — payload, meta, ct, fib and numgen selectors, concatenations,
// anonymous and named sets and maps, verdicts and verdict maps, NAT, mark setting, set updates,
// counters — and keeps anything else as an `other` statement that matches nothing and acts on nothing.
import type { Expr, MatchOp, Statement, Verdict } from '../knftables/index.ts';

/** Splits rule text into words; "{", "}", "," and a quoted string are words of their own. */
export function ruleWords(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  const flush = () => {
    if (cur) out.push(cur);
    cur = '';
  };
  for (const ch of text) {
    if (quoted) {
      cur += ch;
      if (ch === '"') {
        quoted = false;
        flush();
      }
    } else if (ch === '"') {
      flush();
      cur = ch;
      quoted = true;
    } else if (ch === ' ' || ch === '\t') flush();
    else if (ch === '{' || ch === '}' || ch === ',') {
      flush();
      out.push(ch);
    } else cur += ch;
  }
  flush();
  return out;
}

const verdictWords = new Set(['accept', 'drop', 'continue', 'return', 'queue']);
const ops = new Set(['==', '!=', '<', '>', '<=', '>=']);
const payloadProtocols = new Set(['ip', 'ip6', 'th', 'tcp', 'udp', 'sctp', 'icmp', 'ether']);
const metaKeys = new Set(['l4proto', 'mark', 'iifname', 'oifname', 'iif', 'oif', 'nfproto', 'protocol', 'pkttype', 'skuid']);
const unquote = (w: string) => (w.startsWith('"') && w.endsWith('"') ? w.slice(1, -1) : w);

function literal(w: string): Expr {
  const s = unquote(w);
  if (/^(0x[0-9a-f]+|\d+)$/i.test(s)) return { kind: 'value', value: Number(s) };
  const prefix = /^([0-9.]+)\/(\d+)$/.exec(s);
  if (prefix) return { kind: 'prefix', addr: prefix[1]!, len: Number(prefix[2]) };
  const range = /^(\d+)-(\d+)$/.exec(s);
  if (range) return { kind: 'range', from: { kind: 'value', value: Number(range[1]) }, to: { kind: 'value', value: Number(range[2]) } };
  if (s.startsWith('@')) return { kind: 'setRef', name: s.slice(1) };
  return { kind: 'value', value: s };
}

class Reader {
  i = 0;
  constructor(readonly w: string[]) {}
  peek(k = 0): string | undefined {
    return this.w[this.i + k];
  }
  next(): string {
    const t = this.w[this.i++];
    if (t === undefined) throw new Error('rule ends too soon');
    return t;
  }
  done(): boolean {
    return this.i >= this.w.length;
  }
}

/** One selector (ip daddr, meta l4proto, mark, th dport, ct state, fib daddr type, numgen random mod N), or undefined when the words are none. */
function selector(r: Reader): Expr | undefined {
  const a = r.peek();
  if (a === undefined) return undefined;
  if (payloadProtocols.has(a) && r.peek(1) !== undefined && /^[a-z]+$/.test(r.peek(1)!) && !verdictWords.has(r.peek(1)!)) {
    r.i += 2;
    return { kind: 'payload', protocol: a, field: r.w[r.i - 1]! };
  }
  if (a === 'meta' && metaKeys.has(r.peek(1) ?? '')) {
    r.i += 2;
    return { kind: 'meta', key: r.w[r.i - 1]! };
  }
  if (a === 'mark' || a === 'iifname' || a === 'oifname' || a === 'l4proto') {
    r.i += 1;
    return { kind: 'meta', key: a };
  }
  if (a === 'ct' && r.peek(1)) {
    r.i += 2;
    return { kind: 'ct', key: r.w[r.i - 1]! };
  }
  if (a === 'fib') {
    r.i++;
    const flags: string[] = [];
    while (r.peek() && r.peek() !== 'type' && r.peek() !== 'oif' && r.peek() !== 'oifname') {
      const t = r.next();
      if (t !== '.') flags.push(t);
    }
    return { kind: 'fib', result: r.next(), flags };
  }
  if (a === 'numgen') {
    r.i++;
    const mode = r.next();
    if (r.next() !== 'mod') throw new Error('numgen without mod');
    const mod = Number(r.next());
    let offset = 0;
    if (r.peek() === 'offset') {
      r.i++;
      offset = Number(r.next());
    }
    return { kind: 'numgen', mode, mod, offset };
  }
  return undefined;
}

/** A selector, a concatenation of them ("ip daddr . meta l4proto . th dport"), with a bitwise operation ("mark and 0x4000"). */
function keyExpr(r: Reader): Expr | undefined {
  const first = selector(r);
  if (!first) return undefined;
  let e: Expr = first;
  const binop: Record<string, '&' | '|' | '^'> = { and: '&', '&': '&', or: '|', '|': '|', xor: '^', '^': '^' };
  while (binop[r.peek() ?? ''] !== undefined) {
    const op = binop[r.next()]!;
    e = { kind: 'binop', op, left: e, right: literal(r.next()) };
  }
  if (r.peek() === '.') {
    const parts = [e];
    while (r.peek() === '.') {
      r.i++;
      const s = selector(r);
      if (!s) throw new Error('concatenation ends too soon');
      parts.push(s);
    }
    e = { kind: 'concat', parts };
  }
  return e;
}

function verdictOf(r: Reader): Verdict | undefined {
  const w = r.peek();
  if (w === undefined) return undefined;
  if (verdictWords.has(w)) {
    r.i++;
    return { type: w as 'accept' };
  }
  if (w === 'jump' || w === 'goto') {
    r.i += 2;
    return { type: w, target: unquote(r.w[r.i - 1]!) };
  }
  return undefined;
}

/** A value: a literal, a concatenation of literals (a . b), or a braced set or map. */
function valueExpr(r: Reader, allowMap: boolean): Expr {
  if (r.peek() === '{') {
    r.i++;
    const items: { key: Expr; value?: Expr }[] = [];
    while (r.peek() !== '}') {
      if (r.peek() === ',') {
        r.i++;
        continue;
      }
      const key = valueExpr(r, false);
      if (allowMap && r.peek() === ':') {
        r.i++;
        const v = verdictOf(r);
        items.push({ key, value: v ? { kind: 'verdict', verdict: v } : literal(r.next()) });
      } else items.push({ key });
    }
    r.i++;
    return { kind: 'set', items };
  }
  const first = literal(r.next());
  if (r.peek() !== '.') {
    // "a,b" (ct state established,related): a list of flags
    if (first.kind === 'value' && typeof first.value === 'string' && first.value.includes(',')) return { kind: 'list', items: first.value.split(',').map(literal) };
    return first;
  }
  const parts = [first];
  while (r.peek() === '.') {
    r.i++;
    parts.push(literal(r.next()));
  }
  return { kind: 'concat', parts };
}

/** "10.244.0.5:8080" → address and port. */
function natTarget(w: string): { addr?: Expr; port?: Expr } {
  const m = /^([0-9.]+)(?::(\d+))?$/.exec(w);
  if (!m) return { addr: literal(w) };
  return { addr: { kind: 'value', value: m[1]! }, ...(m[2] ? { port: { kind: 'value', value: Number(m[2]) } } : {}) };
}

function statementAt(r: Reader): Statement {
  const w = r.peek()!;
  const v = verdictOf(r);
  if (v) return { kind: 'verdict', verdict: v };
  if (w === 'reject') {
    r.i++;
    if (r.peek() === 'with') {
      r.i++;
      const type = r.next();
      if (r.peek() === 'type') r.i++;
      const code = type === 'tcp' ? (r.i++, 'reset') : r.next();
      return { kind: 'reject', type, code };
    }
    return { kind: 'reject' };
  }
  if (w === 'dnat' || w === 'snat') {
    r.i++;
    if (r.peek() === 'ip') r.i++;
    if (r.next() !== 'to') throw new Error(`${w} without "to"`);
    const t = natTarget(r.next());
    const flags: string[] = [];
    while (['fully-random', 'random', 'persistent'].includes(r.peek() ?? '')) flags.push(r.next());
    return { kind: 'nat', type: w, ...t, flags };
  }
  if (w === 'masquerade' || w === 'redirect') {
    r.i++;
    const flags: string[] = [];
    let port: Expr | undefined;
    while (r.peek() !== undefined) {
      if (['fully-random', 'random', 'persistent'].includes(r.peek()!)) flags.push(r.next());
      else if (r.peek() === 'to') {
        r.i++;
        port = literal(r.next().replace(/^:/, ''));
      } else break;
    }
    return { kind: 'nat', type: w, ...(port ? { port } : {}), flags };
  }
  if ((w === 'update' || w === 'add' || w === 'delete') && r.peek(1)?.startsWith('@')) {
    r.i += 2;
    const set = r.w[r.i - 1]!.slice(1);
    if (r.next() !== '{') throw new Error('set update without { }');
    const elem = keyExpr(r) ?? literal(r.next());
    while (r.peek() !== '}') r.i++;
    r.i++;
    return { kind: 'setUpdate', op: w, set, elem };
  }
  if (w === 'counter') {
    r.i++;
    const c: { packets?: number; bytes?: number } = {};
    while (r.peek() === 'packets' || r.peek() === 'bytes') {
      const k = r.next() as 'packets' | 'bytes';
      c[k] = Number(r.next());
    }
    return { kind: 'counter', ...c };
  }
  if (w === 'log' || w === 'limit' || w === 'comment' || w === 'notrack') {
    // consumed to the end: nothing the walker acts on
    const rest = r.w.slice(r.i);
    r.i = r.w.length;
    return w === 'notrack' ? { kind: 'notrack' } : { kind: 'other', name: w, json: rest.join(' ') };
  }
  const start = r.i;
  const key = keyExpr(r);
  if (!key) {
    r.i = r.w.length;
    return { kind: 'other', name: w, json: r.w.slice(start).join(' ') };
  }
  if (r.peek() === 'set') {
    r.i++;
    const value = keyExpr(r) ?? literal(r.next());
    return { kind: 'mangle', key, value };
  }
  if (r.peek() === 'vmap') {
    r.i++;
    return { kind: 'vmap', key, data: valueExpr(r, true) };
  }
  let op: MatchOp = '==';
  if (ops.has(r.peek() ?? '')) op = r.next() as MatchOp;
  const right = valueExpr(r, false);
  // nft lists a bare flag match ("ct state new") as op "in"
  if (op === '==' && key.kind === 'ct' && (key.key === 'state' || key.key === 'status')) op = 'in';
  return { kind: 'match', op, left: key, right };
}

/** The statements of one rule's text; a word the reader does not know ends in an `other` statement. */
export function parseRuleText(text: string): Statement[] {
  const r = new Reader(ruleWords(text));
  const out: Statement[] = [];
  while (!r.done()) {
    const before = r.i;
    try {
      out.push(statementAt(r));
    } catch (e) {
      out.push({ kind: 'other', name: 'unparsed', json: `${r.w.slice(before).join(' ')}: ${(e as Error).message}` });
      break;
    }
    if (r.i === before) {
      out.push({ kind: 'other', name: 'unparsed', json: r.w.slice(before).join(' ') });
      break;
    }
  }
  return out;
}
