// `podpath gateway route`: what a Gateway does with one request — the Listener (port, then the
// most specific hostname: the SNI for https, with a misdirected Host answered 421), the rule that
// wins across every route attached to that Listener alone (listener isolation), the rule's
// filters, and the backendRef the request goes to; with the reasons, for the text output.
import { addResponseModifier, modifyHeaders, modifyPath, redirectLocation, type HeaderChange, type Headers, type ResponseHeaders } from './filters.ts';
import { bestHostMatch, compareHostMatch, hostMatches, hostOf, type HostMatch } from './hostnames.ts';
import { compareCandidates, matchText, requestMatches, type Candidate, type MatchRequest } from './match.ts';
import type { Backend, ListenerModel, Model, RouteParentStatus } from './model.ts';
import type { HTTPRouteFilter } from './types.ts';

export interface GatewayRequest {
  scheme: 'http' | 'https';
  /** the port connected to: picks the listeners */
  port: number;
  /** the Host header as sent (a port in it is ignored for matching) */
  host: string;
  /** the TLS server name (https) */
  sni?: string;
  method: string;
  /** the path, without the query */
  path: string;
  /** "?a=b…" or "" */
  search: string;
  /** lower-case names, several values joined by "," (without host) */
  headers: Headers;
}

export interface ServiceRef {
  namespace: string;
  name: string;
  port: number;
}

export interface FilterEffect {
  /** "rule" or the backendRef's Service the filter belongs to */
  on: string;
  type: string;
  changes: string[];
}

export interface Rival {
  route: string;
  rule: number;
  match: number;
  /** the match, as matchText prints it */
  text: string;
  /** the criterion that put the winner first */
  lostOn: string;
}

export interface RouteResult {
  status: number;
  gateway: string;
  listener: string | null;
  route: string | null;
  rule: number | null;
  backend: { service: ServiceRef } | null;
  backends: { service: ServiceRef; weight: number }[];
  redirect: { location: string; statusCode: number } | null;
  request: { host: string; path: string; headers: Headers } | null;
  responseHeaders: ResponseHeaders;
  /** one line on the outcome */
  reason: string;
  /** why this listener */
  listenerReason?: string;
  /** the winning match (index in the rule's matches) and the name it matched on */
  match?: { index: number; hostname: string; text: string };
  /** the other matches that the request also satisfied, and why they lost */
  rivals: Rival[];
  filters: FilterEffect[];
  /** backendRefs of the rule that do not resolve (their share of requests gets 500) */
  unresolved: { ref: string; reason: string; message: string }[];
  /** rules of routes on this listener dropped as invalid */
  dropped: { route: string; rule: number; message: string }[];
  /** when no rule matched: why each route attached to the listener did not (the first ten) */
  misses: { route: string; why: string }[];
  /** every HTTPRoute's status for this Gateway */
  routes: { route: string; parents: RouteParentStatus[] }[];
  /** the Gateway's listeners and how many routes each has attached (its status's attachedRoutes) */
  listeners: { name: string; port: number; protocol: string; hostname: string | null; attachedRoutes: number }[];
}

const emptyResponse = (): ResponseHeaders => ({ set: {}, add: {}, remove: [] });

/** The most specific listener for `name` among `ls`: an exact hostname, a longer wildcard, none. */
function bestListener(ls: ListenerModel[], name: string): ListenerModel | undefined {
  let best: [ListenerModel, HostMatch] | undefined;
  for (const l of ls) {
    const h = l.listener.hostname;
    if (h !== undefined && !hostMatches(h, name)) continue;
    const m = bestHostMatch(h === undefined ? undefined : [h], name)!;
    if (!best || compareHostMatch(m, best[1]) < 0) best = [l, m];
  }
  return best?.[0];
}

const describeListener = (l: ListenerModel) => `${l.listener.name} (port ${l.listener.port}, ${l.listener.protocol}, hostname ${l.listener.hostname ?? '*'}, ${l.attached.length} route${l.attached.length === 1 ? '' : 's'} attached)`;
const refString = (b: Backend) => `${b.namespace}/${b.ref.name}${b.ref.port !== undefined ? `:${b.ref.port}` : ''}`;

