// The HTTP front door every podpath server shares (API server, /metrics, the echo image, the
// DNS health and ready ports): request targets parsed without throwing, header and request
// timeouts that are enforced (Node checks them only every 30 s by default), and request bodies
// read to a limit, or discarded, without buffering what a client may send without bound.
import http from 'node:http';
import type { Socket } from 'node:net';

/** A request target as a handler sees it: the raw (still escaped) path and the query. */
export interface Target {
  /** the path as sent, percent escapes intact ("*" for OPTIONS *) */
  pathname: string;
  query: URLSearchParams;
}

export interface Limits {
  /** time to receive the request line and headers (Go: ReadHeaderTimeout) */
  headersTimeoutMs: number;
  /** time to receive the whole request, body included (0: none) */
  requestTimeoutMs: number;
  /** an idle kept-alive connection is closed after this long */
  keepAliveTimeoutMs: number;
  /** how often the timeouts above are checked */
  checkIntervalMs: number;
}

export const defaultLimits: Limits = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, checkIntervalMs: 1_000 };

const badEscape = /%(?![0-9A-Fa-f]{2})/;
const absoluteForm = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * Parses a request target in origin-form (/p?q), absolute-form (http://h/p?q) or "*".
 * Returns undefined for what Go's url.ParseRequestURI rejects (a bad percent escape in the
 * path, an absolute URL that does not parse): such requests are answered 400 by the front door.
 */
export function parseTarget(raw: string | undefined): Target | undefined {
  const t = raw ?? '/';
  if (t === '*') return { pathname: '*', query: new URLSearchParams() };
  let pathPart: string;
  let queryPart: string;
  if (t.startsWith('/')) {
    const q = t.indexOf('?');
    pathPart = q < 0 ? t : t.slice(0, q);
    queryPart = q < 0 ? '' : t.slice(q + 1);
  } else if (absoluteForm.test(t)) {
    let u: URL;
    try {
      u = new URL(t);
    } catch {
      return undefined;
    }
    // The raw path of the target (URL would re-encode it), after scheme://authority.
    const afterAuthority = t.replace(absoluteForm, '');
    const slash = afterAuthority.search(/[/?#]/);
    const rest = slash < 0 ? '' : afterAuthority.slice(slash).replace(/#.*$/, '');
    const q = rest.indexOf('?');
    pathPart = (q < 0 ? rest : rest.slice(0, q)) || '/';
    queryPart = q < 0 ? u.search.slice(1) : rest.slice(q + 1);
  } else return undefined;
  if (badEscape.test(pathPart)) return undefined;
  return { pathname: pathPart, query: new URLSearchParams(queryPart) };
}

/** Decodes one escaped path segment; undefined when the escapes are not UTF-8 (the caller answers 404). */
export function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Server options that make the limits bite; pass them to http(s).createServer. */
export function serverOptions(l: Partial<Limits> = {}): http.ServerOptions {
  const m = { ...defaultLimits, ...l };
  return { headersTimeout: m.headersTimeoutMs, requestTimeout: m.requestTimeoutMs, keepAliveTimeout: m.keepAliveTimeoutMs, connectionsCheckingInterval: m.checkIntervalMs } as http.ServerOptions;
}

/** Applies the limits that are server properties (older Node releases ignore some options). */
function applyLimits(server: http.Server, l: Partial<Limits>): void {
  const m = { ...defaultLimits, ...l };
  server.headersTimeout = m.headersTimeoutMs;
  server.requestTimeout = m.requestTimeoutMs;
  server.keepAliveTimeout = m.keepAliveTimeoutMs;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, target: Target) => unknown;

/** Go's answer to a request it cannot parse: plain text, and the connection closed. */
export function answerBadRequest(res: http.ServerResponse): void {
  res.shouldKeepAlive = false;
  const body = '400 Bad Request';
  res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Serves `handler` on `server` behind the front door: a target that does not parse is
 * answered 400, and a handler that throws (or rejects) answers 500 instead of taking the
 * process down.
 */
export function guard(server: http.Server, handler: Handler, l: Partial<Limits> = {}, log: (s: string) => void = () => {}): void {
  applyLimits(server, l);
  // Node 20 lets its HTTP parser read a TLS socket's handle directly; when it pauses that
  // parser (a request arriving before the last response drained), data already decrypted still
  // reaches it and fails with HPE_PAUSED, resetting a healthy kept-alive connection. Marking the
  // handle as taken makes the parser read through the socket's stream, which pauses cleanly.
  server.prependListener('secureConnection', (socket: { _handle?: { _consumed?: boolean } }) => {
    if (socket._handle) socket._handle._consumed = true;
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const target = parseTarget(req.url);
    if (!target) return answerBadRequest(res);
    const failed = (e: unknown) => {
      log(`internal error on ${req.method} ${req.url}: ${(e as Error)?.stack ?? String(e)}`);
      if (res.headersSent) res.destroy();
      else res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('500 Internal Server Error');
    };
    try {
      const r = handler(req, res, target);
      if (r instanceof Promise) r.catch(failed);
    } catch (e) {
      failed(e);
    }
  });
}

/** An http.Server with the front door's limits serving `handler`. */
export function createHttpServer(handler: Handler, l: Partial<Limits> = {}, log?: (s: string) => void): http.Server {
  const server = http.createServer(serverOptions(l));
  guard(server, handler, l, log);
  return server;
}

export class BodyTooLargeError extends Error {
  readonly code = 'ERR_BODY_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`Request entity too large: limit is ${limit}`);
  }
}

/** How much of a refused body is read and thrown away (so the client sees the answer, not a reset) before the connection is cut. */
export const discardCap = 64 * 1024 * 1024;

/**
 * Reads and drops the rest of `req`'s body, keeping the connection usable for the next
 * request; past `cap` bytes the connection is closed instead.
 */
export function discardBody(req: http.IncomingMessage, cap = discardCap): void {
  if (req.complete) return;
  let n = 0;
  req.removeAllListeners('data');
  req.on('data', (c: Buffer) => {
    n += c.length;
    if (n > cap) (req.socket as Socket).destroy();
  });
  req.on('error', () => {});
  req.resume();
}

/**
 * The request body, at most `limit` bytes. A larger body (by Content-Length, before any of it
 * is read, or as it arrives) rejects with BodyTooLargeError and the rest is discarded.
 */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit) {
      discardBody(req);
      reject(new BodyTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        chunks.length = 0;
        req.off('data', onData);
        discardBody(req);
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
