// Issue 14, watch and list edge cases: timeouts beyond a timer's range, resourceVersions from
// the future, and watchers that never read.
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { request, sleep, startApiServer, type TestApiServer } from '../helpers/apiserver.ts';

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

  it('answers 504 Too large resource version to a list or watch from the future', async () => {
    for (const q of ['resourceVersion=999999999', 'watch=true&resourceVersion=999999999']) {
      const t0 = Date.now();
      const r = await request(s, 'GET', `/api/v1/namespaces/default/configmaps?${q}`);
      assert.equal(r.status, 504, `${q}: ${r.body}`);
      const st = r.json();
      assert.match(st.message, /^Timeout: Too large resource version: 999999999, current: \d+$/);
      assert.equal(st.reason, 'Timeout');
      assert.deepEqual(st.details.causes, [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }]);
      assert.equal(st.details.retryAfterSeconds, 1);
      assert.equal(r.headers['retry-after'], '1');
      assert.ok(Date.now() - t0 >= 2500, 'answered without waiting for the store to catch up');
    }
    // A resourceVersion the store has reached is served at once.
    const ok = await request(s, 'GET', '/api/v1/namespaces/default/configmaps?resourceVersion=1');
    assert.equal(ok.status, 200, ok.body);
    await sleep(0);
  });
});
