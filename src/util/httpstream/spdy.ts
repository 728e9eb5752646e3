// The server side of SPDY/3.1 as Kubernetes streaming uses it (apimachinery's httpstream/spdy
// over moby/spdystream): the client opens every stream (SYN_STREAM with a name/value header
// block), the server answers each with SYN_REPLY, both sides send DATA frames and half-close
// with FLAG_FIN, RST_STREAM resets a stream, PINGs from the client are echoed, GOAWAY ends the
// session. Header blocks are zlib streams with the SPDY/3 dictionary, one per direction for the
// whole connection. Like spdystream, no flow control: WINDOW_UPDATE and SETTINGS are ignored.
//
// No npm library fits: the only SPDY/3.1 implementation on npm (spdy-transport) is an HTTP-over-
// SPDY stack for browsers, unmaintained since 2018, and never tried with Go's spdystream.
import { Duplex } from 'node:stream';
import { SyncInflater } from './inflate.ts';

/** The SPDY/3 header dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1): length-prefixed words, then a tail. */
const dictWords = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding', 'accept-language',
  'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base', 'content-encoding',
  'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'etag',
  'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer',
  'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via', 'warning',
  'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie',
  'keep-alive', 'origin',
];
const dictTail =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
  '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

export const spdyDictionary: Buffer = Buffer.concat([
  ...dictWords.flatMap((w) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    return [len, Buffer.from(w, 'latin1')];
  }),
  Buffer.from(dictTail, 'latin1'),
]);

const version = 3;
export const frameType = { synStream: 1, synReply: 2, rstStream: 3, settings: 4, ping: 6, goaway: 7, headers: 8, windowUpdate: 9 } as const;
const flagFin = 0x01;
const flagUnidirectional = 0x02;
/** RST_STREAM status codes */
export const rstStatus = { protocolError: 1, invalidStream: 2, refusedStream: 3, cancel: 5, internalError: 6 } as const;
/** the largest DATA payload sent in one frame */
const maxDataFrame = 32 * 1024;
/** how much SpdyStream.sendNow lets wait unsent in the transport before it says to stop */
const sendWindow = 1 << 20;

export type Headers = Record<string, string[]>;

/** A name/value header block as SPDY/3 lays it out (before compression); names lower case. */
export function encodeHeaderBlock(h: Headers): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const names = Object.keys(h);
  parts.push(u32(names.length));
  for (const name of names) {
    const n = Buffer.from(name.toLowerCase());
    const v = Buffer.from(h[name]!.join('\0'));
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(b: Buffer): Headers {
  const h: Headers = {};
  let off = 0;
  const u32 = () => {
    if (off + 4 > b.length) throw new Error('header block truncated');
    const n = b.readUInt32BE(off);
    off += 4;
    return n;
  };
  const bytes = (n: number) => {
    if (off + n > b.length) throw new Error('header block truncated');
    const s = b.subarray(off, off + n).toString();
    off += n;
    return s;
  };
  const count = u32();
  for (let i = 0; i < count; i++) {
    const name = bytes(u32());
    const value = bytes(u32());
    (h[name] ??= []).push(...value.split('\0'));
  }
  return h;
}

/**
 * The compressing side of the header zlib stream. Our header blocks are a few bytes (a SYN_REPLY
 * has none), so each is written as stored deflate blocks ending as a sync flush ends: a valid
 * continuation of one zlib stream for any inflater, made synchronously.
 */
export class HeaderCompressor {
  private started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      // CMF 0x78 (deflate, 32K window), FLG 0x01: no preset dictionary is needed for stored blocks.
      parts.push(Buffer.from([0x78, 0x01]));
      this.started = true;
    }
    const stored = (chunk: Buffer) => {
      const hdr = Buffer.alloc(5);
      hdr[0] = 0x00; // BFINAL 0, BTYPE 00 (stored), padded to the byte
      hdr.writeUInt16LE(chunk.length, 1);
      hdr.writeUInt16LE(~chunk.length & 0xffff, 3);
      parts.push(hdr, chunk);
    };
    for (let off = 0; off < block.length; off += 0xffff) stored(block.subarray(off, off + 0xffff));
    // The empty stored block a sync flush ends with: an inflater hands out what it has on it
    // instead of reading past the frame for the next block.
    stored(Buffer.alloc(0));
    return Buffer.concat(parts);
  }
}

