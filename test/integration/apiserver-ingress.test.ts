// Ingress through the real kubectl against a real `podpath apiserver`: invalid Ingresses are
// refused with kube-apiserver's messages as kubectl prints them, and nothing is stored; the
// DefaultIngressClass admission plugin fills spec.ingressClassName on create; `kubectl get
// ingress` shows upstream's columns.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeKubectl, sleep, startApiServer, type TestApiServer } from '../helpers/apiserver.ts';

const backend = { service: { name: 'web', port: { number: 80 } } };
const ingress = (name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name, ...(annotations ? { annotations } : {}) },
  spec,
});
const rule = (path: Record<string, unknown>, host?: string) => ({ ...(host !== undefined ? { host } : {}), http: { paths: [{ path: '/', pathType: 'Prefix', backend, ...path }] } });
const ingressClass = (name: string, isDefault?: string) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name, ...(isDefault !== undefined ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': isDefault } } : {}) },
  spec: { controller: 'podpath.dev/ingress' },
});

const wildcard =
  "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

const invalid: { what: string; obj: ReturnType<typeof ingress>; stderr: string }[] = [
  {
    what: "a path with '//'",
    obj: ingress('bad-slashes', { rules: [rule({ path: '/a//b' })] }),
    stderr: `The Ingress "bad-slashes" is invalid: spec.rules[0].http.paths[0].path: Invalid value: "/a//b": must not contain '//'`,
  },
  {
    what: 'an IP address as host',
    obj: ingress('bad-ip-host', { rules: [rule({}, '192.168.49.2')] }),
    stderr: 'The Ingress "bad-ip-host" is invalid: spec.rules[0].host: Invalid value: "192.168.49.2": must be a DNS name, not an IP address',
  },
  {
    what: "a bare '*' host",
    obj: ingress('bad-star-host', { rules: [rule({}, '*')] }),
    stderr: `The Ingress "bad-star-host" is invalid: spec.rules[0].host: Invalid value: "*": ${wildcard}`,
  },
  {
    what: 'a backend with both service and resource',
    obj: ingress('bad-both-backends', { rules: [rule({ backend: { ...backend, resource: { apiGroup: 'k8s.example.com', kind: 'StorageBucket', name: 'static' } } })] }),
    stderr: 'The Ingress "bad-both-backends" is invalid: spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both resource and service backends',
  },
  {
    what: 'a path without pathType',
    obj: ingress('bad-no-pathtype', { rules: [rule({ pathType: undefined })] }),
    stderr: 'The Ingress "bad-no-pathtype" is invalid: spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified',
  },
  {
    what: 'several errors at once, listed in upstream order',
    obj: ingress('bad-several', { defaultBackend: { ...backend, resource: { kind: 'StorageBucket', name: 'static' } }, rules: [rule({ path: '/a/./b' }, '*')] }, { 'kubernetes.io/ingress.class': 'a' }),
    stderr: [
      'The Ingress "bad-several" is invalid: ',
      '* spec.defaultBackend: Invalid value: "": cannot set both resource and service backends',
      `* spec.rules[0].host: Invalid value: "*": ${wildcard}`,
      `* spec.rules[0].http.paths[0].path: Invalid value: "/a/./b": must not contain '/./'`,
    ].join('\n'),
  },
];

