// The Gateway controller's data plane for real: Gateways and HTTPRoutes laid into the Ingress
// model (gateway/dataplane.ts), rendered by the Ingress controller's template and served by the
// distribution's nginx and its Lua code on 127.0.0.1 high ports, backends as local HTTP servers
// that echo who they are, the URL and the headers they got. Checks listener hostnames, path,
// header, query and method matches across routes, precedence, a weighted split, header and URL
// rewrites, redirects, response headers, HTTPS by certificateRef — and that routeRequest() (what
// `podpath gateway route` answers) says what nginx does, request by request.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { computeGateways, withGateways, type GatewayObjects } from '../../src/gateway/controller.ts';
import { routeRequest, type RouteResult } from '../../src/gateway/route.ts';
import type { Gateway, HTTPRoute } from '../../src/gateway/types.ts';
import { IngressSyncer } from '../../src/ingress/controller/controller.ts';
import { ControllerMetrics } from '../../src/ingress/metrics.ts';
import { Nginx } from '../../src/ingress/nginx/process.ts';
import { defaultRenderOptions, type RenderOptions } from '../../src/ingress/nginx/template.ts';
import { makeCert, service, slice, tlsSecret } from '../helpers/ingress.ts';

const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/sbin/nginx') && fs.existsSync('/usr/lib/nginx/modules/ngx_http_lua_module.so');
const ctrl = 'podpath.dev/gateway-controller';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Echo {
  service: string;
  url: string;
  headers: Record<string, string>;
}

interface Answer {
  status: number;
  location?: string;
  echo?: Echo;
  headers: http.IncomingHttpHeaders;
  cn?: string;
}

interface Req {
  scheme?: 'http' | 'https';
  host: string;
  target: string;
  method?: string;
  headers?: Record<string, string>;
}

const G = 'gateway.networking.k8s.io/v1';
let clock = 0;
const meta = (name: string) => ({ name, namespace: 'default', creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, ++clock)).toISOString() });

