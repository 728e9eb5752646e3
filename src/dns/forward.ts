// Forwarding names outside the cluster zone to the node's resolvers (CoreDNS's `forward .
// /etc/resolv.conf` with `cache 30` in front): connected UDP sockets so an unreachable upstream
// fails at once, TCP when the answer is truncated, a deadline so a silent upstream becomes
// SERVFAIL instead of a hang, a bounded cache, identical questions in flight coalesced, and at
// most `maxConcurrent` upstream queries at a time (beyond that, REFUSED, as max_concurrent).
import dgram from 'node:dgram';
import net from 'node:net';
import { familyOf } from '../util/ip.ts';
import { decodeMessage, encodeQuery, readName, Rcode, Type, type Question, type RR } from './wire.ts';

export interface Upstream {
  host: string;
  port: number;
}

/** "ADDR", "ADDR:PORT" or "[V6]:PORT" → an upstream (port 53 by default). */
export function parseUpstream(s: string): Upstream | undefined {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? (familyOf(s) ? [s, s, undefined] : /^([^:]+)(?::(\d+))?$/.exec(s));
  if (!m || !familyOf(m[1]!)) return undefined;
  const port = m[2] === undefined ? 53 : Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1]!, port } : undefined;
}

export interface ForwardResult {
  /** the upstream's answer with ID 0 (the caller sets the client's), or a local rcode */
  response?: Buffer;
  rcode: number;
  fromCache: boolean;
  upstream?: string;
  /** the cache entry behind the answer, when it is cached (the server's wire cache reuses it) */
  entry?: CacheEntry;
}

export interface ForwarderOptions {
  /** per upstream attempt */
  attemptTimeoutMs?: number;
  /** for the whole question: after it, SERVFAIL */
  deadlineMs?: number;
  maxConcurrent?: number;
  cacheEntries?: number;
  /** the cache's cap on TTLs (CoreDNS `cache 30`); 0 disables the cache */
  maxTtl?: number;
  /** observed per upstream answer: upstream, rcode name, seconds */
  onUpstream?: (to: string, rcode: number, seconds: number) => void;
  onReject?: () => void;
}

export interface CacheEntry {
  buf: Buffer;
  storedAt: number;
  expires: number;
  ttlOffsets: number[];
  rcode: number;
}

class UdpUpstream {
  private socket?: dgram.Socket;
  private pending = new Map<number, (r: Buffer | Error) => void>();
  private connected = false;
  constructor(readonly up: Upstream) {}
  get label(): string {
    return `${familyOf(this.up.host) === 6 ? `[${this.up.host}]` : this.up.host}:${this.up.port}`;
  }
  private open(): dgram.Socket {
    if (this.socket) return this.socket;
    const s = dgram.createSocket(familyOf(this.up.host) === 6 ? 'udp6' : 'udp4');
    s.on('message', (msg) => {
      if (msg.length < 12) return;
      const cb = this.pending.get(msg.readUInt16BE(0));
      if (cb) cb(msg);
    });
    // On a connected socket an ICMP port unreachable arrives as ECONNREFUSED: fail what waits.
    s.on('error', (e) => {
      for (const cb of [...this.pending.values()]) cb(e);
      this.close();
    });
    this.connected = false;
    s.connect(this.up.port, this.up.host, () => (this.connected = true));
    s.unref();
    this.socket = s;
    return s;
  }
  close(): void {
    try {
      this.socket?.close();
    } catch {
      /* already closed */
    }
    this.socket = undefined;
  }
  query(query: Buffer, q: Question, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const s = this.open();
      let id = (Math.random() * 65536) | 0;
      for (let i = 0; this.pending.has(id) && i < 65536; i++) id = (id + 1) & 0xffff;
      const out = Buffer.from(query);
      out.writeUInt16BE(id, 0);
      const timer = setTimeout(() => done(new Error(`no answer from ${this.label} in ${timeoutMs} ms`)), timeoutMs);
      const done = (r: Buffer | Error) => {
        if (r instanceof Buffer && !answers(r, q)) return; // not ours: keep waiting
        clearTimeout(timer);
        this.pending.delete(id);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      this.pending.set(id, done);
      const send = () => s.send(out, (e) => e && done(e));
      // connect() is asynchronous; the first send waits for it.
      if (this.connected) send();
      else s.once('connect', send);
    });
  }
}

