// `podpath ingress route`: which Ingress, rule, path and backend serve one request — nginx's own
// choices (virtual server by Host, location by URI, then the location's redirects, rewrite,
// allow/deny and upstream) replayed on the model the controller renders nginx.conf from.
import type { IngressBackend } from '../api/types.ts';
import { cidrContains, parseCIDR } from '../util/ip.ts';
import { catchAll, defaultCertificate, healthzPath, matchText, ownsHealthz, refString, type Location, type Model, type Server } from './model.ts';

export interface RouteRequest {
  scheme: 'http' | 'https';
  /** the Host header (a port is ignored); undefined: none sent */
  host?: string;
  /** the TLS server name (https only); defaults to the Host */
  sni?: string;
  method: string;
  /** path and query, as in the request line */
  target: string;
  /** header names in lower case */
  headers: Record<string, string>;
  clientIP: string;
}

export interface RouteResult {
  status: number;
  /** "namespace/name" of the Ingress whose rule (or defaultBackend) serves it */
  ingress: string | null;
  /** the rule's host, or null for the catch-all */
  host: string | null;
  path: string | null;
  pathType: string | null;
  backend: IngressBackend | null;
  /** the redirect's target (301/302/308) */
  location?: string;
  /** the nginx virtual server and location chosen */
  server: string;
  nginxLocation: string | null;
  /** https: the certificate SNI picked: NAMESPACE/SECRET, or "default" */
  certificate?: string;
  /** the upstream (NAMESPACE-SERVICE-PORT) and its endpoints, when proxied */
  upstream?: string;
  endpoints?: string[];
  /** the URI sent upstream, when rewrite-target changed it */
  rewrittenTo?: string;
  /** the canary that takes a share of this location, and whether this request went to it */
  canary?: { ingress: string; backend: IngressBackend; weight: number; weightTotal: number; chosen: 'header' | 'weight' | 'no' };
  /** one line on why */
  reason: string;
}

/** nginx's normalised URI: decoded, `//` merged, `.` and `..` resolved, without the query. */
export function normalizeURI(target: string): string {
  const raw = target.split('?')[0]!.split('#')[0]!;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    decoded = raw;
  }
  const out: string[] = [];
  const parts = decoded.split('/');
  for (const [i, seg] of parts.entries()) {
    if (i === 0) continue;
    if (seg === '' && i !== parts.length - 1) continue;
    if (seg === '.') {
      if (i === parts.length - 1) out.push('');
      continue;
    }
    if (seg === '..') {
      out.pop();
      if (i === parts.length - 1) out.push('');
      continue;
    }
    out.push(seg);
  }
  return `/${out.join('/')}`;
}

/** PCRE's `(?i)^pattern` as a JavaScript RegExp (undefined when the pattern does not compile). */
function regexOf(pattern: string): RegExp | undefined {
  try {
    return new RegExp(`^${pattern}`, 'i');
  } catch {
    return undefined;
  }
}

/**
 * nginx's `rewrite REGEX TARGET break`: the whole URI becomes TARGET with $1..$9 filled from the
 * match; the request's arguments follow (after `&` when TARGET has its own, none when it ends in `?`).
 */
export function nginxRewrite(target: string, m: RegExpExecArray, args: string): string {
  let out = target.replace(/\$(\d)/g, (_, n: string) => m[Number(n)] ?? '');
  if (out.endsWith('?')) return out.slice(0, -1);
  if (args) out += `${out.includes('?') ? '&' : '?'}${args}`;
  return out;
}

/** nginx's location choice: an exact match; else the longest prefix, unless a regex (in order) matches. */
export function matchLocation(server: Server, uri: string): Location | undefined {
  let longest: Location | undefined;
  for (const l of server.locations) {
    if (l.match.kind === 'exact' && l.match.pattern === uri) return l;
    if (l.match.kind === 'prefix' && uri.startsWith(l.match.pattern) && (!longest || l.match.pattern.length > longest.match.pattern.length)) longest = l;
  }
  for (const l of server.locations) if (l.match.kind === 'regex' && regexOf(l.match.pattern)?.test(uri)) return l;
  return longest;
}

/** nginx's server_name choice: the exact name, else a one-label wildcard, else the catch-all. */
export function matchServer(model: Model, host: string | undefined): Server {
  const h = (host ?? '').replace(/:\d+$/, '').replace(/\.$/, '').toLowerCase();
  const exact = model.servers.find((s) => s.hostname === h && s.hostname !== catchAll);
  if (exact) return exact;
  const dot = h.indexOf('.');
  if (dot > 0) {
    const wild = model.servers.find((s) => s.hostname === `*${h.slice(dot)}`);
    if (wild) return wild;
  }
  return model.servers.find((s) => s.hostname === catchAll)!;
}

