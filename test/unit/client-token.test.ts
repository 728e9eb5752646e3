// The API client's bearer token: read again from its file once a minute and right after a 401
// (client-go's BearerTokenFile), and a 401 told to the token's source; against a real HTTPS
// server that accepts one token at a time.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiError } from '../../src/api/errors.ts';
import { Client, type ClientConfig } from '../../src/client/client.ts';
import { issueLeaf, makeCA } from '../../src/util/pki.ts';
import { tempDir } from '../helpers/apiserver.ts';

describe('API client token', () => {
  let server: https.Server;
  let base: ClientConfig;
  let accepted = 'first';
  const seen: string[] = [];
  const dir = tempDir('client-token');
  const file = path.join(dir, 'token');

  before(async () => {
    const now = Date.now();
    const ca = await makeCA('CN=test-ca', new Date(now - 60_000), new Date(now + 3_600_000));
    const leaf = await issueLeaf(ca, { subject: 'CN=localhost', dns: ['localhost'], ips: ['127.0.0.1'], notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
    server = https.createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      seen.push(token);
      const ok = token === accepted;
      res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(ok ? { kind: 'Namespace', metadata: { name: 'default' } } : { kind: 'Status', status: 'Failure', reason: 'Unauthorized', message: 'Unauthorized', code: 401 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = { server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, ca: ca.certPem };
  });
  after(() => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the token read from its file for a minute, and reads the file again after a 401', async () => {
    fs.writeFileSync(file, 'first\n');
    accepted = 'first';
    const c = new Client({ ...base, token: 'first', tokenFile: file });
    try {
      await c.get('/api/v1/namespaces/default');
      // The kubelet rotates the token; the old one still works until the server says otherwise.
      fs.writeFileSync(file, 'second\n');
      await c.get('/api/v1/namespaces/default');
      assert.deepEqual(seen.splice(0), ['first', 'first'], 'within the minute the file is not read again');
      accepted = 'second';
      await assert.rejects(c.get('/api/v1/namespaces/default'), (e: unknown) => e instanceof ApiError && e.status.code === 401);
      await c.get('/api/v1/namespaces/default');
      assert.deepEqual(seen.splice(0), ['first', 'second'], 'the request after a 401 carries the token now in the file');
    } finally {
      c.close();
    }
  });

  it('tells the token source of a 401 from a request and from a watch, and of nothing else', async () => {
    accepted = 'good';
    let told = 0;
    const cfg: ClientConfig = { ...base, token: 'good', onUnauthorized: () => told++ };
    const c = new Client(cfg);
    try {
      await c.get('/api/v1/namespaces/default');
      assert.equal(told, 0);
      cfg.token = 'revoked';
      await assert.rejects(c.get('/api/v1/namespaces/default'));
      assert.equal(told, 1);
      const ended = await new Promise<Error | undefined>((resolve) => c.watch('/api/v1/namespaces?watch=1', () => {}, resolve));
      assert.ok(ended instanceof ApiError && ended.status.code === 401, String(ended));
      assert.equal(told, 2);
    } finally {
      c.close();
    }
  });
});
