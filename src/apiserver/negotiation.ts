// Content negotiation of a response, as apiserver's negotiation package does it: the Accept
// header's clauses in goautoneg's order (q first, then specific before wildcard), each tried
// against the server's media types (JSON, YAML, protobuf) in that order; the first the endpoint
// allows wins. A Table is JSON only (upstream's Table has no protobuf form, +protobuf=false);
// PartialObjectMetadata is JSON or protobuf; a plain object is protobuf only for a kind the
// protobuf table holds.
import { errors } from '../api/errors.ts';

export type Format = 'json' | 'yaml' | 'protobuf';

export type Shape =
  | { kind: 'object'; format: Format }
  | { kind: 'table'; version: 'v1' | 'v1beta1' }
  | { kind: 'metadata'; version: 'v1' | 'v1beta1'; format: 'json' | 'protobuf' };

export interface Clause {
  type: string;
  subtype: string;
  q: number;
  params: Record<string, string>;
}

/** goautoneg.ParseAccept: clauses with their q (default 1), other parameters kept, then sorted. */
export function parseAccept(header: string): Clause[] {
  const out: Clause[] = [];
  for (const part of header.split(',')) {
    const [range = '', ...ps] = part.trim().split(';');
    const sp = range.split('/');
    const type = (sp[0] ?? '').trim().toLowerCase();
    let subtype: string;
    if (sp.length === 1 && type === '*') subtype = '*';
    else if (sp.length === 2) subtype = sp[1]!.trim().toLowerCase();
    else continue;
    const c: Clause = { type, subtype, q: 1, params: {} };
    for (const p of ps) {
      const i = p.indexOf('=');
      if (i < 0) continue;
      const key = p.slice(0, i).trim();
      // Go's ParseFloat failing leaves q at 0.
      if (key === 'q') c.q = Number(p.slice(i + 1)) || 0;
      else c.params[key] = p.slice(i + 1).trim();
    }
    out.push(c);
  }
  // sort.Sort on so few clauses is an insertion sort: stable, with goautoneg's Less.
  const less = (a: Clause, b: Clause): boolean => a.q > b.q || (a.type !== '*' && b.type === '*') || (a.subtype !== '*' && b.subtype === '*');
  for (let i = 1; i < out.length; i++) {
    for (let j = i; j > 0 && less(out[j]!, out[j - 1]!); j--) [out[j - 1], out[j]] = [out[j]!, out[j - 1]!];
  }
  return out;
}

/** The server's media types, in the order a wildcard picks them (JSON first). */
const served: readonly [Format, string, string][] = [
  ['json', 'application', 'json'],
  ['yaml', 'application', 'yaml'],
  ['protobuf', 'application', 'vnd.kubernetes.protobuf'],
];

export const notAcceptableMessage = 'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf';

function matches(c: Clause, type: string, subtype: string): boolean {
  return (c.type === type && (c.subtype === subtype || c.subtype === '*')) || (c.type === '*' && c.subtype === '*');
}

/** What an endpoint can answer. */
interface Allowed {
  /** a plain object in protobuf: the kind has a message */
  protobuf: boolean;
  /** PartialObjectMetadata in protobuf (upstream: any kind's, its message being meta/v1's) */
  metadataProtobuf: boolean;
  /** `as=` conversions at all; errors are negotiated without them */
  conversions: boolean;
}

/**
 * The shape a clause asks of a media type, or undefined when the endpoint cannot answer it
 * (acceptMediaTypeOptions + the scope's AllowsMediaTypeTransform).
 */
function shapeFor(c: Clause, format: Format, allowed: Allowed): Shape | undefined {
  const stream = c.params.stream;
  // Only JSON and protobuf have a stream (watch) form.
  if (stream && (stream !== 'watch' || format === 'yaml')) return undefined;
  const as = c.params.as;
  if (as === undefined) return format === 'protobuf' && !allowed.protobuf ? undefined : { kind: 'object', format };
  if (!allowed.conversions || c.params.g !== 'meta.k8s.io') return undefined;
  const version = c.params.v;
  if (version !== 'v1' && version !== 'v1beta1') return undefined;
  if (as === 'Table') return format === 'protobuf' ? undefined : { kind: 'table', version };
  if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') {
    // Only meta/v1's messages are in the table; v1beta1's list numbers its fields otherwise.
    if (format === 'protobuf') return version === 'v1' && allowed.metadataProtobuf ? { kind: 'metadata', version, format } : undefined;
    return { kind: 'metadata', version, format: 'json' };
  }
  return undefined;
}

/**
 * The response shape for `accept`; `protobuf` says whether the endpoint's kind has a protobuf
 * form. Nothing acceptable is 406, worded as upstream (which lists every type it serves).
 */
export function negotiate(accept: string | undefined, protobuf: boolean): Shape {
  const shape = pick(accept, { protobuf, metadataProtobuf: true, conversions: true });
  if (!shape) throw errors.notAcceptable(notAcceptableMessage);
  return shape;
}

function pick(accept: string | undefined, allowed: Allowed): Shape | undefined {
  if (!accept) return { kind: 'object', format: 'json' };
  for (const c of parseAccept(accept)) {
    for (const [format, type, subtype] of served) {
      if (!matches(c, type, subtype)) continue;
      const s = shapeFor(c, format, allowed);
      if (s) return s;
    }
  }
  return undefined;
}

/**
 * How a Status is answered (ErrorNegotiated, with the default restrictions: no conversion):
 * protobuf when the client prefers it, else JSON — also when nothing is acceptable, as
 * upstream then writes the error as raw JSON rather than hide it behind a 406.
 */
export function statusFormat(accept: string | undefined): 'json' | 'protobuf' {
  const s = pick(accept, { protobuf: true, metadataProtobuf: false, conversions: false });
  return s?.kind === 'object' && s.format === 'protobuf' ? 'protobuf' : 'json';
}

/** The shape the same Accept allows without protobuf, if any: what a response falls back to when protobuf cannot carry it. */
export function fallbackShape(accept: string | undefined): Shape | undefined {
  return pick(accept, { protobuf: false, metadataProtobuf: false, conversions: true });
}
