// Turns schemas with bare references ({$ref: name}) into OpenAPI v2 or v3 form, with every
// object's keys in sorted order, as Go's encoding of upstream's maps and structs writes them.
import type { Schema } from './schemas.ts';

export type Flavor = 'v2' | 'v3';

export function render(value: unknown, flavor: Flavor): unknown {
  if (Array.isArray(value)) return value.map((v) => render(v, flavor));
  if (value === null || typeof value !== 'object') return value;
  const src = value as Schema;
  const out: Schema = {};
  const ref = typeof src.$ref === 'string' && !src.$ref.startsWith('#') ? src.$ref : undefined;
  const keys = Object.keys(src).filter((k) => !(ref && k === '$ref'));
  if (ref) keys.push(flavor === 'v2' ? '$ref' : 'allOf');
  for (const k of keys.sort()) {
    if (ref && k === '$ref' && flavor === 'v2') out.$ref = `#/definitions/${ref}`;
    else if (ref && k === 'allOf' && flavor === 'v3') out.allOf = [{ $ref: `#/components/schemas/${ref}` }];
    else out[k] = render(src[k], flavor);
  }
  return out;
}
