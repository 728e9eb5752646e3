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
});
