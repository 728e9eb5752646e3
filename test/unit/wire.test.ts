// Objects as kube-apiserver prints them (Go's encoding/json with upstream's json tags).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../src/api/types.ts';
import { normalizeInPlace, wireObject, wireValue } from '../../src/api/wire.ts';

describe('wire form', () => {
  it('drops the empty maps and lists omitempty drops, at every level', () => {
    const cm = wireObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', annotations: {}, labels: {}, finalizers: [] }, data: {} } as KubeObject);
    assert.deepEqual(cm, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', creationTimestamp: null } });
    const spec = wireValue('V1PodSpec', { containers: [{ name: 'a', env: [], ports: [] }], nodeSelector: {}, tolerations: [] });
    assert.deepEqual(spec, { containers: [{ name: 'a', resources: {} }] });
  });

  it('keeps lists without omitempty, printing an unset one as null', () => {
    assert.deepEqual(wireValue('V1PodSpec', {}), { containers: null });
    assert.deepEqual(wireValue('V1PodSpec', { containers: [] }), { containers: [] });
    const slice = wireObject({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's', creationTimestamp: 't' }, addressType: 'IPv4', endpoints: [] } as KubeObject);
    assert.deepEqual(slice.endpoints, []);
    assert.equal(slice.ports, null);
  });

  it('prints value structs and unset Times as Go does, but not pointer Times', () => {
    const d = wireObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', creationTimestamp: 't' }, spec: { selector: {}, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c' }] } } } } as KubeObject);
    assert.deepEqual(d.spec, { selector: {}, template: { metadata: { labels: { a: 'b' }, creationTimestamp: null }, spec: { containers: [{ name: 'c', resources: {} }] } }, strategy: {} });
    assert.deepEqual(d.status, {});
    assert.equal('deletionTimestamp' in d.metadata, false);
    const cond = wireValue('V1PodStatus', { conditions: [{ type: 'Ready', status: 'True' }] });
    assert.deepEqual(cond, { conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: null }] });
    const svc = wireObject({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's', creationTimestamp: 't' }, spec: { ports: [{ port: 80, targetPort: 80 }] } } as KubeObject);
    assert.deepEqual(svc.status, { loadBalancer: {} });
  });

  it('keeps a zero scalar unless its field is a value-typed omitempty counter', () => {
    const d = wireValue('V1DeploymentSpec', { replicas: 0, minReadySeconds: 0, paused: false, selector: {}, template: {} });
    assert.equal(d.replicas, 0, 'a *int32 prints its 0');
    assert.equal('minReadySeconds' in d, false);
    const st = wireValue('V1ReplicaSetStatus', { replicas: 0, readyReplicas: 0, availableReplicas: 0, observedGeneration: 2 });
    assert.deepEqual(st, { replicas: 0, observedGeneration: 2 });
    assert.deepEqual(wireValue('V1ContainerStatus', { name: 'c', image: 'i', imageID: '' }), { name: 'c', image: 'i', imageID: '', ready: false, restartCount: 0, state: {}, lastState: {} });
  });

  it('normalizes in place, keeping the objects the caller holds', () => {
    const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', annotations: {} }, data: { a: 'b' } } as KubeObject;
    const meta = obj.metadata;
    normalizeInPlace(obj);
    assert.equal(obj.metadata, meta);
    assert.deepEqual(obj, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', creationTimestamp: null }, data: { a: 'b' } });
  });

  it('is idempotent and leaves kinds it does not serve alone', () => {
    const once = wireObject({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'd', creationTimestamp: 't' }, spec: { selector: {}, template: {} } } as KubeObject);
    assert.deepEqual(wireObject(structuredClone(once)), once);
    const other = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', annotations: {} } } as KubeObject;
    assert.deepEqual(wireObject(other), other);
  });
});
