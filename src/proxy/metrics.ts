// kube-proxy's Prometheus metrics with upstream's names, help texts (component-base prefixes
// "[ALPHA] ") and histogram buckets, in the text exposition format, served on
// --metrics-bind-address (upstream 127.0.0.1:10249) at /metrics.
import http from 'node:http';
import { Counter, exponential, Histogram, linear, serveMetrics, type Metric } from '../util/prometheus.ts';
import type { ProxyMode } from './config.ts';

export class ProxyMetrics {
  readonly syncDuration = new Histogram('kubeproxy_sync_proxy_rules_duration_seconds', '[ALPHA] SyncProxyRules latency in seconds', exponential(0.001, 2, 15));
  readonly syncFullDuration = new Histogram('kubeproxy_sync_full_proxy_rules_duration_seconds', '[ALPHA] SyncProxyRules latency in seconds for full resyncs', exponential(0.001, 2, 15));
  readonly syncPartialDuration = new Histogram('kubeproxy_sync_partial_proxy_rules_duration_seconds', '[ALPHA] SyncProxyRules latency in seconds for partial resyncs', exponential(0.001, 2, 15));
  readonly lastSync = new Counter('kubeproxy_sync_proxy_rules_last_timestamp_seconds', '[ALPHA] The last time proxy rules were successfully synced', 'gauge');
  readonly lastQueued = new Counter('kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', '[ALPHA] The last time a sync of proxy rules was queued', 'gauge');
  readonly networkProgramming = new Histogram('kubeproxy_network_programming_duration_seconds', '[ALPHA] In Cluster Network Programming Latency in seconds', [...linear(0.25, 0.25, 2), ...linear(1, 1, 59), ...linear(60, 5, 12), ...linear(120, 30, 7)]);
  readonly endpointChangesPending = new Counter('kubeproxy_sync_proxy_rules_endpoint_changes_pending', '[ALPHA] Pending proxy rules Endpoint changes', 'gauge');
  readonly endpointChangesTotal = new Counter('kubeproxy_sync_proxy_rules_endpoint_changes_total', '[ALPHA] Cumulative proxy rules Endpoint changes');
  readonly serviceChangesPending = new Counter('kubeproxy_sync_proxy_rules_service_changes_pending', '[ALPHA] Pending proxy rules Service changes', 'gauge');
  readonly serviceChangesTotal = new Counter('kubeproxy_sync_proxy_rules_service_changes_total', '[ALPHA] Cumulative proxy rules Service changes');
  readonly healthzTotal = new Counter('kubeproxy_proxy_healthz_total', '[ALPHA] Cumulative proxy healthz HTTP status');
  readonly livezTotal = new Counter('kubeproxy_proxy_livez_total', '[ALPHA] Cumulative proxy livez HTTP status');
  readonly noLocalEndpoints = new Counter('kubeproxy_sync_proxy_rules_no_local_endpoints_total', '[ALPHA] Number of services with a Local traffic policy and no endpoints', 'gauge');
  readonly iptablesRestoreFailures = new Counter('kubeproxy_sync_proxy_rules_iptables_restore_failures_total', '[ALPHA] Cumulative proxy iptables restore failures');
  readonly iptablesPartialRestoreFailures = new Counter('kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total', '[ALPHA] Cumulative proxy iptables partial restore failures');
  readonly iptablesRulesTotal = new Counter('kubeproxy_sync_proxy_rules_iptables_total', '[ALPHA] Total number of iptables rules owned by kube-proxy', 'gauge');
  readonly iptablesRulesLast = new Counter('kubeproxy_sync_proxy_rules_iptables_last', '[ALPHA] Number of iptables rules written by kube-proxy in last sync', 'gauge');
  readonly nftablesSyncFailures = new Counter('kubeproxy_sync_proxy_rules_nftables_sync_failures_total', '[ALPHA] Cumulative proxy nftables sync failures');
  readonly nftablesCleanupFailures = new Counter('kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total', '[ALPHA] Cumulative proxy nftables cleanup failures');
  // podpath's own (userspace mode balances in the process, so it can count per endpoint)
  readonly endpointConnections = new Counter('podpath_proxy_endpoint_connections', 'Connections (TCP) and sessions (UDP) open to an endpoint through a userspace-mode virtual server', 'gauge');
  readonly endpointConnectionsTotal = new Counter('podpath_proxy_endpoint_connections_total', 'Connections and sessions made to an endpoint through a userspace-mode virtual server');
  readonly conntrackDeleted = new Counter('kubeproxy_conntrack_reconciler_deleted_entries_total', '[ALPHA] Cumulative conntrack flows deleted by conntrack reconciler');
  private readonly all: Metric[];

  constructor(mode: ProxyMode) {
    for (const c of [this.healthzTotal, this.livezTotal, this.noLocalEndpoints, this.iptablesRulesTotal, this.iptablesRulesLast, this.endpointConnections, this.endpointConnectionsTotal]) c.labelled = true;
    // Registered per mode, as upstream's RegisterMetrics does.
    const common: Metric[] = [this.syncDuration, this.lastQueued, this.lastSync, this.endpointChangesPending, this.endpointChangesTotal, this.serviceChangesPending, this.serviceChangesTotal, this.healthzTotal, this.livezTotal, this.networkProgramming, this.noLocalEndpoints, this.conntrackDeleted];
    const byMode: Metric[] =
      mode === 'iptables'
        ? [this.syncFullDuration, this.syncPartialDuration, this.iptablesRestoreFailures, this.iptablesPartialRestoreFailures, this.iptablesRulesTotal, this.iptablesRulesLast]
        : mode === 'nftables'
          ? [this.nftablesSyncFailures, this.nftablesCleanupFailures]
          : mode === 'userspace'
            ? [this.endpointConnections, this.endpointConnectionsTotal]
            : [];
    this.all = [...common, ...byMode].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** called before each scrape (values read from elsewhere are set then) */
  beforeExpose?: () => void;

  /** The /metrics body. */
  expose(): string {
    this.beforeExpose?.();
    return this.all.map((m) => m.expose()).join('');
  }

  listen(host: string, port: number, log: (s: string) => void, extra: Record<string, (query: URLSearchParams) => string> = {}): http.Server {
    return serveMetrics(() => this.expose(), host, port, log, extra);
  }
}
