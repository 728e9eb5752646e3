// The real kubectl against a real `podpath apiserver` process: every command the seeds'
// walkthroughs use, with upstream's output columns.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { eventually, kubectlBin, makeKubectl, repoRoot, startApiServer, tempDir, type TestApiServer } from '../helpers/apiserver.ts';

const seed = path.join(repoRoot, 'examples/seed-001/api-server.yaml');

describe('kubectl against podpath apiserver', () => {
  let s: TestApiServer;
  let kubectl: ReturnType<typeof makeKubectl>;
  const ok = (args: string[], input?: string) => {
    const r = kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    s = await startApiServer();
    kubectl = makeKubectl(s.kubeconfig);
  });
  after(async () => {
    await s?.dispose();
  });

  it('writes a kubeconfig with mode 0600 and context podpath', () => {
    assert.equal(fs.statSync(s.kubeconfig).mode & 0o777, 0o600);
    assert.equal(ok(['config', 'current-context']).trim(), 'podpath');
  });

  it('serves the system namespaces and the kubernetes Service at the first address', () => {
    const ns = ok(['get', 'ns', '-o', 'name']).trim().split('\n').sort();
    assert.deepEqual(ns, ['namespace/default', 'namespace/kube-node-lease', 'namespace/kube-public', 'namespace/kube-system']);
    const svc = JSON.parse(ok(['get', 'svc', 'kubernetes', '-o', 'json']));
    assert.equal(svc.spec.clusterIP, '10.96.0.1');
    assert.equal(svc.spec.ports[0].port, 443);
  });

  it('applies the seed 001 example unchanged and prints the seed columns', () => {
    const out = ok(['apply', '-f', seed]);
    assert.match(out, /deployment.apps\/api-server created/);
    assert.match(out, /service\/api-service created/);
    const table = ok(['get', 'svc', 'api-service']);
    const [header, row] = table.trim().split('\n');
    assert.match(header!, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/);
    assert.match(row!, /^api-service\s+NodePort\s+10\.\d+\.\d+\.\d+\s+<none>\s+8080:30080\/TCP\s+\d+s$/);
    const wide = ok(['get', 'svc', 'api-service', '-o', 'wide']);
    assert.match(wide.split('\n')[0]!, /SELECTOR$/);
    assert.match(wide.split('\n')[1]!, /app=api$/);
  });

  it('re-applies a changed manifest as a strategic merge patch', () => {
    const changed = fs.readFileSync(seed, 'utf8').replace('replicas: 2', 'replicas: 3').replace('- port: 8080', '- port: 8081');
    const out = ok(['apply', '-f', '-'], changed);
    assert.match(out, /configured/);
    const svc = JSON.parse(ok(['get', 'svc', 'api-service', '-o', 'json']));
    assert.deepEqual(
      svc.spec.ports.map((p: { port: number; nodePort: number }) => [p.port, p.nodePort]),
      [[8081, 30080]],
    );
    const dep = JSON.parse(ok(['get', 'deploy', 'api-server', '-o', 'json']));
    assert.equal(dep.spec.replicas, 3);
    assert.equal(dep.metadata.generation, 2);
    // re-applying the original restores it, and the ports list is replaced item by item
    ok(['apply', '-f', seed]);
    const back = JSON.parse(ok(['get', 'svc', 'api-service', '-o', 'json']));
    assert.deepEqual(back.spec.ports.map((p: { port: number }) => p.port), [8080]);
  });

  it('gets in every output format', () => {
    const y = YAML.parse(ok(['get', 'deploy', 'api-server', '-o', 'yaml']));
    assert.equal(y.spec.template.spec.containers[0].imagePullPolicy, 'Always');
    assert.equal(y.spec.strategy.rollingUpdate.maxSurge, '25%');
    const all = ok(['get', 'svc', '-A']);
    assert.match(all.split('\n')[0]!, /^NAMESPACE\s+NAME\s+TYPE/);
    assert.match(ok(['get', 'deploy', '--show-labels']), /LABELS[\s\S]*app=api/);
    const sel = ok(['get', 'svc', '-l', 'provider=kubernetes', '-o', 'name']).trim();
    assert.equal(sel, 'service/kubernetes');
    const deploy = ok(['get', 'deploy', 'api-server', '-o', 'wide']);
    assert.match(deploy.split('\n')[0]!, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR$/);
    assert.match(deploy.split('\n')[1]!, /^api-server\s+0\/2\s+0\s+0\s+\S+\s+api\s+podpath\/echo\s+app=api$/);
  });

  it('describes a Service and a Deployment', () => {
    const d = ok(['describe', 'svc', 'api-service']);
    assert.match(d, /^Name:\s+api-service$/m);
    assert.match(d, /^Type:\s+NodePort$/m);
    assert.match(d, /^NodePort:\s+<unset>\s+30080\/TCP$/m);
    assert.match(d, /^Selector:\s+app=api$/m);
    const dd = ok(['describe', 'deploy', 'api-server']);
    assert.match(dd, /^Replicas:\s+2 desired/m);
    assert.match(dd, /RollingUpdateStrategy:\s+25% max unavailable, 25% max surge/);
  });

  it('scales through the scale subresource', () => {
    assert.match(ok(['scale', 'deploy', 'api-server', '--replicas=5']), /scaled/);
    assert.equal(JSON.parse(ok(['get', 'deploy', 'api-server', '-o', 'json'])).spec.replicas, 5);
  });

  it('server-side applies, merges a re-apply, and reports a conflict with another manager', () => {
    const cm = (data: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n${data}`;
    assert.match(ok(['apply', '--server-side', '-f', '-'], cm('  a: "1"\n')), /serverside-applied/);
    ok(['apply', '--server-side', '-f', '-'], cm('  a: "2"\n  b: "3"\n'));
    const got = JSON.parse(ok(['get', 'cm', 'ssa', '-o', 'json', '--show-managed-fields']));
    assert.deepEqual(got.data, { a: '2', b: '3' });
    const mf = got.metadata.managedFields.find((m: { manager: string }) => m.manager === 'kubectl');
    assert.equal(mf.operation, 'Apply');
    assert.deepEqual(Object.keys(mf.fieldsV1['f:data']).sort(), ['.', 'f:a', 'f:b']);
    // a field dropped from the applied configuration is removed
    ok(['apply', '--server-side', '-f', '-'], cm('  a: "2"\n'));
    assert.deepEqual(JSON.parse(ok(['get', 'cm', 'ssa', '-o', 'json'])).data, { a: '2' });
    // another manager changes a; re-applying a different value conflicts, --force-conflicts wins
    ok(['patch', 'cm', 'ssa', '--type=merge', '-p', '{"data":{"a":"9"}}']);
    const r = kubectl(['apply', '--server-side', '-f', '-'], cm('  a: "3"\n'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Apply failed with 1 conflict: conflict with "kubectl-patch"( using v1)?: \.data\.a/);
    ok(['apply', '--server-side', '--force-conflicts', '-f', '-'], cm('  a: "3"\n'));
    assert.equal(JSON.parse(ok(['get', 'cm', 'ssa', '-o', 'json'])).data.a, '3');
  });

  it('creates namespaces and objects with kubectl create (protobuf bodies)', () => {
    ok(['create', 'namespace', 'team-a']);
    ok(['create', 'deployment', 'web', '--image=nginx:1.25', '--replicas=2', '-n', 'team-a']);
    ok(['create', 'configmap', 'c1', '--from-literal=k=v', '-n', 'team-a']);
    ok(['create', 'secret', 'generic', 's1', '--from-literal=p=q', '-n', 'team-a']);
    ok(['create', 'service', 'clusterip', 'web', '--tcp=80:8080', '-n', 'team-a']);
    const dep = JSON.parse(ok(['get', 'deploy', 'web', '-n', 'team-a', '-o', 'json']));
    assert.equal(dep.spec.replicas, 2);
    assert.equal(dep.spec.template.spec.containers[0].image, 'nginx:1.25');
    const secret = JSON.parse(ok(['get', 'secret', 's1', '-n', 'team-a', '-o', 'json']));
    assert.equal(Buffer.from(secret.data.p, 'base64').toString(), 'q');
    const svc = JSON.parse(ok(['get', 'svc', 'web', '-n', 'team-a', '-o', 'json']));
    assert.deepEqual([svc.spec.ports[0].port, svc.spec.ports[0].targetPort], [80, 8080]);
  });

  it('replaces an object, keeping the allocated ClusterIP and NodePort', () => {
    const before = JSON.parse(ok(['get', 'svc', 'api-service', '-o', 'json']));
    assert.match(ok(['replace', '-f', seed]), /replaced/);
    const after = JSON.parse(ok(['get', 'svc', 'api-service', '-o', 'json']));
    assert.equal(after.spec.clusterIP, before.spec.clusterIP);
    assert.equal(after.spec.ports[0].nodePort, 30080);
  });

  it('watches: get -w sees a later change', async () => {
    const home = tempDir('home-watch');
    const child = spawn(kubectlBin, ['get', 'cm', '-w', '--request-timeout=20s'], { env: { ...process.env, HOME: home, KUBECONFIG: s.kubeconfig } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await eventually(() => out.includes('ssa'), 15_000, 'initial list');
      ok(['create', 'configmap', 'watched', '--from-literal=x=y']);
      await eventually(() => /^watched\s+1\s+\d+s$/m.test(out), 15_000, 'watch event for the new ConfigMap');
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('deletes a Deployment and the garbage collector removes what it owns', async () => {
    const dep = JSON.parse(ok(['get', 'deploy', 'web', '-n', 'team-a', '-o', 'json']));
    const rs = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web-1', namespace: 'team-a', labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: dep.metadata.uid, controller: true, blockOwnerDeletion: true }] },
      spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
    };
    ok(['apply', '-f', '-'], JSON.stringify(rs));
    const rsObj = JSON.parse(ok(['get', 'rs', 'web-1', '-n', 'team-a', '-o', 'json']));
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-1-a', namespace: 'team-a', labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: rsObj.metadata.uid, controller: true, blockOwnerDeletion: true }] },
      spec: { containers: [{ name: 'c', image: 'nginx' }] },
    };
    ok(['apply', '-f', '-'], JSON.stringify(pod));
    assert.match(ok(['delete', 'deploy', 'web', '-n', 'team-a']), /deployment.apps "web" deleted/);
    await eventually(() => ok(['get', 'rs,pods', '-n', 'team-a', '-o', 'name']).trim() === '', 10_000, 'dependents to be collected');
  });

  it('deletes a namespace and everything in it', async () => {
    assert.match(ok(['delete', 'namespace', 'team-a']), /namespace "team-a" deleted/);
    const r = kubectl(['get', 'ns', 'team-a']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /namespaces "team-a" not found/);
    assert.equal(ok(['get', 'cm,secret,svc', '-n', 'team-a', '-o', 'name']).trim(), '');
  });

  it('refuses to delete the system namespaces', () => {
    const r = kubectl(['delete', 'namespace', 'kube-system']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /namespaces "kube-system" is forbidden: this namespace may not be deleted/);
  });

  it('rejects unknown fields with strict validation, as upstream words it', () => {
    const bad = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  foo: 1\n  ports:\n  - port: 80\n';
    const r = kubectl(['apply', '-f', '-'], bad);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.foo"/);
    assert.equal(kubectl(['get', 'svc', 'bad']).code, 1);
  });
});
