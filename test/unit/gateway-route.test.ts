// The Gateway API's routing rules one at a time, beyond the conformance suite's cases: hostname
// intersection and Host parsing, the ReplacePrefixMatch table of httproute_types.go, precedence
// across routes (hostname, path type, method, headers, creationTimestamp, namespace/name),
// allowedRoutes selectors and kinds, dropped rules, weights, ReferenceGrant names, v1beta1,
// and bad input — each routed through routeFiles, as the CLI routes — and `podpath gateway route`
// itself (exit status, JSON fields, the text's explanation).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { modifyPath } from '../../src/gateway/filters.ts';
import { hostOf, intersect } from '../../src/gateway/hostnames.ts';
import { routeFiles } from '../../src/gateway/offline.ts';
import { repoRoot } from '../helpers/netpol.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-gwroute-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;

type Obj = Record<string, unknown>;
const G = 'gateway.networking.k8s.io/v1';

function stateFile(objs: Obj[]): string {
  const f = path.join(tmp, `state-${n++}.yaml`);
  fs.writeFileSync(f, objs.map((o) => stringify(o)).join('---\n'));
  return f;
}

const svc = (name: string, ns = 'default', port = 80): Obj => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports: [{ port }] } });
const gateway = (listeners: Obj[], name = 'gw', ns = 'default'): Obj => ({ apiVersion: G, kind: 'Gateway', metadata: { name, namespace: ns }, spec: { gatewayClassName: 'podpath', listeners } });
const http = (extra: Obj = {}): Obj => ({ name: 'http', port: 80, protocol: 'HTTP', ...extra });
const route = (name: string, spec: Obj, meta: Obj = {}, apiVersion = G): Obj => ({ apiVersion, kind: 'HTTPRoute', metadata: { name, namespace: 'default', ...meta }, spec: { parentRefs: [{ name: 'gw' }], ...spec } });
const to = (name: string, port = 80, extra: Obj = {}) => ({ backendRefs: [{ name, port, ...extra }] });
const prefix = (value: string, extra: Obj = {}) => ({ path: { type: 'PathPrefix', value }, ...extra });

function ask(objs: Obj[], url: string, opts: { headers?: string[]; method?: string; gateway?: string } = {}) {
  return routeFiles([stateFile(objs)], { url, gateway: opts.gateway ?? 'default/gw', headers: opts.headers ?? [], method: opts.method ?? 'GET' });
}
const served = (r: ReturnType<typeof ask>) => r.backend?.service.name ?? `(${r.status})`;

describe('hostnames', () => {
  // HTTPRouteSpec.Hostnames' examples
  const rows: [string | undefined, string[] | undefined, string[] | undefined][] = [
    ['test.example.com', undefined, ['test.example.com']],
    ['test.example.com', ['test.example.com'], ['test.example.com']],
    ['test.example.com', ['*.example.com'], ['test.example.com']],
    ['test.example.com', ['other.example.com', 'example.com'], []],
    ['*.example.com', ['*.example.com', 'test.example.com', 'foo.test.example.com'], ['*.example.com', 'test.example.com', 'foo.test.example.com']],
    ['*.example.com', ['example.com', 'test.example.net'], []],
    ['*.example.com', ['test.example.com', 'test.example.net'], ['test.example.com']],
    ['*.example.com', ['*.foo.example.com'], ['*.foo.example.com']],
    ['*.foo.example.com', ['*.example.com'], ['*.foo.example.com']],
    [undefined, ['a.test', '*.b.test'], ['a.test', '*.b.test']],
    [undefined, undefined, undefined],
  ];
  for (const [l, r, want] of rows) {
    it(`listener ${l ?? '(none)'} ∩ route ${r ? r.join(',') : '(none)'} = ${want ? want.join(',') || '(nothing)' : 'every name'}`, () => assert.deepEqual(intersect(l, r), want));
  }
  it('a Host header loses its port, a trailing dot and its case', () => {
    assert.equal(hostOf('Example.COM:8080'), 'example.com');
    assert.equal(hostOf('example.com.'), 'example.com');
    assert.equal(hostOf('[2001:db8::1]:80'), '[2001:db8::1]');
  });
});

