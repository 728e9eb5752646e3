// The pods/ephemeralcontainers subresource's validation, as kube-apiserver's: an ephemeral
// container is a valid container whose name is unique among all the pod's containers, whose
// target is one of the pod's own containers, and which sets none of what serves or reserves
// (ports, probes, lifecycle, resources); once added it is neither changed nor removed; and no pod
// is created with one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPod } from '../../src/api/defaults.ts';
import type { EphemeralContainer, Pod } from '../../src/api/types.ts';
import { validatePod, validatePodEphemeralContainersUpdate } from '../../src/api/validation/core.ts';
import type { ApiError } from '../../src/api/errors.ts';
import { findResource } from '../../src/api/resources.ts';
import { ClusterIPAllocator, PortAllocator } from '../../src/apiserver/allocators.ts';
import type { RawBody } from '../../src/apiserver/decode.ts';
import { ephemeralContainersOf, isLegacyEphemeralClient, podBodyOfEphemeralContainers, podPatchOfEphemeralContainers } from '../../src/apiserver/ephemeralcontainers.ts';
import { Registry } from '../../src/apiserver/registry.ts';
import { ServiceAllocations } from '../../src/apiserver/serviceips.ts';
import { Store } from '../../src/apiserver/storage/store.ts';

function pod(ephemeral: EphemeralContainer[] = []): Pod {
  const p = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: 'u1', resourceVersion: '5', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { containers: [{ name: 'app', image: 'busybox' }], initContainers: [{ name: 'setup', image: 'busybox' }], ...(ephemeral.length ? { ephemeralContainers: ephemeral } : {}) },
  } as Pod;
  defaultPod(p);
  return p;
}

/** Each error as `field: type: detail` (or the bad value). */
const errs = (p: Pod, old: Pod) => validatePodEphemeralContainersUpdate(p, old).map((e) => `${e.field}: ${e.type}${e.detail ? `: ${e.detail}` : ` ${JSON.stringify(e.badValue)}`}`);

describe('pods/ephemeralcontainers validation', () => {
  it('accepts a debugging container targeting one of the pod’s containers', () => {
    assert.deepEqual(errs(pod([{ name: 'debugger', image: 'busybox', targetContainerName: 'app', stdin: true, tty: true }]), pod()), []);
  });

  it('refuses ports, probes, lifecycle and resources, each named', () => {
    const ec = { name: 'debugger', image: 'busybox', ports: [{ containerPort: 80 }], readinessProbe: { exec: { command: ['true'] } }, lifecycle: { preStop: { exec: { command: ['true'] } } }, resources: { limits: { cpu: '1' } } } as unknown as EphemeralContainer;
    assert.deepEqual(errs(pod([ec]), pod()), [
      'spec.ephemeralContainers[0].ports: FieldValueForbidden: cannot be set for an Ephemeral Container',
      'spec.ephemeralContainers[0].resources: FieldValueForbidden: cannot be set for an Ephemeral Container',
      'spec.ephemeralContainers[0].readinessProbe: FieldValueForbidden: cannot be set for an Ephemeral Container',
      'spec.ephemeralContainers[0].lifecycle: FieldValueForbidden: cannot be set for an Ephemeral Container',
    ]);
  });

  it('refuses a name another container has (regular, init or ephemeral) and a target that is not the pod’s', () => {
    assert.deepEqual(errs(pod([{ name: 'app', image: 'busybox' }]), pod()), ['spec.ephemeralContainers[0].name: FieldValueDuplicate "app"']);
    assert.deepEqual(errs(pod([{ name: 'setup', image: 'busybox' }]), pod()), ['spec.ephemeralContainers[0].name: FieldValueDuplicate "setup"']);
    assert.deepEqual(errs(pod([{ name: 'd', image: 'busybox' }, { name: 'd', image: 'alpine' }]), pod()), ['spec.ephemeralContainers[1].name: FieldValueDuplicate "d"']);
    assert.deepEqual(errs(pod([{ name: 'd', image: 'busybox' }, { name: 'e', image: 'busybox', targetContainerName: 'd' }]), pod()), ['spec.ephemeralContainers[1].targetContainerName: FieldValueNotFound "d"']);
    assert.deepEqual(errs(pod([{ name: 'Bad_Name', image: '' }]), pod()).map((e) => /^\S+ [A-Za-z]+/.exec(e)![0]), ['spec.ephemeralContainers[0].name: FieldValueInvalid', 'spec.ephemeralContainers[0].image: FieldValueRequired']);
  });

  it('keeps every ephemeral container once added: none removed, none changed', () => {
    const old = pod([{ name: 'd', image: 'busybox' }]);
    assert.deepEqual(errs(pod([]), old), ['spec.ephemeralContainers: FieldValueForbidden: existing ephemeral containers "d" may not be removed\n']);
    assert.deepEqual(errs(pod([{ name: 'd', image: 'alpine' }]), old), ['spec.ephemeralContainers: FieldValueForbidden: existing ephemeral containers "d" may not be changed\n']);
    assert.deepEqual(errs(pod([{ name: 'd', image: 'busybox' }, { name: 'e', image: 'busybox' }]), old), []);
  });

  it('refuses a pod created with ephemeral containers', () => {
    assert.ok(validatePod(pod([{ name: 'd', image: 'busybox' }])).some((e) => e.field === 'spec.ephemeralContainers' && e.detail === 'cannot be set on create'));
    assert.deepEqual(validatePod(pod()), []);
  });
});