interface Frame {
  control: boolean;
  type: number;
  flags: number;
  /** the stream of a DATA frame */
  streamId: number;
  data: Buffer;
}

/** Splits a byte stream into frames; returns the frames and what is left of an incomplete one. */
export function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  while (buf.length - off >= 8) {
    const len = buf.readUIntBE(off + 5, 3);
    if (buf.length - off < 8 + len) break;
    const first = buf.readUInt32BE(off);
    const control = (first & 0x80000000) !== 0;
    const flags = buf[off + 4]!;
    const data = buf.subarray(off + 8, off + 8 + len);
    if (control) frames.push({ control, type: first & 0xffff, flags, streamId: 0, data });
    else frames.push({ control, type: 0, flags, streamId: first & 0x7fffffff, data });
    off += 8 + len;
  }
  return { frames, rest: buf.subarray(off) };
}

export function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | version, 0);
  h.writeUInt16BE(type, 2);
  h[4] = flags;
  h.writeUIntBE(payload.length, 5, 3);
  return Buffer.concat([h, payload]);
}

/**
 * `payload` as DATA frames of at most `max` bytes each (`flags` on the last), in one buffer: one
 * allocation and one copy per chunk forwarded. Every buffer allocated counts towards V8's external
 * memory, which past 64 MiB since the last full collection starts another: at port-forward's
 * 100 MB/s, a frame's header and payload concatenated apart, then the frames, made the agent run
 * a full collection every 0.1 s.
 */
export function dataFrames(streamId: number, flags: number, payload: Buffer, max = maxDataFrame): Buffer {
  const n = Math.max(1, Math.ceil(payload.length / max));
  const out = Buffer.allocUnsafe(payload.length + 8 * n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const from = i * max;
    const len = Math.min(max, payload.length - from);
    out.writeUInt32BE(streamId & 0x7fffffff, at);
    out[at + 4] = i === n - 1 ? flags : 0;
    out.writeUIntBE(len, at + 5, 3);
    payload.copy(out, at + 8, from, from + len);
    at += 8 + len;
  }
  return out;
}

/** Frames below this (a TLS record's most) wait to go out with the others of their turn. */
const coalesceBelow = 16 * 1024;

/** One stream of a session: a Duplex of its DATA; `headers` from its SYN_STREAM. */
export class SpdyStream extends Duplex {
  /** closed by the peer (FIN or reset): no more data comes */
  remoteClosed = false;
  /** we sent FIN or a reset */
  localClosed = false;

  constructor(
    readonly session: SpdySession,
    readonly id: number,
    readonly headers: Headers,
  ) {
    super({ allowHalfOpen: true });
  }

  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()]?.[0];
  }

  override _read(): void {
    // data is pushed as it arrives
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.localClosed) return cb(new Error(`write on closed stream ${this.id}`));
    this.session.sendData(this.id, chunk, false, cb);
  }

  /**
   * Sends `chunk` at once as this stream's DATA, copied into its frame, so the caller may reuse the
   * buffer (a socket's onread buffer) — bypassing the Writable side, which may hold a chunk by
   * reference. False when the connection is backed up: wait for `drained` before sending more.
   */
  sendNow(chunk: Buffer): boolean {
    if (this.localClosed) return true;
    // Backed up only past a window of a MiB, not at the transport's 16 KiB highWaterMark, which
    // each 64 KiB read passes: the sender would stop and restart reading for every read.
    return this.session.sendData(this.id, chunk, false) || this.session.transport.writableLength < sendWindow;
  }

  /** `cb` once the connection takes writes again after sendNow returned false. */
  drained(cb: () => void): void {
    this.session.transport.once('drain', cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (this.localClosed) return cb();
    this.localClosed = true;
    this.session.sendData(this.id, Buffer.alloc(0), true, cb);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.session.forget(this.id);
    cb(err);
  }

  /** Resets the stream (RST_STREAM CANCEL), discarding what is unsent. */
  reset(): void {
    if (!this.localClosed || !this.remoteClosed) this.session.sendReset(this.id, rstStatus.cancel);
    this.localClosed = true;
    this.remoteEnded();
    this.destroy();
  }

  /** @internal */
  remoteEnded(): void {
    if (this.remoteClosed) return;
    this.remoteClosed = true;
    this.push(null);
  }
}

