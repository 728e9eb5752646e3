// Raw HTTP(S) exchanges on 127.0.0.1 for front-door tests: bytes no well-behaved client
// would send, slow senders, and reading whatever comes back.
import net from 'node:net';
import tls from 'node:tls';

export interface RawResult {
  /** the status code of the first response, 0 when none came */
  status: number;
  text: string;
  /** how the connection ended: closed by the server, reset, or still open at the deadline */
  ended: 'closed' | 'reset' | 'open';
  ms: number;
}

export interface RawOptions {
  port: number;
  /** connect with TLS (any certificate accepted) */
  tls?: boolean;
  /** sent one after another, `gapMs` apart */
  chunks: (string | Buffer)[];
  gapMs?: number;
  /** give up (and close) after this long */
  timeoutMs?: number;
  /** resolve as soon as a whole status line arrived */
  untilStatus?: boolean;
}

export function rawExchange(o: RawOptions): Promise<RawResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock: net.Socket = o.tls ? tls.connect({ port: o.port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'localhost' }) : net.connect({ port: o.port, host: '127.0.0.1' });
    let text = '';
    let done = false;
    const finish = (ended: RawResult['ended']) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const t of gaps) clearTimeout(t);
      sock.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text, ended, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish('open'), o.timeoutMs ?? 10_000);
    const gaps: NodeJS.Timeout[] = [];
    sock.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (o.untilStatus && /^HTTP\/1\.[01] \d{3}.*\r\n/.test(text)) finish('open');
    });
    sock.on('end', () => finish('closed'));
    sock.on('close', () => finish('closed'));
    sock.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ECONNRESET' ? 'reset' : 'closed'));
    sock.once(o.tls ? 'secureConnect' : 'connect', () => {
      o.chunks.forEach((c, i) => {
        gaps.push(
          setTimeout(() => {
            if (!done && !sock.destroyed) sock.write(c);
          }, i * (o.gapMs ?? 0)),
        );
      });
    });
  });
}

/** A plain GET, as the good request that must succeed after each bad one. */
export function goodGet(port: number, path: string, useTls = false, headers: Record<string, string> = {}): Promise<RawResult> {
  const h = Object.entries({ Host: '127.0.0.1', Connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return rawExchange({ port, tls: useTls, chunks: [`GET ${path} HTTP/1.1\r\n${h}\r\n`], timeoutMs: 10_000 });
}
