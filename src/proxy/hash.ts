// The hash both rule backends name their per-service chains with: the first characters of
// base32 (RFC 4648 alphabet) of sha256 of a string, memoized because every sync names the
// same chains again.
import { createHash } from 'node:crypto';

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function encodeBase32(buf: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of buf) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

const caches = { 8: new Map<string, string>(), 16: new Map<string, string>() };

/** The first `chars` characters of base32(sha256(s)). */
export function base32Sha256Prefix(s: string, chars: 8 | 16): string {
  const cache = caches[chars];
  let h = cache.get(s);
  if (h === undefined) {
    h = encodeBase32(createHash('sha256').update(s, 'utf8').digest().subarray(0, (chars / 8) * 5));
    if (cache.size > 500_000) cache.clear();
    cache.set(s, h);
  }
  return h;
}
