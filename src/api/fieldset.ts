// Field sets: which fields of an object a manager owns, in the element syntax of
// managedFields.fieldsV1 (f:<field>, k:<list-map key>, v:<set value>, "." for the node
// itself). Used to record managers on every write and to resolve server-side apply.
import { childType, isAtomicMap, isAtomicStruct, listMeta, modelOf } from './patchmeta.ts';
import { isObject, objectMetaFields, userMetadata } from './types.ts';

const SEP = '\u0001';

/** One path per owned field; a path is its elements joined by SEP. */
export type FieldSet = Set<string>;

/** Top-level metadata fields the server owns; no manager ever owns them. */
const serverMetadata = new Set<string>(objectMetaFields.filter((f) => !userMetadata.has(f)));

export interface FieldSetOptions {
  /** include only `status` (a status write) or everything but `status` (a main-resource write) */
  part: 'main' | 'status';
}

/** The fields set in `obj`, walking it with the schema of `model`. */
export function fieldSetOf(obj: Record<string, unknown>, model: string, opts: FieldSetOptions = { part: 'main' }): FieldSet {
  const out: FieldSet = new Set();
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind') continue;
    if ((k === 'status') !== (opts.part === 'status')) continue;
    if (k === 'metadata' && isObject(v)) {
      const meta = Object.fromEntries(Object.entries(v).filter(([mk]) => !serverMetadata.has(mk)));
      if (Object.keys(meta).length) walkStruct(meta, 'V1ObjectMeta', [`f:metadata`], out);
      continue;
    }
    walkField(v, model, k, [`f:${k}`], out);
  }
  return out;
}

function walkStruct(obj: Record<string, unknown>, model: string | undefined, prefix: string[], out: FieldSet): void {
  if (Object.keys(obj).length === 0) {
    out.add(prefix.join(SEP));
    return;
  }
  for (const [k, v] of Object.entries(obj)) walkField(v, model, k, [...prefix, `f:${k}`], out);
}

function walkField(v: unknown, parentModel: string | undefined, field: string, path: string[], out: FieldSet): void {
  const ft = childType(parentModel, field);
  const model = modelOf(ft);
  if (v === null || v === undefined) return;
  if (Array.isArray(v)) {
    const lm = listMeta(parentModel, field);
    if (lm.ssa === 'atomic' || v.length === 0) {
      out.add(path.join(SEP));
      return;
    }
    out.add([...path, '.'].join(SEP));
    for (const item of v) {
      if (lm.ssa === 'set') {
        out.add([...path, `v:${JSON.stringify(item)}`].join(SEP));
      } else if (isObject(item)) {
        const itemPath = [...path, keyElement(item, lm.keys ?? [])];
        out.add([...itemPath, '.'].join(SEP));
        walkStruct(item, model, itemPath, out);
      }
    }
    return;
  }
  if (isObject(v)) {
    if (ft?.t === 'map') {
      if (isAtomicMap(parentModel, field) || Object.keys(v).length === 0) {
        out.add(path.join(SEP));
        return;
      }
      out.add([...path, '.'].join(SEP));
      for (const [k, mv] of Object.entries(v)) {
        const p = [...path, `f:${k}`];
        if (isObject(mv) && model) walkStruct(mv, model, p, out);
        else out.add(p.join(SEP));
      }
      return;
    }
    if (ft?.t === 'any' || (model && isAtomicStruct(model))) {
      out.add(path.join(SEP));
      return;
    }
    walkStruct(v, model, path, out);
    return;
  }
  out.add(path.join(SEP));
}

/** A list-map key field left out of an item takes its default (protocol defaults to TCP). */
export function defaultKeyValue(key: string): unknown {
  return key === 'protocol' ? 'TCP' : undefined;
}

/** k:{"port":80,"protocol":"TCP"} — the list-map key fields of an item, sorted by name. */
function keyElement(item: Record<string, unknown>, keys: string[]): string {
  const k: Record<string, unknown> = {};
  for (const name of [...keys].sort()) {
    const v = item[name] ?? defaultKeyValue(name);
    if (v !== undefined) k[name] = v;
  }
  return `k:${JSON.stringify(k)}`;
}