describe('the pods/ephemeralcontainers subresource in the registry', () => {
  const pods = findResource('', 'v1', 'pods')!;
  const raw = (o: unknown, contentType = 'application/json'): RawBody => {
    const text = JSON.stringify(o);
    return { text, contentType, bytes: Buffer.from(text) };
  };
  async function registryWithPod(): Promise<Registry> {
    const registry = new Registry(new Store(null), { allocations: new ServiceAllocations(new ClusterIPAllocator('10.96.0.0/12'), PortAllocator.parse('30000-32767')) });
    await registry.create({ rt: findResource('', 'v1', 'namespaces')!, query: new URLSearchParams() }, raw({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } }));
    await registry.create({ rt: pods, namespace: 'default', query: new URLSearchParams() }, raw({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { a: '1' } }, spec: { containers: [{ name: 'app', image: 'busybox' }] } }));
    return registry;
  }
  const ctx = { rt: pods, namespace: 'default', name: 'web', query: new URLSearchParams() };

  it('takes spec.ephemeralContainers alone from an update, defaulted', async () => {
    const registry = await registryWithPod();
    const pod = structuredClone(registry.get(pods, 'default', 'web')) as Pod;
    pod.metadata.labels = { a: 'changed' };
    pod.spec.containers[0]!.image = 'alpine';
    pod.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', stdin: true, tty: true }];
    const { object } = await registry.updateEphemeralContainers(ctx, raw(pod));
    const out = object as Pod;
    assert.deepEqual(out.metadata.labels, { a: '1' }, 'labels are not the subresource’s');
    assert.equal(out.spec.containers[0]!.image, 'busybox', 'nor are the other containers');
    assert.equal(out.spec.ephemeralContainers![0]!.terminationMessagePolicy, 'File');
    assert.equal(out.spec.ephemeralContainers![0]!.imagePullPolicy, 'Always');
    const entry = out.metadata.managedFields!.find((e) => e.subresource === 'ephemeralcontainers');
    assert.ok(entry && JSON.stringify(entry.fieldsV1).includes('"f:ephemeralContainers"'), 'the write is recorded as the subresource’s');
  });

  it('merges a strategic patch by container name, and refuses one that breaks the rules with the Pod’s Invalid', async () => {
    const registry = await registryWithPod();
    const sm = 'application/strategic-merge-patch+json';
    await registry.patch(ctx, raw({ spec: { ephemeralContainers: [{ name: 'a', image: 'busybox' }] } }, sm), 'ephemeralcontainers');
    const { object } = await registry.patch(ctx, raw({ spec: { ephemeralContainers: [{ name: 'b', image: 'busybox' }] } }, sm), 'ephemeralcontainers');
    assert.deepEqual((object as Pod).spec.ephemeralContainers!.map((c) => c.name), ['a', 'b']);
    await assert.rejects(registry.patch(ctx, raw({ spec: { ephemeralContainers: [{ name: 'c', image: 'busybox', ports: [{ containerPort: 80 }] }] } }, sm), 'ephemeralcontainers'), (e: ApiError) => {
      assert.equal(e.status.code, 422);
      assert.equal(e.status.message, 'Pod "web" is invalid: spec.ephemeralContainers[2].ports: Forbidden: cannot be set for an Ephemeral Container');
      return true;
    });
    // the ordinary update cannot change them
    const pod = structuredClone(registry.get(pods, 'default', 'web')) as Pod;
    pod.spec.ephemeralContainers = [];
    await assert.rejects(registry.update(ctx, raw(pod)), (e: ApiError) => e.status.code === 422);
  });

  it('takes the EphemeralContainers form of servers before 1.22 (PUT, merge and JSON patches) and reads it back for their clients', async () => {
    const registry = await registryWithPod();
    assert.deepEqual(['kubectl/v1.20.2 (linux/amd64) kubernetes/faecb19', 'kubectl/v1.21.0 (linux/amd64) kubernetes/x', 'kubectl/v1.32.3 (linux/amd64) kubernetes/x', 'curl/8.0', undefined].map(isLegacyEphemeralClient), [true, true, false, false, false]);
    // what kubectl 1.20 PUTs: no name, no resourceVersion
    const body = podBodyOfEphemeralContainers(raw({ kind: 'EphemeralContainers', apiVersion: 'v1', metadata: { creationTimestamp: null }, ephemeralContainers: [{ name: 'dbg', image: 'busybox', terminationMessagePolicy: 'File' }] }))!;
    const { object } = await registry.updateEphemeralContainers(ctx, body);
    const ec = ephemeralContainersOf(object as Pod) as unknown as { kind: string; metadata: { name: string }; ephemeralContainers: { name: string }[] };
    assert.deepEqual([ec.kind, ec.metadata.name, ec.ephemeralContainers.map((c) => c.name)], ['EphemeralContainers', 'web', ['dbg']]);
    assert.equal(podBodyOfEphemeralContainers(raw({ kind: 'Pod', apiVersion: 'v1', metadata: {} })), undefined, 'a Pod body stays as it is');
    const merge = podPatchOfEphemeralContainers(raw({ ephemeralContainers: [{ name: 'two', image: 'busybox' }] }, 'application/strategic-merge-patch+json'))!;
    await registry.patch(ctx, merge, 'ephemeralcontainers');
    const json = podPatchOfEphemeralContainers(raw([{ op: 'add', path: '/ephemeralContainers/-', value: { name: 'three', image: 'busybox' } }], 'application/json-patch+json'))!;
    const out = (await registry.patch(ctx, json, 'ephemeralcontainers')).object as Pod;
    assert.deepEqual(out.spec.ephemeralContainers!.map((c) => c.name), ['dbg', 'two', 'three']);
    assert.equal(podPatchOfEphemeralContainers(raw({ spec: { ephemeralContainers: [] } })), undefined, 'a patch of the Pod stays as it is');
  });
});
