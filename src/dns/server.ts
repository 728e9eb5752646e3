// The DNS server shell: UDP and TCP listeners around the pure zone lookup, the forwarder for
// everything outside the zone, EDNS0 and truncation, an answer cache, CoreDNS's metrics, and the
// /health and /ready endpoints. The answers themselves come from zone.ts.
import dgram from 'node:dgram';
import type http from 'node:http';
import net from 'node:net';
import { createHttpServer } from '../util/httpserver.ts';
import { familyOf, type HostPort } from '../util/ip.ts';
import { defaultTcpLimits, TcpConnections, type TcpLimits } from './tcpconns.ts';
import { Counter, exponential, HistogramVec, type HistogramCell, type Metric } from '../util/prometheus.ts';
import { agedCopy, type CacheEntry, type Forwarder, type ForwardResult } from './forward.ts';
import { decodeQuery, encodeResponse, Rcode, rcodeName, typeName, type Query, type Response, type RR } from './wire.ts';
import { buildIndex, lookup, soaRecord, type Answer, type DnsIndex, type ZoneConfig } from './zone.ts';

// CoreDNS's monitored query types; the rest are counted as "other".
const monitored = new Set(['A', 'AAAA', 'CNAME', 'DNSKEY', 'DS', 'MX', 'NSEC3', 'NSEC', 'NS', 'PTR', 'RRSIG', 'SOA', 'SRV', 'TXT', 'IXFR', 'AXFR', 'ANY', 'HTTPS']);
const sizeBuckets = [0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3];

interface Slot {
  requests: { v: number };
  responses: { v: number };
  duration: HistogramCell;
  requestSize: HistogramCell;
  responseSize: HistogramCell;
  cacheRequests?: { v: number };
  cacheCount?: { v: number };
}

/** CoreDNS's metric names, help texts and labels (plugin/metrics/vars, cache, forward, kubernetes). */
export class DnsMetrics {
  readonly requests = new Counter('coredns_dns_requests_total', 'Counter of DNS requests made per zone, protocol and family.');
  readonly duration = new HistogramVec('coredns_dns_request_duration_seconds', 'Histogram of the time (in seconds) each request took per zone.', exponential(0.00025, 2, 16));
  readonly requestSize = new HistogramVec('coredns_dns_request_size_bytes', 'Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.', sizeBuckets);
  readonly responseSize = new HistogramVec('coredns_dns_response_size_bytes', 'Size of the returned response in bytes.', sizeBuckets);
  readonly responses = new Counter('coredns_dns_responses_total', 'Counter of response status codes.');
  readonly doRequests = new Counter('coredns_dns_do_requests_total', 'Counter of DNS requests with DO bit set per zone.');
  readonly panics = new Counter('coredns_panics_total', 'A metrics that counts the number of panics.');
  readonly cacheEntries = new Counter('coredns_cache_entries', 'The number of elements in the cache.', 'gauge');
  readonly cacheHits = new Counter('coredns_cache_hits_total', 'The count of cache hits.');
  readonly cacheMisses = new Counter('coredns_cache_misses_total', 'The count of cache misses. Deprecated, derive misses from cache hits/requests counters.');
  readonly cacheRequests = new Counter('coredns_cache_requests_total', 'The count of cache requests.');
  readonly proxyDuration = new HistogramVec('coredns_proxy_request_duration_seconds', 'Histogram of the time each request took.', exponential(0.00025, 2, 16));
  readonly maxConcurrentRejects = new Counter('coredns_forward_max_concurrent_rejects_total', 'Counter of the number of queries rejected because the concurrent queries were at maximum.');
  readonly programming = new HistogramVec('coredns_kubernetes_dns_programming_duration_seconds', 'Histogram of the time (in seconds) it took to program a dns instance.', exponential(0.001, 2, 20));
  readonly buildInfo = new Counter('coredns_build_info', 'A metric with a constant \'1\' value labeled by version, revision, and goversion from which CoreDNS was built.', 'gauge');
  private readonly all: Metric[];
  private slots = new Map<string, Slot>();

