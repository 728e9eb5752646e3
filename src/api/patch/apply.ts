// Server-side apply and managedFields bookkeeping. Every write records which manager set
// which fields (operation Update); an apply (operation Apply) merges the applied
// configuration into the live object, fails on fields another manager set to a different
// value unless forced, and removes fields the manager applied before but no longer does.
import { ApiError, goQuote } from '../errors.ts';
import {
  changedPaths,
  defaultKeyValue,
  fieldSetOf,
  fromFieldsV1,
  pathString,
  removeAt,
  sameValue,
  toFieldsV1,
  valueAt,
  type FieldSet,
} from '../fieldset.ts';
import { childType, isAtomicMap, isAtomicStruct, listMeta, modelOf } from '../patchmeta.ts';
import { isObject, type KubeObject, type ManagedFieldsEntry } from '../types.ts';

type Obj = Record<string, unknown>;

export interface ManagerContext {
  manager: string;
  apiVersion: string;
  model: string;
  /** the subresource written through (ephemeralcontainers writes fields of the main part) */
  subresource?: 'status' | 'ephemeralcontainers';
  now: string;
}

function entryMatches(e: ManagedFieldsEntry, manager: string, op: 'Apply' | 'Update', sub: string | undefined): boolean {
  return e.manager === manager && e.operation === op && (e.subresource ?? undefined) === sub;
}

function makeEntry(ctx: ManagerContext, op: 'Apply' | 'Update', set: FieldSet): ManagedFieldsEntry {
  const e: ManagedFieldsEntry = {
    manager: ctx.manager,
    operation: op,
    apiVersion: ctx.apiVersion,
    time: ctx.now,
    fieldsType: 'FieldsV1',
    fieldsV1: toFieldsV1(set),
  };
  if (ctx.subresource) e.subresource = ctx.subresource;
  return e;
}

/** Records a non-apply write by `ctx.manager` in newObj.metadata.managedFields. */
export function recordUpdate(oldObj: KubeObject | undefined, newObj: KubeObject, ctx: ManagerContext): void {
  const part = ctx.subresource === 'status' ? 'status' : 'main';
  const after = fieldSetOf(newObj, ctx.model, { part });
  const changed = oldObj ? changedPaths(fieldSetOf(oldObj, ctx.model, { part }), after, oldObj, newObj) : after;
  const entries = (oldObj?.metadata.managedFields ?? newObj.metadata.managedFields ?? []).map((e) => ({ ...e }));
  if (changed.size === 0) {
    if (entries.length) newObj.metadata.managedFields = entries;
    else delete newObj.metadata.managedFields;
    return;
  }
  const kept: ManagedFieldsEntry[] = [];
  for (const e of entries) {
    if (entryMatches(e, ctx.manager, 'Update', ctx.subresource)) continue;
    const owned = fromFieldsV1(e.fieldsV1);
    for (const p of changed) owned.delete(p);
    // Fields no longer present in the object are owned by nobody.
    for (const p of owned) if (!after.has(p) && (e.subresource ?? 'main') === part) owned.delete(p);
    if (owned.size) kept.push({ ...e, fieldsV1: toFieldsV1(owned) });
  }
  const mine = entries.find((e) => entryMatches(e, ctx.manager, 'Update', ctx.subresource));
  const myFields = mine ? fromFieldsV1(mine.fieldsV1) : new Set<string>();
  for (const p of changed) if (after.has(p)) myFields.add(p);
  for (const p of myFields) if (!after.has(p)) myFields.delete(p);
  if (myFields.size) kept.push(makeEntry(ctx, 'Update', myFields));
  newObj.metadata.managedFields = kept;
  if (!kept.length) delete newObj.metadata.managedFields;
}

export interface ApplyOptions {
  force: boolean;
}

/**
 * Merges `applied` into `live` (or creates from it when live is undefined), owning the
 * applied fields for ctx.manager. Throws a 409 Conflict listing the contested fields.
 */
