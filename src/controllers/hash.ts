// The names controllers derive from a pod template, as kube-controller-manager derives them:
// ComputeHash (pkg/controller/controller_utils.go) is FNV-32a over the template (plus the
// collision count as 8 little-endian bytes when there is one), its decimal value then encoded
// with apimachinery's rand.SafeEncodeString. Upstream feeds the hash a dump of the Go struct;
// podpath feeds it the template's JSON with sorted keys, so the values differ from upstream's
// while their form — `api-server-5d8c7b6f9` — is the same.
import type { PodTemplateSpec } from '../api/types.ts';

/** apimachinery's rand alphabet: no vowels, no 0, 1 or 3, so generated names spell no words. */
export const safeAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

/** rand.SafeEncodeString: each byte of `s` mapped to alphabet[byte % 27]. Decimal digits become 4–9 and b, c, d, f. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (const b of Buffer.from(s)) out += safeAlphabet[b % safeAlphabet.length];
  return out;
}

/** FNV-32a of `bytes`, continuing from `h` (the offset basis by default). */
export function fnv32a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** JSON with object keys sorted at every level: the same template always gives the same text. */
export function canonicalJSON(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJSON(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** controller.ComputeHash: the pod-template-hash of a Deployment's ReplicaSet, a DaemonSet's controller-revision-hash. */
export function computeHash(template: PodTemplateSpec | undefined, collisionCount?: number): string {
  let h = fnv32a(Buffer.from(canonicalJSON(template ?? {})));
  if (collisionCount !== undefined) {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(collisionCount >>> 0, 0);
    h = fnv32a(b, h);
  }
  return safeEncodeString(String(h));
}
