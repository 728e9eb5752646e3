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

/** A match as a person reads it: "PathPrefix /v2, method GET, header version: two, query animal=whale". */
export function matchText(m: HTTPRouteMatch): string {
  const parts = [`${m.path!.type} ${m.path!.value}`];
  if (m.method !== undefined) parts.push(`method ${m.method}`);
  for (const h of firstOfEach(m.headers, lower)) parts.push(`header ${h.name}${h.type === 'RegularExpression' ? ' ~ ' : ': '}${h.value}`);
  for (const q of firstOfEach(m.queryParams, same)) parts.push(`query ${q.name}${q.type === 'RegularExpression' ? ' ~ ' : '='}${q.value}`);
  return parts.join(', ');
}

/** One match of one rule of one route that the request satisfies. */
export interface Candidate {
  route: RouteModel;
  rule: number;
  match: number;
  host: HostMatch;
}

const pathRank = { Exact: 0, RegularExpression: 1, PathPrefix: 2 } as Record<string, number>;

/** Which of two candidates goes first (negative: `a`), and, when `a`, the criterion that put it first. */
export function compareCandidates(a: Candidate, b: Candidate): { order: number; why: string } {
  const ma = a.route.route.spec.rules![a.rule]!.matches![a.match]!;
  const mb = b.route.route.spec.rules![b.rule]!.matches![b.match]!;
  const hs = (m: HTTPRouteMatch) => firstOfEach(m.headers, lower).length;
  const qs = (m: HTTPRouteMatch) => firstOfEach(m.queryParams, same).length;
  const steps: [() => number, () => string][] = [
    [() => compareHostMatch(a.host, b.host), () => `a more specific hostname (${a.host.name} over ${b.host.name})`],
    [() => pathRank[ma.path!.type!]! - pathRank[mb.path!.type!]!, () => `the path match type (${ma.path!.type} over ${mb.path!.type})`],
    [() => mb.path!.value!.length - ma.path!.value!.length, () => `a longer path (${ma.path!.value} over ${mb.path!.value})`],
    [() => Number(mb.method !== undefined) - Number(ma.method !== undefined), () => 'a method match'],
    [() => hs(mb) - hs(ma), () => `more header matches (${hs(ma)} over ${hs(mb)})`],
    [() => qs(mb) - qs(ma), () => `more query param matches (${qs(ma)} over ${qs(mb)})`],
    [() => compareTimes(a.route.route.metadata.creationTimestamp, b.route.route.metadata.creationTimestamp), () => `an older route (created ${a.route.route.metadata.creationTimestamp} before ${b.route.route.metadata.creationTimestamp})`],
    [() => (a.route.key < b.route.key ? -1 : a.route.key > b.route.key ? 1 : 0), () => `namespace/name in alphabetical order (${a.route.key} before ${b.route.key})`],
    [() => a.rule - b.rule, () => `rule order (rule ${a.rule} before rule ${b.rule})`],
    [() => a.match - b.match, () => 'match order in the rule'],
  ];
  for (const [f, why] of steps) {
    const o = f();
    if (o !== 0) return { order: o, why: o < 0 ? why() : '' };
  }
  return { order: 0, why: '' };
}

/** Older first; a route without a timestamp ties with any. */
function compareTimes(a: string | undefined, b: string | undefined): number {
  if (!a || !b) return 0;
  const [x, y] = [Date.parse(a), Date.parse(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}
