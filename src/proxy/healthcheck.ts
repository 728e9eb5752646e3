// The healthCheckNodePort servers kube-proxy runs for LoadBalancer Services with
// externalTrafficPolicy Local: a load balancer asks any path and gets 200 while this node has
// a ready local endpoint (503 otherwise), with upstream's body and headers byte for byte.
import type http from 'node:http';
import { createHttpServer } from '../util/httpserver.ts';

/** Upstream's response body: TAB-indented JSON, no trailing newline. */
export function serviceHealthBody(namespace: string, name: string, localEndpoints: number, serviceProxyHealthy: boolean): string {
  return `{\n\t"service": {\n\t\t"namespace": ${JSON.stringify(namespace)},\n\t\t"name": ${JSON.stringify(name)}\n\t},\n\t"localEndpoints": ${localEndpoints},\n\t"serviceProxyHealthy": ${serviceProxyHealthy}\n}`;
}

export interface HealthCheckTarget {
  namespace: string;
  name: string;
  port: number;
  localEndpoints: number;
}

/** One HTTP server per health-check port, opened and closed as Services come and go. */
export class ServiceHealthServers {
  private servers = new Map<number, { server: http.Server; target: HealthCheckTarget }>();

  constructor(
    private readonly proxyHealthy: () => boolean,
    private readonly log: (s: string) => void,
  ) {}

  sync(targets: HealthCheckTarget[]): void {
    const want = new Map(targets.map((t) => [t.port, t]));
    for (const [port, s] of this.servers) {
      if (!want.has(port)) {
        s.server.close();
        this.servers.delete(port);
      }
    }
    for (const [port, t] of want) {
      const had = this.servers.get(port);
      if (had) {
        had.target = t;
        continue;
      }
      const entry = { target: t } as { server: http.Server; target: HealthCheckTarget };
      entry.server = createHttpServer((_req, res) => {
        const cur = entry.target;
        const healthy = this.proxyHealthy();
        const body = serviceHealthBody(cur.namespace, cur.name, cur.localEndpoints, healthy);
        res.writeHead(cur.localEndpoints > 0 && healthy ? 200 : 503, {
          'Content-Type': 'application/json',
          'X-Content-Type-Options': 'nosniff',
          'X-Load-Balancing-Endpoint-Weight': String(cur.localEndpoints),
        });
        res.end(body);
      }, {}, this.log);
      entry.server.on('error', (e) => this.log(`health check server on ${port}: ${e.message}`));
      entry.server.listen(port, '0.0.0.0');
      this.servers.set(port, entry);
    }
  }

  close(): void {
    for (const s of this.servers.values()) s.server.close();
    this.servers.clear();
  }
}

/** Go's time.RFC3339Nano as json.Marshal writes it: trailing zeros of the fraction dropped. */
export function rfc3339Nano(d: Date): string {
  return d.toISOString().replace(/\.?0+Z$/, 'Z');
}

/** kube-proxy's own /healthz and /livez answer (json of upstream's ProxyHealth; nodeEligible only on /healthz). */
export function proxyHealthBody(path: '/healthz' | '/livez', now: Date, lastUpdated: Date, healthy: boolean, nodeEligible = true): string {
  // A healthy answer reports "now" as lastUpdated.
  const last = healthy ? now : lastUpdated;
  return JSON.stringify({
    lastUpdated: rfc3339Nano(last),
    currentTime: rfc3339Nano(now),
    ...(path === '/healthz' ? { nodeEligible } : {}),
    healthy,
    status: { IPv4: { lastUpdated: rfc3339Nano(last), healthy } },
  });
}

/**
 * The proxy health server (upstream :10256). Unhealthy when a sync was asked for and has not
 * completed within `timeoutMs` (upstream: twice the sync period).
 */
export class ProxyHealthServer {
  private server: http.Server | undefined;
  private queuedAt: number | undefined;
  private updatedAt = new Date();
  /** false while the Node is being deleted (or the cluster autoscaler is about to): /healthz answers 503 then */
  nodeEligible = true;

  constructor(
    private readonly timeoutMs: number,
    /** told of every answer (upstream counts them in kubeproxy_proxy_healthz_total / _livez_total) */
    private readonly onAnswer: (path: '/healthz' | '/livez', code: number) => void = () => {},
  ) {}

  queued(): void {
    this.queuedAt ??= Date.now();
  }

  updated(): void {
    this.queuedAt = undefined;
    this.updatedAt = new Date();
  }

  healthy(): boolean {
    return this.queuedAt === undefined || Date.now() - this.queuedAt < this.timeoutMs;
  }

  listen(host: string, port: number, log: (s: string) => void): void {
    this.server = createHttpServer((_req, res, target) => {
      const path = target.pathname;
      if (path !== '/healthz' && path !== '/livez') {
        res.writeHead(404).end();
        return;
      }
      const healthy = this.healthy();
      const code = healthy && (path === '/livez' || this.nodeEligible) ? 200 : 503;
      this.onAnswer(path, code);
      res.writeHead(code, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' });
      res.end(proxyHealthBody(path, new Date(), this.updatedAt, healthy, this.nodeEligible));
    }, {}, log);
    this.server.on('error', (e) => log(`health server on ${host}:${port}: ${e.message}`));
    this.server.listen(port, host);
  }

  close(): void {
    this.server?.close();
  }
}
