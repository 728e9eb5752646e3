// Label selectors: the string form of list requests (`app=web,tier in (a,b)`), the
// LabelSelector objects of workloads and policies, matching, and upstream's printing.
import type { LabelSelector } from './types.ts';

export type Operator = '=' | '==' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';

export interface Requirement {
  key: string;
  op: Operator;
  values: string[];
}

/** A parsed selector; an empty list matches everything. `nothing` matches no object. */
export interface Selector {
  requirements: Requirement[];
  nothing?: boolean;
}

export class SelectorParseError extends Error {}

export const everything: Selector = { requirements: [] };

export function matches(sel: Selector, labels: Record<string, string> | undefined): boolean {
  if (sel.nothing) return false;
  const l = labels ?? {};
  for (const r of sel.requirements) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case '=':
      case '==':
      case 'in':
        if (!has || !r.values.includes(v!)) return false;
        break;
      case '!=':
      case 'notin':
        if (has && r.values.includes(v!)) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case '!':
        if (has) return false;
        break;
      case 'gt':
      case 'lt': {
        if (!has || !/^-?\d+$/.test(v!)) return false;
        const n = Number(v);
        const bound = Number(r.values[0]);
        if (r.op === 'gt' ? !(n > bound) : !(n < bound)) return false;
        break;
      }
    }
  }
  return true;
}

// ---- parsing the string form ----

const identChars = /[A-Za-z0-9._\-/]/;

class Lexer {
  pos = 0;
  constructor(readonly s: string) {}
  skipSpace(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
  }
  peek(): string {
    this.skipSpace();
    return this.s.slice(this.pos);
  }
  ident(): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.s.length && identChars.test(this.s[this.pos]!)) this.pos++;
    return this.s.slice(start, this.pos);
  }
  eat(tok: string): boolean {
    this.skipSpace();
    if (this.s.startsWith(tok, this.pos)) {
      this.pos += tok.length;
      return true;
    }
    return false;
  }
  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.s.length;
  }
}

/** Parses `labelSelector` as labels.Parse does. */
export function parseSelector(s: string): Selector {
  const lx = new Lexer(s);
  const reqs: Requirement[] = [];
  if (lx.atEnd()) return everything;
  for (;;) {
    reqs.push(parseRequirement(lx));
    if (lx.atEnd()) break;
    if (!lx.eat(',')) throw new SelectorParseError(`found '${lx.peek()[0]}', expected: ',' or 'end of string'`);
  }
  for (const r of reqs) validateRequirement(r);
  return { requirements: sortRequirements(reqs) };
}

function parseRequirement(lx: Lexer): Requirement {
  if (lx.eat('!')) {
    const key = lx.ident();
    if (!key) throw new SelectorParseError(`found '${lx.peek()[0] ?? 'end of string'}', expected: identifier`);
    return { key, op: '!', values: [] };
  }
  const key = lx.ident();
  if (!key) throw new SelectorParseError(`found '${lx.peek()[0] ?? 'end of string'}', expected: !, identifier, or 'end of string'`);
  if (lx.atEnd() || lx.peek().startsWith(',')) return { key, op: 'exists', values: [] };
  if (lx.eat('==')) return { key, op: '==', values: [lx.ident()] };
  if (lx.eat('!=')) return { key, op: '!=', values: [lx.ident()] };
  if (lx.eat('=')) return { key, op: '=', values: [lx.ident()] };
  if (lx.eat('>')) return { key, op: 'gt', values: [lx.ident()] };
  if (lx.eat('<')) return { key, op: 'lt', values: [lx.ident()] };
  const word = lx.ident();
  if (word === 'in' || word === 'notin') {
    if (!lx.eat('(')) throw new SelectorParseError(`found '${lx.peek()[0] ?? 'end of string'}', expected: '('`);
    const values: string[] = [];
    if (!lx.eat(')')) {
      for (;;) {
        values.push(lx.ident());
        if (lx.eat(')')) break;
        if (!lx.eat(',')) throw new SelectorParseError(`found '${lx.peek()[0] ?? 'end of string'}', expected: ',' or ')'`);
      }
    }
    return { key, op: word, values };
  }
  throw new SelectorParseError(`found '${word || lx.peek()[0] || 'end of string'}', expected: in, notin, =, ==, !=, gt, lt`);
}

