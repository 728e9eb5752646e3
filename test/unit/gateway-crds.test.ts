// podpath's own Gateway API CRDs (src/gateway/crds.ts): they pass the API server's CRD
// validation (structural schemas, every CEL rule compiles), and objects written against them are
// pruned, defaulted and validated as the API server does it — the spec's defaults, its limits and
// its CEL rules with their messages.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorString, Path } from '../../src/api/errors.ts';
import { validateRules } from '../../src/api/apiextensions/cel.ts';
import { customResourcePrinter } from '../../src/api/apiextensions/printer.ts';
import { applySchemaDefaults, prune, validateValue } from '../../src/api/apiextensions/schema.ts';
import type { CustomResourceDefinition } from '../../src/api/apiextensions/types.ts';
import { defaultCustomResourceDefinition, validateCustomResourceDefinition } from '../../src/api/apiextensions/validation.ts';
import type { KubeObject } from '../../src/api/types.ts';
import { gatewayAPIBundleVersion, gatewayCRDs } from '../../src/gateway/crds.ts';
import { defaultGateway, defaultHTTPRoute } from '../../src/gateway/defaults.ts';
import type { Gateway, HTTPRoute } from '../../src/gateway/types.ts';

const crds = gatewayCRDs();
const crdOf = (kind: string) => crds.find((c) => c.spec.names.kind === kind)!;
const schemaOf = (kind: string) => crdOf(kind).spec.versions.find((v) => v.storage)!.schema!.openAPIV3Schema!;

/** What the API server does with a custom object on write: prune, default, validate the schema and the CEL rules. */
function admit(kind: string, o: Record<string, unknown>, old?: Record<string, unknown>): { obj: Record<string, unknown>; errors: string[]; pruned: string[] } {
  const s = schemaOf(kind);
  const { metadata: _m, ...value } = structuredClone(o);
  const pruned = prune(value, s);
  applySchemaDefaults(value, s);
  const oldBody = old ? (({ metadata: _o, ...rest }) => rest)(structuredClone(old)) : undefined;
  if (oldBody) applySchemaDefaults(oldBody, s);
  const errors = [...validateValue(value, s, Path.root()), ...validateRules(value, oldBody, s, Path.root())].map(errorString);
  return { obj: value, errors, pruned };
}

const route = (spec: Record<string, unknown>) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'default' }, spec });
const gateway = (listeners: unknown[]) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'g', namespace: 'default' }, spec: { gatewayClassName: 'podpath', listeners } });

