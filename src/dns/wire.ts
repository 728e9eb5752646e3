// The DNS wire format (RFC 1035, EDNS0 from RFC 6891): a strict query decoder that never
// throws past its edge, and a response encoder with name compression and truncation.
import { formatIP, parseIP } from '../util/ip.ts';

export const Type = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 } as const;
export const Class = { IN: 1, CH: 3, ANY: 255 } as const;
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

const typeNames: Record<number, string> = Object.fromEntries(Object.entries(Type).map(([k, v]) => [v, k]));
const rcodeNames: Record<number, string> = Object.fromEntries(Object.entries(Rcode).map(([k, v]) => [v, k]));
export function typeName(t: number): string {
  return typeNames[t] ?? `TYPE${t}`;
}
export function rcodeName(r: number): string {
  return rcodeNames[r] ?? `RCODE${r}`;
}

export interface Question {
  /** as sent, without the trailing dot ("" is the root) */
  name: string;
  type: number;
  class: number;
}

export interface Edns {
  udpSize: number;
  version: number;
  do: boolean;
}

export interface Query {
  id: number;
  /** the header's flag word as sent */
  flags: number;
  opcode: number;
  rd: boolean;
  question: Question;
  edns?: Edns;
  /** where the question section ends in the packet */
  questionEnd: number;
}

export interface Soa {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}
export interface Srv {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** One resource record; names without the trailing dot. */
export type RR = { name: string; ttl: number; class?: number } & (
  | { type: 1 | 28; data: string }
  | { type: 2 | 5 | 12; data: string }
  | { type: 16; data: string[] }
  | { type: 33; data: Srv }
  | { type: 6; data: Soa }
);

export interface Response {
  id: number;
  opcode?: number;
  rd: boolean;
  aa: boolean;
  ra: boolean;
  rcode: number;
  question?: Question;
  answer: RR[];
  authority: RR[];
  additional: RR[];
  /** an OPT record is added when the query carried one */
  edns?: Edns;
}

/** Why a packet could not be read: FORMERR can still be answered (the header was whole), Drop cannot. */
export type DecodeError = { code: 'Drop' | 'FormErr' | 'NotImp'; id: number; flags: number; message: string };

const MAX_NAME = 255;

/** Reads a (possibly compressed) name at `off`; returns the name and where the name ends in place. */
export function readName(buf: Buffer, off: number): { name: string; end: number } | string {
  const labels: string[] = [];
  let pos = off;
  let end = -1;
  let jumps = 0;
  let len = 0;
  for (;;) {
    if (pos >= buf.length) return 'name runs past the packet';
    const b = buf[pos]!;
    if (b === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    const kind = b & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) return 'compression pointer runs past the packet';
      if (++jumps > 64) return 'compression loop';
      if (end < 0) end = pos + 2;
      const target = ((b & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= pos) return 'compression pointer points forward';
      pos = target;
      continue;
    }
    if (kind !== 0) return 'unsupported label type';
    if (pos + 1 + b > buf.length) return 'label runs past the packet';
    len += b + 1;
    if (len > MAX_NAME - 1) return 'name longer than 255 octets';
    labels.push(escapeLabel(buf, pos + 1, pos + 1 + b));
    pos += 1 + b;
  }
  return { name: labels.join('.'), end };
}

// Labels are kept as text; bytes outside letters/digits/-/_ are escaped as \DDD like dig does,
// so that an odd name can never alias a different one.
function escapeLabel(buf: Buffer, from: number, to: number): string {
  let plain = true;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f || c === 0x2a)) {
      plain = false;
      break;
    }
  }
  if (plain) return buf.toString('latin1', from, to);
  let s = '';
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f || c === 0x2a) s += String.fromCharCode(c);
    else s += '\\' + String(c).padStart(3, '0');
  }
  return s;
}

