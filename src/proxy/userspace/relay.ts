// The userspace proxy's data path. Each direction of a connection reads into a buffer of its own,
// reused read after read (Node's `onread`), and writes a view of it to the other socket: no copy
// and no allocation per chunk beyond the view. The next read waits until the last write has left
// Node for the kernel; back-pressure is that wait. Pipes (with their buffers) are pooled across
// connections, and a connection's event handlers are shared functions: a new connection costs its
// sockets and little else.
import net from 'node:net';

const bufferSize = 256 * 1024;
const poolMax = 128;
const pool: Pipe[] = [];

/** One direction of a proxied connection: what `from` reads goes to `to`. */
export class Pipe {
  to?: net.Socket;
  from?: net.Socket;
  readonly buffer: Buffer = Buffer.allocUnsafeSlow(bufferSize);
  private waiting = false;
  private released = false;

  /** A pipe from the pool, or a new one. */
  static take(): Pipe {
    const p = pool.pop();
    if (!p) return new Pipe();
    p.released = false;
    return p;
  }

  /** Node's onread callback: `from` read n bytes into the buffer. false pauses `from`. */
  readonly callback = (n: number, chunk: Buffer): false | void => {
    const to = this.to;
    if (!to || to.destroyed) return false;
    to.write(chunk.subarray(0, n), this.written);
    // Written through to the kernel: the buffer is free for the next read.
    if (to.writableLength === 0) return;
    // Still referenced by the pending write: read nothing more until it has gone.
    this.waiting = true;
    return false;
  };

  private readonly written = (err?: Error | null): void => {
    if (!this.waiting) return;
    this.waiting = false;
    if (!err) this.from?.resume();
  };

  /** Back to the pool, once neither socket can touch the buffer. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.to = this.from = undefined;
    this.waiting = false;
    if (pool.length < poolMax) pool.push(this);
  }
}

// net.Server offers no `onread` for the sockets it accepts. What the option sets up is two fields
// and the handle's user buffer, so an accepted socket that has not read yet (pauseOnConnect) is
// given the same. The fields are found by name once.
let fields: { buffer: symbol; callback: symbol } | undefined;

/** The two fields, from a socket of this Node; throws, saying so, where they are not (checked at start). */
export function userBufferFields(): { buffer: symbol; callback: symbol } {
  if (fields) return fields;
  const own = Object.getOwnPropertySymbols(new net.Socket());
  const buffer = own.find((x) => x.description === 'kBuffer');
  const callback = own.find((x) => x.description === 'kBufferCb');
  if (!buffer || !callback) throw new Error(`userspace mode: this Node (${process.version}) has no onread fields on its sockets, which the proxy's relay uses; run it on Node 20`);
  return (fields = { buffer, callback });
}

/** Makes a socket a server accepted with pauseOnConnect read into `pipe`'s buffer once resumed. */
export function readAcceptedInto(accepted: net.Socket, pipe: Pipe): void {
  const f = userBufferFields();
  const s = accepted as unknown as Record<symbol, unknown> & { _handle: { useUserBuffer(b: Buffer): void } };
  s[f.buffer] = pipe.buffer;
  s[f.callback] = pipe.callback;
  s._handle.useUserBuffer(pipe.buffer);
  pipe.from = accepted;
}

/** A socket to connect onward from (optionally an fd already bound), reading into `pipe`'s buffer. */
export function upstreamSocket(pipe: Pipe, fd?: number): net.Socket {
  const socket = new net.Socket({ ...(fd === undefined ? {} : { fd, readable: true, writable: true }), allowHalfOpen: true, onread: { buffer: pipe.buffer, callback: pipe.callback } } as net.SocketConstructorOpts);
  pipe.from = socket;
  return socket;
}

const kRelay = Symbol('relay');
type WithRelay = net.Socket & { [kRelay]: Relay<unknown> };

/**
 * A connected pair relaying both ways (half-open sockets: a FIN is passed on and the other side
 * may go on). The first socket to close takes the other with it (`done` runs then); the pipes go
 * back to the pool when both have closed.
 */
export class Relay<T> {
  private open = 2;
  constructor(
    readonly client: net.Socket,
    readonly upstream: net.Socket,
    private readonly pipes: [Pipe, Pipe],
    readonly tag: T,
    private readonly done: (r: Relay<T>) => void,
  ) {
    for (const s of [client, upstream] as WithRelay[]) {
      s[kRelay] = this as Relay<unknown>;
      s.on('end', Relay.end);
      s.on('close', Relay.close);
    }
    upstream.on('error', ignore);
    client.resume();
    upstream.resume();
  }

  private closed(): void {
    if (this.open-- === 2) {
      this.done(this);
      this.client.destroy();
      this.upstream.destroy();
    } else for (const p of this.pipes) p.release();
  }

  private other(s: net.Socket): net.Socket {
    return s === this.client ? this.upstream : this.client;
  }

  // Shared by every connection: the socket an event came from finds its relay.
  static end(this: net.Socket): void {
    const r = (this as WithRelay)[kRelay];
    r.other(this).end();
  }

  static close(this: net.Socket): void {
    (this as WithRelay)[kRelay].closed();
  }
}

// Errors end in 'close'; the listener only keeps an error from being thrown.
export const ignore = (): void => {};
