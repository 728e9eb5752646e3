// A Gateway's listeners and HTTPRoutes laid into the Ingress controller's nginx model, so one
// template and one Lua balancer serve both: each listener is an nginx server on its own port
// (server_name its hostname; without one, the port's default server), whose one location hands
// the request to the Lua code with the listener's route matches in precedence order (the order
// compareCandidates gives, the Host's specificity decided per request). Upstreams and their
// endpoints are the Ingress model's. Where each Gateway has its own Service (provision.ts), a
// listener's server listens on its Gateway's target port for the listener port instead, so
// Gateways never share an nginx port. Also each listener's status (Accepted, Conflicted,
// ResolvedRefs, Programmed and attachedRoutes). Pure.
import { defaultConfig } from '../ingress/annotations.ts';
import { byAge, catchAll, decodeSecret, resolveUpstream, type Certificate, type HeaderEdit, type Location, type PathEdit, type RouteChoice, type RouteFilter, type Secret, type Server, type Upstream, type ValueMatch } from '../ingress/model.ts';
import type { EndpointSlice, Service } from '../api/types.ts';
import { compareCandidates, type Candidate } from './match.ts';
import type { GatewayModel, ListenerModel, Model } from './model.ts';
import type { TargetPorts } from './provision.ts';
import { gatewayGroup, type HTTPHeaderFilter, type HTTPHeaderMatch, type HTTPPathModifier, type HTTPRouteFilter, type ReferenceGrant } from './types.ts';