/** Does `r` answer `q` (a response with the same question, case-insensitively, or none)? Only the question is read. */
function answers(r: Buffer, q: Question): boolean {
  if (!(r.readUInt16BE(2) & 0x8000)) return false;
  if (r.readUInt16BE(4) === 0) return true;
  const n = readName(r, 12);
  return typeof n !== 'string' && n.end + 4 <= r.length && n.name.toLowerCase() === q.name.toLowerCase() && r.readUInt16BE(n.end) === q.type;
}

function tcpQuery(up: Upstream, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(up.port, up.host);
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => finish(new Error(`no TCP answer from ${up.host}:${up.port} in ${timeoutMs} ms`)), timeoutMs);
    const finish = (r: Buffer | Error) => {
      clearTimeout(timer);
      sock.destroy();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (d) => {
      chunks.push(d);
      got += d.length;
      const all = Buffer.concat(chunks, got);
      if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) finish(all.subarray(2, 2 + all.readUInt16BE(0)));
    });
    sock.on('error', (e) => finish(e));
    sock.on('close', () => finish(new Error('connection closed before an answer')));
  });
}

/** TTL for caching an upstream answer: the lowest TTL of the answer, or the SOA's negative TTL. */
function cacheTtl(buf: Buffer, maxTtl: number): { ttl: number; offsets: number[]; rcode: number } | undefined {
  let m;
  try {
    m = decodeMessage(buf);
  } catch {
    return undefined;
  }
  if (m.tc || (m.rcode !== Rcode.NOERROR && m.rcode !== Rcode.NXDOMAIN)) return undefined;
  const records = [...m.answer, ...m.authority, ...m.additional].filter((r) => r.type !== Type.OPT);
  let ttl: number;
  if (m.answer.length) ttl = Math.min(...m.answer.map((r) => r.ttl));
  else {
    const soa = m.authority.find((r) => r.type === Type.SOA);
    if (!soa) return undefined;
    ttl = Math.min(soa.ttl, (soa.data as { minimum: number }).minimum);
  }
  ttl = Math.min(ttl, maxTtl);
  return ttl > 0 ? { ttl, offsets: records.map((r) => r.ttlAt), rcode: m.rcode } : undefined;
}

/** A cached answer as of `now`: its TTLs lowered by the whole seconds it has been cached. */
export function agedCopy(e: CacheEntry, now: number): Buffer {
  const out = Buffer.from(e.buf);
  const age = Math.floor((now - e.storedAt) / 1000);
  if (age > 0) for (const at of e.ttlOffsets) out.writeUInt32BE(Math.max(0, out.readUInt32BE(at) - age), at);
  return out;
}

export class Forwarder {
  private readonly upstreams: UdpUpstream[];
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<ForwardResult>>();
  private active = 0;
  private readonly o: Required<Omit<ForwarderOptions, 'onUpstream' | 'onReject'>> & ForwarderOptions;
  cacheHits = 0;
  cacheMisses = 0;

  constructor(upstreams: Upstream[], opts: ForwarderOptions = {}) {
    this.upstreams = upstreams.map((u) => new UdpUpstream(u));
    this.o = { attemptTimeoutMs: 1000, deadlineMs: 2000, maxConcurrent: 1000, cacheEntries: 10000, maxTtl: 30, ...opts };
  }

  get cacheSize(): number {
    return this.cache.size;
  }
  get upstreamLabels(): string[] {
    return this.upstreams.map((u) => u.label);
  }

  close(): void {
    for (const u of this.upstreams) u.close();
  }

