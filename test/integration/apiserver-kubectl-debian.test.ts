// Debian's older kubectl (kubernetes-client 1.20, unpacked by scripts/install-deps.sh) works
// too: it reads OpenAPI v2 before apply (and validates against it), skips aggregated discovery,
// and sends no fieldValidation.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { eventually, repoRoot, startApiServer, tempDir, type TestApiServer } from '../helpers/apiserver.ts';

const oldKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');
const present = fs.existsSync(oldKubectl);

describe("Debian's kubectl 1.20 against podpath apiserver", { skip: present ? false : `no ${oldKubectl} (scripts/install-deps.sh unpacks it)` }, () => {
  let s: TestApiServer;
  let home: string;
  const run = (args: string[], input?: string) => {
    const r = spawnSync(oldKubectl, args, { input, env: { ...process.env, HOME: home, KUBECONFIG: s.kubeconfig }, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  before(async () => {
    s = await startApiServer();
    home = tempDir('home-debian');
  });
  after(async () => {
    await s?.dispose();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('applies, re-applies, gets, scales and deletes', () => {
    const seed = fs.readFileSync(path.join(repoRoot, 'examples/seed-001/api-server.yaml'), 'utf8');
    let r = run(['apply', '-f', '-'], seed);
    assert.equal(r.code, 0, r.stderr);
    r = run(['apply', '-f', '-'], seed.replace('replicas: 2', 'replicas: 3'));
    assert.equal(r.code, 0, r.stderr);
    r = run(['get', 'svc', 'api-service']);
    assert.match(r.stdout, /api-service\s+NodePort\s+\S+\s+<none>\s+8080:30080\/TCP/);
    r = run(['scale', 'deploy', 'api-server', '--replicas=1']);
    assert.equal(r.code, 0, r.stderr);
    r = run(['get', 'deploy', 'api-server', '-o', 'jsonpath={.spec.replicas}']);
    assert.equal(r.stdout, '1');
    r = run(['create', 'namespace', 'old-client']);
    assert.equal(r.code, 0, r.stderr);
    r = run(['delete', 'namespace', 'old-client']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('watches with get -w, a collection and one object by name', async () => {
    let r = run(['create', 'configmap', 'seen', '--from-literal=x=y']);
    assert.equal(r.code, 0, r.stderr);
    const watch = (args: string[]) => {
      const child = spawn(oldKubectl, ['get', 'cm', ...args, '-w', '--request-timeout=20s'], { env: { ...process.env, HOME: home, KUBECONFIG: s.kubeconfig } });
      const w = { child, out: '' };
      child.stdout.on('data', (d: Buffer) => (w.out += d.toString()));
      return w;
    };
    const all = watch([]);
    const one = watch(['seen']);
    try {
      await eventually(() => /^seen\s/m.test(all.out) && /^seen\s/m.test(one.out), 15_000, 'the initial lists');
      r = run(['create', 'configmap', 'later', '--from-literal=x=y']);
      assert.equal(r.code, 0, r.stderr);
      r = run(['patch', 'configmap', 'seen', '-p', '{"data":{"z":"w"}}']);
      assert.equal(r.code, 0, r.stderr);
      await eventually(() => /^later\s+1\s/m.test(all.out) && /^seen\s+2\s/m.test(all.out), 15_000, 'the collection watch to see the new and the changed ConfigMap');
      await eventually(() => /^seen\s+2\s/m.test(one.out), 15_000, 'the named watch to see its change');
      assert.doesNotMatch(one.out, /later/);
    } finally {
      all.child.kill('SIGKILL');
      one.child.kill('SIGKILL');
    }
  });

  it('refuses an unknown field itself, from the OpenAPI v2 schema, and with --validate=false gets the server\'s warning', () => {
    const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: w\ndata:\n  a: b\nfoo: 1\n';
    let r = run(['apply', '-f', '-'], cm);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error validating data: ValidationError\(ConfigMap\): unknown field "foo" in io\.k8s\.api\.core\.v1\.ConfigMap/);
    r = run(['apply', '--validate=false', '-f', '-'], cm);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /unknown field "foo"/);
  });
});