export function pathElements(p: string): string[] {
  return p.split(SEP);
}

/** Printable form used in apply conflict messages: .spec.ports[port=80,protocol="TCP"].targetPort */
export function pathString(p: string): string {
  let s = '';
  for (const el of pathElements(p)) {
    if (el === '.') continue;
    if (el.startsWith('f:')) s += `.${el.slice(2)}`;
    else if (el.startsWith('k:')) {
      const k = JSON.parse(el.slice(2)) as Record<string, unknown>;
      s += `[${Object.entries(k).map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(',')}]`;
    } else if (el.startsWith('v:')) s += `[=${el.slice(2)}]`;
  }
  return s;
}

// ---- fieldsV1 encoding ----

export function toFieldsV1(set: FieldSet): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of [...set].sort()) {
    let node = root;
    for (const el of pathElements(p)) {
      let next = node[el] as Record<string, unknown> | undefined;
      if (!next) {
        next = {};
        node[el] = next;
      }
      node = next;
    }
  }
  return root;
}

export function fromFieldsV1(tree: Record<string, unknown> | undefined): FieldSet {
  const out: FieldSet = new Set();
  const walk = (node: Record<string, unknown>, prefix: string[]) => {
    for (const [el, child] of Object.entries(node)) {
      const p = [...prefix, el];
      const c = isObject(child) ? child : {};
      if (el === '.' || Object.keys(c).length === 0) out.add(p.join(SEP));
      else walk(c, p);
    }
  };
  if (tree) walk(tree, []);
  return out;
}

// ---- values at paths ----

/** The value at a path (undefined when absent); "." refers to the container itself. */
export function valueAt(obj: unknown, p: string): unknown {
  let cur: unknown = obj;
  for (const el of pathElements(p)) {
    if (el === '.') return cur;
    cur = step(cur, el);
    if (cur === undefined) return undefined;
  }
  return cur;
}

function step(cur: unknown, el: string): unknown {
  if (el.startsWith('f:')) return isObject(cur) ? cur[el.slice(2)] : undefined;
  if (!Array.isArray(cur)) return undefined;
  if (el.startsWith('k:')) {
    const key = JSON.parse(el.slice(2)) as Record<string, unknown>;
    return cur.find((item) => isObject(item) && Object.entries(key).every(([n, v]) => sameValue(item[n] ?? defaultKeyValue(n), v)));
  }
  if (el.startsWith('v:')) {
    const v = JSON.parse(el.slice(2)) as unknown;
    return cur.find((item) => sameValue(item, v));
  }
  return undefined;
}

/** Removes the field at a path from `obj` in place. */
export function removeAt(obj: Record<string, unknown>, p: string): void {
  const els = pathElements(p).filter((e) => e !== '.');
  let cur: unknown = obj;
  for (let i = 0; i < els.length - 1; i++) {
    cur = step(cur, els[i]!);
    if (cur === undefined) return;
  }
  const last = els[els.length - 1]!;
  if (last.startsWith('f:') && isObject(cur)) delete cur[last.slice(2)];
  else if (Array.isArray(cur)) {
    const target = step(cur, last);
    const idx = cur.indexOf(target);
    if (idx >= 0) cur.splice(idx, 1);
  }
}

export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => sameValue(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => sameValue(ao[k], bo[k]));
}

/** Paths whose values differ between two objects (present in either). */
export function changedPaths(before: FieldSet, after: FieldSet, oldObj: unknown, newObj: unknown): FieldSet {
  const out: FieldSet = new Set();
  for (const p of after) {
    if (p.endsWith(`${SEP}.`)) {
      if (!before.has(p)) out.add(p);
      continue;
    }
    if (!before.has(p) || !sameValue(valueAt(oldObj, p), valueAt(newObj, p))) out.add(p);
  }
  for (const p of before) if (!after.has(p)) out.add(p);
  return out;
}
