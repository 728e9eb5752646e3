// The OpenAPI v3 document of a custom group-version (apiextensions-apiserver's openapi
// builder, trimmed to schemas): each kind's schema from its CRD version, metadata as a
// reference to ObjectMeta, the List kind, tagged with x-kubernetes-group-version-kind so
// `kubectl explain` finds them.
import type { JSONSchemaProps } from '../../api/apiextensions/types.ts';
import type { ResourceType } from '../../api/resources.ts';
import { render } from './render.ts';
import { v3Wrapper, type Schema, type SchemaCatalog } from './schemas.ts';

const objectMeta = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const listMeta = 'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta';

/** example.io + v1 + Widget -> io.example.v1.Widget (the reversed group, as upstream names CR definitions). */
export function definitionName(group: string, version: string, kind: string): string {
  return [...group.split('.').reverse(), version, kind].join('.');
}

const apiVersionDoc =
  'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources';
const kindDoc =
  'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds';
const metadataDoc = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

export interface CustomKindSchema {
  rt: ResourceType;
  schema: JSONSchemaProps | undefined;
}

/** GroupName+Version for operation ids: gateway.example.io v1 -> GatewayExampleIoV1. */
function operationWord(rt: ResourceType): string {
  const cap = (w: string) => w.charAt(0).toUpperCase() + w.slice(1);
  return `${rt.group.split(/[.-]/).map(cap).join('')}${cap(rt.version)}`;
}

/**
 * The read operation of each kind (kubectl explain finds a resource's kind through the
 * x-kubernetes-group-version-kind of its path's get); upstream's document has every verb.
 */
function readPath(rt: ResourceType): [string, Schema] {
  const prefix = `/apis/${rt.group}/${rt.version}${rt.namespaced ? '/namespaces/{namespace}' : ''}`;
  const ref = { $ref: definitionName(rt.group, rt.version, rt.kind) };
  const content = Object.fromEntries(['application/json', 'application/yaml'].map((t) => [t, { schema: ref }]));
  return [
    `${prefix}/${rt.resource}/{name}`,
    {
      get: {
        description: `read the specified ${rt.kind}`,
        operationId: `read${operationWord(rt)}${rt.namespaced ? 'Namespaced' : ''}${rt.kind}`,
        responses: { '200': { content, description: 'OK' }, '401': { description: 'Unauthorized' } },
        tags: [`${rt.group}/${rt.version}`],
        'x-kubernetes-action': 'get',
        'x-kubernetes-group-version-kind': { group: rt.group, kind: rt.kind, version: rt.version },
      },
      parameters: [
        { description: `name of the ${rt.kind}`, in: 'path', name: 'name', required: true, schema: { type: 'string', uniqueItems: true } },
        ...(rt.namespaced ? [{ description: 'object name and auth scope, such as for teams and projects', in: 'path', name: 'namespace', required: true, schema: { type: 'string', uniqueItems: true } }] : []),
      ],
    },
  ];
}

export function customV3Document(catalog: SchemaCatalog, kinds: CustomKindSchema[], serverVersion: string): unknown {
  const schemas: Schema = {};
  const paths: Schema = Object.fromEntries(kinds.map((k) => readPath(k.rt)));
  for (const { rt, schema } of kinds) {
    const gvk = [{ group: rt.group, kind: rt.kind, version: rt.version }];
    const s = structuredClone(schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }) as Schema;
    const props = { ...((s.properties as Schema | undefined) ?? {}) };
    props.apiVersion = { type: 'string', description: apiVersionDoc };
    props.kind = { type: 'string', description: kindDoc };
    props.metadata = { $ref: objectMeta, description: metadataDoc };
    schemas[definitionName(rt.group, rt.version, rt.kind)] = { ...s, properties: props, 'x-kubernetes-group-version-kind': gvk };
    schemas[definitionName(rt.group, rt.version, rt.listKind)] = {
      type: 'object',
      description: `${rt.listKind} is a list of ${rt.kind}`,
      required: ['items'],
      properties: {
        apiVersion: { type: 'string', description: apiVersionDoc },
        items: { type: 'array', description: `List of ${rt.resource}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md`, items: { $ref: definitionName(rt.group, rt.version, rt.kind) } },
        kind: { type: 'string', description: kindDoc },
        metadata: { $ref: listMeta, description: 'Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds' },
      },
      'x-kubernetes-group-version-kind': [{ group: rt.group, kind: rt.listKind, version: rt.version }],
    };
  }
  for (const d of catalog.closure([objectMeta, listMeta])) schemas[d.name] = v3Wrapper(d.name, d.schema);
  return render({ openapi: '3.0.0', info: { title: 'Kubernetes CRD Swagger', version: serverVersion }, paths, components: { schemas } }, 'v3');
}