export interface ListenerCondition {
  type: 'Accepted' | 'Conflicted' | 'ResolvedRefs' | 'Programmed';
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface ListenerStatus {
  name: string;
  supportedKinds: { group: string; kind: string }[];
  attachedRoutes: number;
  conditions: ListenerCondition[];
}

export interface DataPlaneModel {
  servers: Server[];
  upstreams: Map<string, Upstream>;
  certificates: Map<string, Certificate>;
  /** by Gateway "namespace/name", in the order of spec.listeners */
  listeners: Map<string, ListenerStatus[]>;
}

export interface DataPlaneInput {
  /** the Gateways of this controller's classes (oldest first: an older listener wins a conflict) */
  model: Model;
  services: Service[];
  slices: EndpointSlice[];
  secrets: Secret[];
  grants: ReferenceGrant[];
  /** the ports the data plane's Service offers (undefined: any) */
  ports?: number[];
  /**
   * each Gateway's listener port → nginx's port, where every Gateway has a Service of its own
   * (provision.ts): conflicts are then between one Gateway's listeners only
   */
  targetPorts?: TargetPorts;
}

const anyHost = { name: '*', exactChars: 0, chars: 0 };

/** Each header or query name's first entry, as the matching does. */
function values(ms: HTTPHeaderMatch[] | undefined, fold: boolean): ValueMatch[] {
  const seen = new Set<string>();
  const out: ValueMatch[] = [];
  for (const m of ms ?? []) {
    const name = fold ? m.name.toLowerCase() : m.name;
    if (seen.has(name)) continue;
    seen.add(name);
    out.push({ name, regex: m.type === 'RegularExpression', value: m.value });
  }
  return out;
}

const headerEdit = (f: HTTPHeaderFilter): HeaderEdit => ({
  set: (f.set ?? []).map((h) => [h.name.toLowerCase(), h.value]),
  add: (f.add ?? []).map((h) => [h.name.toLowerCase(), h.value]),
  remove: (f.remove ?? []).map((n) => n.toLowerCase()),
});

const pathEdit = (p: HTTPPathModifier | undefined): PathEdit | undefined => (!p ? undefined : p.type === 'ReplaceFullPath' ? { full: p.replaceFullPath ?? '/' } : { prefix: p.replacePrefixMatch ?? '' });

export function filterOf(f: HTTPRouteFilter): RouteFilter {
  switch (f.type) {
    case 'RequestHeaderModifier':
      return { type: 'request-headers', ...headerEdit(f.requestHeaderModifier ?? {}) };
    case 'ResponseHeaderModifier':
      return { type: 'response-headers', ...headerEdit(f.responseHeaderModifier ?? {}) };
    case 'URLRewrite': {
      const path = pathEdit(f.urlRewrite?.path);
      return { type: 'rewrite', ...(f.urlRewrite?.hostname !== undefined ? { hostname: f.urlRewrite.hostname } : {}), ...(path ? { path } : {}) };
    }
    default: {
      const r = f.requestRedirect ?? {};
      const path = pathEdit(r.path);
      return { type: 'redirect', ...(r.scheme ? { scheme: r.scheme } : {}), ...(r.hostname ? { hostname: r.hostname } : {}), ...(r.port !== undefined ? { port: r.port } : {}), ...(path ? { path } : {}), statusCode: r.statusCode ?? 302 };
    }
  }
}

/** A listener's route matches, in the spec's precedence with the Host left to the request. */
export function listenerChoices(l: ListenerModel, upstreamOf: (ns: string, svc: string, port: number) => string): RouteChoice[] {
  const cands: { c: Candidate; hostnames: string[] }[] = [];
  for (const a of l.attached) {
    for (const rule of a.route.rules) {
      if (rule.invalid) continue;
      for (const [mi] of rule.rule.matches!.entries()) cands.push({ c: { route: a.route, rule: rule.index, match: mi, host: anyHost }, hostnames: a.hostnames ?? [] });
    }
  }
  cands.sort((x, y) => compareCandidates(x.c, y.c).order);
  return cands.map(({ c, hostnames }) => {
    const rule = c.route.rules[c.rule]!;
    const m = rule.rule.matches![c.match]!;
    return {
      namespace: c.route.route.metadata.namespace!,
      name: c.route.route.metadata.name!,
      rule: c.rule,
      hostnames,
      path: { type: m.path!.type as RouteChoice['path']['type'], value: m.path!.value! },
      ...(m.method !== undefined ? { method: m.method } : {}),
      headers: values(m.headers, true),
      query: values(m.queryParams, false),
      filters: (rule.rule.filters ?? []).map(filterOf),
      backends: rule.backends.map((b) => ({
        ...(b.service ? { upstream: upstreamOf(b.service.namespace, b.service.name, b.service.port) } : {}),
        service: b.ref.name,
        port: b.ref.port ?? 0,
        weight: b.ref.weight ?? 1,
        filters: (b.ref.filters ?? []).map(filterOf),
      })),
    };
  });
}

const cond = (type: ListenerCondition['type'], ok: boolean, reason: string, message: string): ListenerCondition => ({ type, status: ok ? 'True' : 'False', reason, message });

/** A Secret in another namespace needs a ReferenceGrant there from Gateways of the Gateway's namespace. */
function secretGranted(grants: ReferenceGrant[], fromNamespace: string, ns: string, name: string): boolean {
  return grants.some(
    (g) =>
      g.metadata.namespace === ns &&
      (g.spec?.from ?? []).some((f) => f.group === gatewayGroup && f.kind === 'Gateway' && f.namespace === fromNamespace) &&
      (g.spec?.to ?? []).some((t) => (t.group ?? '') === '' && t.kind === 'Secret' && (!t.name || t.name === name)),
  );
}

/** The servers, upstreams and certificates of every Gateway, and each listener's status. */
export function buildDataPlane(input: DataPlaneInput): DataPlaneModel {
  const upstreams = new Map<string, Upstream>();
  const certificates = new Map<string, Certificate>();
  const ingressView = { ingresses: [], classes: [], services: input.services, slices: input.slices, secrets: [] };
  const upstreamOf = (ns: string, svc: string, port: number): string => {
    const u = resolveUpstream(ingressView, ns, { service: { name: svc, port: { number: port } } }, defaultConfig);
    if (!upstreams.has(u.name)) upstreams.set(u.name, u);
    return u.name;
  };
  const servers: Server[] = [];
  const listeners = new Map<string, ListenerStatus[]>();
  /** "port host" taken, and whether each port is TLS (nginx's ports) */
  const taken = new Map<string, string>();
  const portTLS = new Map<number, boolean>();
  const defaults = new Set<number>();
  /** nginx's port → the listener port clients ask for, where they differ */
  const publicPort = new Map<number, number>();
  const gws = [...input.model.gateways.values()].sort((a, b) => byAge(a.gateway, b.gateway));
  for (const gw of gws) {
    const out: ListenerStatus[] = [];
    for (const l of gw.listeners) out.push(listenerServer(gw, l));
    listeners.set(gw.key, out);
  }
  // a port without a listener of no hostname answers other names 404 (its default server)
  for (const [port, tls] of portTLS) {
    if (defaults.has(port)) continue;
    const pub = publicPort.get(port);
    servers.push({ hostname: catchAll, listen: { port, tls, ...(pub !== undefined ? { publicPort: pub } : {}) }, ...(tls ? { tls: { certificate: 'default' } } : {}), regex: false, locations: [notFound()] });
  }
  servers.sort((a, b) => a.listen!.port - b.listen!.port || (a.hostname === catchAll ? -1 : b.hostname === catchAll ? 1 : a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
  return { servers, upstreams, certificates, listeners };

  function listenerServer(gw: GatewayModel, lm: ListenerModel): ListenerStatus {
    const l = lm.listener;
    const kinds = l.allowedRoutes?.kinds ?? [];
    const supported = kinds.length ? kinds.filter((k) => (k.group ?? gatewayGroup) === gatewayGroup && k.kind === 'HTTPRoute') : [{ kind: 'HTTPRoute' }];
    const status: ListenerStatus = { name: l.name, supportedKinds: supported.map((k) => ({ group: gatewayGroup, kind: k.kind })), attachedRoutes: lm.attached.length, conditions: [] };
    const fail = (accepted: ListenerCondition, conflicted: ListenerCondition, resolved: ListenerCondition): ListenerStatus => {
      status.conditions = [accepted, conflicted, resolved, cond('Programmed', false, 'Invalid', `listener ${l.name} is not programmed: ${[accepted, conflicted, resolved].find((c) => c.reason !== 'Accepted' && c.reason !== 'NoConflicts' && c.reason !== 'ResolvedRefs')?.message}`)];
      return status;
    };
    const noConflict = cond('Conflicted', false, 'NoConflicts', 'no conflicts');
    const resolved = cond('ResolvedRefs', true, 'ResolvedRefs', 'all references are resolved');
    const tls = l.protocol === 'HTTPS';
    if (!(l.protocol === 'HTTP' || (tls && (l.tls?.mode ?? 'Terminate') === 'Terminate'))) {
      return fail(cond('Accepted', false, 'UnsupportedProtocol', `protocol ${l.protocol}${l.tls?.mode ? ` (TLS mode ${l.tls.mode})` : ''} is not supported; HTTP and HTTPS (Terminate) are`), noConflict, resolved);
    }
    if (input.ports && !input.ports.includes(l.port)) {
      return fail(cond('Accepted', false, 'PortUnavailable', `port ${l.port} is not offered by the data plane's Service (ports ${input.ports.join(', ')})`), noConflict, resolved);
    }
    const port = input.targetPorts ? input.targetPorts.get(gw.key)?.get(l.port) : l.port;
    if (port === undefined) return fail(cond('Accepted', false, 'PortUnavailable', `no port is left in the data plane for port ${l.port}`), noConflict, resolved);
    if (kinds.length && !supported.length) {
      return fail(cond('Accepted', true, 'Accepted', 'listener accepted'), noConflict, cond('ResolvedRefs', false, 'InvalidRouteKinds', `allowedRoutes.kinds names no kind this controller serves (HTTPRoute)`));
    }
    const host = l.hostname?.toLowerCase() ?? '';
    const key = `${port} ${host}`;
    if (portTLS.has(port) && portTLS.get(port) !== tls) {
      return fail(cond('Accepted', true, 'Accepted', 'listener accepted'), cond('Conflicted', true, 'ProtocolConflict', `port ${l.port} is served with ${tls ? 'HTTP' : 'HTTPS'} by another listener`), resolved);
    }
    if (taken.has(key)) {
      return fail(cond('Accepted', true, 'Accepted', 'listener accepted'), cond('Conflicted', true, 'HostnameConflict', `port ${l.port} hostname ${host || '(none)'} is taken by ${taken.get(key)}`), resolved);
    }
    let certificate: string | undefined;
    if (tls) {
      const ref = l.tls?.certificateRefs?.[0];
      const ns = ref?.namespace ?? gw.gateway.metadata.namespace!;
      const bad = (reason: string, message: string) => fail(cond('Accepted', true, 'Accepted', 'listener accepted'), noConflict, cond('ResolvedRefs', false, reason, message));
      if (!ref || (ref.group ?? '') !== '' || (ref.kind ?? 'Secret') !== 'Secret') return bad('InvalidCertificateRef', 'an HTTPS listener needs a certificateRef to a core Secret');
      if (ns !== gw.gateway.metadata.namespace && !secretGranted(input.grants, gw.gateway.metadata.namespace!, ns, ref.name)) return bad('RefNotPermitted', `Secret ${ns}/${ref.name} is in another namespace and no ReferenceGrant there allows it`);
      const sec = input.secrets.find((s) => s.metadata.namespace === ns && s.metadata.name === ref.name);
      const got = sec ? decodeSecret(sec) : { error: `Secret ${ns}/${ref.name} not found` };
      if ('error' in got) return bad('InvalidCertificateRef', got.error);
      certificate = `${ns}-${ref.name}`;
      certificates.set(certificate, got);
    }
    taken.set(key, `listener ${l.name} of Gateway ${gw.key}`);
    portTLS.set(port, tls);
    if (port !== l.port) publicPort.set(port, l.port);
    if (!host) defaults.add(port);
    const routes = listenerChoices(lm, upstreamOf);
    const location: Location = { match: { kind: 'prefix', pattern: '/' }, config: defaultConfig, sslRedirect: false, routes };
    servers.push({ hostname: host || catchAll, listen: { port, tls, ...(port !== l.port ? { publicPort: l.port } : {}) }, anyDepthWildcard: true, ...(certificate ? { tls: { secret: certificate, certificate } } : {}), regex: false, locations: routes.length ? [location] : [notFound()] });
    status.conditions = [cond('Accepted', true, 'Accepted', 'listener accepted'), noConflict, resolved, cond('Programmed', true, 'Programmed', `served by nginx on port ${port}`)];
    return status;
  }
}

const notFound = (): Location => ({ match: { kind: 'prefix', pattern: '/' }, config: defaultConfig, sslRedirect: false });
