// The defaults the Gateway API CRDs' structural schemas give (`+kubebuilder:default` in
// apis/v1), applied as the API server would on write, so a file written as a user applies it
// reads like the stored object. Returns new objects (copied along the defaulted paths only, for
// speed with thousands of routes); the input is left alone.
import { gatewayGroup, type Gateway, type HTTPBackendRef, type HTTPRoute, type HTTPRouteFilter, type HTTPRouteMatch, type HTTPRouteRule, type Listener } from './types.ts';

const rootPrefix = () => ({ type: 'PathPrefix', value: '/' });

function defaultListener(l: Listener): Listener {
  const ar = l.allowedRoutes ?? {};
  return {
    ...l,
    allowedRoutes: {
      ...ar,
      namespaces: { ...ar.namespaces, from: ar.namespaces?.from ?? 'Same' },
      ...(ar.kinds ? { kinds: ar.kinds.map((k) => ({ ...k, group: k.group ?? gatewayGroup })) } : {}),
    },
    ...(l.tls
      ? { tls: { ...l.tls, mode: l.tls.mode ?? 'Terminate', ...(l.tls.certificateRefs ? { certificateRefs: l.tls.certificateRefs.map((c) => ({ ...c, group: c.group ?? '', kind: c.kind ?? 'Secret' })) } : {}) } }
      : {}),
  };
}

export function defaultGateway(g: Gateway): Gateway {
  return { ...g, spec: { ...g.spec, listeners: (g.spec?.listeners ?? []).map(defaultListener) } };
}

function defaultFilters(fs: HTTPRouteFilter[] | undefined): HTTPRouteFilter[] | undefined {
  return fs?.map((f) => (f.type === 'RequestRedirect' && f.requestRedirect ? { ...f, requestRedirect: { ...f.requestRedirect, statusCode: f.requestRedirect.statusCode ?? 302 } } : f));
}

function defaultMatch(m: HTTPRouteMatch): HTTPRouteMatch {
  return {
    ...m,
    path: { type: m.path?.type ?? 'PathPrefix', value: m.path?.value ?? '/' },
    ...(m.headers ? { headers: m.headers.map((h) => ({ ...h, type: h.type ?? 'Exact' })) } : {}),
    ...(m.queryParams ? { queryParams: m.queryParams.map((q) => ({ ...q, type: q.type ?? 'Exact' })) } : {}),
  };
}

function defaultBackendRef(b: HTTPBackendRef): HTTPBackendRef {
  const filters = defaultFilters(b.filters);
  return { ...b, group: b.group ?? '', kind: b.kind ?? 'Service', weight: b.weight ?? 1, ...(filters ? { filters } : {}) };
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
      ...(spec.parentRefs ? { parentRefs: spec.parentRefs.map((p) => ({ ...p, group: p.group ?? gatewayGroup, kind: p.kind ?? 'Gateway' })) } : {}),
      // rules: [{matches: [{path: {type: PathPrefix, value: /}}]}]
      rules: (spec.rules ?? [{}]).map(defaultRule),
    },
  };
}
