// The pure parts of CustomResourceDefinitions: CRD validation, structural-schema validation,
// pruning and defaulting of custom objects, CEL rules, printer columns, and the naming
// controller's verdict.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorString, Path } from '../../src/api/errors.ts';
import { escapePropertyName, validateRules } from '../../src/api/apiextensions/cel.ts';
import { customResourcePrinter } from '../../src/api/apiextensions/printer.ts';
import { applySchemaDefaults, prune, validateValue } from '../../src/api/apiextensions/schema.ts';
import type { CustomResourceDefinition, JSONSchemaProps } from '../../src/api/apiextensions/types.ts';
import { defaultCustomResourceDefinition, validateCustomResourceDefinition, validateCustomResourceDefinitionUpdate } from '../../src/api/apiextensions/validation.ts';
import { desiredStatus, servedVersions } from '../../src/apiserver/apiextensions.ts';
import { compareKubeVersions } from '../../src/apiserver/discovery.ts';

function crd(over: Partial<CustomResourceDefinition['spec']> = {}, schema: JSONSchemaProps = { type: 'object' }): CustomResourceDefinition {
  const c: CustomResourceDefinition = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.io' },
    spec: {
      group: 'example.io',
      names: { kind: 'Widget', plural: 'widgets' },
      scope: 'Namespaced',
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: schema } }],
      ...over,
    },
  };
  defaultCustomResourceDefinition(c);
  return c;
}

const messages = (errs: Parameters<typeof errorString>[0][]) => errs.map(errorString);

