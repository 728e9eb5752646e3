// Issue 14: a full disk. Writes are refused with a 500 Status while reads keep working, the
// server stays up, and writes succeed again once there is space; nothing refused is stored.
// The data directory lives on a small tmpfs this test mounts, and unmounts even on failure.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request, startApiServer, tempDir, type TestApiServer } from '../helpers/apiserver.ts';

const cm = (name: string, size = 1000) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v: 'x'.repeat(size) } });

/** Fills the filesystem at `dir` until a write fails; returns the filler's path. */
function fill(dir: string): string {
  const f = path.join(dir, 'filler');
  const fd = fs.openSync(f, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (let i = 0; i < 100_000; i++) fs.writeSync(fd, chunk);
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
  return f;
}

/** A NodePort Service; `pad` characters of annotation make its record need pages a full disk does not have. */
const svc = (name: string, spec: { clusterIP?: string; nodePort: number }, pad = 0) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, ...(pad ? { annotations: { pad: 'x'.repeat(pad) } } : {}) },
    spec: { type: 'NodePort', ...(spec.clusterIP ? { clusterIP: spec.clusterIP } : {}), selector: { app: name }, ports: [{ port: 80, nodePort: spec.nodePort }] },
  });

describe('apiserver on a full disk', { skip: process.getuid?.() !== 0 ? 'needs root to mount a tmpfs' : false }, () => {
  const root = tempDir('enospc');
  const mnt = path.join(root, 'mnt');
  let mounted = false;
  let s: TestApiServer | undefined;
  before(async () => {
    fs.mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', mnt], { encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr);
    mounted = true;
    s = await startApiServer({ dataDir: path.join(mnt, 'data') });
  });
  after(async () => {
    await s?.stop();
    if (mounted) spawnSync('umount', [mnt]);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('refuses writes with 500, keeps serving reads, and writes again once space returns', async () => {
    const ok = await request(s!, 'POST', '/api/v1/namespaces/default/configmaps', cm('before'));
    assert.equal(ok.status, 201, ok.body);
    const filler = fill(mnt);
    for (let i = 0; i < 5; i++) {
      const r = await request(s!, 'POST', '/api/v1/namespaces/default/configmaps', cm(`full-${i}`, 20_000));
      assert.equal(r.status, 500, r.body);
      assert.match(r.json().message, /no space left on device/);
      const list = await request(s!, 'GET', '/api/v1/namespaces/default/configmaps');
      assert.equal(list.status, 200, list.body);
      assert.deepEqual(list.json().items.map((o: { metadata: { name: string } }) => o.metadata.name), ['before'], 'a refused write is not visible');
    }
    assert.equal(s!.child.exitCode, null, 'the server exited');
    fs.rmSync(filler);
    const again = await request(s!, 'POST', '/api/v1/namespaces/default/configmaps', cm('after'));
    assert.equal(again.status, 201, again.body);
    // What was acknowledged survives a restart, and nothing else.
    await s!.stop();
    await s!.restart();
    const list = await request(s!, 'GET', '/api/v1/namespaces/default/configmaps');
    assert.deepEqual(list.json().items.map((o: { metadata: { name: string } }) => o.metadata.name), ['after', 'before']);
  });

  it('gives back the ClusterIPs and NodePorts of refused Service writes, and keeps those of a refused delete', async () => {
    const services = '/api/v1/namespaces/default/services';
    const kept = await request(s!, 'POST', services, svc('keeps-its-values', { clusterIP: '10.96.0.101', nodePort: 30101 }));
    assert.equal(kept.status, 201, kept.body);
    const filler = fill(mnt);
    try {
      const refused = await request(s!, 'POST', services, svc('refused', { clusterIP: '10.96.0.100', nodePort: 30100 }, 20_000));
      assert.equal(refused.status, 500, refused.body);
      const moved = JSON.parse(svc('keeps-its-values', { clusterIP: '10.96.0.101', nodePort: 30102 }, 20_000));
      moved.metadata.resourceVersion = kept.json().metadata.resourceVersion;
      const update = await request(s!, 'PUT', `${services}/keeps-its-values`, JSON.stringify(moved));
      assert.equal(update.status, 500, update.body);
      // A delete's record is small: use up what room the log's last page has left first, with
      // records no longer than it (a pad's create, then a pad's delete).
      const pads: string[] = [];
      for (let i = 0; i < 100; i++) {
        const r = await request(s!, 'POST', '/api/v1/namespaces/default/configmaps', cm(`pad-${i}`, 1));
        if (r.status !== 201) break;
        pads.push(`pad-${i}`);
      }
      for (const pad of pads) if ((await request(s!, 'DELETE', `/api/v1/namespaces/default/configmaps/${pad}`)).status !== 200) break;
      const del = await request(s!, 'DELETE', `${services}/keeps-its-values`);
      assert.equal(del.status, 500, del.body);
    } finally {
      fs.rmSync(filler);
    }
    // What the refused create and update took is free again...
    const create = await request(s!, 'POST', services, svc('takes-the-refused', { clusterIP: '10.96.0.100', nodePort: 30100 }));
    assert.equal(create.status, 201, create.body);
    const port = await request(s!, 'POST', services, svc('takes-the-update', { nodePort: 30102 }));
    assert.equal(port.status, 201, port.body);
    // ...and what the Service whose update and delete were refused holds is still its own.
    const still = await request(s!, 'GET', `${services}/keeps-its-values`);
    assert.equal(still.status, 200, still.body);
    assert.equal(still.json().spec.ports[0].nodePort, 30101);
    for (const [name, spec, field] of [
      ['wants-its-ip', { clusterIP: '10.96.0.101', nodePort: 30103 }, /spec\.clusterIPs.*failed to allocate IP 10\.96\.0\.101: provided IP is already allocated/],
      ['wants-its-port', { nodePort: 30101 }, /spec\.ports\[0\]\.nodePort.*provided port is already allocated/],
    ] as const) {
      const r = await request(s!, 'POST', services, svc(name, spec));
      assert.equal(r.status, 422, `${name}: ${r.body}`);
      assert.match(r.json().message, field);
    }
  });
});
