// A custom object against its CRD version's structural schema, as the apiextensions-apiserver
// does it: pruning of fields the schema does not know, defaulting from `default`, and value
// validation with kube-openapi's messages mapped to field errors (apiserver/validation).
import { field, Path, type FieldError } from '../errors.ts';
import { isObject } from '../types.ts';
import type { JSONSchemaProps } from './types.ts';

const preserves = (s: JSONSchemaProps) => s['x-kubernetes-preserve-unknown-fields'] === true;

/** The schema of a map's values: additionalProperties as a schema, or `true` (anything). */
function valuesSchema(s: JSONSchemaProps): JSONSchemaProps | true | undefined {
  const ap = s.additionalProperties;
  if (ap === true) return true;
  if (isObject(ap)) return ap as JSONSchemaProps;
  return undefined;
}

/**
 * Drops what the schema does not declare (objects without x-kubernetes-preserve-unknown-fields),
 * in place; returns the dropped fields' paths (for the unknown-field warnings). At the root
 * and in embedded resources, apiVersion, kind and metadata always stay.
 */
export function prune(value: unknown, s: JSONSchemaProps | undefined, path = '', root = true): string[] {
  const dropped: string[] = [];
  if (!s) return dropped;
  if (Array.isArray(value)) {
    if (s.items) value.forEach((v, i) => dropped.push(...prune(v, s.items, `${path}[${i}]`, false)));
    return dropped;
  }
  if (!isObject(value)) return dropped;
  const embedded = root || s['x-kubernetes-embedded-resource'] === true;
  const vals = valuesSchema(s);
  for (const k of Object.keys(value)) {
    const p = path ? `${path}.${k}` : k;
    if (embedded && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) continue;
    const ps = s.properties?.[k];
    if (ps) dropped.push(...prune(value[k], ps, p, false));
    else if (vals === true) continue;
    else if (vals) dropped.push(...prune(value[k], vals, p, false));
    else if (!preserves(s)) {
      delete value[k];
      dropped.push(p);
    }
  }
  return dropped;
}

/** Fills in `default`s where a field is missing (or null and not nullable), in place, top down. */
export function applySchemaDefaults(value: unknown, s: JSONSchemaProps | undefined): void {
  if (!s) return;
  if (Array.isArray(value)) {
    if (s.items) for (const v of value) applySchemaDefaults(v, s.items);
    return;
  }
  if (!isObject(value)) return;
  for (const [k, ps] of Object.entries(s.properties ?? {})) {
    if (ps.default !== undefined && (value[k] === undefined || (value[k] === null && !ps.nullable))) value[k] = structuredClone(ps.default);
    if (value[k] !== undefined) applySchemaDefaults(value[k], ps);
  }
  const vals = valuesSchema(s);
  if (vals && vals !== true) for (const k of Object.keys(value)) if (!s.properties?.[k]) applySchemaDefaults(value[k], vals);
}

/** The JSON type name of a value as kube-openapi reports it in a type error. */
function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  return 'object';
}

function hasType(v: unknown, t: string): boolean {
  switch (t) {
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return true;
  }
}

/** Go's %v of a number in kube-openapi's messages (float64: 1, 1.5, 1e+21). */
const num = (n: number) => (Math.abs(n) >= 1e21 ? n.toExponential().replace('e+', 'e+') : String(n));

/** The field path in kube-openapi's "<path> in body ..." messages. */
const inBody = (p: Path) => `${String(p)} in body`;

/**
 * Validates `value` against `s`; errors are the apiextensions-apiserver's field errors with
 * kube-openapi's detail texts (`spec.replicas in body must be of type integer: "string"`).
 */
