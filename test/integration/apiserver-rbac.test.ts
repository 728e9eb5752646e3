// RBAC as kubectl meets it, with kubectl 1.32 and Debian's 1.20: a service account's token is
// refused outside what its bindings grant (other namespaces, the cluster scope, Secrets) in
// kube-apiserver's words; a user who may write RoleBindings cannot grant more than they hold;
// expired and wrong-audience tokens are 401; `--as` impersonates when allowed; the RBAC kinds
// print as kubectl shows them, validate with upstream's messages, and `view` aggregates.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Authentication, loadOrCreateServiceAccountKey } from '../../src/apiserver/authn.ts';
import { eventually, makeKubectl, repoRoot, request, startApiServer, startControllerManager, tempDir, type KubectlResult, type TestApiServer } from '../helpers/apiserver.ts';

const oldKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');
const haveOld = fs.existsSync(oldKubectl);

const manifest = `
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: viewer, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: default}
rules:
- apiGroups: [""]
  resources: [pods, configmaps]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewer-reads-pods, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {kind: ServiceAccount, name: viewer, namespace: default}
`;

describe('RBAC against podpath apiserver', () => {
  let s: TestApiServer;
  let kubectl: (args: string[], input?: string) => KubectlResult;
  let oldHome: string;
  let token: string;
  const old = (args: string[]): KubectlResult => {
    const r = spawnSync(oldKubectl, args, { env: { ...process.env, HOME: oldHome, KUBECONFIG: s.kubeconfig }, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const clients = () => [{ name: 'kubectl 1.32', run: kubectl }, ...(haveOld ? [{ name: 'kubectl 1.20', run: old }] : [])];
  const ok = (args: string[], input?: string) => {
    const r = kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const mint = (sa: string, ns = 'default', extra: string[] = []) => ok(['create', 'token', sa, '-n', ns, ...extra]).trim();

  before(async () => {
    s = await startApiServer();
    kubectl = makeKubectl(s.kubeconfig);
    oldHome = tempDir('home-rbac-old');
    ok(['apply', '-f', '-'], manifest);
    token = mint('viewer');
  });
  after(async () => {
    await s?.dispose();
    if (oldHome) fs.rmSync(oldHome, { recursive: true, force: true });
  });

  const forbiddenText = (verb: string, resource: string, where: string) =>
    `Error from server (Forbidden): ${resource} is forbidden: User "system:serviceaccount:default:viewer" cannot ${verb} resource "${resource}" in API group "" ${where}\n`;

  it("refuses a service account's token in other namespaces, at the cluster scope and on Secrets, in upstream's words", () => {
    for (const c of clients()) {
      const run = (args: string[]) => c.run(['--token', token, ...args]);
      let r = run(['get', 'pods']);
      assert.equal(r.code, 0, `${c.name}: ${r.stderr}`);
      assert.match(r.stderr, /No resources found in default namespace/);
      for (const [args, text] of [
        [['get', 'pods', '-n', 'kube-system'], forbiddenText('list', 'pods', 'in the namespace "kube-system"')],
        [['get', 'pods', '-A'], forbiddenText('list', 'pods', 'at the cluster scope')],
        [['get', 'nodes'], forbiddenText('list', 'nodes', 'at the cluster scope')],
        [['get', 'secrets'], forbiddenText('list', 'secrets', 'in the namespace "default"')],
      ] as const) {
        r = run([...args]);
        assert.equal(r.code, 1, `${c.name} ${args.join(' ')}`);
        assert.ok(r.stderr.endsWith(text), `${c.name} ${args.join(' ')}: ${r.stderr}`);
      }
      r = run(['get', 'secret', 'x']);
      assert.match(r.stderr, /Error from server \(Forbidden\): secrets "x" is forbidden: User "system:serviceaccount:default:viewer" cannot get resource "secrets" in API group "" in the namespace "default"/, c.name);
      r = run(['create', 'configmap', 'c', '--from-literal=a=b']);
      assert.match(r.stderr, /configmaps is forbidden: User "system:serviceaccount:default:viewer" cannot create resource "configmaps" in API group "" in the namespace "default"/, c.name);
    }
    // The same 403 Status on the wire, with upstream's details.
    return request({ ...s, token }, 'GET', '/api/v1/namespaces/default/secrets/x').then((r) => {
      assert.equal(r.status, 403);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.deepEqual(r.json(), {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'secrets "x" is forbidden: User "system:serviceaccount:default:viewer" cannot get resource "secrets" in API group "" in the namespace "default"',
        reason: 'Forbidden',
        details: { name: 'x', kind: 'secrets' },
        code: 403,
      });
    });
  });

  it('answers auth can-i for a token, and with --as for the admin', () => {
    for (const c of clients()) {
      const can = (args: string[]) => c.run(['auth', 'can-i', ...args]);
      for (const [args, want] of [
        [['--token', token, 'list', 'pods'], 'yes'],
        [['--token', token, 'list', 'pods', '-n', 'kube-system'], 'no'],
        [['--token', token, 'get', 'secrets'], 'no'],
        [['list', 'pods', '--as=system:serviceaccount:default:viewer'], 'yes'],
        [['list', 'secrets', '--as=system:serviceaccount:default:viewer'], 'no'],
        [['list', 'nodes', '--as=system:serviceaccount:default:viewer'], 'no'],
        [['list', 'secrets', '--as=someone', '--as-group=system:masters'], 'yes'],
      ] as const) {
        const r = can([...args]);
        assert.equal(r.stdout, `${want}\n`, `${c.name} can-i ${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.code, want === 'yes' ? 0 : 1, `${c.name} can-i ${args.join(' ')}`);
      }
      const r = c.run(['--as=system:serviceaccount:default:viewer', 'get', 'secrets']);
      assert.ok(r.stderr.endsWith(forbiddenText('list', 'secrets', 'in the namespace "default"')), `${c.name}: ${r.stderr}`);
    }
    const who = JSON.parse(ok(['auth', 'whoami', '--as=system:serviceaccount:default:viewer', '-o', 'json'])).status.userInfo;
    assert.deepEqual(who, { username: 'system:serviceaccount:default:viewer', groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'] });
    // The service account itself may impersonate no one.
    const r = kubectl(['--token', token, 'get', 'pods', '--as=bob']);
    assert.match(r.stderr, /Error from server \(Forbidden\): users "bob" is forbidden: User "system:serviceaccount:default:viewer" cannot impersonate resource "users" in API group "" at the cluster scope/);
  });

  it('lets a user who may write RoleBindings grant only what they hold', () => {
    ok(['create', 'serviceaccount', 'lead', '-n', 'team']);
    ok(['create', 'role', 'lead', '-n', 'team', '--verb=get,list,create', '--resource=rolebindings,roles,pods']);
    ok(['create', 'rolebinding', 'lead', '-n', 'team', '--role=lead', '--serviceaccount=team:lead']);
    const lead = mint('lead', 'team');
    for (const c of clients()) {
      const run = (args: string[]) => c.run(['--token', lead, '-n', 'team', ...args]);
      const tag = c.name.replace(/\D/g, '');
      // What the lead holds, it may grant...
      let r = run(['create', 'rolebinding', `pods-${tag}`, '--role=lead', '--serviceaccount=team:default']);
      assert.equal(r.code, 0, `${c.name}: ${r.stderr}`);
      // ...more it may not, by a binding or by a Role.
      r = run(['create', 'rolebinding', `admin-${tag}`, '--clusterrole=cluster-admin', '--serviceaccount=team:lead']);
      assert.equal(r.code, 1, c.name);
      assert.match(
        r.stderr,
        new RegExp(
          `rolebindings.rbac.authorization.k8s.io "admin-${tag}" is forbidden: user "system:serviceaccount:team:lead" \\(groups=\\["system:serviceaccounts" "system:serviceaccounts:team" "system:authenticated"\\]\\) is attempting to grant RBAC permissions not currently held:\\n\\{APIGroups:\\["\\*"\\], Resources:\\["\\*"\\], Verbs:\\["\\*"\\]\\}\\n\\{NonResourceURLs:\\["\\*"\\], Verbs:\\["\\*"\\]\\}`,
        ),
        c.name,
      );
      r = run(['create', 'role', `secrets-${tag}`, '--verb=get', '--resource=secrets']);
      assert.match(r.stderr, new RegExp(`roles.rbac.authorization.k8s.io "secrets-${tag}" is forbidden: .*not currently held:\\n\\{APIGroups:\\[""\\], Resources:\\["secrets"\\], Verbs:\\["get"\\]\\}`), c.name);
      // Nor at the cluster scope, where it may write nothing.
      r = run(['create', 'clusterrolebinding', `x-${tag}`, '--clusterrole=view', '--serviceaccount=team:lead']);
      assert.match(r.stderr, /clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "system:serviceaccount:team:lead" cannot create resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope/, c.name);
    }
    assert.equal(kubectl(['get', 'rolebinding', '-n', 'team', '-o', 'name']).stdout.split('\n').filter((l) => l.includes('admin-')).length, 0);
    // `bind` on a ClusterRole lets the lead bind it without holding it.
    ok(['create', 'role', 'bind-edit', '-n', 'team', '--verb=bind', '--resource=clusterroles.rbac.authorization.k8s.io', '--resource-name=edit']);
    ok(['create', 'rolebinding', 'bind-edit', '-n', 'team', '--role=bind-edit', '--serviceaccount=team:lead']);
    const r = kubectl(['--token', lead, '-n', 'team', 'create', 'rolebinding', 'editors', '--clusterrole=edit', '--group=devs']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('answers 401 for an expired token and for one issued to another audience', async () => {
    const uid = JSON.parse(ok(['get', 'sa', 'viewer', '-o', 'json'])).metadata.uid;
    // A token the server's own key signed an hour and a half ago, for an hour.
    const auth = new Authentication('', loadOrCreateServiceAccountKey(s.dataDir));
    const expired = auth.issue({ namespace: 'default', serviceAccount: { name: 'viewer', uid }, audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3600, now: new Date(Date.now() - 90 * 60_000) }).token;
    const fresh = auth.issue({ namespace: 'default', serviceAccount: { name: 'viewer', uid }, audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3600 }).token;
    const otherAudience = mint('viewer', 'default', ['--audience=vault']);
    assert.equal((await request({ ...s, token: fresh }, 'GET', '/api/v1/namespaces/default/pods')).status, 200);
    for (const t of [expired, otherAudience]) {
      const r = await request({ ...s, token: t }, 'GET', '/api/v1/namespaces/default/pods');
      assert.equal(r.status, 401);
      assert.equal(r.json().message, 'Unauthorized');
      for (const c of clients()) {
        const k = c.run(['--token', t, 'get', 'pods']);
        assert.equal(k.code, 1, c.name);
        assert.match(k.stderr, /error: You must be logged in to the server \(Unauthorized\)/, c.name);
      }
    }
  });

  it('prints the RBAC kinds as kubectl shows them and validates them with upstream messages', () => {
    for (const c of clients()) {
      let r = c.run(['get', 'clusterrolebinding', 'cluster-admin', 'system:basic-user']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^NAME\s+ROLE\s+AGE\n/, c.name);
      assert.match(r.stdout, /^cluster-admin\s+ClusterRole\/cluster-admin\s+\d+s\n/m, c.name);
      r = c.run(['get', 'rolebinding', 'viewer-reads-pods', '-o', 'wide']);
      assert.match(r.stdout, /^NAME\s+ROLE\s+AGE\s+USERS\s+GROUPS\s+SERVICEACCOUNTS\n/, c.name);
      assert.match(r.stdout, /^viewer-reads-pods\s+Role\/pod-reader\s+\d+s\s+default\/viewer\n/m, c.name);
      r = c.run(['get', 'clusterrole', 'cluster-admin']);
      assert.match(r.stdout, /^NAME\s+CREATED AT\ncluster-admin\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/, c.name);
    }
    let r = kubectl(['create', '-f', '-'], 'apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: bad}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Thing, name: x}\nsubjects: [{kind: Robot, name: r}]\n');
    assert.equal(r.stderr, 'The RoleBinding "bad" is invalid: \n* roleRef.kind: Unsupported value: "Thing": supported values: "Role", "ClusterRole"\n* subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"\n');
    r = kubectl(['create', '-f', '-'], 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: bad}\nrules: [{nonResourceURLs: [/x], resources: [pods], verbs: []}]\n');
    assert.equal(r.stderr, 'The ClusterRole "bad" is invalid: \n* rules[0].verbs: Required value: verbs must contain at least one value\n* rules[0].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to both regular resources and non-resource URLs\n');
    r = kubectl(['patch', 'rolebinding', 'viewer-reads-pods', '--type=merge', '-p', '{"roleRef":{"name":"other"}}']);
    assert.equal(r.stderr, 'The RoleBinding "viewer-reads-pods" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"other"}: cannot change roleRef\n');
  });

  it('fills view, edit and admin from the roles labelled to aggregate into them', async () => {
    const cm = startControllerManager(s);
    try {
      const rules = (name: string) => JSON.parse(ok(['get', 'clusterrole', name, '-o', 'json'])).rules ?? [];
      await eventually(() => rules('admin').length > rules('edit').length && rules('edit').length > rules('view').length && rules('view').length > 0, 30_000, 'aggregated roles');
      ok(['apply', '-f', '-'], 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: leases-view, labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}}\nrules: [{apiGroups: [coordination.k8s.io], resources: [leases], verbs: [list]}]\n');
      const hasLeases = (name: string) => rules(name).some((r: { resources?: string[]; verbs: string[] }) => r.resources?.includes('leases') && r.verbs.length === 1);
      await eventually(() => hasLeases('view') && hasLeases('edit') && hasLeases('admin'), 30_000, 'the leases rule in view, edit and admin');
      ok(['create', 'rolebinding', 'viewer-views', '--clusterrole=view', '--serviceaccount=default:viewer']);
      assert.equal(kubectl(['--token', token, 'auth', 'can-i', 'list', 'deployments.apps']).stdout, 'yes\n');
      assert.equal(kubectl(['--token', token, 'auth', 'can-i', 'list', 'leases.coordination.k8s.io']).stdout, 'yes\n');
      assert.equal(kubectl(['--token', token, 'auth', 'can-i', 'list', 'secrets']).stdout, 'no\n');
    } finally {
      await cm.stop();
    }
  });
});