describe('ReplacePrefixMatch: the table of HTTPPathModifier', () => {
  const rows: [string, string, string, string][] = [
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz/', '/xyz/bar'],
    ['/foo', '/foo', '/xyz', '/xyz'],
    ['/foo/', '/foo', '/xyz', '/xyz/'],
    ['/foo/bar', '/foo', '', '/bar'],
    ['/foo/', '/foo', '', '/'],
    ['/foo', '/foo', '', '/'],
    ['/foo/', '/foo', '/', '/'],
    ['/foo', '/foo', '/', '/'],
  ];
  for (const [p, m, r, want] of rows) {
    it(`${p} with prefix ${m} and ${JSON.stringify(r)} → ${want}`, () => assert.equal(modifyPath(p, { type: 'ReplacePrefixMatch', replacePrefixMatch: r }, m), want));
  }
  it('end to end: the rewritten path is what the backend receives, the query left out', () => {
    const r = ask([svc('a'), gateway([http()]), route('r', { rules: [{ matches: [prefix('/foo/')], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/xyz/' } } }], ...to('a') }] })], 'http://h.test/foo/bar?q=1');
    assert.deepEqual(r.request, { host: 'h.test', path: '/xyz/bar', headers: {} });
  });
});

describe('precedence across routes', () => {
  const gw = gateway([http()]);
  it('the route with the more specific matching hostname wins, even over a longer or Exact path elsewhere', () => {
    const objs = [svc('exact'), svc('wild'), svc('any'), gw, route('a-any', { rules: [{ matches: [{ path: { type: 'Exact', value: '/x/y' } }], ...to('any') }] }), route('b-wild', { hostnames: ['*.example.com'], rules: [{ matches: [prefix('/x')], ...to('wild') }] }), route('c-exact', { hostnames: ['foo.example.com'], rules: [{ matches: [prefix('/')], ...to('exact') }] })];
    const r = ask(objs, 'http://foo.example.com/x/y');
    assert.equal(served(r), 'exact');
    assert.deepEqual(r.rivals.map((x) => [x.route, x.lostOn]), [
      ['default/b-wild', 'a more specific hostname (foo.example.com over *.example.com)'],
      ['default/a-any', 'a more specific hostname (foo.example.com over *)'],
    ]);
    assert.equal(served(ask(objs, 'http://bar.example.com/x/y')), 'wild', 'the longer wildcard name outranks no name');
    assert.equal(served(ask(objs, 'http://other.test/x/y')), 'any');
  });
  it('rules of a less specific hostname still serve what the more specific route does not match (an order, not a partition)', () => {
    const objs = [svc('exact'), svc('wild'), gw, route('exact', { hostnames: ['foo.example.com'], rules: [{ matches: [prefix('/a')], ...to('exact') }] }), route('wild', { hostnames: ['*.example.com'], rules: [{ matches: [prefix('/b')], ...to('wild') }] })];
    assert.equal(served(ask(objs, 'http://foo.example.com/b')), 'wild');
  });
  it('Exact, then RegularExpression, then PathPrefix; the longer path first within a type', () => {
    const rules = [
      { matches: [prefix('/api/v1')], ...to('prefix-long') },
      { matches: [prefix('/api')], ...to('prefix') },
      { matches: [{ path: { type: 'RegularExpression', value: '/api/v[0-9]+/.*' } }], ...to('regex') },
      { matches: [{ path: { type: 'Exact', value: '/api/v1/users' } }], ...to('exact') },
    ];
    const objs = [svc('prefix-long'), svc('prefix'), svc('regex'), svc('exact'), gw, route('r', { rules })];
    assert.equal(served(ask(objs, 'http://h/api/v1/users')), 'exact');
    assert.equal(served(ask(objs, 'http://h/api/v1/other')), 'regex');
    assert.equal(served(ask(objs, 'http://h/api/v1')), 'prefix-long', 'the regex needs a slash after the version');
    assert.equal(served(ask(objs, 'http://h/api/x')), 'prefix');
    assert.equal(served(ask(objs, 'http://h/apix')), '(404)', 'PathPrefix matches whole elements');
  });
  it('a method outranks headers, more headers outrank more query params', () => {
    const rules = [
      { matches: [prefix('/', { headers: [{ name: 'a', value: '1' }, { name: 'b', value: '2' }] })], ...to('headers') },
      { matches: [prefix('/', { method: 'GET' })], ...to('method') },
      { matches: [prefix('/', { queryParams: [{ name: 'q', value: '1' }, { name: 'r', value: '2' }], headers: [{ name: 'a', value: '1' }] })], ...to('query') },
    ];
    const objs = [svc('headers'), svc('method'), svc('query'), gw, route('r', { rules })];
    assert.equal(served(ask(objs, 'http://h/?q=1&r=2', { headers: ['A: 1', 'B: 2'] })), 'method');
    assert.equal(served(ask(objs, 'http://h/?q=1&r=2', { headers: ['A: 1', 'B: 2'], method: 'POST' })), 'headers');
    assert.equal(served(ask(objs, 'http://h/?q=1&r=2', { headers: ['A: 1'], method: 'POST' })), 'query');
  });
  it('then the oldest route, then namespace/name, then rule order', () => {
    const same = { rules: [{ matches: [prefix('/')], ...to('first') }, { matches: [prefix('/')], ...to('second') }] };
    const mk = (name: string, created?: string, backend = name) => route(name, { rules: [{ matches: [prefix('/')], ...to(backend) }] }, created ? { creationTimestamp: created } : {});
    const svcs = ['old', 'new', 'a', 'b', 'first', 'second'].map((s) => svc(s));
    const r = ask([...svcs, gw, mk('a-new', '2026-01-02T00:00:00Z', 'new'), mk('z-old', '2026-01-01T00:00:00Z', 'old')], 'http://h/');
    assert.equal(served(r), 'old');
    assert.match(r.rivals[0]!.lostOn, /^an older route/);
    assert.equal(served(ask([...svcs, gw, mk('b'), mk('a')], 'http://h/')), 'a');
    const s = ask([...svcs, gw, route('r', same)], 'http://h/');
    assert.equal(served(s), 'first');
    assert.equal(s.rivals[0]!.lostOn, 'rule order (rule 0 before rule 1)');
  });
  it('a repeated header or query name counts once, its first entry; a repeated parameter matches on its first value', () => {
    const objs = [svc('a'), gw, route('r', { rules: [{ matches: [prefix('/', { headers: [{ name: 'X', value: '1' }, { name: 'x', value: '2' }], queryParams: [{ name: 'q', value: 'one' }] })], ...to('a') }] })];
    assert.equal(served(ask(objs, 'http://h/?q=one&q=two', { headers: ['x: 1'] })), 'a');
    assert.equal(served(ask(objs, 'http://h/?q=two&q=one', { headers: ['x: 1'] })), '(404)');
  });
});

describe('attachment', () => {
  const ns = (name: string, labels: Record<string, string> = {}): Obj => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  const other = (name: string, spec: Obj) => ({ ...route(name, spec, { namespace: 'team' }), spec: { parentRefs: [{ name: 'gw', namespace: 'default' }], ...spec } });
  it('allowedRoutes Selector reads the Namespace labels (and kubernetes.io/metadata.name)', () => {
    const sel = (selector: Obj) => gateway([http({ allowedRoutes: { namespaces: { from: 'Selector', selector } } })]);
    const base = [ns('team', { env: 'prod' }), svc('a', 'team'), other('r', { rules: [to('a')] })];
    assert.equal(served(ask([...base, sel({ matchLabels: { env: 'prod' } })], 'http://h/')), 'a');
    assert.equal(served(ask([...base, sel({ matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] })], 'http://h/')), '(404)');
    assert.equal(served(ask([...base, sel({ matchLabels: { 'kubernetes.io/metadata.name': 'team' } })], 'http://h/')), 'a');
    const r = ask([...base, gateway([http()])], 'http://h/');
    assert.deepEqual(r.routes[0]!.parents[0]!.conditions[0]!.reason, 'NotAllowedByListeners', 'from defaults to Same');
  });
  it('allowedRoutes kinds: HTTPRoute with the group defaulted is allowed; another kind only is not', () => {
    const objs = (kinds: Obj[]) => [svc('a'), gateway([http({ allowedRoutes: { kinds } })]), route('r', { rules: [to('a')] })];
    assert.equal(served(ask(objs([{ kind: 'HTTPRoute' }]), 'http://h/')), 'a');
    assert.equal(ask(objs([{ kind: 'GRPCRoute' }]), 'http://h/').routes[0]!.parents[0]!.conditions[0]!.reason, 'NotAllowedByListeners');
  });
  it('parentRef port and sectionName must both match one listener; a route attached to one listener is not seen on another', () => {
    const gw = gateway([http(), http({ name: 'alt', port: 8080 })]);
    const mk = (ref: Obj) => [svc('a'), gw, { ...route('r', { rules: [to('a')] }), spec: { parentRefs: [{ name: 'gw', ...ref }], rules: [to('a')] } }];
    assert.equal(served(ask(mk({ sectionName: 'alt' }), 'http://h:8080/')), 'a');
    assert.equal(served(ask(mk({ sectionName: 'alt' }), 'http://h/')), '(404)');
    assert.equal(served(ask(mk({ port: 80 }), 'http://h/')), 'a');
    assert.equal(ask(mk({ sectionName: 'alt', port: 80 }), 'http://h/').routes[0]!.parents[0]!.conditions[0]!.reason, 'NoMatchingParent');
  });
  it('v1beta1 HTTPRoutes and ReferenceGrants read as v1', () => {
    const grant = { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', metadata: { name: 'g', namespace: 'other' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default' }], to: [{ group: '', kind: 'Service', name: 'a' }] } };
    const objs = [svc('a', 'other'), gateway([http()]), route('r', { rules: [to('a', 80, { namespace: 'other' })] }, {}, 'gateway.networking.k8s.io/v1beta1')];
    assert.equal(served(ask([...objs, grant], 'http://h/')), 'a');
    const wrongName = { ...grant, spec: { ...grant.spec, to: [{ group: '', kind: 'Service', name: 'b' }] } };
    const r = ask([...objs, wrongName], 'http://h/');
    assert.equal(r.status, 500);
    assert.deepEqual(r.unresolved.map((u) => u.reason), ['RefNotPermitted']);
  });
});

describe('invalid rules and backends', () => {
  const gw = gateway([http()]);
  const redirect = { type: 'RequestRedirect', requestRedirect: { hostname: 'x.test' } };
  const rewrite = { type: 'URLRewrite', urlRewrite: { hostname: 'y.test' } };
  it('a rule with both RequestRedirect and URLRewrite is dropped (PartiallyInvalid); the others serve', () => {
    const r = ask([svc('a'), gw, route('r', { rules: [{ matches: [prefix('/bad')], filters: [redirect, rewrite], ...to('a') }, { matches: [prefix('/')], ...to('a') }] })], 'http://h/bad');
    assert.equal(r.status, 200);
    assert.equal(r.rule, 1);
    assert.deepEqual(r.dropped.map((d) => d.rule), [0]);
    assert.deepEqual(r.routes[0]!.parents[0]!.conditions.map((c) => [c.type, c.status, c.reason]), [['Accepted', 'True', 'Accepted'], ['ResolvedRefs', 'True', 'ResolvedRefs'], ['PartiallyInvalid', 'True', 'IncompatibleFilters']]);
    assert.match(r.routes[0]!.parents[0]!.conditions[2]!.message, /^Dropped Rule 0: /);
  });
  it('a route whose every rule is invalid is not accepted', () => {
    const r = ask([svc('a'), gw, route('r', { rules: [{ matches: [{ path: { type: 'Exact', value: '/x' } }], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/y' } } }], ...to('a') }] })], 'http://h/x');
    assert.equal(r.status, 404);
    assert.deepEqual(r.routes[0]!.parents[0]!.conditions[0]!.reason, 'UnsupportedValue');
  });
  it('weights: the largest resolvable share is chosen, an unresolved ref listed; all weight 0 answers 500', () => {
    const r = ask([svc('a'), gw, route('r', { rules: [{ backendRefs: [{ name: 'missing', port: 80, weight: 5 }, { name: 'a', port: 80, weight: 1 }] }] })], 'http://h/');
    assert.equal(served(r), 'a');
    assert.deepEqual(r.backends, [{ service: { namespace: 'default', name: 'a', port: 80 }, weight: 1 }]);
    assert.deepEqual(r.unresolved.map((u) => [u.ref, u.reason]), [['default/missing:80', 'BackendNotFound']]);
    assert.equal(ask([svc('a'), gw, route('r', { rules: [{ backendRefs: [{ name: 'a', port: 80, weight: 0 }] }] })], 'http://h/').status, 500);
  });
  it('a Service without the referenced port does not resolve', () => {
    const r = ask([svc('a', 'default', 8080), gw, route('r', { rules: [to('a', 80)] })], 'http://h/');
    assert.equal(r.status, 500);
    assert.match(r.unresolved[0]!.message, /has no port 80/);
  });
});

describe('listeners', () => {
  it('https needs an HTTPS listener that terminates TLS; http on an HTTPS port finds none', () => {
    const tls = { name: 'tls', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'cert' }] } };
    const objs = [svc('a'), gateway([tls]), route('r', { rules: [to('a')] })];
    assert.equal(served(ask(objs, 'https://h/')), 'a');
    assert.equal(ask(objs, 'http://h:443/').status, 404);
    const pass = [svc('a'), gateway([{ ...tls, tls: { mode: 'Passthrough' } }]), route('r', { rules: [to('a')] })];
    assert.equal(ask(pass, 'https://h/').status, 404);
  });
  it('no rule matches: 404, and why each route attached to the listener did not match', () => {
    const objs = [svc('a'), gateway([http()]), route('named', { hostnames: ['a.test'], rules: [to('a')] }), route('paths', { rules: [{ matches: [{ path: { type: 'Exact', value: '/x' }, method: 'POST' }], ...to('a') }] })];
    const r = ask(objs, 'http://b.test/y?z=1');
    assert.equal(r.status, 404);
    assert.equal(r.route, null);
    assert.deepEqual(r.misses, [
      { route: 'default/named', why: 'its hostnames on this listener (a.test) do not match b.test' },
      { route: 'default/paths', why: 'none of its matches takes GET /y?z=1: Exact /x, method POST' },
    ]);
  });
  it('-H Host replaces the URL host for matching; its port is ignored and forwarded as sent', () => {
    const objs = [svc('a'), gateway([http({ hostname: 'app.test' })]), route('r', { rules: [to('a')] })];
    const r = ask(objs, 'http://10.0.0.1/', { headers: ['Host: app.test:1234'] });
    assert.equal(served(r), 'a');
    assert.equal(r.request!.host, 'app.test:1234');
    assert.equal(ask(objs, 'http://10.0.0.1/').listener, null);
  });
});

describe('bad input', () => {
  const objs = [svc('a'), gateway([http()]), route('r', { rules: [to('a')] })];
  const err = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return { code: (e as { code?: string }).code, message: (e as Error).message };
    }
    assert.fail('no error');
  };
  it('a Gateway not in the file is named with the ones that are', () => {
    assert.deepEqual(err(() => ask(objs, 'http://h/', { gateway: 'default/nope' })), { code: 'BadRequest', message: 'Gateway default/nope is not in the state file (its Gateways: default/gw)' });
  });
  it('a kind the command does not read names the file and what it takes', () => {
    const e = err(() => ask([...objs, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } }], 'http://h/'));
    assert.equal(e.code, 'BadState');
    assert.match(e.message, /expected .*gateway\.networking\.k8s\.io\/v1 HTTPRoute.*, got apps\/v1 Deployment/);
  });
  it("a Service backendRef without a port: the CRD's validation message", () => {
    const e = err(() => ask([gateway([http()]), route('r', { rules: [{ backendRefs: [{ name: 'a' }] }] })], 'http://h/'));
    assert.deepEqual(e, { code: 'BadState', message: 'HTTPRoute default/r: spec.rules[0].backendRefs[0]: Invalid value: "object": Must have port for Service reference' });
  });
  it('a URL that is not http(s) and a header without a colon', () => {
    assert.equal(err(() => ask(objs, 'ftp://h/')).code, 'BadRequest');
    assert.match(err(() => ask(objs, 'http://h/', { headers: ['nocolon'] })).message, /is not "Name: value"/);
  });
});

describe('podpath gateway route', () => {
  const file = stateFile([svc('a'), svc('b'), gateway([http()]), route('r', { rules: [{ matches: [prefix('/b')], filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'X-Via', value: 'gw' }] } }], ...to('b') }, { matches: [prefix('/')], ...to('a') }] })]);
  const podpath = (...args: string[]) => spawnSync(process.execPath, [path.join(repoRoot, 'bin/podpath.js'), 'gateway', 'route', '-f', file, '--gateway', 'default/gw', ...args], { encoding: 'utf8', timeout: 60_000 });
  it('-o json: exit status 0 and the fields in the documented order', () => {
    const p = podpath('http://h/b/x', '-o', 'json');
    assert.equal(p.status, 0, p.stderr);
    const j = JSON.parse(p.stdout);
    assert.deepEqual(Object.keys(j).slice(0, 10), ['status', 'gateway', 'listener', 'route', 'rule', 'backend', 'backends', 'redirect', 'request', 'responseHeaders']);
    assert.deepEqual(
      { status: j.status, gateway: j.gateway, listener: j.listener, route: j.route, rule: j.rule, backend: j.backend, backends: j.backends, redirect: j.redirect, request: j.request, responseHeaders: j.responseHeaders },
      { status: 200, gateway: 'default/gw', listener: 'http', route: 'default/r', rule: 0, backend: { service: { namespace: 'default', name: 'b', port: 80 } }, backends: [{ service: { namespace: 'default', name: 'b', port: 80 }, weight: 1 }], redirect: null, request: { host: 'h', path: '/b/x', headers: {} }, responseHeaders: { set: {}, add: { 'x-via': 'gw' }, remove: [] } },
    );
  });
  it('text: the listener, the rule and why it won, the filter; a 404 exits 3', () => {
    const p = podpath('http://h/b');
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /^200 forwarded to Service default\/b port 80/);
    assert.match(p.stdout, /listener: +http \(port 80, HTTP, hostname \*, 1 route attached\): the most specific listener on port 80 for the Host h/);
    assert.match(p.stdout, /won over: +default\/r rule 1 match 0 \(PathPrefix \/\), on a longer path \(\/b over \/\)/);
    assert.match(p.stdout, /filter: +ResponseHeaderModifier \(rule\): add x-via: gw/);
    const q = podpath('http://h:8080/');
    assert.equal(q.status, 3);
    assert.match(q.stdout, /^404 Gateway default\/gw has no listener on port 8080/);
  });
  it('bad input: exit status 1 and the error on stderr', () => {
    const p = spawnSync(process.execPath, [path.join(repoRoot, 'bin/podpath.js'), 'gateway', 'route', '-f', file, '--gateway', 'default/none', 'http://h/'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(p.status, 1);
    assert.equal(p.stderr, 'podpath: Gateway default/none is not in the state file (its Gateways: default/gw)\n');
  });
});
