// `podpath gateway route`: the model over a state file of Namespaces, Services, EndpointSlices,
// Secrets, GatewayClasses, Gateways, HTTPRoutes and ReferenceGrants (v1 or v1beta1), with no
// cluster and no root; every Gateway of the file counts as programmed.
import { readStateFiles, StateError, type Accepted } from '../api/state.ts';
import type { EndpointSlice, Namespace, Service } from '../api/types.ts';
import { buildModel, keyOf, type GatewayState, type Model } from './model.ts';
import { routeRequest, type GatewayRequest, type RouteResult } from './route.ts';
import { gatewayGroup, type Gateway, type GatewayClass, type HTTPRoute, type ReferenceGrant } from './types.ts';

export class RequestError extends Error {
  readonly code = 'BadRequest';
}

const gatewayKinds = (version: string): Accepted[] => [
  { apiVersion: `${gatewayGroup}/${version}`, kind: 'GatewayClass', namespaced: false },
  { apiVersion: `${gatewayGroup}/${version}`, kind: 'Gateway', namespaced: true },
  { apiVersion: `${gatewayGroup}/${version}`, kind: 'HTTPRoute', namespaced: true },
  { apiVersion: `${gatewayGroup}/${version}`, kind: 'ReferenceGrant', namespaced: true },
];

/** The kinds `gateway route` reads. */
export const routeKinds: Accepted[] = [
  { apiVersion: 'v1', kind: 'Namespace', namespaced: false },
  { apiVersion: 'v1', kind: 'Service', namespaced: true },
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespaced: true },
  { apiVersion: 'v1', kind: 'Secret', namespaced: true },
  ...gatewayKinds('v1'),
  ...gatewayKinds('v1beta1'),
];

/** What the CRDs' schemas refuse and the model relies on, named as the API server would. */
function validate(s: GatewayState): void {
  for (const g of s.gateways) {
    const where = `Gateway ${keyOf(g)}`;
    if (!Array.isArray(g.spec?.listeners) || !g.spec.listeners.length) throw new StateError(`${where}: spec.listeners: Required value`);
    for (const [i, l] of g.spec.listeners.entries()) {
      if (!l?.name || typeof l.port !== 'number' || !l.protocol) throw new StateError(`${where}: spec.listeners[${i}]: name, port and protocol are required`);
    }
  }
  for (const r of s.routes) {
    for (const [i, rule] of (r.spec?.rules ?? []).entries()) {
      for (const [j, b] of (rule.backendRefs ?? []).entries()) {
        if (!b?.name) throw new StateError(`HTTPRoute ${keyOf(r)}: spec.rules[${i}].backendRefs[${j}].name: Required value`);
        if ((b.group ?? '') === '' && (b.kind ?? 'Service') === 'Service' && b.port === undefined) {
          throw new StateError(`HTTPRoute ${keyOf(r)}: spec.rules[${i}].backendRefs[${j}]: Invalid value: "object": Must have port for Service reference`);
        }
      }
    }
  }
}

export function readGatewayState(files: string[]): GatewayState {
  const s: GatewayState = { namespaces: [], services: [], slices: [], classes: [], gateways: [], routes: [], grants: [] };
  for (const o of readStateFiles(files, routeKinds)) {
    if (o.kind === 'Namespace') s.namespaces.push(o as Namespace);
    else if (o.kind === 'Service') s.services.push(o as Service);
    else if (o.kind === 'EndpointSlice') s.slices.push(o as EndpointSlice);
    else if (o.kind === 'GatewayClass') s.classes.push(o as GatewayClass);
    else if (o.kind === 'Gateway') s.gateways.push(o as Gateway);
    else if (o.kind === 'HTTPRoute') s.routes.push(o as HTTPRoute);
    else if (o.kind === 'ReferenceGrant') s.grants.push(o as ReferenceGrant);
  }
  validate(s);
  return s;
}

export interface RouteArgs {
  url: string;
  /** "NAMESPACE/NAME" */
  gateway: string;
  /** "Name: value" */
  headers: string[];
  method: string;
}

