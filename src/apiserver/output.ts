// What a read answers with, by the request's negotiated shape (negotiation.ts): the object
// (JSON, YAML or protobuf), a meta.k8s.io Table with upstream's columns, or
// PartialObjectMetadata (JSON or protobuf).
import YAML from 'yaml';
import { errors } from '../api/errors.ts';
import { printerFor } from '../api/printers.ts';
import { apiVersionOf, type ResourceType } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { Shape } from './negotiation.ts';
import { outward } from './views.ts';
import { encodeResponseObject, protobufMediaType } from './protobuf.ts';

/** A response body's bytes and the Content-Type that names them. */
export interface Encoded {
  contentType: string;
  payload: string | Buffer;
}

/**
 * The body in the negotiated shape's media type. Protobuf is the k8s envelope of the body's
 * kind; a body the table cannot carry throws ProtoError (the caller falls back to JSON).
 */
export function encodeBody(body: unknown, shape: Shape): Encoded {
  switch (shape.kind) {
    case 'object':
      if (shape.format === 'protobuf') return { contentType: protobufMediaType, payload: encodeResponseObject(body as Record<string, unknown>) };
      return shape.format === 'yaml' ? { contentType: 'application/yaml', payload: YAML.stringify(body) } : { contentType: 'application/json', payload: JSON.stringify(body) };
    case 'table':
      return { contentType: `application/json;as=Table;v=${shape.version};g=meta.k8s.io`, payload: JSON.stringify(body) };
    case 'metadata':
      if (shape.format === 'protobuf') return { contentType: `${protobufMediaType};as=PartialObjectMetadata;v=${shape.version};g=meta.k8s.io`, payload: encodeResponseObject(body as Record<string, unknown>) };
      return { contentType: `application/json;as=PartialObjectMetadata;v=${shape.version};g=meta.k8s.io`, payload: JSON.stringify(body) };
  }
}

export function partialMetadata(obj: KubeObject, version: string): Record<string, unknown> {
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: obj.metadata };
}

type IncludeObject = 'None' | 'Metadata' | 'Object';

export function includeObjectOf(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  if (v === null || v === '') return 'Metadata';
  if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
  throw errors.badRequest(`includeObject must be one of "None", "Metadata" or "Object"`);
}

/** A Table for `objs`; `withColumns` false leaves columnDefinitions null (later watch events). */
export function toTable(rt: ResourceType, objs: KubeObject[], resourceVersion: string, version: string, include: IncludeObject, withColumns = true): Record<string, unknown> {
  const printer = rt.custom?.printer ?? printerFor(rt.kind);
  const now = Date.now();
  const rows = objs.map((o) => {
    const data = printer.row(o, now);
    const row: Record<string, unknown> = { cells: data.cells };
    if (data.conditions) row.conditions = data.conditions;
    if (include === 'Metadata') row.object = partialMetadata(o, version);
    else if (include === 'Object') row.object = o;
    return row;
  });
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${version}`,
    metadata: { resourceVersion },
    columnDefinitions: withColumns ? printer.columns : null,
    rows,
  };
}

/** A typed list, whose items carry no apiVersion/kind (as upstream serializes them). */
export function toList(rt: ResourceType, items: KubeObject[], resourceVersion: string): Record<string, unknown> {
  return {
    kind: rt.listKind,
    apiVersion: apiVersionOf(rt),
    metadata: { resourceVersion },
    items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
  };
}

export function toMetadataList(items: KubeObject[], resourceVersion: string, version: string): Record<string, unknown> {
  return {
    kind: 'PartialObjectMetadataList',
    apiVersion: `meta.k8s.io/${version}`,
    metadata: { resourceVersion },
    items: items.map((o) => partialMetadata(o, version)),
  };
}

/** The body of a single-object read in the negotiated shape. */
export function shapeObject(rt: ResourceType, obj: KubeObject, shape: Shape, q: URLSearchParams): unknown {
  switch (shape.kind) {
    case 'object':
      return outward(rt, obj);
    case 'table':
      return toTable(rt, [obj], obj.metadata.resourceVersion ?? '', shape.version, includeObjectOf(q));
    case 'metadata':
      return partialMetadata(obj, shape.version);
  }
}

export function shapeList(rt: ResourceType, items: KubeObject[], rv: string, shape: Shape, q: URLSearchParams): unknown {
  switch (shape.kind) {
    case 'object':
      return toList(rt, rt.storage ? items.map((o) => outward(rt, o)) : items, rv);
    case 'table':
      return toTable(rt, items, rv, shape.version, includeObjectOf(q));
    case 'metadata':
      return toMetadataList(items, rv, shape.version);
  }
}
