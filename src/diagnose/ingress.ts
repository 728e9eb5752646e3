// The Ingress's part of the checklist: it exists and has something to route; its class is one a
// running controller serves (the IngressClass exists, names ingress-nginx's controller, and the
// controller's pods are Ready); every backend it names is a Service with that port. The Services
// found are then checked as Services; the first rule's URL is the path traced.
import type { Ingress, IngressBackend, Service, ServicePort } from '../api/types.ts';
import { defaultClassAnnotation, defaultControllerClass, isOurs, requestedClass } from '../ingress/classes.ts';
import type { ClusterObjects } from '../trace/cluster.ts';
import { isIngressController } from '../trace/podports.ts';
import type { ObjectRef } from '../trace/types.ts';
import { isLive, isReady, podName } from './pods.ts';
import { findService, svcName } from './service.ts';
import type { Finding } from './types.ts';

export interface IngressScope {
  findings: Finding[];
  /** the backends that exist, each with the port named */
  backends: { svc: Service; port: ServicePort }[];
  /** the URL of its first rule, for the trace */
  url?: string;
}

const backendText = (b: IngressBackend) => (b.service ? `${b.service.name}:${b.service.port?.number ?? b.service.port?.name ?? '?'}` : b.resource ? `${b.resource.kind} ${b.resource.name}` : '?');

export function ingressChecks(o: ClusterObjects, namespace: string, name: string): IngressScope {
  const ing = o.ingresses.find((i) => i.metadata.name === name && (i.metadata.namespace ?? 'default') === namespace);
  const object: ObjectRef = { kind: 'Ingress', namespace, name };
  if (!ing) {
    const others = o.ingresses.filter((i) => (i.metadata.namespace ?? 'default') === namespace).map((i) => i.metadata.name!);
    return { findings: [{ check: 'ingress', status: 'fail', summary: `there is no Ingress ${namespace}/${name}`, evidence: [`Ingresses in ${namespace}: ${others.join(', ') || 'none'}`], fix: `create it, or name the right one (kubectl get ingress -n ${namespace})`, object }], backends: [] };
  }
  const findings: Finding[] = [];
  const rules = ing.spec?.rules ?? [];
  const routes = rules.flatMap((r) => (r.http?.paths ?? []).map((p) => ({ host: r.host, path: p.path ?? '/', pathType: p.pathType ?? 'ImplementationSpecific', backend: p.backend })));
  const evidence = routes.map((r) => `rule host ${r.host ?? '*'} path ${r.path} (${r.pathType}) → ${backendText(r.backend)}`);
  if (ing.spec?.defaultBackend) evidence.push(`defaultBackend → ${backendText(ing.spec.defaultBackend)}`);
  if (!routes.length && !ing.spec?.defaultBackend) findings.push({ check: 'ingress', status: 'fail', summary: `Ingress ${namespace}/${name} has no rule with a path and no defaultBackend: it routes nothing`, evidence, fix: 'add rules[].http.paths (or spec.defaultBackend)', object });
  else findings.push({ check: 'ingress', status: 'ok', summary: `Ingress ${namespace}/${name} exists with ${routes.length} path${routes.length === 1 ? '' : 's'}`, evidence, object });
  findings.push(classFinding(o, ing, object));
  const backends: { svc: Service; port: ServicePort }[] = [];
  const missing: string[] = [];
  const seen: string[] = [];
  for (const b of [...routes.map((r) => r.backend), ...(ing.spec?.defaultBackend ? [ing.spec.defaultBackend] : [])]) {
    if (!b.service) continue;
    const svc = findService(o, namespace, b.service.name);
    const want = b.service.port?.number ?? b.service.port?.name;
    if (!svc) {
      missing.push(`backend Service ${namespace}/${b.service.name} does not exist`);
      continue;
    }
    const port = (svc.spec?.ports ?? []).find((p) => (typeof want === 'number' ? p.port === want : p.name === want));
    if (!port) {
      missing.push(`backend Service ${svcName(svc)} has no port ${want} (its ports: ${(svc.spec?.ports ?? []).map((p) => `${p.name ? `${p.name}=` : ''}${p.port}`).join(', ') || 'none'})`);
      continue;
    }
    seen.push(`backend ${svcName(svc)} port ${want} exists`);
    if (!backends.some((x) => x.svc === svc && x.port === port)) backends.push({ svc, port });
  }
  if (missing.length) findings.push({ check: 'ingress-backend', status: 'fail', summary: missing[0]!, evidence: [...missing.slice(1), ...seen], fix: `create the Service, or correct the backend's service name and port (kubectl edit ingress ${name} -n ${namespace}); nginx answers 503 for it meanwhile`, object });
  else findings.push({ check: 'ingress-backend', status: backends.length ? 'ok' : 'skipped', summary: backends.length ? `every backend Service and port exists: ${backends.map((b) => `${svcName(b.svc)}:${b.port.name || b.port.port}`).join(', ')}` : 'no Service backend', evidence: seen, object });
  const first = routes[0];
  if (first) {
    const host = (first.host ?? '').replace(/^\*\./, 'x.');
    const tls = (ing.spec?.tls ?? []).some((t) => (t.hosts ?? []).includes(first.host ?? ''));
    const path = first.pathType === 'ImplementationSpecific' ? first.path.replace(/[()^$*+?[\]\\|]/g, '') || '/' : first.path;
    if (host) return { findings, backends, url: `${tls ? 'https' : 'http'}://${host}${path}` };
  }
  return { findings, backends };
}

