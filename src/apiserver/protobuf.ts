// Kubernetes protobuf bodies (application/vnd.kubernetes.protobuf), which client-go's typed
// clients send from 1.32 on (`kubectl create`, `run`, `debug`, `auth can-i`, `auth whoami`,
// `create token`) and ask for first in their Accept header. The envelope is "k8s\0" +
// runtime.Unknown{typeMeta, raw}; `raw` is the object's message, read and written with the
// field numbers of k8s.io/api's generated.proto (protobuf/messages.ts) into and from the JSON
// form the rest of the server handles. A field the table does not know is refused (415) in a
// request, never dropped; in a response it is a ProtoError the server answers JSON for instead.
// Watch streams frame raw WatchEvents by length (watchEventFrame).
import { ApiError, errors } from '../api/errors.ts';
import { kinds, messages, type FieldTuple } from './protobuf/messages.ts';

export const protobufMediaType = 'application/vnd.kubernetes.protobuf';
const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Types whose JSON is not an object of their fields (meta/v1 Time, IntOrString, Quantity…). */
const scalarTypes = new Set(['string', 'bytes', 'int32', 'int64', 'bool', 'double', 'time', 'microtime', 'rawjson', 'intstr', 'quantity', 'strings']);

interface FieldDef {
  num: number;
  name: string;
  type: string;
  /** the value type of a map<string, T> */
  map?: string;
  repeated: boolean;
  /** a zero value is kept (a Go pointer, or a field without omitempty) */
  keep: boolean;
  /** an embedded struct JSON inlines into the parent */
  inline: boolean;
}

const tables = new Map<string, FieldDef[]>();

/** The fields of a message of the table, by field number. */
export function messageFields(name: string): FieldDef[] | undefined {
  let t = tables.get(name);
  if (t) return t;
  const raw = messages[name];
  if (!raw) return undefined;
  t = Object.entries(raw).map(([num, tuple]) => fieldDef(Number(num), tuple));
  tables.set(name, t);
  return t;
}

function fieldDef(num: number, [name, type, flags = '']: FieldTuple): FieldDef {
  const map = type.startsWith('map:') ? type.slice(4) : undefined;
  return { num, name, type: map ? 'map' : type, ...(map ? { map } : {}), repeated: flags.includes('r'), keep: flags.includes('k'), inline: flags.includes('i') };
}

/** Every type the table names is a message of the table or a type this codec reads. */
export function unknownTypes(): string[] {
  const out = new Set<string>();
  for (const name of Object.keys(messages)) {
    for (const f of messageFields(name)!) {
      const t = f.map ?? f.type;
      if (!scalarTypes.has(t) && !messages[t]) out.add(t);
    }
  }
  for (const m of Object.values(kinds)) if (!messages[m]) out.add(m);
  return [...out];
}

export class ProtoError extends Error {}
/** A field number the table does not know: the body is refused rather than read in part. */
export class UnknownFieldError extends ProtoError {}

// ---- wire reading ----

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new ProtoError('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 63n) throw new ProtoError('varint too long');
    }
  }
  bytes(): Uint8Array {
    const len = Number(this.varint());
    if (len < 0 || this.pos + len > this.buf.length) throw new ProtoError('truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  fixed64(): Buffer {
    if (this.pos + 8 > this.buf.length) throw new ProtoError('truncated fixed64');
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + 8));
    this.pos += 8;
    return out;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** The wire type each scalar is written with. */
function wireOf(type: string): number {
  if (type === 'int32' || type === 'int64' || type === 'bool') return 0;
  if (type === 'double') return 1;
  return 2;
}

function timeText(seconds: number, nanos: number, micro: boolean): string {
  const iso = new Date(seconds * 1000).toISOString().slice(0, 19);
  return micro ? `${iso}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z` : `${iso}Z`;
}

/** Go's zero time.Time (0001-01-01T00:00:00Z), which metav1.Time marshals as nothing. */
const zeroTimeSeconds = -62135596800;

