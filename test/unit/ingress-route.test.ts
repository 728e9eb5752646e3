// `route()` over `buildModel()`: which Ingress, path and backend serve a request, checked against
// upstream's documented behaviour — the Kubernetes docs' path-type Examples table, the
// ingress-controller-conformance features (host rules, path rules, default backend, IngressClass,
// load balancing), and ingress-nginx's documented annotations (rewrite, use-regex ordering, canary,
// ssl redirects, app-root, allow lists, TLS by SNI) — and `podpath ingress route -o json`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { buildModel, type Model } from '../../src/ingress/model.ts';
import { defaultRenderOptions, renderNginxConf } from '../../src/ingress/nginx/template.ts';
import { ask, be, ingress, makeCert, nginxAnn, ours, pth, rule, served, slice, stateFor, tlsSecret, type TestCert } from '../helpers/ingress.ts';
import { repoRoot } from '../helpers/netpol.ts';

const model = (s: Parameters<typeof buildModel>[0], watchWithoutClass = false): Model => buildModel(s, { class: { ...ours, watchWithoutClass }, defaultCertificate: 'default certificate\n' });

describe('path types: the Kubernetes docs Examples table (ingress.md)', () => {
  // kind, the paths (type per path), the request, and the path that serves it (null: no match)
  type Row = { paths: [string, string][]; request: string; match: string | null; why: string };
  const P = (...ps: string[]) => ps.map((p) => [p, 'Prefix'] as [string, string]);
  const rows: Row[] = [
    { paths: P('/'), request: '/', match: '/', why: 'Prefix / matches all paths' },
    { paths: P('/'), request: '/any/thing/at/all', match: '/', why: 'Prefix / matches all paths' },
    { paths: [['/foo', 'Exact']], request: '/foo', match: '/foo', why: 'Exact /foo matches /foo' },
    { paths: [['/foo', 'Exact']], request: '/bar', match: null, why: 'Exact /foo does not match /bar' },
    { paths: [['/foo', 'Exact']], request: '/foo/', match: null, why: 'Exact /foo does not match /foo/' },
    { paths: [['/foo/', 'Exact']], request: '/foo', match: null, why: 'Exact /foo/ does not match /foo' },
    { paths: [['/foo/', 'Exact']], request: '/foo/', match: '/foo/', why: 'Exact /foo/ matches /foo/' },
    { paths: P('/foo'), request: '/foo', match: '/foo', why: 'Prefix /foo matches /foo' },
    { paths: P('/foo'), request: '/foo/', match: '/foo', why: 'Prefix /foo matches /foo/' },
    { paths: P('/foo/'), request: '/foo', match: '/foo/', why: 'Prefix /foo/ matches /foo' },
    { paths: P('/foo/'), request: '/foo/', match: '/foo/', why: 'Prefix /foo/ matches /foo/' },
    { paths: P('/aaa/bb'), request: '/aaa/bbb', match: null, why: 'Prefix /aaa/bb does not match /aaa/bbb' },
    { paths: P('/aaa/bbb'), request: '/aaa/bbb', match: '/aaa/bbb', why: 'Prefix /aaa/bbb matches /aaa/bbb' },
    { paths: P('/aaa/bbb/'), request: '/aaa/bbb', match: '/aaa/bbb/', why: 'ignores trailing slash' },
    { paths: P('/aaa/bbb'), request: '/aaa/bbb/', match: '/aaa/bbb', why: 'matches trailing slash' },
    { paths: P('/aaa/bbb'), request: '/aaa/bbb/ccc', match: '/aaa/bbb', why: 'matches subpath' },
    { paths: P('/aaa/bbb'), request: '/aaa/bbbxyz', match: null, why: 'does not match string prefix' },
    { paths: P('/', '/aaa'), request: '/aaa/ccc', match: '/aaa', why: 'matches /aaa prefix' },
    { paths: P('/', '/aaa', '/aaa/bbb'), request: '/aaa/bbb', match: '/aaa/bbb', why: 'matches /aaa/bbb prefix' },
    { paths: P('/', '/aaa', '/aaa/bbb'), request: '/ccc', match: '/', why: 'matches / prefix' },
    { paths: P('/aaa'), request: '/ccc', match: null, why: 'uses default backend' },
    { paths: [['/foo', 'Prefix'], ['/foo', 'Exact']], request: '/foo', match: '/foo Exact', why: 'Mixed: prefers Exact' },
    // types.go (HTTPIngressPath): with /foo and /foo/ both Prefix, /foo/ wins for /foo and /foo/
    { paths: P('/foo', '/foo/'), request: '/foo', match: '/foo/', why: 'longest path: /foo/ over /foo' },
    { paths: P('/foo', '/foo/'), request: '/foo/', match: '/foo/', why: 'longest path: /foo/ over /foo' },
    { paths: P('/foo', '/foo/'), request: '/foo/x', match: '/foo/', why: 'longest path: /foo/ over /foo' },
    // ICC path_rules: matching is case-sensitive
    { paths: [['/foo', 'Exact']], request: '/FOO', match: null, why: 'Exact is case-sensitive' },
    { paths: P('/foo'), request: '/FOO', match: null, why: 'Prefix is case-sensitive' },
    { paths: P('/aaa'), request: '/aaaccc', match: null, why: 'Prefix matches whole elements' },
    // only the path is matched, not the query
    { paths: [['/foo', 'Exact']], request: '/foo?x=1', match: '/foo', why: 'the query is not part of the path' },
  ];
  // the backend Service of each path is named after it, so which path served shows in the backend
  const svcName = (p: string, t: string) => `svc${p.replace(/\//g, '-')}-${t.toLowerCase()}`;
  for (const row of rows) {
    for (const order of ['as listed', 'reversed']) {
      if (order === 'reversed' && row.paths.length < 2) continue;
      const paths = order === 'reversed' ? [...row.paths].reverse() : row.paths;
      it(`${row.paths.map(([p, t]) => `${t} ${p}`).join(', ')} (${order}), request ${row.request}: ${row.match ?? 'no match'} — ${row.why}`, () => {
        const ing = ingress('paths', { rules: [rule('example.test', ...paths.map(([p, t]) => pth(p, t, svcName(p, t))))] });
        const r = ask(model(stateFor([ing])), `http://example.test${row.request}`);
        if (row.match === null) {
          assert.equal(r.status, 404, r.reason);
          assert.equal(r.backend, null);
          assert.equal(r.path, null);
          return;
        }
        const [p, t] = row.match.includes(' ') ? (row.match.split(' ') as [string, string]) : [row.match, row.paths.find(([x]) => x === row.match)![1]];
        assert.equal(r.status, 200, r.reason);
        assert.equal(served(r), svcName(p, t));
        assert.equal(r.path, p);
        assert.equal(r.pathType, t);
        assert.equal(r.ingress, 'default/paths');
        assert.equal(r.host, 'example.test');
      });
    }
  }

  it('a request no path matches goes to the Ingress\'s defaultBackend when it has one ("uses default backend")', () => {
    const ing = ingress('paths', { defaultBackend: be('fallback'), rules: [rule('example.test', pth('/aaa', 'Prefix', 'aaa'))] });
    const r = ask(model(stateFor([ing])), 'http://example.test/ccc');
    assert.equal(r.status, 200, r.reason);
    assert.equal(served(r), 'fallback');
    assert.equal(r.ingress, 'default/paths');
    assert.equal(r.path, null, 'served by no rule path');
  });

  it('ImplementationSpecific is Prefix (ingress-nginx), and the longest path wins across Ingresses of a host', () => {
    const a = ingress('a', { rules: [rule('example.test', pth('/aaa', 'ImplementationSpecific', 'aaa'))] });
    const b = ingress('b', { rules: [rule('example.test', pth('/aaa/bbb', 'Prefix', 'bbb'))] });
    const m = model(stateFor([a, b]));
    const r = ask(m, 'http://example.test/aaa/');
    assert.equal(served(r), 'aaa');
    assert.equal(r.pathType, 'ImplementationSpecific', 'route reports the path type as written');
    assert.equal(served(ask(m, 'http://example.test/aaa/x')), 'aaa');
    assert.equal(ask(m, 'http://example.test/aaax').status, 404);
    assert.equal(served(ask(m, 'http://example.test/aaa/bbb/c')), 'bbb');
    assert.equal(ask(m, 'http://example.test/aaa/bbb/c').ingress, 'default/b');
  });

  it('paths with characters nginx.conf must quote are written as they are: a location takes no variables, so $ is itself', () => {
    const m = model(stateFor([ingress('odd', { rules: [rule('odd.test', pth('/a$b', 'Exact', 'dollar'), pth('/c d', 'Prefix', 'space'), pth('/q"x', 'Prefix', 'quote'))] })]));
    assert.equal(served(ask(m, 'http://odd.test/a$b')), 'dollar');
    assert.equal(served(ask(m, 'http://odd.test/c%20d/e')), 'space');
    const conf = renderNginxConf(m, { ...defaultRenderOptions, confDir: '/etc/nginx', runDir: '/run/x' }).conf;
    assert.match(conf, /location = "\/a\$b" \{/);
    assert.match(conf, /location "\/c d\/" \{/);
    assert.match(conf, /location = "\/q\\"x" \{/);
    assert.doesNotMatch(conf, /location (= )?"[^\n]*literal_dollar/);
  });

  it('the older Ingress wins the same host and path, and the younger gets a Conflict problem', () => {
    const a = ingress('older', { rules: [rule('example.test', pth('/x', 'Prefix', 'one'))] });
    const b = ingress('younger', { rules: [rule('example.test', pth('/x', 'Prefix', 'two'))] });
    const m = model(stateFor([b, a]));
    assert.equal(served(ask(m, 'http://example.test/x/y')), 'one');
    assert.ok(m.problems.some((p) => p.reason === 'Conflict' && p.ingress.name === 'younger'), JSON.stringify(m.problems));
  });
});

describe('ICC path_rules', () => {
  const ing = ingress('path-rules', {
    rules: [
      rule('exact-path-rules', pth('/foo', 'Exact', 'foo-exact', 8080)),
      rule('prefix-path-rules', pth('/foo', 'Prefix', 'foo-prefix', 8080), pth('/aaa/bbb', 'Prefix', 'aaa-slash-bbb-prefix', 8080), pth('/aaa', 'Prefix', 'aaa-prefix', 8080)),
      rule('mixed-path-rules', pth('/foo', 'Prefix', 'foo-prefix', 8080), pth('/foo', 'Exact', 'foo-exact', 8080)),
      rule('trailing-slash-path-rules', pth('/aaa/bbb/', 'Prefix', 'aaa-slash-bbb-slash-prefix', 8080), pth('/foo/', 'Exact', 'foo-slash-exact', 8080)),
    ],
  });
  const cases: [string, number, string][] = [
    ['http://exact-path-rules/foo', 200, 'foo-exact'],
    ['http://exact-path-rules/foo/', 404, '-'],
    ['http://exact-path-rules/FOO', 404, '-'],
    ['http://exact-path-rules/bar', 404, '-'],
    ['http://prefix-path-rules/foo', 200, 'foo-prefix'],
    ['http://prefix-path-rules/foo/', 200, 'foo-prefix'],
    ['http://prefix-path-rules/FOO', 404, '-'],
    ['http://prefix-path-rules/aaa/bbb', 200, 'aaa-slash-bbb-prefix'],
    ['http://prefix-path-rules/aaa/bbb/ccc', 200, 'aaa-slash-bbb-prefix'],
    ['http://prefix-path-rules/aaa/ccc', 200, 'aaa-prefix'],
    ['http://prefix-path-rules/aaaccc', 404, '-'],
    ['http://mixed-path-rules/foo', 200, 'foo-exact'],
    ['http://trailing-slash-path-rules/aaa/bbb', 200, 'aaa-slash-bbb-slash-prefix'],
    ['http://trailing-slash-path-rules/aaa/bbb/', 200, 'aaa-slash-bbb-slash-prefix'],
    ['http://trailing-slash-path-rules/foo', 404, '-'],
  ];
  for (const [url, status, svc] of cases) {
    it(`${url} → ${status} ${svc}`, () => {
      const r = ask(model(stateFor([ing])), url);
      assert.equal(r.status, status, r.reason);
      assert.equal(served(r), svc);
      if (status === 200) assert.equal(r.backend?.service?.port?.number, 8080);
    });
  }
});

describe('ICC host_rules and name-based virtual hosting', () => {
  let cert: TestCert;
  before(() => {
    cert = makeCert(['foo.bar.com']);
  });
  const hostRules = (annotations?: Record<string, string>) =>
    ingress('host-rules', { tls: [{ hosts: ['foo.bar.com'], secretName: 'conformance-tls' }], rules: [rule('*.foo.com', pth('/', 'Prefix', 'wildcard-foo-com', 8080)), rule('foo.bar.com', pth('/', 'Prefix', 'foo-bar-com', 'http'))] }, annotations ? { annotations } : {});

  it('https://foo.bar.com: the TLS host, its Secret\'s certificate, served by foo-bar-com', () => {
    const m = model(stateFor([hostRules()], { secrets: [tlsSecret('conformance-tls', cert)] }));
    const r = ask(m, 'https://foo.bar.com');
    assert.equal(r.status, 200, r.reason);
    assert.equal(served(r), 'foo-bar-com');
    assert.equal(r.backend?.service?.port?.name, 'http');
    assert.equal(r.host, 'foo.bar.com');
    assert.equal(r.certificate, 'default/conformance-tls');
    assert.deepEqual(m.problems, []);
  });

  it('http://foo.bar.com: ingress-nginx redirects a TLS host to https (308) where ICC expects 200; with ssl-redirect "false" it serves', () => {
    const m = model(stateFor([hostRules()], { secrets: [tlsSecret('conformance-tls', cert)] }));
    const r = ask(m, 'http://foo.bar.com');
    assert.equal(r.status, 308);
    assert.equal(r.location, 'https://foo.bar.com');
    const m2 = model(stateFor([hostRules(nginxAnn({ 'ssl-redirect': 'false' }))], { secrets: [tlsSecret('conformance-tls', cert)] }));
    const r2 = ask(m2, 'http://foo.bar.com');
    assert.equal(r2.status, 200, r2.reason);
    assert.equal(served(r2), 'foo-bar-com');
  });

  const hostCases: [string, number, string, string | null][] = [
    ['http://subdomain.bar.com', 404, '-', null],
    ['http://bar.foo.com', 200, 'wildcard-foo-com', '*.foo.com'],
    ['http://bar.foo.com:8080/x', 200, 'wildcard-foo-com', '*.foo.com'],
    ['http://BAR.Foo.COM/', 200, 'wildcard-foo-com', '*.foo.com'],
    ['http://baz.bar.foo.com', 404, '-', null],
    ['http://foo.com', 404, '-', null],
  ];
  for (const [url, status, svc, host] of hostCases) {
    it(`${url} → ${status} ${svc}`, () => {
      const m = model(stateFor([hostRules()], { secrets: [tlsSecret('conformance-tls', cert)] }));
      const r = ask(m, url);
      assert.equal(r.status, status, r.reason);
      assert.equal(served(r), svc);
      assert.equal(r.host, host);
    });
  }

  it('precise hosts first, then the host-less rule for any other Host (ingress.md "Name based virtual hosting")', () => {
    const ing = ingress('name-virtual-host-ingress-no-third-host', { rules: [rule('first.bar.com', pth('/', 'Prefix', 'service1')), rule('second.bar.com', pth('/', 'Prefix', 'service2')), rule(undefined, pth('/', 'Prefix', 'service3'))] });
    const m = model(stateFor([ing]));
    assert.equal(served(ask(m, 'http://first.bar.com/')), 'service1');
    assert.equal(served(ask(m, 'http://second.bar.com/a')), 'service2');
    const other = ask(m, 'http://third.bar.com/a');
    assert.equal(served(other), 'service3');
    assert.equal(other.host, null, 'the host-less rule');
    assert.equal(other.path, '/');
    assert.equal(served(ask(m, 'http://10.0.0.1/')), 'service3', 'a request to the address');
    assert.equal(served(ask(m, 'http://x/', { headers: { Host: '' } })), 'service3', 'an empty Host');
  });
});

describe('ICC default_backend', () => {
  const ing = ingress('default-backend', { defaultBackend: be('echo-service', 8080) });
  const examples: [string, string, string][] = [
    ['GET', 'my-host', ''],
    ['GET', 'my-host', 'sub-path'],
    ['POST', 'some-host', ''],
    ['PUT', '', 'resource'],
    ['DELETE', 'some-host', 'resource'],
    ['PATCH', 'my-host', 'resource'],
  ];
  for (const [method, host, p] of examples) {
    it(`${method} Host "${host}" /${p} → 200 from echo-service`, () => {
      const r = ask(model(stateFor([ing])), `http://${host || '192.168.49.2'}/${p}`, { method, ...(host ? {} : { headers: { Host: '' } }) });
      assert.equal(r.status, 200, r.reason);
      assert.equal(served(r), 'echo-service');
      assert.equal(r.backend?.service?.port?.number, 8080);
      assert.equal(r.ingress, 'default/default-backend');
      assert.equal(r.path, null);
      assert.equal(r.host, null);
      assert.equal(r.rewrittenTo, undefined, 'the path goes to the backend as sent');
    });
  }

  it('a host of another Ingress still answers from its own rules; what matches nothing goes to the default backend', () => {
    const other = ingress('other', { rules: [rule('a.test', pth('/app', 'Prefix', 'app'))] });
    const m = model(stateFor([ing, other]));
    assert.equal(served(ask(m, 'http://a.test/app/x')), 'app');
    assert.equal(served(ask(m, 'http://b.test/app/x')), 'echo-service');
  });

  it("/healthz of the catch-all server is the controller's own 200, unless a host-less Ingress path takes it (then nginx.conf has one such location)", () => {
    const m = model(stateFor([ing, ingress('other', { rules: [rule('a.test', pth('/app', 'Prefix', 'app'))] })]));
    const h = ask(m, 'http://some-host/healthz');
    assert.equal(h.status, 200);
    assert.equal(h.backend, null);
    assert.equal(h.nginxLocation, '= /healthz');
    assert.equal(served(ask(m, 'http://some-host/healthz/x')), 'echo-service');
    assert.equal(ask(m, 'http://a.test/healthz').status, 404, 'other hosts do not have it (a.test has no root: the default backend)');
    const taken = model(stateFor([ing, ingress('health', { rules: [rule(undefined, pth('/healthz', 'Prefix', 'health'))] })]));
    assert.equal(served(ask(taken, 'http://some-host/healthz')), 'health');
    const conf = renderNginxConf(taken, { ...defaultRenderOptions, confDir: '/etc/nginx', runDir: '/run/x' }).conf;
    const catchAllServer = conf.slice(conf.indexOf('## start server _'), conf.indexOf('## end server _'));
    assert.equal(catchAllServer.split('\n').filter((l) => /location = "?\/healthz"? \{/.test(l.trim())).length, 1);
  });

  it('404 when nothing matches and no Ingress has a defaultBackend', () => {
    const only = ingress('only', { rules: [rule('a.test', pth('/app', 'Prefix', 'app'))] });
    const m = model(stateFor([only]));
    for (const url of ['http://a.test/', 'http://a.test/other', 'http://b.test/app']) {
      const r = ask(m, url);
      assert.equal(r.status, 404, url);
      assert.equal(r.ingress, null, url);
      assert.equal(r.backend, null, url);
    }
  });
});

describe('ICC ingress_class', () => {
  const spec = { rules: [rule('ingress-class', pth('/', 'Prefix', 'ingress-class-prefix', 8080))] };
  it('an Ingress naming a class that does not exist is not served (and not ours)', () => {
    const m = model(stateFor([ingress('test-ingress-class', spec, { className: 'some-invalid-class-name' })]));
    assert.deepEqual(m.served, []);
    assert.equal(ask(m, 'http://ingress-class/').status, 404);
  });
  it("an Ingress of another controller's class is not served", () => {
    const m = model(stateFor([ingress('theirs', spec, { className: 'other' })]));
    assert.deepEqual(m.served, []);
    assert.equal(ask(m, 'http://ingress-class/').status, 404);
  });
  it('the legacy kubernetes.io/ingress.class annotation is honoured: nginx is ours, other is not', () => {
    const m = model(stateFor([ingress('legacy', spec, { className: null, annotations: { 'kubernetes.io/ingress.class': 'nginx' } })]));
    assert.equal(served(ask(m, 'http://ingress-class/')), 'ingress-class-prefix');
    const m2 = model(stateFor([ingress('legacy', spec, { className: null, annotations: { 'kubernetes.io/ingress.class': 'other' } })]));
    assert.equal(ask(m2, 'http://ingress-class/').status, 404);
  });
  it('an Ingress without a class is served only with --watch-ingress-without-class', () => {
    const s = stateFor([ingress('classless', spec, { className: null })]);
    assert.equal(ask(model(s), 'http://ingress-class/').status, 404);
    assert.equal(served(ask(model(s, true), 'http://ingress-class/')), 'ingress-class-prefix');
  });
});

describe('ICC load_balancing: the upstream lists the ready endpoints', () => {
  it('a Service scaled to 10 across two EndpointSlices, 3 not ready: 7 endpoints (ready unset counts as ready)', () => {
    const ing = ingress('load-balancing', { defaultBackend: be('echo-service', 8080) });
    const s = stateFor([ing]);
    const addrs = Array.from({ length: 10 }, (_, i) => `10.244.1.${i + 1}`);
    s.slices = [
      slice('echo-service', addrs.slice(0, 5).map((address, i) => ({ address, ready: i !== 1 })), { name: 'echo-a' }),
      slice('echo-service', addrs.slice(5).map((address, i) => ({ address, ready: i < 3 })), { name: 'echo-b' }),
    ];
    delete s.slices[0]!.endpoints[0]!.conditions; // no conditions at all: ready
    const r = ask(model(s), 'http://load-balancing/');
    assert.equal(r.status, 200, r.reason);
    // port 8080 of the Service is "web", whose endpoints listen on 9090
    assert.deepEqual(r.endpoints, ['10.244.1.1', '10.244.1.3', '10.244.1.4', '10.244.1.5', '10.244.1.6', '10.244.1.7', '10.244.1.8'].map((a) => `${a}:9090`).sort());
    assert.equal(r.upstream, 'default-echo-service-8080');
  });
  it('no ready endpoint: 503', () => {
    const ing = ingress('load-balancing', { defaultBackend: be('echo-service', 8080) });
    const s = stateFor([ing]);
    s.slices = [slice('echo-service', [{ address: '10.244.1.1', ready: false }])];
    const r = ask(model(s), 'http://load-balancing/');
    assert.equal(r.status, 503);
    assert.deepEqual(r.endpoints, []);
  });
});

describe('ingress-nginx: rewrite-target and use-regex (docs/examples/rewrite, user-guide/ingress-path-matching)', () => {
  it('/something(/|$)(.*) with rewrite-target /$2: /something → /, /something/ → /, /something/new → /new', () => {
    const ing = ingress('rewrite', { rules: [rule('rewrite.bar.com', pth('/something(/|$)(.*)', 'ImplementationSpecific', 'http-svc'))] }, { annotations: nginxAnn({ 'use-regex': 'true', 'rewrite-target': '/$2' }) });
    const m = model(stateFor([ing]));
    for (const [from, to] of [['/something', '/'], ['/something/', '/'], ['/something/new', '/new'], ['/something/new?a=b', '/new?a=b'], ['/SOMETHING/New', '/New']]) {
      const r = ask(m, `http://rewrite.bar.com${from}`);
      assert.equal(r.status, 200, `${from}: ${r.reason}`);
      assert.equal(served(r), 'http-svc');
      assert.equal(r.rewrittenTo, to, from);
      assert.equal(r.nginxLocation, '~* "^/something(/|$)(.*)"');
    }
    assert.equal(ask(m, 'http://rewrite.bar.com/other').status, 404);
  });

  it('rewrite-target replaces the whole URI, as nginx\'s rewrite does: path /foo with target / sends /foo/bar as /', () => {
    const ing = ingress('rw', { rules: [rule('rw.test', pth('/foo', 'ImplementationSpecific', 'svc'))] }, { annotations: nginxAnn({ 'rewrite-target': '/' }) });
    const m = model(stateFor([ing]));
    assert.equal(ask(m, 'http://rw.test/foo/bar').rewrittenTo, '/');
    assert.equal(ask(m, 'http://rw.test/foo').rewrittenTo, '/');
    const ing2 = ingress('rw2', { rules: [rule('rw2.test', pth('/api/(v[0-9])/(.*)', 'ImplementationSpecific', 'svc'))] }, { annotations: nginxAnn({ 'rewrite-target': '/$2/$1' }) });
    assert.equal(ask(model(stateFor([ing2])), 'http://rw2.test/api/v2/users/7?x=1').rewrittenTo, '/users/7/v2?x=1');
  });

  it('Path Priority: paths of a regex host are tried longest first (/foo/bar/1 → service3, /foo/bar/ → service2, /foo/bar → service1)', () => {
    const one = ingress('test-ingress-1', { rules: [rule('test.com', pth('/foo/bar', 'Prefix', 'service1'), pth('/foo/bar/', 'Prefix', 'service2'))] });
    const two = ingress('test-ingress-2', { rules: [rule('test.com', pth('/foo/bar/(.+)', 'ImplementationSpecific', 'service3'))] }, { annotations: nginxAnn({ 'rewrite-target': '/$1' }) });
    const m = model(stateFor([one, two]));
    const server = m.servers.find((s) => s.hostname === 'test.com')!;
    assert.deepEqual(server.locations.filter((l) => l.path !== undefined).map((l) => `${l.match.kind} ${l.match.pattern}`), ['regex /foo/bar/(.+)', 'regex /foo/bar/', 'regex /foo/bar']);
    assert.equal(served(ask(m, 'http://test.com/foo/bar/1')), 'service3');
    assert.equal(ask(m, 'http://test.com/foo/bar/1').rewrittenTo, '/1');
    assert.equal(served(ask(m, 'http://test.com/foo/bar/')), 'service2');
    assert.equal(served(ask(m, 'http://test.com/foo/bar')), 'service1');
    assert.equal(ask(m, 'http://test.com/foo/bar').rewrittenTo, undefined, 'only the rewrite Ingress rewrites');
    // the regex is case-insensitive and a prefix: /FOO/BARBAZ is service1 now
    assert.equal(served(ask(m, 'http://test.com/FOO/BARBAZ')), 'service1');
  });

  it('Warning example: /foo/bar/bar goes to ^/foo/bar/[A-Z0-9]{3}, the longer regex, not the exact-looking /foo/bar/bar', () => {
    const ing = ingress('test-ingress-3', { rules: [rule('test.com', pth('/foo/bar/bar', 'Prefix', 'bar-svc'), pth('/foo/bar/[A-Z0-9]{3}', 'ImplementationSpecific', 'class-svc'))] }, { annotations: nginxAnn({ 'use-regex': 'true' }) });
    const m = model(stateFor([ing]));
    assert.equal(served(ask(m, 'http://test.com/foo/bar/bar')), 'class-svc');
    assert.equal(served(ask(m, 'http://test.com/foo/bar/BAR')), 'class-svc');
    assert.equal(ask(m, 'http://test.com/foo/bar/ba').status, 404);
  });

  it('a rewrite Ingress turns every path of its host into a regex, Exact ones too (§4.5); other hosts keep v1 semantics', () => {
    const exact = ingress('exact', { rules: [rule('shared.test', pth('/foo', 'Exact', 'exact')), rule('alone.test', pth('/foo', 'Exact', 'exact'))] });
    const rw = ingress('rw', { rules: [rule('shared.test', pth('/rw', 'Prefix', 'rw'))] }, { annotations: nginxAnn({ 'rewrite-target': '/' }) });
    const m = model(stateFor([exact, rw]));
    assert.equal(served(ask(m, 'http://shared.test/foo/more')), 'exact');
    assert.equal(ask(m, 'http://shared.test/foo/more').nginxLocation, '~* "^/foo"');
    assert.equal(ask(m, 'http://alone.test/foo/more').status, 404);
  });
});

describe('ingress-nginx: canary (annotations.md "Canary")', () => {
  const main = () => ingress('main', { rules: [rule('canary.test', pth('/', 'Prefix', 'production'))] });
  const canary = (a: Record<string, string>) => ingress('canary', { rules: [rule('canary.test', pth('/', 'Prefix', 'canary'))] }, { annotations: nginxAnn({ canary: 'true', ...a }) });

  it('canary-by-header: "always" → canary, "never" → production, other values are ignored', () => {
    const m = model(stateFor([main(), canary({ 'canary-by-header': 'X-Canary' })]));
    const always = ask(m, 'http://canary.test/', { headers: { 'X-Canary': 'always' } });
    assert.equal(served(always), 'canary');
    assert.equal(always.ingress, 'default/canary');
    assert.equal(always.canary?.chosen, 'header');
    assert.equal(served(ask(m, 'http://canary.test/', { headers: { 'X-Canary': 'never' } })), 'production');
    assert.equal(served(ask(m, 'http://canary.test/', { headers: { 'x-canary': 'yes' } })), 'production');
    const none = ask(m, 'http://canary.test/x');
    assert.equal(served(none), 'production');
    assert.equal(none.ingress, 'default/main');
    assert.equal(none.canary?.chosen, 'no');
  });

  it('canary-by-header-value: only that value picks the canary ("always" is then just another value)', () => {
    const m = model(stateFor([main(), canary({ 'canary-by-header': 'X-Canary', 'canary-by-header-value': 'v2' })]));
    assert.equal(served(ask(m, 'http://canary.test/', { headers: { 'X-Canary': 'v2' } })), 'canary');
    assert.equal(served(ask(m, 'http://canary.test/', { headers: { 'X-Canary': 'always' } })), 'production');
  });

  it('canary-weight 0 sends nothing, 100 everything; the header still decides first ("never" over weight 100)', () => {
    const m0 = model(stateFor([main(), canary({ 'canary-weight': '0' })]));
    assert.equal(served(ask(m0, 'http://canary.test/')), 'production');
    const m100 = model(stateFor([main(), canary({ 'canary-weight': '100', 'canary-by-header': 'X-Canary' })]));
    const r = ask(m100, 'http://canary.test/');
    assert.equal(served(r), 'canary');
    assert.equal(r.canary?.chosen, 'weight');
    assert.equal(served(ask(m100, 'http://canary.test/', { headers: { 'X-Canary': 'never' } })), 'production');
    const total = model(stateFor([main(), canary({ 'canary-weight': '5', 'canary-weight-total': '5' })]));
    assert.equal(served(ask(total, 'http://canary.test/')), 'canary', 'weight = canary-weight-total');
  });

  it("a canary's other annotations do not apply (it inherits the main Ingress's): its rewrite-target does not regex the host", () => {
    const m = model(stateFor([main(), canary({ 'canary-weight': '0', 'rewrite-target': '/x' })]));
    assert.equal(m.servers.find((s) => s.hostname === 'canary.test')!.regex, false);
    assert.equal(ask(m, 'http://canary.test/a').rewrittenTo, undefined);
  });

  it('a canary with no main Ingress for its host and path is not served (CanaryWithoutMain)', () => {
    const m = model(stateFor([canary({ 'canary-weight': '100' })]));
    assert.equal(ask(m, 'http://canary.test/').status, 404);
    assert.ok(m.problems.some((p) => p.reason === 'CanaryWithoutMain'));
  });
});

describe('ingress-nginx: ssl-redirect, force-ssl-redirect, app-root, allow lists, backend-protocol', () => {
  let cert: TestCert;
  before(() => {
    cert = makeCert(['tls.test']);
  });
  const tlsIng = (a: Record<string, string> = {}) => ingress('tls', { tls: [{ hosts: ['tls.test'], secretName: 'tls-secret' }], rules: [rule('tls.test', pth('/', 'Prefix', 'web'))] }, { annotations: nginxAnn(a) });
  const tlsModel = (a: Record<string, string> = {}) => model(stateFor([tlsIng(a)], { secrets: [tlsSecret('tls-secret', cert)] }));

  it('a TLS host redirects http to https with 308 (the request line kept; the trailing slash dropped, as ingress-nginx does)', () => {
    const m = tlsModel();
    const r = ask(m, 'http://tls.test/path/x?q=1');
    assert.equal(r.status, 308);
    assert.equal(r.location, 'https://tls.test/path/x?q=1');
    assert.equal(r.ingress, 'default/tls');
    assert.equal(ask(m, 'http://tls.test/dir/').location, 'https://tls.test/dir');
    assert.equal(ask(m, 'http://tls.test:8080/').location, 'https://tls.test', 'the redirect names the host without the port');
    assert.equal(ask(m, 'https://tls.test/path').status, 200);
  });

  it('preserve-trailing-slash keeps the slash in the redirect', () => {
    assert.equal(ask(tlsModel({ 'preserve-trailing-slash': 'true' }), 'http://tls.test/dir/').location, 'https://tls.test/dir/');
  });

  it('ssl-redirect "false" serves http on a TLS host', () => {
    const r = ask(tlsModel({ 'ssl-redirect': 'false' }), 'http://tls.test/path');
    assert.equal(r.status, 200);
    assert.equal(served(r), 'web');
  });

  it('force-ssl-redirect redirects a host without TLS', () => {
    const m = model(stateFor([ingress('forcesslredirect', { rules: [rule('forcesslredirect.bar.com', pth('/', 'Prefix', 'echo'))] }, { annotations: nginxAnn({ 'force-ssl-redirect': 'true' }) })]));
    const r = ask(m, 'http://forcesslredirect.bar.com/');
    assert.equal(r.status, 308);
    assert.equal(r.location, 'https://forcesslredirect.bar.com');
    assert.equal(ask(m, 'https://forcesslredirect.bar.com/').status, 200);
  });

  it('a host without TLS and without force-ssl-redirect is not redirected', () => {
    const m = model(stateFor([ingress('plain', { rules: [rule('plain.test', pth('/', 'Prefix', 'echo'))] })]));
    assert.equal(ask(m, 'http://plain.test/').status, 200);
  });

  it('app-root: / answers 302 to the application root (docs/examples/rewrite), other paths are served', () => {
    const m = model(stateFor([ingress('approot', { rules: [rule('approot.bar.com', pth('/', 'Prefix', 'http-svc'))] }, { annotations: nginxAnn({ 'app-root': '/app1' }) })]));
    const r = ask(m, 'http://approot.bar.com/');
    assert.equal(r.status, 302);
    assert.equal(r.location, 'http://approot.bar.com/app1');
    assert.equal(ask(m, 'http://approot.bar.com:8080/').location, 'http://approot.bar.com:8080/app1', '$http_host keeps the port');
    assert.equal(ask(m, 'http://approot.bar.com/app1').status, 200);
  });

  it('app-root is a server-level redirect in ingress-nginx: it applies without a / path, and before the https redirect', () => {
    const only = model(stateFor([ingress('approot', { rules: [rule('approot.bar.com', pth('/app1', 'Prefix', 'http-svc'))] }, { annotations: nginxAnn({ 'app-root': '/app1' }) })]));
    const r = ask(only, 'http://approot.bar.com/');
    assert.equal(r.status, 302);
    assert.equal(r.location, 'http://approot.bar.com/app1');
    assert.equal(r.ingress, 'default/approot');
    assert.equal(ask(only, 'http://approot.bar.com/other').status, 404);
    const withTLS = tlsModel({ 'app-root': '/app1' });
    assert.equal(ask(withTLS, 'http://tls.test/').location, 'http://tls.test/app1');
    assert.equal(ask(withTLS, 'http://tls.test/app1').location, 'https://tls.test/app1');
  });

  it('whitelist-source-range "10.0.0.0/24,172.10.0.1": clients inside are served, others get 403', () => {
    const m = model(stateFor([ingress('allow', { rules: [rule('allow.test', pth('/', 'Prefix', 'svc'))] }, { annotations: nginxAnn({ 'whitelist-source-range': '10.0.0.0/24,172.10.0.1' }) })]));
    assert.equal(ask(m, 'http://allow.test/', { clientIP: '10.0.0.5' }).status, 200);
    assert.equal(ask(m, 'http://allow.test/', { clientIP: '172.10.0.1' }).status, 200);
    const r = ask(m, 'http://allow.test/', { clientIP: '172.10.0.2' });
    assert.equal(r.status, 403);
    assert.equal(served(r), 'svc', 'the location is still the Ingress path');
  });

  it('backend-protocol HTTPS is taken (case-insensitively); GRPC, which podpath does not proxy, skips the Ingress', () => {
    const m = model(stateFor([ingress('https-backend', { rules: [rule('b.test', pth('/', 'Prefix', 'svc'))] }, { annotations: nginxAnn({ 'backend-protocol': 'https' }) })]));
    assert.equal(m.servers.find((s) => s.hostname === 'b.test')!.locations[0]!.config.backendProtocol, 'HTTPS');
    assert.equal(ask(m, 'http://b.test/').status, 200);
    const g = model(stateFor([ingress('grpc', { rules: [rule('b.test', pth('/', 'Prefix', 'svc'))] }, { annotations: nginxAnn({ 'backend-protocol': 'GRPC' }) })]));
    assert.equal(ask(g, 'http://b.test/').status, 404);
    assert.ok(g.problems.some((p) => p.reason === 'InvalidAnnotation' && p.skipped));
  });

  it('an invalid annotation value skips that Ingress with a problem; the others keep routing', () => {
    const bad = ingress('bad', { rules: [rule('bad.test', pth('/', 'Prefix', 'bad-svc'))] }, { annotations: nginxAnn({ 'ssl-redirect': 'maybe' }) });
    const good = ingress('good', { rules: [rule('good.test', pth('/', 'Prefix', 'good-svc'))] });
    const m = model(stateFor([bad, good]));
    assert.equal(ask(m, 'http://bad.test/').status, 404);
    assert.equal(served(ask(m, 'http://good.test/')), 'good-svc');
    const p = m.problems.find((x) => x.ingress.name === 'bad');
    assert.equal(p?.reason, 'InvalidAnnotation');
    assert.equal(p?.skipped, true);
    assert.match(p!.message, /ssl-redirect/);
    assert.deepEqual(m.served.map((i) => i.metadata.name), ['good']);
  });

  it('an unknown annotation under the prefix is ignored (and named); the Ingress is served', () => {
    const ing = ingress('unknown', { rules: [rule('u.test', pth('/', 'Prefix', 'svc'))] }, { annotations: { ...nginxAnn({ 'no-such-thing': 'x' }), 'example.com/other': 'y' } });
    const m = model(stateFor([ing]));
    assert.equal(served(ask(m, 'http://u.test/')), 'svc');
    assert.deepEqual(m.ignored, [{ ingress: { namespace: 'default', name: 'unknown' }, annotation: 'nginx.ingress.kubernetes.io/no-such-thing' }]);
    assert.deepEqual(m.problems, []);
  });

  it('a backend Service that does not exist answers 503 (ServiceNotFound problem); so does one without endpoints', () => {
    const ing = ingress('missing', { rules: [rule('m.test', pth('/gone', 'Prefix', 'gone'), pth('/empty', 'Prefix', 'empty'), pth('/ok', 'Prefix', 'ok'))] });
    const m = model(stateFor([ing], { missing: ['gone'], noEndpoints: ['empty'] }));
    const r = ask(m, 'http://m.test/gone');
    assert.equal(r.status, 503);
    assert.equal(served(r), 'gone');
    assert.equal(ask(m, 'http://m.test/empty').status, 503);
    assert.equal(ask(m, 'http://m.test/ok').status, 200);
    assert.deepEqual(m.problems.map((p) => p.reason), ['ServiceNotFound']);
  });

  it('no endpoints answers 503 before the allow list is looked at (the balancer decides in the rewrite phase, before access)', () => {
    const ing = ingress('allow-empty', { rules: [rule('ae.test', pth('/', 'Prefix', 'empty'))] }, { annotations: nginxAnn({ 'whitelist-source-range': '10.0.0.0/8' }) });
    const m = model(stateFor([ing], { noEndpoints: ['empty'] }));
    assert.equal(ask(m, 'http://ae.test/', { clientIP: '192.168.1.1' }).status, 503);
  });
});

describe('TLS: SNI picks the certificate, Host picks the route', () => {
  let a: TestCert;
  let b: TestCert;
  before(() => {
    a = makeCert(['a.test']);
    b = makeCert(['b.test']);
  });
  const tlsState = (secrets: ReturnType<typeof tlsSecret>[], tlsHosts: { hosts: string[]; secretName?: string }[] = [{ hosts: ['a.test'], secretName: 'a-tls' }, { hosts: ['b.test'], secretName: 'b-tls' }]) =>
    stateFor([ingress('tls', { tls: tlsHosts, rules: [rule('a.test', pth('/', 'Prefix', 'a-svc')), rule('b.test', pth('/', 'Prefix', 'b-svc'))] })], { secrets });

  it('each host gets its Secret; SNI a.test with Host b.test: a.test\'s certificate, b.test\'s backend', () => {
    const m = model(tlsState([tlsSecret('a-tls', a), tlsSecret('b-tls', b)]));
    assert.deepEqual(m.problems, []);
    const r = ask(m, 'https://b.test/', { sni: 'a.test' });
    assert.equal(r.certificate, 'default/a-tls');
    assert.equal(served(r), 'b-svc');
    assert.equal(ask(m, 'https://a.test/').certificate, 'default/a-tls');
    assert.equal(ask(m, 'https://b.test/').certificate, 'default/b-tls');
    assert.equal(ask(m, 'https://c.test/', { headers: { Host: 'a.test' } }).certificate, 'default', 'an unknown SNI: the default certificate');
    assert.equal(served(ask(m, 'https://c.test/', { headers: { Host: 'a.test' } })), 'a-svc');
    const pems = [...m.certificates.values()].map((c) => c.pem);
    assert.ok(pems.some((p) => p.includes(a.cert.trim()) && p.includes(a.key.trim())), 'the chain and key of a-tls');
  });

  const broken: [string, () => ReturnType<typeof tlsSecret>, RegExp][] = [
    ['missing', () => tlsSecret('unrelated', b), /not found/],
    ['malformed tls.crt', () => tlsSecret('b-tls', b, { crt: Buffer.from('-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n').toString('base64') }), /b-tls/],
    ['a key of another certificate', () => tlsSecret('b-tls', b, { key: Buffer.from(a.key).toString('base64') }), /does not belong/],
    ['of type Opaque', () => tlsSecret('b-tls', b, { type: 'Opaque' }), /Opaque/],
  ];
  for (const [what, sec, message] of broken) {
    it(`a Secret ${what}: the host is served with the default certificate and an InvalidCertificate problem`, () => {
      const m = model(tlsState([tlsSecret('a-tls', a), sec()]));
      assert.equal(ask(m, 'https://b.test/').certificate, 'default');
      assert.equal(ask(m, 'https://b.test/').status, 200);
      assert.equal(ask(m, 'https://a.test/').certificate, 'default/a-tls', 'the other host keeps its own');
      const p = m.problems.filter((x) => x.reason === 'InvalidCertificate');
      assert.equal(p.length, 1);
      assert.match(p[0]!.message, message);
      assert.equal(p[0]!.skipped, false);
      assert.equal(ask(m, 'http://b.test/').status, 308, 'still a TLS host: http is redirected');
    });
  }

  it('a tls entry without secretName uses the default certificate, without a problem', () => {
    const m = model(tlsState([], [{ hosts: ['a.test'] }]));
    assert.deepEqual(m.problems, []);
    assert.equal(ask(m, 'https://a.test/').certificate, 'default');
    assert.equal(ask(m, 'http://a.test/').status, 308);
    assert.equal(ask(m, 'http://b.test/').status, 200, 'b.test has no tls entry');
  });
});

describe('podpath ingress route -o json', () => {
  let dir: string;
  let file: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-ingroute-'));
    file = path.join(dir, 'state.yaml');
    const c = makeCert(['secure.test'], { dir });
    const s = stateFor(
      [
        ingress('app', { tls: [{ hosts: ['secure.test'], secretName: 'secure-tls' }], rules: [rule('app.test', pth('/', 'Prefix', 'web'), pth('/api', 'Exact', 'api', 'http')), rule('secure.test', pth('/', 'Prefix', 'web'))] }),
        ingress('rewrite', { rules: [rule('rewrite.bar.com', pth('/something(/|$)(.*)', 'ImplementationSpecific', 'http-svc'))] }, { annotations: nginxAnn({ 'rewrite-target': '/$2' }) }),
      ],
      { secrets: [tlsSecret('secure-tls', c)] },
    );
    const docs = [...s.classes, ...s.services, ...s.slices, ...s.secrets, ...s.ingresses];
    fs.writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const podpath = (...args: string[]) => spawnSync(process.execPath, [path.join(repoRoot, 'bin/podpath.js'), 'ingress', 'route', '-f', file, ...args, '-o', 'json'], { encoding: 'utf8', timeout: 60_000 });

  it('a served request: exit status 0 and the fields status, ingress, host, path, pathType, backend, location', () => {
    const p = podpath('http://app.test/api');
    assert.equal(p.status, 0, p.stderr);
    const j = JSON.parse(p.stdout);
    assert.deepEqual(Object.keys(j).slice(0, 7), ['status', 'ingress', 'host', 'path', 'pathType', 'backend', 'location']);
    assert.deepEqual({ status: j.status, ingress: j.ingress, host: j.host, path: j.path, pathType: j.pathType, backend: j.backend, location: j.location }, { status: 200, ingress: 'default/app', host: 'app.test', path: '/api', pathType: 'Exact', backend: { service: { name: 'api', port: { name: 'http' } } }, location: null });
    assert.deepEqual(j.endpoints, ['10.244.0.2:8080']);
  });

  it('no match: exit status 3, status 404 and null fields', () => {
    const p = podpath('http://nowhere.test/');
    assert.equal(p.status, 3, p.stderr);
    const j = JSON.parse(p.stdout);
    assert.deepEqual({ status: j.status, ingress: j.ingress, host: j.host, path: j.path, pathType: j.pathType, backend: j.backend, location: j.location }, { status: 404, ingress: null, host: null, path: null, pathType: null, backend: null, location: null });
  });

  it('a redirect: exit status 3, status 308 and location; -H Host and --sni take part', () => {
    const p = podpath('http://secure.test/x/');
    assert.equal(p.status, 3);
    const j = JSON.parse(p.stdout);
    assert.equal(j.status, 308);
    assert.equal(j.location, 'https://secure.test/x');
    assert.equal(j.host, 'secure.test');
    const q = podpath('https://10.0.0.1/', '-H', 'Host: app.test', '--sni', 'secure.test');
    assert.equal(q.status, 0, q.stderr);
    const k = JSON.parse(q.stdout);
    assert.equal(k.host, 'app.test');
    assert.equal(k.certificate, 'default/secure-tls');
  });

  it('rewrite: rewrittenTo in the JSON', () => {
    const p = podpath('http://rewrite.bar.com/something/new');
    assert.equal(p.status, 0, p.stderr);
    assert.equal(JSON.parse(p.stdout).rewrittenTo, '/new');
  });
});
