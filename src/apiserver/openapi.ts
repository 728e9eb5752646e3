// OpenAPI v3 documents. They declare, per kind, the operations and the `fieldValidation`
// parameter, which is what kubectl reads to hand validation to the server (and so to accept
// `kubectl apply` without --validate=false). Schemas are not published: kubectl then merges
// with its compiled-in types, which are upstream's own.
import { createHash } from 'node:crypto';
import { groupVersions, resourceTypes, type ResourceType } from '../api/resources.ts';
import { serverVersion } from './discovery.ts';

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

function opId(verb: string, r: ResourceType, namespaced: boolean): string {
  const g = r.group ? r.group.split('.')[0]!.replace(/^./, (c) => c.toUpperCase()) : 'Core';
  const v = r.version.replace(/^./, (c) => c.toUpperCase());
  return `${verb}${g}${v}${namespaced ? 'Namespaced' : ''}${r.kind}`;
}

const queryParam = (name: string) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });

function resourcePaths(r: ResourceType): Record<string, unknown> {
  const gvk = { group: r.group, version: r.version, kind: r.kind };
  const base = `/${gvPath(r.group, r.version)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.resource}`;
  const op = (verb: string, action: string, params: string[]) => ({
    operationId: opId(verb, r, r.namespaced),
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    parameters: params.map(queryParam),
    responses: { '200': { description: 'OK' } },
  });
  return {
    [base]: {
      get: op('list', 'list', ['labelSelector', 'fieldSelector', 'limit', 'resourceVersion', 'watch']),
      post: op('create', 'post', ['dryRun', 'fieldManager', 'fieldValidation']),
      delete: op('deleteCollection', 'deletecollection', ['labelSelector', 'fieldSelector']),
    },
    [`${base}/{name}`]: {
      get: op('read', 'get', []),
      put: op('replace', 'put', ['dryRun', 'fieldManager', 'fieldValidation']),
      patch: op('patch', 'patch', ['dryRun', 'fieldManager', 'fieldValidation', 'force']),
      delete: op('delete', 'delete', ['dryRun', 'gracePeriodSeconds', 'propagationPolicy']),
    },
  };
}

export function openapiDoc(group: string, version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const r of resourceTypes) if (r.group === group && r.version === version) Object.assign(paths, resourcePaths(r));
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: serverVersion.gitVersion }, paths, components: { schemas: {} } };
}

const docHashes = new Map<string, string>();

function hashOf(group: string, version: string): string {
  const key = gvPath(group, version);
  let h = docHashes.get(key);
  if (!h) {
    h = createHash('sha512').update(JSON.stringify(openapiDoc(group, version))).digest('hex').slice(0, 128).toUpperCase();
    docHashes.set(key, h);
  }
  return h;
}

export function openapiRoot(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const gv of groupVersions()) {
    const p = gvPath(gv.group, gv.version);
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hashOf(gv.group, gv.version)}` };
  }
  return { paths };
}

/** The document for `/openapi/v3/<path>`, or undefined. */
export function openapiFor(pathAfterV3: string): Record<string, unknown> | undefined {
  for (const gv of groupVersions()) if (gvPath(gv.group, gv.version) === pathAfterV3) return openapiDoc(gv.group, gv.version);
  return undefined;
}

// ---- OpenAPI v2 (older kubectl, e.g. Debian's 1.20, asks for it before every apply) ----

function pbField(num: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(num << 3) | 2]), varint(payload.length), payload]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/**
 * A Swagger 2.0 document without definitions, in JSON and in gnostic's protobuf form
 * (openapi_v2.Document: swagger=1, info=2 {title=1, version=2}, paths=8). kubectl skips
 * client-side validation of kinds the document does not define and leaves checks to the server.
 */
export function openapiV2(): { json: Record<string, unknown>; proto: Buffer } {
  const title = 'Kubernetes';
  const version = serverVersion.gitVersion;
  const info = Buffer.concat([pbField(1, Buffer.from(title)), pbField(2, Buffer.from(version))]);
  const proto = Buffer.concat([pbField(1, Buffer.from('2.0')), pbField(2, info), pbField(8, Buffer.alloc(0))]);
  return { json: { swagger: '2.0', info: { title, version }, paths: {} }, proto };
}
