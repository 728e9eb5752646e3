// Authorization: whether a user may do what a request (or a review) asks, as kube-apiserver
// with --authorization-mode=RBAC decides: members of system:masters may do everything (the
// privileged-group authorizer in front of the chain, with no reason given), everyone else what
// their RBAC roles grant. Decisions are pure functions of the user, the request's attributes
// and the index of Roles and bindings, which is rebuilt from the store after they change.
import type { ClusterRole, Role, RoleBinding } from '../api/types.ts';
import { systemMasters, type UserInfo } from './authn.ts';
import type { Attributes, Decision, Rules } from './authorizer.ts';
import { RbacIndex, type PolicyObjects } from './rbac.ts';
import type { Store } from './storage/store.ts';

/** The API server's authorizer: system:masters, then RBAC over the current policy. */
export class Authorizer {
  private index: RbacIndex | undefined;

  /** `policy` reads the current Roles and bindings; call invalidate() when they change. */
  constructor(private readonly policy: () => PolicyObjects) {}

  invalidate(): void {
    this.index = undefined;
  }

  /** The RBAC index of the current policy (built on first use after a change). */
  rbac(): RbacIndex {
    return (this.index ??= new RbacIndex(this.policy()));
  }

  authorize(attrs: Attributes): Decision {
    if (attrs.user.groups.includes(systemMasters)) return { decision: 'Allow', reason: '' };
    return this.rbac().authorize(attrs);
  }

  allowed(attrs: Attributes): boolean {
    return this.authorize(attrs).decision === 'Allow';
  }

  /** What `user` may do in `namespace` (the rule resolver behind SelfSubjectRulesReview). */
  rulesFor(user: UserInfo, namespace: string): Rules {
    return this.rbac().reviewRules(user, namespace);
  }
}

const policyResources = { roles: 'rbac.authorization.k8s.io/roles', clusterRoles: 'rbac.authorization.k8s.io/clusterroles', roleBindings: 'rbac.authorization.k8s.io/rolebindings', clusterRoleBindings: 'rbac.authorization.k8s.io/clusterrolebindings' };

/** An authorizer over the store's Roles and bindings, told of their changes as a watch is (the informers of upstream's RBAC authorizer). */
export function storeAuthorizer(store: Store): Authorizer {
  const a = new Authorizer(() => ({
    roles: store.list(policyResources.roles) as Role[],
    clusterRoles: store.list(policyResources.clusterRoles) as ClusterRole[],
    roleBindings: store.list(policyResources.roleBindings) as RoleBinding[],
    clusterRoleBindings: store.list(policyResources.clusterRoleBindings) as RoleBinding[],
  }));
  for (const resource of Object.values(policyResources)) store.addWatcher({ resource, deliver: () => a.invalidate() });
  store.onRolledBack(() => a.invalidate());
  return a;
}
