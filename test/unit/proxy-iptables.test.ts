// kube-proxy's iptables mode as a pure function, checked against upstream's documented names,
// rule text and order (chain hashes and rule examples from upstream's proxier tests).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { EndpointSlice, Service } from '../../src/api/types.ts';
import { chainsOf, parseDump, serializeDump } from '../../src/iptables/index.ts';
import { deleteChains, portProtoHash, renderIptables, staleChains } from '../../src/proxy/iptables/render.ts';
import type { ProxyFlags } from '../../src/proxy/config.ts';
import { servicePorts } from '../../src/proxy/model.ts';
import { readState, render } from '../../src/proxy/app/render.ts';
import { sortIptables } from '../helpers/iptables-sort.ts';
import { proxyHealthBody, rfc3339Nano, serviceHealthBody } from '../../src/proxy/healthcheck.ts';
import { repoRoot } from '../helpers/apiserver.ts';

const svc = (ns: string, name: string, spec: Record<string, unknown>): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name }, spec }) as unknown as Service;
const slice = (ns: string, svcName: string, port: { name?: string; port: number }, eps: { ip: string; node?: string; ready?: boolean; serving?: boolean; terminating?: boolean }[]): EndpointSlice =>
  ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name: `${svcName}-abc`, labels: { 'kubernetes.io/service-name': svcName } },
    addressType: 'IPv4',
    ports: [{ name: port.name ?? '', port: port.port, protocol: 'TCP' }],
    endpoints: eps.map((e) => ({ addresses: [e.ip], nodeName: e.node, conditions: { ready: e.ready ?? true, serving: e.serving ?? true, terminating: e.terminating ?? false } })),
  }) as unknown as EndpointSlice;
const lines = (text: string) => text.split('\n');
/** The iptables-restore input of a render. */
const restoreText = (...args: Parameters<typeof renderIptables>) => serializeDump(renderIptables(...args).tables, 'restore');
const flags: ProxyFlags = { masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: true, nodePortAddresses: [] };

