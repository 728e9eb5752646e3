// What an ingress-nginx-like controller serves, computed from the objects: virtual servers per
// host, nginx locations per path, upstreams with their endpoints, certificates per TLS host, and
// the problems to report. Pure: nginx.conf (nginx/template.ts), the endpoint payload
// (nginx/backends.ts) and `podpath ingress route` (route.ts) are all read off this one model.
//
// Semantics (networking.k8s.io/v1, as ingress-nginx lays them into nginx):
// - Exact `/foo` is `location = /foo`; Prefix `/foo` (or `/foo/`) is `location /foo/` plus
//   `location = /foo`, so matching is element-wise and trailing slashes do not matter; nginx
//   picks the exact location first and the longest prefix otherwise, which is "longest match
//   wins, Exact beats Prefix on a tie". ImplementationSpecific is Prefix (as ingress-nginx).
// - use-regex or rewrite-target on any Ingress of a host turns every path of that host into a
//   case-insensitive regex `~* "^path"`, tried longest first (ingress-nginx's documented rule).
// - Ingresses are taken oldest first: where two define the same host and path, the older wins.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { EndpointSlice, Ingress, IngressBackend, IngressClass, KubeObject, Service, ServicePort } from '../api/types.ts';
import { parseAnnotations, defaultConfig, type IngressConfig } from './annotations.ts';
import { isOurs, type ControllerClass } from './classes.ts';
import { parseIP } from '../util/ip.ts';

export interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

/** The objects a controller watches. */
export interface IngressState {
  ingresses: Ingress[];
  classes: IngressClass[];
  services: Service[];
  slices: EndpointSlice[];
  secrets: Secret[];
}

export interface IngressRef {
  namespace: string;
  name: string;
}

export const refString = (r: IngressRef): string => `${r.namespace}/${r.name}`;

export interface UpstreamEndpoint {
  address: string;
  port: number;
}

/** A Service port as nginx reaches it: its ready endpoints (or its ClusterIP, with service-upstream). */
export interface Upstream {
  /** ingress-nginx's name: NAMESPACE-SERVICE-PORT */
  name: string;
  namespace: string;
  service: string;
  port: string;
  endpoints: UpstreamEndpoint[];
  /** why there is no endpoint to send to (requests get 503) */
  unavailable?: string;
  /** the backend names a Service or port that does not exist (a ServiceNotFound problem) */
  missing?: boolean;
}

export type MatchKind = 'exact' | 'prefix' | 'regex';

/** One nginx location: `= /foo`, `/foo/` or `~* "^/foo"`. */
export interface NginxMatch {
  kind: MatchKind;
  pattern: string;
}

export const matchText = (m: NginxMatch): string => (m.kind === 'exact' ? `= ${m.pattern}` : m.kind === 'regex' ? `~* "^${m.pattern}"` : m.pattern);

export interface Canary {
  ingress: IngressRef;
  backend: IngressBackend;
  upstream: string;
  weight: number;
  weightTotal: number;
  header?: string;
  headerValue?: string;
}

export interface Location {
  match: NginxMatch;
  /** the Ingress path behind it; undefined for a server's default root */
  path?: string;
  pathType?: string;
  ingress?: IngressRef;
  /** the Ingress backend (as in the API); undefined: the controller's default backend (404) */
  backend?: IngressBackend;
  upstream?: string;
  config: IngressConfig;
  canary?: Canary;
  /** http requests are redirected to https (308) */
  sslRedirect: boolean;
  /** the Lua code picks the route per request from these (a Gateway listener's HTTPRoute rules) */
  routes?: RouteChoice[];
}

/**
 * One match of a route rule as the Lua code checks it at a location: the Host against
 * `hostnames` (exact, or `*.` for any number of labels; empty: any), then path, method, headers
 * and query; the first choice in the list with the most specific Host match wins (the list is in
 * precedence order otherwise). How a Gateway's HTTPRoutes ride on this model (gateway/dataplane.ts).
 */
export interface RouteChoice {
  /** reported as $namespace and $ingress_name (the route), and in logs and metrics */
  namespace: string;
  name: string;
  rule: number;
  hostnames: string[];
  path: { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string };
  method?: string;
  /** names lower-case; regex: a full match */
  headers: ValueMatch[];
  query: ValueMatch[];
  /** in order; a redirect answers at once */
  filters: RouteFilter[];
  /** weighted; a backend without an upstream does not resolve (its share is answered 500) */
  backends: RouteBackend[];
}

