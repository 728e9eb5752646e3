// The Ingress controller's data plane for real: IngressSyncer driving the distribution's nginx
// (with its Lua module) on 127.0.0.1 high ports, backends as local HTTP servers that echo who they
// are, the URL and the headers they got. Checks host and path routing, the headers ingress-nginx
// sets, the upstreaminfo access log, endpoint changes without a reload, a refused configuration
// leaving the rest serving, rewrite and canary, TLS by SNI — and that `route()` says what nginx
// does, request by request (the offline tool is only worth its answers if they are nginx's).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { Ingress } from '../../src/api/types.ts';
import { IngressSyncer } from '../../src/ingress/controller/controller.ts';
import { ControllerMetrics } from '../../src/ingress/metrics.ts';
import type { IngressState } from '../../src/ingress/model.ts';
import { Nginx } from '../../src/ingress/nginx/process.ts';
import { defaultRenderOptions, type RenderOptions } from '../../src/ingress/nginx/template.ts';
import { route, type RouteRequest, type RouteResult } from '../../src/ingress/route.ts';
import { be, ingress, makeCert, nginxAnn, ours, pth, rule, served, service, slice, tlsSecret } from '../helpers/ingress.ts';

const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/sbin/nginx') && fs.existsSync('/usr/lib/nginx/modules/ngx_http_lua_module.so');
const fakeCN = 'Kubernetes Ingress Controller Fake Certificate';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '0.0.0.0', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Echo {
  service: string;
  addr: string;
  method: string;
  url: string;
  headers: Record<string, string>;
}

interface Answer {
  status: number;
  location?: string;
  echo?: Echo;
  /** https: the CN of the certificate nginx presented */
  cn?: string;
}

interface Req {
  scheme?: 'http' | 'https';
  host: string;
  target: string;
  headers?: Record<string, string>;
  sni?: string;
}

const id = { controller_class: 'k8s.io/ingress-nginx', controller_namespace: '', controller_pod: '' };

