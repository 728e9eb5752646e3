// The defaults the Gateway API CRDs' structural schemas give (`+kubebuilder:default` in
// apis/v1), applied as the API server would on write, so a file written as a user applies it
// reads like the stored object. Returns new objects (copied along the defaulted paths only, for
// speed with thousands of routes); the input is left alone.
import { gatewayGroup, type Gateway, type HTTPBackendRef, type HTTPRoute, type HTTPRouteFilter, type HTTPRouteMatch, type HTTPRouteRule, type Listener } from './types.ts';

/** The default values the spec sets (crds.ts writes them into the CRDs' schemas, the functions below apply them offline). */
export const specDefaults = {
  pathMatch: { type: 'PathPrefix', value: '/' },
  headerMatchType: 'Exact',
  routeNamespacesFrom: 'Same',
  tlsMode: 'Terminate',
  redirectStatusCode: 302,
  backendWeight: 1,
  backendGroup: '',
  backendKind: 'Service',
  secretKind: 'Secret',
  parentKind: 'Gateway',
  addressType: 'IPAddress',
  mirrorDenominator: 100,
} as const;

const rootPrefix = () => ({ ...specDefaults.pathMatch });

function defaultListener(l: Listener): Listener {
  const ar = l.allowedRoutes ?? {};
  return {
    ...l,
    allowedRoutes: {
      ...ar,
      namespaces: { ...ar.namespaces, from: ar.namespaces?.from ?? specDefaults.routeNamespacesFrom },
      ...(ar.kinds ? { kinds: ar.kinds.map((k) => ({ ...k, group: k.group ?? gatewayGroup })) } : {}),
    },
    ...(l.tls
      ? { tls: { ...l.tls, mode: l.tls.mode ?? specDefaults.tlsMode, ...(l.tls.certificateRefs ? { certificateRefs: l.tls.certificateRefs.map((c) => ({ ...c, group: c.group ?? specDefaults.backendGroup, kind: c.kind ?? specDefaults.secretKind })) } : {}) } }
      : {}),
  };
}

export function defaultGateway(g: Gateway): Gateway {
  return { ...g, spec: { ...g.spec, listeners: (g.spec?.listeners ?? []).map(defaultListener) } };
}

function defaultFilters(fs: HTTPRouteFilter[] | undefined): HTTPRouteFilter[] | undefined {
  return fs?.map((f) => (f.type === 'RequestRedirect' && f.requestRedirect ? { ...f, requestRedirect: { ...f.requestRedirect, statusCode: f.requestRedirect.statusCode ?? specDefaults.redirectStatusCode } } : f));
}

function defaultMatch(m: HTTPRouteMatch): HTTPRouteMatch {
  return {
    ...m,
    path: { type: m.path?.type ?? specDefaults.pathMatch.type, value: m.path?.value ?? specDefaults.pathMatch.value },
    ...(m.headers ? { headers: m.headers.map((h) => ({ ...h, type: h.type ?? specDefaults.headerMatchType })) } : {}),
    ...(m.queryParams ? { queryParams: m.queryParams.map((q) => ({ ...q, type: q.type ?? specDefaults.headerMatchType })) } : {}),
  };
}

function defaultBackendRef(b: HTTPBackendRef): HTTPBackendRef {
  const filters = defaultFilters(b.filters);
  return { ...b, group: b.group ?? specDefaults.backendGroup, kind: b.kind ?? specDefaults.backendKind, weight: b.weight ?? specDefaults.backendWeight, ...(filters ? { filters } : {}) };
}

function defaultRule(rule: HTTPRouteRule): HTTPRouteRule {
  const filters = defaultFilters(rule.filters);
  return {
    ...rule,
    // an empty list is read as the documented "no matches": every request
    matches: rule.matches?.length ? rule.matches.map(defaultMatch) : [{ path: rootPrefix() }],
    ...(filters ? { filters } : {}),
    ...(rule.backendRefs ? { backendRefs: rule.backendRefs.map(defaultBackendRef) } : {}),
  };
}

export function defaultHTTPRoute(r: HTTPRoute): HTTPRoute {
  const spec = r.spec ?? {};
  return {
    ...r,
    spec: {
      ...spec,
      ...(spec.parentRefs ? { parentRefs: spec.parentRefs.map((p) => ({ ...p, group: p.group ?? gatewayGroup, kind: p.kind ?? specDefaults.parentKind })) } : {}),
      // rules: [{matches: [{path: {type: PathPrefix, value: /}}]}]
      rules: (spec.rules ?? [{}]).map(defaultRule),
    },
  };
}
