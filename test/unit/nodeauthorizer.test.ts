// The Node authorizer's decisions (upstream's reasons) over its graph of pods, its place in the
// chain before RBAC, and the NodeRestriction admission plugin's refusals.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AdmissionAttributes } from '../../src/apiserver/admission.ts';
import type { UserInfo } from '../../src/apiserver/authn.ts';
import type { Attributes } from '../../src/apiserver/authorizer.ts';
import { Authorizer } from '../../src/apiserver/authz.ts';
import { clusterRoleBindings, clusterRoles } from '../../src/apiserver/bootstrappolicy.ts';
import { NodeAuthorizer, nodeIdentity } from '../../src/apiserver/nodeauthorizer.ts';
import { graphOf, NodeGraph, podReferences } from '../../src/apiserver/nodegraph.ts';
import { admitNodeRestriction, forbiddenLabels } from '../../src/apiserver/noderestriction.ts';
import type { Node, Pod } from '../../src/api/types.ts';
import { isApiError } from '../../src/api/errors.ts';

const nodeUser = (name: string): UserInfo => ({ username: `system:node:${name}`, groups: ['system:nodes', 'system:authenticated'] });
const n1 = nodeUser('n1');

function pod(name: string, node: string | undefined, spec: Record<string, unknown> = {}, ns = 'default'): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, uid: `uid-${name}` }, spec: { ...(node ? { nodeName: node } : {}), serviceAccountName: 'default', containers: [{ name: 'c', image: 'x' }], ...spec } } as Pod;
}

const web1 = pod('web1', 'n1', { volumes: [{ name: 'v', secret: { secretName: 's1' } }, { name: 'cm', configMap: { name: 'cm1' } }, { name: 'd', persistentVolumeClaim: { claimName: 'data' } }] });
const web2 = pod('web2', 'n2', { volumes: [{ name: 'v', secret: { secretName: 's2' } }], serviceAccountName: 'builder' });
const pending = pod('pending', undefined, { volumes: [{ name: 'v', secret: { secretName: 's3' } }] });

const res = (user: UserInfo, verb: string, resource: string, o: Partial<Attributes> = {}): Attributes => ({ user, verb, resourceRequest: true, apiGroup: '', apiVersion: 'v1', namespace: 'default', resource, subresource: '', name: '', ...o });

