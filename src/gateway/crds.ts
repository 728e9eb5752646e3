// The Gateway API's standard-channel CustomResourceDefinitions, written as podpath's own from the
// API's Go types (apis/v1 and apis/v1beta1 of the release named by gatewayAPIBundleVersion, with
// their kubebuilder markers): each kind's fields as a compact typed description below, from which
// gatewayCRDs() builds structural schemas with the types, required fields, enums, patterns,
// length and item limits, defaults and a selection of the CEL rules the markers set.
import type { CustomResourceColumnDefinition, CustomResourceDefinition, JSONSchemaProps, ValidationRule } from '../api/apiextensions/types.ts';
import { specDefaults } from './defaults.ts';
import { gatewayGroup } from './types.ts';

/** The Gateway API release whose types these CRDs follow (written in the bundle-version annotation, as upstream's CRDs carry theirs). */
export const gatewayAPIBundleVersion = 'v1.3.0';

// ---- the description language: a schema node per Go field, description first ----

type Opts = Omit<JSONSchemaProps, 'type' | 'description' | 'properties' | 'items' | 'x-kubernetes-validations'> & { rules?: [rule: string, message: string][] };

function node(type: string, description: string, o: Opts = {}): JSONSchemaProps {
  const { rules, ...rest } = o;
  return { type, description, ...rest, ...(rules?.length ? { 'x-kubernetes-validations': rules.map(([rule, message]): ValidationRule => ({ rule, message })) } : {}) };
}
const str = (d: string, o?: Opts) => node('string', d, o);
const int32 = (d: string, o?: Opts) => node('integer', d, { format: 'int32', ...o });
const enumOf = (d: string, values: readonly string[], o?: Opts) => str(d, { enum: [...values], ...o });
const arr = (d: string, items: JSONSchemaProps, o?: Opts): JSONSchemaProps => ({ ...node('array', d, o), items });
/** An object; required fields are those named with a trailing `!`. */
function obj(d: string, fields: Record<string, JSONSchemaProps>, o?: Opts): JSONSchemaProps {
  const properties: Record<string, JSONSchemaProps> = {};
  const required: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    const name = k.endsWith('!') ? k.slice(0, -1) : k;
    if (name !== k) required.push(name);
    properties[name] = v;
  }
  return { ...node('object', d, o), properties, ...(required.length ? { required } : {}) };
}
const stringMap = (d: string, value: JSONSchemaProps, o?: Opts): JSONSchemaProps => ({ ...node('object', d, o), additionalProperties: { type: 'string', ...value } });
/** AnnotationValue and LabelValue, the values of the API's string maps. */
const annotationValue: JSONSchemaProps = { maxLength: 4096, minLength: 0 };
const labelValue: JSONSchemaProps = { maxLength: 63, minLength: 0, pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$' };

// ---- the API's shared string types (apis/v1/shared_types.go) ----

const dnsSubdomain = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const hostnamePattern = `^(\\*\\.)?${dnsSubdomain}$`;
const pathValueChars = "^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$";
const domainPrefixedPath = `^${dnsSubdomain}\\/[A-Za-z0-9\\/\\-._~%!$&'()*+,;=:]+$`;
const durationPattern = '^([0-9]{1,5}(h|m|s|ms)){1,4}$';

const group = (d: string, o?: Opts) => str(d, { maxLength: 253, pattern: `^$|^${dnsSubdomain}$`, ...o });
const kind = (d: string, o?: Opts) => str(d, { maxLength: 63, minLength: 1, pattern: '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$', ...o });
const objectName = (d: string) => str(d, { maxLength: 253, minLength: 1 });
const namespace = (d: string) => str(d, { maxLength: 63, minLength: 1, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' });
const sectionName = (d: string) => str(d, { maxLength: 253, minLength: 1, pattern: `^${dnsSubdomain}$` });
const port = (d: string) => int32(d, { minimum: 1, maximum: 65535 });
const hostname = (d: string) => str(d, { maxLength: 253, minLength: 1, pattern: hostnamePattern });
const preciseHostname = (d: string) => str(d, { maxLength: 253, minLength: 1, pattern: `^${dnsSubdomain}$` });
const headerName = (d: string) => str(d, { maxLength: 256, minLength: 1, pattern: "^[A-Za-z0-9!#$%&'*+\\-.^_\\x60|~]+$" });
const controllerName = (d: string, o?: Opts) => str(d, { maxLength: 253, minLength: 1, pattern: domainPrefixedPath, ...o });
const parametersRef = (d: string, withNamespace: boolean) =>
  obj(d, {
    'group!': group('Group of the referent.'),
    'kind!': kind('Kind of the referent.'),
    'name!': objectName('Name of the referent.'),
    ...(withNamespace ? { namespace: namespace('Namespace of the referent (namespace-scoped referents only).') } : {}),
  });

/** metav1.Condition, as controller-gen writes it. */
const condition = obj('Condition contains details for one aspect of the current state of this API Resource.', {
  'lastTransitionTime!': str('The last time the condition transitioned from one status to another.', { format: 'date-time' }),
  'message!': str('A human readable message indicating details about the transition.', { maxLength: 32768 }),
  observedGeneration: node('integer', 'The .metadata.generation that the condition was set based upon.', { format: 'int64', minimum: 0 }),
  'reason!': str("A programmatic identifier indicating the reason for the condition's last transition.", { maxLength: 1024, minLength: 1, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
  'status!': enumOf('Status of the condition, one of True, False, Unknown.', ['True', 'False', 'Unknown']),
  'type!': str('Type of condition in CamelCase or in foo.example.com/CamelCase.', { maxLength: 316, pattern: `^(${dnsSubdomain}/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$` }),
});
/** What status says before a controller has looked (the spec's "Waiting for controller" defaults). */
const pending = (type: string) => ({ lastTransitionTime: '1970-01-01T00:00:00Z', message: 'Waiting for controller', reason: 'Pending', status: 'Unknown', type });
const conditions = (d: string, o: Opts = {}) => arr(d, condition, { maxItems: 8, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'], ...o });

const labelSelector = obj('A label query over namespaces.', {
  matchExpressions: arr(
    'A list of label selector requirements, ANDed.',
    obj('A label selector requirement.', { 'key!': str('The label key the selector applies to.'), 'operator!': str("The key's relationship to the values: In, NotIn, Exists, DoesNotExist."), values: arr('String values.', { type: 'string' }, { 'x-kubernetes-list-type': 'atomic' }) }),
    { 'x-kubernetes-list-type': 'atomic' },
  ),
  matchLabels: stringMap('A map of {key,value} pairs, each an In requirement.', {}),
}, { 'x-kubernetes-map-type': 'atomic' });

const routeGroupKind = (d: string) => obj(d, { group: group('Group of the Route.', { default: gatewayGroup }), 'kind!': kind('Kind of the Route.') });

// ---- references (apis/v1/object_reference_types.go, shared_types.go) ----

/** A namespace given or both given and equal, as the parentRefs rules compare them. */
const sameNamespace = "(((!has(p1.__namespace__) || p1.__namespace__ == '') && (!has(p2.__namespace__) || p2.__namespace__ == '')) || (has(p1.__namespace__) && has(p2.__namespace__) && p1.__namespace__ == p2.__namespace__ ))";
const sameParent = `p1.group == p2.group && p1.kind == p2.kind && p1.name == p2.name && ${sameNamespace}`;

const parentRef = (d: string) =>
  obj(d, {
    group: group('Group of the referent (gateway.networking.k8s.io when unspecified).', { default: gatewayGroup }),
    kind: kind('Kind of the referent (Gateway when unspecified).', { default: specDefaults.parentKind }),
    'name!': objectName('Name of the referent.'),
    namespace: namespace("Namespace of the referent; the Route's own when unspecified."),
    port: port('The network port this Route targets.'),
    sectionName: sectionName('A section within the target, such as a Gateway listener name.'),
  });
const parentRefs = arr("The resources (usually Gateways) the Route wants to be attached to.", parentRef('Identifies an API object (usually a Gateway) the Route attaches to.'), {
  maxItems: 32,
  rules: [
    [`self.all(p1, self.all(p2, ${sameParent} ? ((!has(p1.sectionName) || p1.sectionName == '') == (!has(p2.sectionName) || p2.sectionName == '')) : true))`, 'sectionName must be specified when parentRefs includes 2 or more references to the same parent'],
    [`self.all(p1, self.exists_one(p2, ${sameParent} && (((!has(p1.sectionName) || p1.sectionName == '') && (!has(p2.sectionName) || p2.sectionName == '')) || (has(p1.sectionName) && has(p2.sectionName) && p1.sectionName == p2.sectionName))))`, 'sectionName must be unique when parentRefs includes 2 or more references to the same parent'],
  ],
});

const servicePortRule: [string, string] = ["(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true", 'Must have port for Service reference'];
const backendObjectFields = {
  group: group('Group of the referent ("" is the core group).', { default: specDefaults.backendGroup }),
  kind: kind('Kind of the referent (Service when unspecified).', { default: specDefaults.backendKind }),
  'name!': objectName('Name of the referent.'),
  namespace: namespace("Namespace of the backend; the Route's own when unspecified."),
  port: port('The destination port (required for a Service).'),
};
const backendObjectRef = (d: string) => obj(d, backendObjectFields, { rules: [servicePortRule] });

// ---- filters (apis/v1/httproute_types.go) ----

const header = obj('An HTTP header name and value.', { 'name!': headerName('Name of the HTTP header.'), 'value!': str('Value of the HTTP header.', { maxLength: 4096, minLength: 1 }) });
const headerModifier = (d: string) =>
  obj(d, {
    add: arr('Headers to add to the existing values.', header, { maxItems: 16, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
    remove: arr('Header names to remove.', { type: 'string' }, { maxItems: 16, 'x-kubernetes-list-type': 'set' }),
    set: arr('Headers to overwrite.', header, { maxItems: 16, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
  });
const mirror = obj('Mirrors requests to a backend (responses are ignored).', {
  'backendRef!': backendObjectRef('The backend mirrored requests are sent to.'),
  fraction: obj('The fraction of requests to mirror.', { denominator: int32('Denominator of the fraction.', { minimum: 1, default: specDefaults.mirrorDenominator }), 'numerator!': int32('Numerator of the fraction.', { minimum: 0 }) }, { rules: [['self.numerator <= self.denominator', 'numerator must be less than or equal to denominator']] }),
  percent: int32('The percentage of requests to mirror.', { minimum: 0, maximum: 100 }),
}, { rules: [['!(has(self.percent) && has(self.fraction))', 'Only one of percent or fraction may be specified in HTTPRequestMirrorFilter']] });
const pathModifier = (d: string) =>
  obj(d, {
    replaceFullPath: str('The value that replaces the full path.', { maxLength: 1024 }),
    replacePrefixMatch: str('The value that replaces the matched prefix.', { maxLength: 1024 }),
    'type!': enumOf('The kind of path modifier.', ['ReplaceFullPath', 'ReplacePrefixMatch']),
  }, {
    rules: [
      ["self.type == 'ReplaceFullPath' ? has(self.replaceFullPath) : true", "replaceFullPath must be specified when type is set to 'ReplaceFullPath'"],
      ["has(self.replaceFullPath) ? self.type == 'ReplaceFullPath' : true", "type must be 'ReplaceFullPath' when replaceFullPath is set"],
      ["self.type == 'ReplacePrefixMatch' ? has(self.replacePrefixMatch) : true", "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'"],
      ["has(self.replacePrefixMatch) ? self.type == 'ReplacePrefixMatch' : true", "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set"],
    ],
  });

/** Each filter type's field, its name as the Go type spells it (a filter names its type and sets exactly that field). */
const filterFields: Record<string, [field: string, schema: JSONSchemaProps]> = {
  RequestHeaderModifier: ['requestHeaderModifier', headerModifier('Modifies request headers.')],
  ResponseHeaderModifier: ['responseHeaderModifier', headerModifier('Modifies response headers.')],
  RequestMirror: ['requestMirror', mirror],
  RequestRedirect: ['requestRedirect', obj('Responds to the request with a redirect.', {
    hostname: preciseHostname('The hostname of the Location header (the request\'s when unspecified).'),
    path: pathModifier('Modifies the path of the Location header.'),
    port: port('The port of the Location header.'),
    scheme: enumOf('The scheme of the Location header.', ['http', 'https']),
    statusCode: node('integer', 'The HTTP status code of the redirect.', { enum: [301, 302], default: specDefaults.redirectStatusCode }),
  })],
  URLRewrite: ['urlRewrite', obj('Modifies the request while forwarding it.', { hostname: preciseHostname('The value that replaces the Host header.'), path: pathModifier('A path rewrite.') })],
  ExtensionRef: ['extensionRef', obj('An implementation-specific extension filter.', { 'group!': group('Group of the referent.'), 'kind!': kind('Kind of the referent.'), 'name!': objectName('Name of the referent.') })],
};

/** A route's filter with the given types (in the order the Go enum lists them), and the list of them with their no-repeat rules. */
function filters(d: string, types: string[], item: string, extraListRules: [string, string][] = []): JSONSchemaProps {
  const fields: Record<string, JSONSchemaProps> = {};
  const rules: [string, string][] = [];
  for (const t of ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'RequestRedirect', 'URLRewrite', 'ExtensionRef'].filter((x) => types.includes(x))) {
    const [f, s] = filterFields[t]!;
    fields[f] = s;
    rules.push([`!(has(self.${f}) && self.type != '${t}')`, `filter.${f} must be nil if the filter.type is not ${t}`], [`!(!has(self.${f}) && self.type == '${t}')`, `filter.${f} must be specified for ${t} filter.type`]);
  }
  const filter = obj(item, { ...fields, 'type!': enumOf('The type of filter to apply.', types) }, { rules });
  const once = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite'].filter((t) => types.includes(t));
  return arr(d, filter, { maxItems: 16, rules: [...extraListRules, ...once.map((t): [string, string] => [`self.filter(f, f.type == '${t}').size() <= 1`, `${t} filter cannot be repeated`])] });
}

const httpFilterTypes = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'RequestRedirect', 'URLRewrite', 'ExtensionRef'];
const notRedirectAndRewrite: [string, string] = ["!(self.exists(f, f.type == 'RequestRedirect') && self.exists(f, f.type == 'URLRewrite'))", 'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both'];
const httpFilters = (d: string) => filters(d, httpFilterTypes, 'A processing step for requests that match (or are sent to the backend).', [notRedirectAndRewrite]);
const grpcFilters = (d: string) => filters(d, ['ResponseHeaderModifier', 'RequestHeaderModifier', 'RequestMirror', 'ExtensionRef'], 'A processing step for requests that match (or are sent to the backend).');

const backendRefs = (d: string, routeFilters: JSONSchemaProps) =>
  arr(d, obj('A backend the matching requests are forwarded to.', {
    ...backendObjectFields,
    filters: routeFilters,
    weight: int32('The proportion of requests forwarded to this backend.', { minimum: 0, maximum: 1000000, default: specDefaults.backendWeight }),
  }, { rules: [servicePortRule] }), { maxItems: 16 });

/** Upstream's rule on all rules' matches together (written out per index, as CEL has no sum). */
function totalMatches(guarded: boolean): [string, string] {
  const term = (i: number) => `(self.size() > ${i} ? ${guarded ? `(has(self[${i}].matches) ? self[${i}].matches.size() : 0)` : `self[${i}].matches.size()`} : 0)`;
  return [`${Array.from({ length: 16 }, (_, i) => term(i)).join(' + ')} <= 128`, 'While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128'];
}

const valueMatch = (d: string, maxValue: number) =>
  obj(d, {
    'name!': headerName('Name to match (case-insensitive for headers).'),
    type: enumOf('How to match the value.', ['Exact', 'RegularExpression'], { default: specDefaults.headerMatchType }),
    'value!': str('Value to match.', { maxLength: maxValue, minLength: 1 }),
  });
const matchList = (d: string, item: JSONSchemaProps) => arr(d, item, { maxItems: 16, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] });

const exactOrPrefix = "(self.type in ['Exact','PathPrefix'])";
const pathMatch = obj('An HTTP request path matcher (prefix / when unspecified).', {
  type: enumOf('How to match the path.', ['Exact', 'PathPrefix', 'RegularExpression'], { default: specDefaults.pathMatch.type }),
  value: str('The path to match against.', { maxLength: 1024, default: specDefaults.pathMatch.value }),
}, {
  default: { ...specDefaults.pathMatch },
  rules: [
    [`${exactOrPrefix} ? self.value.startsWith('/') : true`, "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"],
    ...['//', '/./', '/../', '%2f', '%2F', '#'].map((s): [string, string] => [`${exactOrPrefix} ? !self.value.contains('${s}') : true`, `must not contain '${s}' when type one of ['Exact', 'PathPrefix']`]),
    ...['/..', '/.'].map((s): [string, string] => [`${exactOrPrefix} ? !self.value.endsWith('${s}') : true`, `must not end with '${s}' when type one of ['Exact', 'PathPrefix']`]),
    ["self.type in ['Exact','PathPrefix'] || self.type == 'RegularExpression'", "type must be one of ['Exact', 'PathPrefix', 'RegularExpression']"],
    [`${exactOrPrefix} ? self.value.matches(r"""${pathValueChars}""") : true`, `must only contain valid characters (matching ${pathValueChars}) for types ['Exact', 'PathPrefix']`],
  ],
});

const hostnames = (d: string) => arr(d, hostname('A fully qualified domain name, optionally with a leading wildcard label.'), { maxItems: 16 });

/** RouteStatus: one entry per parent a controller has looked at. */
const routeStatus = (kindName: string) =>
  obj(`The current state of the ${kindName}.`, {
    'parents!': arr('The parents (usually Gateways) the route is associated with, and its status for each.', obj('The status of the route for one parent.', {
      conditions: conditions('The route\'s conditions for this parent (Accepted, ResolvedRefs, ...).', { minItems: 1 }),
      'controllerName!': controllerName('The controller that wrote this status.'),
      'parentRef!': parentRef('The parentRef in the spec this status is for.'),
    }), { maxItems: 32 }),
  });

// ---- the kinds ----

const gatewayClassSpec = obj('The desired state of the GatewayClass.', {
  'controllerName!': controllerName('The controller that manages Gateways of this class (domain-prefixed path).', { rules: [['self == oldSelf', 'Value is immutable']] }),
  description: str('A description of the GatewayClass.', { maxLength: 64 }),
  parametersRef: parametersRef('A resource holding the class\'s controller-specific configuration.', true),
});
const gatewayClassStatus = obj('The current state of the GatewayClass.', { conditions: conditions('The current status from the controller for this GatewayClass.', { default: ['Accepted'].map(pending) }) }, { default: { conditions: ['Accepted'].map(pending) } });

const addressRule: [string, string] = [`self.type == 'Hostname' ? self.value.matches(r"""${hostnamePattern}"""): true`, `Hostname value must only contain valid characters (matching ${hostnamePattern})`];
const addressType = str('The type of the address.', { maxLength: 253, minLength: 1, pattern: `^Hostname|IPAddress|NamedAddress|${domainPrefixedPath.slice(1)}`, default: specDefaults.addressType });
const keyRules = (what: string): [string, string][] => [
  [`self.all(key, key.matches(r"""^(${dnsSubdomain}/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$"""))`, `${what} keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters.`],
  ['self.all(key, key.split("/")[0].size() < 253)', `If specified, the ${what.toLowerCase()} key's prefix must be a DNS subdomain not longer than 253 characters in total.`],
];

const listener = obj('A logical endpoint where the Gateway accepts connections.', {
  allowedRoutes: obj('The routes that may attach to this listener.', {
    kinds: arr('The route kinds allowed (those of the protocol when unspecified).', routeGroupKind('The group and kind of a Route resource.'), { maxItems: 8 }),
    namespaces: obj('The namespaces routes may attach from.', {
      from: enumOf('Where routes may attach from: All, Selector or Same.', ['All', 'Selector', 'Same'], { default: specDefaults.routeNamespacesFrom }),
      selector: labelSelector,
    }, { default: { from: specDefaults.routeNamespacesFrom } }),
  }, { default: { namespaces: { from: specDefaults.routeNamespacesFrom } } }),
  hostname: hostname('The virtual hostname to match (HTTP, HTTPS, TLS).'),
  'name!': sectionName('The name of the listener, unique within the Gateway.'),
  'port!': port('The network port.'),
  'protocol!': str('The network protocol: HTTP, HTTPS, TLS, TCP, UDP or a domain-prefixed name.', { maxLength: 255, minLength: 1, pattern: `^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|${dnsSubdomain}\\/[A-Za-z0-9]+$` }),
  tls: obj('The TLS configuration (HTTPS and TLS).', {
    certificateRefs: arr('The certificates (Secrets) to terminate TLS with.', obj('A reference to a Secret (or another certificate object).', {
      group: group('Group of the referent ("" is the core group).', { default: specDefaults.backendGroup }),
      kind: kind('Kind of the referent (Secret when unspecified).', { default: specDefaults.secretKind }),
      'name!': objectName('Name of the referent.'),
      namespace: namespace("Namespace of the referent; the Gateway's own when unspecified."),
    }), { maxItems: 64 }),
    mode: enumOf('Terminate TLS or pass the connection through.', ['Terminate', 'Passthrough'], { default: specDefaults.tlsMode }),
    options: stringMap('Implementation-specific TLS options.', annotationValue, { maxProperties: 16 }),
  }, { rules: [["self.mode == 'Terminate' ? size(self.certificateRefs) > 0 || size(self.options) > 0 : true", 'certificateRefs or options must be specified when mode is Terminate']] }),
});

const gatewaySpec = obj('The desired state of the Gateway.', {
  addresses: arr('Addresses requested for the Gateway.', obj('An address to bind the Gateway to.', { type: addressType, value: str('The address\'s value.', { maxLength: 253 }) }, { rules: [addressRule] }), {
    maxItems: 16,
    rules: ['IPAddress', 'Hostname'].map((t): [string, string] => [`self.all(a1, a1.type == '${t}' ? self.exists_one(a2, a2.type == a1.type && a2.value == a1.value) : true )`, `${t} values must be unique`]),
  }),
  'gatewayClassName!': str('The GatewayClass of this Gateway.', { maxLength: 253, minLength: 1 }),
  infrastructure: obj('Infrastructure attributes of the Gateway.', {
    annotations: stringMap('Annotations for the resources created for the Gateway.', annotationValue, { maxProperties: 8, rules: keyRules('Annotation') }),
    labels: stringMap('Labels for the resources created for the Gateway.', labelValue, { maxProperties: 8, rules: keyRules('Label') }),
    parametersRef: parametersRef('A resource holding the Gateway\'s implementation-specific configuration.', false),
  }),
  'listeners!': arr('The listeners of the Gateway.', listener, {
    maxItems: 64,
    minItems: 1,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
    rules: [
      ["self.all(l, l.protocol in ['HTTP', 'TCP', 'UDP'] ? !has(l.tls) : true)", "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"],
      ["self.all(l, (l.protocol == 'HTTPS' && has(l.tls)) ? (l.tls.mode == '' || l.tls.mode == 'Terminate') : true)", 'tls mode must be Terminate for protocol HTTPS'],
      ["self.all(l, l.protocol in ['TCP', 'UDP']  ? (!has(l.hostname) || l.hostname == '') : true)", "hostname must not be specified for protocols ['TCP', 'UDP']"],
      ['self.all(l1, self.exists_one(l2, l1.name == l2.name))', 'Listener name must be unique within the Gateway'],
      ['self.all(l1, self.exists_one(l2, l1.port == l2.port && l1.protocol == l2.protocol && (has(l1.hostname) && has(l2.hostname) ? l1.hostname == l2.hostname : !has(l1.hostname) && !has(l2.hostname))))', 'Combination of port, protocol and hostname must be unique for each listener'],
    ],
  }),
});
const gatewayStatus = obj('The current state of the Gateway.', {
  addresses: arr('The addresses bound to the Gateway.', obj('An address bound to the Gateway.', { type: addressType, 'value!': str('The address\'s value.', { maxLength: 253, minLength: 1 }) }, { rules: [addressRule] }), { maxItems: 16 }),
  conditions: conditions('The current conditions of the Gateway (Accepted, Programmed).', { default: ['Accepted', 'Programmed'].map(pending) }),
  listeners: arr('The status of each listener.', obj('The status of one listener.', {
    'attachedRoutes!': int32('The number of routes attached to the listener.'),
    'conditions!': conditions('The current conditions of the listener.'),
    'name!': sectionName('The listener this status is for.'),
    'supportedKinds!': arr('The route kinds the listener supports.', routeGroupKind('The group and kind of a Route resource.'), { maxItems: 8 }),
  }), { maxItems: 64, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
}, { default: { conditions: ['Accepted', 'Programmed'].map(pending) } });

const replacePrefixNeedsOnePrefixMatch = (where: 'requestRedirect' | 'urlRewrite', inBackends: boolean): [string, string] => {
  const uses = `f.${where}.path.type == 'ReplacePrefixMatch' && has(f.${where}.path.replacePrefixMatch)`;
  const has = inBackends
    ? `(has(self.backendRefs) && self.backendRefs.exists_one(b, (has(b.filters) && b.filters.exists_one(f, has(f.${where}) && has(f.${where}.path) && ${uses})) ))`
    : `(has(self.filters) && self.filters.exists_one(f, has(f.${where}) && has(f.${where}.path) && ${uses}))`;
  const name = where === 'requestRedirect' ? 'RequestRedirect' : 'URLRewrite';
  const message = `${inBackends ? `Within backendRefs, ${where === 'requestRedirect' ? 'when' : 'When'} using` : 'When using'} ${name} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified`;
  return [`${has} ? ((size(self.matches) != 1 || !has(self.matches[0].path) || self.matches[0].path.type != 'PathPrefix') ? false : true) : true`, message];
};

/** The spec shared by HTTPRoute and GRPCRoute (their Go types are parallel): hostnames, parentRefs, rules of matches, filters and backends. */
function routeSpec(kindName: string, proto: string, routeFilters: (d: string) => JSONSchemaProps, match: Record<string, JSONSchemaProps>, o: { matchesDefault?: unknown; ruleFields?: Record<string, JSONSchemaProps>; ruleRules?: [string, string][]; rulesDefault?: unknown; matchesOptional: boolean }): JSONSchemaProps {
  return obj(`The desired state of the ${kindName}.`, {
    hostnames: hostnames(`Hostnames to match against the ${proto} Host header.`),
    parentRefs,
    rules: arr(`${proto} matchers, filters and actions.`, obj(`Matches ${proto} requests and says what to do with them.`, {
      backendRefs: backendRefs('The backends matching requests are forwarded to.', routeFilters('Filters applied to requests sent to this backend.')),
      filters: routeFilters('Filters applied to requests that match the rule.'),
      matches: arr('Conditions on requests (any one matching is enough).', obj('A request matches when all its conditions do.', match), { maxItems: 64, ...(o.matchesDefault ? { default: o.matchesDefault } : {}) }),
      ...o.ruleFields,
    }, { rules: o.ruleRules }), { maxItems: 16, ...(o.rulesDefault ? { default: o.rulesDefault } : {}), rules: [totalMatches(o.matchesOptional)] }),
  });
}

const httpRouteSpec = routeSpec('HTTPRoute', 'HTTP', httpFilters, {
  headers: matchList('HTTP request header matchers (all must match).', valueMatch('An HTTP request header matcher.', 4096)),
  method: enumOf('The HTTP method to match.', ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']),
  path: pathMatch,
  queryParams: matchList('HTTP query parameter matchers (all must match).', valueMatch('An HTTP query parameter matcher.', 1024)),
}, {
  matchesDefault: [{ path: { ...specDefaults.pathMatch } }],
  rulesDefault: [{ matches: [{ path: { ...specDefaults.pathMatch } }] }],
  matchesOptional: false,
  ruleFields: {
    timeouts: obj('Timeouts for requests.', {
      backendRequest: str('Timeout for one request from the gateway to a backend.', { pattern: durationPattern }),
      request: str('Timeout for the gateway to respond to a request.', { pattern: durationPattern }),
    }, { rules: [["!(has(self.request) && has(self.backendRequest) && duration(self.request) != duration('0s') && duration(self.backendRequest) > duration(self.request))", 'backendRequest timeout cannot be longer than request timeout']] }),
  },
  ruleRules: [
    ["(has(self.backendRefs) && size(self.backendRefs) > 0) ? (!has(self.filters) || self.filters.all(f, !has(f.requestRedirect))): true", 'RequestRedirect filter must not be used together with backendRefs'],
    replacePrefixNeedsOnePrefixMatch('requestRedirect', false),
    replacePrefixNeedsOnePrefixMatch('urlRewrite', false),
    replacePrefixNeedsOnePrefixMatch('requestRedirect', true),
    replacePrefixNeedsOnePrefixMatch('urlRewrite', true),
  ],
});

const grpcServiceChars = '^(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*$';
const grpcMethodChars = '^[A-Za-z_][A-Za-z_0-9]*$';
const grpcRouteSpec = routeSpec('GRPCRoute', 'gRPC', grpcFilters, {
  headers: matchList('gRPC request header matchers (all must match).', valueMatch('A gRPC request header matcher.', 4096)),
  method: obj('A gRPC service/method matcher.', {
    method: str('The method to match.', { maxLength: 1024 }),
    service: str('The service to match.', { maxLength: 1024 }),
    type: enumOf('How to match the service and method.', ['Exact', 'RegularExpression'], { default: specDefaults.headerMatchType }),
  }, {
    rules: [
      ["has(self.type) ? has(self.service) || has(self.method) : true", "One or both of 'service' or 'method' must be specified"],
      [`(!has(self.type) || self.type == 'Exact') && has(self.service) ? self.service.matches(r"""${grpcServiceChars}"""): true`, `service must only contain valid characters (matching ${grpcServiceChars})`],
      [`(!has(self.type) || self.type == 'Exact') && has(self.method) ? self.method.matches(r"""${grpcMethodChars}"""): true`, `method must only contain valid characters (matching ${grpcMethodChars})`],
    ],
  }),
}, { matchesOptional: true });

const referenceGrantSpec = obj('The desired state of the ReferenceGrant.', {
  'from!': arr('The namespaces and kinds trusted to refer to the resources in "to".', obj('Trusted namespaces and kinds.', {
    'group!': group('Group of the referent.'),
    'kind!': kind('Kind of the referent.'),
    'namespace!': namespace('Namespace of the referent.'),
  }), { maxItems: 16, minItems: 1 }),
  'to!': arr('The resources that may be referred to from "from".', obj('Kinds (and optionally a name) that may be referred to.', {
    'group!': group('Group of the referent.'),
    'kind!': kind('Kind of the referent.'),
    name: objectName('Name of the referent (all of the kind when unspecified).'),
  }), { maxItems: 16, minItems: 1 }),
});

// ---- the CRDs ----

interface Kind {
  kind: string;
  plural: string;
  shortNames?: string[];
  description: string;
  spec: JSONSchemaProps;
  specRequired: boolean;
  status?: JSONSchemaProps;
  columns: CustomResourceColumnDefinition[];
  /** the served versions, the storage version first */
  versions: string[];
  scope?: 'Namespaced' | 'Cluster';
}

const age: CustomResourceColumnDefinition = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
const hostnamesColumn: CustomResourceColumnDefinition = { name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' };

const kinds: Kind[] = [
  {
    kind: 'GatewayClass', plural: 'gatewayclasses', shortNames: ['gc'], scope: 'Cluster', versions: ['v1', 'v1beta1'],
    description: 'GatewayClass describes a class of Gateways available to the user for creating Gateway resources.',
    spec: gatewayClassSpec, specRequired: true, status: gatewayClassStatus,
    columns: [
      { name: 'Controller', type: 'string', jsonPath: '.spec.controllerName' },
      { name: 'Accepted', type: 'string', jsonPath: '.status.conditions[?(@.type=="Accepted")].status' },
      age,
      { name: 'Description', type: 'string', jsonPath: '.spec.description', priority: 1 },
    ],
  },
  {
    kind: 'Gateway', plural: 'gateways', shortNames: ['gtw'], versions: ['v1', 'v1beta1'],
    description: 'Gateway represents an instance of a service-traffic handling infrastructure by binding Listeners to a set of IP addresses.',
    spec: gatewaySpec, specRequired: true, status: gatewayStatus,
    columns: [
      { name: 'Class', type: 'string', jsonPath: '.spec.gatewayClassName' },
      { name: 'Address', type: 'string', jsonPath: '.status.addresses[*].value' },
      { name: 'Programmed', type: 'string', jsonPath: '.status.conditions[?(@.type=="Programmed")].status' },
      age,
    ],
  },
  {
    kind: 'HTTPRoute', plural: 'httproutes', versions: ['v1', 'v1beta1'],
    description: 'HTTPRoute provides a way to route HTTP requests: matching on host, path, headers, query parameters and method, filters, and forwarding to backends.',
    spec: httpRouteSpec, specRequired: true, status: routeStatus('HTTPRoute'), columns: [hostnamesColumn, age],
  },
  {
    kind: 'GRPCRoute', plural: 'grpcroutes', versions: ['v1'],
    description: 'GRPCRoute provides a way to route gRPC requests: matching on host, service, method and headers, filters, and forwarding to backends.',
    spec: grpcRouteSpec, specRequired: false, status: routeStatus('GRPCRoute'), columns: [hostnamesColumn, age],
  },
  {
    kind: 'ReferenceGrant', plural: 'referencegrants', shortNames: ['refgrant'], versions: ['v1beta1'],
    description: 'ReferenceGrant identifies kinds of resources in other namespaces that are trusted to reference the specified kinds of resources in the same namespace.',
    spec: referenceGrantSpec, specRequired: false, columns: [age],
  },
];

function openAPISchema(k: Kind): JSONSchemaProps {
  return {
    type: 'object',
    description: k.description,
    properties: {
      apiVersion: str('APIVersion defines the versioned schema of this representation of an object.'),
      kind: str('Kind is a string value representing the REST resource this object represents.'),
      metadata: { type: 'object' },
      spec: k.spec,
      ...(k.status ? { status: k.status } : {}),
    },
    ...(k.specRequired ? { required: ['spec'] } : {}),
  };
}

function crdOf(k: Kind): CustomResourceDefinition {
  const schema = openAPISchema(k);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${k.plural}.${gatewayGroup}`,
      annotations: {
        // the API review that approved the group (a *.k8s.io group needs one, or kube-apiserver flags the CRD)
        'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/gateway-api/pull/3328',
        'gateway.networking.k8s.io/bundle-version': gatewayAPIBundleVersion, 'gateway.networking.k8s.io/channel': 'standard' },
    },
    spec: {
      group: gatewayGroup,
      names: { categories: ['gateway-api'], kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, ...(k.shortNames ? { shortNames: k.shortNames } : {}), singular: k.kind.toLowerCase() },
      scope: k.scope ?? 'Namespaced',
      versions: k.versions.map((name, i) => ({
        name,
        served: true,
        storage: i === 0,
        additionalPrinterColumns: k.columns,
        // each version its own copy: the API server may default and store them independently
        schema: { openAPIV3Schema: structuredClone(schema) },
        ...(k.status ? { subresources: { status: {} } } : {}),
      })),
    },
  } as CustomResourceDefinition;
}

/**
 * The standard channel's five CRDs (GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant),
 * v1 stored where the channel serves it, v1beta1 served beside it (ReferenceGrant: v1beta1 only).
 */
export function gatewayCRDs(): CustomResourceDefinition[] {
  return kinds.map(crdOf);
}
