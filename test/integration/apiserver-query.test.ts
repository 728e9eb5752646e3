// Query parameters and paths as kube-apiserver reads them: booleans by the query-parameter rule
// (Python sends `True`, curl users `?watch`), the legacy /watch/ paths, `pretty`, and the
// answers for paths and methods no route serves.
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { makeKubectl, request, startApiServer, type TestApiServer } from '../helpers/apiserver.ts';

interface WatchLine {
  type: string;
  object: { metadata?: { name?: string; resourceVersion?: string; annotations?: Record<string, string> }; code?: number; message?: string };
}

describe('apiserver query parameters and legacy paths', () => {
  let s: TestApiServer;
  const lines = (body: string): WatchLine[] =>
    body
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  const events = (body: string) => lines(body).map((l) => `${l.type} ${l.object.metadata?.name ?? ''}`.trim());

  before(async () => {
    s = await startApiServer();
    for (const [ns, name] of [
      ['default', 'one'],
      ['default', 'two'],
      ['kube-system', 'three'],
    ] as const) {
      const r = await request(s, 'POST', `/api/v1/namespaces/${ns}/configmaps`, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { k: 'v' } }));
      assert.equal(r.status, 201, r.body);
    }
  });
  after(async () => {
    await s?.dispose();
  });

  it('reads watch as kube-apiserver does: True, 1 and the bare parameter watch; false, FALSE and 0 list', async () => {
    for (const v of ['True', 'true', '1', '', 'yes']) {
      const r = await request(s, 'GET', `/api/v1/namespaces/default/configmaps?watch=${v}&timeoutSeconds=1`);
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(events(r.body), ['ADDED one', 'ADDED two'], `watch=${v}`);
    }
    for (const v of ['false', 'FALSE', '0']) {
      const r = await request(s, 'GET', `/api/v1/namespaces/default/configmaps?watch=${v}`);
      assert.equal(r.json().kind, 'ConfigMapList', `watch=${v}`);
    }
  });

  it('sendInitialEvents=True ends the initial events with a bookmark; allowWatchBookmarks=1 sends one before the timeout', async () => {
    const r = await request(s, 'GET', '/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=True&allowWatchBookmarks=True&resourceVersionMatch=NotOlderThan&timeoutSeconds=1');
    const ls = lines(r.body);
    assert.deepEqual(ls.map((l) => l.type), ['ADDED', 'ADDED', 'BOOKMARK']);
    assert.equal(ls[2]!.object.metadata?.annotations?.['k8s.io/initial-events-end'], 'true');
    const b = await request(s, 'GET', '/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=1&timeoutSeconds=3');
    assert.deepEqual(lines(b.body).map((l) => l.type), ['ADDED', 'ADDED', 'BOOKMARK'], 'a bookmark 2 s before the 3 s timeout');
  });

  it('serves the legacy watch paths: all namespaces, one namespace, one object by name, and under /apis', async () => {
    const all = await request(s, 'GET', '/api/v1/watch/configmaps?timeoutSeconds=1');
    assert.equal(all.status, 200, all.body);
    assert.deepEqual(events(all.body).filter((e) => e.startsWith('ADDED ') && e !== 'ADDED kube-root-ca.crt').sort(), ['ADDED one', 'ADDED three', 'ADDED two']);
    const ns = await request(s, 'GET', '/api/v1/watch/namespaces/kube-system/configmaps?timeoutSeconds=1');
    assert.deepEqual(events(ns.body), ['ADDED three']);
    const rv = (await request(s, 'GET', '/api/v1/namespaces/default/configmaps')).json().metadata.resourceVersion;
    const one = request(s, 'GET', `/api/v1/watch/namespaces/default/configmaps/one?resourceVersion=${rv}&timeoutSeconds=2`);
    await new Promise((r) => setTimeout(r, 300));
    for (const name of ['two', 'one']) {
      const p = await request(s, 'PATCH', `/api/v1/namespaces/default/configmaps/${name}`, JSON.stringify({ data: { k: 'w' } }), { contentType: 'application/merge-patch+json' });
      assert.equal(p.status, 200, p.body);
    }
    assert.deepEqual(events((await one).body), ['MODIFIED one'], 'only the named object');
    const clash = await request(s, 'GET', '/api/v1/watch/namespaces/default/configmaps/one?fieldSelector=metadata.name%3Dtwo');
    assert.equal(clash.status, 400);
    assert.equal(clash.json().message, "fieldSelector metadata.name doesn't match requested name");
    const same = await request(s, 'GET', '/api/v1/watch/namespaces/default/configmaps/one?fieldSelector=metadata.name%3Done&timeoutSeconds=1');
    assert.deepEqual(events(same.body), ['ADDED one']);
    const dep = await request(s, 'POST', '/apis/apps/v1/namespaces/default/deployments', JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    }));
    assert.equal(dep.status, 201, dep.body);
    const apps = await request(s, 'GET', '/apis/apps/v1/watch/namespaces/default/deployments?timeoutSeconds=1');
    assert.deepEqual(events(apps.body), ['ADDED web']);
    const post = await request(s, 'POST', '/api/v1/watch/namespaces/default/configmaps', '{}');
    assert.equal(post.status, 405, post.body);
    const sub = await request(s, 'GET', '/apis/apps/v1/watch/namespaces/default/deployments/web/status');
    assert.equal(sub.status, 404, sub.body);
  });

  it('takes force=True on an apply patch and orphanDependents=True on a delete', async () => {
    const apply = (manager: string, value: string, force = '') =>
      request(s, 'PATCH', `/api/v1/namespaces/default/configmaps/applied?fieldManager=${manager}${force}`, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied' }, data: { k: value } }), {
        contentType: 'application/apply-patch+yaml',
      });
    assert.equal((await apply('a', '1')).status, 201);
    assert.equal((await apply('b', '2')).status, 409);
    const forced = await apply('b', '2', '&force=True');
    assert.equal(forced.status, 200, forced.body);
    assert.equal(forced.json().data.k, '2');
    const del = await request(s, 'DELETE', '/apis/apps/v1/namespaces/default/deployments/web?orphanDependents=True');
    assert.equal(del.status, 200, del.body);
    assert.deepEqual(del.json().metadata.finalizers, ['orphan']);
  });

  it('indents JSON for pretty=true and for curl, as Go\'s strconv.ParseBool reads pretty', async () => {
    const get = (query: string, userAgent?: string) =>
      new Promise<string>((resolve, reject) => {
        const headers: Record<string, string> = { Authorization: `Bearer ${s.token}` };
        if (userAgent) headers['User-Agent'] = userAgent;
        https
          .get({ host: '127.0.0.1', port: s.port, path: `/api/v1/namespaces/default/configmaps/one${query}`, headers, ca: s.caCert, servername: 'localhost' }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve(body));
          })
          .on('error', reject);
      });
    const compact = await get('');
    const indented = JSON.stringify(JSON.parse(compact), null, 2);
    assert.ok(!compact.includes('\n'), compact);
    assert.equal(await get('?pretty=true'), indented);
    assert.equal(await get('?pretty=1'), indented);
    assert.equal(await get('?pretty=yes'), compact, 'not a Go boolean: not pretty');
    assert.equal(await get('', 'curl/8.5.0'), indented);
    assert.equal(await get('?pretty=false', 'curl/8.5.0'), compact);
  });

  it('answers paths no route serves as upstream: a Status with empty details under API prefixes, Go\'s plain 404 elsewhere; 405 for methods no route takes', async () => {
    const generic404 = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', details: {}, code: 404 };
    for (const p of ['/api/v1/nothings', '/apis/apps/v1/nothings']) {
      const r = await request(s, 'PATCH', p, '{}', { contentType: 'application/strategic-merge-patch+json' });
      assert.equal(r.status, 404, p);
      assert.deepEqual(r.json(), generic404, p);
    }
    for (const p of ['/nothing', '/apis/no.such.group/v1/things']) {
      const r = await request(s, 'GET', p);
      assert.equal(r.status, 404, p);
      assert.equal(r.body, '404 page not found\n', p);
      assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8', p);
    }
    // The ephemeralcontainers subresource is served: a missing pod is the pod's own 404 (kubectl
    // debug tells an unserved subresource by a 404 with empty details, and crashed on one without).
    const missing = await request(s, 'PATCH', '/api/v1/namespaces/default/pods/p/ephemeralcontainers', '{}', { contentType: 'application/strategic-merge-patch+json' });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json().details, { name: 'p', kind: 'pods' });
    const pod = await request(s, 'POST', '/api/v1/namespaces/default/pods', JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }));
    assert.equal(pod.status, 201, pod.body);
    const debug = makeKubectl(s.kubeconfig)(['debug', 'p', '--image=busybox', '--profile=general']);
    assert.equal(debug.code, 0, debug.stderr);
    assert.match(debug.stdout, /^Defaulting debug container name to debugger-\w+\.$/m);
    const methodNotAllowed = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server does not allow this method on the requested resource', reason: 'MethodNotAllowed', details: {}, code: 405 };
    for (const [m, p] of [
      ['POST', '/api/v1/configmaps'],
      ['PUT', '/api/v1/namespaces/default/configmaps'],
      ['POST', '/api/v1/namespaces/default/configmaps/one'],
    ] as const) {
      const r = await request(s, m, p, '{}');
      assert.equal(r.status, 405, `${m} ${p}`);
      assert.deepEqual(r.json(), methodNotAllowed, `${m} ${p}`);
    }
  });
});
