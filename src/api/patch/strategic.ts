// Strategic merge patch, applied on the server as kube-apiserver applies it
// (kubernetes/community sig-api-machinery/strategic-merge-patch.md): maps merge, lists
// merge by their patch merge key or as sets of primitives or are replaced, and the
// directives $patch, $retainKeys, $setElementOrder/<list> and
// $deleteFromPrimitiveList/<list> steer the merge.
import { childType, listMeta, modelOf, type ListMeta } from '../patchmeta.ts';
import { isObject } from '../types.ts';

export class PatchError extends Error {}

type Obj = Record<string, unknown>;

const setOrderPrefix = '$setElementOrder/';
const deleteFromPrimitivePrefix = '$deleteFromPrimitiveList/';

/** Applies a strategic merge patch to `original` (not modified) of the given model. */
export function strategicMerge(original: unknown, patch: unknown, model: string | undefined): unknown {
  if (!isObject(patch)) throw new PatchError('strategic merge patch must be a JSON object');
  return mergeMap(isObject(original) ? original : {}, patch, model);
}

function mergeMap(original: Obj, patch: Obj, model: string | undefined): Obj | undefined {
  const directive = patch['$patch'];
  if (directive === 'delete') return undefined;
  if (directive === 'replace') return stripDirectives(withoutKey(patch, '$patch'), model) as Obj;
  if (directive !== undefined && directive !== 'merge') {
    throw new PatchError(`unknown patch type: ${String(directive)} in map: ${JSON.stringify(patch)}`);
  }

  let result: Obj = { ...original };
  const retain = patch['$retainKeys'];
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw new PatchError('$retainKeys must be a list of strings');
    const keep = new Set(retain.map(String));
    result = Object.fromEntries(Object.entries(result).filter(([k]) => keep.has(k)));
  }

  for (const [key, pv] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys') continue;
    if (key.startsWith(setOrderPrefix) || key.startsWith(deleteFromPrimitivePrefix)) continue;
    if (key.startsWith('$')) throw new PatchError(`unknown directive ${key}`);
    const ft = childType(model, key);
    const childModel = modelOf(ft);
    if (pv === null) {
      delete result[key];
      continue;
    }
    const ov = result[key];
    if (isObject(pv)) {
      const merged = mergeMap(isObject(ov) ? ov : {}, pv, childModel);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    } else if (Array.isArray(pv)) {
      const merged = mergeList(Array.isArray(ov) ? ov : [], pv, listMeta(model, key), childModel, patch[setOrderPrefix + key]);
      result[key] = merged;
    } else {
      result[key] = pv;
    }
  }

  // Lists only named in directives (deletions and orderings without new items).
  for (const [key, pv] of Object.entries(patch)) {
    if (key.startsWith(deleteFromPrimitivePrefix)) {
      const field = key.slice(deleteFromPrimitivePrefix.length);
      if (!Array.isArray(pv)) throw new PatchError(`${key} must be a list`);
      const cur = result[field];
      if (Array.isArray(cur)) result[field] = cur.filter((v) => !pv.some((d) => d === v));
    } else if (key.startsWith(setOrderPrefix)) {
      const field = key.slice(setOrderPrefix.length);
      if (!Array.isArray(pv)) throw new PatchError(`${key} must be a list`);
      if (patch[field] === undefined && Array.isArray(result[field])) {
        result[field] = orderBy(result[field] as unknown[], pv, listMeta(model, field));
      }
    }
  }
  return result;
}

function mergeList(original: unknown[], patch: unknown[], meta: ListMeta, itemModel: string | undefined, order: unknown): unknown[] {
  if (meta.strategy !== 'merge') return patch.map((v) => stripDirectives(v, itemModel));

  // A {"$patch": "replace"} element replaces the whole list with the other elements.
  if (patch.some((v) => isObject(v) && v['$patch'] === 'replace')) {
    return patch.filter((v) => !(isObject(v) && v['$patch'] === 'replace')).map((v) => stripDirectives(v, itemModel));
  }

  let result: unknown[];
  if (meta.mergeKey) {
    const key = meta.mergeKey;
    result = original.map((v) => v);
    for (const pv of patch) {
      if (!isObject(pv)) throw new PatchError(`the list of maps to merge must contain maps, got ${JSON.stringify(pv)}`);
      if (!(key in pv)) throw new PatchError(`map: ${JSON.stringify(pv)} does not contain declared merge key: ${key}`);
      const idx = result.findIndex((ov) => isObject(ov) && ov[key] === pv[key]);
      if (pv['$patch'] === 'delete') {
        if (idx >= 0) result.splice(idx, 1);
        continue;
      }
      if (idx >= 0) {
        const merged = mergeMap(result[idx] as Obj, pv, itemModel);
        if (merged === undefined) result.splice(idx, 1);
        else result[idx] = merged;
      } else {
        const added = mergeMap({}, pv, itemModel);
        if (added !== undefined) result.push(added);
      }
    }
  } else {
    // A merged list of primitives is a set union.
    result = [...original];
    for (const pv of patch) if (!result.some((v) => v === pv)) result.push(pv);
  }
  return Array.isArray(order) ? orderBy(result, order, meta) : result;
}

/** Orders a merged list by a $setElementOrder list; items it does not name keep their order after them. */
function orderBy(items: unknown[], order: unknown[], meta: ListMeta): unknown[] {
  const keyOf = (v: unknown): unknown => (meta.mergeKey && isObject(v) ? v[meta.mergeKey] : v);
  const ranked = new Map<unknown, number>();
  order.forEach((o, i) => ranked.set(keyOf(o), i));
  const named = items.filter((v) => ranked.has(keyOf(v))).sort((a, b) => ranked.get(keyOf(a))! - ranked.get(keyOf(b))!);
  const rest = items.filter((v) => !ranked.has(keyOf(v)));
  return [...named, ...rest];
}

/** A patch value placed where nothing existed: directives apply against nothing. */
function stripDirectives(v: unknown, model: string | undefined): unknown {
  if (isObject(v)) return mergeMap({}, withoutKey(v, '$patch'), model) ?? {};
  if (Array.isArray(v)) return v.map((x) => stripDirectives(x, model));
  return v;
}

function withoutKey(o: Obj, key: string): Obj {
  const { [key]: _drop, ...rest } = o;
  return rest;
}
