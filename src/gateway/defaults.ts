// The defaults the Gateway API CRDs' structural schemas give (`+kubebuilder:default` in
// apis/v1), applied as the API server would on write, so a file written as a user applies it
// reads like the stored object. Returns new objects; the input is left alone.
import { clone } from '../api/types.ts';
import { gatewayGroup, type Gateway, type HTTPBackendRef, type HTTPRoute, type HTTPRouteFilter, type HTTPRouteMatch } from './types.ts';

const rootPrefix = () => ({ type: 'PathPrefix', value: '/' });

export function defaultGateway(g: Gateway): Gateway {
  const out = clone(g);
  for (const l of out.spec?.listeners ?? []) {
    l.allowedRoutes ??= {};
    l.allowedRoutes.namespaces ??= {};
    l.allowedRoutes.namespaces.from ??= 'Same';
    for (const k of l.allowedRoutes.kinds ?? []) k.group ??= gatewayGroup;
    if (l.tls) {
      l.tls.mode ??= 'Terminate';
      for (const c of l.tls.certificateRefs ?? []) {
        c.group ??= '';
        c.kind ??= 'Secret';
      }
    }
  }
  return out;
}

function defaultFilters(fs: HTTPRouteFilter[] | undefined): void {
  for (const f of fs ?? []) if (f.type === 'RequestRedirect' && f.requestRedirect) f.requestRedirect.statusCode ??= 302;
}

function defaultMatch(m: HTTPRouteMatch): void {
  m.path ??= rootPrefix();
  m.path.type ??= 'PathPrefix';
  m.path.value ??= '/';
  for (const h of m.headers ?? []) h.type ??= 'Exact';
  for (const q of m.queryParams ?? []) q.type ??= 'Exact';
}

function defaultBackendRef(b: HTTPBackendRef): void {
  b.group ??= '';
  b.kind ??= 'Service';
  b.weight ??= 1;
  defaultFilters(b.filters);
}

export function defaultHTTPRoute(r: HTTPRoute): HTTPRoute {
  const out = clone(r);
  out.spec ??= {};
  for (const p of out.spec.parentRefs ?? []) {
    p.group ??= gatewayGroup;
    p.kind ??= 'Gateway';
  }
  // rules: [{matches: [{path: {type: PathPrefix, value: /}}]}]; a rule's matches likewise (an
  // empty list is read as the documented "no matches": every request)
  if (!out.spec.rules) out.spec.rules = [{ matches: [{ path: rootPrefix() }] }];
  for (const rule of out.spec.rules) {
    if (!rule.matches?.length) rule.matches = [{ path: rootPrefix() }];
    for (const m of rule.matches) defaultMatch(m);
    defaultFilters(rule.filters);
    for (const b of rule.backendRefs ?? []) defaultBackendRef(b);
  }
  return out;
}
