// OpenAPI schemas of models, built from the models' field types (src/api/schema.ts), their
// upstream names and descriptions (build/openapi-models.json) and how their lists and maps merge
// (src/api/patchmeta.ts). References are kept as bare definition names ({$ref: name}); the
// v2 and v3 renderers turn them into #/definitions/… and #/components/schemas/… references.
import { declaredListMeta, hasRetainKeys, isAtomicMap, isAtomicStruct } from '../../api/patchmeta.ts';
import { hasModel, modelFields, type FieldType } from '../../api/schema.ts';
import { enumFields, enumTypes, type EnumShape } from './enums.ts';
import type { FieldDoc, ModelData } from './models.ts';

export type Schema = { [key: string]: unknown };

export const wrapperNames = {
  time: 'io.k8s.apimachinery.pkg.apis.meta.v1.Time',
  microTime: 'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime',
  intOrString: 'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
  quantity: 'io.k8s.apimachinery.pkg.api.resource.Quantity',
  /** the body of a PATCH, whatever its media type */
  patch: 'io.k8s.apimachinery.pkg.apis.meta.v1.Patch',
} as const;

/**
 * OpenAPI v3 states the two-typed wrappers as oneOf (kube-openapi's OpenAPIV3OneOfTypes) where
 * v2 can only say string; kubectl explain then names them (<IntOrString>, <Quantity>).
 */
export function v3Wrapper(name: string, s: Schema): Schema {
  const { type: _type, ...rest } = s;
  if (name === wrapperNames.intOrString) return { ...rest, oneOf: [{ type: 'integer' }, { type: 'string' }] };
  if (name === wrapperNames.quantity) return { ...rest, oneOf: [{ type: 'string' }, { type: 'number' }] };
  return s;
}

/**
 * A field of an enum type as kube-openapi writes it: the values on the string schema (the
 * field's, its items' or its map values'), and for a field of the type itself its description
 * followed by a "Possible enum values" paragraph.
 */
function withEnum(s: Schema, shape: EnumShape, type: string): void {
  const e = enumTypes[type];
  if (!e) return;
  const target = (shape === 'array' ? s.items : shape === 'map' ? s.additionalProperties : s) as Schema | undefined;
  if (!target || target.type !== 'string') return;
  target.enum = e.values;
  if (shape === 'value') s.description = [s.description, ['Possible enum values:', ...e.lines].join('\n')].filter(Boolean).join('\n\n');
}

/** A named schema and the definitions it refers to. */
export interface Definition {
  name: string;
  schema: Schema;
  refs: string[];
}

const ref = (name: string): Schema => ({ $ref: name });

/**
 * Definitions by name, built on first use. The apimachinery wrapper types (Time, IntOrString,
 * Quantity) are strings with a format; their descriptions are the ones client-node carries on
 * fields of those types.
 */
export class SchemaCatalog {
  private readonly byName = new Map<string, Definition>();
  private readonly modelByName = new Map<string, string>();
  private readonly wrapperDescriptions = new Map<string, string>();

  constructor(private readonly data: ModelData) {
    for (const [model, doc] of Object.entries(data.models)) this.modelByName.set(doc.name, model);
  }

  /** The definition name of a client-node model (V1ServiceSpec -> io.k8s.api.core.v1.ServiceSpec). */
  nameOf(model: string): string {
    const doc = this.data.models[model];
    if (!doc) throw new Error(`no OpenAPI model data for ${model}`);
    return doc.name;
  }

  /** Names a model as upstream does where the model data's guess differs (Scale lives in autoscaling). */
  rename(model: string, name: string): void {
    const doc = this.data.models[model];
    if (!doc || doc.name === name) return;
    this.modelByName.delete(doc.name);
    doc.name = name;
    this.modelByName.set(name, model);
    this.byName.clear();
  }

  /** The model that is `kind` in `group`/`version`, if client-node has one. */
  modelFor(group: string, version: string, kind: string): string | undefined {
    const pkg = this.data.packages[group];
    const exact = pkg && this.modelByName.get(`${pkg}.${version}.${kind}`);
    if (exact) return exact;
    // Models the build could not place (a kind only reached through another group's API).
    const ver = version.replace(/^v/, 'V');
    const candidates = Object.keys(this.data.models).filter((m) => hasModel(m) && new RegExp(`^(?:[A-Z][a-z]+)?${ver}${kind}$`).test(m));
    return candidates.length === 1 ? candidates[0] : undefined;
  }

  get(name: string): Definition {
    let d = this.byName.get(name);
    if (!d) {
      d = this.build(name);
      this.byName.set(name, d);
    }
    return d;
  }

