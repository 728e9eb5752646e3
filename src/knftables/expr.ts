// Rule statements and expressions as the kernel holds them, read from libnftables' JSON
// (`nft -j list ruleset`, man libnftables-json) into typed values a packet walker can evaluate:
// matches on payload / meta / ct / fib, set and map lookups, verdicts and verdict maps, NAT,
// numgen, mark setting, set updates. What the walker has no use for is kept as `other` with its JSON.

export type Value = string | number | boolean;

export type Verdict =
  | { type: 'accept' | 'drop' | 'continue' | 'return' | 'queue' }
  | { type: 'jump' | 'goto'; target: string };

/** An element of an anonymous set ({ a, b }) or map ({ k : v }), or of a named one as the JSON gives it. */
export interface SetItem {
  key: Expr;
  value?: Expr;
  comment?: string;
  /** seconds */
  timeout?: number;
  /** seconds left before a timed element goes */
  expires?: number;
}

export type Expr =
  /** an immediate: an address, a port, "tcp", "new", "local", a mark */
  | { kind: 'value'; value: Value }
  /** ip daddr, th dport, tcp dport, ip6 saddr, ip protocol */
  | { kind: 'payload'; protocol: string; field: string }
  | { kind: 'rawPayload'; base: string; offset: number; len: number }
  /** meta l4proto, meta mark, meta iifname */
  | { kind: 'meta'; key: string }
  /** ct state, ct status, ct mark */
  | { kind: 'ct'; key: string; dir?: string; family?: string }
  /** fib saddr type, fib daddr . iif type */
  | { kind: 'fib'; result: string; flags: string[] }
  /** numgen random mod N */
  | { kind: 'numgen'; mode: string; mod: number; offset: number }
  /** a . b . c */
  | { kind: 'concat'; parts: Expr[] }
  | { kind: 'prefix'; addr: string; len: number }
  | { kind: 'range'; from: Expr; to: Expr }
  /** @name: a named set or map */
  | { kind: 'setRef'; name: string }
  /** { … }: an anonymous set, or map when its items have values */
  | { kind: 'set'; items: SetItem[] }
  /** several flags at once: ct state established,related */
  | { kind: 'list'; items: Expr[] }
  | { kind: 'binop'; op: '&' | '|' | '^' | '<<' | '>>'; left: Expr; right: Expr }
  /** key map data: the value a map gives for key (dnat to ip daddr map { … }) */
  | { kind: 'map'; key: Expr; data: Expr }
  | { kind: 'verdict'; verdict: Verdict }
  | { kind: 'other'; json: unknown };

/**
 * '==' / '!=': equality, or membership when the right side is a set or @set; 'in': the flags on
 * the right are among those set (ct state new); the others compare numbers.
 */
export type MatchOp = '==' | '!=' | '<' | '>' | '<=' | '>=' | 'in';

export type NatType = 'dnat' | 'snat' | 'masquerade' | 'redirect';

export type Statement =
  | { kind: 'match'; op: MatchOp; left: Expr; right: Expr }
  | { kind: 'verdict'; verdict: Verdict }
  /** key vmap @map / key vmap { k : verdict, … } */
  | { kind: 'vmap'; key: Expr; data: Expr }
  /** reject; reject with icmp port-unreachable (type "icmp", code "port-unreachable"); reject with tcp reset */
  | { kind: 'reject'; type?: string; code?: string }
  | { kind: 'nat'; type: NatType; family?: string; addr?: Expr; port?: Expr; flags: string[] }
  /** meta mark set …, ct mark set … */
  | { kind: 'mangle'; key: Expr; value: Expr }
  /** update @set { ip saddr } (op add / update / delete) */
  | { kind: 'setUpdate'; op: string; set: string; elem: Expr }
  | { kind: 'counter'; packets?: number; bytes?: number }
  | { kind: 'notrack' }
  /** log, limit, xt (iptables-nft's compat matches), … by their JSON key */
  | { kind: 'other'; name: string; json: unknown };

