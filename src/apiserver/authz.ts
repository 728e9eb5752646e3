// Authorization: whether a user may do what a request (or a review) asks. podpath has no RBAC
// yet and authorizes as kube-apiserver's AlwaysAllow mode does: every authenticated user may
// do everything, with no reason given, and its rules are `*` everywhere. The unauthenticated
// are refused before authorization (401), so a review about them gets no opinion. The
// authorizer is a pure function of the user and the request's attributes, so that RBAC can
// take its place.
import type { UserInfo } from './authn.ts';

/** authorizer.Attributes: a resource request or a non-resource (URL) request. */
export interface Attributes {
  user: UserInfo;
  verb: string;
  resourceRequest: boolean;
  /** resource requests */
  namespace?: string;
  apiGroup?: string;
  apiVersion?: string;
  resource?: string;
  subresource?: string;
  name?: string;
  /** non-resource requests */
  path?: string;
}

export type DecisionKind = 'Allow' | 'Deny' | 'NoOpinion';

export interface Decision {
  decision: DecisionKind;
  reason: string;
  evaluationError?: string;
}

export interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

export interface NonResourceRule {
  verbs: string[];
  nonResourceURLs?: string[];
}

export interface Rules {
  resourceRules: ResourceRule[];
  nonResourceRules: NonResourceRule[];
  incomplete: boolean;
  evaluationError?: string;
}

function authenticated(user: UserInfo): boolean {
  return user.username !== 'system:anonymous' && !user.groups.includes('system:unauthenticated');
}

export function authorize(attrs: Attributes): Decision {
  if (!authenticated(attrs.user)) return { decision: 'NoOpinion', reason: '' };
  return { decision: 'Allow', reason: '' };
}

/** What `user` may do in `namespace` (the rule resolver behind SelfSubjectRulesReview). */
export function rulesFor(user: UserInfo, namespace: string): Rules {
  void namespace;
  if (!authenticated(user)) return { resourceRules: [], nonResourceRules: [], incomplete: false };
  return {
    resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
    nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
    incomplete: false,
  };
}
