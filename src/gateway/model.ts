// What a Gateway controller computes before any request arrives: the CRD defaults applied, each
// HTTPRoute's parentRefs attached to Listeners (sectionName, port, allowedRoutes kinds and
// namespaces, hostname intersection), each backendRef resolved (kind, ReferenceGrant, Service and
// port), invalid rules dropped, and every route's per-parent status conditions with the spec's
// reasons. Pure: the same object serves `podpath gateway route` and a controller.
import { fromLabelSelector, matches } from '../api/labels.ts';
import type { EndpointSlice, Namespace, Service } from '../api/types.ts';
import { defaultGateway, defaultHTTPRoute } from './defaults.ts';
import { intersect } from './hostnames.ts';
import { gatewayGroup, type Gateway, type GatewayClass, type HTTPBackendRef, type HTTPRoute, type HTTPRouteRule, type Listener, type ParentReference, type ReferenceGrant, type RouteCondition } from './types.ts';

export interface GatewayState {
  namespaces: Namespace[];
  services: Service[];
  slices: EndpointSlice[];
  classes: GatewayClass[];
  gateways: Gateway[];
  routes: HTTPRoute[];
  grants: ReferenceGrant[];
}

/** "namespace/name" */
export const keyOf = (o: { metadata: { namespace?: string; name?: string } }) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;

export interface Backend {
  ref: HTTPBackendRef;
  namespace: string;
  /** set when the reference resolves to a Service port */
  service?: { namespace: string; name: string; port: number };
  /** why it does not resolve: ResolvedRefs's reason and message */
  problem?: { reason: 'InvalidKind' | 'RefNotPermitted' | 'BackendNotFound'; message: string };
}

export interface RuleModel {
  index: number;
  rule: HTTPRouteRule;
  backends: Backend[];
  /** why the rule is dropped (the route's other rules still serve) */
  invalid?: { reason: 'UnsupportedValue' | 'IncompatibleFilters'; message: string };
}

export interface RouteParentStatus {
  parentRef: ParentReference;
  conditions: RouteCondition[];
}

export interface RouteModel {
  route: HTTPRoute;
  key: string;
  rules: RuleModel[];
  parents: RouteParentStatus[];
}

export interface Attachment {
  route: RouteModel;
  /** the names it serves on this listener (undefined: every name) */
  hostnames: string[] | undefined;
  /** the parentRef (index in spec.parentRefs) that attached it */
  parentRef: number;
}

export interface ListenerModel {
  listener: Listener;
  attached: Attachment[];
}

export interface GatewayModel {
  gateway: Gateway;
  key: string;
  listeners: ListenerModel[];
  /** the status each HTTPRoute with a parentRef to this Gateway gets from it */
  routes: { route: string; parents: RouteParentStatus[] }[];
}

export interface Model {
  gateways: Map<string, GatewayModel>;
  routes: RouteModel[];
}

const pathTypes = new Set(['Exact', 'PathPrefix', 'RegularExpression']);
const valueTypes = new Set(['Exact', 'RegularExpression']);
const methods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
const supportedFilters = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite']);

/** RE2 patterns are read as JavaScript ones, anchored at both ends (a full match, as Envoy's safe_regex). */
export function compileRegex(pattern: string): RegExp | undefined {
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch {
    return undefined;
  }
}

/** Why a rule cannot be programmed, as the spec names it; undefined when it can. */
function ruleProblem(rule: HTTPRouteRule): RuleModel['invalid'] {
  const filters = [...(rule.filters ?? []), ...(rule.backendRefs ?? []).flatMap((b) => b.filters ?? [])];
  for (const f of filters) if (!supportedFilters.has(f.type)) return { reason: 'UnsupportedValue', message: `filter type ${f.type} is not supported` };
  const types = new Set((rule.filters ?? []).map((f) => f.type));
  if (types.has('RequestRedirect') && types.has('URLRewrite')) return { reason: 'IncompatibleFilters', message: 'RequestRedirect and URLRewrite filters cannot be combined' };
  for (const m of rule.matches ?? []) {
    if (!pathTypes.has(m.path!.type!)) return { reason: 'UnsupportedValue', message: `path match type ${m.path!.type} is not supported` };
    if (m.path!.type === 'RegularExpression' && !compileRegex(m.path!.value!)) return { reason: 'UnsupportedValue', message: `path regular expression ${JSON.stringify(m.path!.value)} does not compile` };
    for (const h of [...(m.headers ?? []), ...(m.queryParams ?? [])]) {
      if (!valueTypes.has(h.type!)) return { reason: 'UnsupportedValue', message: `match type ${h.type} of ${h.name} is not supported` };
      if (h.type === 'RegularExpression' && !compileRegex(h.value)) return { reason: 'UnsupportedValue', message: `regular expression ${JSON.stringify(h.value)} of ${h.name} does not compile` };
    }
    if (m.method !== undefined && !methods.has(m.method)) return { reason: 'UnsupportedValue', message: `method ${m.method} is not supported` };
  }
  for (const f of rule.filters ?? []) {
    const p = f.requestRedirect?.path ?? f.urlRewrite?.path;
    if (p?.type === 'ReplacePrefixMatch' && (rule.matches ?? []).some((m) => m.path!.type !== 'PathPrefix')) {
      return { reason: 'UnsupportedValue', message: 'ReplacePrefixMatch is only compatible with a PathPrefix match' };
    }
    if (p && p.type !== 'ReplacePrefixMatch' && p.type !== 'ReplaceFullPath') return { reason: 'UnsupportedValue', message: `path modifier type ${p.type} is not supported` };
    const code = f.requestRedirect?.statusCode;
    if (code !== undefined && ![301, 302, 303, 307, 308].includes(code)) return { reason: 'UnsupportedValue', message: `redirect status code ${code} is not supported` };
    const scheme = f.requestRedirect?.scheme;
    if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') return { reason: 'UnsupportedValue', message: `redirect scheme ${scheme} is not supported` };
  }
  return undefined;
}

