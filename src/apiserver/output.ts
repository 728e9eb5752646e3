// What a read answers with, by the request's Accept header: the object (JSON or YAML),
// a meta.k8s.io Table with upstream's columns, or PartialObjectMetadata.
import YAML from 'yaml';
import { errors } from '../api/errors.ts';
import { printerFor } from '../api/printers.ts';
import { apiVersionOf, type ResourceType } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';

export type Shape =
  | { kind: 'object'; yaml: boolean }
  | { kind: 'table'; version: 'v1' | 'v1beta1' }
  | { kind: 'metadata'; version: 'v1' | 'v1beta1' };

interface MediaRange {
  type: string;
  params: Record<string, string>;
}

function parseAccept(accept: string): MediaRange[] {
  return accept
    .split(',')
    .map((part) => {
      const [type, ...ps] = part.split(';').map((s) => s.trim());
      const params: Record<string, string> = {};
      for (const p of ps) {
        const i = p.indexOf('=');
        if (i > 0) params[p.slice(0, i).trim()] = p.slice(i + 1).trim();
      }
      return { type: (type ?? '').toLowerCase(), params };
    })
    .filter((m) => m.type);
}

/** Picks the response shape; protobuf-only requests are refused (406), JSON is always offered. */
export function negotiate(accept: string | undefined): Shape {
  const ranges = parseAccept(accept || 'application/json');
  for (const m of ranges) {
    if (m.params.as === 'Table' && m.params.g === 'meta.k8s.io' && (m.params.v === 'v1' || m.params.v === 'v1beta1')) {
      if (m.type === 'application/json' || m.type === 'application/yaml') return { kind: 'table', version: m.params.v };
    }
    if ((m.params.as === 'PartialObjectMetadata' || m.params.as === 'PartialObjectMetadataList') && m.params.g === 'meta.k8s.io') {
      return { kind: 'metadata', version: m.params.v === 'v1beta1' ? 'v1beta1' : 'v1' };
    }
    if (m.params.as) continue;
    if (m.type === 'application/json' || m.type === '*/*' || m.type === 'application/*') return { kind: 'object', yaml: false };
    if (m.type === 'application/yaml') return { kind: 'object', yaml: true };
  }
  throw errors.notAcceptable('only the following media types are accepted: application/json, application/yaml');
}

export function contentTypeOf(shape: Shape): string {
  switch (shape.kind) {
    case 'object':
      return shape.yaml ? 'application/yaml' : 'application/json';
    case 'table':
      return `application/json;as=Table;v=${shape.version};g=meta.k8s.io`;
    case 'metadata':
      return `application/json;as=PartialObjectMetadata;v=${shape.version};g=meta.k8s.io`;
  }
}

export function serialize(body: unknown, shape: Shape): string {
  return shape.kind === 'object' && shape.yaml ? YAML.stringify(body) : JSON.stringify(body);
}

function partialMetadata(obj: KubeObject, version: string): Record<string, unknown> {
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
  const printer = printerFor(rt.kind);
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
      return obj;
    case 'table':
      return toTable(rt, [obj], obj.metadata.resourceVersion ?? '', shape.version, includeObjectOf(q));
    case 'metadata':
      return partialMetadata(obj, shape.version);
  }
}

export function shapeList(rt: ResourceType, items: KubeObject[], rv: string, shape: Shape, q: URLSearchParams): unknown {
  switch (shape.kind) {
    case 'object':
      return toList(rt, items, rv);
    case 'table':
      return toTable(rt, items, rv, shape.version, includeObjectOf(q));
    case 'metadata':
      return toMetadataList(items, rv, shape.version);
  }
}
