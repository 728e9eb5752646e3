// Remote command streaming (exec and attach) as the kubelet serves it, over either transport a
// client may speak: WebSocket with the channel protocols (v5.channel.k8s.io … channel.k8s.io: the
// first byte of every binary message is the stream, 0 stdin, 1 stdout, 2 stderr, 3 error,
// 4 resize, and in v5 255 closes a stream, [255, 0] being the end of stdin), or SPDY/3.1 with one
// stream per kind (header `streamtype`: error, stdin, stdout, stderr, resize) and the protocol
// chosen by X-Stream-Protocol-Version. The error stream carries the outcome: from v4 on a v1
// Status as JSON (with the exit code), before that the message as text.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { SpdySession, type SpdyStream } from './spdy.ts';

export const channelProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
/** what a SPDY client may be answered (the kubelet's list: v5 is WebSocket-only) */
export const spdyChannelProtocols = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
export const portForwardProtocol = 'portforward.k8s.io';
/** port-forward's SPDY tunnelled in WebSocket binary messages (kubectl 1.31+) */
export const tunnelPrefix = 'SPDY/3.1+';

const channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** The metav1.Status written on the error stream. */
export interface StreamStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
  code?: number;
}

export const success: StreamStatus = { metadata: {}, status: 'Success' };

/** The status of a command that exited non-zero, as the kubelet reports it. */
export function exitStatus(argv: string[], code: number): StreamStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${argv.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** An internal error, as apierrors.NewInternalError makes it. */
export function internalError(message: string): StreamStatus {
  return { metadata: {}, status: 'Failure', message: `Internal error occurred: ${message}`, reason: 'InternalError', details: { causes: [{ message }] }, code: 500 };
}

/** What an exec or attach asked for (the kubelet's query: stdin/stdout/stderr/tty as true or 1). */
export interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export function streamOptions(q: URLSearchParams): StreamOptions {
  const on = (...names: string[]) => names.some((n) => ['true', '1'].includes(q.get(n) ?? ''));
  const tty = on('tty');
  return { stdin: on('stdin', 'input'), stdout: on('stdout', 'output'), stderr: on('stderr', 'error') && !tty, tty };
}

/** The streams of one exec or attach, whatever the transport. */
export interface RemoteStreams {
  protocol: string;
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** terminal sizes as the client sends them */
  onResize(cb: (width: number, height: number) => void): void;
  /** writes the outcome on the error stream and ends the session */
  finish(st: StreamStatus): void;
  /** the client went away (or the session ended) */
  closed: Promise<void>;
}

/** The first of the client's protocols (in its order) that we speak, '' when it asked for none, undefined when none fits. */
export function negotiate(requested: string[], supported: string[]): string | undefined {
  if (requested.length === 0) return '';
  return requested.find((p) => supported.includes(p));
}

/** X-Stream-Protocol-Version, repeated or comma-separated. */
export function requestedProtocols(req: IncomingMessage, header = 'x-stream-protocol-version'): string[] {
  const v = req.headers[header];
  const all = Array.isArray(v) ? v : v ? [v] : [];
  return all.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

export function isWebSocketRequest(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

export function isSpdyRequest(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'spdy/3.1';
}

/** An answer that refuses the upgrade: status, plain text (as the kubelet's streaming.WriteError). */
export function refuse(socket: Duplex, code: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' }[code] ?? 'Error';
  const body = Buffer.from(text);
  socket.end(`HTTP/1.1 ${code} ${reason}\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${text}`);
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
/**
 * The subprotocol chosen for an upgrade, answered through ws's 'headers' event: ws refuses a
 * Sec-WebSocket-Protocol that breaks RFC 6455's token syntax with 400, and kubectl's port-forward
 * tunnel asks for "SPDY/3.1+portforward.k8s.io" ('/' is no token character; Go's websocket
 * library takes it), so kubectl 1.31 and later fell back to SPDY. The header is negotiated here
 * and taken out of the request before ws reads it.
 */
const chosen = new WeakMap<IncomingMessage, string>();
wss.on('headers', (headers: string[], req: IncomingMessage) => {
  const protocol = chosen.get(req);
  if (protocol) headers.push(`Sec-WebSocket-Protocol: ${protocol}`);
});

/** Completes a WebSocket upgrade with `protocol` (null when the client's protocols do not fit). */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, supported: string[]): Promise<{ ws: WebSocket; protocol: string } | undefined> {
  const requested = requestedProtocols(req, 'sec-websocket-protocol');
  const protocol = negotiate(requested, supported);
  if (protocol === undefined) {
    refuse(socket, 400, `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(requested)}, server supports ${JSON.stringify(supported)}`);
    return Promise.resolve(undefined);
  }
  chosen.set(req, protocol);
  delete req.headers['sec-websocket-protocol'];
  return new Promise((resolve) => {
    wss.handleUpgrade(req, socket, head, (ws) => resolve({ ws, protocol }));
  });
}

/** A Writable sending each chunk as one message on a channel. */
function channelWriter(ws: WebSocket, ch: number): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (ws.readyState !== ws.OPEN) return cb();
      ws.send(Buffer.concat([Buffer.from([ch]), chunk]), { binary: true }, () => cb());
    },
  });
}