interface Index {
  services: Map<string, Service>;
  grants: Map<string, ReferenceGrant[]>;
  namespaces: Map<string, Namespace>;
}

/** A ReferenceGrant in the target's namespace lets HTTPRoutes of `from` reference the Service. */
export function referenceGranted(grants: ReferenceGrant[], fromNamespace: string, service: string): boolean {
  return grants.some(
    (g) =>
      (g.spec?.from ?? []).some((f) => f.group === gatewayGroup && f.kind === 'HTTPRoute' && f.namespace === fromNamespace) &&
      (g.spec?.to ?? []).some((t) => (t.group ?? '') === '' && t.kind === 'Service' && (!t.name || t.name === service)),
  );
}

function resolveBackend(ix: Index, routeNamespace: string, ref: HTTPBackendRef): Backend {
  const namespace = ref.namespace ?? routeNamespace;
  const where = `${namespace}/${ref.name}`;
  if (ref.group !== '' || ref.kind !== 'Service') {
    return { ref, namespace, problem: { reason: 'InvalidKind', message: `backendRef ${where} has group ${JSON.stringify(ref.group)} kind ${ref.kind}; only core Services are supported` } };
  }
  if (namespace !== routeNamespace && !referenceGranted(ix.grants.get(namespace) ?? [], routeNamespace, ref.name)) {
    return { ref, namespace, problem: { reason: 'RefNotPermitted', message: `backendRef Service ${where} is in another namespace and no ReferenceGrant in ${namespace} allows it` } };
  }
  const svc = ix.services.get(where);
  if (!svc) return { ref, namespace, problem: { reason: 'BackendNotFound', message: `Service ${where} not found` } };
  if (!(svc.spec?.ports ?? []).some((p) => p.port === ref.port)) {
    return { ref, namespace, problem: { reason: 'BackendNotFound', message: `Service ${where} has no port ${ref.port}` } };
  }
  return { ref, namespace, service: { namespace, name: ref.name, port: ref.port! } };
}

function namespaceLabels(ix: Index, ns: string): Record<string, string> {
  // the API server gives every namespace this label
  return { ...(ix.namespaces.get(ns)?.metadata.labels ?? {}), 'kubernetes.io/metadata.name': ns };
}

/** The route kinds a listener takes: allowedRoutes.kinds, else those its protocol carries. */
function kindAllowed(l: Listener): boolean {
  const kinds = l.allowedRoutes?.kinds ?? [];
  if (kinds.length) return kinds.some((k) => (k.group ?? gatewayGroup) === gatewayGroup && k.kind === 'HTTPRoute');
  return l.protocol === 'HTTP' || (l.protocol === 'HTTPS' && (l.tls?.mode ?? 'Terminate') === 'Terminate');
}

function namespaceAllowed(ix: Index, l: Listener, gatewayNamespace: string, routeNamespace: string): boolean {
  const ns = l.allowedRoutes?.namespaces;
  switch (ns?.from ?? 'Same') {
    case 'All':
      return true;
    case 'Same':
      return routeNamespace === gatewayNamespace;
    case 'Selector':
      return matches(fromLabelSelector(ns?.selector), namespaceLabels(ix, routeNamespace));
    default:
      return false;
  }
}

const cond = (type: RouteCondition['type'], ok: boolean, reason: string, message: string): RouteCondition => ({ type, status: ok ? 'True' : 'False', reason, message });

