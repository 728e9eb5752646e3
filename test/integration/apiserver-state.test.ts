// Issue 14, the API server's data directory: who may read it, and what survives a restart
// with other addresses.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { makeKubectl, request, startApiServer, tempDir, type TestApiServer } from '../helpers/apiserver.ts';

const mode = (p: string) => fs.statSync(p).mode & 0o777;

describe('apiserver data directory', () => {
  const servers: TestApiServer[] = [];
  after(async () => {
    for (const s of servers) await s.dispose();
  });

  it('keeps objects and keys 0600 in 0700 directories, whatever existed before', async () => {
    const dataDir = tempDir('apiserver');
    // A data directory left world-readable, as an older release or a careless user left it.
    fs.chmodSync(dataDir, 0o755);
    for (const d of ['store', 'pki']) fs.mkdirSync(path.join(dataDir, d), { mode: 0o755 });
    fs.chmodSync(path.join(dataDir, 'store'), 0o755);
    fs.chmodSync(path.join(dataDir, 'pki'), 0o755);
    fs.writeFileSync(path.join(dataDir, 'store', 'wal.log'), '', { mode: 0o644 });
    fs.writeFileSync(path.join(dataDir, 'store', 'snapshot.json.tmp'), '', { mode: 0o644 });
    fs.writeFileSync(path.join(dataDir, 'pki', 'token'), 'a'.repeat(64) + '\n', { mode: 0o644 });
    const s = await startApiServer({ dataDir });
    servers.push(s);
    const r = await request(s, 'POST', '/api/v1/namespaces/default/secrets', JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { password: 'hunter2' } }));
    assert.equal(r.status, 201, r.body);
    assert.equal(mode(dataDir), 0o700, 'data dir');
    for (const d of ['store', 'pki']) assert.equal(mode(path.join(dataDir, d)), 0o700, d);
    for (const f of fs.readdirSync(path.join(dataDir, 'store'))) assert.equal(mode(path.join(dataDir, 'store', f)), 0o600, `store/${f}`);
    for (const f of fs.readdirSync(path.join(dataDir, 'pki'))) assert.equal(mode(path.join(dataDir, 'pki', f)), 0o600, `pki/${f}`);
  });

  it('keeps its CA when restarted with another --advertise-address: existing kubeconfigs still work', async () => {
    const s = await startApiServer();
    servers.push(s);
    const saved = path.join(tempDir('kc'), 'kubeconfig');
    fs.copyFileSync(s.kubeconfig, saved);
    const ca = fs.readFileSync(path.join(s.dataDir, 'pki', 'ca.crt'), 'utf8');
    const cert = fs.readFileSync(path.join(s.dataDir, 'pki', 'server.crt'), 'utf8');
    await s.stop();
    await s.restart(['--advertise-address', '192.0.2.10']);
    assert.equal(fs.readFileSync(path.join(s.dataDir, 'pki', 'ca.crt'), 'utf8'), ca, 'the CA changed');
    assert.notEqual(fs.readFileSync(path.join(s.dataDir, 'pki', 'server.crt'), 'utf8'), cert, 'the serving certificate was not reissued');
    const k = makeKubectl(saved)(['get', 'namespaces', '-o', 'name']);
    assert.equal(k.code, 0, k.stderr);
    assert.match(k.stdout, /namespace\/default/);
  });
});
