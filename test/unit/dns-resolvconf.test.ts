// A pod's resolv.conf by dnsPolicy, as the kubelet writes it (pkg/kubelet/network/dns).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { podResolvConf } from '../../src/agent/dns.ts';
import type { Pod, PodSpec } from '../../src/api/types.ts';

const host = 'nameserver 192.168.49.1\nnameserver 192.168.49.254\nsearch corp.example\noptions timeout:2\n';
const inputs = { clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local', hostResolvConf: host };
const pod = (spec: Partial<PodSpec>, ns = 'default'): Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: ns, uid: 'u1' }, spec: { containers: [{ name: 'c' }], ...spec } });

test('resolv.conf: ClusterFirst (also when unset) is the cluster DNS, the namespace search path plus the node\'s, ndots:5', () => {
  const want = 'nameserver 10.96.0.10\nsearch prod.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n';
  assert.equal(podResolvConf(pod({ dnsPolicy: 'ClusterFirst' }, 'prod'), inputs).text, want);
  assert.equal(podResolvConf(pod({}, 'prod'), inputs).text, want);
  assert.equal(
    podResolvConf(pod({}), { ...inputs, hostResolvConf: 'nameserver 192.168.49.1\n' }).text,
    'nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n',
  );
});

test('resolv.conf: Default copies the node\'s; ClusterFirst on hostNetwork falls back to it; ClusterFirstWithHostNet does not', () => {
  const node = 'nameserver 192.168.49.1\nnameserver 192.168.49.254\nsearch corp.example\noptions timeout:2\n';
  assert.equal(podResolvConf(pod({ dnsPolicy: 'Default' }), inputs).text, node);
  assert.equal(podResolvConf(pod({ dnsPolicy: 'ClusterFirst', hostNetwork: true }), inputs).text, node);
  assert.match(podResolvConf(pod({ dnsPolicy: 'ClusterFirstWithHostNet', hostNetwork: true }), inputs).text, /^nameserver 10\.96\.0\.10\nsearch default\.svc\.cluster\.local /);
  // No cluster DNS configured: ClusterFirst falls back to Default, with MissingClusterDNS.
  const r = podResolvConf(pod({}), { ...inputs, clusterDNS: [] });
  assert.equal(r.text, node);
  assert.deepEqual(r.warnings.map((w) => w.reason), ['MissingClusterDNS']);
});

test('resolv.conf: None is dnsConfig alone (the documentation\'s example)', () => {
  const r = podResolvConf(pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['192.0.2.1'], searches: ['ns1.svc.cluster-domain.example', 'my.dns.search.suffix'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] } }), inputs);
  assert.equal(r.text, 'nameserver 192.0.2.1\nsearch ns1.svc.cluster-domain.example my.dns.search.suffix\noptions ndots:2 edns0\n');
});

test('resolv.conf: dnsConfig merges into ClusterFirst — appended, de-duplicated, options overridden by name; limits', () => {
  const r = podResolvConf(pod({ dnsConfig: { nameservers: ['10.96.0.10', '1.1.1.1'], searches: ['cluster.local', 'extra.example'], options: [{ name: 'ndots', value: '2' }, { name: 'single-request-reopen' }] } }), inputs);
  assert.equal(r.text, 'nameserver 10.96.0.10\nnameserver 1.1.1.1\nsearch default.svc.cluster.local svc.cluster.local cluster.local corp.example extra.example\noptions ndots:2 single-request-reopen\n');
  const many = podResolvConf(pod({ dnsConfig: { nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3'], searches: Array.from({ length: 40 }, (_, i) => `d${i}.example`) } }), inputs);
  assert.equal(many.text.split('\n').filter((l) => l.startsWith('nameserver')).length, 3);
  assert.equal(many.text.split('\n').find((l) => l.startsWith('search'))!.split(' ').length - 1, 32);
  assert.deepEqual(many.warnings.map((w) => w.reason), ['DNSConfigForming', 'DNSConfigForming']);
  const long = podResolvConf(pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1'], searches: ['a'.repeat(254), 'ok.example'] } }), inputs);
  assert.match(long.text, /^search ok\.example$/m);
});