export interface ValueMatch {
  name: string;
  regex: boolean;
  value: string;
}

export interface RouteBackend {
  upstream?: string;
  service: string;
  port: number;
  weight: number;
  filters: RouteFilter[];
}

export interface HeaderEdit {
  set: [string, string][];
  add: [string, string][];
  remove: string[];
}

/** A path modifier: the full path, or the matched PathPrefix replaced. */
export type PathEdit = { full: string } | { prefix: string };

export type RouteFilter =
  | ({ type: 'request-headers' } & HeaderEdit)
  | ({ type: 'response-headers' } & HeaderEdit)
  | { type: 'rewrite'; hostname?: string; path?: PathEdit }
  | { type: 'redirect'; scheme?: string; hostname?: string; port?: number; path?: PathEdit; statusCode: number };

export interface ServerTLS {
  /** NAMESPACE/NAME of the kubernetes.io/tls Secret, or undefined for the default certificate */
  secret?: string;
  /** key into Model.certificates; "default" is the controller's self-signed certificate */
  certificate: string;
}

export interface Server {
  /** the host, `*.example.com`, or `_` for the catch-all server */
  hostname: string;
  /**
   * a port of its own (a Gateway listener's), instead of the controller's HTTP and HTTPS ports;
   * publicPort: the port clients asked for where a Service maps it to another `port` in the pod
   */
  listen?: { port: number; tls: boolean; publicPort?: number };
  /** `*.example.com` takes any number of labels (the Gateway API), not exactly one (Ingress) */
  anyDepthWildcard?: boolean;
  tls?: ServerTLS;
  /** every path of this host is a regex (use-regex or rewrite-target on one of its Ingresses) */
  regex: boolean;
  locations: Location[];
}

export interface Problem {
  ingress: IngressRef;
  /** the Event reason */
  reason: string;
  message: string;
  /** the Ingress is left out whole */
  skipped: boolean;
}

export interface Certificate {
  /** PEM: the certificate chain, then the key */
  pem: string;
}

export interface Model {
  /** the catch-all `_` first, then by hostname */
  servers: Server[];
  upstreams: Map<string, Upstream>;
  certificates: Map<string, Certificate>;
  /** the Ingresses this controller serves (status goes to these), oldest first */
  served: Ingress[];
  problems: Problem[];
  /** annotations under ingress-nginx's prefix that podpath does not implement */
  ignored: { ingress: IngressRef; annotation: string }[];
}

export const catchAll = '_';

/** The catch-all server answers `= /healthz` itself (200) unless an Ingress path has that exact location. */
export const healthzPath = '/healthz';
export const ownsHealthz = (s: Server): boolean => s.locations.some((l) => l.match.kind === 'exact' && l.match.pattern === healthzPath);
export const defaultCertificate = 'default';

const refOf = (ing: Ingress): IngressRef => ({ namespace: ing.metadata.namespace ?? 'default', name: ing.metadata.name! });

