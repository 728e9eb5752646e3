// x-kubernetes-validations: CEL rules of a CRD's schema, evaluated with @bufbuild/cel against
// `self` (and `oldSelf` on updates, for transition rules), with the apiextensions-apiserver's
// error shapes: the rule's message, or "failed rule: <rule>", on the rule's field.
import { CelScalar, celEnv, celFunc, isCelError, parse, plan, type CelEnv, type CelInput } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { parseCIDR, parseIP } from '../../util/ip.ts';
import { Path, type FieldError, type FieldErrorType } from '../errors.ts';
import { isObject } from '../types.ts';
import type { JSONSchemaProps, ValidationRule } from './types.ts';

type Program = (bindings: Record<string, CelInput>) => unknown;

/**
 * The boolean checks of Kubernetes' CEL libraries that CRDs use (the Gateway API's
 * `!isIP(h)`): isIP, isCIDR and isURL. Their value types (ip(), cidr(), url()) are not offered.
 */
const kubernetesLibrary = [
  celFunc('isIP', [CelScalar.STRING], CelScalar.BOOL, (s) => parseIP(s) !== undefined),
  celFunc('isCIDR', [CelScalar.STRING], CelScalar.BOOL, (s) => parseCIDR(s) !== undefined),
  celFunc('isURL', [CelScalar.STRING], CelScalar.BOOL, (s) => {
    try {
      return Boolean(new URL(s).protocol);
    } catch {
      return false;
    }
  }),
];

let env: CelEnv | undefined;
const programs = new Map<string, Program | Error>();

/** Parses and plans a rule once; a rule that does not compile is an Error (CRD validation reports it). */
export function compileRule(rule: string): Program | Error {
  let p = programs.get(rule);
  if (p) return p;
  try {
    env ??= celEnv({ funcs: [...strings, ...kubernetesLibrary] });
    const planned = plan(env, parse(rule));
    p = (b) => planned(b as never);
  } catch (e) {
    p = new Error((e as Error).message);
  }
  programs.set(rule, p);
  return p;
}

/** CEL's reserved words, which a property name is escaped from as `__word__` (apiserver's cel/escaping). */
const reserved = new Set(['true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while']);

/** A declared property's name as rules spell it (`namespace` -> `__namespace__`, `a-b` -> `a__dash__b`); undefined if rules cannot name it. */
export function escapePropertyName(name: string): string | undefined {
  if (!name || /^[0-9]/.test(name)) return undefined;
  if (reserved.has(name)) return `__${name}__`;
  let ok = true;
  const out = name.replace(/__|[-./]|[^a-zA-Z0-9\-./_]/g, (m) => {
    const r = ({ __: '__underscores__', '.': '__dot__', '-': '__dash__', '/': '__slash__' } as Record<string, string>)[m];
    if (r === undefined) ok = false;
    return r ?? '';
  });
  return ok ? out : undefined;
}

/**
 * A JSON value as CEL sees it: objects as maps (declared properties under their escaped
 * names, map keys as they are), integers of integer fields as CEL ints. Converted values are
 * kept in `memo`, so the rules of nested fields share one conversion.
 */
function toCel(v: unknown, s: JSONSchemaProps | undefined, memo: WeakMap<object, CelInput>): CelInput {
  if (typeof v === 'object' && v !== null) {
    const hit = memo.get(v);
    if (hit !== undefined) return hit;
  }
  let out: CelInput;
  if (Array.isArray(v)) out = v.map((x) => toCel(x, s?.items, memo));
  else if (isObject(v)) {
    const ap = isObject(s?.additionalProperties) ? (s!.additionalProperties as JSONSchemaProps) : undefined;
    const m = new Map<string, CelInput>();
    for (const [k, x] of Object.entries(v)) {
      const ps = s?.properties?.[k];
      const name = ps ? escapePropertyName(k) : k;
      if (name !== undefined) m.set(name, toCel(x, ps ?? ap, memo));
    }
    out = m;
  } else return scalarToCel(v, s);
  memo.set(v as object, out);
  return out;
}

