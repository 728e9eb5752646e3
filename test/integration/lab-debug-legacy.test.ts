// `kubectl debug` with Debian's kubectl 1.20 in a lab: that client GETs pods/ephemeralcontainers
// as an EphemeralContainers object, appends its container and PUTs the object back, as the API
// servers of its time served it; an interactive debugging shell in the pod's network, a second
// debugging container keeping the first, and upstream's validation error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, repoRoot, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';
import { onPseudoTerminal } from '../helpers/terminal.ts';

const oldKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');

describe('kubectl debug (1.20) in a lab', { skip: (!isRoot && 'labs need root') || (!fs.existsSync(oldKubectl) && `no ${oldKubectl} (scripts/install-deps.sh unpacks it)`) }, () => {
  let lab: TestLab;
  let home: string;

  before(async () => {
    lab = await startLab({ args: ['--no-netpol', '--no-dns'] });
    home = tempDir('home-debug-1.20');
    lab.ok(['run', 'web', '--image=busybox', '--', 'sleep', '100000']);
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  const env = () => ({ ...process.env, HOME: home, KUBECONFIG: lab.kubeconfig });
  const kc = (args: string[]) => spawnSync(oldKubectl, args, { env: env(), encoding: 'utf8', timeout: 60_000 });
  const podJSON = () => lab.get('/api/v1/namespaces/default/pods/web') as { status: { phase: string; podIP: string }; spec: { ephemeralContainers?: { name: string }[] } };

  it('debug -it gives a shell in the pod’s network; a second debug keeps the first; the object read is EphemeralContainers', () =>
    explained(lab, async () => {
      const ip = (await eventually(() => (podJSON().status.phase === 'Running' ? podJSON().status.podIP : undefined), 60_000, 'web running'))!;
      const p = onPseudoTerminal(oldKubectl, ['debug', '-it', 'web', '--image=busybox', '-c', 'old'], env());
      try {
        await p.waitFor(/If you don't see a command prompt/, 60_000);
        p.write('ip -4 addr show eth0; exit\r');
        await p.waitFor(new RegExp(`inet ${ip.replace(/\./g, '\\.')}/`));
        assert.equal(await p.end(), 0, p.out);
      } finally {
        p.kill();
      }
      const r = kc(['debug', 'web', '--image=busybox', '-c', 'old2', '--', 'true']);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(podJSON().spec.ephemeralContainers?.map((c) => c.name), ['old', 'old2']);
      const ec = JSON.parse(kc(['get', '--raw', '/api/v1/namespaces/default/pods/web/ephemeralcontainers']).stdout) as { kind: string; apiVersion: string; metadata: { name: string }; ephemeralContainers: { name: string }[] };
      assert.deepEqual([ec.kind, ec.apiVersion, ec.metadata.name], ['EphemeralContainers', 'v1', 'web']);
      assert.deepEqual(ec.ephemeralContainers.map((c) => c.name), ['old', 'old2']);
      const dup = kc(['debug', 'web', '--image=busybox', '-c', 'old', '--', 'true']);
      assert.notEqual(dup.status, 0);
      assert.match(dup.stderr, /spec\.ephemeralContainers\[\d+\]\.name: Duplicate value: "old"/);
    }));
});