/** The streams of an accepted WebSocket with one of the channel protocols. */
export function webSocketStreams(ws: WebSocket, protocol: string, o: StreamOptions): RemoteStreams {
  const v = protocol === 'channel.k8s.io' ? 1 : Number(/^v(\d)/.exec(protocol)?.[1] ?? 1);
  const stdin = o.stdin ? new PassThrough() : undefined;
  const resizers: ((w: number, h: number) => void)[] = [];
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  void closed.then(() => stdin?.end());
  ws.on('error', () => {});
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary || data.length === 0) return;
    const ch = data[0]!;
    if (ch === channel.stdin) stdin?.write(data.subarray(1));
    else if (ch === channel.resize) {
      try {
        const size = JSON.parse(data.subarray(1).toString()) as { Width?: number; Height?: number };
        if (size.Width && size.Height) for (const r of resizers) r(size.Width, size.Height);
      } catch {
        // not a size
      }
    } else if (ch === channel.close && v >= 5 && data[1] === channel.stdin) stdin?.end();
  });
  let done = false;
  return {
    protocol,
    ...(stdin ? { stdin } : {}),
    ...(o.stdout ? { stdout: channelWriter(ws, channel.stdout) } : {}),
    ...(o.stderr ? { stderr: channelWriter(ws, channel.stderr) } : {}),
    onResize: (cb) => resizers.push(cb),
    finish(st) {
      if (done) return;
      done = true;
      const text = v >= 4 ? JSON.stringify(st) : st.status === 'Success' ? '' : (st.message ?? '');
      if (ws.readyState !== ws.OPEN) return;
      // The close frame follows the status in the same write, not a round through the event loop later.
      if (text) ws.send(Buffer.concat([Buffer.from([channel.error]), Buffer.from(text)]), { binary: true });
      ws.close(1000);
    },
    closed,
  };
}

/** How long the client has to open its streams after the upgrade (the kubelet's stream creation timeout). */
const streamCreationTimeoutMs = 30_000;

/**
 * Completes a SPDY upgrade answering `protocol` and waits for the client's streams: the error
 * stream, and one for each of stdin, stdout, stderr and (with a terminal, v3+) resize asked for.
 */
export function spdyStreams(socket: Duplex, head: Buffer, protocol: string, o: StreamOptions): Promise<RemoteStreams | undefined> {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
  if (head.length) socket.unshift(head);
  const session = new SpdySession(socket);
  const v = protocol === '' || protocol === 'channel.k8s.io' ? 1 : Number(/^v(\d)/.exec(protocol)?.[1] ?? 1);
  const expected = 1 + Number(o.stdin) + Number(o.stdout) + Number(o.stderr) + Number(o.tty && v >= 3);
  const got = new Map<string, SpdyStream>();
  const closed = new Promise<void>((resolve) => {
    const prev = session.onClose;
    session.onClose = (why) => {
      prev(why);
      resolve();
    };
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      session.close();
      resolve(undefined);
    }, streamCreationTimeoutMs);
    void closed.then(() => {
      clearTimeout(timer);
      resolve(undefined);
    });
    session.onStream = (s) => {
      const type = s.header('streamtype') ?? '';
      s.on('error', () => {});
      if (!['error', 'stdin', 'stdout', 'stderr', 'resize'].includes(type)) return;
      got.set(type, s);
      if (got.size < expected) return;
      clearTimeout(timer);
      const errorStream = got.get('error');
      const resize = got.get('resize');
      let done = false;
      resolve({
        protocol,
        ...(got.get('stdin') ? { stdin: got.get('stdin')! } : {}),
        ...(got.get('stdout') ? { stdout: got.get('stdout')! } : {}),
        ...(got.get('stderr') ? { stderr: got.get('stderr')! } : {}),
        onResize(cb) {
          if (!resize) return;
          let buf = '';
          resize.on('data', (d: Buffer) => {
            buf += d.toString();
            // A stream of JSON objects, one per size.
            for (let m = /^\s*(\{[^}]*\})/.exec(buf); m; m = /^\s*(\{[^}]*\})/.exec(buf)) {
              buf = buf.slice(m[0].length);
              try {
                const size = JSON.parse(m[1]!) as { Width?: number; Height?: number };
                if (size.Width && size.Height) cb(size.Width, size.Height);
              } catch {
                // not a size
              }
            }
          });
        },
        finish(st) {
          if (done) return;
          done = true;
          const text = v >= 4 ? JSON.stringify(st) : st.status === 'Success' ? '' : (st.message ?? '');
          const ends: Promise<void>[] = [];
          for (const [type, s] of got) {
            if (type === 'stdin' || type === 'resize') continue;
            ends.push(new Promise((r) => (s.writableEnded ? r() : s.end(type === 'error' && text ? text : undefined, () => r()))));
          }
          void Promise.all(ends).then(() => session.close());
          if (errorStream === undefined) session.close();
        },
        closed,
      });
    };
  });
}