function readScalar(type: string, r: Reader, msg: string, num: number): unknown {
  switch (type) {
    case 'string':
      return utf8.decode(r.bytes());
    case 'bytes':
      return Buffer.from(r.bytes()).toString('base64');
    case 'int32':
      return Number(BigInt.asIntN(32, r.varint()));
    case 'int64':
      return Number(BigInt.asIntN(64, r.varint()));
    case 'bool':
      return r.varint() !== 0n;
    case 'double':
      return r.fixed64().readDoubleLE(0);
    case 'time':
    case 'microtime': {
      const m = readFields(r.bytes(), `${msg}.${num}`, [
        { num: 1, name: 'seconds', type: 'int64', repeated: false, keep: false, inline: false },
        { num: 2, name: 'nanos', type: 'int32', repeated: false, keep: false, inline: false },
      ]) as { seconds?: number; nanos?: number };
      if (!m.seconds && !m.nanos) return undefined;
      if (m.seconds === zeroTimeSeconds) return undefined;
      return timeText(m.seconds ?? 0, m.nanos ?? 0, type === 'microtime');
    }
    case 'rawjson': {
      const raw = readFields(r.bytes(), `${msg}.${num}`, [{ num: 1, name: 'raw', type: 'bytes', repeated: false, keep: false, inline: false }]) as { raw?: string };
      if (raw.raw === undefined) return undefined;
      const text = Buffer.from(raw.raw, 'base64');
      if (text.subarray(0, 4).equals(magic)) throw new ProtoError(`${msg} field ${num} holds a protobuf object, which is not supported`);
      try {
        return JSON.parse(text.toString('utf8'));
      } catch {
        throw new ProtoError(`${msg} field ${num} is not JSON`);
      }
    }
    case 'intstr': {
      const m = readFields(r.bytes(), `${msg}.${num}`, [
        { num: 1, name: 'type', type: 'int64', repeated: false, keep: false, inline: false },
        { num: 2, name: 'intVal', type: 'int32', repeated: false, keep: false, inline: false },
        { num: 3, name: 'strVal', type: 'string', repeated: false, keep: false, inline: false },
      ]) as { type?: number; intVal?: number; strVal?: string };
      return m.type === 1 ? (m.strVal ?? '') : (m.intVal ?? 0);
    }
    case 'quantity': {
      const m = readFields(r.bytes(), `${msg}.${num}`, [{ num: 1, name: 'string', type: 'string', repeated: false, keep: false, inline: false }]) as { string?: string };
      return m.string ?? '0';
    }
    case 'strings': {
      const m = readFields(r.bytes(), `${msg}.${num}`, [{ num: 1, name: 'items', type: 'string', repeated: true, keep: false, inline: false }]) as { items?: string[] };
      return m.items ?? [];
    }
  }
  throw new ProtoError(`${msg} field ${num} has type ${type}, which is not supported`);
}

function isZero(v: unknown): boolean {
  return v === '' || v === 0 || v === false || v === undefined;
}

function readValue(f: FieldDef, type: string, r: Reader, msg: string): unknown {
  if (scalarTypes.has(type)) return readScalar(type, r, msg, f.num);
  return decodeMessage(type, r.bytes());
}

function readFields(buf: Uint8Array, msg: string, fields: FieldDef[]): Record<string, unknown> {
  const byNum = new Map(fields.map((f) => [f.num, f]));
  const r = new Reader(buf);
  const out: Record<string, unknown> = {};
  while (!r.done) {
    const key = r.varint();
    const num = Number(key >> 3n);
    const wire = Number(key & 7n);
    const f = byNum.get(num);
    if (!f) throw new UnknownFieldError(`${msg} field ${num} is not known to this server`);
    if (f.type === 'map') {
      if (wire !== 2) throw new ProtoError(`${msg} field ${num} has wire type ${wire}, want 2`);
      const entry = readFields(r.bytes(), `${msg}.${f.name}`, [
        { num: 1, name: 'key', type: 'string', repeated: false, keep: true, inline: false },
        { num: 2, name: 'value', type: f.map!, repeated: false, keep: true, inline: false },
      ]);
      const map = (out[f.name] as Record<string, unknown> | undefined) ?? {};
      map[String(entry.key ?? '')] = entry.value ?? zeroOf(f.map!);
      out[f.name] = map;
      continue;
    }
    const want = wireOf(f.type);
    if (f.repeated && wire === 2 && want !== 2) {
      // A packed repeated number: one length-delimited run of values.
      const run = new Reader(r.bytes());
      const list = (out[f.name] as unknown[] | undefined) ?? [];
      while (!run.done) list.push(readScalar(f.type, run, msg, num));
      out[f.name] = list;
      continue;
    }
    if (wire !== want) throw new ProtoError(`${msg} field ${num} has wire type ${wire}, want ${want}`);
    const v = readValue(f, f.type, r, msg);
    if (f.repeated) {
      const list = (out[f.name] as unknown[] | undefined) ?? [];
      list.push(v === undefined ? null : v);
      out[f.name] = list;
      continue;
    }
    if (f.inline) {
      Object.assign(out, v as Record<string, unknown>);
      continue;
    }
    if (v === undefined) continue;
    if (!f.keep && scalarTypes.has(f.type) && isZero(v)) continue;
    out[f.name] = v;
  }
  return out;
}

