// The built-in image `podpath/echo`: the seeds' Go app. GET /health answers
// {"status":"healthy","uptime":"5m30s"}; /api/v1/* answers with who served it and who asked
// (the client address as the pod sees it, so NAT is visible); /metrics is Prometheus text.
// With --udp-port it also answers each UDP datagram with who served it and who sent it.
import dgram from 'node:dgram';
import type http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import { serviceAccountMountPath } from '../util/mounts.ts';
import { createHttpServer } from '../util/httpserver.ts';

/** Go's time.Duration.String() at whole seconds: 5m30s, 1h2m3s, 45s. */
export function goDuration(ms: number): string {
  let s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

export interface EchoOptions {
  port: number;
  host?: string;
  /** included in /api/v1/* answers, so a rollout's new version is visible */
  message?: string;
}

/**
 * The pod's namespace as a program in it finds it without the downward API: its service
 * account's `namespace` file ('' when the pod mounts none).
 */
function podNamespace(): string {
  try {
    return fs.readFileSync(`${serviceAccountMountPath}/namespace`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** A UDP socket that answers every datagram with the pod's identity and the sender's address. */
export function startUdpEcho(port: number, host = '0.0.0.0'): dgram.Socket {
  const env = process.env;
  const sock = dgram.createSocket('udp4');
  sock.on('message', (_msg, rinfo) => {
    const body = JSON.stringify({ pod: env.POD_NAME ?? os.hostname(), podIP: env.POD_IP ?? '', client: `${rinfo.address}:${rinfo.port}` });
    sock.send(body, rinfo.port, rinfo.address);
  });
  sock.bind(port, host);
  return sock;
}

export function startEcho(o: EchoOptions): http.Server {
  const started = Date.now();
  const counts = new Map<string, number>();
  const env = process.env;
  const server = createHttpServer((req, res, url) => {
    const route = url.pathname === '/health' ? '/health' : url.pathname.startsWith('/api/v1/') || url.pathname === '/api/v1' ? '/api/v1/*' : url.pathname === '/metrics' ? '/metrics' : 'other';
    const code = route === 'other' ? 404 : 200;
    const label = `method="${req.method}",path="${route}",code="${code}"`;
    counts.set(label, (counts.get(label) ?? 0) + 1);
    // An access log shows the client address the pod saw (SNAT is visible here); the kubelet's
    // probes are left out so the log stays readable.
    if (!String(req.headers['user-agent'] ?? '').startsWith('kube-probe/')) {
      process.stdout.write(`${new Date().toISOString()} ${req.socket.remoteAddress}:${req.socket.remotePort} ${req.method} ${url.pathname} ${code}\n`);
    }
    const json = (body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    switch (route) {
      case '/health':
        return json({ status: 'healthy', uptime: goDuration(Date.now() - started) });
      case '/api/v1/*':
        return json({
          pod: env.POD_NAME ?? os.hostname(),
          namespace: env.POD_NAMESPACE ?? podNamespace(),
          podIP: env.POD_IP ?? req.socket.localAddress,
          node: env.NODE_NAME ?? '',
          client: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
          method: req.method,
          path: url.pathname,
          host: req.headers.host ?? '',
          ...(o.message !== undefined ? { message: o.message } : {}),
        });
      case '/metrics': {
        const lines = ['# HELP http_requests_total Requests served, by method, path and code.', '# TYPE http_requests_total counter'];
        for (const [l, n] of [...counts].sort()) lines.push(`http_requests_total{${l}} ${n}`);
        lines.push('# HELP process_uptime_seconds Seconds since the app started.', '# TYPE process_uptime_seconds gauge', `process_uptime_seconds ${((Date.now() - started) / 1000).toFixed(3)}`);
        const text = lines.join('\n') + '\n';
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
        return res.end(text);
      }
      default:
        return json({ error: 'not found', path: url.pathname });
    }
  });
  server.listen(o.port, o.host ?? '0.0.0.0', () => process.stdout.write(`${new Date().toISOString()} listening on :${o.port}\n`));
  return server;
}
