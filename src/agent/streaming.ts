// The kubelet's streaming server, on the node agent's port beside /containerLogs: the API server
// hands it the upgraded connections of `kubectl exec`, `attach` and `port-forward`
// (/exec|attach/NAMESPACE/POD/CONTAINER?command=…&stdin=…, /portForward/NAMESPACE/POD).
// exec runs the command in the pod's network namespace with the container's environment (pipes,
// or a pseudo-terminal with tty); attach joins a running container's stdin FIFO and follows its
// output; port-forward connects to 127.0.0.1:PORT inside the pod's namespace for each of the
// client's connections. Both WebSocket (as kubectl 1.30+ speaks, through the API server) and
// SPDY/3.1 (older clients, and the fallback) are served.
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { createWebSocketStream } from 'ws';
import { resizePty, startInteractive } from '../exec/stream.ts';
import { decodeSegment, parseTarget } from '../util/httpserver.ts';
import {
  acceptWebSocket,
  channelProtocols,
  exitStatus,
  internalError,
  isSpdyRequest,
  isWebSocketRequest,
  negotiate,
  portForwardProtocol,
  refuse,
  requestedProtocols,
  spdyChannelProtocols,
  spdyStreams,
  streamOptions,
  success,
  tunnelPrefix,
  webSocketStreams,
  type RemoteStreams,
  type StreamOptions,
} from '../util/httpstream/remotecommand.ts';
import { SpdySession, type SpdyStream } from '../util/httpstream/spdy.ts';
import type { OutputListener } from './logwriter.ts';
import { loadAddon } from '../util/addon.ts';

/** Where and how a command runs for exec: beside the container's process (its namespaces, root and working directory), with its environment. */
export interface ExecTarget {
  pid: number;
  env: Record<string, string>;
}

/** A running container to attach to. */
export interface AttachTarget {
  /** the container's output as it comes, until the returned function is called */
  output(listener: OutputListener): () => void;
  /** the FIFO its stdin reads (stdin: true) */
  stdinFifo?: string;
  stdinOnce: boolean;
  tty: boolean;
  /** the container's process (script(1) when tty) */
  pid: number;
  running(): boolean;
  /** the end of input for a stdinOnce container */
  closeStdin(): void;
}

export interface PodTarget {
  netns: string;
  uid: string;
}

/** What the agent knows; each answers the kubelet's error text when the target is not there. */
export interface StreamingHost {
  exec(namespace: string, pod: string, container: string): ExecTarget | { error: string };
  attach(namespace: string, pod: string, container: string): AttachTarget | { error: string };
  pod(namespace: string, pod: string): PodTarget | { error: string };
  log(s: string): void;
}

/** build/sockopt.node (scripts/build.js compiles it): sockets opened inside a network namespace. */
interface SockoptAddon {
  netnsSocket(path: string): number;
}
function sockopt(): SockoptAddon {
  const r = loadAddon<SockoptAddon>('sockopt');
  if ('error' in r) throw new Error(r.error);
  return r.addon;
}

/** The buffer every port-forward connection reads its pod's bytes into (each read is copied out at once). */
let podRead: Buffer | undefined;
function podReadBuffer(): Buffer {
  podRead ??= Buffer.allocUnsafe(64 * 1024);
  return podRead;
}

/** A command's file, as the container's PATH finds it; undefined when there is none to run. */
function findCommand(cmd: string, env: Record<string, string>, pid: number): string | undefined {
  // Looked up in the container's own root and working directory, as the runtime would.
  const ok = (p: string) => {
    const inRoot = path.isAbsolute(p) ? path.join(`/proc/${pid}/root`, p) : path.join(`/proc/${pid}/cwd`, p);
    try {
      fs.accessSync(inRoot, fs.constants.X_OK);
      return fs.statSync(inRoot).isFile();
    } catch {
      return false;
    }
  };
  if (cmd.includes('/')) return ok(cmd) ? cmd : undefined;
  return (env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':').map((d) => path.join(d || '.', cmd)).find(ok);
}

export class StreamingServer {
  constructor(private readonly host: StreamingHost) {}