const qualifiedNameRe = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function validateRequirement(r: Requirement): void {
  const parts = r.key.split('/');
  const name = parts[parts.length - 1]!;
  if (parts.length > 2 || !qualifiedNameRe.test(name) || name.length > 63) {
    throw new SelectorParseError(`invalid label key "${r.key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`);
  }
  if ((r.op === 'in' || r.op === 'notin') && r.values.length === 0) {
    throw new SelectorParseError(`for 'in', 'notin' operators, values set can't be empty`);
  }
  if (r.op === 'gt' || r.op === 'lt') {
    if (!/^-?\d+$/.test(r.values[0] ?? '')) throw new SelectorParseError(`for 'Gt', 'Lt' operators, the value must be an integer`);
    return;
  }
  for (const v of r.values) {
    if (v.length > 63 || !labelValueRe.test(v)) {
      throw new SelectorParseError(`invalid label value: "${v}": at key: "${r.key}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`);
    }
  }
}

function sortRequirements(reqs: Requirement[]): Requirement[] {
  return [...reqs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

// ---- LabelSelector objects ----

/** metav1.LabelSelectorAsSelector: nil selects nothing, {} selects everything. */
export function fromLabelSelector(ls: LabelSelector | undefined | null): Selector {
  if (ls === undefined || ls === null) return { requirements: [], nothing: true };
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(ls.matchLabels ?? {})) reqs.push({ key: k, op: '=', values: [v] });
  for (const e of ls.matchExpressions ?? []) {
    switch (e.operator) {
      case 'In':
        reqs.push({ key: e.key, op: 'in', values: [...(e.values ?? [])] });
        break;
      case 'NotIn':
        reqs.push({ key: e.key, op: 'notin', values: [...(e.values ?? [])] });
        break;
      case 'Exists':
        reqs.push({ key: e.key, op: 'exists', values: [] });
        break;
      case 'DoesNotExist':
        reqs.push({ key: e.key, op: '!', values: [] });
        break;
      default:
        throw new SelectorParseError(`${JSON.stringify(e.operator)} is not a valid label selector operator`);
    }
  }
  return { requirements: sortRequirements(reqs) };
}

/** A map selector, as a Service's spec.selector (labels.SelectorFromSet). */
export function fromSet(set: Record<string, string> | undefined): Selector {
  return { requirements: sortRequirements(Object.entries(set ?? {}).map(([key, v]) => ({ key, op: '=' as const, values: [v] }))) };
}

export function requirementString(r: Requirement): string {
  switch (r.op) {
    case '=':
    case '==':
    case '!=':
      return `${r.key}${r.op}${r.values[0]}`;
    case 'in':
    case 'notin':
      return `${r.key} ${r.op} (${[...r.values].sort().join(',')})`;
    case 'exists':
      return r.key;
    case '!':
      return `!${r.key}`;
    case 'gt':
      return `${r.key}>${r.values[0]}`;
    case 'lt':
      return `${r.key}<${r.values[0]}`;
  }
}

export function selectorString(sel: Selector): string {
  return sel.requirements.map(requirementString).join(',');
}

/** metav1.FormatLabelSelector. */
export function formatLabelSelector(ls: LabelSelector | undefined | null): string {
  try {
    const s = selectorString(fromLabelSelector(ls));
    return s === '' ? '<none>' : s;
  } catch {
    return '<error>';
  }
}

/** labels.FormatLabels: sorted `k=v` pairs, or <none>. */
export function formatLabels(m: Record<string, string> | undefined): string {
  const s = selectorString(fromSet(m));
  return s === '' ? '<none>' : s;
}
