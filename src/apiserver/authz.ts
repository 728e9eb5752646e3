// Authorization: whether a user may do what a request (or a review) asks, as kube-apiserver
// with --authorization-mode=Node,RBAC (kubeadm's) decides: members of system:masters may do
// everything (the privileged-group authorizer in front of the chain, with no reason given), node
// agents what the Node authorizer allows, everyone else what their RBAC roles grant; a request
// no authorizer allows is denied with their reasons joined. Decisions are pure functions of the
// user, the request's attributes, the index of Roles and bindings (rebuilt from the store after
// they change) and the Node authorizer's graph (kept current from the pods' watch).
import type { ClusterRole, KubeObject, Pod, Role, RoleBinding } from '../api/types.ts';
import { systemMasters, type UserInfo } from './authn.ts';
import type { Attributes, Decision, Rules } from './authorizer.ts';
import { NodeAuthorizer, nodeIdentity } from './nodeauthorizer.ts';
import { graphOf, type NodeGraph } from './nodegraph.ts';
import { RbacIndex, type PolicyObjects } from './rbac.ts';
import type { Store } from './storage/store.ts';

/** The API server's authorizer: system:masters, then Node, then RBAC over the current policy. */
export class Authorizer {
  private index: RbacIndex | undefined;
  private readonly node: NodeAuthorizer;

  /**
   * `policy` reads the current Roles and bindings; call invalidate() when they change. `graph`
   * is the Node authorizer's (none: nodes are related to nothing).
   */
  constructor(
    private readonly policy: () => PolicyObjects,
    graph: () => NodeGraph = () => emptyGraph,
  ) {
    this.node = new NodeAuthorizer(graph);
  }

  invalidate(): void {
    this.index = undefined;
  }

  /** The RBAC index of the current policy (built on first use after a change). */
  rbac(): RbacIndex {
    return (this.index ??= new RbacIndex(this.policy()));
  }

  authorize(attrs: Attributes): Decision {
    if (attrs.user.groups.includes(systemMasters)) return { decision: 'Allow', reason: '' };
    const byNode = this.node.authorize(attrs);
    if (byNode.decision !== 'NoOpinion') return byNode;
    const byRbac = this.rbac().authorize(attrs);
    if (byRbac.decision !== 'NoOpinion' || !byNode.reason) return byRbac;
    // the union authorizer: every authorizer's reason, one per line
    return { ...byRbac, reason: [byNode.reason, byRbac.reason].filter(Boolean).join('\n') };
  }

  allowed(attrs: Attributes): boolean {
    return this.authorize(attrs).decision === 'Allow';
  }

  /** What `user` may do in `namespace` (the rule resolver behind SelfSubjectRulesReview). */
  rulesFor(user: UserInfo, namespace: string): Rules {
    const rules = this.rbac().reviewRules(user, namespace);
    if (nodeIdentity(user) === undefined) return rules;
    // a node's permissions are not enumerable (the Node authorizer's RulesFor)
    const err = 'node authorizer does not support user rule resolution';
    return { ...rules, incomplete: true, evaluationError: rules.evaluationError ? `${err}, ${rules.evaluationError}` : err };
  }
}

const policyResources = { roles: 'rbac.authorization.k8s.io/roles', clusterRoles: 'rbac.authorization.k8s.io/clusterroles', roleBindings: 'rbac.authorization.k8s.io/rolebindings', clusterRoleBindings: 'rbac.authorization.k8s.io/clusterrolebindings' };

const emptyGraph = graphOf([]);

/**
 * The Node authorizer's graph over the store's pods: built on first use, then changed pod by pod
 * as the pods' watch tells (upstream's graph populator); built again after a rolled-back write.
 */
export function storeNodeGraph(store: Store): () => NodeGraph {
  let graph: NodeGraph | undefined;
  store.addWatcher({
    resource: '/pods',
    deliver: (ev) => {
      if (!graph) return;
      const o = ev.object as KubeObject;
      if (ev.type === 'DELETED') graph.deletePod(o.metadata.namespace ?? '', o.metadata.name ?? '');
      else graph.setPod(o as Pod);
    },
  });
  store.onRolledBack(() => (graph = undefined));
  return () => (graph ??= graphOf(store.list('/pods')));
}

/** An authorizer over the store's Roles and bindings, told of their changes as a watch is (the informers of upstream's RBAC authorizer), and its pods. */
export function storeAuthorizer(store: Store): Authorizer {
  const graph = storeNodeGraph(store);
  const a = new Authorizer(() => ({
    roles: store.list(policyResources.roles) as Role[],
    clusterRoles: store.list(policyResources.clusterRoles) as ClusterRole[],
    roleBindings: store.list(policyResources.roleBindings) as RoleBinding[],
    clusterRoleBindings: store.list(policyResources.clusterRoleBindings) as RoleBinding[],
  }), graph);
  for (const resource of Object.values(policyResources)) store.addWatcher({ resource, deliver: () => a.invalidate() });
  store.onRolledBack(() => a.invalidate());
  return a;
}
