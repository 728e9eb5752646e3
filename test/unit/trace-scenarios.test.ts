// The trace on deliberately broken clusters, offline: each must end in the right verdict at the
// right hop, naming the rule or object that decided — in iptables and nftables modes.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { NetworkPolicy } from '../../src/api/types.ts';
import { podChainName, tableFamily, tableName } from '../../src/netpol/rules.ts';
import { readTraceState, traceObjects } from '../../src/trace/offline.ts';
import { ClusterIndex, type ClusterObjects } from '../../src/trace/cluster.ts';
import { ObjectFinder } from '../../src/trace/objects.ts';
import { labPlan } from './trace-helpers.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const seed = (n: string): ClusterObjects => readTraceState([path.join(repoRoot, `examples/trace/${n}.yaml`)]);
const modes = ['iptables', 'nftables'] as const;

/** Seed 001 with api-service's selector misspelt: the EndpointSlice controller lists no endpoint. */
function wrongSelector(): ClusterObjects {
  const o = seed('seed-001');
  const svc = o.services.find((s) => s.metadata.name === 'api-service')!;
  svc.spec.selector = { app: 'apl' };
  o.slices.find((s) => s.metadata.name === 'api-service-x7k2p')!.endpoints = [];
  return o;
}

describe('trace: broken scenarios', () => {
  for (const mode of modes) {
    it(`${mode}: a Service without endpoints (wrong selector) is rejected, by the rule that says so`, () => {
      const t = traceObjects(wrongSelector(), labPlan, mode, { from: 'pod/default/curl', to: 'svc/default/api-service' });
      assert.equal(t.verdict, 'rejected');
      const last = t.hops.at(-1)!;
      assert.equal(last.kind, 'netfilter');
      assert.match(last.rule!.action!, /reject/i);
      assert.deepEqual(last.object, { kind: 'Service', namespace: 'default', name: 'api-service' });
      if (mode === 'iptables') {
        assert.equal(last.rule!.table, 'filter');
        assert.match(last.rule!.text, /"default\/api-service has no endpoints".*-j REJECT/);
      } else assert.equal(last.rule!.chain, 'reject-chain');
      assert.match(t.reason, /rejected at node minikube/);
      assert.equal(t.endpoint, undefined);
    });

    it(`${mode}: the NodePort of a Service without endpoints is rejected too`, () => {
      const t = traceObjects(wrongSelector(), labPlan, mode, { from: 'client', to: '192.168.49.2:30080' });
      assert.equal(t.verdict, 'rejected');
      assert.deepEqual(t.hops.at(-1)!.object, { kind: 'Service', namespace: 'default', name: 'api-service' });
    });

    it(`${mode}: NetworkPolicy default deny drops the packet at the destination, naming the policy`, () => {
      const o = seed('seed-001');
      const deny: NetworkPolicy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } } as NetworkPolicy;
      o.policies.push(deny);
      const t = traceObjects(o, labPlan, mode, { from: 'client', to: 'http://192.168.49.2:30080/' });
      assert.equal(t.verdict, 'dropped');
      const last = t.hops.at(-1)!;
      assert.equal(last.kind, 'netpol');
      assert.deepEqual(last.object, { kind: 'NetworkPolicy', namespace: 'default', name: 'default-deny' });
      assert.match(t.reason, /isolated for ingress by default\/default-deny .*default deny/);
      assert.ok(!t.hops.some((h) => h.kind === 'deliver'));
    });

    it(`${mode}: under default deny the node's own connection to its pod is still delivered (it leaves by output, not forward)`, () => {
      const o = seed('seed-001');
      o.policies.push({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } } as NetworkPolicy);
      const t = traceObjects(o, labPlan, mode, { from: 'node/minikube', to: 'svc/default/api-service' });
      assert.equal(t.verdict, 'delivered', t.reason);
      const np = t.hops.find((h) => h.kind === 'netpol')!;
      assert.equal(np.hook, 'output');
      assert.deepEqual(np.object, { kind: 'NetworkPolicy', namespace: 'default', name: 'default-deny' });
      assert.match(np.note, /node minikube's own: it leaves by the output hook, not forward/);
      assert.ok(t.hops.some((h) => h.kind === 'deliver'));
    });

    it(`${mode}: an Ingress whose backend Service is missing gets 503 from the ingress hop`, () => {
      const o = seed('seed-000');
      const ing = o.ingresses[0]!;
      ing.spec!.rules![0]!.http!.paths[0]!.backend.service!.name = 'app-svc';
      const t = traceObjects(o, labPlan, mode, { from: 'client', to: 'https://app.example.com/' });
      assert.equal(t.verdict, 'rejected');
      const hop = t.hops.find((h) => h.kind === 'ingress')!;
      assert.deepEqual(hop.object, { kind: 'Ingress', namespace: 'default', name: 'my-ingress' });
      assert.match(hop.note, /nginx answers 503/);
      assert.match(t.reason, /answers 503/);
      // the client still gets nginx's answer back through the conntrack entry
      assert.equal(t.hops.at(-1)!.kind, 'reply');
    });

    it(`${mode}: a request nginx sends on over a connection it holds open meets no nat chain on the way onward, as an established connection's packets do`, () => {
      const req = { from: 'client', to: 'https://app.example.com/' };
      const onward = (t: ReturnType<typeof traceObjects>) => t.hops.slice(t.hops.findIndex((h) => h.kind === 'ingress') + 1, t.hops.findIndex((h) => h.kind === 'reply'));
      const rules = (t: ReturnType<typeof traceObjects>) => onward(t).flatMap((h) => (h.rule ? [`${h.node} ${h.rule.chain}`] : []));
      const fresh = traceObjects(seed('seed-000'), labPlan, mode, req);
      const open = traceObjects(seed('seed-000'), labPlan, mode, { ...req, onwardOpen: true });
      assert.deepEqual([open.verdict, open.endpoint], [fresh.verdict, fresh.endpoint]);
      // a new connection walks the nat table's postrouting on both nodes; an open one does not
      assert.ok(rules(fresh).some((r) => /POSTROUTING|nat-postrouting/.test(r)), rules(fresh).join('\n'));
      assert.deepEqual(rules(open), mode === 'iptables' ? ['podpath-m02 FORWARD', 'podpath-m02 KUBE-FORWARD', 'podpath FORWARD', 'podpath KUBE-FORWARD'] : []);
      if (mode === 'iptables') assert.match(onward(open).find((h) => h.rule?.chain === 'KUBE-FORWARD')!.rule!.text, /--ctstate RELATED,ESTABLISHED -j ACCEPT/);
      assert.match(open.hops.find((h) => h.kind === 'ingress')!.note, /over a connection it holds open already/);
      assert.ok(!onward(open).some((h) => h.kind === 'conntrack'), 'no new conntrack entry');
    });

    it(`${mode}: a Gateway's HTTPRoute: the lab's DNS publishes its hostname, the Gateway hop picks the rule and an app pod`, () => {
      const o = readTraceState([path.join(repoRoot, 'examples/trace/seed-000.yaml'), path.join(repoRoot, 'examples/trace/gateway.yaml')]);
      const t = traceObjects(o, labPlan, mode, { from: 'client', to: 'http://gw.example.com/api/v1/hello' });
      assert.equal(t.verdict, 'delivered', t.reason);
      assert.deepEqual(t.hops.find((h) => h.kind === 'resolve')!.object, { kind: 'HTTPRoute', namespace: 'default', name: 'app' });
      const hop = t.hops.find((h) => h.kind === 'gateway')!;
      assert.equal(hop.namespace, 'pod/podpath-gateway/podpath-gateway-7667b86c7f-x2k9p');
      assert.deepEqual(hop.object, { kind: 'HTTPRoute', namespace: 'default', name: 'app' });
      assert.match(hop.note, /Gateway default\/web listener http \(port 80\); HTTPRoute default\/app rule 0 \(PathPrefix \/api; hostname gw\.example\.com\)/);
      assert.match(hop.note, /upstream default-app-service-80 → /);
      assert.equal(hop.packet.after.src, '10.244.1.9');
      assert.match(t.endpoint!.pod, /^default\/app-/);
      // a path no rule takes: the Gateway answers 404
      const miss = traceObjects(o, labPlan, mode, { from: 'client', to: 'http://gw.example.com/other' });
      assert.equal(miss.verdict, 'rejected');
      assert.match(miss.reason, /Gateway controller podpath-gateway\/\S+ answers 404: no rule/);
      assert.deepEqual(hop.gateway, { gateway: 'default/web', listener: 'http', port: 80 });
      assert.match(hop.note, /nginx's port 20000 is port 80 of Gateway default\/web's own Service/);
      // the pod's spec lists no port per Gateway listener: the delivery says which Gateway's port it is
      const into = t.hops.find((h) => h.kind === 'deliver' && h.namespace === hop.namespace)!;
      assert.match(into.note, /the Gateway controller's nginx listens on 20000\/TCP for port 80 of Gateway default\/web/);

      // a second Gateway with its own Service (port 80 → nginx's 20001) and address: the hop is its, by the port nginx was reached on
      const two = readTraceState([path.join(repoRoot, 'examples/trace/seed-000.yaml'), path.join(repoRoot, 'examples/trace/gateway.yaml')]);
      const web = two.gateways!.find((g) => g.metadata.name === 'web')!;
      two.gateways!.push({ ...web, metadata: { ...web.metadata, name: 'other', uid: 'u-other' }, status: { addresses: [{ type: 'IPAddress', value: '192.168.49.202' }] } } as typeof web);
      const app = two.httpRoutes!.find((r) => r.metadata.name === 'app')!;
      two.httpRoutes!.push({ ...app, metadata: { ...app.metadata, name: 'only-other' }, spec: { ...app.spec, parentRefs: [{ name: 'other' }], hostnames: ['other.example.com'] } });
      const svc = two.services.find((x) => x.metadata.name === 'web-podpath')!;
      const es = two.slices.find((x) => x.metadata.name === 'web-podpath')!;
      const relabel = { 'gateway.networking.k8s.io/gateway-name': 'other' };
      two.services.push({ ...svc, metadata: { ...svc.metadata, name: 'other-podpath', labels: { ...svc.metadata.labels, ...relabel } }, spec: { ...svc.spec, clusterIP: '10.96.200.21', clusterIPs: ['10.96.200.21'], healthCheckNodePort: 32147, ports: [{ name: 'port-80', port: 80, protocol: 'TCP', targetPort: 20001, nodePort: 31590 }] }, status: { loadBalancer: { ingress: [{ ip: '192.168.49.202' }] } } });
      two.slices.push({ ...es, metadata: { ...es.metadata, name: 'other-podpath', labels: { ...es.metadata.labels, ...relabel, 'kubernetes.io/service-name': 'other-podpath' } }, ports: [{ name: 'port-80', port: 20001, protocol: 'TCP' }] });
      const t2 = traceObjects(two, labPlan, mode, { from: 'client', to: 'http://other.example.com/api/x' });
      assert.equal(t2.verdict, 'delivered', t2.reason);
      const hop2 = t2.hops.find((h) => h.kind === 'gateway')!;
      assert.deepEqual(hop2.gateway, { gateway: 'default/other', listener: 'http', port: 80 });
      assert.equal(hop2.packet.before.dstPort, 20001);
      assert.match(t2.hops.find((h) => h.kind === 'deliver' && h.namespace === hop2.namespace)!.note, /listens on 20001\/TCP for port 80 of Gateway default\/other/);
      assert.deepEqual(traceObjects(two, labPlan, mode, { from: 'client', to: 'http://gw.example.com/api/x' }).hops.find((h) => h.kind === 'gateway')!.gateway!.gateway, 'default/web');
    });

    it(`${mode}: externalTrafficPolicy Local reached on a node without a local endpoint is dropped`, () => {
      // the controller runs on podpath-m02; podpath (192.168.49.2) has none of its endpoints
      const t = traceObjects(seed('seed-000'), labPlan, mode, { from: 'client', to: '192.168.49.2:31443' });
      assert.equal(t.verdict, 'dropped');
      const last = t.hops.at(-1)!;
      assert.equal(last.node, 'podpath');
      assert.match(last.rule!.action!, /drop/i);
      assert.deepEqual(last.object, { kind: 'Service', namespace: 'ingress-nginx', name: 'ingress-nginx-controller' });
      if (mode === 'iptables') assert.match(last.rule!.text, /has no local endpoints.*-j DROP/);
      else assert.match(last.rule!.action!, /no-endpoint-nodeports/);
    });

    it(`${mode}: the same NodePort on the node with the endpoint is delivered, without SNAT`, () => {
      const t = traceObjects(seed('seed-000'), labPlan, mode, { from: 'client', to: '192.168.49.3:31443' });
      assert.equal(t.verdict, 'delivered');
      assert.deepEqual(t.endpoint, { pod: 'ingress-nginx/ingress-nginx-controller-5b8d9c7f4-mx2lp', ip: '10.244.1.3', port: 443 });
      // the pod sees the client's own address
      assert.equal(t.hops.find((h) => h.kind === 'deliver')!.packet.after.src, '192.168.49.100');
    });
  }

  it('a name no one publishes does not resolve from the client', () => {
    const t = traceObjects(seed('seed-000'), labPlan, 'iptables', { from: 'client', to: 'http://nowhere.example.com/' });
    assert.equal(t.verdict, 'dropped');
    assert.equal(t.hops.length, 1);
    assert.equal(t.hops[0]!.kind, 'resolve');
    assert.match(t.hops[0]!.note, /REFUSED/);
  });

  it("a pod's short name is tried along its search path (ndots:5) and answered by the Service", () => {
    const t = traceObjects(seed('seed-001'), labPlan, 'iptables', { from: 'pod/default/curl', to: 'api-service.default:8080', prefer: ['default/api-server-6d4cf56db6-q9m4t'] });
    const r = t.hops[0]!;
    assert.match(r.note, /api-service\.default\.default\.svc\.cluster\.local → NXDOMAIN, api-service\.default\.svc\.cluster\.local → A 10\.96\.123\.45/);
    assert.deepEqual(r.object, { kind: 'Service', namespace: 'default', name: 'api-service' });
    assert.equal(t.verdict, 'delivered');
    // the preferred endpoint is followed, every candidate listed with its share
    assert.equal(t.endpoint!.pod, 'default/api-server-6d4cf56db6-q9m4t');
    assert.deepEqual(t.candidates.map((c) => [c.ip, c.probability, c.chosen]), [['10.244.0.5', 0.5, false], ['10.244.0.6', 0.5, true]]);
    // pod to ClusterIP from inside the cluster CIDR: no masquerade, the pod sees the client pod
    assert.equal(t.endpoint!.ip, '10.244.0.6');
    assert.equal(t.hops.find((h) => h.kind === 'deliver')!.packet.after.src, '10.244.0.7');
  });

  it('a pod reaches a pod on another node over the host-gw route, and over VXLAN', () => {
    const o = seed('seed-000');
    const t = traceObjects(o, labPlan, 'iptables', { from: 'pod/default/app-7c9d8f6b5-2xw9k', to: '10.244.1.5:8080' });
    assert.equal(t.verdict, 'delivered');
    assert.ok(t.hops.some((h) => h.kind === 'route' && h.note.startsWith('10.244.1.0/24 via 192.168.49.3 dev eth0')));
    const v = traceObjects(o, { ...labPlan, cniBackend: 'vxlan' }, 'iptables', { from: 'pod/default/app-7c9d8f6b5-2xw9k', to: '10.244.1.5:8080' });
    assert.ok(v.hops.some((h) => h.note.startsWith('VXLAN: encapsulated in UDP 192.168.49.2 → 192.168.49.3:8472')));
  });
});

