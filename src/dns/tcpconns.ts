// DNS-over-TCP connections as CoreDNS (miekg/dns) bounds them: each message must arrive whole
// within a deadline that partial data does not extend (the read timeout for the first, the
// idle timeout for the next), and when the cap is reached a new connection takes the place of
// the one that has gone longest without completing a query, rather than being refused.
import type net from 'node:net';

export interface TcpLimits {
  max: number;
  /** time to receive the first message (CoreDNS's read timeout) */
  readTimeoutMs: number;
  /** time to receive each next message (CoreDNS's idle timeout) */
  idleTimeoutMs: number;
}

export const defaultTcpLimits: TcpLimits = { max: 1000, readTimeoutMs: 5_000, idleTimeoutMs: 10_000 };

export interface TcpConn {
  /** when the connection opened or last completed a message */
  since: number;
  /** answers still being worked out (the connection is busy, not idle) */
  pending: number;
  timer?: NodeJS.Timeout;
}

export class TcpConnections {
  private readonly conns = new Map<net.Socket, TcpConn>();

  constructor(private readonly limits: TcpLimits) {}

  get size(): number {
    return this.conns.size;
  }

  /** Takes on `s`, evicting the longest-waiting connection at the cap; false (and `s` closed) when every connection is busy. */
  admit(s: net.Socket): TcpConn | undefined {
    if (this.conns.size >= this.limits.max && !this.evictOne()) {
      s.destroy();
      return undefined;
    }
    const c: TcpConn = { since: Date.now(), pending: 0 };
    this.conns.set(s, c);
    this.arm(s, c, this.limits.readTimeoutMs);
    s.on('close', () => {
      clearTimeout(c.timer);
      this.conns.delete(s);
    });
    return c;
  }

  /** A whole message arrived: the next one has the idle timeout from now. */
  messageRead(s: net.Socket, c: TcpConn): void {
    c.since = Date.now();
    this.arm(s, c, this.limits.idleTimeoutMs);
  }

  private arm(s: net.Socket, c: TcpConn, ms: number): void {
    clearTimeout(c.timer);
    c.timer = setTimeout(() => s.destroy(), ms);
    c.timer.unref();
  }

  private evictOne(): boolean {
    let oldest: [net.Socket, TcpConn] | undefined;
    for (const e of this.conns) if (e[1].pending === 0 && (!oldest || e[1].since < oldest[1].since)) oldest = e;
    if (!oldest) return false;
    oldest[0].destroy();
    this.conns.delete(oldest[0]);
    return true;
  }

  closeAll(): void {
    for (const s of this.conns.keys()) s.destroy();
  }
}