describe('CustomResourceDefinition validation', () => {
  it('accepts a well-formed CRD and defaults singular, listKind and conversion', () => {
    const c = crd();
    assert.deepEqual(messages(validateCustomResourceDefinition(c)), []);
    assert.equal(c.spec.names.singular, 'widget');
    assert.equal(c.spec.names.listKind, 'WidgetList');
    assert.deepEqual(c.spec.conversion, { strategy: 'None' });
  });

  it('names the mistakes as upstream does', () => {
    const c = crd({ group: 'example', scope: 'Global', names: { kind: 'Widget', plural: 'widgets', listKind: 'Widget', shortNames: ['W'] } });
    assert.deepEqual(messages(validateCustomResourceDefinition(c)), [
      'metadata.name: Invalid value: "widgets.example.io": must be spec.names.plural+"."+spec.group',
      'spec.group: Invalid value: "example": should be a domain with at least one dot',
      'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
      `spec.names.shortNames[0]: Invalid value: "W": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
      'spec.names.listKind: Invalid value: "Widget": kind and listKind may not be the same',
    ]);
  });

  it('requires exactly one storage version and a structural schema', () => {
    const c = crd({}, { type: 'object', properties: { spec: { properties: { list: { type: 'array' } } }, metadata: { type: 'object', properties: { labels: { type: 'object' } } } } });
    c.spec.versions.push({ name: 'v2', served: true, storage: true });
    const got = messages(validateCustomResourceDefinition(c));
    assert.ok(got.some((m) => m.startsWith('spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{') && m.endsWith(': must have exactly one version marked as storage version')), got.join('\n'));
    assert.ok(got.includes('spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields'));
    assert.ok(got.includes('spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[list].items: Required value: must be specified'));
    assert.ok(got.includes('spec.versions[0].schema.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified'));
    assert.ok(got.includes('spec.versions[1].schema.openAPIV3Schema: Required value: schemas are required'));
  });

  it('refuses a CEL rule that does not compile and a default that does not validate', () => {
    const c = crd({}, { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-validations': [{ rule: 'self.a ==' }], properties: { n: { type: 'integer', default: 'x' } } } } });
    const got = messages(validateCustomResourceDefinition(c));
    assert.ok(got.some((m) => m.startsWith('spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "self.a ==": compilation failed: ')), got.join('\n'));
    assert.ok(got.includes('spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[n].default: Invalid value: "string": spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[n].default in body must be of type integer: "string"'), got.join('\n'));
  });

  it('keeps group, plural and, once established, kind and scope', () => {
    const old = crd();
    old.status = { conditions: [{ type: 'Established', status: 'True' }] };
    const next = crd({ scope: 'Cluster', names: { kind: 'Gadget', plural: 'widgets' } });
    old.metadata.resourceVersion = next.metadata.resourceVersion = '7';
    assert.deepEqual(messages(validateCustomResourceDefinitionUpdate(next, old)), [
      'spec.scope: Invalid value: "Cluster": field is immutable',
      'spec.names.kind: Invalid value: "Gadget": field is immutable',
    ]);
  });
});

const routeSchema: JSONSchemaProps = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', maxLength: 5, pattern: '^[a-z]+$' },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        mode: { type: 'string', enum: ['A', 'B'], default: 'A' },
        size: { 'x-kubernetes-int-or-string': true },
        tags: { type: 'array', maxItems: 2, items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
  },
};

describe('custom objects against their schema', () => {
  it('prunes undeclared fields, keeping preserved and map values', () => {
    const o = { apiVersion: 'example.io/v1', kind: 'Widget', metadata: {}, spec: { name: 'a', extra: 1, labels: { x: 'y' }, free: { any: { thing: 1 } } }, other: true };
    assert.deepEqual(prune(o, routeSchema), ['spec.extra', 'other']);
    assert.deepEqual(o.spec, { name: 'a', labels: { x: 'y' }, free: { any: { thing: 1 } } });
  });

  it('fills in defaults', () => {
    const o = { spec: { name: 'a' } };
    applySchemaDefaults(o, routeSchema);
    assert.deepEqual(o.spec, { name: 'a', mode: 'A' });
  });

  it("reports violations with kube-openapi's messages", () => {
    const o = { spec: { name: 'TooLongName', port: 0, mode: 'C', size: true, tags: ['a', 'a', 'b'], labels: { k: 1 } } };
    assert.deepEqual(messages(validateValue(o, routeSchema, Path.root())), [
      'spec.name: Too long: may not be more than 5 bytes',
      "spec.name: Invalid value: \"TooLongName\": spec.name in body should match '^[a-z]+$'",
      'spec.port: Invalid value: 0: spec.port in body should be greater than or equal to 1',
      'spec.mode: Unsupported value: "C": supported values: "A", "B"',
      'spec.size: Invalid value: "boolean": spec.size in body must be of type integer,string: "boolean"',
      'spec.tags: Too many: 3: must have at most 2 items',
      'spec.tags[1]: Duplicate value: "a"',
      'spec.labels[k]: Invalid value: "integer": spec.labels[k] in body must be of type string: "integer"',
    ]);
    assert.deepEqual(messages(validateValue({ spec: {} }, routeSchema, Path.root())), ['spec.name: Required value']);
  });

  it('evaluates CEL rules, transition rules on updates only', () => {
    const s: JSONSchemaProps = {
      type: 'object',
      properties: { spec: { type: 'object', properties: { min: { type: 'integer' }, max: { type: 'integer' } }, 'x-kubernetes-validations': [{ rule: 'self.min <= self.max', message: 'min must not exceed max' }, { rule: 'self.max >= oldSelf.max', reason: 'FieldValueForbidden', message: 'max may not shrink' }] } },
    };
    assert.deepEqual(messages(validateRules({ spec: { min: 1, max: 2 } }, undefined, s, Path.root())), []);
    assert.deepEqual(messages(validateRules({ spec: { min: 3, max: 2 } }, undefined, s, Path.root())), ['spec: Invalid value: "object": min must not exceed max']);
    assert.deepEqual(messages(validateRules({ spec: { min: 1, max: 2 } }, { spec: { min: 1, max: 5 } }, s, Path.root())), ['spec: Forbidden: max may not shrink']);
    const withExpression: JSONSchemaProps = { type: 'object', 'x-kubernetes-validations': [{ rule: 'self.n < 3', messageExpression: "'n is ' + string(self.n) + ', at most 2'", message: 'too big' }] };
    assert.deepEqual(messages(validateRules({ n: 5 }, undefined, withExpression, Path.root('spec'))), ['spec: Invalid value: "object": n is 5, at most 2']);
    assert.deepEqual(messages(validateRules({ spec: { min: 1 } }, undefined, s, Path.root())), ['spec: Invalid value: "object": field not found: max evaluating rule: self.min <= self.max']);
  });

  it('names reserved and punctuated properties as Kubernetes escapes them', () => {
    assert.deepEqual(['namespace', 'a-b', 'x.y', 'p/q', 'a__b', 'name', '1st', 'sp ace'].map(escapePropertyName), ['__namespace__', 'a__dash__b', 'x__dot__y', 'p__slash__q', 'a__underscores__b', 'name', undefined, undefined]);
    const s: JSONSchemaProps = { type: 'object', properties: { namespace: { type: 'string' }, labels: { type: 'object', additionalProperties: { type: 'string' } } }, 'x-kubernetes-validations': [{ rule: "has(self.__namespace__) && self.__namespace__ == 'ns' && self.labels['app-name'] == 'x'" }] };
    assert.deepEqual(messages(validateRules({ namespace: 'ns', labels: { 'app-name': 'x' } }, undefined, s, Path.root('spec'))), []);
  });

  it("offers Kubernetes' isIP, isCIDR and isURL and the strings extension", () => {
    const s: JSONSchemaProps = { type: 'array', items: { type: 'string' }, 'x-kubernetes-validations': [{ rule: 'self.all(h, !isIP(h))', message: 'Hostnames cannot contain an IP' }, { rule: 'self.all(h, h.split(".").size() < 4 || isCIDR(h + "/8") || isURL("http://" + h))' }] };
    assert.deepEqual(messages(validateRules(['a.example.com'], undefined, s, Path.root('spec', 'hostnames'))), []);
    assert.deepEqual(messages(validateRules(['a.example.com', '10.0.0.1'], undefined, s, Path.root('spec', 'hostnames'))), ['spec.hostnames: Invalid value: "array": Hostnames cannot contain an IP']);
  });
});

describe('custom kinds served', () => {
  it('prints Name and the printer columns through their JSONPaths', () => {
    const p = customResourcePrinter([
      { name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' },
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas', priority: 1 },
      { name: 'Missing', type: 'string', jsonPath: '.spec.nothing' },
    ]);
    assert.deepEqual(p.columns.map((c) => [c.name, c.type, c.priority]), [['Name', 'string', 0], ['Hostnames', 'string', 0], ['Ready', 'string', 0], ['Replicas', 'integer', 1], ['Missing', 'string', 0]]);
    const row = p.row({ apiVersion: 'x/v1', kind: 'X', metadata: { name: 'a' }, spec: { hostnames: ['a.example.com'], replicas: 2 }, status: { conditions: [{ type: 'Other', status: 'False' }, { type: 'Ready', status: 'True' }] } }, 0);
    assert.deepEqual(row.cells, ['a', '["a.example.com"]', 'True', 2, null]);
    assert.deepEqual(customResourcePrinter(undefined).columns.map((c) => [c.name, c.type]), [['Name', 'string'], ['Age', 'date']]);
  });

  it('accepts names, or says which one is taken', () => {
    const a = crd();
    const first = desiredStatus(a, [a], '2026-01-01T00:00:00Z')!;
    assert.deepEqual(first.status?.conditions?.map((c) => [c.type, c.status, c.reason]), [['NamesAccepted', 'True', 'NoConflicts'], ['Established', 'True', 'InitialNamesAccepted']]);
    assert.equal(desiredStatus(first, [first], '2026-01-01T00:00:01Z'), undefined);
    const b = crd({ names: { kind: 'Gadget', plural: 'widgets2', singular: 'gadget', shortNames: ['widgets'] } });
    b.metadata.name = 'widgets2.example.io';
    const conflict = desiredStatus(b, [first, b], '2026-01-01T00:00:00Z')!;
    assert.deepEqual(conflict.status?.conditions?.map((c) => [c.type, c.status, c.reason, c.message]), [['NamesAccepted', 'False', 'ShortNamesConflict', '"widgets" is already in use'], ['Established', 'False', 'NotAccepted', 'not all names are accepted']]);
    assert.equal(conflict.metadata.finalizers, undefined);
  });

  it('serves each served version under the accepted names, stored at the storage version', () => {
    const c = crd();
    c.spec.versions.push({ name: 'v1beta1', served: true, storage: false, subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' } } });
    c.spec.versions.push({ name: 'v1alpha1', served: false, storage: false });
    const served = servedVersions(c);
    assert.deepEqual(served.map((s) => [s.rt.version, s.rt.custom?.storageVersion, s.rt.subresources.map((x) => x.name)]), [['v1', 'v1', []], ['v1beta1', 'v1', ['status', 'scale']]]);
    assert.deepEqual(['v1alpha1', 'v1', 'v2beta1', 'v1beta1', 'foo', 'v2'].sort(compareKubeVersions), ['v2', 'v1', 'v2beta1', 'v1beta1', 'v1alpha1', 'foo']);
  });
});
