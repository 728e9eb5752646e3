// An HTTPS server behind a listener that answers a plain HTTP request as Go's net/http does
// ("Client sent an HTTP request to an HTTPS server.") instead of failing the handshake silently.
import type https from 'node:https';
import net from 'node:net';

/** Go's answer to an HTTP request on a TLS port (net/http server.go). */
export const plainHttpAnswer = 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';

/** Whether a connection's first bytes are an HTTP request's, not a TLS record (tlsRecordHeaderLooksLikeHTTP). */
export function looksLikeHttp(first: Buffer): boolean {
  const s = first.subarray(0, 5).toString('latin1');
  return ['GET /', 'HEAD ', 'POST ', 'PUT /', 'OPTIO'].includes(s);
}

/**
 * Listens on host:port and hands each connection that starts a TLS handshake to `server` (which
 * is not itself listening); one that starts a plain HTTP request gets Go's 400, anything else is
 * closed. Resolves once listening; close() stops both.
 */
export function listenTLS(server: https.Server, host: string, port: number): Promise<net.Server> {
  // Without TCP_NODELAY, a small write following one not yet acknowledged (an exec's status and
  // then its close frame, a stream's reply) waits for the peer's delayed ACK: 40 ms on Linux.
  const front = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    socket.on('error', () => {});
    socket.once('data', (first: Buffer) => {
      socket.pause();
      if (first[0] === 0x16) {
        socket.unshift(first);
        server.emit('connection', socket);
      } else if (looksLikeHttp(first)) socket.end(plainHttpAnswer);
      else socket.destroy();
    });
    socket.resume();
  });
  front.on('close', () => server.close());
  return new Promise((resolve, reject) => {
    front.once('error', reject);
    front.listen(port, host, () => {
      front.off('error', reject);
      resolve(front);
    });
  });
}