describe('iptables proxier rules', () => {
  it('hashes chain names as upstream', () => {
    assert.equal(portProtoHash('ns1/svc1:p80tcp'), 'XPGD46QRK7WJZT7O');
    assert.equal(portProtoHash('ns1/svc1:p80tcp10.180.0.1:80'), 'SXIVWICOYRO3J4NJ');
    assert.equal(portProtoHash('ns5/svc5:p80tcp'), 'NUKIZ6OKUXPJNT4C');
    assert.equal(portProtoHash('ns5/svc5:p80tcp10.180.0.3:80'), 'I77PXRDZVX7PMWMN');
    assert.equal(portProtoHash('ns4/svc4:p80tcp'), '4SW47YFZTEDKD3PK');
  });

  it('writes exactly upstream\'s rules for upstream\'s overall test case, after its canonical sort', () => {
    const st = readState([path.join(repoRoot, 'test/fixtures/proxy-overall-state.yaml')]);
    const text = restoreText(servicePorts(st.services, st.slices, 'test-node'), { clusterCIDR: '10.0.0.0/8', nfacctCounters: true });
    const golden = fs.readFileSync(path.join(repoRoot, 'test/golden/proxy-iptables-upstream-overall.txt'), 'utf8');
    assert.equal(sortIptables(text), sortIptables(golden));
  });

  it('renders seed 001 (a NodePort Service with two endpoints) exactly as the golden file', () => {
    const text = render([path.join(repoRoot, 'examples/proxy/seed-001-state.yaml')], { mode: 'iptables', nodeName: 'minikube', config: { ...flags, clusterCIDR: '10.244.0.0/16' } });
    assert.equal(text, fs.readFileSync(path.join(repoRoot, 'test/golden/proxy-iptables-seed-001.txt'), 'utf8'));
  });

  it('writes ClientIP affinity with recent, as upstream\'s ns5/svc5 example', () => {
    const out = lines(
      restoreText(servicePorts([svc('ns5', 'svc5', { clusterIP: '172.30.0.45', ports: [{ name: 'p80', port: 80 }], sessionAffinity: 'ClientIP' })], [slice('ns5', 'svc5', { name: 'p80', port: 80 }, [{ ip: '10.180.0.3' }])], 'node1')),
    );
    assert.ok(out.includes('-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --rcheck --seconds 10800 --reap -j KUBE-SEP-I77PXRDZVX7PMWMN'));
    assert.ok(out.includes('-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80'));
  });

  it('spreads over n endpoints with 1/(n-i) probabilities written to 10 decimals', () => {
    const eps = ['10.180.0.1', '10.180.0.2', '10.180.0.3', '10.180.0.4'].map((ip) => ({ ip }));
    const out = lines(restoreText(servicePorts([svc('ns4', 'svc4', { clusterIP: '172.30.0.44', ports: [{ name: 'p80', port: 80 }] })], [slice('ns4', 'svc4', { name: 'p80', port: 80 }, eps)], 'n'))).filter((l) => l.startsWith('-A KUBE-SVC-4SW47YFZTEDKD3PK'));
    assert.deepEqual(
      out.map((l) => /--probability (\S+)/.exec(l)?.[1] ?? 'last'),
      ['0.2500000000', '0.3333333333', '0.5000000000', 'last'],
    );
  });

  it('rejects traffic to a Service without endpoints, and drops External traffic with no local endpoint', () => {
    const none = restoreText(servicePorts([svc('ns1', 'empty', { clusterIP: '172.30.0.41', ports: [{ port: 80 }] })], [], 'n'));
    assert.ok(lines(none).includes('-A KUBE-SERVICES -m comment --comment "ns1/empty has no endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT'));
    assert.ok(!none.includes('KUBE-SVC-'), 'no service chain without endpoints');
    const local = restoreText(
      servicePorts([svc('ns1', 'loc', { type: 'NodePort', clusterIP: '172.30.0.42', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30001 }] })], [slice('ns1', 'loc', { port: 80 }, [{ ip: '10.180.0.9', node: 'other' }])], 'n'),
      { clusterCIDR: '10.0.0.0/8' },
    );
    assert.ok(lines(local).includes('-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/loc has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30001 -j DROP'));
    assert.ok(lines(local).some((l) => l.startsWith('-A KUBE-EXT-') && l.includes('"pod traffic for ns1/loc external destinations" -s 10.0.0.0/8 -j KUBE-SVC-')));
  });

  it('uses serving terminating endpoints only when no endpoint is ready', () => {
    const ports = servicePorts([svc('ns1', 's', { clusterIP: '172.30.0.43', ports: [{ port: 80 }] })], [slice('ns1', 's', { port: 80 }, [{ ip: '10.1.0.1', ready: false, serving: true, terminating: true }])], 'n');
    assert.ok(restoreText(ports).includes('--to-destination 10.1.0.1:80'));
  });

  it('drops per-endpoint comments above 1000 endpoints', () => {
    const eps = Array.from({ length: 1001 }, (_, i) => ({ ip: `10.2.${Math.floor(i / 250)}.${(i % 250) + 1}` }));
    const text = restoreText(servicePorts([svc('ns1', 'big', { clusterIP: '172.30.0.50', ports: [{ port: 80 }] })], [slice('ns1', 'big', { port: 80 }, eps)], 'n'));
    assert.ok(!/-A KUBE-SEP-\S+ -m comment/.test(text));
    assert.ok(!/-A KUBE-SVC-\S+ -m comment --comment "ns1\/big ->/.test(text));
  });

  it('deletes stale per-service chains found in iptables-save', () => {
    const save = '# Generated by iptables-save\n*filter\n:KUBE-SVC-FILTERFILTERFILT - [0:0]\nCOMMIT\n*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n:KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]\n:KUBE-SVC-KEEPKEEPKEEPKEEP - [0:0]\n-A KUBE-SERVICES -j KUBE-SVC-KEEPKEEPKEEPKEEP\n:KUBE-SVC-AFTERRULESAFTERR - [0:0]\nCOMMIT\n';
    // Only the nat table's declarations count, as upstream's GetChainsFromTable reads them.
    assert.deepEqual(chainsOf(save, 'nat'), parseDump(save.replace(':KUBE-SVC-AFTERRULESAFTERR - [0:0]\n', ''))[1]!.chains.map((c) => c.name));
    const stale = staleChains(chainsOf(save, 'nat'), new Set(['KUBE-SVC-KEEPKEEPKEEPKEEP']));
    assert.deepEqual(stale, ['KUBE-SVC-AAAAAAAAAAAAAAAA', 'KUBE-SEP-BBBBBBBBBBBBBBBB']);
    // In the sync's own nat table, as upstream writes them: declared with the other chains, deleted after the rules.
    const [, nat] = renderIptables([]).tables;
    deleteChains(nat, stale);
    const text = serializeDump([nat], 'restore');
    assert.match(text, /^:KUBE-MARK-MASQ - \[0:0\]\n:KUBE-SVC-AAAAAAAAAAAAAAAA - \[0:0\]\n:KUBE-SEP-BBBBBBBBBBBBBBBB - \[0:0\]\n-A KUBE-POSTROUTING /m);
    assert.match(text, /\n-A KUBE-SERVICES [^\n]*-j KUBE-NODEPORTS\n-X KUBE-SVC-AAAAAAAAAAAAAAAA\n-X KUBE-SEP-BBBBBBBBBBBBBBBB\nCOMMIT\n$/);
  });

  it('refuses a state file with other kinds, naming the document', () => {
    const f = path.join(repoRoot, 'examples/seed-001/api-server.yaml');
    assert.throws(() => render([f], { mode: 'iptables', nodeName: 'n', config: flags }), (e: Error & { code?: string }) => e.code === 'BadState' && /document 1: expected v1 Service, discovery\.k8s\.io\/v1 EndpointSlice or v1 Node, got apps\/v1 Deployment/.test(e.message));
    assert.throws(() => render([f], { mode: 'bpf', nodeName: 'n', config: flags }), (e: Error & { code?: string }) => e.code === 'UnsupportedMode' && /--mode bpf: expected one of iptables, nftables, userspace, ipvs/.test(e.message));
    const state = path.join(repoRoot, 'examples/proxy/seed-001-state.yaml');
    assert.throws(() => render([state], { mode: 'nftables', nodeName: 'n', config: flags }), (e: Error & { code?: string }) => e.code === 'BadFlags' && /--node-ip is needed/.test(e.message));
    assert.throws(() => render([state], { mode: 'iptables', nodeName: 'n', config: { ...flags, nodePortAddresses: ['10.0.0.300/8'] } }), (e: Error & { code?: string }) => e.code === 'BadFlags' && /--nodeport-addresses: "10\.0\.0\.300\/8"/.test(e.message));
  });

  it('answers health checks with upstream\'s body (127 bytes for default/wp-nginx-service)', () => {
    const body = serviceHealthBody('default', 'wp-nginx-service', 1, true);
    assert.equal(Buffer.byteLength(body), 127);
    assert.equal(body, '{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "wp-nginx-service"\n\t},\n\t"localEndpoints": 1,\n\t"serviceProxyHealthy": true\n}');
  });

  it('answers /healthz and /livez as upstream\'s ProxyHealth', () => {
    const now = new Date('2026-11-23T18:00:00.123Z');
    const last = new Date('2026-11-23T17:00:00Z');
    assert.equal(rfc3339Nano(new Date('2026-11-23T17:00:00.500Z')), '2026-11-23T17:00:00.5Z');
    assert.equal(proxyHealthBody('/healthz', now, last, true), '{"lastUpdated":"2026-11-23T18:00:00.123Z","currentTime":"2026-11-23T18:00:00.123Z","nodeEligible":true,"healthy":true,"status":{"IPv4":{"lastUpdated":"2026-11-23T18:00:00.123Z","healthy":true}}}');
    assert.equal(proxyHealthBody('/healthz', now, last, true, false), '{"lastUpdated":"2026-11-23T18:00:00.123Z","currentTime":"2026-11-23T18:00:00.123Z","nodeEligible":false,"healthy":true,"status":{"IPv4":{"lastUpdated":"2026-11-23T18:00:00.123Z","healthy":true}}}');
    assert.equal(proxyHealthBody('/livez', now, last, false), '{"lastUpdated":"2026-11-23T17:00:00Z","currentTime":"2026-11-23T18:00:00.123Z","healthy":false,"status":{"IPv4":{"lastUpdated":"2026-11-23T17:00:00Z","healthy":false}}}');
  });
});