/** Oldest first, then by namespace/name (ingress-nginx sorts by creation time). */
export function byAge(a: KubeObject, b: KubeObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function upstreamName(namespace: string, b: IngressBackend): string {
  const port = b.service?.port?.number ?? b.service?.port?.name ?? '';
  return `${namespace}-${b.service?.name}-${port}`;
}

function findServicePort(svc: Service, b: IngressBackend): ServicePort | undefined {
  const want = b.service?.port;
  return (svc.spec.ports ?? []).find((p) => (want?.number !== undefined ? p.port === want.number : p.name === want?.name));
}

/** The upstream for a Service backend: the Service port's ready endpoints from its EndpointSlices. */
export function resolveUpstream(s: IngressState, namespace: string, b: IngressBackend, config: IngressConfig): Upstream {
  const base = { name: upstreamName(namespace, b), namespace, service: b.service!.name, port: String(b.service!.port?.number ?? b.service!.port?.name ?? '') };
  const svc = s.services.find((x) => x.metadata.namespace === namespace && x.metadata.name === b.service!.name);
  if (!svc) return { ...base, endpoints: [], missing: true, unavailable: `Service ${namespace}/${b.service!.name} not found` };
  if (svc.spec.type === 'ExternalName') return { ...base, endpoints: [], unavailable: `Service ${namespace}/${svc.metadata.name} is of type ExternalName, which podpath's controller does not proxy to` };
  const sp = findServicePort(svc, b);
  if (!sp) return { ...base, endpoints: [], missing: true, unavailable: `Service ${namespace}/${svc.metadata.name} has no port ${base.port}` };
  if (config.serviceUpstream && svc.spec.clusterIP && svc.spec.clusterIP !== 'None') {
    return { ...base, endpoints: [{ address: svc.spec.clusterIP, port: sp.port }] };
  }
  const seen = new Set<string>();
  const endpoints: UpstreamEndpoint[] = [];
  for (const slice of s.slices) {
    if (slice.metadata.namespace !== namespace || slice.metadata.labels?.['kubernetes.io/service-name'] !== svc.metadata.name) continue;
    const port = (slice.ports ?? []).find((p) => (p.name ?? '') === (sp.name ?? '') && (p.protocol ?? 'TCP') === 'TCP')?.port;
    if (port === undefined) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const address of ep.addresses.slice(0, 1)) {
        const key = `${address}:${port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        endpoints.push({ address, port });
      }
    }
  }
  const num = (ip: string) => parseIP(ip)?.value ?? 0n;
  endpoints.sort((a, b) => (a.address === b.address ? a.port - b.port : num(a.address) < num(b.address) ? -1 : 1));
  return { ...base, endpoints, ...(endpoints.length ? {} : { unavailable: `Service ${namespace}/${svc.metadata.name} has no ready endpoints` }) };
}

/** The nginx locations of one Ingress path: Exact → `=`; Prefix → `/p/` and `= /p` (or `/` alone); regex servers → `~*`. */
export function nginxMatches(path: string, pathType: string, regex: boolean): { match: NginxMatch; extra: boolean }[] {
  const p = path || '/';
  if (regex) return [{ match: { kind: 'regex', pattern: p }, extra: false }];
  if (pathType === 'Exact') return [{ match: { kind: 'exact', pattern: p }, extra: false }];
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return [{ match: { kind: 'prefix', pattern: '/' }, extra: false }];
  return [
    { match: { kind: 'prefix', pattern: `${trimmed}/` }, extra: false },
    { match: { kind: 'exact', pattern: trimmed }, extra: true },
  ];
}

const keyOf = (m: NginxMatch) => `${m.kind} ${m.pattern}`;

interface Candidate {
  loc: Location;
  /** a Prefix path's added exact location: a real Exact path takes its place */
  extra: boolean;
  /** the Ingress path's length: of two Prefix paths alike but for the slash, `/foo/` wins */
  length: number;
  order: number;
}

function better(a: Candidate, b: Candidate): boolean {
  if (a.extra !== b.extra) return !a.extra;
  if (a.length !== b.length) return a.length > b.length;
  return a.order < b.order;
}

export function decodeSecret(sec: Secret): { pem: string } | { error: string } {
  if (sec.type !== 'kubernetes.io/tls') return { error: `Secret ${sec.metadata.namespace}/${sec.metadata.name} is of type ${sec.type ?? 'Opaque'}, not kubernetes.io/tls` };
  const crt = sec.data?.['tls.crt'];
  const key = sec.data?.['tls.key'];
  if (!crt || !key) return { error: `Secret ${sec.metadata.namespace}/${sec.metadata.name} has no ${crt ? 'tls.key' : 'tls.crt'}` };
  const crtPem = Buffer.from(crt, 'base64').toString('utf8');
  const keyPem = Buffer.from(key, 'base64').toString('utf8');
  try {
    const cert = new X509Certificate(crtPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return { error: `Secret ${sec.metadata.namespace}/${sec.metadata.name}: tls.key does not belong to tls.crt` };
  } catch (e) {
    return { error: `Secret ${sec.metadata.namespace}/${sec.metadata.name}: ${(e as Error).message}` };
  }
  return { pem: `${crtPem.trimEnd()}\n${keyPem.trimEnd()}\n` };
}

export interface ModelOptions {
  class: ControllerClass;
  /** the controller's self-signed certificate (PEM chain + key), used where no Secret applies */
  defaultCertificate?: string;
  /** Ingresses left out after nginx refused the configuration they made (by namespace/name) */
  exclude?: Set<string>;
}

/** The whole model, from the objects. */
export function buildModel(s: IngressState, o: ModelOptions): Model {
  const problems: Problem[] = [];
  const ignored: Model['ignored'] = [];
  const upstreams = new Map<string, Upstream>();
  const certificates = new Map<string, Certificate>();
  if (o.defaultCertificate) certificates.set(defaultCertificate, { pem: o.defaultCertificate });

  // The Ingresses of this class that parse, oldest first.
  const candidates = s.ingresses.filter((ing) => !ing.metadata.deletionTimestamp && isOurs(ing, s.classes, o.class).ours).sort(byAge);
  const served: Ingress[] = [];
  const configs = new Map<Ingress, IngressConfig>();
  for (const ing of candidates) {
    const ref = refOf(ing);
    if (o.exclude?.has(refString(ref))) {
      problems.push({ ingress: ref, reason: 'RejectedByNginx', message: 'nginx refused the configuration this Ingress makes; it is left out and the rest keeps serving', skipped: true });
      continue;
    }
    const parsed = parseAnnotations(ing.metadata.annotations);
    for (const a of parsed.ignored) ignored.push({ ingress: ref, annotation: a });
    if (parsed.errors.length) {
      problems.push({ ingress: ref, reason: 'InvalidAnnotation', message: `Ingress left out: ${parsed.errors.join('; ')}`, skipped: true });
      continue;
    }
    served.push(ing);
    configs.set(ing, parsed.config);
  }

  const useUpstream = (ing: Ingress, b: IngressBackend, config: IngressConfig): string | undefined => {
    if (!b.service) {
      problems.push({ ingress: refOf(ing), reason: 'UnsupportedBackend', message: `resource backends (${b.resource?.kind}/${b.resource?.name}) are not served; requests get the default backend`, skipped: false });
      return undefined;
    }
    const ns = ing.metadata.namespace ?? 'default';
    const u = resolveUpstream(s, ns, b, config);
    if (!upstreams.has(u.name)) upstreams.set(u.name, u);
    if (u.missing) {
      problems.push({ ingress: refOf(ing), reason: 'ServiceNotFound', message: `${u.unavailable}: its paths answer 503`, skipped: false });
    }
    return u.name;
  };

  // Hosts: which are regex servers (decided across all Ingresses of the host).
  const hostOf = (h: string | undefined) => (h ? h.toLowerCase() : catchAll);
  const regexHosts = new Set<string>();
  for (const ing of served) {
    const c = configs.get(ing)!;
    if (c.canary) continue;
    if (c.useRegex || c.rewriteTarget !== undefined) for (const r of ing.spec?.rules ?? []) regexHosts.add(hostOf(r.host));
  }

  const servers = new Map<string, { server: Server; picks: Map<string, Candidate> }>();
  const serverFor = (host: string) => {
    let e = servers.get(host);
    if (!e) servers.set(host, (e = { server: { hostname: host, regex: regexHosts.has(host), locations: [] }, picks: new Map() }));
    return e;
  };
  serverFor(catchAll);

  // Paths of the main (non-canary) Ingresses.
  let order = 0;
  for (const ing of served) {
    const config = configs.get(ing)!;
    if (config.canary) continue;
    for (const rule of ing.spec?.rules ?? []) {
      const e = serverFor(hostOf(rule.host));
      for (const p of rule.http?.paths ?? []) {
        const pathType = p.pathType === 'Exact' ? 'Exact' : 'Prefix';
        const upstream = useUpstream(ing, p.backend, config);
        for (const { match, extra } of nginxMatches(p.path ?? '', pathType, e.server.regex)) {
          const loc: Location = { match, path: p.path || '/', pathType: p.pathType ?? 'ImplementationSpecific', ingress: refOf(ing), backend: p.backend, ...(upstream ? { upstream } : {}), config, sslRedirect: false };
          const cand: Candidate = { loc, extra, length: (p.path ?? '').length, order: order++ };
          const had = e.picks.get(keyOf(match));
          if (!had || better(cand, had)) e.picks.set(keyOf(match), cand);
          if (had && had.loc.ingress && refString(had.loc.ingress) !== refString(refOf(ing)) && !had.extra && !extra) {
            const loser = better(cand, had) ? had.loc.ingress : refOf(ing);
            const winner = better(cand, had) ? refOf(ing) : had.loc.ingress;
            problems.push({ ingress: loser, reason: 'Conflict', message: `host ${e.server.hostname} path ${matchText(match)} is already served by Ingress ${refString(winner)} (the older one wins)`, skipped: false });
          }
        }
      }
    }
  }

  // Canary Ingresses join the locations of the main Ingress with the same host and path.
  for (const ing of served) {
    const config = configs.get(ing)!;
    if (!config.canary) continue;
    for (const rule of ing.spec?.rules ?? []) {
      const e = servers.get(hostOf(rule.host));
      for (const p of rule.http?.paths ?? []) {
        const pathType = p.pathType === 'Exact' ? 'Exact' : 'Prefix';
        const upstream = useUpstream(ing, p.backend, config);
        let joined = false;
        for (const { match } of nginxMatches(p.path ?? '', pathType, e?.server.regex ?? false)) {
          const main = e?.picks.get(keyOf(match));
          if (!main || !upstream) continue;
          main.loc.canary = { ingress: refOf(ing), backend: p.backend, upstream, weight: config.canary.weight, weightTotal: config.canary.weightTotal, ...(config.canary.header ? { header: config.canary.header } : {}), ...(config.canary.headerValue !== undefined ? { headerValue: config.canary.headerValue } : {}) };
          joined = true;
        }
        if (!joined) problems.push({ ingress: refOf(ing), reason: 'CanaryWithoutMain', message: `canary path ${rule.host ?? '*'}${p.path ?? '/'} has no main Ingress with the same host and path; it is not served`, skipped: false });
      }
    }
  }

  // Default backends: a rule-less Ingress's defaultBackend, else the oldest Ingress's, takes the
  // catch-all server's root; each host's root falls back to its oldest Ingress's defaultBackend.
  const withDefault = served.filter((ing) => ing.spec?.defaultBackend && !configs.get(ing)!.canary);
  const catchAllOwner = withDefault.find((ing) => !(ing.spec?.rules ?? []).length) ?? withDefault[0];
  const rootFor = (host: string): Ingress | undefined => (host === catchAll ? catchAllOwner : withDefault.find((ing) => (ing.spec?.rules ?? []).some((r) => hostOf(r.host) === host)));
  for (const [host, e] of servers) {
    const owner = rootFor(host);
    if (e.server.regex) {
      // a regex server still needs a root for paths no regex matches
      if (e.picks.has(keyOf({ kind: 'regex', pattern: '/' }))) continue;
    }
    if (e.picks.has(keyOf({ kind: 'prefix', pattern: '/' }))) continue;
    const config = owner ? configs.get(owner)! : defaultConfig;
    const upstream = owner ? useUpstream(owner, owner.spec!.defaultBackend!, config) : undefined;
    const loc: Location = { match: { kind: 'prefix', pattern: '/' }, ...(owner ? { ingress: refOf(owner), backend: owner.spec!.defaultBackend! } : {}), ...(upstream ? { upstream } : {}), config, sslRedirect: false };
    e.picks.set(keyOf(loc.match), { loc, extra: false, length: 0, order: order++ });
  }

  // TLS: the first Ingress (oldest) naming a host in spec.tls gives that host its certificate.
  for (const ing of served) {
    for (const t of ing.spec?.tls ?? []) {
      for (const h of t.hosts ?? []) {
        const e = servers.get(h.toLowerCase());
        if (!e || e.server.tls) continue;
        if (!t.secretName) {
          e.server.tls = { certificate: defaultCertificate };
          continue;
        }
        const key = `${ing.metadata.namespace}/${t.secretName}`;
        const sec = s.secrets.find((x) => `${x.metadata.namespace}/${x.metadata.name}` === key);
        const got = sec ? decodeSecret(sec) : { error: `Secret ${key} not found` };
        if ('error' in got) {
          problems.push({ ingress: refOf(ing), reason: 'InvalidCertificate', message: `${got.error}; host ${h} is served with the controller's default certificate`, skipped: false });
          e.server.tls = { secret: key, certificate: defaultCertificate };
          continue;
        }
        const certKey = key.replace('/', '-');
        certificates.set(certKey, got);
        e.server.tls = { secret: key, certificate: certKey };
      }
    }
  }

  for (const { server, picks } of servers.values()) {
    const locs = [...picks.values()].sort((a, b) => a.order - b.order).map((c) => c.loc);
    for (const l of locs) l.sslRedirect = l.config.forceSslRedirect || (server.tls !== undefined && l.config.sslRedirect !== false);
    // regex locations are tried in order: longest path first (ingress-nginx's order)
    server.locations = server.regex ? [...locs].sort((a, b) => b.match.pattern.length - a.match.pattern.length) : locs;
  }
  const list = [...servers.values()].map((e) => e.server);
  list.sort((a, b) => (a.hostname === catchAll ? -1 : b.hostname === catchAll ? 1 : a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
  return { servers: list, upstreams, certificates, served, problems, ignored };
}