type Json = unknown;
type JsonObject = Record<string, Json>;

const isObject = (j: Json): j is JsonObject => typeof j === 'object' && j !== null && !Array.isArray(j);
const plainVerdicts = new Set(['accept', 'drop', 'continue', 'return', 'queue']);
const binops = new Set(['&', '|', '^', '<<', '>>']);
const matchOps = new Set(['==', '!=', '<', '>', '<=', '>=', 'in']);

/** The single key of a JSON object like {"payload": {…}}, with its value. */
function only(j: JsonObject): [string, Json] | undefined {
  const keys = Object.keys(j);
  return keys.length === 1 ? [keys[0]!, j[keys[0]!]] : undefined;
}

function verdictOf(name: string, body: Json): Verdict | undefined {
  if (plainVerdicts.has(name)) return { type: name as 'accept' };
  if ((name === 'jump' || name === 'goto') && isObject(body) && typeof body.target === 'string') return { type: name, target: body.target };
  return undefined;
}

const num = (j: Json) => (typeof j === 'number' ? j : undefined);
const str = (j: Json) => (typeof j === 'string' ? j : undefined);
const strings = (j: Json): string[] => (typeof j === 'string' ? [j] : Array.isArray(j) ? j.filter((x): x is string => typeof x === 'string') : []);

/** One element of a set or map as the JSON gives it (a map's as [key, value]). */
export function setItem(j: Json): SetItem {
  // a map item is [key, value]; either side may be wrapped as {"elem": {"val": …, "comment": …}}
  if (Array.isArray(j) && j.length === 2) return { ...setItem(j[0]), value: expr(j[1]) };
  if (isObject(j) && isObject(j.elem)) {
    const e = j.elem;
    return {
      key: expr(e.val),
      ...(typeof e.comment === 'string' ? { comment: e.comment } : {}),
      ...(typeof e.timeout === 'number' ? { timeout: e.timeout } : {}),
      ...(typeof e.expires === 'number' ? { expires: e.expires } : {}),
    };
  }
  return { key: expr(j) };
}

export function expr(j: Json): Expr {
  if (typeof j === 'string') return j.startsWith('@') ? { kind: 'setRef', name: j.slice(1) } : { kind: 'value', value: j };
  if (typeof j === 'number' || typeof j === 'boolean') return { kind: 'value', value: j };
  if (Array.isArray(j)) return { kind: 'list', items: j.map(expr) };
  if (!isObject(j)) return { kind: 'other', json: j };
  const kv = only(j);
  if (!kv) return { kind: 'other', json: j };
  const [name, body] = kv;
  const verdict = verdictOf(name, body);
  if (verdict) return { kind: 'verdict', verdict };
  if (binops.has(name) && Array.isArray(body) && body.length === 2) return { kind: 'binop', op: name as '&', left: expr(body[0]), right: expr(body[1]) };
  if (!isObject(body)) {
    if (name === 'concat' && Array.isArray(body)) return { kind: 'concat', parts: body.map(expr) };
    if (name === 'set' && Array.isArray(body)) return { kind: 'set', items: body.map(setItem) };
    if (name === 'set') return { kind: 'set', items: [setItem(body)] };
    if (name === 'range' && Array.isArray(body) && body.length === 2) return { kind: 'range', from: expr(body[0]), to: expr(body[1]) };
    return { kind: 'other', json: j };
  }
  switch (name) {
    case 'payload':
      if (typeof body.protocol === 'string' && typeof body.field === 'string') return { kind: 'payload', protocol: body.protocol, field: body.field };
      if (typeof body.base === 'string') return { kind: 'rawPayload', base: body.base, offset: num(body.offset) ?? 0, len: num(body.len) ?? 0 };
      break;
    case 'meta':
      if (typeof body.key === 'string') return { kind: 'meta', key: body.key };
      break;
    case 'ct':
      if (typeof body.key === 'string') return { kind: 'ct', key: body.key, ...(str(body.dir) ? { dir: str(body.dir)! } : {}), ...(str(body.family) ? { family: str(body.family)! } : {}) };
      break;
    case 'fib':
      if (typeof body.result === 'string') return { kind: 'fib', result: body.result, flags: strings(body.flags) };
      break;
    case 'numgen':
      if (typeof body.mode === 'string' && typeof body.mod === 'number') return { kind: 'numgen', mode: body.mode, mod: body.mod, offset: num(body.offset) ?? 0 };
      break;
    case 'prefix':
      if (typeof body.addr === 'string' && typeof body.len === 'number') return { kind: 'prefix', addr: body.addr, len: body.len };
      break;
    case 'map':
      return { kind: 'map', key: expr(body.key), data: expr(body.data) };
    case 'elem':
      return setItem(j).key;
  }
  return { kind: 'other', json: j };
}