function zeroOf(type: string): unknown {
  if (type === 'string' || type === 'bytes') return '';
  if (type === 'strings') return [];
  if (type === 'quantity') return '0';
  return {};
}

/** Decodes one message of the table into its JSON form. */
export function decodeMessage(name: string, buf: Uint8Array): Record<string, unknown> {
  const fields = messageFields(name);
  if (!fields) throw new ProtoError(`no protobuf schema for ${name}`);
  return readFields(buf, name, fields);
}

// ---- wire writing ----

class Writer {
  private chunks: Buffer[] = [];
  varint(v: bigint | number): void {
    let n = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    while (n > 0x7fn) {
      out.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    out.push(Number(n));
    this.chunks.push(Buffer.from(out));
  }
  tag(num: number, wire: number): void {
    this.varint((num << 3) | wire);
  }
  bytes(num: number, b: Uint8Array): void {
    this.tag(num, 2);
    this.varint(b.length);
    this.chunks.push(Buffer.from(b));
  }
  raw(b: Buffer): void {
    this.chunks.push(b);
  }
  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function parseTime(s: unknown, where: string): { seconds: number; nanos: number } {
  const d = typeof s === 'string' ? Date.parse(s) : NaN;
  if (Number.isNaN(d)) throw new ProtoError(`${where} is not a time: ${JSON.stringify(s)}`);
  const frac = /\.(\d+)/.exec(String(s))?.[1] ?? '';
  return { seconds: Math.floor(d / 1000), nanos: Number((frac + '000000000').slice(0, 9)) };
}

function writeScalar(w: Writer, num: number, type: string, v: unknown, where: string): void {
  switch (type) {
    case 'string':
      if (typeof v !== 'string') throw new ProtoError(`${where} must be a string`);
      return w.bytes(num, Buffer.from(v, 'utf8'));
    case 'bytes':
      if (typeof v !== 'string') throw new ProtoError(`${where} must be base64 bytes`);
      return w.bytes(num, Buffer.from(v, 'base64'));
    case 'int32':
    case 'int64':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new ProtoError(`${where} must be an integer`);
      w.tag(num, 0);
      return w.varint(v);
    case 'bool':
      if (typeof v !== 'boolean') throw new ProtoError(`${where} must be a boolean`);
      w.tag(num, 0);
      return w.varint(v ? 1 : 0);
    case 'double': {
      if (typeof v !== 'number') throw new ProtoError(`${where} must be a number`);
      const b = Buffer.alloc(8);
      b.writeDoubleLE(v);
      w.tag(num, 1);
      return w.raw(b);
    }
    case 'time':
    case 'microtime': {
      const t = parseTime(v, where);
      const m = new Writer();
      if (t.seconds) (m.tag(1, 0), m.varint(t.seconds));
      if (t.nanos && type === 'microtime') (m.tag(2, 0), m.varint(t.nanos));
      return w.bytes(num, m.finish());
    }
    case 'rawjson': {
      const m = new Writer();
      // The raw bytes a Go client would have stored: encoding/json escapes <, >, & and the JS
      // line separators, and clients compare them byte for byte (kubectl rollout undo's match).
      m.bytes(1, Buffer.from(JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)));
      return w.bytes(num, m.finish());
    }
    case 'intstr': {
      const m = new Writer();
      if (typeof v === 'string') {
        m.tag(1, 0);
        m.varint(1);
        m.tag(2, 0);
        m.varint(0);
        m.bytes(3, Buffer.from(v));
      } else if (typeof v === 'number' && Number.isInteger(v)) {
        m.tag(1, 0);
        m.varint(0);
        m.tag(2, 0);
        m.varint(v);
        m.bytes(3, Buffer.alloc(0));
      } else throw new ProtoError(`${where} must be an integer or a string`);
      return w.bytes(num, m.finish());
    }
    case 'quantity': {
      const m = new Writer();
      m.bytes(1, Buffer.from(String(v)));
      return w.bytes(num, m.finish());
    }
    case 'strings': {
      if (!Array.isArray(v)) throw new ProtoError(`${where} must be a list`);
      const m = new Writer();
      for (const s of v) m.bytes(1, Buffer.from(String(s)));
      return w.bytes(num, m.finish());
    }
  }
  throw new ProtoError(`${where} has type ${type}, which is not supported`);
}

function writeValue(w: Writer, num: number, type: string, v: unknown, where: string): void {
  if (scalarTypes.has(type)) return writeScalar(w, num, type, v, where);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ProtoError(`${where} must be an object`);
  w.bytes(num, encodeMessage(type, v as Record<string, unknown>, where));
}

/** Encodes the JSON form of one message of the table; a field the table lacks is an error. */
export function encodeMessage(name: string, obj: Record<string, unknown>, where = name): Buffer {
  return encodeFields(name, obj, where, true);
}

/** `strict`: every key of obj must be a field (false for an embedded struct, whose parent holds other keys too). */
function encodeFields(name: string, obj: Record<string, unknown>, where: string, strict: boolean): Buffer {
  const fields = messageFields(name);
  if (!fields) throw new ProtoError(`no protobuf schema for ${name}`);
  const w = new Writer();
  const used = new Set<string>();
  for (const f of [...fields].sort((a, b) => a.num - b.num)) {
    if (f.inline) {
      if (!messageFields(f.type)) throw new ProtoError(`no protobuf schema for ${f.type}`);
      const inner = encodeFields(f.type, obj, where, false);
      for (const g of inlinedNames(f.type)) used.add(g);
      w.bytes(f.num, inner);
      continue;
    }
    used.add(f.name);
    const v = obj[f.name];
    if (v === undefined || v === null) continue;
    const at = `${where}.${f.name}`;
    if (f.type === 'map') {
      if (typeof v !== 'object' || Array.isArray(v)) throw new ProtoError(`${at} must be a map`);
      for (const k of Object.keys(v).sort()) {
        const e = new Writer();
        e.bytes(1, Buffer.from(k));
        const val = (v as Record<string, unknown>)[k];
        if (val !== null && val !== undefined) writeValue(e, 2, f.map!, val, `${at}[${k}]`);
        w.bytes(f.num, e.finish());
      }
      continue;
    }
    if (f.repeated) {
      if (!Array.isArray(v)) throw new ProtoError(`${at} must be a list`);
      v.forEach((x, i) => writeValue(w, f.num, f.type, x, `${at}[${i}]`));
      continue;
    }
    writeValue(w, f.num, f.type, v, at);
  }
  const extra = !strict ? [] : Object.keys(obj).filter((k) => !used.has(k) && k !== 'apiVersion' && k !== 'kind');
  if (extra.length) throw new UnknownFieldError(`${where} field ${JSON.stringify(extra[0])} has no protobuf field number`);
  return w.finish();
}

/** The JSON names an embedded message contributes, through embeddings of its own. */
function inlinedNames(name: string): string[] {
  return messageFields(name)!.flatMap((g) => (g.inline ? inlinedNames(g.type) : [g.name]));
}

// ---- the envelope ----

function messageOfKind(apiVersion: string, kind: string): string | undefined {
  // DeleteOptions travels under the version of the resource it deletes.
  if (kind === 'DeleteOptions') return kinds['meta.k8s.io/v1/DeleteOptions'];
  return kinds[`${apiVersion}/${kind}`];
}

/** Whether a kind has a protobuf form here (as upstream, every built-in kind has). */
export function hasProtobuf(apiVersion: string, kind: string): boolean {
  return messageOfKind(apiVersion, kind) !== undefined;
}

/** Decodes a protobuf request body into a JSON object with apiVersion and kind set. */
export function decodeProtobufBody(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(magic)) {
    throw errors.badRequest('provided protobuf body does not begin with the Kubernetes magic number');
  }
  try {
    const unknown = readFields(body.subarray(4), 'Unknown', [
      { num: 1, name: 'typeMeta', type: 'TypeMeta', repeated: false, keep: true, inline: false },
      { num: 2, name: 'raw', type: 'bytes', repeated: false, keep: true, inline: false },
      { num: 3, name: 'contentEncoding', type: 'string', repeated: false, keep: false, inline: false },
      { num: 4, name: 'contentType', type: 'string', repeated: false, keep: false, inline: false },
    ]);
    const tm = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
    if (unknown.contentEncoding) throw new ProtoError(`content encoding ${JSON.stringify(unknown.contentEncoding)} is not supported`);
    const apiVersion = tm.apiVersion ?? '';
    const kind = tm.kind ?? '';
    const msg = messageOfKind(apiVersion, kind);
    if (!msg) throw errors.unsupportedMediaType(['application/json', 'application/yaml']);
    const raw = Buffer.from(String(unknown.raw ?? ''), 'base64');
    return { apiVersion, kind, ...decodeMessage(msg, raw) };
  } catch (e) {
    if (e instanceof UnknownFieldError) {
      throw new ApiError(415, 'UnsupportedMediaType', `unable to decode protobuf body: ${e.message}; send it as application/json`);
    }
    if (e instanceof ProtoError) throw errors.badRequest(`unable to decode protobuf body: ${e.message}`);
    throw e;
  }
}

