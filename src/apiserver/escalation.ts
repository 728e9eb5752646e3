// Escalation prevention on RBAC writes (pkg/registry/rbac/{role,clusterrole,rolebinding,
// clusterrolebinding}/policybased): a user may write a Role or ClusterRole only with rules they
// hold themselves (or with the `escalate` verb on it), and bind a role only if they hold all it
// grants (or have the `bind` verb on it). system:masters and the API server itself are exempt.
import { errors, type ApiError } from '../api/errors.ts';
import { compactRules, compactString, covers, rbacGroup } from '../api/rbac.ts';
import type { ClusterRole, KubeObject, PolicyRule, Role, RoleBinding } from '../api/types.ts';
import { systemMasters, type UserInfo } from './authn.ts';
import type { Authorizer } from './authz.ts';
import { aggregateText } from './rbac.ts';

const fullAuthority: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

const kinds: Record<string, string> = { Role: 'roles', ClusterRole: 'clusterroles', RoleBinding: 'rolebindings', ClusterRoleBinding: 'clusterrolebindings' };

const goStrings = (l: readonly string[]) => `[${l.map((x) => JSON.stringify(x)).join(' ')}]`;

/** ConfirmNoEscalation: undefined when `user` holds every rule, else the error text. */
export function confirmNoEscalation(authorizer: Authorizer, user: UserInfo, namespace: string, rules: readonly PolicyRule[]): string | undefined {
  const owner = authorizer.rbac().rulesFor(user, namespace);
  const { covered, missing } = covers(owner.rules, rules);
  if (covered) return undefined;
  const described = [...new Set(compactRules(missing).map(compactString))].sort();
  let msg = `user ${JSON.stringify(user.username)} (groups=${goStrings(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${described.join('\n')}`;
  if (owner.errors.length) msg += `; resolution errors: [${aggregateText(owner.errors)}]`;
  return msg;
}

/** IsOnlyMutatingGCFields: an update that changes nothing but owner references and finalizers. */
function onlyGCFields(obj: KubeObject, old: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { ownerReferences: _o, finalizers: _f, resourceVersion: _r, managedFields: _m, ...meta } = o.metadata;
    return JSON.stringify({ ...o, metadata: meta });
  };
  return strip(obj) === strip(old);
}

/**
 * The check the registry runs on a write of an RBAC object, before validation: throws 403 as
 * upstream words it when the write would grant more than its author holds.
 */
export function checkRbacWrite(authorizer: Authorizer, user: UserInfo | undefined, obj: KubeObject, old: KubeObject | undefined): void {
  const resource = kinds[obj.kind ?? ''];
  if (!resource || !user || user.groups.includes(systemMasters)) return;
  if (old && onlyGCFields(obj, old)) return;
  const name = obj.metadata.name ?? '';
  const namespace = obj.metadata.namespace ?? '';
  const refuse = (why: string): ApiError => errors.forbidden({ group: rbacGroup, resource }, name, why);
  const allowed = (verb: string, res: string, resName: string) =>
    authorizer.allowed({ user, verb, resourceRequest: true, apiGroup: rbacGroup, resource: res, subresource: '', namespace, name: resName });

  if (obj.kind === 'Role' || obj.kind === 'ClusterRole') {
    if (allowed('escalate', resource, name)) return;
    const why = confirmNoEscalation(authorizer, user, namespace, (obj as Role).rules ?? []);
    if (why) throw refuse(why);
    // An aggregationRule can gather anything, so setting one takes everything.
    const agg = (obj as ClusterRole).aggregationRule;
    const changed = old ? JSON.stringify(agg ?? null) !== JSON.stringify((old as ClusterRole).aggregationRule ?? null) : true;
    if (agg && changed && confirmNoEscalation(authorizer, user, namespace, fullAuthority)) throw refuse('must have cluster-admin privileges to use the aggregationRule');
    return;
  }
  // A binding: `bind` on the role it names (where the binding is), or hold all the role grants.
  const ref = (obj as RoleBinding).roleRef;
  if (!ref) return;
  if (ref.kind === 'ClusterRole' || ref.kind === 'Role') {
    if (allowed('bind', ref.kind === 'ClusterRole' ? 'clusterroles' : 'roles', ref.name)) return;
  }
  const { rules, err } = authorizer.rbac().roleRules(ref, namespace, true);
  if (err !== undefined) throw refuse(err);
  const why = confirmNoEscalation(authorizer, user, namespace, rules ?? []);
  if (why) throw refuse(why);
}
