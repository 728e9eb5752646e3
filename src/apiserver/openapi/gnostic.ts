// A Swagger 2.0 document in gnostic's protobuf form (openapi.v2.Document, google/gnostic
// openapiv2/OpenAPIv2.proto), which kubectl up to 1.26 asks /openapi/v2 for. Only the parts
// podpath's document uses are encoded; vendor extensions carry their value as YAML (JSON is YAML).

type Json = { [key: string]: unknown };

class Writer {
  private readonly parts: Buffer[] = [];

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  private varint(n: number): void {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(n);
    this.parts.push(Buffer.from(out));
  }

  string(field: number, s: unknown): this {
    if (typeof s !== 'string' || s === '') return this;
    const b = Buffer.from(s, 'utf8');
    this.tag(field, 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }

  strings(field: number, xs: unknown): this {
    if (Array.isArray(xs)) for (const s of xs) this.string(field, s);
    return this;
  }

  bool(field: number, v: unknown): this {
    if (v !== true) return this;
    this.tag(field, 0);
    this.varint(1);
    return this;
  }

  message(field: number, m: Writer | undefined): this {
    if (!m) return this;
    const b = m.bytes();
    this.tag(field, 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Any{yaml}: the value written as JSON, which YAML readers accept. */
function any(v: unknown): Writer {
  return new Writer().string(2, JSON.stringify(v));
}

function extensions(w: Writer, field: number, o: Json): void {
  for (const [k, v] of Object.entries(o)) if (k.startsWith('x-')) w.message(field, new Writer().string(1, k).message(2, any(v)));
}

function schema(s: Json): Writer {
  const w = new Writer().string(1, s.$ref).string(2, s.format).string(3, s.title).string(4, s.description);
  if (s.default !== undefined) w.message(5, any(s.default));
  w.bool(16, s.uniqueItems).strings(19, s.required);
  if (Array.isArray(s.enum)) for (const e of s.enum) w.message(20, any(e));
  if (isObj(s.additionalProperties)) w.message(21, new Writer().message(1, schema(s.additionalProperties)));
  else if (typeof s.additionalProperties === 'boolean') w.message(21, new Writer().bool(2, s.additionalProperties));
  if (s.type !== undefined) w.message(22, new Writer().strings(1, Array.isArray(s.type) ? s.type : [s.type]));
  if (isObj(s.items)) w.message(23, new Writer().message(1, schema(s.items)));
  if (Array.isArray(s.allOf)) for (const a of s.allOf) w.message(24, schema(a as Json));
  if (isObj(s.properties)) {
    const props = new Writer();
    for (const [name, p] of Object.entries(s.properties)) props.message(1, new Writer().string(1, name).message(2, schema(p as Json)));
    w.message(25, props);
  }
  w.bool(27, s.readOnly);
  extensions(w, 31, s);
  return w;
}

function parameter(p: Json): Writer {
  let inner: Writer;
  if (p.in === 'body') {
    inner = new Writer().message(1, new Writer().string(1, p.description).string(2, p.name).string(3, p.in).bool(4, p.required).message(5, isObj(p.schema) ? schema(p.schema) : undefined));
  } else {
    // NonBodyParameter: query=3 and path=4, whose sub-schemas number their fields differently.
    const sub = new Writer().bool(1, p.required).string(2, p.in).string(3, p.description).string(4, p.name);
    if (p.in === 'path') sub.string(5, p.type).string(6, p.format).bool(19, p.uniqueItems);
    else sub.string(6, p.type).string(7, p.format).bool(20, p.uniqueItems);
    inner = new Writer().message(2, new Writer().message(p.in === 'path' ? 4 : 3, sub));
  }
  return new Writer().message(1, inner);
}

function operation(o: Json): Writer {
  const w = new Writer().strings(1, o.tags).string(2, o.summary).string(3, o.description).string(5, o.operationId).strings(6, o.produces).strings(7, o.consumes);
  if (Array.isArray(o.parameters)) for (const p of o.parameters) w.message(8, parameter(p as Json));
  if (isObj(o.responses)) {
    const rs = new Writer();
    for (const [code, r] of Object.entries(o.responses)) {
      const resp = r as Json;
      const body = new Writer().string(1, resp.description).message(2, isObj(resp.schema) ? new Writer().message(1, schema(resp.schema)) : undefined);
      rs.message(1, new Writer().string(1, code).message(2, new Writer().message(1, body)));
    }
    w.message(9, rs);
  }
  w.strings(10, o.schemes).bool(11, o.deprecated);
  extensions(w, 13, o);
  return w;
}

const methodFields: Record<string, number> = { get: 2, put: 3, post: 4, delete: 5, options: 6, head: 7, patch: 8 };

function pathItem(item: Json): Writer {
  const w = new Writer();
  for (const [method, field] of Object.entries(methodFields)) if (isObj(item[method])) w.message(field, operation(item[method] as Json));
  if (Array.isArray(item.parameters)) for (const p of item.parameters) w.message(9, parameter(p as Json));
  extensions(w, 10, item);
  return w;
}

/** Encodes a Swagger 2.0 document (as JSON) into openapi.v2.Document bytes. */
export function encodeSwagger(doc: Json): Buffer {
  const w = new Writer().string(1, doc.swagger);
  if (isObj(doc.info)) w.message(2, new Writer().string(1, doc.info.title).string(2, doc.info.version).string(3, doc.info.description));
  if (isObj(doc.paths)) {
    const paths = new Writer();
    for (const [p, item] of Object.entries(doc.paths)) paths.message(2, new Writer().string(1, p).message(2, pathItem(item as Json)));
    w.message(8, paths);
  }
  if (isObj(doc.definitions)) {
    const defs = new Writer();
    for (const [name, s] of Object.entries(doc.definitions)) defs.message(1, new Writer().string(1, name).message(2, schema(s as Json)));
    w.message(9, defs);
  }
  if (Array.isArray(doc.security)) {
    for (const req of doc.security as Json[]) {
      const r = new Writer();
      for (const [name, scopes] of Object.entries(req)) r.message(1, new Writer().string(1, name).message(2, new Writer().strings(1, scopes)));
      w.message(12, r);
    }
  }
  if (isObj(doc.securityDefinitions)) {
    const defs = new Writer();
    for (const [name, d] of Object.entries(doc.securityDefinitions)) {
      const s = d as Json;
      if (s.type !== 'apiKey') continue;
      const key = new Writer().string(1, s.type).string(2, s.name).string(3, s.in).string(4, s.description);
      defs.message(1, new Writer().string(1, name).message(2, new Writer().message(2, key)));
    }
    w.message(13, defs);
  }
  return w.bytes();
}