/** The request `route` asks about, from a URL and curl-like options. */
export function parseGatewayRequest(a: RouteArgs): GatewayRequest {
  let u: URL;
  try {
    u = new URL(a.url);
  } catch {
    throw new RequestError(`${a.url} is not a URL (http://HOST[:PORT]/PATH or https://…)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RequestError(`${a.url}: only http and https URLs are routed by an HTTPRoute`);
  const scheme = u.protocol === 'https:' ? 'https' : 'http';
  const headers: Record<string, string> = {};
  let host = u.host;
  for (const h of a.headers) {
    const i = h.indexOf(':');
    if (i <= 0) throw new RequestError(`header ${JSON.stringify(h)} is not "Name: value"`);
    const name = h.slice(0, i).trim().toLowerCase();
    const value = h.slice(i + 1).trim();
    if (name === 'host') host = value;
    else headers[name] = headers[name] !== undefined ? `${headers[name]},${value}` : value;
  }
  const method = a.method.toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new RequestError(`--method ${a.method} is not an HTTP method`);
  return {
    scheme,
    port: u.port ? Number(u.port) : scheme === 'https' ? 443 : 80,
    host,
    ...(scheme === 'https' ? { sni: u.hostname } : {}),
    method,
    path: u.pathname,
    search: u.search,
    headers,
  };
}

export function gatewayKey(model: Model, ref: string): string {
  const parts = ref.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new RequestError(`--gateway ${ref} is not NAMESPACE/NAME`);
  if (!model.gateways.has(ref)) {
    const have = [...model.gateways.keys()];
    throw new RequestError(`Gateway ${ref} is not in the state file (${have.length ? `its Gateways: ${have.join(', ')}` : 'it has no Gateways'})`);
  }
  return ref;
}

/** What the CLI runs: read, model, route. */
export function routeFiles(files: string[], a: RouteArgs): RouteResult {
  const model = buildModel(readGatewayState(files));
  return routeRequest(model, gatewayKey(model, a.gateway), parseGatewayRequest(a));
}

/** `route -o json`: the contract's fields first, then the explanation. */
export function routeJSON(r: RouteResult): string {
  const { status, gateway, listener, route, rule, backend, backends, redirect, request, responseHeaders, ...rest } = r;
  return JSON.stringify({ status, gateway, listener, route, rule, backend, backends, redirect, request, responseHeaders, ...rest }, null, 2);
}

const svc = (s: { namespace: string; name: string; port: number }) => `${s.namespace}/${s.name}:${s.port}`;

/** `route`'s text output: the decision as a person reads it. */
export function routeText(r: RouteResult): string {
  const lines = [`${r.status} ${r.reason}`, `  gateway:   ${r.gateway}`];
  if (r.listener) lines.push(`  listener:  ${r.listenerReason ?? r.listener}`);
  if (r.route !== null) {
    lines.push(`  route:     ${r.route} rule ${r.rule} match ${r.match!.index}: hostname ${r.match!.hostname}, ${r.match!.text}`);
    for (const x of r.rivals) lines.push(`  won over:  ${x.route} rule ${x.rule} match ${x.match} (${x.text}), on ${x.lostOn}`);
  }
  for (const m of r.misses) lines.push(`  no match:  ${m.route}: ${m.why}`);
  for (const d of r.dropped) lines.push(`  dropped:   ${d.route} rule ${d.rule}: ${d.message}`);
  for (const f of r.filters) lines.push(`  filter:    ${f.type} (${f.on})${f.changes.length ? `: ${f.changes.join('; ')}` : ': no change'}`);
  if (r.backends.length) lines.push(`  backends:  ${r.backends.map((b) => `${svc(b.service)} weight ${b.weight}`).join(', ')}`);
  for (const u of r.unresolved) lines.push(`  unresolved: ${u.ref} (${u.reason}): ${u.message}; its share of requests gets 500`);
  if (r.request) {
    lines.push(`  request:   Host ${r.request.host}, path ${r.request.path}`);
    for (const [k, v] of Object.entries(r.request.headers)) lines.push(`             ${k}: ${v}`);
  }
  const rh = r.responseHeaders;
  const resp = [...Object.entries(rh.set).map(([k, v]) => `set ${k}: ${v}`), ...Object.entries(rh.add).map(([k, v]) => `add ${k}: ${v}`), ...rh.remove.map((k) => `remove ${k}`)];
  if (resp.length) lines.push(`  response:  ${resp.join('; ')}`);
  if (r.redirect) lines.push(`  redirect:  ${r.redirect.statusCode} Location: ${r.redirect.location}`);
  const notAccepted = r.routes.flatMap((x) => x.parents.flatMap((p) => p.conditions.filter((c) => c.status === 'False').map((c) => `${x.route}: ${c.type} ${c.reason}: ${c.message}`)));
  for (const n of notAccepted) lines.push(`  status:    ${n}`);
  return lines.join('\n');
}
