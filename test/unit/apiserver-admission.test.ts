// The DefaultIngressClass admission plugin as pure functions: which class is the default
// (upstream's getDefaultClass) and when a new Ingress gets it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { admitDefaultIngressClass, getDefaultClass } from '../../src/apiserver/admission.ts';
import type { Ingress, IngressClass } from '../../src/api/types.ts';

const ic = (name: string, created: string, isDefault?: string): IngressClass => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name, creationTimestamp: created, ...(isDefault !== undefined ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': isDefault } } : {}) },
  spec: { controller: 'podpath.dev/ingress' },
});
const ing = (spec: Ingress['spec'], annotations?: Record<string, string>): Ingress => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name: 'web', namespace: 'default', ...(annotations ? { annotations } : {}) },
  spec,
});
const backend = { service: { name: 'web', port: { number: 80 } } };

describe('getDefaultClass', () => {
  it('is undefined without a class annotated exactly "true"', () => {
    assert.equal(getDefaultClass([]), undefined);
    assert.equal(getDefaultClass([ic('a', '2026-01-01T00:00:00Z'), ic('b', '2026-01-01T00:00:00Z', 'false'), ic('c', '2026-01-01T00:00:00Z', 'True')]), undefined);
  });

  it('picks the only default among others', () => {
    assert.equal(getDefaultClass([ic('a', '2026-01-02T00:00:00Z'), ic('b', '2026-01-01T00:00:00Z', 'true')])?.metadata.name, 'b');
  });

  it('picks the newest of several defaults, whatever the list order', () => {
    const classes = [ic('a', '2026-01-01T00:00:00Z', 'true'), ic('z', '2026-01-01T00:00:02Z', 'true'), ic('m', '2026-01-01T00:00:01Z', 'true'), ic('newest-but-not-default', '2026-01-02T00:00:00Z')];
    assert.equal(getDefaultClass(classes)?.metadata.name, 'z');
    assert.equal(getDefaultClass([...classes].reverse())?.metadata.name, 'z');
  });

  it('breaks a creationTimestamp tie by name, ascending', () => {
    const t = '2026-01-01T00:00:00Z';
    assert.equal(getDefaultClass([ic('b', t, 'true'), ic('c', t, 'true'), ic('a', t, 'true')])?.metadata.name, 'a');
  });
});

describe('admitDefaultIngressClass', () => {
  const classes = () => [ic('nginx', '2026-01-01T00:00:00Z', 'true')];

  it('fills spec.ingressClassName when neither the field nor the legacy annotation is set', () => {
    const o = ing({ defaultBackend: backend });
    admitDefaultIngressClass(o, classes);
    assert.deepEqual(o.spec, { defaultBackend: backend, ingressClassName: 'nginx' });
  });

  it('keeps an explicit class, even an empty one', () => {
    for (const name of ['other', '']) {
      const o = ing({ ingressClassName: name, defaultBackend: backend });
      admitDefaultIngressClass(o, classes);
      assert.equal(o.spec?.ingressClassName, name);
    }
  });

  it('leaves an Ingress with the legacy annotation alone, whatever its value', () => {
    for (const value of ['haproxy', '']) {
      const o = ing({ defaultBackend: backend }, { 'kubernetes.io/ingress.class': value });
      admitDefaultIngressClass(o, () => assert.fail('the classes are not listed'));
      assert.equal(o.spec?.ingressClassName, undefined);
    }
  });

  it('sets nothing when there is no default class', () => {
    const o = ing({ defaultBackend: backend });
    admitDefaultIngressClass(o, () => [ic('plain', '2026-01-01T00:00:00Z')]);
    assert.equal(o.spec?.ingressClassName, undefined);
  });
});
