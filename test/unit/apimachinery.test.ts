// Label selectors, field selectors, field errors and Status messages, schema decoding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregate, errors, field, GoRepr, Path } from '../../src/api/errors.ts';
import { fieldsMatch, parseFieldSelector } from '../../src/api/fields.ts';
import { formatLabelSelector, fromLabelSelector, matches, parseSelector, selectorString, SelectorParseError } from '../../src/api/labels.ts';
import { decodeObject, DecodeError } from '../../src/api/schema.ts';
import type { KubeObject } from '../../src/api/types.ts';

describe('label selectors', () => {
  it('parse and match every operator', () => {
    const sel = parseSelector('app=web,tier in (a, b),!legacy,env!=prod,track notin (canary),release');
    assert.equal(selectorString(sel), 'app=web,env!=prod,!legacy,release,tier in (a,b),track notin (canary)');
    assert.ok(matches(sel, { app: 'web', tier: 'a', release: '1' }));
    assert.ok(!matches(sel, { app: 'web', tier: 'c', release: '1' }));
    assert.ok(!matches(sel, { app: 'web', tier: 'a', release: '1', legacy: 'y' }));
    assert.ok(!matches(sel, { app: 'web', tier: 'a', release: '1', env: 'prod' }));
    assert.ok(matches(parseSelector('x>3'), { x: '4' }) && !matches(parseSelector('x>3'), { x: '3' }));
    assert.ok(matches(parseSelector(''), {}));
  });
  it('report bad selectors', () => {
    assert.throws(() => parseSelector('app=web,'), SelectorParseError);
    assert.throws(() => parseSelector('app in ()'), /values set can't be empty/);
    assert.throws(() => parseSelector('a b'), SelectorParseError);
  });
  it('format LabelSelectors as metav1.FormatLabelSelector', () => {
    assert.equal(formatLabelSelector({ matchLabels: { b: '2', a: '1' } }), 'a=1,b=2');
    assert.equal(formatLabelSelector({}), '<none>');
    assert.equal(formatLabelSelector({ matchExpressions: [{ key: 'k', operator: 'DoesNotExist' }] }), '!k');
    assert.ok(fromLabelSelector(undefined).nothing, 'a missing selector selects nothing');
  });
});

describe('field selectors', () => {
  it('select by metadata and by kind-specific fields', () => {
    const pod = { metadata: { name: 'p', namespace: 'n' }, spec: { nodeName: 'node1' }, status: { phase: 'Running' } } as unknown as KubeObject;
    assert.ok(fieldsMatch('pods', parseFieldSelector('metadata.name=p,spec.nodeName=node1'), pod));
    assert.ok(!fieldsMatch('pods', parseFieldSelector('status.phase!=Running'), pod));
  });
});

describe('field errors and Status', () => {
  it('print values the way Go does', () => {
    const p = Path.root('spec').child('ports').index(0).child('port');
    assert.equal(aggregate([field.invalid(p, 0, 'must be between 1 and 65535, inclusive')]), 'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive');
    assert.equal(aggregate([field.required(Path.root('spec', 'ports'))]), 'spec.ports: Required value');
    assert.equal(aggregate([field.notSupported(Path.root('spec', 'type'), 'X', ['A', 'B'])]), 'spec.type: Unsupported value: "X": supported values: "A", "B"');
    assert.equal(aggregate([field.invalid(Path.root('x'), ['a', 'b'], 'd')]), 'x: Invalid value: []string{"a", "b"}: d');
    assert.equal(aggregate([field.invalid(Path.root('x'), new GoRepr('T{}'), 'd'), field.forbidden(Path.root('y'), 'no')]), '[x: Invalid value: T{}: d, y: Forbidden: no]');
    assert.equal(aggregate([field.invalid(Path.root('m').key('k.io/a'), 'say "hi"\n', 'd')]), 'm[k.io/a]: Invalid value: "say \\"hi\\"\\n": d');
  });
  it('build Status objects with upstream reasons and details', () => {
    const e = errors.invalid('apps', 'Deployment', 'web', [field.required(Path.root('spec', 'selector'))]);
    assert.deepEqual(e.status, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Deployment.apps "web" is invalid: spec.selector: Required value',
      reason: 'Invalid',
      details: { name: 'web', group: 'apps', kind: 'Deployment', causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.selector' }] },
      code: 422,
    });
    assert.equal(errors.notFound({ group: 'apps', resource: 'deployments' }, 'web').message, 'deployments.apps "web" not found');
  });
});

describe('schema decoding', () => {
  it('finds unknown fields with their paths and drops them', () => {
    const r = decodeObject('V1Service', { metadata: { name: 'x', foo: 1 }, spec: { ports: [{ port: 80, bar: 2 }] } });
    assert.deepEqual(r.unknown, ['metadata.foo', 'spec.ports[0].bar']);
    assert.deepEqual(r.value, { metadata: { name: 'x' }, spec: { ports: [{ port: 80 }] } });
  });
  it('reports a type mismatch as Go\'s JSON decoder does', () => {
    assert.throws(() => decodeObject('V1Deployment', { spec: { replicas: 'two' } }), (e: Error) => e instanceof DecodeError && e.message === 'json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32');
    assert.throws(() => decodeObject('V1Service', { spec: { ports: {} } }), /cannot unmarshal object into Go struct field ServiceSpec.spec.ports of type \[\]v1.ServicePort/);
    assert.throws(() => decodeObject('V1Service', { spec: { ports: [{ port: 1.5 }] } }), /cannot unmarshal number 1.5 into Go struct field ServicePort.spec.ports.port of type int32/);
  });
  it('accepts ints and strings where the schema says int-or-string, and numbers as quantities', () => {
    const r = decodeObject('V1Pod', { spec: { containers: [{ name: 'a', ports: [{ containerPort: 80 }], resources: { limits: { cpu: 1, memory: '64Mi' } }, readinessProbe: { httpGet: { port: 'http' } } }] } });
    assert.deepEqual((r.value as any).spec.containers[0].resources.limits, { cpu: '1', memory: '64Mi' });
  });
});