  /** For an http.Server's 'upgrade' event: an upgrade to another path is answered 404. */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const target = parseTarget(req.url);
    const parts = (target?.pathname ?? '').split('/').filter(Boolean).map((s) => decodeSegment(s) ?? '');
    const q = target?.query ?? new URLSearchParams();
    const [kind, ns, pod, container] = parts;
    if (!isWebSocketRequest(req) && !isSpdyRequest(req)) return refuse(socket, 400, 'unable to upgrade: missing upgrade headers in request');
    if ((kind === 'exec' || kind === 'attach') && parts.length === 4) return void this.remoteCommand(kind, req, socket, head, ns!, pod!, container!, q);
    if (kind === 'portForward' && parts.length === 3) return void this.portForward(req, socket, head, ns!, pod!);
    refuse(socket, 404, '404 page not found');
  }

  /** Upgrades to the transport the client asked for; a target error is answered as the kubelet (SPDY) or the API server's translator (WebSocket) does. */
  private async open(req: IncomingMessage, socket: Duplex, head: Buffer, o: StreamOptions, problem: string | undefined): Promise<RemoteStreams | undefined> {
    if (isWebSocketRequest(req)) {
      const ws = await acceptWebSocket(req, socket, head, channelProtocols);
      if (!ws) return undefined;
      const streams = webSocketStreams(ws.ws, ws.protocol, o);
      if (problem !== undefined) {
        streams.finish(internalError(`unable to upgrade connection: ${problem}`));
        return undefined;
      }
      return streams;
    }
    if (problem !== undefined) {
      refuse(socket, 500, problem);
      return undefined;
    }
    const requested = requestedProtocols(req);
    const protocol = negotiate(requested, spdyChannelProtocols);
    if (protocol === undefined) {
      refuse(socket, 403, `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(requested)}, server supports ${JSON.stringify(spdyChannelProtocols)}`);
      return undefined;
    }
    return spdyStreams(socket, head, protocol, o);
  }

  private async remoteCommand(kind: 'exec' | 'attach', req: IncomingMessage, socket: Duplex, head: Buffer, ns: string, pod: string, container: string, q: URLSearchParams): Promise<void> {
    const o = streamOptions(q);
    const target = kind === 'exec' ? this.host.exec(ns, pod, container) : this.host.attach(ns, pod, container);
    const problem = 'error' in target ? target.error : undefined;
    const streams = await this.open(req, socket, head, o, problem);
    if (!streams || 'error' in target) return;
    try {
      if (kind === 'exec') await this.exec(streams, target as ExecTarget, q.getAll('command'), o);
      else await this.attach(streams, target as AttachTarget, o);
    } catch (e) {
      this.host.log(`${kind} ${ns}/${pod}/${container}: ${(e as Error).message}`);
      streams.finish(internalError(`error ${kind === 'exec' ? 'executing command in' : 'attaching to'} container: ${(e as Error).message}`));
    }
  }

  private async exec(streams: RemoteStreams, t: ExecTarget, command: string[], o: StreamOptions): Promise<void> {
    if (command.length === 0 || !findCommand(command[0]!, t.env, t.pid)) {
      const what = command[0] ?? '';
      streams.finish(internalError(`error executing command in container: failed to exec in container: OCI runtime exec failed: exec failed: unable to start container process: exec: "${what}": executable file not found in $PATH: unknown`));
      return;
    }
    // A terminal starts at the client's size: kubectl sends it first thing (a second at most is waited for).
    const size = o.tty
      ? await new Promise<{ width: number; height: number } | undefined>((resolve) => {
          streams.onResize((width, height) => resolve({ width, height }));
          setTimeout(() => resolve(undefined), 1000).unref();
        })
      : undefined;
    const p = startInteractive(command, { enter: t.pid, env: t.env, tty: o.tty, ...(size ? { size } : {}) });
    if (streams.stdin) {
      streams.stdin.pipe(p.stdin);
    } else p.stdin.end();
    const outputs: Promise<void>[] = [];
    const forward = (from: NodeJS.ReadableStream | null, to: NodeJS.WritableStream | undefined) => {
      if (!from) return;
      outputs.push(new Promise((resolve) => from.once('end', resolve).once('close', resolve)));
      if (to) from.pipe(to, { end: false });
      else (from as NodeJS.ReadableStream & { resume(): void }).resume();
    };
    forward(p.stdout, streams.stdout);
    forward(p.stderr, streams.stderr);
    streams.onResize((w, h) => p.resize(w, h));
    let gone = false;
    void streams.closed.then(() => {
      gone = true;
      p.kill('SIGKILL');
    });
    const { code, signal } = await p.exited;
    // Output left in the pipes is read; a background child holding them open is not waited for.
    await Promise.race([Promise.all(outputs), new Promise((r) => setTimeout(r, 1000).unref())]);
    await Promise.all([streams.stdout, streams.stderr].map((w) => (w ? new Promise<void>((r) => (w.writableNeedDrain ? w.once('drain', () => r()) : r())) : undefined)));
    if (gone) return;
    const rc = code ?? (signal ? 128 + ({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1 }[signal as string] ?? 1) : 1);
    streams.finish(rc === 0 ? success : exitStatus(command, rc));
  }

  private async attach(streams: RemoteStreams, t: AttachTarget, o: StreamOptions): Promise<void> {
    let stdinWriter: fs.WriteStream | undefined;
    const releaseStdin = () => {
      stdinWriter?.end();
      stdinWriter = undefined;
      if (t.stdinOnce) t.closeStdin();
    };
    if (streams.stdin && t.stdinFifo) {
      stdinWriter = fs.createWriteStream(t.stdinFifo, { flags: 'r+' });
      stdinWriter.on('error', () => {});
      streams.stdin.on('data', (d: Buffer) => stdinWriter?.write(d));
      streams.stdin.on('end', releaseStdin);
    } else streams.stdin?.resume();
    if (o.tty) streams.onResize((w, h) => resizePty(t.pid, w, h));
    const out = streams.stdout ?? streams.stderr;
    const unsubscribe = t.output((stream, chunk) => void (stream === 'stderr' && streams.stderr ? streams.stderr : out)?.write(chunk));
    let gone = false;
    void streams.closed.then(() => (gone = true));
    while (!gone && t.running()) await new Promise((r) => setTimeout(r, 50));
    unsubscribe();
    releaseStdin();
    if (!gone) streams.finish(success);
  }

  private async portForward(req: IncomingMessage, socket: Duplex, head: Buffer, ns: string, pod: string): Promise<void> {
    const target = this.host.pod(ns, pod);
    let transport: Duplex;
    if (isWebSocketRequest(req)) {
      const ws = await acceptWebSocket(req, socket, head, [tunnelPrefix + portForwardProtocol]);
      if (!ws) return;
      if ('error' in target) {
        ws.ws.close(1011, target.error.slice(0, 120));
        return;
      }
      transport = createWebSocketStream(ws.ws);
    } else {
      if ('error' in target) return refuse(socket, 404, target.error);
      const requested = requestedProtocols(req);
      if (negotiate(requested, [portForwardProtocol]) === undefined) {
        return refuse(socket, 403, `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(requested)}, server supports ["${portForwardProtocol}"]`);
      }
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${portForwardProtocol}\r\n\r\n`);
      if (head.length) socket.unshift(head);
      transport = socket;
    }
    transport.on('error', () => {});
    const session = new SpdySession(transport);
    // Streams come in pairs (data and error) sharing a requestid; each pair is one connection.
    const pairs = new Map<string, { data?: SpdyStream; error?: SpdyStream }>();
    session.onStream = (s) => {
      s.on('error', () => {});
      const type = s.header('streamtype');
      const id = s.header('requestid') ?? s.header('port') ?? '';
      if (type !== 'data' && type !== 'error') return s.reset();
      const pair = pairs.get(id) ?? {};
      pairs.set(id, pair);
      pair[type] = s;
      if (pair.data && pair.error) {
        pairs.delete(id);
        this.forward(target, ns, pod, pair.data, pair.error);
      }
    };
  }

  /** One forwarded connection: 127.0.0.1:PORT in the pod's namespace, or the reason on the error stream. */
  private forward(t: PodTarget, ns: string, pod: string, data: SpdyStream, errorStream: SpdyStream): void {
    errorStream.resume();
    // The client reset the data stream before its pair was complete: nothing to dial (its 'close' is past).
    if (data.destroyed) return void errorStream.end();
    const port = Number(data.header('port'));
    const fail = (why: string) => {
      this.host.log(`port-forward ${ns}/${pod}: error forwarding port ${port}: ${why}`);
      errorStream.end(`error forwarding port ${port} to pod ${ns}/${pod}, uid ${t.uid}: ${why}`);
      data.resume();
      data.end();
    };
    if (!Number.isInteger(port) || port < 1 || port > 65535) return fail(`invalid port ${data.header('port')}`);
    let fd: number;
    try {
      fd = sockopt().netnsSocket(`/run/netns/${t.netns}`);
    } catch (e) {
      return fail((e as Error).message);
    }
    // What the pod sends is read into one buffer the agent reuses and copied straight into DATA
    // frames: no buffer per read (each counts towards V8's external memory, whose growth starts full
    // collections), and the connection stops reading while the client's is backed up.
    // (Node's Socket constructor takes onread as connect() does; its types list it for connect only.)
    const options: net.SocketConstructorOpts & { onread: net.OnReadOpts } = {
      fd,
      readable: true,
      writable: true,
      allowHalfOpen: true,
      onread: {
        buffer: podReadBuffer(),
        callback: (n: number, buf: Buffer) => {
          if (data.sendNow(buf.subarray(0, n))) return true;
          data.drained(() => conn.resume());
          return false;
        },
      },
    };
    const conn = new net.Socket(options);
    let connected = false;
    conn.on('error', (e: NodeJS.ErrnoException) => {
      if (!connected) {
        const text = e.code === 'ECONNREFUSED' ? 'connection refused' : e.message;
        fail(`failed to connect to localhost:${port} inside namespace "${t.netns}", IPv4: dial tcp4 127.0.0.1:${port}: connect: ${text}`);
      } else {
        data.reset();
        errorStream.end();
      }
    });
    conn.connect(port, '127.0.0.1', () => {
      connected = true;
      conn.setNoDelay(true);
      data.pipe(conn);
      conn.on('end', () => data.end());
    });
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      if (!errorStream.writableEnded) errorStream.end();
      conn.destroy();
    };
    // The pod closed its side (our FIN went out): a second for the rest, as containerd gives; or the client reset the stream.
    data.on('finish', () => setTimeout(done, 1000).unref());
    data.on('close', done);
  }
}
