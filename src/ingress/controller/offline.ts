// `podpath ingress render|route`: the controller's model over a state file of Ingresses,
// IngressClasses, Services, EndpointSlices and Secrets, with no cluster and no root.
import { readStateFiles } from '../../api/state.ts';
import type { EndpointSlice, Ingress, IngressClass, Service } from '../../api/types.ts';
import { defaultControllerClass, type ControllerClass } from '../classes.ts';
import { buildModel, type IngressState, type Model, type Secret } from '../model.ts';
import { defaultRenderOptions, renderNginxConf } from '../nginx/template.ts';
import { route, type RouteRequest, type RouteResult } from '../route.ts';

export class RequestError extends Error {
  readonly code = 'BadRequest';
}

export function readIngressState(files: string[]): IngressState {
  const s: IngressState = { ingresses: [], classes: [], services: [], slices: [], secrets: [] };
  const objs = readStateFiles(files, [
    { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespaced: true },
    { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', namespaced: false },
    { apiVersion: 'v1', kind: 'Service', namespaced: true },
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespaced: true },
    { apiVersion: 'v1', kind: 'Secret', namespaced: true },
  ]);
  for (const o of objs) {
    if (o.kind === 'Ingress') s.ingresses.push(o as Ingress);
    else if (o.kind === 'IngressClass') s.classes.push(o as IngressClass);
    else if (o.kind === 'Service') s.services.push(o as Service);
    else if (o.kind === 'EndpointSlice') s.slices.push(o as EndpointSlice);
    else s.secrets.push(o as Secret);
  }
  return s;
}

/** The class an offline command serves: --class names the IngressClass; its controller is the file's. */
function offlineClass(s: IngressState, className: string | undefined): ControllerClass {
  const name = className ?? defaultControllerClass.ingressClass;
  const ic = s.classes.find((c) => c.metadata.name === name);
  return { ...defaultControllerClass, ingressClass: name, controller: ic?.spec?.controller ?? defaultControllerClass.controller };
}

export function offlineModel(files: string[], className?: string): Model {
  const s = readIngressState(files);
  return buildModel(s, { class: offlineClass(s, className), defaultCertificate: '(the controller\'s self-signed certificate)\n' });
}

/** nginx.conf as the controller pod would load it (/etc/nginx), with the problems found as comments. */
export function renderText(files: string[], className?: string): string {
  const m = offlineModel(files, className);
  const { conf } = renderNginxConf(m, { ...defaultRenderOptions, confDir: '/etc/nginx', runDir: '/tmp/nginx' });
  const notes = [...m.problems.map((p) => `# ${p.reason} ${p.ingress.namespace}/${p.ingress.name}: ${p.message}`), ...m.ignored.map((i) => `# ignored annotation ${i.annotation} on ${i.ingress.namespace}/${i.ingress.name}`)];
  return notes.length ? `${notes.join('\n')}\n${conf}` : conf;
}

export interface RouteArgs {
  url: string;
  /** "Name: value" */
  headers: string[];
  sni?: string;
  method: string;
  clientIP: string;
}

/** The request `route` asks about, from a URL and curl-like options. */
export function parseRouteRequest(a: RouteArgs): RouteRequest {
  let u: URL;
  try {
    u = new URL(a.url);
  } catch {
    throw new RequestError(`${a.url} is not a URL (http://HOST/PATH or https://HOST/PATH)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RequestError(`${a.url}: only http and https URLs are routed by an Ingress`);
  const headers: Record<string, string> = {};
  for (const h of a.headers) {
    const i = h.indexOf(':');
    if (i <= 0) throw new RequestError(`header ${JSON.stringify(h)} is not "Name: value"`);
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  const scheme = u.protocol === 'https:' ? 'https' : 'http';
  const host = headers.host ?? u.host;
  return {
    scheme,
    host,
    ...(scheme === 'https' ? { sni: a.sni ?? u.hostname } : {}),
    method: a.method.toUpperCase(),
    target: `${u.pathname}${u.search}`,
    headers,
    clientIP: a.clientIP,
  };
}

export function routeRequest(files: string[], a: RouteArgs, className?: string): RouteResult {
  return route(offlineModel(files, className), parseRouteRequest(a));
}

/** `route`'s text output. */
export function routeText(r: RouteResult): string {
  const lines = [`${r.status} ${r.reason}`];
  if (r.ingress) lines.push(`  ingress:   ${r.ingress}`);
  lines.push(`  server:    ${r.server}${r.certificate ? ` (certificate: ${r.certificate})` : ''}`);
  if (r.nginxLocation) lines.push(`  location:  ${r.nginxLocation}${r.path !== null ? ` (path ${r.path}, ${r.pathType})` : ''}`);
  if (r.backend) lines.push(`  backend:   ${r.backend.service ? `service ${r.backend.service.name} port ${r.backend.service.port?.number ?? r.backend.service.port?.name}` : `resource ${r.backend.resource?.kind}/${r.backend.resource?.name}`}`);
  if (r.upstream) lines.push(`  upstream:  ${r.upstream} → ${r.endpoints?.length ? r.endpoints.join(' ') : '(no endpoints)'}`);
  if (r.rewrittenTo !== undefined) lines.push(`  rewritten: ${r.rewrittenTo}`);
  if (r.canary) lines.push(`  canary:    ${r.canary.ingress} weight ${r.canary.weight}/${r.canary.weightTotal}${r.canary.chosen === 'header' ? ', chosen by header' : r.canary.chosen === 'weight' ? ', chosen by weight' : ''}`);
  if (r.location) lines.push(`  redirect:  ${r.location}`);
  return lines.join('\n');
}

/** `route -o json`: the issue's fields first (status, ingress, host, path, pathType, backend, location), then the rest. */
export function routeJSON(r: RouteResult): string {
  const { status, ingress, host, path, pathType, backend, location, ...rest } = r;
  return JSON.stringify({ status, ingress, host, path, pathType, backend, location: location ?? null, ...rest }, null, 2);
}
