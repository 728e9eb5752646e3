// kube-proxy's supporting pieces as pure functions: which addresses NodePorts answer on, the
// stale UDP conntrack entries to delete, and the Prometheus text of the metrics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EndpointSlice, Service } from '../../src/api/types.ts';
import { nodePortIPs } from '../../src/proxy/config.ts';
import { parseConntrack, staleConntrackDeletes } from '../../src/proxy/conntrack.ts';
import { ProxyMetrics } from '../../src/proxy/metrics.ts';
import { servicePorts } from '../../src/proxy/model.ts';

describe('kube-proxy support', () => {
  it('resolves --nodeport-addresses as upstream: all addresses, primary, or the local ones inside CIDRs', () => {
    const local = ['127.0.0.1', '192.168.49.2', '10.244.0.1'];
    assert.equal(nodePortIPs('iptables', [], '192.168.49.2', local, true), undefined, 'iptables default: every local address');
    assert.deepEqual(nodePortIPs('nftables', [], '192.168.49.2', local, true), ['192.168.49.2'], 'nftables default: the primary IP');
    assert.deepEqual(nodePortIPs('iptables', ['192.168.49.0/24', '127.0.0.0/8'], undefined, local, true), ['192.168.49.2', '127.0.0.1']);
    assert.deepEqual(nodePortIPs('nftables', ['192.168.49.0/24', '127.0.0.0/8'], undefined, local, true), ['192.168.49.2'], 'no localhost NodePorts in nftables mode');
    assert.equal(nodePortIPs('nftables', ['0.0.0.0/0'], '192.168.49.2', local, true), undefined);
  });

  it('finds the UDP flows whose reply comes from an address that is no longer a serving endpoint', () => {
    const listing = [
      'udp      17 29 src=192.168.49.2 dst=10.96.0.10 sport=40053 dport=53 src=10.244.0.4 dst=10.244.0.1 sport=5300 dport=64678 mark=0 use=1',
      'udp      17 29 src=192.168.49.2 dst=10.96.0.10 sport=40054 dport=53 src=10.244.0.5 dst=10.244.0.1 sport=5300 dport=64679 mark=0 use=1',
      'udp      17 25 src=192.168.49.100 dst=192.168.49.2 sport=5000 dport=30053 src=10.244.0.4 dst=192.168.49.2 sport=5300 dport=5000 mark=0 use=1',
      'udp      17 25 src=192.168.49.100 dst=192.168.49.2 sport=5001 dport=9999 src=192.168.49.2 dst=192.168.49.100 sport=9999 dport=5001 mark=0 use=1',
      'tcp      6 431999 ESTABLISHED src=10.244.0.2 dst=10.96.0.10 sport=1 dport=53 src=10.244.0.4 dst=10.244.0.2 sport=5300 dport=1 [ASSURED] mark=0 use=1',
      'conntrack v1.4.7 (conntrack-tools): 5 flow entries have been shown.',
    ].join('\n');
    const entries = parseConntrack(listing);
    assert.equal(entries.length, 4, 'UDP lines only');
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'kube-system', name: 'dns' }, spec: { type: 'NodePort', clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }] } } as unknown as Service;
    const slice = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { namespace: 'kube-system', name: 'dns-1', labels: { 'kubernetes.io/service-name': 'dns' } }, addressType: 'IPv4', ports: [{ name: 'dns', port: 5300, protocol: 'UDP' }], endpoints: [{ addresses: ['10.244.0.5'] }] } as unknown as EndpointSlice;
    const deletes = staleConntrackDeletes(entries, servicePorts([svc], [slice], 'n'));
    assert.deepEqual(deletes, [
      ['--orig-dst', '10.96.0.10', '--orig-port-dst', '53', '--reply-src', '10.244.0.4'],
      ['--orig-port-dst', '30053', '--reply-src', '10.244.0.4'],
    ]);
  });

  it('exposes upstream\'s metric names with [ALPHA] help texts and histogram buckets', () => {
    const m = new ProxyMetrics('nftables');
    m.syncDuration.observe(0.003);
    m.healthzTotal.inc(1, { code: '200' });
    const text = m.expose();
    assert.match(text, /^# HELP kubeproxy_sync_proxy_rules_duration_seconds \[ALPHA\] SyncProxyRules latency in seconds\n# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram\nkubeproxy_sync_proxy_rules_duration_seconds_bucket\{le="0\.001"\} 0\nkubeproxy_sync_proxy_rules_duration_seconds_bucket\{le="0\.002"\} 0\nkubeproxy_sync_proxy_rules_duration_seconds_bucket\{le="0\.004"\} 1\n/m);
    assert.match(text, /^kubeproxy_sync_proxy_rules_duration_seconds_bucket\{le="16\.384"\} 1\nkubeproxy_sync_proxy_rules_duration_seconds_bucket\{le="\+Inf"\} 1\nkubeproxy_sync_proxy_rules_duration_seconds_sum 0\.003\nkubeproxy_sync_proxy_rules_duration_seconds_count 1$/m);
    assert.match(text, /^kubeproxy_proxy_healthz_total\{code="200"\} 1$/m);
    assert.match(text, /^kubeproxy_sync_proxy_rules_nftables_sync_failures_total 0$/m);
    assert.doesNotMatch(text, /iptables_restore_failures/, 'iptables metrics are registered in iptables mode only');
    assert.doesNotMatch(text, /^kubeproxy_sync_proxy_rules_no_local_endpoints_total /m, 'a labelled gauge appears once it has a value');
  });
});