describe('the Ingress controller with a real nginx', { skip: !canRun && 'needs root and nginx with libnginx-mod-http-lua' }, () => {
  let dir: string;
  let render: RenderOptions;
  let plane: Nginx;
  let syncer: IngressSyncer;
  let metrics: ControllerMetrics;
  const events: { ingress: string; reason: string }[] = [];
  const backends: http.Server[] = [];
  let backendPort: number;
  let state: IngressState;
  const cnOf: Record<string, string> = { 'default/secure-tls': 'secure.test', 'default/other-tls': 'other.test', default: fakeCN };

  // Service → the loopback addresses its endpoints listen on (all on backendPort)
  const addrs: Record<string, string[]> = { web: ['127.0.0.11'], api: ['127.0.0.21'], canary: ['127.0.0.31'], 'http-svc': ['127.0.0.41'], secure: ['127.0.0.51'], empty: [] };
  const webPool = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
  const slices = () => Object.entries(addrs).map(([svc, a]) => slice(svc, a, { ports: [{ name: 'http', port: backendPort }] }));

  const ingresses = (): Ingress[] => [
    ingress('fallback', { defaultBackend: be('api') }),
    ingress('app', { rules: [rule('app.test', pth('/', 'Prefix', 'web'), pth('/api', 'Exact', 'api'), pth('/aaa/bbb', 'Prefix', 'api'))] }),
    ingress('secure', { tls: [{ hosts: ['secure.test'], secretName: 'secure-tls' }, { hosts: ['other.test'], secretName: 'other-tls' }], rules: [rule('secure.test', pth('/', 'Prefix', 'secure')), rule('other.test', pth('/', 'Prefix', 'web'))] }),
    ingress('rewrite', { rules: [rule('rewrite.bar.com', pth('/something(/|$)(.*)', 'ImplementationSpecific', 'http-svc'))] }, { annotations: nginxAnn({ 'use-regex': 'true', 'rewrite-target': '/$2' }) }),
    ingress('rewrite-all', { rules: [rule('rw.test', pth('/foo', 'ImplementationSpecific', 'http-svc'))] }, { annotations: nginxAnn({ 'rewrite-target': '/' }) }),
    ingress('main', { rules: [rule('canary.test', pth('/', 'Prefix', 'web'))] }),
    ingress('canary', { rules: [rule('canary.test', pth('/', 'Prefix', 'canary'))] }, { annotations: nginxAnn({ canary: 'true', 'canary-by-header': 'X-Canary' }) }),
    ingress('allow', { rules: [rule('allow.test', pth('/', 'Prefix', 'web'))] }, { annotations: nginxAnn({ 'whitelist-source-range': '10.0.0.0/8' }) }),
    ingress('empty', { rules: [rule('empty.test', pth('/', 'Prefix', 'empty')), rule('missing.test', pth('/', 'Prefix', 'gone'))] }),
    ingress('allow-empty', { rules: [rule('allow-empty.test', pth('/', 'Prefix', 'empty'))] }, { annotations: nginxAnn({ 'whitelist-source-range': '10.0.0.0/8' }) }),
    ingress('approot', { rules: [rule('approot.test', pth('/app1', 'Prefix', 'web'))] }, { annotations: nginxAnn({ 'app-root': '/app1' }) }),
    ingress('force', { rules: [rule('force.test', pth('/', 'Prefix', 'web'))] }, { annotations: nginxAnn({ 'force-ssl-redirect': 'true' }) }),
    ingress('odd', { rules: [rule('odd.test', pth('/a$b', 'Exact', 'secure'), pth('/c d', 'Prefix', 'secure'), pth('/q"x', 'Prefix', 'secure'))] }),
    ingress('health', { rules: [rule(undefined, pth('/healthz', 'Prefix', 'secure'))] }),
    ingress('wild', { rules: [rule('*.wild.test', pth('/', 'Prefix', 'secure')), rule('exact.wild.test', pth('/', 'Prefix', 'web'))] }),
  ];

  /** The master's worker pids (children of the pid in nginx.pid). */
  const workers = (): number[] => {
    const master = Number(fs.readFileSync(path.join(render.runDir, 'nginx.pid'), 'utf8'));
    const out: number[] = [];
    for (const p of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === master) out.push(Number(p));
      } catch {
        // gone
      }
    }
    return out.sort();
  };

  /** After a reload: until the old workers are gone and the new ones are up. */
  const settled = async (old: number[]) => {
    for (let i = 0; i < 200; i++) {
      const now = workers();
      if (now.length === 2 && !now.some((p) => old.includes(p))) return now;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`nginx workers did not turn over after a reload: ${workers().join(' ')} (old ${old.join(' ')})`);
  };

  const send = (r: Req): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const scheme = r.scheme ?? 'http';
      const o = { host: '127.0.0.1', port: scheme === 'https' ? render.httpsPort : render.httpPort, path: r.target, headers: { Host: r.host, ...r.headers }, agent: false as const };
      const done = (res: http.IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          const cn = scheme === 'https' ? (res.socket as TLSSocket).getPeerCertificate?.()?.subject?.CN : undefined;
          resolve({
            status: res.statusCode!,
            ...(res.headers.location ? { location: res.headers.location } : {}),
            ...(res.headers['x-echo'] ? { echo: JSON.parse(body) as Echo } : {}),
            ...(cn ? { cn: String(cn) } : {}),
          });
        });
      };
      const req = scheme === 'https' ? https.request({ ...o, servername: r.sni ?? r.host, rejectUnauthorized: false }, done) : http.request(o, done);
      req.on('error', reject);
      req.end();
    });

  const routeOf = (r: Req): RouteResult => {
    const scheme = r.scheme ?? 'http';
    const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const rq: RouteRequest = { scheme, host: r.host, ...(scheme === 'https' ? { sni: r.sni ?? r.host } : {}), method: 'GET', target: r.target, headers, clientIP: '127.0.0.1' };
    return route(syncer.model!, rq);
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-ingnginx-'));
    fs.chmodSync(dir, 0o755); // nginx's workers (nobody) use the temp directories under it
    const [httpPort, httpsPort, statusPort] = [await freePort(), await freePort(), await freePort()];
    backendPort = await freePort();
    for (const [svc, list] of Object.entries({ ...addrs, web: webPool })) {
      for (const a of list) {
        const s = http.createServer((req, res) => {
          res.setHeader('Content-Type', 'application/json');
          res.setHeader('X-Echo', '1');
          res.end(JSON.stringify({ service: svc, addr: `${req.socket.localAddress}:${req.socket.localPort}`, method: req.method, url: req.url, headers: req.headers }));
        });
        await new Promise<void>((resolve, reject) => s.once('error', reject).listen(backendPort, a, () => resolve()));
        backends.push(s);
      }
    }
    const fake = makeCert([], { cn: fakeCN });
    const secure = makeCert(['secure.test']);
    const other = makeCert(['other.test']);
    state = { ingresses: ingresses(), classes: [{ metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } }], services: Object.keys(addrs).map((n) => service(n)), slices: slices(), secrets: [tlsSecret('secure-tls', secure), tlsSecret('other-tls', other)] };
    render = { ...defaultRenderOptions, confDir: path.join(dir, 'conf'), runDir: path.join(dir, 'run'), listenAddress: '127.0.0.1', httpPort, httpsPort, statusPort, workerProcesses: '2', accessLog: path.join(dir, 'access.log') };
    const log = () => {};
    plane = new Nginx({ nginx: 'nginx', confDir: render.confDir, runDir: render.runDir, statusPort, log });
    metrics = new ControllerMetrics(id);
    syncer = new IngressSyncer(() => state, plane, {
      class: ours,
      render,
      defaultCertificate: `${fake.cert.trimEnd()}\n${fake.key}`,
      minSyncMs: 0,
      log,
      event: (ing, _type, reason) => events.push({ ingress: ing.metadata.name!, reason }),
      metrics,
    });
    await syncer.syncNow();
    assert.ok(plane.running(), 'nginx started');
    assert.equal(metrics.success.get(id), 1);
  });

  after(async () => {
    await plane?.stop();
    for (const b of backends) b.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('routes by host and path: exact, prefix by element, longest match, the default backend for other hosts', async () => {
    const cases: [string, string, number, string][] = [
      ['app.test', '/', 200, 'web'],
      ['app.test', '/api', 200, 'api'],
      ['app.test', '/api/', 200, 'web'],
      ['app.test', '/aaa/bbb/ccc', 200, 'api'],
      ['app.test', '/aaa/bbbxyz', 200, 'web'],
      ['nowhere.test', '/x', 200, 'api'],
    ];
    for (const [host, target, status, svc] of cases) {
      const a = await send({ host, target });
      assert.equal(a.status, status, `${host}${target}`);
      assert.equal(a.echo?.service, svc, `${host}${target}`);
      assert.equal(a.echo?.url, target, 'the request line as sent');
    }
  });

  it('the backend sees X-Forwarded-For / X-Real-IP (the client, not what it claims), X-Forwarded-Proto/-Host/-Port, X-Original-Forwarded-For and an X-Request-ID', async () => {
    const a = await send({ host: 'app.test', target: '/h', headers: { 'X-Forwarded-For': '203.0.113.9', 'X-Real-IP': '203.0.113.9' } });
    const h = a.echo!.headers;
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-real-ip'], '127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'app.test');
    assert.equal(h['x-forwarded-port'], String(render.httpPort));
    assert.equal(h.host, 'app.test');
    assert.equal(h['x-original-forwarded-for'], '203.0.113.9', 'what the client claimed, kept aside');
    assert.equal(h['x-original-uri'], undefined, 'ingress-nginx adds X-Original-URI only with proxy-add-original-uri-header');
    assert.match(h['x-request-id']!, /^[0-9a-f]{32}$/);
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const e = (await send({ host: 'app.test', target: '/h' })).echo!.headers;
      assert.equal(e['x-original-forwarded-for'], undefined, 'no X-Forwarded-For sent, none kept');
      ids.add(e['x-request-id']!);
    }
    assert.equal(ids.size, 20, 'every request has an id of its own');
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    const b = await send({ host: 'app.test', target: '/h', headers: { 'X-Request-ID': 'my-request-42' } });
    assert.equal(b.echo!.headers['x-request-id'], 'my-request-42', 'a request id sent by the client is passed on');
    const s = await send({ scheme: 'https', host: 'other.test', target: '/h' });
    assert.equal(s.echo!.headers['x-forwarded-proto'], 'https');
  });

  it('writes an access log line in ingress-nginx\'s upstreaminfo format', async () => {
    await send({ host: 'app.test', target: '/logged?x=1', headers: { 'User-Agent': 'pp-test/1', 'X-Request-ID': 'abc123' } });
    const re = new RegExp(
      String.raw`^127\.0\.0\.1 - - \[[^\]]+\] "GET /logged\?x=1 HTTP/1\.1" 200 \d+ "-" "pp-test/1" \d+ \d+\.\d{3} \[default-web-80\] \[\] 127\.0\.0\.1[123]:${backendPort} \d+ \d+\.\d{3} 200 abc123$`,
    );
    let line: string | undefined;
    for (let i = 0; i < 80 && !line; i++) {
      line = fs.readFileSync(render.accessLog, 'utf8').split('\n').find((l) => l.includes('/logged?x=1'));
      if (!line) await new Promise((r) => setTimeout(r, 25));
    }
    assert.match(line ?? '(no line)', re);
  });

  it('logs the X-Request-ID the backend was sent', async () => {
    const a = await send({ host: 'app.test', target: '/logged-id' });
    const id = a.echo!.headers['x-request-id']!;
    const lineOf = async (text: string) => {
      for (let i = 0; i < 80; i++) {
        const line = fs.readFileSync(render.accessLog, 'utf8').split('\n').find((l) => l.includes(text));
        if (line) return line;
        await new Promise((r) => setTimeout(r, 25));
      }
      return '(no line)';
    };
    assert.ok((await lineOf('/logged-id ')).endsWith(` 200 ${id}`), 'the access log names the id the backend got');
  });

  it('rewrite-target: /something/new reaches the backend as /new; path /foo with target / sends everything as /', async () => {
    for (const [from, to] of [['/something', '/'], ['/something/', '/'], ['/something/new', '/new'], ['/something/new?a=b', '/new?a=b']]) {
      const a = await send({ host: 'rewrite.bar.com', target: from! });
      assert.equal(a.status, 200, from);
      assert.equal(a.echo?.url, to, from);
    }
    assert.equal((await send({ host: 'rw.test', target: '/foo/bar' })).echo?.url, '/');
  });

  it('canary by header: always → the canary, never and none → production', async () => {
    assert.equal((await send({ host: 'canary.test', target: '/', headers: { 'X-Canary': 'always' } })).echo?.service, 'canary');
    assert.equal((await send({ host: 'canary.test', target: '/', headers: { 'X-Canary': 'never' } })).echo?.service, 'web');
    assert.equal((await send({ host: 'canary.test', target: '/' })).echo?.service, 'web');
  });

  it('https: SNI chooses the Secret\'s certificate, Host the route; an unknown name gets the default certificate', async () => {
    const a = await send({ scheme: 'https', host: 'secure.test', target: '/' });
    assert.equal(a.cn, 'secure.test');
    assert.equal(a.echo?.service, 'secure');
    const b = await send({ scheme: 'https', host: 'other.test', sni: 'secure.test', target: '/' });
    assert.equal(b.cn, 'secure.test');
    assert.equal(b.echo?.service, 'web');
    const c = await send({ scheme: 'https', host: 'app.test', sni: 'unknown.test', target: '/' });
    assert.equal(c.cn, fakeCN);
    assert.equal(c.echo?.service, 'web');
    const d = await send({ host: 'secure.test', target: '/dir/' });
    assert.equal(d.status, 308);
    assert.equal(d.location, 'https://secure.test/dir');
  });

  it('route() answers what nginx does, request by request (status, backend, redirect, rewritten URL, certificate)', async () => {
    const reqs: Req[] = [
      { host: 'app.test', target: '/' },
      { host: 'app.test', target: '/api' },
      { host: 'app.test', target: '/api/' },
      { host: 'app.test', target: '/API' },
      { host: 'app.test', target: '/aaa/bbb' },
      { host: 'app.test', target: '/aaa/bbb/' },
      { host: 'app.test', target: '/aaa/bbbxyz' },
      { host: 'app.test', target: '/%61pi' },
      { host: 'app.test', target: '//api' },
      { host: 'app.test', target: '/x/../api' },
      { host: 'APP.test', target: '/api' },
      { host: 'app.test:8080', target: '/api' },
      { host: 'nowhere.test', target: '/x' },
      { host: '127.0.0.1', target: '/' },
      { host: 'secure.test', target: '/' },
      { host: 'secure.test', target: '/a/b/' },
      { host: 'secure.test', target: '/a/b/?x=1' },
      { host: 'secure.test', target: '/a?x=/' },
      { scheme: 'https', host: 'secure.test', target: '/' },
      { scheme: 'https', host: 'other.test', sni: 'secure.test', target: '/p' },
      { scheme: 'https', host: 'nowhere.test', sni: 'other.test', target: '/p' },
      { scheme: 'https', host: 'app.test', sni: 'nowhere.test', target: '/api' },
      { host: 'rewrite.bar.com', target: '/something' },
      { host: 'rewrite.bar.com', target: '/something/new?x=1' },
      { host: 'rewrite.bar.com', target: '/SOMETHING/x' },
      { host: 'rewrite.bar.com', target: '/somethingelse' },
      { host: 'rewrite.bar.com', target: '/' },
      { host: 'rw.test', target: '/foo/bar?q=1' },
      { host: 'canary.test', target: '/' },
      { host: 'canary.test', target: '/', headers: { 'X-Canary': 'always' } },
      { host: 'canary.test', target: '/', headers: { 'x-canary': 'never' } },
      { host: 'canary.test', target: '/', headers: { 'X-Canary': 'sometimes' } },
      { host: 'allow.test', target: '/' },
      { host: 'empty.test', target: '/' },
      { host: 'missing.test', target: '/' },
      { host: 'allow-empty.test', target: '/' },
      { host: 'approot.test', target: '/' },
      { host: 'approot.test', target: '/app1/x' },
      { host: 'approot.test', target: '/other' },
      { host: 'force.test', target: '/x/' },
      { scheme: 'https', host: 'force.test', target: '/x/' },
      { host: 'odd.test', target: '/a$b' },
      { host: 'odd.test', target: '/a%24b' },
      { host: 'odd.test', target: '/c%20d' },
      { host: 'odd.test', target: '/c%20d/e' },
      { host: 'odd.test', target: '/q%22x' },
      { host: 'nowhere.test', target: '/healthz' },
      { host: 'nowhere.test', target: '/healthz/x' },
      { host: 'app.test', target: '/healthz' },
      { host: 'app.test.', target: '/api' },
      { host: 'app.test', target: '/aaa%2Fbbb' },
      { host: 'app.test', target: '/aaa/./bbb' },
      { host: 'app.test', target: '/api%3Fx' },
      { host: 'a.wild.test', target: '/' },
      { host: 'A_b-1.Wild.test', target: '/' },
      { host: 'exact.wild.test', target: '/' },
      { host: 'a.b.wild.test', target: '/' },
      { host: 'wild.test', target: '/' },
      { host: 'canary.test', target: '/', headers: { 'X-Canary': 'Always' } },
    ];
    const diffs: string[] = [];
    for (const r of reqs) {
      const a = await send(r);
      const want = routeOf(r);
      const got = { status: a.status, backend: a.echo?.service ?? '-', location: a.location, url: a.echo?.url, cert: a.cn };
      const said = {
        status: want.status,
        backend: want.status === 200 ? served(want) : '-',
        location: want.location,
        url: want.status === 200 ? (want.rewrittenTo ?? r.target) : undefined,
        cert: want.certificate !== undefined ? cnOf[want.certificate] : undefined,
      };
      if (JSON.stringify(got) !== JSON.stringify(said)) diffs.push(`${r.scheme ?? 'http'}://${r.host}${r.target} ${JSON.stringify(r.headers ?? {})}${r.sni ? ` sni ${r.sni}` : ''}: nginx ${JSON.stringify(got)}, route ${JSON.stringify(said)}`);
    }
    assert.deepEqual(diffs, []);
  });

  it('endpoints scaled 1 → 3 → 1 change who answers, with no reload (same workers, same reload count)', async () => {
    const pids = workers();
    const reloads = metrics.success.get(id);
    const who = async (n: number) => {
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) seen.add((await send({ host: 'app.test', target: '/' })).echo!.addr);
      return [...seen].sort();
    };
    assert.deepEqual(await who(6), [`127.0.0.11:${backendPort}`]);
    addrs.web = webPool;
    state.slices = slices();
    await syncer.syncNow();
    assert.deepEqual(await who(12), webPool.map((a) => `${a}:${backendPort}`));
    assert.deepEqual(routeOf({ host: 'app.test', target: '/' }).endpoints, webPool.map((a) => `${a}:${backendPort}`));
    addrs.web = ['127.0.0.13'];
    state.slices = slices();
    await syncer.syncNow();
    assert.deepEqual(await who(6), [`127.0.0.13:${backendPort}`]);
    assert.equal(metrics.success.get(id), reloads, 'no reload');
    assert.equal(metrics.endpointUpdates.get(), 2);
    assert.deepEqual(workers(), pids, 'the same nginx workers');
  });

  it('a configuration nginx refuses (use-regex path "/foo(") is left out with a RejectedByNginx event; the rest, and a new Ingress, serve', async () => {
    const pids = workers();
    const reloads = metrics.success.get(id);
    state.ingresses.push(
      ingress('broken', { rules: [rule('broken.test', pth('/foo(', 'ImplementationSpecific', 'web'))] }, { annotations: nginxAnn({ 'use-regex': 'true' }) }),
      ingress('late', { rules: [rule('late.test', pth('/', 'Prefix', 'secure'))] }),
    );
    await syncer.syncNow();
    await settled(pids);
    assert.deepEqual(events.filter((e) => e.reason === 'RejectedByNginx'), [{ ingress: 'broken', reason: 'RejectedByNginx' }]);
    assert.deepEqual(events.filter((e) => e.reason !== 'RejectedByNginx'), [{ ingress: 'empty', reason: 'ServiceNotFound' }], 'from the first sync');
    assert.equal(metrics.errors.get(id), 1);
    assert.equal(metrics.success.get(id), reloads + 1, 'one reload: the rest with the new Ingress');
    assert.equal((await send({ host: 'late.test', target: '/' })).echo?.service, 'secure');
    assert.equal((await send({ host: 'app.test', target: '/api' })).echo?.service, 'api');
    const b = await send({ host: 'broken.test', target: '/foo(' });
    assert.equal(b.echo?.service, 'api', 'broken.test is not served: the default backend answers');
    assert.equal(routeOf({ host: 'broken.test', target: '/foo(' }).status, 200);
    assert.equal(served(routeOf({ host: 'broken.test', target: '/foo(' })), 'api');
  });

  it('before a reload the old workers drain: asked with their generation, their responses say Connection: close; the new workers keep connections alive', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    /** the Connection header lines of a response on a kept-alive connection */
    const connection = () =>
      new Promise<string[]>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: render.httpPort, path: '/', headers: { Host: 'app.test' }, agent }, (res) => {
          res.resume();
          const lines: string[] = [];
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) if (res.rawHeaders[i]!.toLowerCase() === 'connection') lines.push(res.rawHeaders[i + 1]!);
          res.on('end', () => resolve(lines));
        });
        req.on('error', reject);
      });
    const drain = (generation: string) => new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: render.statusPort, method: 'POST', path: '/configuration/drain' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(generation);
    });
    const running = /podpath\.generation = "([0-9a-f]+)"/.exec(fs.readFileSync(path.join(render.confDir, 'nginx.conf'), 'utf8'))![1]!;
    try {
      assert.deepEqual(await connection(), ['keep-alive']);
      assert.equal(await drain('another-generation'), 201);
      assert.deepEqual(await connection(), ['keep-alive'], 'a drain for another generation leaves these workers be');
      assert.equal(await drain(running), 201);
      assert.deepEqual(await connection(), ['keep-alive', 'close'], "nginx's own line stays; the client takes close");
      const pids = workers();
      state.ingresses.push(ingress('after-drain', { rules: [rule('after-drain.test', pth('/', 'Prefix', 'web'))] }));
      await syncer.syncNow();
      await settled(pids);
      assert.notEqual(/podpath\.generation = "([0-9a-f]+)"/.exec(fs.readFileSync(path.join(render.confDir, 'nginx.conf'), 'utf8'))![1], running);
      assert.deepEqual(await connection(), ['keep-alive'], 'the new workers are not draining');
    } finally {
      agent.destroy();
    }
  });
});
