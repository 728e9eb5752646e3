// Turning a request body into an object of the endpoint's kind: parse (JSON or YAML),
// check apiVersion/kind, check every field's type against the schema, and treat unknown
// fields as the request's fieldValidation says (Strict: 400, Warn: warning, Ignore).
import YAML from 'yaml';
import { errors } from '../api/errors.ts';
import { apiVersionOf, type ResourceType } from '../api/resources.ts';
import { DecodeError, decodeObject } from '../api/schema.ts';
import { isObject, type KubeObject } from '../api/types.ts';
import { decodeProtobufBody } from './protobuf.ts';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface RawBody {
  text: string;
  contentType: string;
  /** the undecoded body, for binary media types */
  bytes?: Buffer;
}

export function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/** Parses JSON or YAML; `what` names the body in error messages. */
export function parseBody(raw: RawBody): unknown {
  const mt = mediaType(raw.contentType);
  if (mt === '' || mt === 'application/json' || mt.endsWith('+json')) {
    try {
      return JSON.parse(raw.text);
    } catch (e) {
      throw errors.badRequest(`couldn't get version/kind; json parse error: ${jsonErrorText(e as Error)}`);
    }
  }
  if (mt === 'application/vnd.kubernetes.protobuf') return decodeProtobufBody(raw.bytes ?? Buffer.from(raw.text, 'latin1'));
  if (mt === 'application/yaml' || mt.endsWith('+yaml')) {
    try {
      const docs = YAML.parseAllDocuments(raw.text);
      if (docs.length !== 1) throw new Error(`expected one document, found ${docs.length}`);
      const doc = docs[0]!;
      if (doc.errors.length) throw doc.errors[0]!;
      return doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw errors.badRequest(`error converting YAML to JSON: yaml: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw errors.unsupportedMediaType(['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);
}

function jsonErrorText(e: Error): string {
  return e.message.replace(/^Unexpected token/, 'invalid character').replace(/ in JSON at position \d+/, '');
}

export interface Decoded {
  obj: KubeObject;
  warnings: string[];
  /** paths of the fields the schema does not know (already dropped from obj) */
  unknown: string[];
}

/** `Service in version "v1" cannot be handled as a Service: ...` */
export function cannotHandle(rt: ResourceType, why: string) {
  return errors.badRequest(`${rt.kind} in version ${JSON.stringify(rt.version)} cannot be handled as a ${rt.kind}: ${why}`);
}

/** The body must be an object whose apiVersion and kind, where given, are the endpoint's. */
export function checkTypeMeta(rt: ResourceType, parsed: unknown): Record<string, unknown> {
  if (!isObject(parsed)) {
    throw errors.badRequest(`Object 'Kind' is missing in '${JSON.stringify(parsed)}'`);
  }
  const want = apiVersionOf(rt);
  if (parsed.apiVersion !== undefined && parsed.apiVersion !== want) {
    throw errors.badRequest(`the API version in the data (${String(parsed.apiVersion)}) does not match the expected API version (${want})`);
  }
  if (parsed.kind !== undefined && parsed.kind !== rt.kind) {
    throw errors.badRequest(`the kind in the data (${String(parsed.kind)}) does not match the expected kind (${rt.kind})`);
  }
  return parsed;
}

/** Checks and normalizes a parsed object for `rt`, reporting unknown fields per `fv`. */
export function decodeFor(rt: ResourceType, input: unknown, fv: FieldValidation): Decoded {
  const parsed = checkTypeMeta(rt, input);
  const want = apiVersionOf(rt);
  let result;
  try {
    result = decodeObject(rt.model, parsed);
  } catch (e) {
    if (e instanceof DecodeError) throw cannotHandle(rt, e.message);
    throw e;
  }
  const warnings: string[] = [];
  if (result.unknown.length) {
    if (fv === 'Strict') {
      throw cannotHandle(rt, `strict decoding error: ${result.unknown.map((u) => `unknown field ${JSON.stringify(u)}`).join(', ')}`);
    }
    if (fv === 'Warn') for (const u of result.unknown) warnings.push(`unknown field ${JSON.stringify(u)}`);
  }
  const obj = result.value as KubeObject;
  obj.apiVersion = want;
  obj.kind = rt.kind;
  if (!isObject(obj.metadata)) obj.metadata = {};
  return { obj, warnings, unknown: result.unknown };
}

export function fieldValidationOf(q: URLSearchParams): FieldValidation {
  const v = q.get('fieldValidation');
  if (v === null || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw errors.badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got ${JSON.stringify(v)}`);
}
