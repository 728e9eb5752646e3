// The schema of every served kind, read from @kubernetes/client-node's generated models
// (generated from upstream's OpenAPI document). Decoding checks types the way Go's JSON
// decoder does and finds unknown fields the way the API server's strict decoder does.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { builtFile } from '../util/built.ts';

/** A model's fields as the package's attributeTypeMap has them: JSON name, TypeScript type, format. */
type Attribute = [baseName: string, type: string, format: string];

interface ModelTypes {
  source: string;
  models: Record<string, Attribute[]>;
}

const requireFromHere = createRequire(import.meta.url);
const clientNodePackage = requireFromHere.resolve('@kubernetes/client-node/package.json');

/** build/model-types.json (scripts/gen-model-types.js), if it was made from the installed @kubernetes/client-node. */
function builtModelTypes(): ModelTypes | undefined {
  const file = builtFile('model-types.json');
  if (!file) return undefined;
  const source = `@kubernetes/client-node ${(JSON.parse(readFileSync(clientNodePackage, 'utf8')) as { version: string }).version}`;
  const t = JSON.parse(readFileSync(file, 'utf8')) as ModelTypes;
  return t.source === source ? t : undefined;
}

/** The same table read from the package's model classes: only for a checkout not built since its install. */
async function packageModelTypes(): Promise<ModelTypes> {
  const models = (await import('@kubernetes/client-node/dist/gen/models/all.js')) as unknown as Record<string, { attributeTypeMap?: { baseName: string; type: string; format: string }[] }>;
  const table: Record<string, Attribute[]> = {};
  for (const [name, cls] of Object.entries(models)) if (Array.isArray(cls?.attributeTypeMap)) table[name] = cls.attributeTypeMap.map((a) => [a.baseName, a.type, a.format]);
  return { source: 'package', models: table };
}

// The models' field types. The built table spares a process the ~700 model modules of the
// package (about 10 MiB and a fifth of a second at start in each process that decodes objects).
const modelTypes: ModelTypes = builtModelTypes() ?? (await packageModelTypes());
const modelTable = (): Record<string, Attribute[]> => modelTypes.models;

export type FieldType =
  | { t: 'string'; format: string }
  | { t: 'int32' }
  | { t: 'int64' }
  | { t: 'double' }
  | { t: 'boolean' }
  | { t: 'time' }
  | { t: 'intOrString' }
  | { t: 'quantity' }
  | { t: 'any' }
  | { t: 'array'; of: FieldType }
  | { t: 'map'; of: FieldType }
  | { t: 'object'; model: string };

export interface ModelField {
  json: string;
  type: FieldType;
}

const fieldCache = new Map<string, Map<string, ModelField>>();

/** Resource-quantity maps hold Quantity values, which the API accepts as numbers or strings. */
const quantityMaps = new Set(['limits', 'requests', 'capacity', 'allocatable', 'hard', 'used', 'overhead']);

function parseType(type: string, format: string, fieldName: string): FieldType {
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) return { t: 'array', of: parseType(arr[1]!, format, '') };
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (map[1] === 'string' && quantityMaps.has(fieldName)) return { t: 'map', of: { t: 'quantity' } };
    return { t: 'map', of: parseType(map[1]!, format, '') };
  }
  switch (type) {
    case 'string':
      return { t: 'string', format };
    case 'number':
      return format === 'int64' ? { t: 'int64' } : format === 'double' ? { t: 'double' } : { t: 'int32' };
    case 'boolean':
      return { t: 'boolean' };
    case 'Date':
      return { t: 'time' };
    case 'IntOrString':
      return { t: 'intOrString' };
    case 'any':
    case 'object':
      return { t: 'any' };
    default:
      if (format === 'date-time-micro') return { t: 'time' };
      return { t: 'object', model: type };
  }
}

export function modelFields(model: string): Map<string, ModelField> {
  let fields = fieldCache.get(model);
  if (fields) return fields;
  const attributes = modelTable()[model];
  if (!attributes) throw new Error(`no schema for model ${model}`);
  fields = new Map();
  for (const [json, type, format] of attributes) fields.set(json, { json, type: parseType(type, format, json) });
  fieldCache.set(model, fields);
  return fields;
}