/** Decodes a query: one question, optional OPT in the additional section. */
export function decodeQuery(buf: Buffer): Query | DecodeError {
  if (buf.length < 12) return { code: 'Drop', id: 0, flags: 0, message: 'shorter than a DNS header' };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  const fail = (code: DecodeError['code'], message: string): DecodeError => ({ code, id, flags, message });
  if (flags & 0x8000) return fail('Drop', 'a response, not a query');
  const opcode = (flags >> 11) & 0xf;
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  if (opcode !== 0) return fail('NotImp', `opcode ${opcode} is not supported`);
  if (qd !== 1) return fail('FormErr', `${qd} questions (expected 1)`);
  if (an !== 0 || ns !== 0) return fail('FormErr', 'a query with answer or authority records');
  const qn = readName(buf, 12);
  if (typeof qn === 'string') return fail('FormErr', qn);
  if (qn.end + 4 > buf.length) return fail('FormErr', 'question runs past the packet');
  const question: Question = { name: qn.name, type: buf.readUInt16BE(qn.end), class: buf.readUInt16BE(qn.end + 2) };
  const q: Query = { id, flags, opcode, rd: (flags & 0x0100) !== 0, question, questionEnd: qn.end + 4 };
  let pos = q.questionEnd;
  for (let i = 0; i < ar; i++) {
    const rn = readName(buf, pos);
    if (typeof rn === 'string') return fail('FormErr', `additional record: ${rn}`);
    if (rn.end + 10 > buf.length) return fail('FormErr', 'additional record runs past the packet');
    const type = buf.readUInt16BE(rn.end);
    const rdlen = buf.readUInt16BE(rn.end + 8);
    if (rn.end + 10 + rdlen > buf.length) return fail('FormErr', 'additional record data runs past the packet');
    if (type === Type.OPT) {
      if (q.edns) return fail('FormErr', 'more than one OPT record');
      if (rn.name !== '') return fail('FormErr', 'OPT record not owned by the root');
      const ttl = buf.readUInt32BE(rn.end + 4);
      q.edns = { udpSize: buf.readUInt16BE(rn.end + 2), version: (ttl >>> 16) & 0xff, do: (ttl & 0x8000) !== 0 };
    }
    pos = rn.end + 10 + rdlen;
  }
  if (pos !== buf.length) return fail('FormErr', 'trailing bytes after the last record');
  return q;
}

/** A growable writer with RFC 1035 name compression (case-sensitive, so echoed case survives). */
class Writer {
  buf: Buffer;
  len = 0;
  private names = new Map<string, number>();
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.len++] = v;
  }
  u16(v: number): void {
    this.room(2);
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
  }
  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  name(name: string, compress = true): void {
    let rest = name;
    while (rest !== '') {
      const known = compress ? this.names.get(rest) : undefined;
      if (known !== undefined) {
        this.u16(0xc000 | known);
        return;
      }
      if (compress && this.len < 0x3fff) this.names.set(rest, this.len);
      const dot = nextDot(rest);
      const label = unescapeLabel(dot < 0 ? rest : rest.slice(0, dot));
      this.u8(label.length);
      this.bytes(label);
      rest = dot < 0 ? '' : rest.slice(dot + 1);
    }
    this.u8(0);
  }
}

function nextDot(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) === 0x5c) i += s[i + 1] !== undefined && /\d/.test(s[i + 1]!) ? 3 : 1;
    else if (s.charCodeAt(i) === 0x2e) return i;
  }
  return -1;
}