/** Where the parentRef lands on the Gateway: the Listeners it attaches to, or why none. */
function attach(ix: Index, gw: GatewayModel, route: HTTPRoute, p: ParentReference): { listeners: [ListenerModel, string[] | undefined][] } | { reason: string; message: string } {
  const named = gw.listeners.filter((l) => (p.sectionName === undefined || l.listener.name === p.sectionName) && (p.port === undefined || l.listener.port === p.port));
  const what = [p.sectionName !== undefined ? `sectionName ${p.sectionName}` : '', p.port !== undefined ? `port ${p.port}` : ''].filter(Boolean).join(' and ');
  if (!named.length) return { reason: 'NoMatchingParent', message: `Gateway ${gw.key} has no listener with ${what}` };
  const ns = route.metadata.namespace!;
  const allowed = named.filter((l) => kindAllowed(l.listener) && namespaceAllowed(ix, l.listener, gw.gateway.metadata.namespace!, ns));
  if (!allowed.length) return { reason: 'NotAllowedByListeners', message: `no listener of Gateway ${gw.key}${what ? ` with ${what}` : ''} allows HTTPRoutes from namespace ${ns}` };
  const hosted = allowed.map((l) => [l, intersect(l.listener.hostname, route.spec.hostnames)] as [ListenerModel, string[] | undefined]).filter(([, h]) => h === undefined || h.length > 0);
  if (!hosted.length) return { reason: 'NoMatchingListenerHostname', message: `no hostname of the route intersects the hostnames of the listeners of Gateway ${gw.key} (${allowed.map((l) => l.listener.hostname ?? '*').join(', ')})` };
  return { listeners: hosted };
}

export function buildModel(s: GatewayState): Model {
  const ix: Index = {
    services: new Map(s.services.map((x) => [keyOf(x), x])),
    grants: new Map(),
    namespaces: new Map(s.namespaces.map((n) => [n.metadata.name!, n])),
  };
  for (const g of s.grants) {
    const ns = g.metadata.namespace!;
    ix.grants.set(ns, [...(ix.grants.get(ns) ?? []), g]);
  }
  const gateways = new Map<string, GatewayModel>();
  for (const raw of s.gateways) {
    const gateway = defaultGateway(raw);
    gateways.set(keyOf(gateway), { gateway, key: keyOf(gateway), listeners: (gateway.spec?.listeners ?? []).map((listener) => ({ listener, attached: [] })), routes: [] });
  }
  const routes: RouteModel[] = [];
  for (const raw of s.routes) {
    const route = defaultHTTPRoute(raw);
    const ns = route.metadata.namespace!;
    const rules: RuleModel[] = route.spec.rules!.map((rule, index) => {
      const invalid = ruleProblem(rule);
      return { index, rule, backends: (rule.backendRefs ?? []).map((b) => resolveBackend(ix, ns, b)), ...(invalid ? { invalid } : {}) };
    });
    const rm: RouteModel = { route, key: keyOf(route), rules, parents: [] };
    const problems = rules.flatMap((r) => r.backends.flatMap((b) => (b.problem ? [b.problem] : [])));
    const resolved = problems.length ? cond('ResolvedRefs', false, problems[0]!.reason, problems.map((p) => p.message).join('; ')) : cond('ResolvedRefs', true, 'ResolvedRefs', 'all references are resolved');
    const dropped = rules.filter((r) => r.invalid);
    const on = new Set<ListenerModel>(); // listeners it is attached to already (by another parentRef)
    for (const [i, p] of (route.spec.parentRefs ?? []).entries()) {
      if (p.group !== gatewayGroup || p.kind !== 'Gateway') continue; // another kind of parent: not a Gateway controller's
      const gw = gateways.get(`${p.namespace ?? ns}/${p.name}`);
      if (!gw) continue; // no Gateway of this file: nobody to write status
      const a = attach(ix, gw, route, p);
      let accepted: RouteCondition;
      const extra: RouteCondition[] = [];
      if ('reason' in a) accepted = cond('Accepted', false, a.reason, a.message);
      else if (dropped.length === rules.length) accepted = cond('Accepted', false, dropped[0]!.invalid!.reason, dropped.map((r) => `rule ${r.index}: ${r.invalid!.message}`).join('; '));
      else {
        accepted = cond('Accepted', true, 'Accepted', `attached to listener ${a.listeners.map(([l]) => l.listener.name).join(', ')} of Gateway ${gw.key}`);
        if (dropped.length) extra.push(cond('PartiallyInvalid', true, dropped[0]!.invalid!.reason, `Dropped Rule ${dropped.map((r) => `${r.index}: ${r.invalid!.message}`).join('; ')}`));
        for (const [l, hostnames] of a.listeners) {
          if (on.has(l)) continue;
          on.add(l);
          l.attached.push({ route: rm, hostnames, parentRef: i });
        }
      }
      const status = { parentRef: p, conditions: [accepted, resolved, ...extra] };
      rm.parents.push(status);
      const last = gw.routes.at(-1);
      if (last?.route === rm.key) last.parents.push(status);
      else gw.routes.push({ route: rm.key, parents: [status] });
    }
    routes.push(rm);
  }
  return { gateways, routes };
}