  constructor(readonly server: string) {
    for (const c of [this.requests, this.responses, this.doRequests, this.cacheEntries, this.cacheHits, this.cacheMisses, this.cacheRequests, this.maxConcurrentRejects]) c.labelled = true;
    this.buildInfo.set(1, { goversion: process.version, revision: 'podpath', version: '1.11.3' });
    this.all = [this.buildInfo, this.cacheEntries, this.cacheHits, this.cacheMisses, this.cacheRequests, this.requestSize, this.requests, this.duration, this.responseSize, this.responses, this.doRequests, this.maxConcurrentRejects, this.programming, this.panics, this.proxyDuration];
  }

  /**
   * The series one kind of answer counts into. Looked up once per kind (the answer cache keeps
   * it), so answering a query costs a few increments, not label sets.
   */
  slot(proto: 'udp' | 'tcp', family: 4 | 6, qtype: number, rcode: number, plugin: string, cached: boolean | undefined): Slot {
    const k = `${proto}/${family}/${qtype}/${rcode}/${plugin}/${cached}`;
    let s = this.slots.get(k);
    if (s) return s;
    const t = typeName(qtype);
    const type = monitored.has(t) ? t : 'other';
    const base = { server: this.server, zone: '.', view: '' };
    const cache = { server: this.server, view: '', zones: '.' };
    s = {
      requests: this.requests.cell({ ...base, proto, family: family === 6 ? '2' : '1', type }),
      responses: this.responses.cell({ ...base, rcode: rcodeName(rcode), plugin }),
      duration: this.duration.cell({ ...base, type }),
      requestSize: this.requestSize.cell({ ...base, proto }),
      responseSize: this.responseSize.cell({ ...base, proto }),
      ...(cached === undefined ? {} : { cacheRequests: this.cacheRequests.cell(cache), cacheCount: cached ? this.cacheHits.cell({ ...cache, type: 'success' }) : this.cacheMisses.cell(cache) }),
    };
    if (this.slots.size < 10_000) this.slots.set(k, s);
    return s;
  }

  record(s: Slot, seconds: number, reqSize: number, respSize: number, dnssec: boolean): void {
    s.requests.v++;
    s.responses.v++;
    this.duration.observeCell(s.duration, seconds);
    this.requestSize.observeCell(s.requestSize, reqSize);
    this.responseSize.observeCell(s.responseSize, respSize);
    if (s.cacheRequests) {
      s.cacheRequests.v++;
      s.cacheCount!.v++;
    }
    if (dnssec) this.doRequests.inc(1, { server: this.server, zone: '.', view: '' });
  }

  expose(): string {
    return this.all.map((m) => m.expose()).join('');
  }
}

export interface DnsServerOptions {
  listen: HostPort;
  zone: ZoneConfig;
  /** the index to answer from; undefined until the informers have synced (then in-zone names get SERVFAIL) */
  index: () => DnsIndex | undefined;
  forwarder?: Forwarder;
  metrics: DnsMetrics;
  log: (s: string) => void;
  /** TCP connection cap and read deadlines (CoreDNS's defaults unless given) */
  tcp?: Partial<TcpLimits>;
}

type Proto = 'udp' | 'tcp';

export class DnsServer {
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  private readonly tcpConns: TcpConnections;
  /** encoded answers by (proto, query bytes after the ID), valid for one index */
  private answers = new Map<string, { buf: Buffer; qtype: number; slot4?: Slot; slot6?: Slot }>();
  /** forwarded answers by the same key, while the forwarder's cache holds them */
  private forwarded = new Map<string, { entry: CacheEntry; questionEnd: number; qtype: number; slot4?: Slot; slot6?: Slot }>();
  private answersFor?: DnsIndex;
  static readonly answerCacheEntries = 20000;
  /** an empty index of the zone: tells names to forward from names in the zone before sync */
  private readonly unsynced: DnsIndex;

  constructor(private readonly o: DnsServerOptions) {
    this.unsynced = buildIndex({ services: [], slices: [], pods: [], namespaces: [] }, o.zone, 0);
    this.tcpConns = new TcpConnections({ ...defaultTcpLimits, ...o.tcp });
  }