describe('the Gateway API CRDs', () => {
  it('are the five standard-channel kinds, and each passes CRD validation (structural schema, every CEL rule compiles)', () => {
    assert.deepEqual(crds.map((c) => c.metadata.name), ['gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'referencegrants'].map((p) => `${p}.gateway.networking.k8s.io`));
    for (const c of crds) {
      const copy = structuredClone(c) as CustomResourceDefinition;
      defaultCustomResourceDefinition(copy as KubeObject);
      assert.deepEqual(validateCustomResourceDefinition(copy as KubeObject).map(errorString), [], c.metadata.name);
      assert.equal(c.metadata.annotations?.['gateway.networking.k8s.io/bundle-version'], gatewayAPIBundleVersion);
      assert.equal(c.metadata.annotations?.['gateway.networking.k8s.io/channel'], 'standard');
      assert.deepEqual(c.spec.names.categories, ['gateway-api']);
    }
  });

  it('serve the versions the standard channel serves, with its names and scopes', () => {
    const versions = Object.fromEntries(crds.map((c) => [c.spec.names.kind, c.spec.versions.map((v) => `${v.name}${v.storage ? '*' : ''}`)]));
    assert.deepEqual(versions, { GatewayClass: ['v1*', 'v1beta1'], Gateway: ['v1*', 'v1beta1'], HTTPRoute: ['v1*', 'v1beta1'], GRPCRoute: ['v1*'], ReferenceGrant: ['v1beta1*'] });
    assert.deepEqual(crdOf('GatewayClass').spec.names.shortNames, ['gc']);
    assert.deepEqual(crdOf('Gateway').spec.names.shortNames, ['gtw']);
    assert.deepEqual(crdOf('ReferenceGrant').spec.names.shortNames, ['refgrant']);
    assert.equal(crdOf('GatewayClass').spec.scope, 'Cluster');
    assert.equal(crdOf('Gateway').spec.scope, 'Namespaced');
    assert.ok(crdOf('Gateway').spec.versions.every((v) => v.subresources?.status));
    assert.equal(crdOf('ReferenceGrant').spec.versions[0]!.subresources, undefined);
  });

  it("print kubectl's columns: gateway CLASS ADDRESS PROGRAMMED AGE, gatewayclass CONTROLLER ACCEPTED AGE DESCRIPTION, httproute HOSTNAMES AGE", () => {
    const cols = (kind: string) => customResourcePrinter(crdOf(kind).spec.versions[0]!.additionalPrinterColumns).columns.map((c) => `${c.name}${c.priority ? `(${c.priority})` : ''}`);
    assert.deepEqual(cols('Gateway'), ['Name', 'Class', 'Address', 'Programmed', 'Age']);
    assert.deepEqual(cols('GatewayClass'), ['Name', 'Controller', 'Accepted', 'Age', 'Description(1)']);
    assert.deepEqual(cols('HTTPRoute'), ['Name', 'Hostnames', 'Age']);
    assert.deepEqual(cols('GRPCRoute'), ['Name', 'Hostnames', 'Age']);
    const row = customResourcePrinter(crdOf('Gateway').spec.versions[0]!.additionalPrinterColumns).row(
      { ...gateway([]), metadata: { name: 'web', creationTimestamp: '2026-01-01T00:00:00Z' }, status: { addresses: [{ value: '10.0.0.5' }], conditions: [{ type: 'Accepted', status: 'True' }, { type: 'Programmed', status: 'True' }] } } as KubeObject,
      Date.parse('2026-01-01T00:01:00Z'),
    );
    assert.deepEqual(row.cells, ['web', 'podpath', '10.0.0.5', 'True', '60s']);
  });
});

describe('objects against the Gateway API CRDs', () => {
  it('default an HTTPRoute as the spec says: no matches is PathPrefix "/", backendRef weight 1 kind Service, parentRef group and kind', () => {
    const { obj, errors } = admit('HTTPRoute', route({ parentRefs: [{ name: 'web' }], rules: [{ backendRefs: [{ name: 'app', port: 80 }] }] }));
    assert.deepEqual(errors, []);
    const spec = obj.spec as HTTPRoute['spec'];
    assert.deepEqual(spec.rules![0]!.matches, [{ path: { type: 'PathPrefix', value: '/' } }]);
    assert.deepEqual(spec.rules![0]!.backendRefs, [{ group: '', kind: 'Service', name: 'app', port: 80, weight: 1 }]);
    assert.deepEqual(spec.parentRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'web' }]);
    // podpath's offline defaulting (gateway route on files) agrees with the schema's
    assert.deepEqual(defaultHTTPRoute(route({ parentRefs: [{ name: 'web' }], rules: [{ backendRefs: [{ name: 'app', port: 80 }] }] }) as HTTPRoute).spec, spec);
  });

  it('default a route with no rules to one rule matching every request, and a path match without a value to "/"', () => {
    assert.deepEqual((admit('HTTPRoute', route({})).obj.spec as HTTPRoute['spec']).rules, [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }]);
    const { obj } = admit('HTTPRoute', route({ rules: [{ matches: [{ path: { type: 'Exact' } }, { headers: [{ name: 'X-V', value: '2' }] }] }] }));
    assert.deepEqual((obj.spec as HTTPRoute['spec']).rules![0]!.matches, [{ path: { type: 'Exact', value: '/' } }, { path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'X-V', value: '2', type: 'Exact' }] }]);
  });

  it('default a Gateway: routes from the Same namespace, TLS mode Terminate, certificateRefs to Secrets, and the "Waiting for controller" status', () => {
    const tls = { certificateRefs: [{ name: 'cert' }] };
    const { obj, errors } = admit('Gateway', gateway([{ name: 'http', port: 80, protocol: 'HTTP' }, { name: 'https', port: 443, protocol: 'HTTPS', tls }]));
    assert.deepEqual(errors, []);
    const spec = obj.spec as Gateway['spec'];
    assert.deepEqual(spec.listeners[0]!.allowedRoutes, { namespaces: { from: 'Same' } });
    assert.deepEqual(spec.listeners[1]!.tls, { mode: 'Terminate', certificateRefs: [{ group: '', kind: 'Secret', name: 'cert' }] });
    assert.deepEqual(defaultGateway(gateway([{ name: 'http', port: 80, protocol: 'HTTP' }, { name: 'https', port: 443, protocol: 'HTTPS', tls }]) as Gateway).spec, spec);
    const conds = (obj.status as { conditions: { type: string; status: string; reason: string; message: string }[] }).conditions;
    assert.deepEqual(conds.map((c) => [c.type, c.status, c.reason, c.message]), [['Accepted', 'Unknown', 'Pending', 'Waiting for controller'], ['Programmed', 'Unknown', 'Pending', 'Waiting for controller']]);
    const gc = admit('GatewayClass', { kind: 'GatewayClass', metadata: { name: 'x' }, spec: { controllerName: 'example.com/gw' } });
    assert.deepEqual(gc.errors, []);
    assert.deepEqual((gc.obj.status as { conditions: { type: string }[] }).conditions.map((c) => c.type), ['Accepted']);
  });

  it('refuse values outside the schema: enums, patterns, limits, required fields (kube-openapi messages)', () => {
    const { errors } = admit('HTTPRoute', route({
      hostnames: ['Bad_Host'],
      parentRefs: [{ kind: 'Gateway' }],
      rules: [{ matches: [{ path: { type: 'Glob', value: '/x' }, method: 'FETCH' }], backendRefs: [{ name: 'a', port: 70000 }] }],
    }));
    assert.ok(errors.includes(`spec.hostnames[0]: Invalid value: "Bad_Host": spec.hostnames[0] in body should match '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'`), errors.join('\n'));
    assert.ok(errors.includes('spec.parentRefs[0].name: Required value'), errors.join('\n'));
    assert.ok(errors.includes('spec.rules[0].matches[0].path.type: Unsupported value: "Glob": supported values: "Exact", "PathPrefix", "RegularExpression"'), errors.join('\n'));
    assert.ok(errors.includes('spec.rules[0].matches[0].method: Unsupported value: "FETCH": supported values: "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"'), errors.join('\n'));
    assert.ok(errors.includes('spec.rules[0].backendRefs[0].port: Invalid value: 70000: spec.rules[0].backendRefs[0].port in body should be less than or equal to 65535'), errors.join('\n'));
    const many = admit('HTTPRoute', route({ hostnames: Array.from({ length: 17 }, (_, i) => `h${i}.example.com`) }));
    assert.deepEqual(many.errors, ['spec.hostnames: Too many: 17: must have at most 16 items']);
    assert.deepEqual(admit('Gateway', gateway([])).errors.filter((e) => e.startsWith('spec.listeners:')), ['spec.listeners: Invalid value: 0: spec.listeners in body should have at least 1 items']);
  });

  it("enforce the spec's CEL rules with their messages", () => {
    const pathErr = admit('HTTPRoute', route({ rules: [{ matches: [{ path: { type: 'PathPrefix', value: 'api' } }] }] })).errors;
    assert.deepEqual(pathErr, ["spec.rules[0].matches[0].path: Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"]);
    assert.deepEqual(admit('HTTPRoute', route({ rules: [{ matches: [{ path: { value: '/a//b' } }] }] })).errors, ["spec.rules[0].matches[0].path: Invalid value: \"object\": must not contain '//' when type one of ['Exact', 'PathPrefix']"]);
    assert.deepEqual(admit('HTTPRoute', route({ rules: [{ matches: [{ path: { value: '/a b' } }] }] })).errors, [`spec.rules[0].matches[0].path: Invalid value: "object": must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']`]);
    assert.deepEqual(admit('HTTPRoute', route({ parentRefs: [{ name: 'web' }, { name: 'web', sectionName: 'http' }] })).errors, ['spec.parentRefs: Invalid value: "array": sectionName must be specified when parentRefs includes 2 or more references to the same parent']);
    assert.deepEqual(admit('HTTPRoute', route({ rules: [{ backendRefs: [{ name: 'app' }] }] })).errors, ['spec.rules[0].backendRefs[0]: Invalid value: "object": Must have port for Service reference']);
    assert.deepEqual(admit('HTTPRoute', route({ rules: [{ filters: [{ type: 'URLRewrite', requestRedirect: { statusCode: 301 } }] }] })).errors, [
      'spec.rules[0].filters[0]: Invalid value: "object": filter.requestRedirect must be nil if the filter.type is not RequestRedirect',
      'spec.rules[0].filters[0]: Invalid value: "object": filter.urlRewrite must be specified for URLRewrite filter.type',
    ]);
    assert.deepEqual(admit('HTTPRoute', route({ rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } }], backendRefs: [{ name: 'a', port: 80 }] }] })).errors, ['spec.rules[0]: Invalid value: "object": RequestRedirect filter must not be used together with backendRefs']);
    assert.deepEqual(admit('HTTPRoute', route({ rules: [{ timeouts: { request: '1s', backendRequest: '2s' } }] })).errors, ['spec.rules[0].timeouts: Invalid value: "object": backendRequest timeout cannot be longer than request timeout']);
    const urlRewrite = { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } } };
    assert.deepEqual(admit('HTTPRoute', route({ rules: [{ matches: [{ path: { type: 'Exact', value: '/v1' } }], filters: [urlRewrite] }] })).errors, ['spec.rules[0]: Invalid value: "object": When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified']);
    assert.deepEqual(admit('HTTPRoute', route({ rules: [{ matches: [{ path: { value: '/v1' } }], filters: [urlRewrite] }] })).errors, []);

    assert.deepEqual(admit('Gateway', gateway([{ name: 'http', port: 80, protocol: 'HTTP', tls: { certificateRefs: [{ name: 'c' }] } }])).errors, ["spec.listeners: Invalid value: \"array\": tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"]);
    assert.deepEqual(admit('Gateway', gateway([{ name: 'a', port: 80, protocol: 'HTTP' }, { name: 'b', port: 80, protocol: 'HTTP' }])).errors, ['spec.listeners: Invalid value: "array": Combination of port, protocol and hostname must be unique for each listener']);
    assert.deepEqual(admit('Gateway', gateway([{ name: 'tls', port: 443, protocol: 'HTTPS', tls: { mode: 'Terminate', certificateRefs: [], options: {} } }])).errors, ['spec.listeners[0].tls: Invalid value: "object": certificateRefs or options must be specified when mode is Terminate']);
  });

  it("keep a GatewayClass's controllerName (a transition rule, on update only)", () => {
    const gc = (controllerName: string) => ({ kind: 'GatewayClass', metadata: { name: 'x' }, spec: { controllerName } });
    assert.deepEqual(admit('GatewayClass', gc('example.com/a')).errors, []);
    assert.deepEqual(admit('GatewayClass', gc('example.com/b'), gc('example.com/a')).errors, ['spec.controllerName: Invalid value: "string": Value is immutable']);
  });

  it('validate GRPCRoute and ReferenceGrant objects too', () => {
    const grpc = admit('GRPCRoute', { kind: 'GRPCRoute', metadata: { name: 'g' }, spec: { rules: [{ matches: [{ method: { service: 'bad service' } }], backendRefs: [{ name: 'grpc', port: 9000 }] }] } });
    assert.deepEqual(grpc.errors, ['spec.rules[0].matches[0].method: Invalid value: "object": service must only contain valid characters (matching ^(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*$)']);
    assert.deepEqual((grpc.obj.spec as { rules: { backendRefs: unknown[] }[] }).rules[0]!.backendRefs, [{ group: '', kind: 'Service', name: 'grpc', port: 9000, weight: 1 }]);
    const rg = admit('ReferenceGrant', { kind: 'ReferenceGrant', metadata: { name: 'rg' }, spec: { from: [{ group: gatewayGroupName, kind: 'HTTPRoute', namespace: 'web' }], to: [] } });
    assert.deepEqual(rg.errors, ['spec.to: Invalid value: 0: spec.to in body should have at least 1 items']);
  });
});

const gatewayGroupName = 'gateway.networking.k8s.io';