/**
 * A SPDY/3.1 server session on `transport` (the upgraded socket, or a WebSocket tunnel as a
 * Duplex). `onStream` is called for every stream the client opens, after its SYN_REPLY is sent.
 */
export class SpdySession {
  private readonly streams = new Map<number, SpdyStream>();
  /** the client's header blocks: inflated at once, so a stream's reply goes out in the same turn */
  private readonly decompressor = new SyncInflater(spdyDictionary);
  private readonly compressor = new HeaderCompressor();
  private pending: Buffer = Buffer.alloc(0);
  /** frames written this turn, sent together at its end (write) */
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  private waitingCallbacks: ((e?: Error | null) => void)[] = [];
  private flushScheduled = false;
  private closed = false;
  private lastStreamId = 0;
  onStream: (s: SpdyStream) => void = () => {};
  /** called once when the session ends (GOAWAY, transport closed, protocol error) */
  onClose: (why?: Error) => void = () => {};

  constructor(readonly transport: Duplex) {
    // Every stream waiting for the transport to drain listens once.
    transport.setMaxListeners(0);
    transport.on('data', (d: Buffer) => this.receive(d));
    transport.on('end', () => this.shutdown());
    transport.on('close', () => this.shutdown());
    transport.on('error', (e) => this.shutdown(e));
  }