/** Encodes an object (apiVersion and kind set) as a protobuf body, or undefined for a kind the table lacks. */
export function encodeProtobufObject(obj: Record<string, unknown>): Buffer | undefined {
  const apiVersion = String(obj.apiVersion ?? '');
  const kind = String(obj.kind ?? '');
  const msg = messageOfKind(apiVersion, kind);
  if (!msg) return undefined;
  const w = new Writer();
  const tm = new Writer();
  tm.bytes(1, Buffer.from(apiVersion));
  tm.bytes(2, Buffer.from(kind));
  w.bytes(1, tm.finish());
  w.bytes(2, encodeMessage(msg, obj));
  w.bytes(3, Buffer.alloc(0));
  w.bytes(4, Buffer.alloc(0));
  return Buffer.concat([magic, w.finish()]);
}

/** A response body's protobuf envelope; a kind the table lacks is a ProtoError, as an unknown field is. */
export function encodeResponseObject(obj: Record<string, unknown>): Buffer {
  const out = encodeProtobufObject(obj);
  if (!out) throw new ProtoError(`no protobuf schema for ${String(obj.apiVersion)}/${String(obj.kind)}`);
  return out;
}

// ---- watch streams ----

/** The field numbers of meta/v1 WatchEvent {type, object} from the table, and RawExtension's raw. */
function watchEventFields(): { type: number; object: number } {
  const f = messageFields('WatchEvent') ?? [];
  const num = (name: string): number => {
    const d = f.find((x) => x.name === name);
    if (!d) throw new ProtoError(`WatchEvent has no field ${name}`);
    return d.num;
  };
  return { type: num('type'), object: num('object') };
}
const rawExtensionRaw = 1;

