// Issue 14, watch and list edge cases: timeouts beyond a timer's range, resourceVersions from
// the future, and watchers that never read.
import assert from 'node:assert/strict';
import type { ClientRequest, IncomingMessage } from 'node:http';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { peakRssMiB, request, sleep, startApiServer, type TestApiServer } from '../helpers/apiserver.ts';

/** Opens a watch and reports whether the server ended it within `ms`. */
function watchEndsWithin(s: TestApiServer, path: string, ms: number): Promise<{ ended: boolean; status: number }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: s.port, path, headers: { Authorization: `Bearer ${s.token}` }, ca: s.caCert, servername: 'localhost' }, (res) => {
      const timer = setTimeout(() => {
        req.destroy();
        resolve({ ended: false, status: res.statusCode ?? 0 });
      }, ms);
      res.resume();
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ ended: true, status: res.statusCode ?? 0 });
      });
    });
    req.on('error', reject);
  });
}

describe('apiserver watch limits', () => {
  let s: TestApiServer;
  before(async () => {
    s = await startApiServer();
  });
  after(async () => {
    await s?.dispose();
  });

  it('keeps a watch with a huge timeoutSeconds open', async () => {
    const r = await watchEndsWithin(s, '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1000000000000', 2000);
    assert.equal(r.status, 200);
    assert.equal(r.ended, false, 'the watch closed at once');
  });

  /** GETs `path` and checks upstream's answer to a resourceVersion from the future, after its wait. */
  async function assertTooLarge(path: string): Promise<void> {
    const t0 = Date.now();
    const r = await request(s, 'GET', path);
    assert.equal(r.status, 504, `${path}: ${r.body}`);
    const st = r.json();
    assert.match(st.message, /^Timeout: Too large resource version: 999999999, current: \d+$/);
    assert.equal(st.reason, 'Timeout');
    assert.deepEqual(st.details.causes, [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }]);
    assert.equal(st.details.retryAfterSeconds, 1);
    assert.equal(r.headers['retry-after'], '1');
    assert.ok(Date.now() - t0 >= 2500, `${path}: answered without waiting for the store to catch up`);
  }

  it('answers 504 Too large resource version to a list or watch from the future', async () => {
    for (const q of ['resourceVersion=999999999', 'watch=true&resourceVersion=999999999']) {
      await assertTooLarge(`/api/v1/namespaces/default/configmaps?${q}`);
    }
    // A resourceVersion the store has reached is served at once.
    const ok = await request(s, 'GET', '/api/v1/namespaces/default/configmaps?resourceVersion=1');
    assert.equal(ok.status, 200, ok.body);
    await sleep(0);
  });

  it('answers 504 Too large resource version to a get from the future, of an object there or not', async () => {
    const made = await request(s, 'POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }));
    assert.equal(made.status, 201, made.body);
    await Promise.all([
      assertTooLarge('/api/v1/namespaces/default/configmaps/x?resourceVersion=999999999'),
      // upstream waits before it looks the object up: 504, not 404
      assertTooLarge('/api/v1/namespaces/default/configmaps/absent?resourceVersion=999999999'),
      assertTooLarge('/apis/apps/v1/namespaces/default/deployments/absent/scale?resourceVersion=999999999'),
      assertTooLarge('/api/v1/namespaces/default/services/absent/status?resourceVersion=999999999'),
    ]);
    // A resourceVersion the store has reached is served at once.
    const rv = made.json().metadata.resourceVersion;
    const ok = await request(s, 'GET', `/api/v1/namespaces/default/configmaps/x?resourceVersion=${rv}`);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.json().metadata.name, 'x');
  });

  it('closes watchers that never read while large objects are written, and stays within a few hundred MB', async () => {
    const path = '/api/v1/namespaces/default/configmaps?watch=true';
    const stalled: { req: ClientRequest; ended: boolean; res?: IncomingMessage }[] = [];
    for (let i = 0; i < 50; i++) {
      const w: { req: ClientRequest; ended: boolean; res?: IncomingMessage } = { req: undefined as unknown as ClientRequest, ended: false };
      w.req = https.get({ host: '127.0.0.1', port: s.port, path, headers: { Authorization: `Bearer ${s.token}` }, ca: s.caCert, servername: 'localhost' }, (res) => {
        w.res = res;
        res.pause(); // never reads (until the end, to see whether the server closed it)
        res.on('close', () => (w.ended = true));
        res.on('error', () => (w.ended = true));
      });
      w.req.on('error', () => (w.ended = true));
      stalled.push(w);
    }
    // One watcher that reads everything still gets every event.
    let seen = 0;
    const reader = https.get({ host: '127.0.0.1', port: s.port, path, headers: { Authorization: `Bearer ${s.token}` }, ca: s.caCert, servername: 'localhost' }, (res) => {
      let buf = '';
      res.on('error', () => {});
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          if (line.includes('"ADDED"') && line.includes('"name":"big-')) seen++;
          buf = buf.slice(nl + 1);
        }
      });
    });
    reader.on('error', () => {});
    await sleep(500);
    const before = peakRssMiB(s.child.pid!);
    assert.equal(s.child.exitCode, null);
    const value = 'v'.repeat(100 * 1024);
    for (let i = 0; i < 400; i += 8) {
      await Promise.all(
        Array.from({ length: 8 }, (_, j) =>
          request(s, 'POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `big-${i + j}` }, data: { v: value } })).then(
            (r) => assert.equal(r.status, 201, r.body),
            (e) => assert.fail(`write ${i + j}: ${e.message}, server exit ${s.child.exitCode}`),
          ),
        ),
      );
    }
    await sleep(1000);
    const grew = peakRssMiB(s.child.pid!) - before;
    // A closed connection shows only once its buffered bytes are read.
    for (const w of stalled) w.res?.resume();
    await sleep(3000);
    const ended = stalled.filter((w) => w.ended).length;
    for (const w of stalled) w.req.destroy();
    reader.destroy();
    assert.ok(grew < 300, `resident peak grew by ${grew.toFixed(0)} MiB`);
    assert.equal(ended, 50, `only ${ended} of 50 stalled watchers were closed`);
    assert.equal(seen, 400, 'the reading watcher missed events');
  });
});