/** What nginx would do with the request. */
export function route(model: Model, req: RouteRequest): RouteResult {
  const hostHeader = req.host ?? (req.scheme === 'https' ? req.sni : undefined);
  const server = matchServer(model, hostHeader);
  const certServer = req.scheme === 'https' ? matchServer(model, req.sni ?? hostHeader) : undefined;
  const certificate = certServer ? (certServer.tls?.secret && certServer.tls.certificate !== defaultCertificate ? certServer.tls.secret : 'default') : undefined;
  const uri = normalizeURI(req.target);
  const loc = matchLocation(server, uri);
  const base = {
    server: server.hostname,
    ...(certificate ? { certificate } : {}),
  };
  const onRule = loc?.path !== undefined;
  const common = {
    ingress: loc?.ingress ? refString(loc.ingress) : null,
    host: onRule && server.hostname !== catchAll ? server.hostname : null,
    path: onRule ? loc!.path! : null,
    pathType: onRule ? loc!.pathType! : null,
    backend: loc?.backend ?? null,
    nginxLocation: loc ? matchText(loc.match) : null,
    ...base,
  };
  const hostName = (hostHeader ?? '').replace(/:\d+$/, '').toLowerCase() || server.hostname;
  // server rewrite phase: app-root, written at server level for every location that has it (as
  // ingress-nginx writes it), so it redirects / whichever location / would reach
  const appRoot = server.locations.find((l) => l.config.appRoot !== undefined);
  if (appRoot && uri === '/') {
    const on = appRoot.path !== undefined;
    return {
      status: 302,
      ...common,
      ingress: appRoot.ingress ? refString(appRoot.ingress) : null,
      host: on && server.hostname !== catchAll ? server.hostname : null,
      path: on ? appRoot.path! : null,
      pathType: on ? appRoot.pathType! : null,
      backend: appRoot.backend ?? null,
      nginxLocation: null,
      location: `${req.scheme}://${req.host ?? hostName}${appRoot.config.appRoot}`,
      reason: `app-root redirects / to ${appRoot.config.appRoot}`,
    };
  }
  // nginx.conf's own exact location on the catch-all server (exact locations are looked at first)
  if (server.hostname === catchAll && uri === healthzPath && !ownsHealthz(server)) {
    return { status: 200, ingress: null, host: null, path: null, pathType: null, backend: null, nginxLocation: `= ${healthzPath}`, ...base, reason: "the controller's health check: nginx answers 200 itself" };
  }
  if (!loc) return { status: 404, ingress: null, host: null, path: null, pathType: null, backend: null, nginxLocation: null, ...base, reason: `no location of server ${server.hostname} matches ${uri}` };
  // location rewrite phase: ssl redirect, rewrite-target (in the order nginx.conf has them)
  if (req.scheme === 'http' && loc.sslRedirect) {
    // ingress-nginx drops one trailing slash from the redirect unless preserve-trailing-slash
    const target = !loc.config.preserveTrailingSlash && req.target.endsWith('/') ? req.target.slice(0, -1) : req.target;
    return { status: 308, ...common, location: `https://${hostName}${target}`, reason: `${server.tls ? 'the host has TLS' : 'force-ssl-redirect'}: http is redirected to https` };
  }
  if (!loc.upstream) {
    return { status: 404, ...common, reason: loc.backend ? 'the backend is not a Service; the default backend answers' : "nothing matches: the controller's default backend answers 404" };
  }
  let rewrittenTo: string | undefined;
  if (loc.config.rewriteTarget !== undefined && loc.match.kind === 'regex') {
    const m = regexOf(loc.match.pattern)?.exec(uri);
    if (m) rewrittenTo = nginxRewrite(loc.config.rewriteTarget, m, req.target.includes('?') ? req.target.slice(req.target.indexOf('?') + 1) : '');
  }
  // the balancer: canary by header, then by weight
  let upstreamName = loc.upstream;
  let canary: RouteResult['canary'];
  if (loc.canary) {
    const c = loc.canary;
    const hv = c.header ? req.headers[c.header.toLowerCase()] : undefined;
    let chosen: 'header' | 'weight' | 'no' = 'no';
    if (hv !== undefined && (c.headerValue !== undefined ? hv === c.headerValue : hv === 'always')) chosen = 'header';
    else if (hv !== undefined && c.headerValue === undefined && hv === 'never') chosen = 'no';
    else if (c.weight >= c.weightTotal && c.weightTotal > 0) chosen = 'weight';
    if (chosen !== 'no') upstreamName = c.upstream;
    canary = { ingress: refString(c.ingress), backend: c.backend, weight: c.weight, weightTotal: c.weightTotal, chosen };
  }
  const u = model.upstreams.get(upstreamName)!;
  const result = {
    ...common,
    ...(canary?.chosen && canary.chosen !== 'no' ? { backend: canary.backend, ingress: canary.ingress } : {}),
    upstream: u.name,
    endpoints: u.endpoints.map((e) => `${e.address}:${e.port}`),
    ...(rewrittenTo !== undefined ? { rewrittenTo } : {}),
    ...(canary ? { canary } : {}),
  };
  // the Lua balancer answers 503 in the rewrite phase, before allow/deny (access phase) is looked at
  if (!u.endpoints.length) return { status: 503, ...result, reason: `${u.unavailable ?? 'no endpoints'}: 503` };
  if (loc.config.allowSourceRange.length && !loc.config.allowSourceRange.some((c) => cidrContains(parseCIDR(c)!, req.clientIP))) {
    return { status: 403, ...result, reason: `${req.clientIP} is outside the allowed source ranges ${loc.config.allowSourceRange.join(', ')}` };
  }
  const why = onRule ? `Ingress ${common.ingress} host ${common.host ?? '*'} path ${common.path} (${common.pathType})` : loc.ingress ? `the defaultBackend of Ingress ${common.ingress}` : 'the default backend';
  return { status: 200, ...result, reason: `${why} → ${u.name}` };
}
