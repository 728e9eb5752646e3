// JSON merge patch (RFC 7396) and JSON patch (RFC 6902).
import jsonpatch from 'fast-json-patch';
import { isObject } from '../types.ts';
import { PatchError } from './strategic.ts';

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = mergePatch(result[k], v);
  }
  return result;
}

/** Applies RFC 6902 operations to a copy of `doc`; errors read like upstream's json-patch library. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  const copy = structuredClone(doc);
  try {
    return jsonpatch.applyPatch(copy, ops as jsonpatch.Operation[], true, true, true).newDocument;
  } catch (e) {
    const err = e as { name?: string; operation?: { op?: string; path?: string }; message?: string };
    const op = err.operation?.op ?? 'unknown';
    const p = err.operation?.path ?? '';
    switch (err.name) {
      case 'TEST_OPERATION_FAILED':
        throw new PatchError('testing value ' + p + ' failed: test failed');
      case 'OPERATION_PATH_UNRESOLVABLE':
      case 'OPERATION_PATH_CANNOT_ADD':
        throw new PatchError(`${op} operation does not apply: doc is missing path: "${p}": missing value`);
      case 'OPERATION_OP_INVALID':
        throw new PatchError(`Unexpected kind: ${op}`);
      default:
        throw new PatchError(String(err.message ?? e).split('\n')[0]!);
    }
  }
}