function classFinding(o: ClusterObjects, ing: Ingress, object: ObjectRef): Finding {
  const cls = o.ingressClasses.find((c) => c.metadata.name === requestedClass(ing)) ?? (requestedClass(ing) === undefined ? o.ingressClasses.find((c) => c.metadata.annotations?.[defaultClassAnnotation] === 'true') : undefined);
  const ourClass = o.ingressClasses.find((c) => c.spec?.controller === defaultControllerClass.controller)?.metadata.name;
  const cc = { ...defaultControllerClass, ...(ourClass ? { ingressClass: ourClass } : {}) };
  // an Ingress naming no class has the default one (the API server's admission sets it on create)
  const ours = isOurs(cls && requestedClass(ing) === undefined ? { ...ing, spec: { ...ing.spec, ingressClassName: cls.metadata.name! } } : ing, o.ingressClasses, cc);
  const controllers = o.pods.filter((p) => isIngressController(p) && isLive(p));
  const ready = controllers.filter(isReady);
  const evidence = [
    `class: ${ours.reason}`,
    `IngressClasses: ${o.ingressClasses.map((c) => `${c.metadata.name} (${c.spec?.controller ?? '?'})${c.metadata.annotations?.[defaultClassAnnotation] === 'true' ? ' default' : ''}`).join(', ') || 'none'}`,
    `controller pods: ${controllers.map((p) => `${podName(p)}${isReady(p) ? ' Ready' : ' not Ready'}`).join(', ') || 'none'}`,
  ];
  if (!ours.ours) return { check: 'ingress-class', status: 'fail', summary: `no running controller serves Ingress ${object.namespace}/${object.name}: ${ours.reason}`, evidence, fix: `set spec.ingressClassName: ${cc.ingressClass} (the class of ${cc.controller})`, object };
  if (!ready.length) return { check: 'ingress-class', status: 'fail', summary: `the Ingress controller for class ${cc.ingressClass} has no Ready pod`, evidence, fix: 'kubectl -n ingress-nginx get pods; kubectl -n ingress-nginx logs deploy/ingress-nginx-controller (a lab made with --no-ingress has none)', object };
  return { check: 'ingress-class', status: 'ok', summary: `class ${cc.ingressClass} is served by ${cc.controller} (${ready.length} Ready controller pod${ready.length === 1 ? '' : 's'})`, evidence, object };
}
