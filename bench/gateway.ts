// Gateway API route computation (`podpath gateway route`): --routes HTTPRoutes (default 1,000)
// across 10 namespaces attached to one Gateway (an HTTP listener taking every namespace, an HTTPS
// wildcard listener, a listener of its own hostname), each route with its hostname, three rules
// (an Exact path, a PathPrefix with a header match, a PathPrefix "/" with a header modifier) and a
// Service; one in ten route names no hostname and a path of its own. Measured (median of --runs):
//   compute   buildModel (CRD defaults, attachment, backend resolution, status) + one request routed
//   cli       routeFiles on the same objects written as a YAML file: read, parse, model, route — what
//             `podpath gateway route` spends; aim for both: under 200 ms
//   request   one more request routed against a built model (the per-request share)
// Wall and CPU time (the process's user + system time) both: on a busy machine the CPU time is the
// steadier figure.
// Reference, in the same run: the Ingress controller's model + route (`podpath ingress route`'s
// pure part) over as many Ingresses with the same hosts and paths (it answers 503: the file has no
// endpoints; the choice of Ingress and path is made all the same).
//   node --import tsx bench/gateway.ts [--routes 1000] [--runs 5]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Ingress, Service } from '../src/api/types.ts';
import { buildModel } from '../src/gateway/model.ts';
import { parseGatewayRequest, readGatewayState, routeFiles } from '../src/gateway/offline.ts';
import { routeRequest } from '../src/gateway/route.ts';
import type { Gateway, HTTPRoute } from '../src/gateway/types.ts';
import { parseRouteRequest } from '../src/ingress/controller/offline.ts';
import { buildModel as buildIngressModel } from '../src/ingress/model.ts';
import { route as routeIngress } from '../src/ingress/route.ts';
import { arg } from './common.ts';

const nRoutes = Number(arg('routes', '1000'));
const runs = Number(arg('runs', '5'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Median wall and CPU time (user + system, all threads: GC included) of --runs calls, in ms. */
const time = (fn: () => unknown) => {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
};

const G = 'gateway.networking.k8s.io/v1';
const nsOf = (i: number) => `team-${i % 10}`;
const hostOf = (i: number) => (i % 10 === 9 ? undefined : `app-${i}.example.com`);
const services: Service[] = [];
const routes: HTTPRoute[] = [];
const ingresses: Ingress[] = [];
for (let i = 0; i < nRoutes; i++) {
  const ns = nsOf(i);
  const name = `app-${i}`;
  services.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports: [{ port: 8080 }] } });
  const host = hostOf(i);
  const base = host ? '' : `/svc-${i}`;
  const ref = { backendRefs: [{ name, port: 8080 }] };
  routes.push({
    apiVersion: G,
    kind: 'HTTPRoute',
    metadata: { name, namespace: ns, creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() },
    spec: {
      parentRefs: [{ name: 'gw', namespace: 'infra' }],
      ...(host ? { hostnames: [host] } : {}),
      rules: [
        { matches: [{ path: { type: 'Exact', value: `${base}/api/v1/items` } }], ...ref },
        { matches: [{ path: { type: 'PathPrefix', value: `${base}/api` }, headers: [{ name: 'version', value: 'two' }] }], ...ref },
        { matches: [{ path: { type: 'PathPrefix', value: base || '/' } }], filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-route', value: name }] } }], ...ref },
      ],
    },
  });
  const be = { service: { name, port: { number: 8080 } } };
  ingresses.push({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: ns },
    spec: { ingressClassName: 'nginx', rules: [{ ...(host ? { host } : {}), http: { paths: [{ path: `${base}/api/v1/items`, pathType: 'Exact', backend: be }, { path: `${base}/api`, pathType: 'Prefix', backend: be }, { path: base || '/', pathType: 'Prefix', backend: be }] } }] },
  });
}
const gateway: Gateway = {
  apiVersion: G,
  kind: 'Gateway',
  metadata: { name: 'gw', namespace: 'infra' },
  spec: {
    gatewayClassName: 'podpath',
    listeners: [
      { name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
      { name: 'https', port: 443, protocol: 'HTTPS', hostname: '*.example.com', tls: { certificateRefs: [{ name: 'wildcard' }] }, allowedRoutes: { namespaces: { from: 'All' } } },
      { name: 'app-1', port: 80, protocol: 'HTTP', hostname: 'app-1.example.com', allowedRoutes: { namespaces: { from: 'All' } } },
    ],
  },
};
const state = { namespaces: [], services, slices: [], classes: [], gateways: [gateway], routes, grants: [] };
const last = nRoutes - 2; // a route late in the list, with a hostname
const url = `http://app-${last}.example.com/api/v1/things`;
const args = { url, gateway: 'infra/gw', headers: ['version: two'], method: 'GET' };
const req = parseGatewayRequest(args);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-bench-gw-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'state.yaml');
fs.writeFileSync(file, [gateway, ...services, ...routes].map((o) => stringify(o)).join('---\n'));

const check = routeRequest(buildModel(state), 'infra/gw', req);
if (check.status !== 200 || check.route !== `${nsOf(last)}/app-${last}` || check.rule !== 1) throw new Error(`unexpected route: ${JSON.stringify({ status: check.status, route: check.route, rule: check.rule, reason: check.reason })}`);
if (readGatewayState([file]).routes.length !== nRoutes) throw new Error('the state file lost routes');

const compute = time(() => routeRequest(buildModel(state), 'infra/gw', req));
const cli = time(() => routeFiles([file], args));
const model = buildModel(state);
const hundred = time(() => {
  for (let i = 0; i < 100; i++) routeRequest(model, 'infra/gw', req);
});

const ingressState = { ingresses, classes: [{ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } }], services, slices: [], secrets: [] };
const ingressClass = { controller: 'k8s.io/ingress-nginx', ingressClass: 'nginx', watchWithoutClass: false };
const ingressReq = parseRouteRequest({ url, headers: args.headers, method: 'GET', clientIP: '192.168.49.100' });
const refCheck = routeIngress(buildIngressModel(ingressState, { class: ingressClass, defaultCertificate: 'x\n' }), ingressReq);
if (refCheck.ingress !== `${nsOf(last)}/app-${last}`) throw new Error(`unexpected Ingress route: ${refCheck.reason}`);
const reference = time(() => routeIngress(buildIngressModel(ingressState, { class: ingressClass, defaultCertificate: 'x\n' }), ingressReq));

const ms = (x: { wall: number; cpu: number }) => `${x.wall.toFixed(1).padStart(7)} ms (CPU ${x.cpu.toFixed(1)} ms)`;
const aim = (x: { wall: number; cpu: number }) => `aim < 200 ms: ${x.wall < 200 ? 'met' : x.cpu < 200 ? 'met in CPU time (the machine is busy)' : 'NOT met'}`;
process.stdout.write(
  [
    `gateway route, ${nRoutes} HTTPRoutes (${nRoutes * 3} rules) on one Gateway, median of ${runs} (load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs):`,
    `  compute    model + route                 ${ms(compute)}   ${aim(compute)}`,
    `  cli        read + parse + model + route  ${ms(cli)}   ${aim(cli)}`,
    `  request    one more request              ${(hundred.wall * 10).toFixed(0).padStart(7)} µs (CPU ${(hundred.cpu * 10).toFixed(0)} µs)`,
    `  reference  Ingress model + route over ${nRoutes} Ingresses: ${ms(reference)}; gateway compute is ${(compute.wall / reference.wall).toFixed(2)}× (CPU ${(compute.cpu / reference.cpu).toFixed(2)}×)`,
    '',
  ].join('\n'),
);