describe('the Gateway controller on the Ingress controller\'s nginx', { skip: !canRun && 'needs root and nginx with libnginx-mod-http-lua' }, () => {
  let dir: string;
  let render: RenderOptions;
  let plane: Nginx;
  let syncer: IngressSyncer;
  let objs: GatewayObjects;
  let last: ReturnType<typeof computeGateways>;
  const backends: http.Server[] = [];
  let httpPort: number;
  let httpsPort: number;
  const addrs: Record<string, string> = { web: '127.0.0.61', v1: '127.0.0.62', v2: '127.0.0.63', api: '127.0.0.64', admin: '127.0.0.65' };

  const gateway = (): Gateway => ({
    apiVersion: G,
    kind: 'Gateway',
    metadata: meta('gw'),
    spec: {
      gatewayClassName: 'podpath',
      listeners: [
        { name: 'http', port: httpPort, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
        { name: 'admin', port: httpPort, protocol: 'HTTP', hostname: 'admin.test' },
        { name: 'https', port: httpsPort, protocol: 'HTTPS', hostname: '*.secure.test', tls: { certificateRefs: [{ name: 'secure-tls' }] } },
      ],
    },
  });
  const route = (name: string, spec: HTTPRoute['spec']): HTTPRoute => ({ apiVersion: G, kind: 'HTTPRoute', metadata: meta(name), spec: { parentRefs: [{ name: 'gw' }], ...spec } });
  const to = (name: string, weight?: number) => ({ name, port: 80, ...(weight !== undefined ? { weight } : {}) });
  const routes = (): HTTPRoute[] => [
    route('web', { hostnames: ['app.test'], rules: [{ backendRefs: [to('web')] }, { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [to('api')] }] }),
    route('versions', {
      hostnames: ['app.test'],
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/v' }, headers: [{ name: 'X-Version', value: 'two' }] }], backendRefs: [to('v2')] },
        { matches: [{ path: { type: 'Exact', value: '/v' } }, { path: { type: 'PathPrefix', value: '/v' }, queryParams: [{ name: 'v', value: '1' }] }], backendRefs: [to('v1')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/post' }, method: 'POST' }], backendRefs: [to('v2')] },
      ],
    }),
    route('split', { hostnames: ['split.test'], rules: [{ backendRefs: [to('v1', 3), to('v2', 1)] }] }),
    route('filters', {
      hostnames: ['*.filters.test'],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/old' } }],
          filters: [
            { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Set', value: 'yes' }], add: [{ name: 'X-Add', value: 'more' }], remove: ['X-Drop'] } },
            { type: 'URLRewrite', urlRewrite: { hostname: 'rewritten.test', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } } },
            { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'X-Resp', value: 'r' }] } },
          ],
          backendRefs: [to('web')],
        },
        { matches: [{ path: { type: 'PathPrefix', value: '/moved' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301, path: { type: 'ReplaceFullPath', replaceFullPath: '/here' } } }] },
        { matches: [{ path: { type: 'RegularExpression', value: '/re/[0-9]+' } }], backendRefs: [to('api')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/broken' } }], backendRefs: [to('gone')] },
      ],
    }),
    route('admin', { parentRefs: [{ name: 'gw', sectionName: 'admin' }], rules: [{ backendRefs: [to('admin')] }] }),
    route('secure', { parentRefs: [{ name: 'gw', sectionName: 'https' }], rules: [{ backendRefs: [to('web')] }] }),
  ];

  const send = (r: Req): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const scheme = r.scheme ?? 'http';
      const o = { host: '127.0.0.1', port: scheme === 'https' ? httpsPort : httpPort, method: r.method ?? 'GET', path: r.target, headers: { Host: r.host, ...r.headers }, agent: false as const };
      const done = (res: http.IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          const cn = scheme === 'https' ? (res.socket as TLSSocket).getPeerCertificate?.()?.subject?.CN : undefined;
          resolve({ status: res.statusCode!, headers: res.headers, ...(res.headers.location ? { location: res.headers.location } : {}), ...(res.headers['x-echo'] ? { echo: JSON.parse(body) as Echo } : {}), ...(cn ? { cn: String(cn) } : {}) });
        });
      };
      const req = scheme === 'https' ? https.request({ ...o, servername: r.host, rejectUnauthorized: false }, done) : http.request(o, done);
      req.on('error', reject);
      req.end();
    });

  const routeOf = (r: Req): RouteResult => {
    const scheme = r.scheme ?? 'http';
    const [p, q] = r.target.split('?');
    const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    return routeRequest(last.model, 'default/gw', { scheme, port: scheme === 'https' ? httpsPort : httpPort, host: r.host, ...(scheme === 'https' ? { sni: r.host } : {}), method: r.method ?? 'GET', path: p!, search: q ? `?${q}` : '', headers });
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-gwnginx-'));
    fs.chmodSync(dir, 0o755);
    [httpPort, httpsPort] = [await freePort(), await freePort()];
    const statusPort = await freePort();
    const backendPort = await freePort();
    for (const [svc, a] of Object.entries(addrs)) {
      const s = http.createServer((req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('X-Echo', '1');
        res.end(JSON.stringify({ service: svc, url: req.url, headers: req.headers }));
      });
      await new Promise<void>((resolve, reject) => s.once('error', reject).listen(backendPort, a, () => resolve()));
      backends.push(s);
    }
    const secure = makeCert(['*.secure.test']);
    const fake = makeCert([], { cn: 'Kubernetes Ingress Controller Fake Certificate' });
    objs = {
      namespaces: [],
      classes: [{ apiVersion: G, kind: 'GatewayClass', metadata: { name: 'podpath' }, spec: { controllerName: ctrl } }],
      gateways: [gateway()],
      routes: routes(),
      grants: [],
      services: Object.keys(addrs).map((n) => service(n)),
      slices: Object.entries(addrs).map(([n, a]) => slice(n, [a], { ports: [{ name: 'http', port: backendPort }] })),
      secrets: [tlsSecret('secure-tls', secure)],
    };
    render = { ...defaultRenderOptions, confDir: path.join(dir, 'conf'), runDir: path.join(dir, 'run'), listenAddress: '127.0.0.1', httpPort: await freePort(), httpsPort: await freePort(), statusPort, workerProcesses: '2', accessLog: path.join(dir, 'access.log') };
    const log = () => {};
    plane = new Nginx({ nginx: 'nginx', confDir: render.confDir, runDir: render.runDir, statusPort, log });
    syncer = new IngressSyncer(() => ({ ingresses: [], classes: [], services: [], slices: [], secrets: [] }), plane, {
      class: { ingressClass: '', controller: ctrl, watchWithoutClass: false },
      render,
      defaultCertificate: `${fake.cert.trimEnd()}\n${fake.key}`,
      minSyncMs: 0,
      log,
      metrics: new ControllerMetrics({ controller_class: ctrl, controller_namespace: '', controller_pod: '' }),
      extend: (m) => {
        last = computeGateways(objs, ctrl, undefined);
        return withGateways(m, last.plane);
      },
    });
    await syncer.syncNow();
    assert.ok(plane.running(), 'nginx started');
  });

  after(async () => {
    await plane?.stop();
    for (const b of backends) b.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('renders each listener as a server on its own port, the routes as one Lua-routed location; every listener programmed', () => {
    const conf = fs.readFileSync(path.join(render.confDir, 'nginx.conf'), 'utf8');
    assert.match(conf, new RegExp(`listen 127\\.0\\.0\\.1:${httpPort} default_server`));
    assert.match(conf, /server_name admin\.test ;/);
    assert.match(conf, /server_name \*\.secure\.test ;/);
    assert.match(conf, new RegExp(`listen 127\\.0\\.0\\.1:${httpsPort} ssl;`));
    assert.match(conf, /podpath\.routes = \{/);
    const listeners = last.plane.listeners.get('default/gw')!;
    assert.deepEqual(listeners.map((l) => [l.name, l.attachedRoutes, l.conditions.find((c) => c.type === 'Programmed')!.status]), [['http', 4, 'True'], ['admin', 1, 'True'], ['https', 1, 'True']]);
  });

  it('serves what routeRequest() says, request by request: listener, route, rule, backend, rewritten request, redirect', async () => {
    const cases: Req[] = [
      { host: 'app.test', target: '/' },
      { host: 'app.test', target: '/api/x' },
      { host: 'app.test', target: '/apix' },
      { host: 'app.test', target: '/v' },
      { host: 'app.test', target: '/v/a', headers: { 'X-Version': 'two' } },
      { host: 'app.test', target: '/v/a?v=1' },
      { host: 'app.test', target: '/v/a?v=2' },
      { host: 'app.test', target: '/post', method: 'POST' },
      { host: 'app.test', target: '/post' },
      { host: 'admin.test', target: '/anything' },
      { host: 'other.test', target: '/' },
      { host: 'a.b.filters.test', target: '/old/page?q=1', headers: { 'X-Drop': 'x', 'X-Add': 'first' } },
      { host: 'x.filters.test', target: '/moved/away?k=v' },
      { host: 'x.filters.test', target: '/re/123' },
      { host: 'x.filters.test', target: '/re/12a' },
      { host: 'x.filters.test', target: '/broken' },
      { scheme: 'https', host: 'a.secure.test', target: '/s' },
    ];
    for (const c of cases) {
      const want = routeOf(c);
      const got = await send(c);
      const what = `${c.method ?? 'GET'} ${c.scheme ?? 'http'}://${c.host}${c.target} ${JSON.stringify(c.headers ?? {})}`;
      assert.equal(got.status, want.status, `${what}: status (route: ${want.reason})`);
      if (want.status === 200) {
        assert.equal(got.echo?.service, want.backend!.service.name, `${what}: backend`);
        assert.equal(got.echo!.url.split('?')[0], want.request!.path, `${what}: path`);
        assert.equal(got.echo!.headers.host, want.request!.host, `${what}: Host`);
        for (const [k, v] of Object.entries(want.request!.headers)) assert.equal(got.echo!.headers[k], v, `${what}: header ${k}`);
        for (const [k, v] of Object.entries(want.responseHeaders.set)) assert.equal(got.headers[k], v, `${what}: response header ${k}`);
      }
      if (want.redirect) assert.equal(got.location, want.redirect.location, `${what}: Location`);
    }
  });

  it('a filter removes a header and the rewrite keeps the query; HTTPS presents the certificateRef\'s certificate', async () => {
    const got = await send({ host: 'a.b.filters.test', target: '/old/page?q=1', headers: { 'X-Drop': 'x', 'X-Add': 'first' } });
    assert.equal(got.echo!.url, '/new/page?q=1');
    assert.equal(got.echo!.headers['x-drop'], undefined);
    assert.equal(got.echo!.headers['x-add'], 'first,more');
    assert.equal(got.echo!.headers['x-set'], 'yes');
    const tls = await send({ scheme: 'https', host: 'a.secure.test', target: '/' });
    assert.equal(tls.cn, '*.secure.test');
  });

  it('a weighted split 3:1 sends both backends requests, v1 more (the backends route() lists)', async () => {
    const want = routeOf({ host: 'split.test', target: '/' });
    assert.deepEqual(want.backends.map((b) => [b.service.name, b.weight]), [['v1', 3], ['v2', 1]]);
    const count: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const got = await send({ host: 'split.test', target: '/' });
      count[got.echo!.service] = (count[got.echo!.service] ?? 0) + 1;
    }
    assert.ok(count.v1! > count.v2! && count.v2! > 0, JSON.stringify(count));
  });
});