export function hasModel(model: string): boolean {
  return modelTable()[model] !== undefined;
}

/** The Go type name as the decoder's messages print it (v1.ServicePort, []string, int32, ...). */
export function goTypeName(t: FieldType): string {
  switch (t.t) {
    case 'string':
      return t.format === 'byte' ? '[]uint8' : 'string';
    case 'int32':
      return 'int32';
    case 'int64':
      return 'int64';
    case 'double':
      return 'float64';
    case 'boolean':
      return 'bool';
    case 'time':
      return 'v1.Time';
    case 'intOrString':
      return 'intstr.IntOrString';
    case 'quantity':
      return 'resource.Quantity';
    case 'any':
      return 'interface {}';
    case 'array':
      return `[]${goTypeName(t.of)}`;
    case 'map':
      return `map[string]${goTypeName(t.of)}`;
    case 'object':
      return `v1.${goStructName(t.model)}`;
  }
}

/** V1ServicePort -> ServicePort, DiscoveryV1EndpointPort -> EndpointPort. */
export function goStructName(model: string): string {
  return model.replace(/^(?:[A-Z][a-z]+)*V\d+(?:alpha\d+|beta\d+)?/, '');
}

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return `number`;
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string | object
}

export class DecodeError extends Error {}

export interface DecodeResult {
  /** The object with unknown fields removed and values normalized as the server stores them. */
  value: Record<string, unknown>;
  /** Paths of unknown fields, as strict decoding reports them (spec.ports[0].foo). */
  unknown: string[];
}

const int32Min = -2147483648;
const int32Max = 2147483647;

/**
 * Decodes a parsed JSON object against a model. Throws DecodeError with Go's
 * `json: cannot unmarshal X into Go struct field S.path of type T` message on a type mismatch.
 */
export function decodeObject(model: string, input: unknown): DecodeResult {
  const unknown: string[] = [];
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new DecodeError(`json: cannot unmarshal ${jsonKind(input)} into Go value of type v1.${goStructName(model)}`);
  }
  const value = decodeModel(model, input as Record<string, unknown>, '', '', unknown);
  return { value, unknown };
}