function unescapeLabel(label: string): Buffer {
  if (!label.includes('\\')) return Buffer.from(label, 'latin1');
  const out: number[] = [];
  for (let i = 0; i < label.length; i++) {
    if (label[i] === '\\') {
      if (/^\d{3}$/.test(label.slice(i + 1, i + 4))) {
        out.push(Number(label.slice(i + 1, i + 4)) & 0xff);
        i += 3;
      } else if (i + 1 < label.length) out.push(label.charCodeAt(++i) & 0xff);
    } else out.push(label.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}

function writeRR(w: Writer, rr: RR): void {
  w.name(rr.name);
  w.u16(rr.type);
  w.u16(rr.class ?? Class.IN);
  w.u32(rr.ttl);
  const lenAt = w.len;
  w.u16(0);
  switch (rr.type) {
    case Type.A:
      for (const part of rr.data.split('.')) w.u8(Number(part));
      break;
    case Type.AAAA:
      w.bytes(ipv6Bytes(rr.data));
      break;
    case Type.NS:
    case Type.CNAME:
    case Type.PTR:
      w.name(rr.data);
      break;
    case Type.TXT:
      for (const s of rr.data) {
        const b = Buffer.from(s, 'utf8');
        w.u8(Math.min(b.length, 255));
        w.bytes(b.subarray(0, 255));
      }
      break;
    case Type.SRV:
      w.u16(rr.data.priority);
      w.u16(rr.data.weight);
      w.u16(rr.data.port);
      w.name(rr.data.target, false); // RFC 2782: no compression of the target
      break;
    case Type.SOA:
      w.name(rr.data.mname);
      w.name(rr.data.rname);
      for (const v of [rr.data.serial, rr.data.refresh, rr.data.retry, rr.data.expire, rr.data.minimum]) w.u32(v);
      break;
  }
  w.buf.writeUInt16BE(w.len - lenAt - 2, lenAt);
}

export function ipv6Bytes(ip: string): Buffer {
  const out = Buffer.alloc(16);
  let v = parseIP(ip)?.value ?? 0n;
  for (let i = 15; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/**
 * Encodes a response. When it exceeds `limit` octets, records are dropped from the end of the
 * answer (authority and additional first) and TC is set, as a truncating server does.
 */
export function encodeResponse(r: Response, limit = 65535): Buffer {
  const w = new Writer(512);
  const header = (an: number, ns: number, ar: number, tc: boolean) => {
    const rcode = r.rcode & 0xf;
    const flags = 0x8000 | ((r.opcode ?? 0) << 11) | (r.aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) | (r.rd ? 0x0100 : 0) | (r.ra ? 0x0080 : 0) | rcode;
    w.buf.writeUInt16BE(r.id, 0);
    w.buf.writeUInt16BE(flags, 2);
    w.buf.writeUInt16BE(r.question ? 1 : 0, 4);
    w.buf.writeUInt16BE(an, 6);
    w.buf.writeUInt16BE(ns, 8);
    w.buf.writeUInt16BE(ar, 10);
  };
  w.len = 12;
  if (r.question) {
    w.name(r.question.name);
    w.u16(r.question.type);
    w.u16(r.question.class);
  }
  const optLen = r.edns ? 11 : 0;
  const sections = [r.answer, r.authority, r.additional];
  const counts = [0, 0, 0];
  let tc = false;
  outer: for (let s = 0; s < 3; s++) {
    for (const rr of sections[s]!) {
      const before = w.len;
      writeRR(w, rr);
      if (w.len + optLen > limit) {
        w.len = before;
        // Only a cut in the answer (or authority) section is a truncation the client must see;
        // dropped additional records are optional (RFC 2181 §9).
        tc = s < 2;
        break outer;
      }
      counts[s]!++;
    }
  }
  if (r.edns) {
    w.u8(0);
    w.u16(Type.OPT);
    w.u16(Math.max(512, Math.min(r.edns.udpSize, 4096)));
    w.u32(((r.rcode >> 4) << 24) | (r.edns.version << 16) | (r.edns.do ? 0x8000 : 0));
    w.u16(0);
  }
  header(counts[0]!, counts[1]!, counts[2]! + (r.edns ? 1 : 0), tc);
  return w.buf.subarray(0, w.len);
}

/** What a full decode of a response gives (for tests, the forwarder's cache and tools). */
export interface DecodedResponse {
  id: number;
  flags: number;
  rcode: number;
  tc: boolean;
  aa: boolean;
  questions: Question[];
  answer: { name: string; type: number; class: number; ttl: number; data: unknown; ttlAt: number }[];
  authority: DecodedResponse['answer'];
  additional: DecodedResponse['answer'];
}

/** Decodes any message (used on upstream answers); throws on malformed input. */
export function decodeMessage(buf: Buffer): DecodedResponse {
  if (buf.length < 12) throw new Error('shorter than a DNS header');
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o));
  let pos = 12;
  const name = (): string => {
    const r = readName(buf, pos);
    if (typeof r === 'string') throw new Error(r);
    pos = r.end;
    return r.name;
  };
  const need = (n: number) => {
    if (pos + n > buf.length) throw new Error('record runs past the packet');
  };
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]!; i++) {
    const n = name();
    need(4);
    questions.push({ name: n, type: buf.readUInt16BE(pos), class: buf.readUInt16BE(pos + 2) });
    pos += 4;
  }
  const section = (n: number): DecodedResponse['answer'] => {
    const out: DecodedResponse['answer'] = [];
    for (let i = 0; i < n; i++) {
      const owner = name();
      need(10);
      const type = buf.readUInt16BE(pos);
      const cls = buf.readUInt16BE(pos + 2);
      const ttlAt = pos + 4;
      const ttl = buf.readUInt32BE(pos + 4);
      const rdlen = buf.readUInt16BE(pos + 8);
      pos += 10;
      need(rdlen);
      const start = pos;
      let data: unknown = buf.subarray(pos, pos + rdlen);
      if (type === Type.A && rdlen === 4) data = [...buf.subarray(pos, pos + 4)].join('.');
      else if (type === Type.AAAA && rdlen === 16) data = formatIPv6(buf.subarray(pos, pos + 16));
      else if (type === Type.CNAME || type === Type.PTR || type === Type.NS) data = name();
      else if (type === Type.SRV) {
        need(6);
        const [priority, weight, port] = [buf.readUInt16BE(pos), buf.readUInt16BE(pos + 2), buf.readUInt16BE(pos + 4)];
        pos += 6;
        data = { priority, weight, port, target: name() };
      } else if (type === Type.SOA) {
        const mname = name();
        const rname = name();
        need(20);
        const v = [0, 4, 8, 12, 16].map((o) => buf.readUInt32BE(pos + o));
        data = { mname, rname, serial: v[0], refresh: v[1], retry: v[2], expire: v[3], minimum: v[4] };
      } else if (type === Type.TXT) {
        const parts: string[] = [];
        let p = pos;
        while (p < pos + rdlen) {
          const l = buf[p]!;
          parts.push(buf.subarray(p + 1, p + 1 + l).toString('utf8'));
          p += 1 + l;
        }
        data = parts;
      }
      pos = start + rdlen;
      out.push({ name: owner, type, class: cls, ttl, data, ttlAt });
    }
    return out;
  };
  const answer = section(counts[1]!);
  const authority = section(counts[2]!);
  const additional = section(counts[3]!);
  return { id: buf.readUInt16BE(0), flags, rcode: flags & 0xf, tc: (flags & 0x0200) !== 0, aa: (flags & 0x0400) !== 0, questions, answer, authority, additional };
}

function formatIPv6(b: Buffer): string {
  let v = 0n;
  for (const byte of b) v = (v << 8n) | BigInt(byte);
  return formatIP(v, 6);
}

/** Encodes a plain query (for the forwarder's own lookups and for tests). */
export function encodeQuery(id: number, q: Question, opts: { rd?: boolean; edns?: Edns } = {}): Buffer {
  const w = new Writer(64);
  w.len = 12;
  w.name(q.name, false);
  w.u16(q.type);
  w.u16(q.class);
  if (opts.edns) {
    w.u8(0);
    w.u16(Type.OPT);
    w.u16(opts.edns.udpSize);
    w.u32((opts.edns.version << 16) | (opts.edns.do ? 0x8000 : 0));
    w.u16(0);
  }
  w.buf.writeUInt16BE(id, 0);
  w.buf.writeUInt16BE(opts.rd === false ? 0 : 0x0100, 2);
  w.buf.writeUInt16BE(1, 4);
  w.buf.writeUInt16BE(0, 6);
  w.buf.writeUInt16BE(0, 8);
  w.buf.writeUInt16BE(opts.edns ? 1 : 0, 10);
  return Buffer.from(w.buf.subarray(0, w.len));
}
