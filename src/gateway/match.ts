// An HTTPRouteMatch against a request, and the order the spec gives matches across every route
// on a listener (httproute_types.go, HTTPRouteRule.Matches and HTTPRouteSpec.Hostnames):
// the most specific hostname, an Exact path, the longest PathPrefix, a method, most headers, most
// query params, the oldest route, namespace/name, rule order. RegularExpression paths rank after
// Exact and before PathPrefix, longer patterns first (implementation-specific; as Envoy Gateway).
import { compareHostMatch, type HostMatch } from './hostnames.ts';
import { compileRegex, type RouteModel } from './model.ts';
import type { HTTPHeaderMatch, HTTPRouteMatch } from './types.ts';

export interface MatchRequest {
  method: string;
  path: string;
  /** lower-case names; repeated values joined by "," */
  headers: Record<string, string>;
  /** the first value of each parameter */
  query: Map<string, string>;
}

/** Does the path match `prefix` element by element (a trailing "/" of the prefix ignored)? */
export function prefixMatches(prefix: string, path: string): boolean {
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return p === '' || path === p || path.startsWith(`${p}/`);
}

/** The first entry of each name counts (names compared as `fold` makes them). */
function firstOfEach(ms: HTTPHeaderMatch[] | undefined, fold: (n: string) => string): HTTPHeaderMatch[] {
  const seen = new Set<string>();
  return (ms ?? []).filter((m) => !seen.has(fold(m.name)) && seen.add(fold(m.name)));
}

const lower = (n: string) => n.toLowerCase();
const same = (n: string) => n;

function valueMatches(m: HTTPHeaderMatch, v: string | undefined): boolean {
  if (v === undefined) return false;
  return m.type === 'RegularExpression' ? Boolean(compileRegex(m.value)?.test(v)) : v === m.value;
}

export function requestMatches(m: HTTPRouteMatch, r: MatchRequest): boolean {
  const path = m.path!;
  if (path.type === 'Exact' && r.path !== path.value) return false;
  if (path.type === 'PathPrefix' && !prefixMatches(path.value!, r.path)) return false;
  if (path.type === 'RegularExpression' && !compileRegex(path.value!)?.test(r.path)) return false;
  if (m.method !== undefined && m.method !== r.method) return false;
  if (!firstOfEach(m.headers, lower).every((h) => valueMatches(h, r.headers[h.name.toLowerCase()]))) return false;
  return firstOfEach(m.queryParams, same).every((q) => valueMatches(q, r.query.get(q.name)));
}

/** One match of one rule of one route that the request satisfies. */
export interface Candidate {
  route: RouteModel;
  rule: number;
  match: number;
  host: HostMatch;
}

const pathRank = { Exact: 0, RegularExpression: 1, PathPrefix: 2 } as Record<string, number>;

/** Which of two candidates goes first, and the criterion that decided it (negative: `a`). */
export function compareCandidates(a: Candidate, b: Candidate): { order: number; why: string } {
  const ma = a.route.route.spec.rules![a.rule]!.matches![a.match]!;
  const mb = b.route.route.spec.rules![b.rule]!.matches![b.match]!;
  const steps: [() => number, string][] = [
    [() => compareHostMatch(a.host, b.host), 'a more specific hostname'],
    [() => pathRank[ma.path!.type!]! - pathRank[mb.path!.type!]!, 'path match type (Exact, then RegularExpression, then PathPrefix)'],
    [() => mb.path!.value!.length - ma.path!.value!.length, 'a longer path'],
    [() => Number(mb.method !== undefined) - Number(ma.method !== undefined), 'a method match'],
    [() => firstOfEach(mb.headers, lower).length - firstOfEach(ma.headers, lower).length, 'more header matches'],
    [() => firstOfEach(mb.queryParams, same).length - firstOfEach(ma.queryParams, same).length, 'more query param matches'],
    [() => compareTimes(a.route.route.metadata.creationTimestamp, b.route.route.metadata.creationTimestamp), 'an older route (creationTimestamp)'],
    [() => (a.route.key < b.route.key ? -1 : a.route.key > b.route.key ? 1 : 0), 'namespace/name first alphabetically'],
    [() => a.rule - b.rule, 'an earlier rule'],
    [() => a.match - b.match, 'an earlier match in the rule'],
  ];
  for (const [f, why] of steps) {
    const o = f();
    if (o !== 0) return { order: o, why };
  }
  return { order: 0, why: '' };
}

/** Older first; a route without a timestamp ties with any. */
function compareTimes(a: string | undefined, b: string | undefined): number {
  if (!a || !b) return 0;
  const [x, y] = [Date.parse(a), Date.parse(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}
