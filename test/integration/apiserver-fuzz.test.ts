// Fuzzing the API server with malformed request bodies, paths, methods, media types and
// query parameters: every answer is a 2xx/4xx Status, never a 500, and the server stays up.
// Bounded: a fixed number of requests from a seeded generator (seed printed for replay).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request, startApiServer, type TestApiServer } from '../helpers/apiserver.ts';
import { rng } from '../helpers/rng.ts';

const seeds = [
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', labels: { a: 'b' } }, spec: { type: 'NodePort', selector: { app: 'x' }, ports: [{ port: 80, targetPort: 8080, nodePort: 30100 }] } },
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pod' }, spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }], readinessProbe: { httpGet: { path: '/', port: 80 } } }] } },
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'dep' }, spec: { replicas: 2, selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } },
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'es', labels: { 'kubernetes.io/service-name': 'svc' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.244.0.5'], conditions: { ready: true } }], ports: [{ port: 8080 }] },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'ing' }, spec: { rules: [{ host: 'a.b', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'svc', port: { number: 80 } } } }] } }] } },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'np' }, spec: { podSelector: { matchLabels: { a: 'b' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ port: 80 }] }] } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fz' } },
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { a: 'b' } },
];

const collections = [
  '/api/v1/namespaces/default/services',
  '/api/v1/namespaces/default/pods',
  '/apis/apps/v1/namespaces/default/deployments',
  '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices',
  '/apis/networking.k8s.io/v1/namespaces/default/ingresses',
  '/apis/networking.k8s.io/v1/namespaces/default/networkpolicies',
  '/api/v1/namespaces',
  '/api/v1/namespaces/default/configmaps',
  '/apis/networking.k8s.io/v1/ingressclasses',
  '/api/v1/nodes',
];

const contentTypes = [
  'application/json',
  'application/yaml',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/json-patch+json',
  'application/apply-patch+yaml',
  'application/vnd.kubernetes.protobuf',
  'text/plain',
  '',
  'application/json; charset=utf-8',
];

const weird: unknown[] = [null, true, 0, -1, 1e308, 2 ** 53 + 1, 1.5, '', 'x'.repeat(300), '\u0000\uffff', [], {}, [[[[]]]], { $patch: 'delete' }, { $retainKeys: 5 }, '*', '../..', '%2f', NaN];

describe('fuzzing podpath apiserver', () => {
  let s: TestApiServer;
  before(async () => {
    s = await startApiServer();
  });
  after(async () => {
    await s?.dispose();
  });

  it('never answers 5xx and never dies', async () => {
    const seed = Number(process.env.PODPATH_FUZZ_SEED ?? Date.now() % 1_000_000);
    const r = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const mutate = (v: unknown, depth = 0): unknown => {
      if (depth > 6 || r() < 0.15) return pick(weird);
      if (Array.isArray(v)) {
        const out = v.map((x) => (r() < 0.3 ? mutate(x, depth + 1) : x));
        if (r() < 0.2) out.push(mutate(pick(v.length ? v : [{}]), depth + 1));
        return out;
      }
      if (v && typeof v === 'object') {
        const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
        for (const k of Object.keys(out)) {
          if (r() < 0.25) out[k] = mutate(out[k], depth + 1);
          else if (r() < 0.05) delete out[k];
        }
        if (r() < 0.15) out[pick(['foo', '$patch', 'status', 'metadata', '__proto__', 'spec', 'x.y'])] = pick(weird);
        return out;
      }
      return r() < 0.5 ? pick(weird) : v;
    };
    const bodyFor = (): string | Buffer => {
      const x = r();
      if (x < 0.05) return Buffer.from(Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256)));
      if (x < 0.1) return Buffer.concat([Buffer.from('k8s\0'), Buffer.from(Array.from({ length: 50 }, () => Math.floor(r() * 256)))]);
      if (x < 0.15) return JSON.stringify(mutate(seeds[0])).slice(0, Math.floor(r() * 40));
      if (x < 0.2) return JSON.stringify([{ op: pick(['add', 'remove', 'replace', 'test', 'move', 'bogus']), path: pick(['/spec', '/metadata/name', '/x/y/z', '', '/spec/ports/9']), value: pick(weird) }]);
      return JSON.stringify(mutate(pick(seeds)));
    };
    const pathFor = (): string => {
      const base = pick(collections);
      const x = r();
      if (x < 0.3) return base;
      if (x < 0.7) return `${base}/${pick(['svc', 'pod', 'dep', 'es', 'ing', 'np', 'fz', 'cm', 'kubernetes', 'default', 'nope'])}${pick(['', '/status', '/scale', '/binding', '/finalize', '/log', '/bogus'])}`;
      if (x < 0.8) return `${base}?${pick(['labelSelector', 'fieldSelector', 'resourceVersion', 'limit', 'dryRun', 'fieldValidation', 'propagationPolicy', 'gracePeriodSeconds'])}=${encodeURIComponent(String(pick(weird)))}`;
      return `/${pick(['api', 'apis', 'openapi', 'version', 'x'])}/${encodeURIComponent(String(pick(weird)))}/${pick(['v1', '%00', '..', ''])}`;
    };
    const failures: string[] = [];
    const n = 1500;
    const deadline = Date.now() + 120_000;
    for (let i = 0; i < n && Date.now() < deadline; i++) {
      const method = pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'POST', 'PATCH']);
      const p = pathFor();
      const body = method === 'GET' ? undefined : bodyFor();
      const ct = pick(contentTypes);
      let res;
      try {
        res = await request(s, method, p, body, { contentType: ct });
      } catch (e) {
        failures.push(`#${i} ${method} ${p} (${ct}) body ${JSON.stringify(body?.toString().slice(0, 300))}: ${(e as Error).message}; server exit code ${s.child.exitCode}, signal ${s.child.signalCode}`);
        break;
      }
      // The one 5xx upstream gives by design: a resourceVersion beyond the store's, after a wait
      // (504 "Too large resource version" with the ResourceVersionTooLarge cause).
      const tooLargeRV = res.status === 504 && /[?&]resourceVersion=/.test(p) && JSON.parse(res.body).details?.causes?.[0]?.reason === 'ResourceVersionTooLarge';
      if (res.status >= 500 && !tooLargeRV) failures.push(`#${i} ${method} ${p} -> ${res.status} ${res.body.slice(0, 300)}`);
      if (res.status !== 200 && res.status !== 201 && res.headers['content-type']?.toString().startsWith('application/json')) {
        const st = JSON.parse(res.body);
        if (st.kind !== 'Status') failures.push(`#${i} ${method} ${p} -> ${res.status} without a Status`);
      }
    }
    assert.deepEqual(failures, [], `seed ${seed}`);
    const health = await request(s, 'GET', '/healthz', undefined, { auth: false });
    assert.equal(health.status, 200);
    assert.equal(s.child.exitCode, null, 'the server is still running');
  });
});