describe('Ingress through kubectl against podpath apiserver', () => {
  let s: TestApiServer;
  before(async () => {
    s = await startApiServer();
  });
  after(async () => {
    await s?.dispose();
  });

  /** kubectl with a HOME of its own, and a helper that asserts success */
  function kubectlFor() {
    const kubectl = makeKubectl(s.kubeconfig);
    const ok = (args: string[], input?: unknown) => {
      const r = kubectl(args, input === undefined ? undefined : JSON.stringify(input));
      assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
      return r.stdout;
    };
    const className = (name: string, ns = 'default') => ok(['get', 'ingress', name, '-n', ns, '-o', 'jsonpath={.spec.ingressClassName}']);
    return { kubectl, ok, className };
  }

  /** a namespace per test, and no IngressClass left behind by it */
  async function scenario(ns: string, body: (k: ReturnType<typeof kubectlFor>) => Promise<void> | void) {
    const k = kubectlFor();
    k.ok(['create', 'namespace', ns]);
    try {
      await body(k);
    } finally {
      k.ok(['delete', 'ingressclass', '--all']);
    }
  }

  for (const c of invalid) {
    it(`refuses ${c.what} with upstream's message, and stores nothing`, () => {
      const { kubectl } = kubectlFor();
      const r = kubectl(['apply', '-f', '-'], JSON.stringify(c.obj));
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trimEnd(), c.stderr);
      const g = kubectl(['get', 'ingress', c.obj.metadata.name]);
      assert.equal(g.code, 1);
      assert.equal(g.stderr.trim(), `Error from server (NotFound): ingresses.networking.k8s.io "${c.obj.metadata.name}" not found`);
    });
  }

  it('stored none of the refused Ingresses (the same manifests, server-side apply too)', () => {
    const { kubectl, ok } = kubectlFor();
    for (const c of invalid) {
      const r = kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(c.obj));
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trimEnd(), c.stderr);
    }
    assert.equal(ok(['get', 'ingress', '-A', '-o', 'name']), '');
  });

  it('accepts a wildcard host and an ImplementationSpecific empty path (the valid neighbours of the refused ones)', () => {
    const { ok } = kubectlFor();
    const obj = ingress('good-wildcard', { rules: [{ host: '*.example.com', http: { paths: [{ pathType: 'ImplementationSpecific', backend }] } }] });
    assert.match(ok(['apply', '-f', '-'], obj), /^ingress\.networking\.k8s\.io\/good-wildcard created$/m);
    ok(['delete', 'ingress', 'good-wildcard']);
  });

  it('DefaultIngressClass fills spec.ingressClassName on create, client-side and server-side apply', () =>
    scenario('admit-default', ({ ok, className }) => {
      ok(['apply', '-f', '-'], ingressClass('nginx', 'true'));
      ok(['apply', '-f', '-'], ingressClass('other'));
      ok(['apply', '-n', 'admit-default', '-f', '-'], ingress('web', { rules: [rule({}, 'web.example.com')] }));
      ok(['apply', '-n', 'admit-default', '--server-side', '-f', '-'], ingress('ssa', { defaultBackend: backend }));
      ok(['apply', '-n', 'admit-default', '-f', '-'], ingress('chosen', { ingressClassName: 'other', defaultBackend: backend }));
      assert.equal(className('web', 'admit-default'), 'nginx');
      assert.equal(className('ssa', 'admit-default'), 'nginx');
      assert.equal(className('chosen', 'admit-default'), 'other', 'an explicit class is kept');
      // The field is admission's, not the applier's: kubectl's managedFields do not list it.
      const web = JSON.parse(ok(['get', 'ingress', 'web', '-n', 'admit-default', '-o', 'json', '--show-managed-fields']));
      assert.ok(!JSON.stringify(web.metadata.managedFields).includes('ingressClassName'), JSON.stringify(web.metadata.managedFields));
    }));

  it('DefaultIngressClass leaves an Ingress with the legacy annotation (any value) alone', () =>
    scenario('admit-annotation', ({ ok, className }) => {
      ok(['apply', '-f', '-'], ingressClass('nginx', 'true'));
      ok(['apply', '-n', 'admit-annotation', '-f', '-'], ingress('legacy', { defaultBackend: backend }, { 'kubernetes.io/ingress.class': 'haproxy' }));
      ok(['apply', '-n', 'admit-annotation', '-f', '-'], ingress('legacy-empty', { defaultBackend: backend }, { 'kubernetes.io/ingress.class': '' }));
      assert.equal(className('legacy', 'admit-annotation'), '');
      assert.equal(className('legacy-empty', 'admit-annotation'), '');
    }));

  it('DefaultIngressClass sets nothing without a default class (none, or annotated other than "true")', () =>
    scenario('admit-none', ({ ok, className }) => {
      ok(['apply', '-n', 'admit-none', '-f', '-'], ingress('before-any', { defaultBackend: backend }));
      ok(['apply', '-f', '-'], ingressClass('plain'));
      ok(['apply', '-f', '-'], ingressClass('not-default', 'false'));
      ok(['apply', '-f', '-'], ingressClass('capital', 'True'));
      ok(['apply', '-n', 'admit-none', '-f', '-'], ingress('after', { defaultBackend: backend }));
      assert.equal(className('before-any', 'admit-none'), '');
      assert.equal(className('after', 'admit-none'), '');
    }));

  it('DefaultIngressClass picks the newest of several defaults, not the first by name', () =>
    scenario('admit-newest', async ({ ok, className }) => {
      ok(['apply', '-f', '-'], ingressClass('a-old', 'true'));
      // creationTimestamp has one-second resolution: the second class must be a second newer
      await sleep(1100);
      ok(['apply', '-f', '-'], ingressClass('b-new', 'true'));
      ok(['apply', '-n', 'admit-newest', '-f', '-'], ingress('web', { defaultBackend: backend }));
      assert.equal(className('web', 'admit-newest'), 'b-new');
    }));

  it('DefaultIngressClass does not act on update', () =>
    scenario('admit-update', ({ ok, className }) => {
      const obj = ingress('web', { rules: [rule({}, 'web.example.com')] });
      ok(['apply', '-n', 'admit-update', '-f', '-'], obj);
      ok(['apply', '-f', '-'], ingressClass('nginx', 'true'));
      const changed = ingress('web', { rules: [rule({ path: '/v2' }, 'web.example.com')] });
      assert.match(ok(['apply', '-n', 'admit-update', '-f', '-'], changed), /configured/);
      assert.equal(className('web', 'admit-update'), '');
      ok(['label', '-n', 'admit-update', 'ingress', 'web', 'tier=front']);
      assert.equal(className('web', 'admit-update'), '');
    }));

  it('kubectl get ingress prints NAME CLASS HOSTS ADDRESS PORTS AGE, with the admitted class', () =>
    scenario('columns', ({ ok }) => {
      ok(['apply', '-f', '-'], ingressClass('nginx', 'true'));
      ok(['apply', '-n', 'columns', '-f', '-'], ingress('defaulted', { rules: [rule({}, 'a.example.com'), rule({}, 'b.example.com')] }));
      ok(['apply', '-n', 'columns', '-f', '-'], ingress('legacy', { tls: [{ hosts: ['c.example.com'] }], rules: [rule({}, 'c.example.com')] }, { 'kubernetes.io/ingress.class': 'nginx' }));
      ok(['apply', '-n', 'columns', '-f', '-'], ingress('catchall', { defaultBackend: backend }));
      const [header, ...rows] = ok(['get', 'ingress', '-n', 'columns']).trimEnd().split('\n');
      assert.match(header!, /^NAME\s+CLASS\s+HOSTS\s+ADDRESS\s+PORTS\s+AGE$/);
      assert.equal(rows.length, 3);
      assert.match(rows[0]!, /^catchall\s+nginx\s+\*\s+80\s+\d+s$/);
      assert.match(rows[1]!, /^defaulted\s+nginx\s+a\.example\.com,b\.example\.com\s+80\s+\d+s$/);
      assert.match(rows[2]!, /^legacy\s+<none>\s+c\.example\.com\s+80, 443\s+\d+s$/);
    }));
});