const natTypes = new Set(['dnat', 'snat', 'masquerade', 'redirect']);

export function statement(j: Json): Statement {
  const kv = isObject(j) ? only(j) : undefined;
  if (!kv) return { kind: 'other', name: '', json: j };
  const [name, body] = kv;
  const verdict = verdictOf(name, body);
  if (verdict) return { kind: 'verdict', verdict };
  if (natTypes.has(name)) {
    const b = isObject(body) ? body : {};
    return {
      kind: 'nat',
      type: name as NatType,
      ...(str(b.family) ? { family: str(b.family)! } : {}),
      ...(b.addr !== undefined ? { addr: expr(b.addr) } : {}),
      ...(b.port !== undefined ? { port: expr(b.port) } : {}),
      flags: strings(b.flags),
    };
  }
  if (name === 'reject') {
    const b = isObject(body) ? body : {};
    return { kind: 'reject', ...(str(b.type) ? { type: str(b.type)! } : {}), ...(str(b.expr) ? { code: str(b.expr)! } : {}) };
  }
  if (name === 'notrack') return { kind: 'notrack' };
  if (isObject(body)) {
    switch (name) {
      case 'match':
        if (typeof body.op === 'string' && matchOps.has(body.op)) return { kind: 'match', op: body.op as MatchOp, left: expr(body.left), right: expr(body.right) };
        break;
      case 'vmap':
        return { kind: 'vmap', key: expr(body.key), data: expr(body.data) };
      case 'mangle':
        return { kind: 'mangle', key: expr(body.key), value: expr(body.value) };
      case 'set':
        if (typeof body.op === 'string' && typeof body.set === 'string') return { kind: 'setUpdate', op: body.op, set: body.set.replace(/^@/, ''), elem: expr(body.elem) };
        break;
      case 'counter':
        return { kind: 'counter', ...(num(body.packets) !== undefined ? { packets: num(body.packets)! } : {}), ...(num(body.bytes) !== undefined ? { bytes: num(body.bytes)! } : {}) };
    }
  } else if (name === 'counter') return { kind: 'counter' };
  return { kind: 'other', name, json: body };
}

export function verdictText(v: Verdict): string {
  return 'target' in v ? `${v.type} ${v.target}` : v.type;
}

/**
 * An element's key or value as knftables words: one per part of a concatenation, a prefix as
 * "10.0.0.0/8", a range as "a-b", a verdict as "goto chain".
 */
export function elementWords(e: Expr): string[] {
  switch (e.kind) {
    case 'value':
      return [String(e.value)];
    case 'concat':
      return e.parts.flatMap(elementWords);
    case 'prefix':
      return [`${e.addr}/${e.len}`];
    case 'range':
      return [`${elementWords(e.from).join(' . ')}-${elementWords(e.to).join(' . ')}`];
    case 'verdict':
      return [verdictText(e.verdict)];
    case 'setRef':
      return [`@${e.name}`];
    default:
      return [JSON.stringify(e.kind === 'other' ? e.json : e)];
  }
}