/**
 * One event of a protobuf watch stream (application/vnd.kubernetes.protobuf;stream=watch): the
 * WatchEvent written raw (the stream serializer adds no envelope) behind a 4-byte big-endian
 * length (LengthDelimitedFramer); its object, a RawExtension, holds the object's full envelope,
 * magic and all (the embedded encoder is the ordinary protobuf serializer).
 */
export function watchEventFrame(type: string, object: Buffer): Buffer {
  const nums = watchEventFields();
  const raw = new Writer();
  raw.bytes(rawExtensionRaw, object);
  const ev = new Writer();
  ev.bytes(nums.type, Buffer.from(type, 'utf8'));
  ev.bytes(nums.object, raw.finish());
  const body = ev.finish();
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

export interface WatchFrame {
  type: string;
  /** the object's envelope, as decodeProtobufBody reads it */
  object: Buffer;
}

/** Splits a protobuf watch stream into its events; `rest` is an incomplete last frame. */
export function readWatchFrames(stream: Buffer): { frames: WatchFrame[]; rest: Buffer } {
  const nums = watchEventFields();
  const frames: WatchFrame[] = [];
  let pos = 0;
  while (pos + 4 <= stream.length) {
    const len = stream.readUInt32BE(pos);
    if (pos + 4 + len > stream.length) break;
    const ev = readFields(stream.subarray(pos + 4, pos + 4 + len), 'WatchEvent', [
      { num: nums.type, name: 'type', type: 'string', repeated: false, keep: true, inline: false },
      { num: nums.object, name: 'object', type: 'bytes', repeated: false, keep: true, inline: false },
    ]);
    const ext = readFields(Buffer.from(String(ev.object ?? ''), 'base64'), 'RawExtension', [{ num: rawExtensionRaw, name: 'raw', type: 'bytes', repeated: false, keep: true, inline: false }]);
    frames.push({ type: String(ev.type ?? ''), object: Buffer.from(String(ext.raw ?? ''), 'base64') });
    pos += 4 + len;
  }
  return { frames, rest: stream.subarray(pos) };
}
