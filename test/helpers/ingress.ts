// Builders for the Ingress controller's tests: Ingresses, the Services and EndpointSlices behind
// their backends, IngressClasses, kubernetes.io/tls Secrets with real certificates (openssl), and
// requests put to `route()` the way `podpath ingress route` puts them.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EndpointSlice, HTTPIngressPath, Ingress, IngressBackend, IngressClass, IngressRule, Service } from '../../src/api/types.ts';
import type { IngressState, Secret } from '../../src/ingress/model.ts';
import { parseRouteRequest } from '../../src/ingress/controller/offline.ts';
import { route, type RouteResult } from '../../src/ingress/route.ts';
import type { Model } from '../../src/ingress/model.ts';

export const nginxClass: IngressClass = { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } };
export const otherClass: IngressClass = { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'other' }, spec: { controller: 'example.com/other' } };
export const ours = { controller: 'k8s.io/ingress-nginx', ingressClass: 'nginx', watchWithoutClass: false };

/** A Service backend: port by number, or by name when a string. */
export const be = (service: string, port: number | string = 80): IngressBackend => ({ service: { name: service, port: typeof port === 'number' ? { number: port } : { name: port } } });

export const pth = (p: string, pathType: string, service: string, port: number | string = 80): HTTPIngressPath => ({ path: p, pathType, backend: be(service, port) });

export const rule = (host: string | undefined, ...paths: HTTPIngressPath[]): IngressRule => ({ ...(host !== undefined ? { host } : {}), http: { paths } });

let clock = 0;
/** An Ingress of class nginx (unless className says otherwise; null: none), each newer than the last made. */
export function ingress(name: string, spec: Omit<NonNullable<Ingress['spec']>, 'ingressClassName'>, o: { annotations?: Record<string, string>; namespace?: string; className?: string | null; resourceVersion?: string } = {}): Ingress {
  clock++;
  const className = o.className === undefined ? 'nginx' : o.className;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: o.namespace ?? 'default',
      creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, clock)).toISOString(),
      resourceVersion: o.resourceVersion ?? '1',
      ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    spec: { ...(className !== null ? { ingressClassName: className } : {}), ...spec },
  };
}

/** nginx.ingress.kubernetes.io/ annotations from short names. */
export const nginxAnn = (a: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(a).map(([k, v]) => [`nginx.ingress.kubernetes.io/${k}`, v]));

/** Service ports: http 80 → 8080 and web 8080 → 9090, so a backend may name either by number or by name. */
export function service(name: string, namespace = 'default'): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }, { name: 'web', port: 8080, targetPort: 9090, protocol: 'TCP' }] } };
}

export interface EndpointSpec {
  address: string;
  ready?: boolean;
}

/** An EndpointSlice of `svc` with the endpoints given, ports http 8080 and web 9090 (or those given). */
export function slice(svc: string, endpoints: (string | EndpointSpec)[], o: { namespace?: string; name?: string; ports?: { name: string; port: number }[] } = {}): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: o.name ?? `${svc}-abcde`, namespace: o.namespace ?? 'default', labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    ports: (o.ports ?? [{ name: 'http', port: 8080 }, { name: 'web', port: 9090 }]).map((p) => ({ ...p, protocol: 'TCP' })),
    endpoints: endpoints.map((e) => (typeof e === 'string' ? { address: e } : e)).map((e) => ({ addresses: [e.address], conditions: e.ready === undefined ? { ready: true } : { ready: e.ready } })),
  };
}

/** Every Service a backend names, each with one ready endpoint (10.244.0.N, N by first mention). */
export function stateFor(ingresses: Ingress[], o: { missing?: string[]; noEndpoints?: string[]; secrets?: Secret[]; classes?: IngressClass[] } = {}): IngressState {
  const names: { ns: string; name: string }[] = [];
  const note = (ns: string, b: IngressBackend | undefined) => {
    if (!b?.service || names.some((n) => n.ns === ns && n.name === b.service!.name)) return;
    names.push({ ns, name: b.service.name });
  };
  for (const ing of ingresses) {
    const ns = ing.metadata.namespace ?? 'default';
    note(ns, ing.spec?.defaultBackend);
    for (const r of ing.spec?.rules ?? []) for (const p of r.http?.paths ?? []) note(ns, p.backend);
  }
  const present = names.filter((n) => !o.missing?.includes(n.name));
  return {
    ingresses,
    classes: o.classes ?? [nginxClass, otherClass],
    services: present.map((n) => service(n.name, n.ns)),
    slices: present.filter((n) => !o.noEndpoints?.includes(n.name)).map((n) => slice(n.name, [`10.244.0.${names.indexOf(n) + 1}`], { namespace: n.ns })),
    secrets: o.secrets ?? [],
  };
}

export interface Ask {
  headers?: Record<string, string>;
  sni?: string;
  method?: string;
  clientIP?: string;
}

/** What `podpath ingress route URL` answers, on a model. */
export function ask(model: Model, url: string, a: Ask = {}): RouteResult {
  return route(model, parseRouteRequest({ url, headers: Object.entries(a.headers ?? {}).map(([k, v]) => `${k}: ${v}`), ...(a.sni ? { sni: a.sni } : {}), method: a.method ?? 'GET', clientIP: a.clientIP ?? '192.168.49.100' }));
}

/** The backend Service's name, or "-" when none serves. */
export const served = (r: RouteResult): string => r.backend?.service?.name ?? '-';

export interface TestCert {
  cert: string;
  key: string;
}

/** A self-signed certificate for the names given (the first is the CN unless `cn` says otherwise), made by openssl. */
export function makeCert(names: string[], o: { dir?: string; cn?: string } = {}): TestCert {
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pp-ingcert-'));
  const base = path.join(dir, `cert-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${o.cn ?? names[0]}`];
  if (names.length) args.push('-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`);
  execFileSync('openssl', [...args, '-keyout', `${base}.key`, '-out', `${base}.crt`], { stdio: 'pipe' });
  const out = { cert: fs.readFileSync(`${base}.crt`, 'utf8'), key: fs.readFileSync(`${base}.key`, 'utf8') };
  if (o.dir) {
    fs.rmSync(`${base}.key`);
    fs.rmSync(`${base}.crt`);
  } else fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

export function tlsSecret(name: string, c: TestCert, o: { namespace?: string; type?: string; crt?: string; key?: string } = {}): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: o.namespace ?? 'default' },
    type: o.type ?? 'kubernetes.io/tls',
    data: { 'tls.crt': o.crt ?? Buffer.from(c.cert).toString('base64'), 'tls.key': o.key ?? Buffer.from(c.key).toString('base64') },
  };
}
