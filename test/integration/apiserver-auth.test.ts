// Who a credential is and what it may do, as kubectl asks: `auth can-i` (a protobuf
// SelfSubjectAccessReview from kubectl 1.32, JSON from Debian's 1.20), `can-i --list`
// (SelfSubjectRulesReview), `auth whoami` (SelfSubjectReview), and a service account's token
// from `kubectl create token` (TokenRequest). The reviews are answered and never stored.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeKubectl, repoRoot, request, startApiServer, tempDir, type KubectlResult, type TestApiServer } from '../helpers/apiserver.ts';

const oldKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');
const haveOld = fs.existsSync(oldKubectl);

describe('kubectl auth against podpath apiserver', () => {
  let s: TestApiServer;
  let kubectl: (args: string[], input?: string) => KubectlResult;
  let oldHome: string;
  const old = (args: string[]): KubectlResult => {
    const r = spawnSync(oldKubectl, args, { env: { ...process.env, HOME: oldHome, KUBECONFIG: s.kubeconfig }, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const clients = () => [{ name: 'kubectl 1.32', run: kubectl }, ...(haveOld ? [{ name: 'kubectl 1.20', run: old }] : [])];

  before(async () => {
    s = await startApiServer();
    kubectl = makeKubectl(s.kubeconfig);
    oldHome = tempDir('home-auth-old');
  });
  after(async () => {
    await s?.dispose();
    if (oldHome) fs.rmSync(oldHome, { recursive: true, force: true });
  });

  it('can-i answers yes (exit 0) for the admin credential: verbs, -n, -A, --subresource, names, wildcards, URLs', () => {
    for (const c of clients()) {
      for (const args of [
        ['create', 'pods'],
        ['*', '*'],
        ['delete', 'deployments.apps', '-n', 'kube-system'],
        ['list', 'pods', '-A'],
        ['get', 'pods', '--subresource=log'],
        ['update', 'services/kubernetes'],
        ['get', '/healthz'],
        ['post', '/apis/anything'],
      ]) {
        const r = c.run(['auth', 'can-i', ...args]);
        assert.equal(r.code, 0, `${c.name} can-i ${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stdout, 'yes\n', `${c.name} can-i ${args.join(' ')}`);
      }
      const q = c.run(['auth', 'can-i', 'create', 'pods', '-q']);
      assert.equal(q.code, 0, q.stderr);
      assert.equal(q.stdout, '');
    }
  });

  it("can-i --list prints the rules RBAC gives the admin: cluster-admin's, then those of every authenticated user", () => {
    const discovery = ['/api/*', '/api', '/apis/*', '/apis', '/healthz', '/healthz', '/livez', '/livez', '/openapi/*', '/openapi', '/readyz', '/readyz', '/version/', '/version/', '/version', '/version'];
    const rows = [
      ['Resources', 'Non-Resource URLs', 'Resource Names', 'Verbs'],
      ['*.*', '[]', '[]', '[*]'],
      ['', '[*]', '[]', '[*]'],
      ['selfsubjectreviews.authentication.k8s.io', '[]', '[]', '[create]'],
      ['selfsubjectaccessreviews.authorization.k8s.io', '[]', '[]', '[create]'],
      ['selfsubjectrulesreviews.authorization.k8s.io', '[]', '[]', '[create]'],
      ...discovery.map((u) => ['', `[${u}]`, '[]', '[get]']),
    ];
    const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)) + 3);
    const want = rows.map((r) => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('')).join('\n') + '\n';
    for (const c of clients()) {
      for (const ns of [[], ['-n', 'kube-system']]) {
        const r = c.run(['auth', 'can-i', '--list', ...ns]);
        assert.equal(r.code, 0, `${c.name}: ${r.stderr}`);
        assert.equal(r.stdout, want, c.name);
      }
    }
  });

  it('auth whoami names the admin credential (table and -o json)', () => {
    let r = kubectl(['auth', 'whoami']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ATTRIBUTE   VALUE\nUsername    kubernetes-admin\nGroups      [system:masters system:authenticated]\n');
    r = kubectl(['auth', 'whoami', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      kind: 'SelfSubjectReview',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: null },
      status: { userInfo: { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] } },
    });
  });

  it("a service account's token from kubectl create token is system:serviceaccount:NS:NAME, until its account is deleted", async () => {
    assert.equal(kubectl(['create', 'namespace', 'team']).code, 0);
    let r = kubectl(['create', 'serviceaccount', 'bot', '-n', 'team']);
    assert.equal(r.code, 0, r.stderr);
    const uid = kubectl(['get', 'sa', 'bot', '-n', 'team', '-o', 'jsonpath={.metadata.uid}']).stdout;
    r = kubectl(['create', 'token', 'bot', '-n', 'team', '--duration=20m']);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    assert.equal(claims.sub, 'system:serviceaccount:team:bot');
    assert.equal(claims.exp - claims.iat, 1200);
    assert.deepEqual(claims['kubernetes.io'].serviceaccount, { name: 'bot', uid });

    r = kubectl(['--token', token, 'auth', 'whoami', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout).status.userInfo;
    assert.equal(info.username, 'system:serviceaccount:team:bot');
    assert.equal(info.uid, uid);
    assert.deepEqual(info.groups, ['system:serviceaccounts', 'system:serviceaccounts:team', 'system:authenticated']);
    assert.deepEqual(info.extra['authentication.kubernetes.io/credential-id'], [`JTI=${claims.jti}`]);
    r = kubectl(['--token', token, 'auth', 'whoami']);
    assert.match(r.stdout, /^Username\s+system:serviceaccount:team:bot$/m);
    // What it may do is what RBAC gives every authenticated user: its own reviews, no Secrets.
    assert.equal(kubectl(['--token', token, 'auth', 'can-i', 'create', 'selfsubjectaccessreviews']).stdout, 'yes\n');
    assert.equal(kubectl(['--token', token, 'auth', 'can-i', 'list', 'secrets']).stdout, 'no\n');

    // TokenReview says the same of the token.
    const tr = await request(s, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }));
    assert.equal(tr.status, 201, tr.body);
    assert.equal(tr.json().status.authenticated, true);
    assert.equal(tr.json().status.user.username, 'system:serviceaccount:team:bot');

    // Audiences: a token holds those its aud claim shares with the ones a review asks for (the
    // API server's own when none); the admin token, which names none, holds the API server's only.
    const review = async (tok: string, audiences?: string[]) => {
      const res = await request(s, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: tok, ...(audiences ? { audiences } : {}) } }));
      assert.equal(res.status, 201, res.body);
      const st = res.json().status;
      return st.authenticated ? st.audiences : 'refused';
    };
    r = kubectl(['create', 'token', 'bot', '-n', 'team', '--audience=vault', '--audience=ci']);
    assert.equal(r.code, 0, r.stderr);
    const vault = r.stdout.trim();
    assert.deepEqual(await review(vault), 'refused');
    assert.deepEqual(await review(vault, ['vault']), ['vault']);
    assert.deepEqual(await review(vault, ['other', 'ci', 'vault']), ['ci', 'vault']);
    assert.deepEqual(await review(token, ['vault']), 'refused');
    assert.deepEqual(await review(s.token, ['vault']), 'refused');
    assert.deepEqual(await review(s.token), ['https://kubernetes.default.svc.cluster.local']);
    assert.equal(kubectl(['--token', vault, 'get', 'pods']).code, 1, 'a token for other audiences is not one for the API server');

    // Too short a token, and one for an account that does not exist, are refused as upstream refuses them.
    r = kubectl(['create', 'token', 'bot', '-n', 'team', '--duration=5m']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /TokenRequest.authentication.k8s.io "bot" is invalid: spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes/);
    r = kubectl(['create', 'token', 'nobody', '-n', 'team']);
    assert.match(r.stderr, /serviceaccounts "nobody" not found/);

    // The token dies with its service account.
    assert.equal(kubectl(['delete', 'sa', 'bot', '-n', 'team']).code, 0);
    r = kubectl(['--token', token, 'auth', 'whoami']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Unauthorized/);
    const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.equal((await request({ ...s, token: forged }, 'GET', '/api/v1/namespaces')).status, 401);
  });

  it('a token bound to a pod names the pod and dies with it', async () => {
    kubectl(['create', 'serviceaccount', 'runner']);
    kubectl(['create', 'serviceaccount', 'other']);
    let r = kubectl(['run', 'holder', '--image=busybox', '--overrides={"spec":{"serviceAccountName":"runner"}}']);
    assert.equal(r.code, 0, r.stderr);
    r = kubectl(['create', 'token', 'runner', '--bound-object-kind=Pod', '--bound-object-name=holder']);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    const info = JSON.parse(kubectl(['--token', token, 'auth', 'whoami', '-o', 'json']).stdout).status.userInfo;
    assert.deepEqual(info.extra['authentication.kubernetes.io/pod-name'], ['holder']);
    r = kubectl(['create', 'token', 'other', '--bound-object-kind=Pod', '--bound-object-name=holder']);
    assert.match(r.stderr, /cannot bind token for serviceaccount "other" to pod running with serviceaccount "runner"/);
    assert.equal(kubectl(['delete', 'pod', 'holder', '--grace-period=0', '--force']).code, 0);
    assert.equal((await request({ ...s, token }, 'GET', '/api/v1/namespaces')).status, 401);
  });

  it('answers the review kinds 201 with status filled, in the field order kube-apiserver writes, and stores nothing', async () => {
    const post = (p: string, body: unknown) => request(s, 'POST', p, JSON.stringify(body));
    let r = await post('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'default' } } });
    assert.equal(r.status, 201);
    assert.equal(r.body, '{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"resourceAttributes":{"namespace":"default","verb":"get","resource":"pods"}},"status":{"allowed":true}}');

    r = await post('/apis/authorization.k8s.io/v1/subjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { nonResourceAttributes: { path: '/metrics', verb: 'get' }, user: 'alice', groups: ['system:monitoring'] } });
    assert.equal(r.status, 201);
    assert.deepEqual(r.json().status, { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "system:monitoring" of ClusterRole "system:monitoring" to Group "system:monitoring"' });
    assert.deepEqual(r.json().spec, { nonResourceAttributes: { path: '/metrics', verb: 'get' }, user: 'alice', groups: ['system:monitoring'] });
    r = await post('/apis/authorization.k8s.io/v1/subjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { nonResourceAttributes: { path: '/metrics', verb: 'get' }, user: 'alice', groups: ['dev'] } });
    assert.deepEqual(r.json().status, { allowed: false });
    // Whoever podpath does not authenticate is allowed nothing.
    r = await post('/apis/authorization.k8s.io/v1/subjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { resourceAttributes: { verb: 'get', resource: 'pods' }, user: 'system:anonymous', groups: ['system:unauthenticated'] } });
    assert.deepEqual(r.json().status, { allowed: false });

    r = await post('/apis/authorization.k8s.io/v1/namespaces/kube-system/localsubjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'LocalSubjectAccessReview', metadata: { namespace: 'kube-system' }, spec: { resourceAttributes: { verb: 'list', resource: 'secrets', namespace: 'kube-system' }, user: 'bob', groups: ['system:masters'] } });
    assert.equal(r.status, 201, r.body);
    assert.deepEqual(r.json().status, { allowed: true });

    r = await post('/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: 'default' } });
    assert.equal(r.status, 201);
    const status = r.json().status;
    assert.deepEqual(status.resourceRules.slice(0, 2), [
      { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
      { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] },
    ]);
    assert.deepEqual(status.nonResourceRules[0], { verbs: ['*'], nonResourceURLs: ['*'] });
    assert.equal(status.incomplete, false);

    // Create only: nothing to list or get.
    r = await request(s, 'GET', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews');
    assert.equal(r.status, 405);
    assert.equal(r.json().reason, 'MethodNotAllowed');
    r = await request(s, 'GET', '/apis/authentication.k8s.io/v1/selfsubjectreviews/x');
    assert.equal(r.status, 404);
  });

  it('refuses malformed reviews as upstream validation does', async () => {
    const post = (p: string, body: unknown) => request(s, 'POST', p, JSON.stringify(body));
    let r = await post('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: {} });
    assert.equal(r.status, 422);
    assert.match(r.json().message, /^SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified$/);
    r = await post('/apis/authorization.k8s.io/v1/subjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { resourceAttributes: { verb: 'get' } } });
    assert.equal(r.status, 422);
    assert.match(r.json().message, /spec.user: Invalid value: "": at least one of user or group must be specified/);
    r = await post('/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: {} });
    assert.equal(r.status, 400);
    assert.equal(r.json().message, 'no namespace on request');
    r = await post('/apis/authorization.k8s.io/v1/namespaces/a/localsubjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'LocalSubjectAccessReview', metadata: { namespace: 'a' }, spec: { resourceAttributes: { verb: 'get', namespace: 'b' }, user: 'u' } });
    assert.equal(r.status, 422);
    assert.match(r.json().message, /spec.resourceAttributes.namespace: Invalid value: "b": must match metadata.namespace/);
  });

  it('lists the review kinds in legacy and aggregated discovery, create only, without a storage version', async () => {
    let r = await request(s, 'GET', '/apis/authorization.k8s.io/v1');
    const list = r.json();
    assert.deepEqual(
      list.resources.map((x: { name: string }) => x.name),
      ['localsubjectaccessreviews', 'selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'subjectaccessreviews'],
    );
    for (const x of list.resources) {
      assert.deepEqual(x.verbs, ['create']);
      assert.equal(x.storageVersionHash, undefined);
    }
    r = await request(s, 'GET', '/apis', undefined, { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' });
    const groups = r.json().items.map((g: { metadata: { name: string } }) => g.metadata.name);
    assert.ok(groups.indexOf('authentication.k8s.io') > groups.indexOf('apps'));
    const authn = r.json().items.find((g: { metadata: { name: string } }) => g.metadata.name === 'authentication.k8s.io');
    assert.deepEqual(
      authn.versions[0].resources.map((x: { resource: string; scope: string; verbs: string[] }) => [x.resource, x.scope, x.verbs.join()]),
      [
        ['selfsubjectreviews', 'Cluster', 'create'],
        ['tokenreviews', 'Cluster', 'create'],
      ],
    );
    const res = kubectl(['api-resources', '--api-group=authorization.k8s.io', '--no-headers']);
    assert.match(res.stdout, /^localsubjectaccessreviews\s+authorization.k8s.io\/v1\s+true\s+LocalSubjectAccessReview$/m);
  });
});
