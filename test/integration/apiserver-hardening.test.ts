// Issue 14, the API server's front door: requests that once crashed it, bodies it must refuse
// before holding them, clients too slow to be worth a connection. Each case starts the real
// server and sends the raw request, then checks that a good request still succeeds.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeKubectl, peakRssMiB, request, startApiServer, type TestApiServer } from '../helpers/apiserver.ts';
import { goodGet, rawExchange } from '../helpers/raw.ts';

describe('apiserver front door', () => {
  let s: TestApiServer;
  before(async () => {
    s = await startApiServer();
  });
  after(async () => {
    await s?.dispose();
  });

  async function stillServes(): Promise<void> {
    const r = await goodGet(s.port, '/healthz', true);
    assert.equal(r.status, 200, r.text);
    assert.equal(s.child.exitCode, null, 'the server process exited');
  }

  it('answers 400 to absolute-form targets that do not parse, and stays up', async () => {
    for (const target of ['http://a:99999/', 'http://[::1/', 'http://a:b/', 'http://%zz/', 'http://[x]/']) {
      const r = await rawExchange({ port: s.port, tls: true, chunks: [`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`] });
      assert.equal(r.status, 400, `${target}: ${r.text}`);
      await stillServes();
    }
    // A well-formed absolute-form target is served like its path.
    const ok = await rawExchange({ port: s.port, tls: true, chunks: ['GET https://127.0.0.1/healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'] });
    assert.equal(ok.status, 200, ok.text);
  });

  it('answers 413 with upstream Status to bodies over 3 MiB, and kubectl sees it', async () => {
    const big = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data: { a: 'x'.repeat(3 * 1024 * 1024) } });
    const r = await request(s, 'POST', '/api/v1/namespaces/default/configmaps', big);
    assert.equal(r.status, 413, r.body);
    assert.equal(r.json().message, 'Request entity too large: limit is 3145728');
    assert.equal(r.json().reason, 'RequestEntityTooLarge');
    // chunked, no Content-Length: refused as it arrives
    const chunk = 'x'.repeat(1024 * 1024);
    const frames = Array.from({ length: 4 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const c = await rawExchange({
      port: s.port,
      tls: true,
      chunks: [`POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${s.token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`, ...frames, '0\r\n\r\n'],
      untilStatus: true,
    });
    assert.equal(c.status, 413, c.text);
    const kubectl = makeKubectl(s.kubeconfig);
    const k = kubectl(['create', '-f', '-'], big);
    assert.notEqual(k.code, 0);
    assert.match(k.stderr, /Request entity too large: limit is 3145728/, k.stderr);
    await stillServes();
  });

  it('answers 400 to a malformed escape in the path and 404 to escapes that are not UTF-8', async () => {
    const bad = await request(s, 'GET', '/api/v1/namespaces/%E0%A4%A/configmaps');
    assert.equal(bad.status, 400, bad.body);
    const notUtf8 = await request(s, 'GET', '/api/v1/namespaces/%E0%A4/configmaps');
    assert.equal(notUtf8.status, 404, notUtf8.body);
    await stillServes();
  });

  it('refuses an unauthenticated request before reading its body', async () => {
    // Headers announce 3 MB that never come: the 401 must not wait for them.
    const r = await rawExchange({
      port: s.port,
      tls: true,
      chunks: ['POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n\r\n'],
      untilStatus: true,
      timeoutMs: 5000,
    });
    assert.equal(r.status, 401, r.text);
    // Many unauthenticated uploads at once do not make the server hold their bodies.
    const before = peakRssMiB(s.child.pid!);
    const body = Buffer.alloc(3 * 1024 * 1024, 'a');
    for (let round = 0; round < 2; round++) {
      await Promise.all(Array.from({ length: 40 }, () => request(s, 'POST', '/api/v1/namespaces/default/configmaps', body, { auth: false }).catch(() => undefined)));
    }
    const grew = peakRssMiB(s.child.pid!) - before;
    assert.ok(grew < 100, `resident peak grew by ${grew.toFixed(0)} MiB`);
    await stillServes();
  });

  it('keeps kept-alive connections healthy under back-to-back writes larger than a TLS record', async () => {
    // Node 20's parser, reading a TLS handle directly, reset such connections now and then (HPE_PAUSED).
    const value = 'v'.repeat(40_000);
    for (let i = 0; i < 300; i++) {
      const r = await request(s, 'POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `ka-${i}` }, data: { v: value } })).catch((e: Error) => assert.fail(`write ${i}: ${e.message}`));
      assert.equal(r.status, 201, r.body);
    }
  });

  it('closes a connection whose headers come too slowly (32 s, as kube-apiserver)', async () => {
    const drip = Array.from({ length: 60 }, (_, i) => (i === 0 ? 'GET /healthz HTTP/1.1\r\n' : 'X-A: b\r\n'));
    const slow = rawExchange({ port: s.port, tls: true, chunks: drip, gapMs: 1000, timeoutMs: 50_000 });
    // Meanwhile others are served.
    await stillServes();
    const r = await slow;
    assert.notEqual(r.ended, 'open', 'the slow connection was still open after 50 s');
    assert.ok(r.ms < 36_000, `closed after ${r.ms} ms`);
    await stillServes();
  });
});