  get address(): HostPort {
    const a = this.udp!.address();
    return { host: a.address, port: a.port };
  }

  async start(): Promise<void> {
    const { host, port } = this.o.listen;
    const v6 = familyOf(host) === 6;
    const bindHost = host || '0.0.0.0';
    const udp = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', recvBufferSize: 4 << 20 });
    const explain = (e: NodeJS.ErrnoException) =>
      e.code === 'EACCES' ? new Error(`cannot listen on ${bindHost}:${port}: ports below 1024 need root (or give --listen 127.0.0.1:5353)`) : e.code === 'EADDRINUSE' ? new Error(`cannot listen on ${bindHost}:${port}: the address is in use`) : e;
    await new Promise<void>((resolve, reject) => {
      udp.once('error', (e) => reject(explain(e)));
      udp.bind(port, bindHost, () => {
        udp.removeAllListeners('error');
        resolve();
      });
    });
    udp.on('error', (e) => this.o.log(`udp: ${e.message}`));
    udp.on('message', (msg, rinfo) => {
      const family = rinfo.family === 'IPv6' && !rinfo.address.startsWith('::ffff:') ? 6 : 4;
      const r = this.handle(msg, 'udp', family);
      if (r instanceof Promise) r.then((b) => b && udp.send(b, rinfo.port, rinfo.address)).catch((e: unknown) => this.crashed(e));
      else if (r) udp.send(r, rinfo.port, rinfo.address);
    });
    this.udp = udp;
    // TCP on the same port (the one UDP got, when 0 was asked for).
    const boundPort = udp.address().port;
    const tcp = net.createServer((s) => this.tcpConnection(s));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', (e) => {
        udp.close();
        reject(explain(e));
      });
      tcp.listen({ port: boundPort, host: bindHost }, () => {
        tcp.removeAllListeners('error');
        resolve();
      });
    });
    tcp.on('error', (e) => this.o.log(`tcp: ${e.message}`));
    this.tcp = tcp;
  }

  async close(): Promise<void> {
    this.udp?.close();
    this.tcpConns.closeAll();
    await new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r()));
    this.o.forwarder?.close();
  }

  private crashed(e: unknown): void {
    this.o.metrics.panics.inc();
    this.o.log(`query failed: ${(e as Error).stack ?? e}`);
  }

  private tcpConnection(s: net.Socket): void {
    s.on('error', () => s.destroy());
    const conn = this.tcpConns.admit(s);
    if (!conn) return;
    const family = s.remoteFamily === 'IPv6' && !s.remoteAddress?.startsWith('::ffff:') ? 6 : 4;
    let pending = Buffer.alloc(0);
    s.on('data', (d) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        this.tcpConns.messageRead(s, conn);
        const reply = (b: Buffer | undefined) => {
          if (!b || s.destroyed) return;
          const head = Buffer.allocUnsafe(2);
          head.writeUInt16BE(b.length);
          s.write(Buffer.concat([head, b]));
        };
        const r = this.handle(msg, 'tcp', family);
        if (r instanceof Promise) {
          conn.pending++;
          r.then(reply)
            .catch((e: unknown) => this.crashed(e))
            .finally(() => conn.pending--);
        } else if (r) reply(r);
        else {
          // A message we cannot even answer FORMERR to ends the stream (its framing is suspect).
          s.destroy();
          return;
        }
      }
    });
  }

  /** One query in, one answer out (or nothing, for what must not be answered). */
  handle(msg: Buffer, proto: Proto, family: 4 | 6): Buffer | Promise<Buffer | undefined> | undefined {
    const t0 = performance.now();
    try {
      const ix = this.o.index();
      if (ix !== this.answersFor) {
        this.answers.clear();
        this.answersFor = ix;
      }
      // Same bytes after the ID (flags, question, EDNS) → same answer, for this index.
      const key = msg.length >= 12 ? proto + msg.toString('latin1', 2) : '';
      const fwd = key ? this.forwarded.get(key) : undefined;
      if (fwd) {
        const now = Date.now();
        if (now < fwd.entry.expires) {
          // A forwarded answer still in the cache: its aged copy, with this query's ID and spelling.
          const out = agedCopy(fwd.entry, now);
          msg.copy(out, 0, 0, 2);
          msg.copy(out, 12, 12, fwd.questionEnd);
          const slot = family === 4 ? (fwd.slot4 ??= this.slotFor(proto, 4, fwd.qtype, out, 'cache', true)) : (fwd.slot6 ??= this.slotFor(proto, 6, fwd.qtype, out, 'cache', true));
          this.o.metrics.record(slot, (performance.now() - t0) / 1000, proto === 'tcp' ? 65535 : msg.length, out.length, false);
          return out;
        }
        this.forwarded.delete(key);
      }
      const hit = key ? this.answers.get(key) : undefined;
      if (hit) {
        const out = Buffer.from(hit.buf);
        out[0] = msg[0]!;
        out[1] = msg[1]!;
        const slot = family === 4 ? (hit.slot4 ??= this.slotFor(proto, 4, hit.qtype, out, 'cache', true)) : (hit.slot6 ??= this.slotFor(proto, 6, hit.qtype, out, 'cache', true));
        this.o.metrics.record(slot, (performance.now() - t0) / 1000, proto === 'tcp' ? 65535 : msg.length, out.length, false);
        return out;
      }
      const q = decodeQuery(msg);
      if ('code' in q) {
        if (q.code === 'Drop') return undefined;
        const out = encodeResponse({ id: q.id, opcode: (q.flags >> 11) & 0xf, rd: (q.flags & 0x0100) !== 0, aa: false, ra: false, rcode: q.code === 'NotImp' ? Rcode.NOTIMP : Rcode.FORMERR, answer: [], authority: [], additional: [] });
        this.report(proto, family, 0, msg, out, t0, '', undefined, false);
        return out;
      }
      const dnssec = Boolean(q.edns?.do);
      const limit = proto === 'tcp' ? 65535 : q.edns ? Math.max(512, q.edns.udpSize) : 512;
      if (q.edns && q.edns.version > 0) {
        const out = encodeResponse({ ...this.base(q), rcode: Rcode.BADVERS, edns: { udpSize: q.edns.udpSize, version: 0, do: q.edns.do } });
        this.report(proto, family, q.question.type, msg, out, t0, '', undefined, dnssec);
        return out;
      }
      // Before the informers have synced, names in the zone are SERVFAIL; the rest still forwards.
      const a = lookup(ix ?? this.unsynced, q.question);
      if (a.forward) return this.forward(q, msg, proto, family, limit, t0);
      if (!ix) {
        const out = encodeResponse({ ...this.base(q), aa: true, rcode: Rcode.SERVFAIL, authority: [soaRecord(this.unsynced, this.o.zone.zone)] });
        this.report(proto, family, q.question.type, msg, out, t0, 'kubernetes', undefined, dnssec);
        return out;
      }
      if (a.chase) return this.chase(q, a, msg, proto, family, limit, t0);
      const out = this.encode(q, a, limit);
      if (this.answers.size >= DnsServer.answerCacheEntries) this.answers.clear();
      this.answers.set(key, { buf: out, qtype: q.question.type });
      this.report(proto, family, q.question.type, msg, out, t0, 'kubernetes', false, dnssec);
      return out;
    } catch (e) {
      this.crashed(e);
      return undefined;
    }
  }

  private base(q: Query): Response {
    return { id: q.id, rd: q.rd, aa: false, ra: false, rcode: 0, question: q.question, answer: [], authority: [], additional: [] };
  }

  private encode(q: Query, a: Answer, limit: number, extra: RR[] = [], tc = false): Buffer {
    const r: Response = { ...this.base(q), aa: a.authoritative, rcode: a.rcode, answer: [...a.answer, ...extra], authority: a.authority, additional: a.additional };
    if (q.edns) r.edns = { udpSize: q.edns.udpSize, version: 0, do: q.edns.do };
    const out = encodeResponse(r, limit);
    if (tc) out[2]! |= 0x02;
    return out;
  }

  private slotFor(proto: Proto, family: 4 | 6, qtype: number, out: Buffer, plugin: string, cached: boolean | undefined) {
    return this.o.metrics.slot(proto, family, qtype, out.readUInt16BE(2) & 0xf, plugin, cached);
  }

  private report(proto: Proto, family: 4 | 6, qtype: number, msg: Buffer, out: Buffer, t0: number, plugin: string, cached: boolean | undefined, dnssec: boolean): void {
    this.o.metrics.record(this.slotFor(proto, family, qtype, out, plugin, cached), (performance.now() - t0) / 1000, proto === 'tcp' ? 65535 : msg.length, out.length, dnssec);
  }

  private forward(q: Query, msg: Buffer, proto: Proto, family: 4 | 6, limit: number, t0: number): Buffer | Promise<Buffer> {
    const r = this.o.forwarder?.forward(msg, q.question, Boolean(q.edns?.do));
    return r instanceof Promise ? r.then((x) => this.relay(q, msg, proto, family, limit, t0, x)) : this.relay(q, msg, proto, family, limit, t0, r);
  }

  /** The upstream's (or the cache's) answer, made the client's: its ID, its question's case, its size. */
  private relay(q: Query, msg: Buffer, proto: Proto, family: 4 | 6, limit: number, t0: number, r: ForwardResult | undefined): Buffer {
    let out: Buffer;
    if (r?.response) {
      out = r.response;
      out.writeUInt16BE(q.id, 0);
      // Echo the client's spelling of the question (the upstream, or an earlier client whose
      // answer was cached, may have spelled it otherwise): the same name, so the same length.
      if (out.length >= q.questionEnd && out.readUInt16BE(4) === 1) msg.copy(out, 12, 12, q.questionEnd);
      if (out.length > limit) {
        // Too big for this client over UDP: the question alone, with TC, so it retries over TCP.
        out = Buffer.from(out.subarray(0, q.questionEnd));
        out.writeUInt16BE(out.readUInt16BE(2) | 0x0200, 2);
        out.fill(0, 6, 12);
      }
      // Whole answers the cache holds are served from the wire cache next time (same bytes, same limit).
      else if (r.entry && msg.length >= 12 && out.readUInt16BE(4) === 1) {
        if (this.forwarded.size >= DnsServer.answerCacheEntries) this.forwarded.clear();
        this.forwarded.set(proto + msg.toString('latin1', 2), { entry: r.entry, questionEnd: q.questionEnd, qtype: q.question.type });
      }
    } else out = encodeResponse({ ...this.base(q), ra: true, rcode: r?.rcode ?? Rcode.SERVFAIL });
    this.report(proto, family, q.question.type, msg, out, t0, r?.fromCache ? 'cache' : 'forward', Boolean(r?.fromCache), Boolean(q.edns?.do));
    return out;
  }

  private async chase(q: Query, a: Answer, msg: Buffer, proto: Proto, family: 4 | 6, limit: number, t0: number): Promise<Buffer> {
    const got = this.o.forwarder ? await this.o.forwarder.resolve(a.chase!) : undefined;
    const out = this.encode(q, a, limit, got?.records ?? [], got?.tc ?? false);
    this.report(proto, family, q.question.type, msg, out, t0, 'kubernetes', undefined, Boolean(q.edns?.do));
    return out;
  }
}

/** CoreDNS's health (:8080/health, "OK") and ready (:8181/ready, "OK" or the plugins not ready). */
export function serveProbe(path: '/health' | '/ready', at: HostPort, ready: () => boolean, log: (s: string) => void): http.Server {
  const server = createHttpServer((_req, res, target) => {
    if (target.pathname !== path) {
      res.writeHead(404).end();
      return;
    }
    const ok = ready();
    res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(ok ? 'OK' : 'kubernetes');
  });
  server.on('error', (e) => log(`${path} server on ${at.host}:${at.port}: ${e.message}`));
  server.listen(at.port, at.host || undefined);
  return server;
}