describe('the Node authorizer', () => {
  const graph = graphOf([web1, web2, pending]);
  const authz = new NodeAuthorizer(() => graph);
  const decide = (a: Attributes) => {
    const d = authz.authorize(a);
    return d.decision === 'Allow' ? 'Allow' : `NoOpinion: ${d.reason}`;
  };

  it('knows a node by user name and group, and nothing else', () => {
    assert.equal(nodeIdentity(n1), 'n1');
    assert.equal(nodeIdentity({ username: 'system:node:n1', groups: ['system:authenticated'] }), undefined);
    assert.equal(nodeIdentity({ username: 'alice', groups: ['system:nodes'] }), undefined);
    assert.equal(decide(res({ username: 'system:node:', groups: ['system:nodes'] }, 'get', 'secrets', { name: 's1' })), 'NoOpinion: unknown node for user "system:node:"');
    assert.equal(decide(res({ username: 'alice', groups: [] }, 'get', 'secrets', { name: 's1' })), 'NoOpinion: ');
  });

  it("reads the secrets, configmaps and claims of its own pods, not another node's or an unbound pod's", () => {
    assert.equal(decide(res(n1, 'get', 'secrets', { name: 's1' })), 'Allow');
    assert.equal(decide(res(n1, 'watch', 'configmaps', { name: 'cm1' })), 'Allow');
    assert.equal(decide(res(n1, 'get', 'persistentvolumeclaims', { name: 'data' })), 'Allow');
    assert.equal(decide(res(n1, 'get', 'secrets', { name: 's2' })), "NoOpinion: no relationship found between node 'n1' and this object");
    assert.equal(decide(res(n1, 'get', 'secrets', { name: 's3' })), "NoOpinion: no relationship found between node 'n1' and this object");
    assert.equal(decide(res(n1, 'get', 'secrets', { name: 's1', namespace: 'other' })), "NoOpinion: no relationship found between node 'n1' and this object");
    assert.equal(decide(res(n1, 'list', 'secrets')), 'NoOpinion: No Object name found');
    assert.equal(decide(res(n1, 'update', 'secrets', { name: 's1' })), 'NoOpinion: can only read resources of this type');
    assert.equal(decide(res(n1, 'get', 'secrets', { name: 's1', namespace: '' })), 'NoOpinion: can only read namespaced object of this type');
    assert.equal(decide(res(n1, 'list', 'persistentvolumeclaims', { name: 'data' })), 'NoOpinion: can only get individual resources of this type');
  });

  it("asks tokens only for its pods' service accounts", () => {
    assert.equal(decide(res(n1, 'create', 'serviceaccounts', { name: 'default', subresource: 'token' })), 'Allow');
    assert.equal(decide(res(nodeUser('n2'), 'create', 'serviceaccounts', { name: 'builder', subresource: 'token' })), 'Allow');
    assert.equal(decide(res(n1, 'create', 'serviceaccounts', { name: 'builder', subresource: 'token' })), "NoOpinion: no relationship found between node 'n1' and this object");
    assert.equal(decide(res(n1, 'get', 'serviceaccounts', { name: 'default' })), 'NoOpinion: can only create tokens for individual service accounts');
  });

  it('reads its own Node and its own pods (by a spec.nodeName field selector), writes Nodes and pod status for NodeRestriction to judge', () => {
    assert.equal(decide(res(n1, 'get', 'nodes', { namespace: '', name: 'n1' })), 'Allow');
    assert.equal(decide(res(n1, 'get', 'nodes', { namespace: '', name: 'n2' })), "NoOpinion: node 'n1' cannot read 'n2', only its own Node object");
    assert.equal(decide(res(n1, 'list', 'nodes', { namespace: '' })), "NoOpinion: node 'n1' cannot read all nodes, only its own Node object");
    assert.equal(decide(res(n1, 'patch', 'nodes', { namespace: '', name: 'n2' })), 'Allow');
    assert.equal(decide(res(n1, 'update', 'nodes', { namespace: '', name: 'n1', subresource: 'status' })), 'Allow');
    assert.equal(decide(res(n1, 'delete', 'nodes', { namespace: '', name: 'n1' })), 'NoOpinion: ');
    assert.equal(decide(res(n1, 'list', 'pods', { namespace: '', fieldSelector: [{ field: 'spec.nodeName', op: '=', value: 'n1' }] })), 'Allow');
    assert.equal(decide(res(n1, 'list', 'pods', { namespace: '', fieldSelector: [{ field: 'spec.nodeName', op: '=', value: 'n2' }] })), 'NoOpinion: can only list/watch pods with spec.nodeName field selector');
    assert.equal(decide(res(n1, 'get', 'pods', { name: 'web1' })), 'Allow');
    assert.equal(decide(res(n1, 'get', 'pods', { name: 'web2' })), "NoOpinion: no relationship found between node 'n1' and this object");
    assert.equal(decide(res(n1, 'update', 'pods', { name: 'web2', subresource: 'status' })), 'Allow');
    assert.equal(decide(res(n1, 'get', 'pods', { name: 'web1', subresource: 'log' })), 'NoOpinion: ');
  });

  it('holds leases to its own in kube-node-lease, and grants the rest by NodeRules', () => {
    const lease = (verb: string, o: Partial<Attributes>) => decide(res(n1, verb, 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', ...o }));
    assert.equal(lease('update', { name: 'n1' }), 'Allow');
    assert.equal(lease('create', {}), 'Allow');
    assert.equal(lease('update', { name: 'n2' }), 'NoOpinion: can only access node lease with the same name as the requesting node');
    assert.equal(lease('get', { name: 'n1', namespace: 'default' }), 'NoOpinion: can only access leases in the "kube-node-lease" system namespace');
    assert.equal(lease('list', {}), 'NoOpinion: can only get, create, update, patch, or delete a node lease');
    assert.equal(decide(res(n1, 'create', 'events')), 'Allow');
    assert.equal(decide(res(n1, 'list', 'services', { namespace: '' })), 'Allow');
    assert.equal(decide(res(n1, 'create', 'tokenreviews', { apiGroup: 'authentication.k8s.io', namespace: '' })), 'Allow');
    assert.equal(decide(res(n1, 'list', 'deployments', { apiGroup: 'apps' })), 'NoOpinion: ');
  });

  it('follows pods as they are bound, change and go', () => {
    const g = new NodeGraph();
    const a = new NodeAuthorizer(() => g);
    const get = (secret: string) => a.authorize(res(n1, 'get', 'secrets', { name: secret })).decision;
    g.setPod(pod('p', undefined, { volumes: [{ name: 'v', secret: { secretName: 'a' } }] }));
    assert.equal(get('a'), 'NoOpinion');
    g.setPod(pod('p', 'n1', { volumes: [{ name: 'v', secret: { secretName: 'a' } }] }));
    g.setPod(pod('q', 'n1', { volumes: [{ name: 'v', secret: { secretName: 'a' } }] }));
    assert.equal(get('a'), 'Allow');
    g.setPod(pod('p', 'n1', { containers: [{ name: 'c', image: 'x', env: [{ name: 'E', valueFrom: { secretKeyRef: { name: 'b', key: 'k' } } }] }] }));
    assert.deepEqual([get('a'), get('b')], ['Allow', 'Allow']);
    g.deletePod('default', 'q');
    assert.deepEqual([get('a'), get('b')], ['NoOpinion', 'Allow']);
    g.deletePod('default', 'p');
    assert.equal(g.size, 0);
    assert.equal(g.hasPathFrom('n1', 'secret', 'default', 'b').ok, false);
  });

  it("finds every secret and configmap a pod refers to (podutil's visitors)", () => {
    const p = pod('p', 'n1', {
      imagePullSecrets: [{ name: 'pull' }],
      initContainers: [{ name: 'i', image: 'x', envFrom: [{ secretRef: { name: 'init-env' } }, { configMapRef: { name: 'init-cm' } }] }],
      volumes: [{ name: 'p', projected: { sources: [{ secret: { name: 'proj' } }, { configMap: { name: 'proj-cm' } }, { serviceAccountToken: { path: 't' } }] } }, { name: 'e', ephemeral: { volumeClaimTemplate: {} } }],
    });
    assert.deepEqual(podReferences(p).sort(), ['configmap/default/init-cm', 'configmap/default/proj-cm', 'pod/default/p', 'pvc/default/p-e', 'secret/default/init-env', 'secret/default/proj', 'secret/default/pull', 'serviceAccount/default/default']);
  });
});

describe('authorization Node,RBAC', () => {
  const authz = new Authorizer(() => ({ roles: [], roleBindings: [], clusterRoles: [...clusterRoles], clusterRoleBindings: [...clusterRoleBindings] }), () => graphOf([web1, web2]));

  it('joins the reasons of a request neither allows, and lets RBAC grant what the Node authorizer does not', () => {
    assert.deepEqual(authz.authorize(res(n1, 'get', 'secrets', { name: 's2' })), { decision: 'NoOpinion', reason: "no relationship found between node 'n1' and this object" });
    assert.equal(authz.allowed(res(n1, 'get', 'secrets', { name: 's1' })), true);
    // system:discovery is RBAC's, for every authenticated user
    assert.equal(authz.allowed({ user: n1, verb: 'get', resourceRequest: false, path: '/api' }), true);
    // the ClusterRole system:node is bound to no one: it grants nodes nothing through RBAC
    assert.equal(authz.allowed(res(nodeUser('n3'), 'get', 'secrets', { name: 's1' })), false);
  });

  it("does not enumerate a node's rules", () => {
    const r = authz.rulesFor(n1, 'default');
    assert.equal(r.incomplete, true);
    assert.match(r.evaluationError ?? '', /^node authorizer does not support user rule resolution/);
  });
});

describe('NodeRestriction', () => {
  const nodes: Record<string, Node> = { n1: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'node-uid-1', labels: { 'kubernetes.io/hostname': 'n1' } }, spec: {} } as Node };
  const pods: Record<string, Pod> = { web1, web2 };
  const lookup = { pod: (_ns: string, name: string) => pods[name], node: (name: string) => nodes[name] };
  const refusal = (a: Partial<AdmissionAttributes>): string | undefined => {
    try {
      admitNodeRestriction({ operation: 'UPDATE', user: n1, group: '', resource: 'nodes', subresource: '', namespace: '', name: 'n1', ...a }, lookup);
      return undefined;
    } catch (e) {
      assert.ok(isApiError(e));
      return `${e.code} ${e.message}`;
    }
  };
  const nodeWith = (labels: Record<string, string>, taints?: unknown[]) => ({ ...nodes.n1!, metadata: { ...nodes.n1!.metadata, labels }, spec: { ...(taints ? { taints } : {}) } }) as Node;

  it('lets a node modify only its own Node, without taints or restricted labels', () => {
    assert.equal(refusal({ name: 'n2', object: nodeWith({}), old: nodeWith({}) }), '403 nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"');
    assert.equal(refusal({ object: nodeWith({ 'kubernetes.io/hostname': 'n1', team: 'a', 'kubelet.kubernetes.io/x': 'y' }), old: nodes.n1 }), undefined);
    assert.equal(refusal({ object: nodeWith({ 'kubernetes.io/hostname': 'n1', 'node-restriction.kubernetes.io/secure': 'yes' }), old: nodes.n1 }), '403 nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/secure');
    assert.equal(refusal({ operation: 'CREATE', object: nodeWith({ 'node-role.kubernetes.io/control-plane': '' }) }), '403 nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: node-role.kubernetes.io/control-plane');
    assert.equal(refusal({ object: nodeWith({ 'kubernetes.io/hostname': 'n1' }, [{ key: 'k', effect: 'NoSchedule' }]), old: nodes.n1 }), '403 nodes "n1" is forbidden: node "n1" is not allowed to modify taints');
    assert.deepEqual(forbiddenLabels(['a.node-restriction.kubernetes.io/x', 'kubernetes.io/hostname', 'example.k8s.io/y', 'node.kubernetes.io/instance-type', 'plain']), ['a.node-restriction.kubernetes.io/x', 'example.k8s.io/y']);
  });

  it('lets a node write status of and delete only pods bound to it, and create only mirror pods', () => {
    const pods_ = { resource: 'pods', namespace: 'default' };
    assert.equal(refusal({ ...pods_, subresource: 'status', name: 'web1', object: web1, old: web1 }), undefined);
    assert.equal(refusal({ ...pods_, subresource: 'status', name: 'web2', object: web2, old: web2 }), '403 pods "web2" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself');
    const relabeled = { ...web1, metadata: { ...web1.metadata, labels: { a: 'b' } } };
    assert.equal(refusal({ ...pods_, subresource: 'status', name: 'web1', object: relabeled, old: web1 }), '403 pods "web1" is forbidden: node "n1" cannot update labels through pod status');
    assert.equal(refusal({ ...pods_, operation: 'DELETE', name: 'web2', old: web2 }), '403 pods "web2" is forbidden: node "n1" can only delete pods with spec.nodeName set to itself');
    assert.equal(refusal({ ...pods_, operation: 'DELETE', name: 'web1', old: web1 }), undefined);
    assert.equal(refusal({ ...pods_, operation: 'UPDATE', name: 'web1', object: web1, old: web1 }), '403 pods "web1" is forbidden: unexpected operation "UPDATE", node "n1" can only create and delete mirror pods');
    assert.equal(refusal({ ...pods_, operation: 'CREATE', name: 'x', object: pod('x', 'n1') }), '403 pods "x" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods');
    const mirror = (spec: Record<string, unknown>, owner: Record<string, unknown> = { apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'node-uid-1', controller: true }) => {
      const p = pod('m', 'n1', { serviceAccountName: undefined, ...spec });
      p.metadata.annotations = { 'kubernetes.io/config.mirror': 'hash' };
      p.metadata.ownerReferences = [owner as never];
      return p;
    };
    assert.equal(refusal({ ...pods_, operation: 'CREATE', name: 'm', object: mirror({}) }), undefined);
    assert.equal(refusal({ ...pods_, operation: 'CREATE', name: 'm', object: mirror({ nodeName: 'n2' }) }), '403 pods "m" is forbidden: node "n1" can only create pods with spec.nodeName set to itself');
    assert.equal(refusal({ ...pods_, operation: 'CREATE', name: 'm', object: mirror({}, { apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'other', controller: true }) }), '403 pods "m" is forbidden: node n1 UID mismatch: expected other got node-uid-1');
    assert.equal(refusal({ ...pods_, operation: 'CREATE', name: 'm', object: mirror({ volumes: [{ name: 's', secret: { secretName: 's1' } }] }) }), '403 pods "m" is forbidden: node "n1" can not create pods that reference secrets');
    assert.equal(refusal({ ...pods_, operation: 'CREATE', name: 'm', object: mirror({ serviceAccountName: 'default' }) }), '403 pods "m" is forbidden: node "n1" can not create pods that reference a service account');
  });

  it("gives a node tokens only bound to its own pods, and holds it to its Lease", () => {
    const token = (ref: Record<string, unknown> | undefined) => refusal({ operation: 'CREATE', resource: 'serviceaccounts', subresource: 'token', namespace: 'default', name: 'default', object: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: {}, spec: { ...(ref ? { boundObjectRef: ref } : {}) } } as never });
    assert.equal(token({ apiVersion: 'v1', kind: 'Pod', name: 'web1', uid: 'uid-web1' }), undefined);
    assert.equal(token(undefined), '403 serviceaccounts "default" is forbidden: node requested token not bound to a pod');
    assert.equal(token({ apiVersion: 'v1', kind: 'Pod', name: 'web1' }), '403 serviceaccounts "default" is forbidden: node requested token with a pod binding without a uid');
    assert.equal(token({ apiVersion: 'v1', kind: 'Pod', name: 'web2', uid: 'uid-web2' }), '403 serviceaccounts "default" is forbidden: node requested token bound to a pod scheduled on a different node');
    assert.equal(token({ apiVersion: 'v1', kind: 'Pod', name: 'gone', uid: 'u' }), '404 pods "gone" not found');
    assert.equal(refusal({ operation: 'CREATE', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease', name: 'n2' }), '403 leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node');
    assert.equal(refusal({ operation: 'UPDATE', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease', name: 'n1' }), undefined);
  });

  it('leaves everyone but nodes alone', () => {
    assert.equal(refusal({ user: { username: 'alice', groups: [] }, name: 'n2', object: nodeWith({}), old: nodeWith({}) }), undefined);
  });
});