function decodeModel(
  model: string,
  input: Record<string, unknown>,
  strictPath: string,
  goPath: string,
  unknown: string[],
): Record<string, unknown> {
  const fields = modelFields(model);
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(input)) {
    const f = fields.get(key);
    const sp = strictPath ? `${strictPath}.${key}` : key;
    if (!f) {
      unknown.push(sp);
      continue;
    }
    const gp = goPath ? `${goPath}.${key}` : key;
    if (raw === null) continue; // Go leaves the zero value; the stored object omits it
    const v = decodeValue(f.type, raw, sp, gp, goStructName(model), unknown);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function typeError(raw: unknown, struct: string, goPath: string, t: FieldType): DecodeError {
  let what = jsonKind(raw);
  if (typeof raw === 'number') what = `number ${formatGoNumber(raw)}`;
  return new DecodeError(`json: cannot unmarshal ${what} into Go struct field ${struct}.${goPath} of type ${goTypeName(t)}`);
}

function formatGoNumber(n: number): string {
  return Number.isInteger(n) && Math.abs(n) >= 1e21 ? n.toExponential().replace('e+', 'e+') : String(n);
}

function decodeValue(
  t: FieldType,
  raw: unknown,
  strictPath: string,
  goPath: string,
  struct: string,
  unknown: string[],
): unknown {
  switch (t.t) {
    case 'string':
      if (typeof raw !== 'string') throw typeError(raw, struct, goPath, t);
      if (t.format === 'byte' && !isBase64(raw)) {
        throw new DecodeError(`illegal base64 data at input byte ${firstBadBase64Byte(raw)}`);
      }
      return raw;
    case 'int32':
    case 'int64': {
      if (typeof raw !== 'number') throw typeError(raw, struct, goPath, t);
      const ok = Number.isInteger(raw) && (t.t === 'int64' ? Number.isSafeInteger(raw) : raw >= int32Min && raw <= int32Max);
      if (!ok) throw typeError(raw, struct, goPath, t);
      return raw;
    }
    case 'double':
      if (typeof raw !== 'number') throw typeError(raw, struct, goPath, t);
      return raw;
    case 'boolean':
      if (typeof raw !== 'boolean') throw typeError(raw, struct, goPath, t);
      return raw;
    case 'time': {
      if (typeof raw !== 'string') throw typeError(raw, struct, goPath, t);
      const ms = Date.parse(raw);
      if (!/^\d{4}-\d{2}-\d{2}T/.test(raw) || Number.isNaN(ms)) {
        throw new DecodeError(`parsing time ${JSON.stringify(raw)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(raw)} as "2006"`);
      }
      return raw;
    }
    case 'intOrString':
      if (typeof raw === 'string') return raw;
      if (typeof raw === 'number' && Number.isInteger(raw) && raw >= int32Min && raw <= int32Max) return raw;
      throw typeError(raw, struct, goPath, t);
    case 'quantity':
      if (typeof raw === 'number') return String(raw);
      if (typeof raw === 'string') {
        if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/.test(raw)) {
          throw new DecodeError('quantities must match the regular expression \'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$\'');
        }
        return raw;
      }
      throw typeError(raw, struct, goPath, t);
    case 'any':
      return raw;
    case 'array': {
      if (!Array.isArray(raw)) throw typeError(raw, struct, goPath, t);
      return raw.map((item, i) => (item === null ? zeroOf(t.of) : decodeValue(t.of, item, `${strictPath}[${i}]`, goPath, struct, unknown)));
    }
    case 'map': {
      if (typeof raw !== 'object' || Array.isArray(raw)) throw typeError(raw, struct, goPath, t);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        out[k] = v === null ? zeroOf(t.of) : decodeValue(t.of, v, `${strictPath}.${k}`, goPath, struct, unknown);
      }
      return out;
    }
    case 'object': {
      if (typeof raw !== 'object' || Array.isArray(raw)) throw typeError(raw, struct, goPath, t);
      return decodeModel(t.model, raw as Record<string, unknown>, strictPath, goPath, unknown);
    }
  }
}

function zeroOf(t: FieldType): unknown {
  switch (t.t) {
    case 'string':
      return '';
    case 'int32':
    case 'int64':
    case 'double':
      return 0;
    case 'boolean':
      return false;
    case 'array':
    case 'map':
    case 'any':
    case 'time':
      return null;
    case 'intOrString':
      return 0;
    case 'quantity':
      return '0';
    case 'object':
      return {};
  }
}

function isBase64(s: string): boolean {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s);
}

function firstBadBase64Byte(s: string): number {
  for (let i = 0; i < s.length; i++) if (!/[A-Za-z0-9+/=]/.test(s[i]!)) return i;
  return Math.max(0, s.length - (s.length % 4));
}

// ---- descriptions (for Table column definitions and OpenAPI) ----

const modelsDir = path.dirname(requireFromHere.resolve('@kubernetes/client-node/dist/gen/models/all.js'));
const descriptionCache = new Map<string, Map<string, string>>();

/** The upstream description of a model's field (the text of its OpenAPI schema). */
export function fieldDescription(model: string, field: string): string {
  let m = descriptionCache.get(model);
  if (!m) {
    m = new Map();
    let text = '';
    try {
      text = readFileSync(path.join(modelsDir, `${model}.d.ts`), 'utf8');
    } catch {
      // no declaration file: no descriptions
    }
    const re = /\/\*\*\n\s*\* (.*?)\n\s*\*\/\n\s*'([A-Za-z0-9_$]+)'\??:/g;
    for (let match = re.exec(text); match; match = re.exec(text)) {
      // The generator folded the schema's paragraph breaks into two spaces.
      m.set(match[2]!, match[1]!.replace(/\. {2}(?=[A-Z])/g, '.\n\n'));
    }
    descriptionCache.set(model, m);
  }
  return m.get(field) ?? '';
}
