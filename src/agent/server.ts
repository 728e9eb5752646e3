// The node agent's server on the kubelet's port: HTTPS with the node's serving certificate,
// every request (and every upgrade: exec, attach, port-forward) through the auth filter (auth.ts)
// before the handlers see it — /containerLogs and /stats/summary (logs.ts), the streaming
// server (streaming.ts).
import type http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { guard, parseTarget, serverOptions, type Handler } from '../util/httpserver.ts';
import { refuse } from '../util/httpstream/remotecommand.ts';
import { listenTLS } from '../util/tlsserver.ts';
import { peerCertificate } from '../util/pki.ts';
import type { AgentAuth, Credentials } from './auth.ts';
import type { AgentTLS } from './certs.ts';

export interface AgentServerOptions {
  host: string;
  port: number;
  tls: AgentTLS;
  auth: AgentAuth;
  handler: Handler;
  upgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  log: (s: string) => void;
}

/** What a request's connection and headers present. */
export function credentialsOf(req: http.IncomingMessage): Credentials {
  const c: Credentials = {};
  if (req.headers.authorization !== undefined) c.authorization = req.headers.authorization;
  const peer = peerCertificate(req.socket);
  if (peer) c.peer = peer;
  return c;
}

export async function startAgentServer(o: AgentServerOptions): Promise<{ close(): void }> {
  const server = https.createServer({
    ...serverOptions(),
    cert: o.tls.cert,
    key: o.tls.key,
    // A client certificate is asked for when there is a client CA; one that does not chain to it is no identity (401), not a failed handshake.
    ...(o.tls.clientCA ? { ca: o.tls.clientCA, requestCert: true, rejectUnauthorized: false } : {}),
  });
  const check = (req: http.IncomingMessage) => o.auth.check(credentialsOf(req), req.method ?? '', parseTarget(req.url)?.pathname ?? '');
  guard(
    server,
    async (req, res, target) => {
      const d = await check(req);
      if (!d.allowed) {
        res.writeHead(d.code, { 'Content-Type': 'text/plain; charset=utf-8' });
        return res.end(d.text);
      }
      return o.handler(req, res, target);
    },
    {},
    o.log,
  );
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    void check(req).then(
      (d) => (d.allowed ? o.upgrade(req, socket, head) : refuse(socket, d.code, d.text)),
      (e: Error) => refuse(socket, 500, e.message),
    );
  });
  server.on('tlsClientError', () => {});
  const front: net.Server = await listenTLS(server, o.host, o.port);
  front.on('error', (e) => o.log(`server: ${e.message}`));
  return { close: () => front.close() };
}
