// Strategic merge patch with the directives kubectl generates, JSON merge patch, JSON patch,
// and server-side apply's field sets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fieldSetOf, toFieldsV1 } from '../../src/api/fieldset.ts';
import { jsonPatch, mergePatch } from '../../src/api/patch/merge.ts';
import { recordUpdate, serverSideApply } from '../../src/api/patch/apply.ts';
import { strategicMerge, PatchError } from '../../src/api/patch/strategic.ts';
import type { KubeObject } from '../../src/api/types.ts';

const service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', labels: { app: 'web', tier: 'front' } },
  spec: {
    selector: { app: 'web' },
    ports: [
      { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 },
      { name: 'https', port: 443, protocol: 'TCP', targetPort: 8443 },
    ],
  },
};

const deployment = {
  spec: {
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    template: {
      spec: {
        containers: [
          { name: 'app', image: 'app:1', args: ['a', 'b'], env: [{ name: 'X', value: '1' }] },
          { name: 'sidecar', image: 'side:1' },
        ],
      },
    },
  },
};

describe('strategic merge patch', () => {
  it('merges a list by its merge key, deleting with $patch and ordering with $setElementOrder', () => {
    // What kubectl apply sends when 443 is dropped and 8080 added before 80.
    const patch = {
      spec: {
        '$setElementOrder/ports': [{ port: 8080 }, { port: 80 }],
        ports: [{ name: 'alt', port: 8080, targetPort: 9090 }, { $patch: 'delete', port: 443 }],
      },
    };
    const out = strategicMerge(service, patch, 'V1Service') as typeof service;
    assert.deepEqual(
      out.spec.ports.map((p) => [p.port, p.targetPort]),
      [
        [8080, 9090],
        [80, 8080],
      ],
    );
  });

  it('merges containers by name and replaces their atomic lists', () => {
    const patch = { spec: { template: { spec: { containers: [{ name: 'app', image: 'app:2', args: ['c'] }] } } } };
    const out = strategicMerge(deployment, patch, 'V1Deployment') as typeof deployment;
    const [app, side] = out.spec.template.spec.containers;
    assert.equal(app!.image, 'app:2');
    assert.deepEqual(app!.args, ['c']);
    assert.deepEqual(app!.env, [{ name: 'X', value: '1' }], 'untouched fields stay');
    assert.equal(side!.image, 'side:1', 'other containers stay');
  });

  it('clears keys outside $retainKeys (switching the deployment strategy)', () => {
    const patch = { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null } } };
    const out = strategicMerge(deployment, patch, 'V1Deployment') as { spec: { strategy: unknown } };
    assert.deepEqual(out.spec.strategy, { type: 'Recreate' });
  });

  it('unions primitive lists and removes with $deleteFromPrimitiveList', () => {
    const obj = { metadata: { finalizers: ['a', 'b'] } };
    const out = strategicMerge(obj, { metadata: { finalizers: ['c'], '$deleteFromPrimitiveList/finalizers': ['a'] } }, 'V1ConfigMap') as typeof obj;
    assert.deepEqual(out.metadata.finalizers, ['b', 'c']);
  });

  it('replaces a map with $patch: replace and deletes keys set to null', () => {
    const out = strategicMerge(service, { metadata: { labels: { $patch: 'replace', only: 'this' } }, spec: { selector: null } }, 'V1Service') as Record<string, any>;
    assert.deepEqual(out.metadata.labels, { only: 'this' });
    assert.equal(out.spec.selector, undefined);
  });

  it('rejects a merge-key list item without its key', () => {
    assert.throws(() => strategicMerge(service, { spec: { ports: [{ name: 'x' }] } }, 'V1Service'), PatchError);
  });

  it('does not modify its input', () => {
    const before = JSON.stringify(service);
    strategicMerge(service, { spec: { ports: [{ port: 80, targetPort: 1 }] } }, 'V1Service');
    assert.equal(JSON.stringify(service), before);
  });
});

describe('merge patch and JSON patch', () => {
  it('applies RFC 7396 merge patches', () => {
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] }), { a: 1, b: { d: 3, e: 4 }, f: [1] });
  });
  it('applies RFC 6902 operations and reports a missing path', () => {
    assert.deepEqual(jsonPatch({ a: [1] }, [{ op: 'add', path: '/a/-', value: 2 }]), { a: [1, 2] });
    assert.throws(() => jsonPatch({ a: 1 }, [{ op: 'replace', path: '/b/c', value: 2 }]), /replace operation does not apply: doc is missing path: "\/b\/c"/);
  });
});

describe('managed fields and server-side apply', () => {
  const ctx = (manager: string) => ({ manager, apiVersion: 'v1', model: 'V1Service', now: '2026-01-01T00:00:00Z' });

  it('encodes field sets as fieldsV1 with list-map keys, "." for maps and lists', () => {
    const fields = toFieldsV1(fieldSetOf(service, 'V1Service'));
    assert.deepEqual(fields, {
      'f:metadata': { 'f:labels': { '.': {}, 'f:app': {}, 'f:tier': {} } },
      'f:spec': {
        'f:ports': {
          '.': {},
          'k:{"port":443,"protocol":"TCP"}': { '.': {}, 'f:name': {}, 'f:port': {}, 'f:protocol': {}, 'f:targetPort': {} },
          'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:name': {}, 'f:port': {}, 'f:protocol': {}, 'f:targetPort': {} },
        },
        'f:selector': {},
      },
    });
  });

  it('records an update manager, and a later apply of a changed owned field conflicts unless forced', () => {
    const live = structuredClone(service) as KubeObject;
    recordUpdate(undefined, live, ctx('kubectl-create'));
    const applied = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'other' } } } as KubeObject;
    assert.throws(
      () => serverSideApply(live, applied, ctx('kubectl'), { force: false }, { group: '', resource: 'services' }),
      (e: { status?: { code: number; message: string; details?: { causes?: { field?: string }[] } } }) =>
        e.status?.code === 409 && e.status.message === 'Apply failed with 1 conflict: conflict with "kubectl-create" using v1: .spec.selector' && e.status.details?.causes?.[0]?.field === '.spec.selector',
    );
    const merged = serverSideApply(live, applied, ctx('kubectl'), { force: true }, { group: '', resource: 'services' });
    assert.deepEqual((merged.spec as { selector: unknown }).selector, { app: 'other' });
    const managers = merged.metadata.managedFields!.map((m) => `${m.manager}/${m.operation}`);
    assert.deepEqual(managers.sort(), ['kubectl-create/Update', 'kubectl/Apply']);
  });

  it('removes what a manager stops applying, but not what others own', () => {
    const first = serverSideApply(undefined, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1', b: '2' } } as KubeObject, { ...ctx('mgr'), model: 'V1ConfigMap' }, { force: false }, { group: '', resource: 'configmaps' });
    const second = serverSideApply(first, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } } as KubeObject, { ...ctx('mgr'), model: 'V1ConfigMap' }, { force: false }, { group: '', resource: 'configmaps' });
    assert.deepEqual(second.data, { a: '1' });
  });
});
