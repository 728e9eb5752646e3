// The OpenAPI schemas built from build/openapi-models.json carry upstream's definition names and
// the merge metadata src/api/patchmeta.ts declares (one table for SMP, SSA and OpenAPI).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { declaredListMeta } from '../../src/api/patchmeta.ts';
import { resourceTypes } from '../../src/api/resources.ts';
import { servedCatalog, v2Document, v3Document } from '../../src/apiserver/openapi/documents.ts';
import { encodeSwagger } from '../../src/apiserver/openapi/gnostic.ts';
import { loadModelData } from '../../src/apiserver/openapi/models.ts';

type Doc = { components: { schemas: Record<string, any> } };

describe('OpenAPI schemas', () => {
  const catalog = servedCatalog(loadModelData(), resourceTypes);
  const core = v3Document(catalog, { group: '', version: 'v1' }, resourceTypes, 'v1.33.0') as Doc;
  const apps = v3Document(catalog, { group: 'apps', version: 'v1' }, resourceTypes, 'v1.33.0') as Doc;
  const prop = (doc: Doc, def: string, field: string) => {
    const d = doc.components.schemas[def];
    assert.ok(d, `no definition ${def}`);
    return d.properties[field];
  };

  it('names definitions where upstream defines them', () => {
    for (const name of ['io.k8s.api.core.v1.PodTemplateSpec', 'io.k8s.api.apps.v1.DeploymentSpec', 'io.k8s.api.autoscaling.v1.Scale', 'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector', 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'io.k8s.apimachinery.pkg.util.intstr.IntOrString']) {
      assert.ok(apps.components.schemas[name], name);
    }
    assert.deepEqual(prop(core, 'io.k8s.api.core.v1.Container', 'name').type, 'string');
    assert.deepEqual(core.components.schemas['io.k8s.api.core.v1.Container'].required, ['name']);
    assert.deepEqual(prop(core, 'io.k8s.api.core.v1.ServicePort', 'port'), { description: 'The port that will be exposed by this service.', format: 'int32', type: 'integer' });
  });

  it('carries patchmeta\'s list types, merge keys and strategies', () => {
    assert.deepEqual(pick(prop(core, 'io.k8s.api.core.v1.PodSpec', 'containers')), { 'x-kubernetes-list-map-keys': ['name'], 'x-kubernetes-list-type': 'map', 'x-kubernetes-patch-merge-key': 'name', 'x-kubernetes-patch-strategy': 'merge' });
    assert.deepEqual(pick(prop(core, 'io.k8s.api.core.v1.ServiceSpec', 'ports')), { 'x-kubernetes-list-map-keys': ['port', 'protocol'], 'x-kubernetes-list-type': 'map', 'x-kubernetes-patch-merge-key': 'port', 'x-kubernetes-patch-strategy': 'merge' });
    assert.equal(prop(core, 'io.k8s.api.core.v1.PodSpec', 'volumes')['x-kubernetes-patch-strategy'], 'merge,retainKeys');
    assert.deepEqual(pick(prop(core, 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'finalizers')), { 'x-kubernetes-list-type': 'set', 'x-kubernetes-patch-strategy': 'merge' });
    assert.equal(prop(core, 'io.k8s.api.core.v1.ServiceSpec', 'selector')['x-kubernetes-map-type'], 'atomic');
    assert.equal(core.components.schemas['io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference']['x-kubernetes-map-type'], 'atomic');
    assert.equal(prop(apps, 'io.k8s.api.apps.v1.DeploymentSpec', 'strategy')['x-kubernetes-patch-strategy'], 'retainKeys');
    // Lists patchmeta does not declare stay unmarked (atomic, upstream's default).
    assert.deepEqual(pick(prop(core, 'io.k8s.api.core.v1.Container', 'args')), {});
  });

  it('agrees with patchmeta on every list of every served document', () => {
    const gvs = [...new Map(resourceTypes.map((r) => [`${r.group}/${r.version}`, r])).values()];
    for (const gv of gvs) {
      const doc = v3Document(catalog, gv, resourceTypes, 'v1.33.0') as Doc;
      for (const [name, def] of Object.entries(doc.components.schemas)) {
        const model = Object.entries(loadModelData().models).find(([, m]) => m.name === name)?.[0];
        for (const [field, p] of Object.entries<any>(def.properties ?? {})) {
          if (p.type !== 'array' || !model) continue;
          const lm = declaredListMeta(model, field);
          assert.equal(p['x-kubernetes-list-type'], lm?.ssa, `${name}.${field}`);
          assert.equal(p['x-kubernetes-patch-merge-key'], lm?.mergeKey, `${name}.${field}`);
        }
      }
    }
  });

  it('encodes v2 as gnostic protobuf with each definition named once', () => {
    const v2 = v2Document(catalog, resourceTypes, 'v1.33.0') as { definitions: Record<string, unknown> };
    const pb = encodeSwagger(v2 as Record<string, unknown>);
    assert.equal(pb.subarray(0, 5).toString('latin1'), '\n\u00032.0');
    for (const name of Object.keys(v2.definitions)) assert.ok(pb.includes(Buffer.from(`\n${String.fromCharCode(name.length)}${name}`)), name);
  });
});

function pick(p: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(p).filter(([k]) => k.startsWith('x-kubernetes-')));
}
