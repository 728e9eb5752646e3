// The authorizer's vocabulary (k8s.io/apiserver pkg/authorization/authorizer): what a request
// asks, a decision about it, and the rules a user holds.
import type { FieldRequirement } from '../api/fields.ts';
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
  /** a list's or watch's field selector (the Node authorizer allows a node's own pods by spec.nodeName) */
  fieldSelector?: FieldRequirement[];
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
