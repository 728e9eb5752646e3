// The RBAC authorizer (plugin/pkg/auth/authorizer/rbac): the rules a user holds are those of
// the roles bound to them — by ClusterRoleBindings everywhere, by RoleBindings in the binding's
// namespace — and a request is allowed when one rule allows it. Bindings are indexed by the
// subject they name (a user, a group, or a service account by its user name), so a decision
// reads only the bindings of the user's own name and groups, however many bindings exist.
import { describeSubject, rbacGroup, ruleAllows, subjectApplies } from '../api/rbac.ts';
import type { ClusterRole, PolicyRule, Role, RoleBinding, Subject } from '../api/types.ts';
import type { UserInfo } from './authn.ts';
import type { Attributes, Decision, Rules } from './authorizer.ts';

/** The RBAC objects the index is built from (the API server's store, or a test's lists). */
export interface PolicyObjects {
  roles: readonly Role[];
  clusterRoles: readonly ClusterRole[];
  roleBindings: readonly RoleBinding[];
  clusterRoleBindings: readonly RoleBinding[];
}

/** A rule and where it came from, as the visitor sees it. */
type Visit = (source: () => string, rule: PolicyRule | undefined, err: string | undefined) => boolean;

/** The key a subject is indexed by: the user name it matches, or the group. */
function subjectKey(s: Subject, bindingNamespace: string): string | undefined {
  switch (s.kind) {
    case 'User':
      return `u:${s.name}`;
    case 'Group':
      return `g:${s.name}`;
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace;
      return ns ? `u:system:serviceaccount:${ns}:${s.name}` : undefined;
    }
    default:
      return undefined;
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

export class RbacIndex {
  private readonly roles = new Map<string, Role>();
  private readonly clusterRoles = new Map<string, ClusterRole>();
  /** subject key → ClusterRoleBindings naming it */
  private readonly clusterBindings = new Map<string, RoleBinding[]>();
  /** namespace → subject key → RoleBindings naming it */
  private readonly bindings = new Map<string, Map<string, RoleBinding[]>>();

  constructor(objects: PolicyObjects) {
    for (const r of objects.roles) this.roles.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
    for (const r of objects.clusterRoles) this.clusterRoles.set(r.metadata.name!, r);
    for (const b of objects.clusterRoleBindings) this.indexBinding(this.clusterBindings, b, '');
    for (const b of objects.roleBindings) {
      const ns = b.metadata.namespace!;
      let m = this.bindings.get(ns);
      if (!m) this.bindings.set(ns, (m = new Map()));
      this.indexBinding(m, b, ns);
    }
  }

  private indexBinding(m: Map<string, RoleBinding[]>, b: RoleBinding, ns: string): void {
    // A binding that names one subject twice is visited once for it.
    const keys = new Set<string>();
    for (const s of b.subjects ?? []) {
      const k = subjectKey(s, ns);
      if (k) keys.add(k);
    }
    for (const k of keys) push(m, k, b);
  }

  private static userKeys(user: UserInfo): string[] {
    return [`u:${user.username}`, ...user.groups.map((g) => `g:${g}`)];
  }

  private static collect(m: Map<string, RoleBinding[]> | undefined, keys: string[]): RoleBinding[] {
    if (!m) return [];
    const out: RoleBinding[] = [];
    for (const k of keys) {
      const l = m.get(k);
      if (l) for (const b of l) if (!out.includes(b)) out.push(b);
    }
    return out;
  }

  /**
   * GetRoleReferenceRules: the rules of the role a binding names, or the NotFound text — the
   * authorizer's listers name the resource in the singular, the registry's getters in the plural.
   */
  roleRules(ref: { kind: string; name: string; apiGroup?: string }, namespace: string, registryNames = false): { rules?: readonly PolicyRule[]; err?: string } {
    const notFound = (resource: string) => `${resource}${registryNames ? 's' : ''}.${rbacGroup} ${JSON.stringify(ref.name)} not found`;
    if (ref.kind === 'ClusterRole') {
      const r = this.clusterRoles.get(ref.name);
      return r ? { rules: r.rules ?? [] } : { err: notFound('clusterrole') };
    }
    if (ref.kind === 'Role') {
      const r = this.roles.get(`${namespace}/${ref.name}`);
      return r ? { rules: r.rules ?? [] } : { err: notFound('role') };
    }
    return { err: `unsupported role reference kind: ${JSON.stringify(ref.kind)}` };
  }

  /** VisitRulesFor: ClusterRoleBindings, then the namespace's RoleBindings; stops when `visit` says so. */
  visitRulesFor(user: UserInfo, namespace: string, visit: Visit): void {
    const keys = RbacIndex.userKeys(user);
    for (const b of RbacIndex.collect(this.clusterBindings, keys)) {
      const { rules, err } = this.roleRules(b.roleRef, '');
      const source = () => `ClusterRoleBinding ${JSON.stringify(b.metadata.name)} of ${b.roleRef.kind} ${JSON.stringify(b.roleRef.name)} to ${describeSubject(subjectOf(b, user, ''), '')}`;
      if (err !== undefined) {
        if (!visit(source, undefined, err)) return;
        continue;
      }
      for (const r of rules!) if (!visit(source, r, undefined)) return;
    }
    if (!namespace) return;
    for (const b of RbacIndex.collect(this.bindings.get(namespace), keys)) {
      const { rules, err } = this.roleRules(b.roleRef, namespace);
      const source = () => `RoleBinding ${JSON.stringify(`${b.metadata.name}/${namespace}`)} of ${b.roleRef.kind} ${JSON.stringify(b.roleRef.name)} to ${describeSubject(subjectOf(b, user, namespace), namespace)}`;
      if (err !== undefined) {
        if (!visit(source, undefined, err)) return;
        continue;
      }
      for (const r of rules!) if (!visit(source, r, undefined)) return;
    }
  }

  /** RBACAuthorizer.Authorize: Allow with the rule's source, else no opinion (with the resolution errors met). */
  authorize(attrs: Attributes): Decision {
    let allowedBy: string | undefined;
    const errs: string[] = [];
    this.visitRulesFor(attrs.user, attrs.namespace ?? '', (source, rule, err) => {
      if (err !== undefined) {
        errs.push(err);
        return true;
      }
      if (rule && ruleAllows(attrs, rule)) {
        allowedBy = source();
        return false;
      }
      return true;
    });
    if (allowedBy !== undefined) return { decision: 'Allow', reason: `RBAC: allowed by ${allowedBy}` };
    return { decision: 'NoOpinion', reason: errs.length ? `RBAC: ${aggregateText(errs)}` : '' };
  }

  /** RulesFor: every rule the user holds in `namespace`; resolution errors make the list incomplete. */
  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    const rules: PolicyRule[] = [];
    const errors: string[] = [];
    this.visitRulesFor(user, namespace, (_source, rule, err) => {
      if (err !== undefined) errors.push(err);
      else if (rule) rules.push(rule);
      return true;
    });
    return { rules, errors };
  }

  /** SelfSubjectRulesReview's view of rulesFor. */
  reviewRules(user: UserInfo, namespace: string): Rules {
    const { rules, errors } = this.rulesFor(user, namespace);
    const out: Rules = { resourceRules: [], nonResourceRules: [], incomplete: errors.length > 0 };
    for (const r of rules) {
      if (r.resources?.length) out.resourceRules.push({ verbs: r.verbs, apiGroups: r.apiGroups ?? [], resources: r.resources, ...(r.resourceNames?.length ? { resourceNames: r.resourceNames } : {}) });
      if (r.nonResourceURLs?.length) out.nonResourceRules.push({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs });
    }
    if (errors.length) out.evaluationError = aggregateText(errors);
    return out;
  }
}

/** The subject of `b` that `user` is (the binding was found by it, so there is one). */
function subjectOf(b: RoleBinding, user: UserInfo, namespace: string): Subject {
  return (b.subjects ?? []).find((s) => subjectApplies(user, s, namespace))!;
}

/** utilerrors.NewAggregate(errs).Error() */
export function aggregateText(errs: readonly string[]): string {
  const uniq = [...new Set(errs)];
  return uniq.length === 1 ? uniq[0]! : `[${uniq.join(', ')}]`;
}