  /** `roots` and every definition they reach, in a stable (sorted) order. */
  closure(roots: Iterable<string>): Definition[] {
    const seen = new Map<string, Definition>();
    const stack = [...roots];
    while (stack.length) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      const d = this.get(n);
      seen.set(n, d);
      stack.push(...d.refs);
    }
    return [...seen.keys()].sort().map((n) => seen.get(n)!);
  }

  private build(name: string): Definition {
    const wrapper = this.wrapper(name);
    if (wrapper) return { name, schema: wrapper, refs: [] };
    const model = this.modelByName.get(name);
    if (!model) throw new Error(`no OpenAPI definition ${name}`);
    const doc = this.data.models[model]!;
    const refs = new Set<string>();
    const properties: Schema = {};
    const required: string[] = [];
    for (const [json, f] of modelFields(model)) {
      const fdoc: FieldDoc = doc.fields[json] ?? { description: '' };
      const s = this.typeSchema(f.type, fdoc, refs);
      if (fdoc.description) s.description = fdoc.description;
      const e = enumFields[name]?.[json];
      if (e) withEnum(s, ...e);
      Object.assign(s, this.mergeExtensions(model, json, f.type));
      properties[json] = s;
      if (fdoc.required) required.push(json);
    }
    const schema: Schema = { type: 'object', properties };
    if (doc.description) schema.description = doc.description;
    if (required.length) schema.required = required;
    if (isAtomicStruct(model)) schema['x-kubernetes-map-type'] = 'atomic';
    return { name, schema, refs: [...refs] };
  }

  private typeSchema(t: FieldType, doc: FieldDoc, refs: Set<string>): Schema {
    const to = (n: string): Schema => {
      refs.add(n);
      return ref(n);
    };
    switch (t.t) {
      case 'string':
        return t.format ? { type: 'string', format: t.format } : { type: 'string' };
      case 'int32':
        return { type: 'integer', format: 'int32' };
      case 'int64':
        return { type: 'integer', format: 'int64' };
      case 'double':
        return { type: 'number', format: 'double' };
      case 'boolean':
        return { type: 'boolean' };
      case 'time':
        return to(doc.micro ? wrapperNames.microTime : wrapperNames.time);
      case 'intOrString':
        this.noteWrapperDescription(wrapperNames.intOrString, doc.description);
        return to(wrapperNames.intOrString);
      case 'quantity':
        return to(wrapperNames.quantity);
      case 'any':
        return { type: 'object' };
      case 'array':
        return { type: 'array', items: this.element(t.of, refs) };
      case 'map':
        return { type: 'object', additionalProperties: this.element(t.of, refs) };
      case 'object':
        return to(this.nameOf(t.model));
    }
  }

  /** A list item or map value: structs by value default to {}, as upstream's elements do. */
  private element(t: FieldType, refs: Set<string>): Schema {
    const s = this.typeSchema(t, { description: '' }, refs);
    if (t.t === 'object') s.default = {};
    return s;
  }

  private noteWrapperDescription(name: string, description: string): void {
    if (description && !this.wrapperDescriptions.has(name)) this.wrapperDescriptions.set(name, description);
  }

  private wrapper(name: string): Schema | undefined {
    let s: Schema | undefined;
    if (name === wrapperNames.time || name === wrapperNames.microTime) s = { type: 'string', format: 'date-time' };
    else if (name === wrapperNames.intOrString) s = { type: 'string', format: 'int-or-string' };
    else if (name === wrapperNames.quantity) s = { type: 'string' };
    else if (name === wrapperNames.patch) s = { type: 'object' };
    const description = this.wrapperDescriptions.get(name);
    if (s && description) s.description = description;
    return s;
  }

  /** The strategic-merge and server-side-apply markers of one field, as upstream's extensions. */
  private mergeExtensions(model: string, field: string, t: FieldType): Schema {
    const x: Schema = {};
    if (t.t === 'array') {
      const lm = declaredListMeta(model, field);
      if (lm) {
        if (lm.keys && lm.ssa === 'map') x['x-kubernetes-list-map-keys'] = lm.keys;
        x['x-kubernetes-list-type'] = lm.ssa;
        if (lm.mergeKey) x['x-kubernetes-patch-merge-key'] = lm.mergeKey;
        if (lm.strategy === 'merge') x['x-kubernetes-patch-strategy'] = lm.retainKeys ? 'merge,retainKeys' : 'merge';
      }
    } else if (t.t === 'map' && isAtomicMap(model, field)) {
      x['x-kubernetes-map-type'] = 'atomic';
    } else if (t.t === 'object' && hasRetainKeys(model, field)) {
      x['x-kubernetes-patch-strategy'] = 'retainKeys';
    }
    return x;
  }
}
