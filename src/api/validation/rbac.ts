// Validation of rbac.authorization.k8s.io/v1 Roles, ClusterRoles and their bindings
// (kubernetes pkg/apis/rbac/validation).
import { field, GoRepr, Path, type FieldError } from '../errors.ts';
import { rbacGroup } from '../rbac.ts';
import type { ClusterRole, PolicyRule, Role, RoleBinding, RoleRef, Subject } from '../types.ts';
import { validateLabelSelector, validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { isDNS1123Subdomain, isPathSegmentName, type NameFn } from './names.ts';

export { rbacGroup } from '../rbac.ts';

/** ValidateRBACName: role and binding names only need to be usable as a path segment. */
const rbacName: NameFn = (name) => isPathSegmentName(name);

/** ValidatePolicyRule */
export function validatePolicyRule(rule: PolicyRule, namespaced: boolean, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  if (!rule.verbs?.length) errs.push(field.required(p.child('verbs'), 'verbs must contain at least one value'));
  if (rule.nonResourceURLs?.length) {
    if (namespaced) errs.push(field.invalid(p.child('nonResourceURLs'), rule.nonResourceURLs, 'namespaced rules cannot apply to non-resource URLs'));
    if (rule.apiGroups?.length || rule.resources?.length || rule.resourceNames?.length) {
      errs.push(field.invalid(p.child('nonResourceURLs'), rule.nonResourceURLs, 'rules cannot apply to both regular resources and non-resource URLs'));
    }
    return errs;
  }
  if (!rule.apiGroups?.length) errs.push(field.required(p.child('apiGroups'), 'resource rules must supply at least one api group'));
  if (!rule.resources?.length) errs.push(field.required(p.child('resources'), 'resource rules must supply at least one resource'));
  return errs;
}

function rules(role: Role, namespaced: boolean): FieldError[] {
  return (role.rules ?? []).flatMap((r, i) => validatePolicyRule(r, namespaced, Path.root('rules').index(i)));
}

export function validateRole(role: Role): FieldError[] {
  return [...validateObjectMeta(role.metadata, true, rbacName), ...rules(role, true)];
}

export function validateRoleUpdate(role: Role, old: Role): FieldError[] {
  return [...validateRole(role), ...validateObjectMetaUpdate(role.metadata, old.metadata)];
}

export function validateClusterRole(role: ClusterRole): FieldError[] {
  const errs = [...validateObjectMeta(role.metadata, false, rbacName), ...rules(role, false)];
  const agg = role.aggregationRule;
  if (agg) {
    const p = Path.root('aggregationRule', 'clusterRoleSelectors');
    if (!agg.clusterRoleSelectors?.length) errs.push(field.required(p, 'at least one clusterRoleSelector required if aggregationRule is non-nil'));
    (agg.clusterRoleSelectors ?? []).forEach((s, i) => errs.push(...validateLabelSelector(s, p.index(i))));
  }
  return errs;
}

export function validateClusterRoleUpdate(role: ClusterRole, old: ClusterRole): FieldError[] {
  return [...validateClusterRole(role), ...validateObjectMetaUpdate(role.metadata, old.metadata)];
}

/** ValidateRoleBindingSubject */
function validateSubject(s: Subject, namespaced: boolean, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  if (!s.name) errs.push(field.required(p.child('name')));
  switch (s.kind) {
    case 'ServiceAccount':
      if (s.name) for (const m of isDNS1123Subdomain(s.name)) errs.push(field.invalid(p.child('name'), s.name, m));
      if (s.apiGroup) errs.push(field.notSupported(p.child('apiGroup'), s.apiGroup, ['']));
      if (!namespaced && !s.namespace) errs.push(field.required(p.child('namespace')));
      break;
    case 'User':
    case 'Group':
      if (s.apiGroup !== rbacGroup) errs.push(field.notSupported(p.child('apiGroup'), s.apiGroup ?? '', [rbacGroup]));
      break;
    default:
      errs.push(field.notSupported(p.child('kind'), s.kind ?? '', ['ServiceAccount', 'User', 'Group']));
  }
  return errs;
}

function validateBinding(b: RoleBinding, namespaced: boolean): FieldError[] {
  const errs = validateObjectMeta(b.metadata, namespaced, rbacName);
  const ref: Partial<RoleRef> = b.roleRef ?? {};
  if (ref.apiGroup !== rbacGroup) errs.push(field.notSupported(Path.root('roleRef', 'apiGroup'), ref.apiGroup ?? '', [rbacGroup]));
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!kinds.includes(ref.kind ?? '')) errs.push(field.notSupported(Path.root('roleRef', 'kind'), ref.kind ?? '', kinds));
  if (!ref.name) errs.push(field.required(Path.root('roleRef', 'name')));
  else for (const m of isPathSegmentName(ref.name)) errs.push(field.invalid(Path.root('roleRef', 'name'), ref.name, m));
  (b.subjects ?? []).forEach((s, i) => errs.push(...validateSubject(s, namespaced, Path.root('subjects').index(i))));
  return errs;
}

/** rbac.RoleRef as Go's %#v prints it in "cannot change roleRef". */
function roleRefRepr(r: Partial<RoleRef>): GoRepr {
  return new GoRepr(`rbac.RoleRef{APIGroup:${JSON.stringify(r.apiGroup ?? '')}, Kind:${JSON.stringify(r.kind ?? '')}, Name:${JSON.stringify(r.name ?? '')}}`);
}

function validateBindingUpdate(b: RoleBinding, old: RoleBinding, namespaced: boolean): FieldError[] {
  const errs = [...validateBinding(b, namespaced), ...validateObjectMetaUpdate(b.metadata, old.metadata)];
  const n = b.roleRef ?? ({} as RoleRef);
  const o = old.roleRef ?? ({} as RoleRef);
  if (n.apiGroup !== o.apiGroup || n.kind !== o.kind || n.name !== o.name) errs.push(field.invalid(Path.root('roleRef'), roleRefRepr(n), 'cannot change roleRef'));
  return errs;
}

export const validateRoleBinding = (b: RoleBinding) => validateBinding(b, true);
export const validateRoleBindingUpdate = (b: RoleBinding, old: RoleBinding) => validateBindingUpdate(b, old, true);
export const validateClusterRoleBinding = (b: RoleBinding) => validateBinding(b, false);
export const validateClusterRoleBindingUpdate = (b: RoleBinding, old: RoleBinding) => validateBindingUpdate(b, old, false);