  private receive(d: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, d]) : d;
    const { frames, rest } = parseFrames(this.pending);
    this.pending = rest;
    for (const f of frames) this.handle(f);
  }

  private handle(f: Frame): void {
    if (this.closed) return;
    if (!f.control) return this.handleData(f);
    switch (f.type) {
      case frameType.synStream:
        return this.handleSynStream(f);
      case frameType.rstStream: {
        const s = this.streams.get(f.data.readUInt32BE(0) & 0x7fffffff);
        if (s) {
          s.localClosed = true;
          s.remoteEnded();
          s.destroy();
        }
        return;
      }
      case frameType.ping:
        // The client's pings (odd ids) are echoed.
        if (f.data.readUInt32BE(0) % 2 === 1) this.write(controlFrame(frameType.ping, 0, f.data));
        return;
      case frameType.goaway:
        return this.shutdown();
      case frameType.headers:
        // Headers after the SYN carry nothing Kubernetes uses, but they advance the zlib stream.
        return this.inflateThen(f.data.subarray(4), () => {
          if (f.flags & flagFin) this.streams.get(f.data.readUInt32BE(0) & 0x7fffffff)?.remoteEnded();
        });
      default:
        // SETTINGS, WINDOW_UPDATE, CREDENTIAL: ignored, as spdystream ignores them.
        return;
    }
  }

  private inflateThen(block: Buffer, then: (h: Buffer) => void): void {
    let h: Buffer;
    try {
      h = this.decompressor.inflate(block);
    } catch (e) {
      return this.protocolError(new Error(`header block: ${(e as Error).message}`));
    }
    then(h);
  }

  private handleSynStream(f: Frame): void {
    const id = f.data.readUInt32BE(0) & 0x7fffffff;
    this.inflateThen(f.data.subarray(10), (raw) => {
      let headers: Headers;
      try {
        headers = decodeHeaderBlock(raw);
      } catch (e) {
        return this.protocolError(e as Error);
      }
      if (id % 2 !== 1 || id <= this.lastStreamId || this.streams.has(id)) {
        this.sendReset(id, rstStatus.protocolError);
        return;
      }
      this.lastStreamId = id;
      const s = new SpdyStream(this, id, headers);
      this.streams.set(id, s);
      if (f.flags & flagUnidirectional) s.localClosed = true;
      if (f.flags & flagFin) s.remoteEnded();
      // SYN_REPLY: the stream id and an empty header block.
      const idBuf = Buffer.alloc(4);
      idBuf.writeUInt32BE(id);
      this.write(controlFrame(frameType.synReply, 0, Buffer.concat([idBuf, this.compressor.compress(encodeHeaderBlock({}))])));
      this.onStream(s);
    });
  }

  private handleData(f: Frame): void {
    const s = this.streams.get(f.streamId);
    if (!s) return;
    // A view of the received chunk, not a copy: nothing else writes into it.
    if (f.data.length && !s.remoteClosed) s.push(f.data);
    if (f.flags & flagFin) s.remoteEnded();
  }

  /**
   * Whether the transport takes more at once (false: wait for its drain); `cb` once it took `b`.
   * Frames smaller than a TLS record wait for the end of this turn of the event loop and go out
   * together: a forwarded connection's last DATA and its FIN (the pod's answer and its close, read
   * in one turn) make one record and one write instead of two, for the agent, the API server
   * relaying them and the client. A larger frame sends what waits first, then itself.
   */
  private write(b: Buffer, cb?: (e?: Error | null) => void): boolean {
    if (this.closed || this.transport.destroyed) {
      cb?.(new Error('connection closed'));
      return true;
    }
    if (b.length >= coalesceBelow) {
      this.flush();
      return this.writeNow(b, cb);
    }
    this.waiting.push(b);
    this.waitingBytes += b.length;
    if (cb) this.waitingCallbacks.push(cb);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    return this.transport.writableLength + this.waitingBytes < this.transport.writableHighWaterMark;
  }

  /** The frames waiting for the end of the turn, written now as one. */
  private flush(): void {
    if (!this.waiting.length) return;
    const frames = this.waiting.length === 1 ? this.waiting[0]! : Buffer.concat(this.waiting, this.waitingBytes);
    const callbacks = this.waitingCallbacks;
    this.waiting = [];
    this.waitingBytes = 0;
    this.waitingCallbacks = [];
    const done = (e?: Error | null) => {
      for (const cb of callbacks) cb(e);
    };
    if (this.transport.destroyed) return done(new Error('connection closed'));
    this.writeNow(frames, callbacks.length ? done : undefined);
  }

  private writeNow(b: Buffer, cb?: (e?: Error | null) => void): boolean {
    if (this.transport.write(b)) {
      cb?.();
      return true;
    }
    if (cb) this.transport.once('drain', () => cb());
    return false;
  }

  /** @internal DATA for a stream, cut into frames; `cb` once the transport took it (backpressure). */
  sendData(id: number, payload: Buffer, fin: boolean, cb?: (e?: Error | null) => void): boolean {
    return this.write(dataFrames(id, fin ? flagFin : 0, payload), cb);
  }

  /** @internal */
  sendReset(id: number, status: number): void {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(id & 0x7fffffff, 0);
    b.writeUInt32BE(status, 4);
    this.write(controlFrame(frameType.rstStream, 0, b));
  }

  /** @internal */
  forget(id: number): void {
    this.streams.delete(id);
  }

  private protocolError(e: Error): void {
    this.goAway(1);
    this.shutdown(e);
  }

  /** Sends GOAWAY (status OK unless given) and closes the transport once written. */
  goAway(status = 0): void {
    if (this.closed) return;
    const b = Buffer.alloc(8);
    b.writeUInt32BE(this.lastStreamId, 0);
    b.writeUInt32BE(status, 4);
    this.write(controlFrame(frameType.goaway, 0, b));
  }

  /** Ends the session: GOAWAY, then the transport is ended. */
  close(): void {
    if (this.closed) return;
    this.goAway();
    this.flush();
    this.transport.end();
    this.shutdown();
  }

  private shutdown(why?: Error): void {
    if (this.closed) return;
    // what was written before the end goes out before it
    this.flush();
    this.closed = true;
    for (const s of this.streams.values()) {
      s.remoteEnded();
      s.destroy();
    }
    this.streams.clear();
    if (!this.transport.destroyed) {
      this.transport.end();
      setTimeout(() => this.transport.destroy(), 1000).unref();
    }
    this.onClose(why);
  }
}