describe('the object behind a kernel rule', () => {
  it("names the NetworkPolicy isolating a pod for a rule in that pod's chain of podpath's policy table, not a Service", () => {
    const o = seed('seed-001');
    const deny: NetworkPolicy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'api-deny-all', namespace: 'default' }, spec: { podSelector: { matchLabels: { app: 'api' } }, policyTypes: ['Ingress'] } };
    const finder = new ObjectFinder(new ClusterIndex({ ...o, policies: [deny] }, labPlan));
    const pkt = { protocol: 'tcp' as const, src: '10.244.0.1', srcPort: 40000, dst: '10.244.0.5', dstPort: 8080 };
    const hit = (table: string, chain: string) => ({ table, chain, text: 'counter packets 1 bytes 60 drop', action: 'drop', detail: 'drop', comment: 'default/api-server-6d4cf56db6-7xk2p ingress', pkt });
    const chain = podChainName('Ingress', 'default/api-server-6d4cf56db6-7xk2p');
    assert.deepEqual(finder.of(hit(`${tableFamily} ${tableName}`, chain)), { kind: 'NetworkPolicy', namespace: 'default', name: 'api-deny-all' });
    // the pod's egress is not isolated: no policy stands behind a chain of that name
    assert.equal(finder.of({ ...hit(`${tableFamily} ${tableName}`, podChainName('Egress', 'default/api-server-6d4cf56db6-7xk2p')), comment: undefined }), undefined);
    // the same chain name in another table is not the policy table's
    assert.notDeepEqual(finder.of(hit('ip filter', chain)), { kind: 'NetworkPolicy', namespace: 'default', name: 'api-deny-all' });
  });
});
