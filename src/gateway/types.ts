// The Gateway API's objects (gateway.networking.k8s.io v1, and v1beta1 with the same shape), the
// fields podpath reads. Optional where the CRDs default them: defaults.ts fills them in.
import type { KubeObject, LabelSelector } from '../api/types.ts';

export const gatewayGroup = 'gateway.networking.k8s.io';

export interface GatewayClass extends KubeObject {
  spec: { controllerName: string; description?: string };
}

export interface RouteGroupKind {
  group?: string;
  kind: string;
}

export interface RouteNamespaces {
  from?: 'All' | 'Selector' | 'Same' | 'None' | string;
  selector?: LabelSelector;
}

export interface SecretObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

export interface Listener {
  name: string;
  hostname?: string;
  port: number;
  protocol: 'HTTP' | 'HTTPS' | 'TLS' | 'TCP' | 'UDP' | string;
  tls?: { mode?: 'Terminate' | 'Passthrough' | string; certificateRefs?: SecretObjectReference[] };
  allowedRoutes?: { namespaces?: RouteNamespaces; kinds?: RouteGroupKind[] };
}

export interface Gateway extends KubeObject {
  spec: { gatewayClassName: string; listeners: Listener[] };
}

export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface HTTPPathMatch {
  type?: 'Exact' | 'PathPrefix' | 'RegularExpression' | string;
  value?: string;
}

export interface HTTPHeaderMatch {
  type?: 'Exact' | 'RegularExpression' | string;
  name: string;
  value: string;
}

export interface HTTPRouteMatch {
  path?: HTTPPathMatch;
  headers?: HTTPHeaderMatch[];
  queryParams?: HTTPHeaderMatch[];
  method?: string;
}

export interface HTTPHeader {
  name: string;
  value: string;
}

export interface HTTPHeaderFilter {
  set?: HTTPHeader[];
  add?: HTTPHeader[];
  remove?: string[];
}

export interface HTTPPathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch' | string;
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface HTTPRequestRedirectFilter {
  scheme?: 'http' | 'https' | string;
  hostname?: string;
  path?: HTTPPathModifier;
  port?: number;
  statusCode?: number;
}

export interface HTTPURLRewriteFilter {
  hostname?: string;
  path?: HTTPPathModifier;
}

export interface HTTPRouteFilter {
  type: 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestRedirect' | 'URLRewrite' | 'RequestMirror' | 'CORS' | 'ExtensionRef' | string;
  requestHeaderModifier?: HTTPHeaderFilter;
  responseHeaderModifier?: HTTPHeaderFilter;
  requestRedirect?: HTTPRequestRedirectFilter;
  urlRewrite?: HTTPURLRewriteFilter;
  [other: string]: unknown;
}

export interface BackendObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}

export interface HTTPBackendRef extends BackendObjectReference {
  weight?: number;
  filters?: HTTPRouteFilter[];
}

export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
}

export interface HTTPRoute extends KubeObject {
  spec: { parentRefs?: ParentReference[]; hostnames?: string[]; rules?: HTTPRouteRule[] };
}

export interface ReferenceGrant extends KubeObject {
  spec: { from: { group: string; kind: string; namespace: string }[]; to: { group: string; kind: string; name?: string }[] };
}

/** A metav1.Condition as a controller writes it into status (lastTransitionTime left to the writer). */
export interface RouteCondition {
  type: 'Accepted' | 'ResolvedRefs' | 'PartiallyInvalid';
  status: 'True' | 'False';
  reason: string;
  message: string;
}