function scalarToCel(v: unknown, s: JSONSchemaProps | undefined): CelInput {
  if (typeof v === 'number') {
    if (s?.type === 'number') return v;
    return Number.isInteger(v) ? BigInt(v) : v;
  }
  return v as CelInput;
}

const referencesOldSelf = (rule: string) => /\boldSelf\b/.test(rule);

function ruleError(p: Path, s: JSONSchemaProps, r: ValidationRule, detail: string): FieldError {
  const at = r.fieldPath ? Path.root(`${String(p)}${r.fieldPath}`) : p;
  const type: FieldErrorType = r.reason ?? 'FieldValueInvalid';
  const badValue = s.type ?? (s['x-kubernetes-int-or-string'] ? 'integer-or-string' : 'object');
  return { type, field: String(at), badValue: type === 'FieldValueInvalid' ? badValue : '', detail };
}

/** The rule's messageExpression where it yields a non-empty string, else its message, else upstream's default. */
function messageOf(r: ValidationRule, bindings: Record<string, CelInput>): string {
  if (r.messageExpression) {
    const program = compileRule(r.messageExpression);
    if (!(program instanceof Error)) {
      try {
        const m = program(bindings);
        if (typeof m === 'string' && m.trim() !== '' && !m.includes('\n')) return m;
      } catch {
        // as upstream: a messageExpression that fails falls back to the message
      }
    }
  }
  return r.message || `failed rule: ${r.rule}`;
}

/**
 * Evaluates every rule of `s` and its descendants against `value` (and `old`, the stored
 * object's value at the same place, for rules that name oldSelf: they run on updates only).
 */
export function validateRules(value: unknown, old: unknown, s: JSONSchemaProps | undefined, p: Path, memo = { self: new WeakMap<object, CelInput>(), old: new WeakMap<object, CelInput>() }): FieldError[] {
  if (!s || value === undefined || value === null) return [];
  const errs: FieldError[] = [];
  for (const r of s['x-kubernetes-validations'] ?? []) {
    const transition = referencesOldSelf(r.rule);
    if (transition && old === undefined && !r.optionalOldSelf) continue;
    const program = compileRule(r.rule);
    if (program instanceof Error) {
      errs.push({ type: 'InternalError', field: String(p), badValue: null, detail: `rule compile error: ${program.message}` });
      continue;
    }
    const bindings: Record<string, CelInput> = { self: toCel(value, s, memo.self) };
    if (transition) bindings.oldSelf = toCel(old, s, memo.old);
    let out: unknown;
    try {
      out = program(bindings);
    } catch (e) {
      out = e;
    }
    if (out === true) continue;
    if (isCelError(out as never) || out instanceof Error) {
      // A runtime error (no such key, a bad index) fails the rule, saying why.
      errs.push(ruleError(p, s, { rule: r.rule }, `${(out as Error).message} evaluating rule: ${r.rule}`));
      continue;
    }
    errs.push(ruleError(p, s, r, messageOf(r, bindings)));
  }
  if (Array.isArray(value) && s.items) {
    const oldList = Array.isArray(old) ? old : undefined;
    value.forEach((v, i) => errs.push(...validateRules(v, oldList?.[i], s.items, p.index(i), memo)));
  } else if (isObject(value)) {
    const oldObj = isObject(old) ? old : undefined;
    const ap = isObject(s.additionalProperties) ? (s.additionalProperties as JSONSchemaProps) : undefined;
    for (const [k, v] of Object.entries(value)) {
      const ps = s.properties?.[k];
      if (ps) errs.push(...validateRules(v, oldObj?.[k], ps, p.child(k), memo));
      else if (ap) errs.push(...validateRules(v, oldObj?.[k], ap, p.key(k), memo));
    }
  }
  return errs;
}
