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
