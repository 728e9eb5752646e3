// Hostnames as the Gateway API reads them: `*.example.com` is a suffix match of one or more
// labels (not example.com itself), names compare case-insensitively, and a Host header's port
// is ignored.

/** A Host header's name: without its port and a trailing dot, in lower case. */
export function hostOf(header: string): string {
  let h = header.trim().toLowerCase();
  if (h.startsWith('[')) h = h.slice(0, h.indexOf(']') + 1);
  else if (/:\d*$/.test(h)) h = h.slice(0, h.lastIndexOf(':'));
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

const isWildcard = (h: string) => h.startsWith('*.');

/** Does the (possibly wildcard) `pattern` match the concrete name `host`? */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  if (!isWildcard(p)) return p === host;
  const suffix = p.slice(1); // ".example.com"
  return host.length > suffix.length && host.endsWith(suffix);
}

/**
 * The names under which a route serves on a listener: the route's hostnames that intersect the
 * listener's (a route wildcard inside the listener's name becomes the listener's name, a
 * narrower one stays), the listener's own when the route names none. `undefined` means every
 * name (neither names one); `[]` means no intersection.
 */
export function intersect(listener: string | undefined, route: string[] | undefined): string[] | undefined {
  const rs = (route ?? []).map((h) => h.toLowerCase());
  const l = listener?.toLowerCase();
  if (!l) return rs.length ? rs : undefined;
  if (!rs.length) return [l];
  const out: string[] = [];
  for (const r of rs) {
    let h: string | undefined;
    if (r === l) h = r;
    else if (!isWildcard(r)) h = hostMatches(l, r) ? r : undefined;
    else if (!isWildcard(l)) h = hostMatches(r, l) ? l : undefined;
    // both wildcards: the narrower one, when one lies inside the other
    else if (r.endsWith(l.slice(1))) h = r;
    else if (l.endsWith(r.slice(1))) h = l;
    if (h && !out.includes(h)) out.push(h);
  }
  return out;
}

/**
 * How specifically `names` (undefined: every name) match `host`, as the spec ranks routes: the
 * characters of a matching non-wildcard name first, then of any matching name. Undefined when none
 * matches.
 */
export interface HostMatch {
  /** the name that matched, or "*" for every name */
  name: string;
  exactChars: number;
  chars: number;
}

export function bestHostMatch(names: string[] | undefined, host: string): HostMatch | undefined {
  if (names === undefined) return { name: '*', exactChars: 0, chars: 0 };
  let best: HostMatch | undefined;
  for (const n of names) {
    if (!hostMatches(n, host)) continue;
    const m = { name: n, exactChars: isWildcard(n) ? 0 : n.length, chars: n.length };
    if (!best || compareHostMatch(m, best) < 0) best = m;
  }
  return best;
}

/** Negative when `a` is the more specific. */
export function compareHostMatch(a: HostMatch, b: HostMatch): number {
  return b.exactChars - a.exactChars || b.chars - a.chars;
}
