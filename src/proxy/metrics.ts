// kube-proxy's Prometheus metrics with upstream's names, help texts (component-base prefixes
// "[ALPHA] ") and histogram buckets, in the text exposition format, served on
// --metrics-bind-address (upstream 127.0.0.1:10249) at /metrics.
import http from 'node:http';
import type { ProxyMode } from './config.ts';

type Labels = Record<string, string>;
const labelText = (l: Labels) => {
  const e = Object.entries(l);
  return e.length ? `{${e.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`).join(',')}}` : '';
};

interface Metric {
  name: string;
  expose(): string;
}

export class Counter implements Metric {
  private values = new Map<string, { labels: Labels; v: number }>();
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: 'counter' | 'gauge' = 'counter',
  ) {}
  inc(by = 1, labels: Labels = {}): void {
    const k = labelText(labels);
    const e = this.values.get(k) ?? { labels, v: 0 };
    e.v += by;
    this.values.set(k, e);
  }
  set(v: number, labels: Labels = {}): void {
    this.values.set(labelText(labels), { labels, v });
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.v ?? 0;
  }
  expose(): string {
    const head = `# HELP ${this.name} [ALPHA] ${this.help}\n# TYPE ${this.name} ${this.type}\n`;
    // An unlabelled counter or gauge is exposed (as 0) before its first change, as client_golang does.
    const rows = this.values.size ? [...this.values.values()] : this.labelled ? [] : [{ labels: {}, v: 0 }];
    return rows.length ? head + rows.map((r) => `${this.name}${labelText(r.labels)} ${r.v}\n`).join('') : '';
  }
  labelled = false;
}

export class Histogram implements Metric {
  private counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly buckets: number[],
  ) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) this.counts[i]!++;
  }
  get observations(): number {
    return this.count;
  }
  expose(): string {
    return (
      `# HELP ${this.name} [ALPHA] ${this.help}\n# TYPE ${this.name} histogram\n` +
      this.buckets.map((b, i) => `${this.name}_bucket{le="${b}"} ${this.counts[i]}\n`).join('') +
      `${this.name}_bucket{le="+Inf"} ${this.count}\n${this.name}_sum ${this.sum}\n${this.name}_count ${this.count}\n`
    );
  }
}

const exponential = (start: number, factor: number, n: number) => Array.from({ length: n }, (_, i) => start * factor ** i);
const linear = (start: number, width: number, n: number) => Array.from({ length: n }, (_, i) => start + width * i);

export class ProxyMetrics {
  readonly syncDuration = new Histogram('kubeproxy_sync_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds', exponential(0.001, 2, 15));
  readonly syncFullDuration = new Histogram('kubeproxy_sync_full_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds for full resyncs', exponential(0.001, 2, 15));
  readonly syncPartialDuration = new Histogram('kubeproxy_sync_partial_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds for partial resyncs', exponential(0.001, 2, 15));
  readonly lastSync = new Counter('kubeproxy_sync_proxy_rules_last_timestamp_seconds', 'The last time proxy rules were successfully synced', 'gauge');
  readonly lastQueued = new Counter('kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', 'The last time a sync of proxy rules was queued', 'gauge');
  readonly networkProgramming = new Histogram('kubeproxy_network_programming_duration_seconds', 'In Cluster Network Programming Latency in seconds', [...linear(0.25, 0.25, 2), ...linear(1, 1, 59), ...linear(60, 5, 12), ...linear(120, 30, 7)]);
  readonly endpointChangesPending = new Counter('kubeproxy_sync_proxy_rules_endpoint_changes_pending', 'Pending proxy rules Endpoint changes', 'gauge');
  readonly endpointChangesTotal = new Counter('kubeproxy_sync_proxy_rules_endpoint_changes_total', 'Cumulative proxy rules Endpoint changes');
  readonly serviceChangesPending = new Counter('kubeproxy_sync_proxy_rules_service_changes_pending', 'Pending proxy rules Service changes', 'gauge');
  readonly serviceChangesTotal = new Counter('kubeproxy_sync_proxy_rules_service_changes_total', 'Cumulative proxy rules Service changes');
  readonly healthzTotal = new Counter('kubeproxy_proxy_healthz_total', 'Cumulative proxy healthz HTTP status');
  readonly livezTotal = new Counter('kubeproxy_proxy_livez_total', 'Cumulative proxy livez HTTP status');
  readonly noLocalEndpoints = new Counter('kubeproxy_sync_proxy_rules_no_local_endpoints_total', 'Number of services with a Local traffic policy and no endpoints', 'gauge');
  readonly iptablesRestoreFailures = new Counter('kubeproxy_sync_proxy_rules_iptables_restore_failures_total', 'Cumulative proxy iptables restore failures');
  readonly iptablesPartialRestoreFailures = new Counter('kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total', 'Cumulative proxy iptables partial restore failures');
  readonly iptablesRulesTotal = new Counter('kubeproxy_sync_proxy_rules_iptables_total', 'Total number of iptables rules owned by kube-proxy', 'gauge');
  readonly iptablesRulesLast = new Counter('kubeproxy_sync_proxy_rules_iptables_last', 'Number of iptables rules written by kube-proxy in last sync', 'gauge');
  readonly nftablesSyncFailures = new Counter('kubeproxy_sync_proxy_rules_nftables_sync_failures_total', 'Cumulative proxy nftables sync failures');
  readonly nftablesCleanupFailures = new Counter('kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total', 'Cumulative proxy nftables cleanup failures');
  readonly conntrackDeleted = new Counter('kubeproxy_conntrack_reconciler_deleted_entries_total', 'Cumulative conntrack flows deleted by conntrack reconciler');
  private readonly all: Metric[];

  constructor(mode: ProxyMode) {
    for (const c of [this.healthzTotal, this.livezTotal, this.noLocalEndpoints, this.iptablesRulesTotal, this.iptablesRulesLast]) c.labelled = true;
    // Registered per mode, as upstream's RegisterMetrics does.
    const common: Metric[] = [this.syncDuration, this.lastQueued, this.lastSync, this.endpointChangesPending, this.endpointChangesTotal, this.serviceChangesPending, this.serviceChangesTotal, this.healthzTotal, this.livezTotal, this.networkProgramming, this.noLocalEndpoints, this.conntrackDeleted];
    const byMode: Metric[] =
      mode === 'iptables'
        ? [this.syncFullDuration, this.syncPartialDuration, this.iptablesRestoreFailures, this.iptablesPartialRestoreFailures, this.iptablesRulesTotal, this.iptablesRulesLast]
        : [this.nftablesSyncFailures, this.nftablesCleanupFailures];
    this.all = [...common, ...byMode].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** The /metrics body. */
  expose(): string {
    return this.all.map((m) => m.expose()).join('');
  }

  listen(host: string, port: number, log: (s: string) => void): http.Server {
    const server = http.createServer((req, res) => {
      if ((req.url ?? '/').split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(this.expose());
    });
    server.on('error', (e) => log(`metrics server on ${host}:${port}: ${e.message}`));
    server.listen(port, host);
    return server;
  }
}