  /** Forwards the client's query bytes (any ID). The question is the decoded one; `dnssec` the DO bit. */
  forward(query: Buffer, q: Question, dnssec: boolean): ForwardResult | Promise<ForwardResult> {
    const key = `${q.name.toLowerCase()}|${q.type}|${q.class}|${dnssec ? 1 : 0}`;
    // A cached answer is returned at once (no promise): most forwarded queries are cache hits.
    const hit = this.fromCache(key);
    if (hit) return hit;
    this.cacheMisses++;
    const running = this.inflight.get(key);
    if (running) return running;
    if (!this.upstreams.length) return Promise.resolve({ rcode: Rcode.SERVFAIL, fromCache: false });
    if (this.active >= this.o.maxConcurrent) {
      this.o.onReject?.();
      return Promise.resolve({ rcode: Rcode.REFUSED, fromCache: false });
    }
    const p = this.ask(query, q, key).finally(() => {
      this.inflight.delete(key);
      this.active--;
    });
    this.active++;
    this.inflight.set(key, p);
    return p;
  }

  /** Resolves a name upstream (an ExternalName's target): its A/AAAA/CNAME records and TC. */
  async resolve(q: Question): Promise<{ records: RR[]; tc: boolean } | undefined> {
    const r = await this.forward(encodeQuery(0, q, { edns: { udpSize: 1232, version: 0, do: false } }), q, false);
    if (!r.response) return undefined;
    try {
      const m = decodeMessage(r.response);
      const records: RR[] = [];
      for (const a of m.answer) {
        if (a.type === Type.A || a.type === Type.AAAA || a.type === Type.CNAME) records.push({ name: a.name, type: a.type, ttl: a.ttl, data: a.data as string } as RR);
      }
      return { records, tc: m.tc };
    } catch {
      return undefined;
    }
  }

  private fromCache(key: string): ForwardResult | undefined {
    const e = this.cache.get(key);
    if (!e) return undefined;
    const now = Date.now();
    if (now >= e.expires) {
      this.cache.delete(key);
      return undefined;
    }
    this.cacheHits++;
    return { response: agedCopy(e, now), rcode: e.rcode, fromCache: true, entry: e };
  }

  private async ask(query: Buffer, q: Question, key: string): Promise<ForwardResult> {
    const start = Date.now();
    // Random order spreads load (CoreDNS's default policy); each upstream gets one attempt.
    const order = [...this.upstreams].sort(() => Math.random() - 0.5);
    for (const u of order) {
      const left = this.o.deadlineMs - (Date.now() - start);
      if (left <= 0) break;
      const t0 = process.hrtime.bigint();
      try {
        let resp = await u.query(query, q, Math.min(this.o.attemptTimeoutMs, left));
        if (resp.readUInt16BE(2) & 0x0200) resp = await tcpQuery(u.up, query, Math.max(1, this.o.deadlineMs - (Date.now() - start)));
        const rcode = resp.readUInt16BE(2) & 0xf;
        this.o.onUpstream?.(u.label, rcode, Number(process.hrtime.bigint() - t0) / 1e9);
        const out = Buffer.from(resp);
        out.writeUInt16BE(0, 0);
        const entry = this.store(key, out);
        return { response: out, rcode, fromCache: false, upstream: u.label, ...(entry ? { entry } : {}) };
      } catch {
        // try the next upstream
      }
    }
    return { rcode: Rcode.SERVFAIL, fromCache: false };
  }

  /** Caches an answer; its TTLs are capped at the cache's maximum in what the client gets too. */
  private store(key: string, buf: Buffer): CacheEntry | undefined {
    if (this.o.maxTtl <= 0) return undefined;
    const t = cacheTtl(buf, this.o.maxTtl);
    if (!t) return undefined;
    for (const at of t.offsets) if (buf.readUInt32BE(at) > this.o.maxTtl) buf.writeUInt32BE(this.o.maxTtl, at);
    if (this.cache.size >= this.o.cacheEntries) this.cache.delete(this.cache.keys().next().value!);
    const now = Date.now();
    const entry = { buf: Buffer.from(buf), storedAt: now, expires: now + t.ttl * 1000, ttlOffsets: t.offsets, rcode: t.rcode };
    this.cache.set(key, entry);
    return entry;
  }
}
