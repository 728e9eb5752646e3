// The pods/ephemeralcontainers subresource as API servers before 1.22 served it: an
// `EphemeralContainers` object of core/v1 (the pod's metadata and its ephemeralContainers list)
// rather than the Pod. kubectl before 1.22 (Debian's 1.20 among them) GETs that form, appends
// its debugging container and PUTs it back; since 1.22 the subresource reads and writes the
// Pod. Both are served: a write whose body is of kind EphemeralContainers (or a patch of that
// form's fields) is taken in that form, and a client of a release before 1.22 — its
// User-Agent's version — reads and is answered in it.
import type { KubeObject, Pod } from '../api/types.ts';
import type { RawBody } from './decode.ts';
import { mediaType } from './decode.ts';

/** The EphemeralContainers view of a pod (1.20's registry: the pod's ObjectMeta and spec.ephemeralContainers). */
export function ephemeralContainersOf(pod: Pod): KubeObject {
  return { kind: 'EphemeralContainers', apiVersion: 'v1', metadata: pod.metadata, ephemeralContainers: pod.spec.ephemeralContainers ?? null } as unknown as KubeObject;
}

/** Whether a User-Agent names a client of a release before 1.22 (kubectl/v1.20.2 (linux/amd64) kubernetes/…). */
export function isLegacyEphemeralClient(userAgent: string | undefined): boolean {
  const m = /^[^\s/]+\/v1\.(\d+)\./.exec(userAgent ?? '');
  return m !== null && Number(m[1]) < 22;
}

type Json = Record<string, unknown>;

function parse(raw: RawBody): unknown {
  try {
    return JSON.parse(raw.text);
  } catch {
    return undefined;
  }
}

/**
 * A PUT body of kind EphemeralContainers as the Pod the subresource takes (only its metadata
 * and spec.ephemeralContainers are read); undefined when the body is not of that kind.
 */
export function podBodyOfEphemeralContainers(raw: RawBody): RawBody | undefined {
  if (mediaType(raw.contentType) !== 'application/json' && mediaType(raw.contentType) !== 'application/yaml') return undefined;
  const body = parse(raw) as Json | undefined;
  if (!body || body.kind !== 'EphemeralContainers') return undefined;
  const pod = { kind: 'Pod', apiVersion: body.apiVersion ?? 'v1', metadata: body.metadata ?? {}, spec: { ephemeralContainers: body.ephemeralContainers ?? [] } };
  const text = JSON.stringify(pod);
  return { text, contentType: 'application/json', bytes: Buffer.from(text) };
}

/**
 * A patch of the EphemeralContainers form as a patch of the Pod: its top-level
 * ephemeralContainers moved under spec (JSON Patch paths likewise); undefined when the patch
 * is not of that form.
 */
export function podPatchOfEphemeralContainers(raw: RawBody): RawBody | undefined {
  const body = parse(raw);
  let out: unknown;
  if (Array.isArray(body)) {
    const ops = body as Json[];
    if (!ops.some((op) => typeof op.path === 'string' && /^\/ephemeralContainers(\/|$)/.test(op.path))) return undefined;
    const move = (p: unknown) => (typeof p === 'string' ? p.replace(/^\/ephemeralContainers(?=\/|$)/, '/spec/ephemeralContainers') : p);
    out = ops.map((op) => ({ ...op, path: move(op.path), ...(op.from !== undefined ? { from: move(op.from) } : {}) }));
  } else if (body && typeof body === 'object' && 'ephemeralContainers' in body) {
    const { ephemeralContainers, kind: _k, apiVersion: _a, ...rest } = body as Json;
    out = { ...rest, spec: { ephemeralContainers } };
  } else return undefined;
  const text = JSON.stringify(out);
  return { text, contentType: raw.contentType, bytes: Buffer.from(text) };
}
