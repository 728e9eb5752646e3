// RBAC: the authorizer over an index of Roles and bindings (decisions and their reasons as
// upstream gives them), the request attributes read from a URL, the Forbidden text, escalation
// prevention's coverage check and message, impersonation, and ClusterRole aggregation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compactRules, compactString, covers, ruleAllows } from '../../src/api/rbac.ts';
import type { ClusterRole, PolicyRule, Role, RoleBinding } from '../../src/api/types.ts';
import { adminUser, type UserInfo } from '../../src/apiserver/authn.ts';
import { Authorizer } from '../../src/apiserver/authz.ts';
import { impersonate } from '../../src/apiserver/impersonation.ts';
import { type PolicyObjects } from '../../src/apiserver/rbac.ts';
import { clusterRoleBindings, clusterRoles } from '../../src/apiserver/bootstrappolicy.ts';
import { checkRbacWrite } from '../../src/apiserver/escalation.ts';
import { forbidden, requestAttributes } from '../../src/apiserver/requestinfo.ts';
import { aggregatedRules } from '../../src/controllers/clusterroleaggregation.ts';
import { thrownApiError as apiErrorOf } from '../helpers/errors.ts';

const sa = (ns: string, name: string): UserInfo => ({ username: `system:serviceaccount:${ns}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'] });
const viewer = sa('default', 'viewer');

const role = (ns: string, name: string, rules: PolicyRule[]): Role => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { namespace: ns, name }, rules });
const binding = (ns: string | undefined, name: string, ref: [string, string], subjects: RoleBinding['subjects']): RoleBinding => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: ns ? 'RoleBinding' : 'ClusterRoleBinding',
  metadata: { name, ...(ns ? { namespace: ns } : {}) },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: ref[0], name: ref[1] },
  subjects,
});

function policy(extra: Partial<PolicyObjects> = {}): PolicyObjects {
  return {
    roles: extra.roles ?? [],
    clusterRoles: [...clusterRoles, ...(extra.clusterRoles ?? [])],
    roleBindings: extra.roleBindings ?? [],
    clusterRoleBindings: [...clusterRoleBindings, ...(extra.clusterRoleBindings ?? [])],
  };
}

const podReader = role('default', 'pod-reader', [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'pods/log'] }]);
const readerBinding = binding('default', 'read-pods', ['Role', 'pod-reader'], [{ kind: 'ServiceAccount', name: 'viewer' }]);
const base = () => new Authorizer(() => policy({ roles: [podReader], roleBindings: [readerBinding] }));

const list = (user: UserInfo, path: string, q = '') => requestAttributes(user, 'GET', path, new URLSearchParams(q));

describe('RBAC authorizer', () => {
  it('allows what a RoleBinding grants in its namespace, naming the binding as upstream does', () => {
    const d = base().authorize(list(viewer, '/api/v1/namespaces/default/pods'));
    assert.deepEqual(d, { decision: 'Allow', reason: 'RBAC: allowed by RoleBinding "read-pods/default" of Role "pod-reader" to ServiceAccount "viewer/default"' });
    assert.equal(base().authorize(list(viewer, '/api/v1/namespaces/default/pods/p1/log')).decision, 'Allow');
  });

  it('has no opinion on other namespaces, the cluster scope, other resources and other subresources', () => {
    const a = base();
    for (const p of ['/api/v1/namespaces/kube-system/pods', '/api/v1/pods', '/api/v1/namespaces/default/secrets', '/api/v1/nodes']) {
      assert.deepEqual(a.authorize(list(viewer, p)), { decision: 'NoOpinion', reason: '' }, p);
    }
    assert.equal(a.authorize(requestAttributes(viewer, 'POST', '/api/v1/namespaces/default/pods/p1/exec', new URLSearchParams())).decision, 'NoOpinion');
    assert.equal(a.authorize(list(sa('default', 'other'), '/api/v1/namespaces/default/pods')).decision, 'NoOpinion');
  });

  it('gives system:masters everything without a reason, and every authenticated user discovery and the self reviews', () => {
    const a = base();
    assert.deepEqual(a.authorize(list(adminUser, '/api/v1/secrets')), { decision: 'Allow', reason: '' });
    assert.equal(a.authorize(list(viewer, '/apis')).decision, 'Allow');
    assert.equal(a.authorize(list(viewer, '/openapi/v3/api/v1')).decision, 'Allow');
    assert.equal(a.authorize(list(viewer, '/metrics')).decision, 'NoOpinion');
    assert.equal(a.authorize(requestAttributes(viewer, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', new URLSearchParams())).decision, 'Allow');
  });

  it('matches resource names, */subresource rules and wildcard URLs as RuleAllows does', () => {
    const req = { verb: 'get', resourceRequest: true, apiGroup: 'apps', resource: 'deployments', subresource: 'scale', name: 'web' };
    assert.ok(ruleAllows(req, { verbs: ['get'], apiGroups: ['apps'], resources: ['*/scale'] }));
    assert.ok(!ruleAllows(req, { verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'] }));
    assert.ok(ruleAllows(req, { verbs: ['*'], apiGroups: ['*'], resources: ['deployments/scale'], resourceNames: ['web'] }));
    assert.ok(!ruleAllows(req, { verbs: ['get'], apiGroups: ['apps'], resources: ['deployments/scale'], resourceNames: ['db'] }));
    assert.ok(ruleAllows({ verb: 'get', resourceRequest: false, path: '/healthz/etcd' }, { verbs: ['get'], nonResourceURLs: ['/healthz/*'] }));
    assert.ok(!ruleAllows({ verb: 'post', resourceRequest: false, path: '/healthz' }, { verbs: ['get'], nonResourceURLs: ['*'] }));
  });

  it('reports a binding whose role is missing, as the lister words it', () => {
    const a = new Authorizer(() => policy({ roleBindings: [binding('default', 'dangling', ['Role', 'gone'], [{ kind: 'ServiceAccount', name: 'viewer' }])], clusterRoleBindings: [binding(undefined, 'dangling', ['ClusterRole', 'gone'], [{ kind: 'ServiceAccount', name: 'viewer', namespace: 'default' }])] }));
    assert.deepEqual(a.authorize(list(viewer, '/api/v1/namespaces/default/pods')), {
      decision: 'NoOpinion',
      reason: 'RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, role.rbac.authorization.k8s.io "gone" not found]',
    });
    const rules = a.rulesFor(viewer, 'default');
    assert.equal(rules.incomplete, true);
    assert.equal(rules.evaluationError, '[clusterrole.rbac.authorization.k8s.io "gone" not found, role.rbac.authorization.k8s.io "gone" not found]');
  });

  it('sees a policy change once invalidated', () => {
    let bindings: RoleBinding[] = [];
    const a = new Authorizer(() => policy({ roles: [podReader], roleBindings: bindings }));
    const attrs = list(viewer, '/api/v1/namespaces/default/pods');
    assert.equal(a.authorize(attrs).decision, 'NoOpinion');
    bindings = [readerBinding];
    a.invalidate();
    assert.equal(a.authorize(attrs).decision, 'Allow');
  });
});

describe('request attributes and the Forbidden text', () => {
  it('reads verbs as RequestInfoFactory does', () => {
    const q = new URLSearchParams();
    const at = (m: string, p: string, query = q) => {
      const a = requestAttributes(viewer, m, p, query);
      return [a.verb, a.apiGroup ?? '', a.namespace ?? '', a.resource ?? '', a.subresource ?? '', a.name ?? ''].join('|');
    };
    assert.equal(at('GET', '/api/v1/namespaces/default/pods'), 'list||default|pods||');
    assert.equal(at('GET', '/api/v1/namespaces/default/pods', new URLSearchParams('watch=True')), 'watch||default|pods||');
    assert.equal(at('GET', '/api/v1/watch/namespaces/default/pods/p'), 'watch||default|pods||p');
    assert.equal(at('GET', '/api/v1/namespaces/default/pods', new URLSearchParams('fieldSelector=metadata.name%3Dp')), 'list||default|pods||p');
    assert.equal(at('DELETE', '/apis/apps/v1/namespaces/x/deployments'), 'deletecollection|apps|x|deployments||');
    assert.equal(at('PUT', '/api/v1/namespaces/x/finalize'), 'update||x|namespaces|finalize|x');
    assert.equal(at('GET', '/api/v1/namespaces/x'), 'get||x|namespaces||x');
    assert.equal(at('PATCH', '/apis/apps/v1/namespaces/x/deployments/d/scale'), 'patch|apps|x|deployments|scale|d');
    const nr = requestAttributes(viewer, 'GET', '/apis/apps', q);
    assert.deepEqual([nr.resourceRequest, nr.verb, nr.path], [false, 'get', '/apis/apps']);
  });

  it("words a refusal as responsewriters.Forbidden: namespace, cluster scope, subresource, name and path", () => {
    const msg = (m: string, p: string) => forbidden(requestAttributes(viewer, m, p, new URLSearchParams()), '').status;
    let st = msg('GET', '/api/v1/namespaces/default/secrets');
    assert.equal(st.message, 'secrets is forbidden: User "system:serviceaccount:default:viewer" cannot list resource "secrets" in API group "" in the namespace "default"');
    assert.deepEqual([st.code, st.reason, st.details], [403, 'Forbidden', { kind: 'secrets' }]);
    st = msg('GET', '/api/v1/nodes');
    assert.equal(st.message, 'nodes is forbidden: User "system:serviceaccount:default:viewer" cannot list resource "nodes" in API group "" at the cluster scope');
    st = msg('POST', '/api/v1/namespaces/default/pods/web/exec');
    assert.equal(st.message, 'pods "web" is forbidden: User "system:serviceaccount:default:viewer" cannot create resource "pods/exec" in API group "" in the namespace "default"');
    assert.deepEqual(st.details, { name: 'web', kind: 'pods' });
    st = msg('GET', '/apis/apps/v1/namespaces/default/deployments/web');
    assert.equal(st.message, 'deployments.apps "web" is forbidden: User "system:serviceaccount:default:viewer" cannot get resource "deployments" in API group "apps" in the namespace "default"');
    st = msg('GET', '/metrics');
    assert.deepEqual([st.message, st.details], ['forbidden: User "system:serviceaccount:default:viewer" cannot get path "/metrics"', {}]);
  });
});

describe('escalation prevention', () => {
  const binder = role('default', 'binder', [{ verbs: ['create', 'update'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'] }]);
  const policyWith = (extra: Role[] = []) =>
    new Authorizer(() => policy({ roles: [podReader, binder, ...extra], roleBindings: [readerBinding, binding('default', 'binder', ['Role', 'binder'], [{ kind: 'ServiceAccount', name: 'viewer' }])] }));
  const refusal = (a: Authorizer, obj: Role | RoleBinding) => apiErrorOf(() => checkRbacWrite(a, viewer, obj, undefined));

  it('lets a user grant what they hold, and refuses more in upstream words', () => {
    const a = policyWith();
    checkRbacWrite(a, viewer, role('default', 'mine', [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]), undefined);
    checkRbacWrite(a, viewer, binding('default', 'b', ['Role', 'pod-reader'], [{ kind: 'User', name: 'bob', apiGroup: 'rbac.authorization.k8s.io' }]), undefined);
    const e = refusal(a, binding('default', 'b', ['ClusterRole', 'system:aggregate-to-edit'], []));
    assert.equal(e.code, 403);
    const e2 = refusal(a, role('default', 'more', [{ verbs: ['get', 'delete'], apiGroups: [''], resources: ['pods', 'secrets'] }]));
    assert.equal(
      e2.message,
      'roles.rbac.authorization.k8s.io "more" is forbidden: user "system:serviceaccount:default:viewer" (groups=["system:serviceaccounts" "system:serviceaccounts:default" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}',
    );
    const e3 = refusal(a, binding('default', 'b', ['Role', 'nope'], []));
    assert.equal(e3.message, 'rolebindings.rbac.authorization.k8s.io "b" is forbidden: roles.rbac.authorization.k8s.io "nope" not found');
  });

  it('lets the escalate and bind verbs through, and system:masters always', () => {
    const bindEdit = role('default', 'bind-edit', [{ verbs: ['bind'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], resourceNames: ['system:aggregate-to-edit'] }]);
    const escalate = role('default', 'escalate', [{ verbs: ['escalate'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'] }]);
    const a = new Authorizer(() =>
      policy({
        roles: [bindEdit, escalate],
        roleBindings: [binding('default', 'x', ['Role', 'bind-edit'], [{ kind: 'ServiceAccount', name: 'viewer' }]), binding('default', 'y', ['Role', 'escalate'], [{ kind: 'ServiceAccount', name: 'viewer' }])],
      }),
    );
    checkRbacWrite(a, viewer, binding('default', 'b', ['ClusterRole', 'system:aggregate-to-edit'], []), undefined);
    assert.equal(refusal(a, binding('default', 'b', ['ClusterRole', 'cluster-admin'], [])).code, 403);
    checkRbacWrite(a, viewer, role('default', 'any', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]), undefined);
    checkRbacWrite(a, adminUser, binding(undefined, 'root', ['ClusterRole', 'cluster-admin'], []), undefined);
  });

  it('needs everything to set an aggregationRule', () => {
    const a = new Authorizer(() => policy({ clusterRoleBindings: [binding(undefined, 'edit', ['ClusterRole', 'system:aggregate-to-edit'], [{ kind: 'ServiceAccount', name: 'viewer', namespace: 'default' }])] }));
    const agg: ClusterRole = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'gather' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: 'y' } }] } };
    assert.equal(apiErrorOf(() => checkRbacWrite(a, viewer, agg, undefined)).message, 'clusterroles.rbac.authorization.k8s.io "gather" is forbidden: must have cluster-admin privileges to use the aggregationRule');
  });

  it('covers by wildcards and URL prefixes, and compacts what is missing', () => {
    assert.ok(covers([{ verbs: ['*'], apiGroups: ['*'], resources: ['*/scale'] }], [{ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments/scale'] }]).covered);
    assert.ok(covers([{ verbs: ['get'], nonResourceURLs: ['/api/*'] }], [{ verbs: ['get'], nonResourceURLs: ['/api/v1'] }]).covered);
    const { missing } = covers([], [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'], resourceNames: ['a'] }]);
    assert.deepEqual(compactRules(missing).map(compactString), ['{APIGroups:[""], Resources:["pods"], ResourceNames:["a"], Verbs:["get" "list"]}']);
  });
});

describe('impersonation', () => {
  const canImpersonate = role('default', 'imp', [{ verbs: ['impersonate'], apiGroups: [''], resources: ['serviceaccounts'] }]);
  const a = new Authorizer(() => policy({ roles: [canImpersonate], roleBindings: [binding('default', 'imp', ['Role', 'imp'], [{ kind: 'ServiceAccount', name: 'viewer' }])] }));

  it('acts as a service account with its groups, when allowed', () => {
    assert.deepEqual(impersonate(adminUser, { 'impersonate-user': ['system:serviceaccount:default:bot'] }, a), { username: 'system:serviceaccount:default:bot', groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'] });
    assert.deepEqual(impersonate(viewer, { 'impersonate-user': ['system:serviceaccount:default:bot'] }, a).username, 'system:serviceaccount:default:bot');
    assert.deepEqual(impersonate(adminUser, { 'impersonate-user': ['bob'], 'impersonate-group': ['devs', 'ops'], 'impersonate-extra-scopes': ['a'] }, a), { username: 'bob', groups: ['devs', 'ops', 'system:authenticated'], extra: { scopes: ['a'] } });
    assert.equal(impersonate(viewer, {}, a), viewer);
  });

  it('refuses what the requestor may not impersonate, naming it', () => {
    const e = apiErrorOf(() => impersonate(viewer, { 'impersonate-user': ['bob'] }, a));
    assert.equal(e.message, 'users "bob" is forbidden: User "system:serviceaccount:default:viewer" cannot impersonate resource "users" in API group "" at the cluster scope');
    const e2 = apiErrorOf(() => impersonate(viewer, { 'impersonate-user': ['system:serviceaccount:kube-system:kube-proxy'] }, a));
    assert.equal(e2.message, 'serviceaccounts "kube-proxy" is forbidden: User "system:serviceaccount:default:viewer" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "kube-system"');
    const e3 = apiErrorOf(() => impersonate(viewer, { 'impersonate-user': ['system:serviceaccount:default:bot'], 'impersonate-group': ['system:masters'] }, a));
    assert.match(e3.message, /^groups "system:masters" is forbidden: .* cannot impersonate resource "groups"/);
  });
});

describe('ClusterRole aggregation', () => {
  it("gathers the rules of the roles each selector matches, once each, by the roles' names", () => {
    const byName = Object.fromEntries(clusterRoles.map((r) => [r.metadata.name, r]));
    const view = aggregatedRules(byName.view!, clusterRoles)!;
    // by name: system:aggregate-to-view, then metrics-server's system:aggregated-metrics-reader
    assert.deepEqual(view, [...byName['system:aggregate-to-view']!.rules!, ...byName['system:aggregated-metrics-reader']!.rules!]);
    const edit = aggregatedRules(byName.edit!, clusterRoles)!;
    // edit gets aggregate-to-edit's rules, then view's (view is labelled aggregate-to-edit) once aggregated
    const viewFilled = { ...byName.view!, rules: view };
    const all = clusterRoles.map((r) => (r.metadata.name === 'view' ? viewFilled : r));
    const edit2 = aggregatedRules(byName.edit!, all)!;
    assert.deepEqual(edit2.slice(0, edit.length), edit);
    // view's metrics rule is edit's own already (both aggregate the metrics reader): counted once
    assert.equal(edit2.length, edit.length + view.length - 1);
    assert.equal(aggregatedRules(byName['cluster-admin']!, clusterRoles), undefined);
  });
});

describe("the controllers' bootstrap roles", () => {
  const byName = Object.fromEntries(clusterRoles.map((r) => [r.metadata.name, r]));
  const a = new Authorizer(() => policy());
  const kcm: UserInfo = { username: 'system:kube-controller-manager', groups: ['system:authenticated'] };
  const ask = (user: UserInfo, method: string, path: string) => a.authorize(requestAttributes(user, method, path, new URLSearchParams())).decision;

  it("gives the deployment controller upstream's rules, as controller-roles.yaml renders them", () => {
    const events = { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch', 'update'] };
    assert.deepEqual(byName['system:controller:deployment-controller'], {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:controller:deployment-controller', annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' }, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
      rules: [
        { apiGroups: ['apps', 'extensions'], resources: ['deployments'], verbs: ['get', 'list', 'update', 'watch'] },
        { apiGroups: ['apps', 'extensions'], resources: ['deployments/status'], verbs: ['update'] },
        { apiGroups: ['apps', 'extensions'], resources: ['deployments/finalizers'], verbs: ['update'] },
        { apiGroups: ['apps', 'extensions'], resources: ['replicasets'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'update', 'watch'] },
        events,
      ],
    });
  });

  it('binds each system:controller:NAME role to the service account kube-system/NAME, and no one else', () => {
    const roles = clusterRoles.filter((r) => r.metadata.name!.startsWith('system:controller:'));
    assert.ok(roles.length >= 12);
    for (const r of roles) {
      const b = clusterRoleBindings.find((x) => x.metadata.name === r.metadata.name);
      assert.deepEqual(b?.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: r.metadata.name }, r.metadata.name);
      assert.deepEqual(b?.subjects, [{ kind: 'ServiceAccount', name: r.metadata.name!.slice('system:controller:'.length), namespace: 'kube-system' }]);
    }
  });

  it('lets each controller do its own writes only, and the manager itself watch everything but write few things', () => {
    const deploymentController = sa('kube-system', 'deployment-controller');
    assert.equal(ask(deploymentController, 'POST', '/apis/apps/v1/namespaces/default/replicasets'), 'Allow');
    assert.equal(ask(deploymentController, 'PUT', '/apis/apps/v1/namespaces/default/deployments/web/status'), 'Allow');
    assert.equal(ask(deploymentController, 'POST', '/api/v1/namespaces/default/pods'), 'NoOpinion');
    assert.equal(ask(deploymentController, 'PATCH', '/apis/apps/v1/namespaces/default/deployments/web'), 'NoOpinion');
    assert.equal(ask(sa('kube-system', 'replicaset-controller'), 'POST', '/api/v1/namespaces/default/pods'), 'Allow');
    assert.equal(ask(sa('kube-system', 'job-controller'), 'DELETE', '/apis/batch/v1/namespaces/default/jobs/j'), 'NoOpinion');
    assert.equal(ask(sa('kube-system', 'ttl-after-finished-controller'), 'DELETE', '/apis/batch/v1/namespaces/default/jobs/j'), 'Allow');
    const issuer = sa('kube-system', 'ingress-certificate-controller');
    assert.equal(ask(issuer, 'POST', '/api/v1/namespaces/shop/secrets'), 'Allow');
    assert.equal(ask(issuer, 'PUT', '/api/v1/namespaces/shop/secrets/tls'), 'Allow');
    assert.equal(ask(issuer, 'DELETE', '/api/v1/namespaces/shop/secrets/tls'), 'NoOpinion');
    assert.equal(ask(issuer, 'PUT', '/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web'), 'NoOpinion');
    assert.equal(ask(kcm, 'GET', '/api/v1/pods?watch=true'), 'Allow');
    assert.equal(ask(kcm, 'POST', '/api/v1/namespaces/kube-system/serviceaccounts/deployment-controller/token'), 'Allow');
    assert.equal(ask(kcm, 'POST', '/apis/apps/v1/namespaces/default/replicasets'), 'NoOpinion');
    assert.equal(ask(kcm, 'DELETE', '/api/v1/namespaces/default/pods/p'), 'NoOpinion');
  });
});