export function serverSideApply(live: KubeObject | undefined, applied: KubeObject, ctx: ManagerContext, opts: ApplyOptions, groupResource: { group: string; resource: string }): KubeObject {
  const appliedSet = fieldSetOf(applied, ctx.model);
  if (!live) {
    const created = structuredClone(applied);
    created.metadata.managedFields = [makeEntry(ctx, 'Apply', appliedSet)];
    return created;
  }

  const entries = (live.metadata.managedFields ?? []).map((e) => ({ ...e }));
  const conflicts = new Map<string, string[]>();
  const others = entries.filter((e) => !entryMatches(e, ctx.manager, 'Apply', undefined) && (e.subresource ?? undefined) === undefined);
  for (const e of others) {
    const owned = fromFieldsV1(e.fieldsV1);
    for (const p of appliedSet) {
      if (p.endsWith('\u0001.') || !owned.has(p)) continue;
      if (sameValue(valueAt(applied, p), valueAt(live, p))) continue;
      const list = conflicts.get(e.manager ?? '') ?? [];
      list.push(p);
      conflicts.set(e.manager ?? '', list);
    }
  }
  if (conflicts.size && !opts.force) throw conflictError(conflicts, entries);

  const merged = mergeStruct(live, applied, ctx.model) as KubeObject;

  // Fields this manager applied before and dropped now go away, unless someone else owns them.
  const prev = entries.find((e) => entryMatches(e, ctx.manager, 'Apply', undefined));
  const prevSet = prev ? fromFieldsV1(prev.fieldsV1) : new Set<string>();
  const ownedByOthers = new Set<string>();
  for (const e of others) for (const p of fromFieldsV1(e.fieldsV1)) if (!conflicts.get(e.manager ?? '')?.includes(p)) ownedByOthers.add(p);
  const stale = [...prevSet].filter((p) => !appliedSet.has(p) && !ownedByOthers.has(p));
  stale.sort((a, b) => b.length - a.length);
  for (const p of stale) {
    if (p.endsWith('\u0001.')) {
      const container = valueAt(merged, p);
      if ((Array.isArray(container) && container.length === 0) || (isObject(container) && Object.keys(container).length === 0)) removeAt(merged, p);
    } else {
      removeAt(merged, p);
    }
  }

  const next: ManagedFieldsEntry[] = [];
  for (const e of entries) {
    if (entryMatches(e, ctx.manager, 'Apply', undefined)) continue;
    const lost = conflicts.get(e.manager ?? '');
    if (lost && (e.subresource ?? undefined) === undefined) {
      const owned = fromFieldsV1(e.fieldsV1);
      for (const p of lost) owned.delete(p);
      if (owned.size) next.push({ ...e, fieldsV1: toFieldsV1(owned) });
    } else next.push(e);
  }
  next.push(makeEntry(ctx, 'Apply', appliedSet));
  merged.metadata.managedFields = next;
  return merged;
}

function conflictError(conflicts: Map<string, string[]>, entries: ManagedFieldsEntry[]): ApiError {
  const total = [...conflicts.values()].reduce((n, l) => n + l.length, 0);
  const lines: string[] = [];
  const causes: { reason: string; message: string; field: string }[] = [];
  for (const [manager, paths] of conflicts) {
    const apiVersion = entries.find((e) => e.manager === manager)?.apiVersion ?? '';
    for (const p of paths) causes.push({ reason: 'FieldManagerConflict', message: `conflict with ${goQuote(manager)} using ${apiVersion}`, field: pathString(p) });
    if (paths.length === 1) lines.push(`conflict with ${goQuote(manager)} using ${apiVersion}: ${pathString(paths[0]!)}`);
    else lines.push(`conflicts with ${goQuote(manager)} using ${apiVersion}:\n${paths.map((p) => `- ${pathString(p)}`).join('\n')}`);
  }
  const head = `Apply failed with ${total} conflict${total === 1 ? '' : 's'}: `;
  // As apimachinery's NewApplyConflict: the details hold the causes alone, no name or kind.
  return new ApiError(409, 'Conflict', head + lines.join('\n'), { causes });
}

function mergeStruct(live: unknown, applied: Obj, model: string | undefined): Obj {
  const result: Obj = isObject(live) ? { ...live } : {};
  for (const [k, av] of Object.entries(applied)) {
    if (av === null || av === undefined) {
      delete result[k];
      continue;
    }
    result[k] = mergeField(result[k], av, model, k);
  }
  return result;
}

function mergeField(lv: unknown, av: unknown, parentModel: string | undefined, field: string): unknown {
  const ft = childType(parentModel, field);
  const model = modelOf(ft);
  if (Array.isArray(av)) {
    const lm = listMeta(parentModel, field);
    const live = Array.isArray(lv) ? lv : [];
    if (lm.ssa === 'atomic') return structuredClone(av);
    if (lm.ssa === 'set') return [...live, ...av.filter((x) => !live.some((y) => sameValue(x, y)))];
    const keys = lm.keys ?? [];
    const result = live.map((x) => x);
    for (const item of av) {
      if (!isObject(item)) continue;
      const idx = result.findIndex((x) => isObject(x) && keys.every((key) => sameValue(x[key] ?? defaultKeyValue(key), item[key] ?? defaultKeyValue(key))));
      if (idx >= 0) result[idx] = mergeStruct(result[idx], item, model);
      else result.push(structuredClone(item));
    }
    return result;
  }
  if (isObject(av)) {
    if (ft?.t === 'map') {
      if (isAtomicMap(parentModel, field)) return structuredClone(av);
      const result: Obj = isObject(lv) ? { ...lv } : {};
      for (const [k, v] of Object.entries(av)) result[k] = isObject(v) && model ? mergeStruct(result[k], v, model) : structuredClone(v);
      return result;
    }
    if (ft?.t === 'any' || (model && isAtomicStruct(model))) return structuredClone(av);
    return mergeStruct(lv, av, model);
  }
  return av;
}