export function validateValue(value: unknown, s: JSONSchemaProps | undefined, p: Path): FieldError[] {
  if (!s) return [];
  const errs: FieldError[] = [];
  if (value === null) {
    if (s.nullable || !s.type) return [];
    return [{ type: 'FieldValueTypeInvalid', field: String(p), badValue: 'null', detail: `${inBody(p)} must be of type ${s.type}: "null"` }];
  }
  if (s['x-kubernetes-int-or-string']) {
    if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) {
      return [{ type: 'FieldValueTypeInvalid', field: String(p), badValue: typeName(value), detail: `${inBody(p)} must be of type integer,string: "${typeName(value)}"` }];
    }
  } else if (s.type && !hasType(value, s.type)) {
    return [{ type: 'FieldValueTypeInvalid', field: String(p), badValue: typeName(value), detail: `${inBody(p)} must be of type ${s.type}: "${typeName(value)}"` }];
  }
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errs.push(field.notSupported(p, value, s.enum.map((e) => (typeof e === 'string' ? e : JSON.stringify(e)))));
  }
  if (typeof value === 'string') {
    const len = [...value].length;
    if (s.maxLength !== undefined && len > s.maxLength) errs.push({ type: 'FieldValueTooLong', field: String(p), badValue: value, detail: `may not be more than ${s.maxLength} ${s.maxLength === 1 ? 'byte' : 'bytes'}` });
    if (s.minLength !== undefined && len < s.minLength) errs.push(field.invalid(p, value, `${inBody(p)} should be at least ${s.minLength} chars long`));
    if (s.pattern !== undefined && !patternOf(s.pattern).test(value)) errs.push(field.invalid(p, value, `${inBody(p)} should match '${s.pattern}'`));
  }
  if (typeof value === 'number') {
    if (s.maximum !== undefined && (s.exclusiveMaximum ? value >= s.maximum : value > s.maximum)) {
      errs.push(field.invalid(p, value, `${inBody(p)} should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${num(s.maximum)}`));
    }
    if (s.minimum !== undefined && (s.exclusiveMinimum ? value <= s.minimum : value < s.minimum)) {
      errs.push(field.invalid(p, value, `${inBody(p)} should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${num(s.minimum)}`));
    }
    if (s.multipleOf !== undefined && s.multipleOf > 0 && !Number.isInteger(value / s.multipleOf)) {
      errs.push(field.invalid(p, value, `${inBody(p)} should be a multiple of ${num(s.multipleOf)}`));
    }
  }
  if (Array.isArray(value)) {
    if (s.maxItems !== undefined && value.length > s.maxItems) errs.push(field.tooMany(p, value.length, s.maxItems));
    if (s.minItems !== undefined && value.length < s.minItems) errs.push(field.invalid(p, value.length, `${inBody(p)} should have at least ${s.minItems} items`));
    const lt = s['x-kubernetes-list-type'];
    if (lt === 'set' || lt === 'map') errs.push(...listUniqueness(value, s, p));
    if (s.items) value.forEach((v, i) => errs.push(...validateValue(v, s.items, p.index(i))));
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (s.maxProperties !== undefined && keys.length > s.maxProperties) errs.push(field.tooMany(p, keys.length, s.maxProperties));
    if (s.minProperties !== undefined && keys.length < s.minProperties) errs.push(field.invalid(p, keys.length, `${inBody(p)} should have at least ${s.minProperties} properties`));
    for (const r of s.required ?? []) if (value[r] === undefined) errs.push(field.required(p.child(r)));
    const vals = valuesSchema(s);
    for (const k of keys) {
      const ps = s.properties?.[k];
      if (ps) errs.push(...validateValue(value[k], ps, p.child(k)));
      else if (vals && vals !== true) errs.push(...validateValue(value[k], vals, p.key(k)));
    }
  }
  for (const sub of s.allOf ?? []) errs.push(...validateValue(value, sub, p));
  if (s.anyOf?.length && !s.anyOf.some((sub) => validateValue(value, sub, p).length === 0)) {
    errs.push(field.invalid(p, value, `${inBody(p)} must validate at least one schema (anyOf)`));
  }
  if (s.oneOf?.length && s.oneOf.filter((sub) => validateValue(value, sub, p).length === 0).length !== 1) {
    errs.push(field.invalid(p, value, `${inBody(p)} must validate one and only one schema (oneOf)`));
  }
  if (s.not && validateValue(value, s.not, p).length === 0) errs.push(field.invalid(p, value, `${inBody(p)} must not validate the schema (not)`));
  return errs;
}

/** x-kubernetes-list-type set (no duplicates) and map (no two items with the same keys). */
function listUniqueness(list: unknown[], s: JSONSchemaProps, p: Path): FieldError[] {
  const seen = new Set<string>();
  const errs: FieldError[] = [];
  const keys = s['x-kubernetes-list-map-keys'] ?? [];
  list.forEach((item, i) => {
    const id = s['x-kubernetes-list-type'] === 'map' && isObject(item) ? JSON.stringify(keys.map((k) => item[k] ?? null)) : JSON.stringify(item);
    if (seen.has(id)) errs.push(field.duplicate(p.index(i), s['x-kubernetes-list-type'] === 'map' && isObject(item) ? Object.fromEntries(keys.map((k) => [k, item[k]])) : item));
    seen.add(id);
  });
  return errs;
}

const patterns = new Map<string, RegExp>();

/** ECMA-262 patterns, as OpenAPI says (upstream compiles them with Go's RE2, mostly the same). */
export function patternOf(src: string): RegExp {
  let re = patterns.get(src);
  if (!re) {
    re = new RegExp(src, 'u');
    patterns.set(src, re);
  }
  return re;
}