export function routeRequest(model: Model, gatewayKey: string, req: GatewayRequest): RouteResult {
  const gw = model.gateways.get(gatewayKey)!;
  const base = {
    gateway: gw.key,
    backend: null,
    backends: [],
    redirect: null,
    request: null,
    responseHeaders: emptyResponse(),
    rivals: [],
    filters: [],
    unresolved: [],
    dropped: [],
    misses: [],
    routes: gw.routes,
    listeners: gw.listeners.map((l) => ({ name: l.listener.name, port: l.listener.port, protocol: l.listener.protocol, hostname: l.listener.hostname ?? null, attachedRoutes: l.attached.length })),
  };
  const none = (status: number, reason: string, listener: string | null = null, extra: Partial<RouteResult> = {}): RouteResult => ({ status, listener, route: null, rule: null, reason, ...base, ...extra });

  // the listener: port and protocol, then hostname
  const protocol = req.scheme === 'https' ? 'HTTPS' : 'HTTP';
  const onPort = gw.listeners.filter((l) => l.listener.port === req.port);
  const usable = onPort.filter((l) => l.listener.protocol === protocol && (protocol === 'HTTP' || l.listener.tls?.mode === 'Terminate'));
  if (!usable.length) {
    return none(404, onPort.length ? `the listeners on port ${req.port} (${onPort.map((l) => `${l.listener.name}: ${l.listener.protocol}`).join(', ')}) do not take ${protocol}` : `Gateway ${gw.key} has no listener on port ${req.port}`);
  }
  const host = hostOf(req.host);
  let listener: ListenerModel | undefined;
  let listenerReason: string;
  if (req.scheme === 'https') {
    const sni = hostOf(req.sni ?? host);
    listener = bestListener(usable, sni);
    if (!listener) return none(404, `no HTTPS listener on port ${req.port} takes the server name ${sni}`);
    const forHost = bestListener(usable, host);
    if (forHost !== listener) {
      return forHost
        ? none(421, `misdirected: the server name ${sni} picked listener ${listener.listener.name}, but the Host ${host} belongs to listener ${forHost.listener.name}`, listener.listener.name)
        : none(404, `the Host ${host} matches no listener on port ${req.port} (the server name ${sni} picked ${listener.listener.name})`, listener.listener.name);
    }
    listenerReason = `the most specific listener on port ${req.port} for the server name ${sni}${sni !== host ? ` and the Host ${host}` : ''}`;
  } else {
    listener = bestListener(usable, host);
    if (!listener) return none(404, `no listener on port ${req.port} takes the Host ${host} (${usable.map((l) => l.listener.hostname ?? '*').join(', ')})`);
    listenerReason = `the most specific listener on port ${req.port} for the Host ${host}`;
  }
  listenerReason = `${describeListener(listener)}: ${listenerReason}`;

  // every match of every valid rule of the routes attached to this listener
  const mreq: MatchRequest = { method: req.method, path: req.path, headers: { ...req.headers, host }, query: parseQuery(req.search) };
  const candidates: Candidate[] = [];
  const dropped: RouteResult['dropped'] = [];
  for (const a of listener.attached) {
    const hm = bestHostMatch(a.hostnames, host);
    for (const rule of a.route.rules) {
      if (rule.invalid) {
        dropped.push({ route: a.route.key, rule: rule.index, message: rule.invalid.message });
        continue;
      }
      if (!hm) continue;
      for (const [mi, m] of rule.rule.matches!.entries()) if (requestMatches(m, mreq)) candidates.push({ route: a.route, rule: rule.index, match: mi, host: hm });
    }
  }
  if (!candidates.length) {
    const misses = listener.attached.slice(0, 10).map((a) => {
      const names = a.hostnames ?? ['*'];
      if (!bestHostMatch(a.hostnames, host)) return { route: a.route.key, why: `its hostnames on this listener (${names.join(', ')}) do not match ${host}` };
      const ms = a.route.rules.filter((r) => !r.invalid).flatMap((r) => r.rule.matches!.map(matchText));
      return { route: a.route.key, why: `none of its matches takes ${req.method} ${req.path}${req.search}: ${ms.join('; ') || '(every rule dropped)'}` };
    });
    return none(404, `no rule of the ${listener.attached.length} route(s) attached to listener ${listener.listener.name} matches ${req.method} ${host}${req.path}`, listener.listener.name, { listenerReason, dropped, misses });
  }
  let win = candidates[0]!;
  for (const c of candidates.slice(1)) if (compareCandidates(c, win).order < 0) win = c;
  // the others, best first, each with the criterion that put the winner ahead; one per rule
  const seen = new Set([`${win.route.key}#${win.rule}`]);
  const rivals: Rival[] = [];
  for (const c of [...candidates].sort((a, b) => compareCandidates(a, b).order)) {
    const k = `${c.route.key}#${c.rule}`;
    if (seen.has(k)) continue;
    seen.add(k);
    rivals.push({ route: c.route.key, rule: c.rule, match: c.match, text: matchText(c.route.route.spec.rules![c.rule]!.matches![c.match]!), lostOn: compareCandidates(win, c).why });
  }

  const rule = win.route.rules[win.rule]!;
  const m = rule.rule.matches![win.match]!;
  const matchedPrefix = m.path!.type === 'PathPrefix' ? m.path!.value : undefined;
  const resolvable = rule.backends.filter((b) => b.service);
  const common = {
    ...base,
    listener: listener.listener.name,
    route: win.route.key,
    rule: win.rule,
    backends: resolvable.map((b) => ({ service: b.service!, weight: b.ref.weight! })),
    unresolved: rule.backends.filter((b) => b.problem).map((b) => ({ ref: refString(b), ...b.problem! })),
    listenerReason,
    match: { index: win.match, hostname: win.host.name, text: matchText(m) },
    rivals,
    dropped,
  };

  // the rule's filters in order; a redirect answers at once
  const headers: Headers = { ...req.headers };
  let host2 = req.host;
  let path = req.path;
  const response = emptyResponse();
  const filters: FilterEffect[] = [];
  const apply = (f: HTTPRouteFilter, on: string): { location: string; statusCode: number } | undefined => {
    const changes: string[] = [];
    const header = (cs: HeaderChange[]) => cs.map((c) => (c.op === 'remove' ? `remove ${c.name}` : `${c.op} ${c.name}: ${c.value}`));
    if (f.type === 'RequestHeaderModifier' && f.requestHeaderModifier) changes.push(...header(modifyHeaders(headers, f.requestHeaderModifier)));
    else if (f.type === 'ResponseHeaderModifier' && f.responseHeaderModifier) changes.push(...header(addResponseModifier(response, f.responseHeaderModifier)));
    else if (f.type === 'URLRewrite' && f.urlRewrite) {
      if (f.urlRewrite.hostname !== undefined) {
        changes.push(`Host ${host2} → ${f.urlRewrite.hostname}`);
        host2 = f.urlRewrite.hostname;
      }
      if (f.urlRewrite.path) {
        const p = modifyPath(path, f.urlRewrite.path, matchedPrefix);
        changes.push(`path ${path} → ${p} (${f.urlRewrite.path.type})`);
        path = p;
      }
    } else if (f.type === 'RequestRedirect' && f.requestRedirect) {
      const location = redirectLocation(f.requestRedirect, { scheme: req.scheme, host, path, search: req.search, listenerPort: listener.listener.port }, matchedPrefix);
      filters.push({ on, type: f.type, changes: [`${f.requestRedirect.statusCode} Location: ${location}`] });
      return { location, statusCode: f.requestRedirect.statusCode! };
    }
    filters.push({ on, type: f.type, changes });
    return undefined;
  };
  for (const f of rule.rule.filters ?? []) {
    const redirect = apply(f, 'rule');
    if (redirect) {
      return { status: redirect.statusCode, ...common, redirect, responseHeaders: response, filters, reason: `a ${redirect.statusCode} redirect to ${redirect.location}` };
    }
  }
  // the backendRef that takes the largest share (the first of equals); its own filters follow
  const total = rule.backends.reduce((n, b) => n + b.ref.weight!, 0);
  let chosen: Backend | undefined;
  for (const b of resolvable) if (b.ref.weight! > 0 && (!chosen || b.ref.weight! > chosen.ref.weight!)) chosen = b;
  if (!chosen) {
    const why = !rule.backends.length ? 'the rule has no backendRefs' : !resolvable.length ? 'no backendRef of the rule resolves' : 'every resolvable backendRef has weight 0';
    return { status: 500, ...common, responseHeaders: response, filters, reason: `${why}: the Gateway answers 500` };
  }
  for (const f of chosen.ref.filters ?? []) apply(f, `backendRef ${refString(chosen)}`);
  const share = total > 0 ? `${chosen.ref.weight}/${total} of requests` : 'all requests';
  return {
    status: 200,
    ...common,
    backend: { service: chosen.service! },
    request: { host: host2, path, headers },
    responseHeaders: response,
    filters,
    reason: `forwarded to Service ${chosen.service!.namespace}/${chosen.service!.name} port ${chosen.service!.port} (${share})`,
  };
}

/** The first value of each query parameter, as the spec recommends matching on. */
function parseQuery(search: string): Map<string, string> {
  const q = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(search)) if (!q.has(k)) q.set(k, v);
  return q;
}
