// podpath ui's server side without a browser: the topology and rule trees computed from the
// trace's objects, the --listen flag, and the server — the token on every request, traces
// byte for byte as `podpath trace -o json` renders them, diagnoses as `podpath diagnose -o json`
// does, Observe refused without a lab and while one runs (close waiting for it), and a change
// pushed to the page.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { diagnosisJSON } from '../../src/diagnose/json.ts';
import { parseDump } from '../../src/iptables/index.ts';
import type { ClusterObjects } from '../../src/trace/cluster.ts';
import { traceJSON } from '../../src/trace/json.ts';
import { readTraceState, traceObjects } from '../../src/trace/offline.ts';
import { FakeExecutor } from '../../src/exec/fake.ts';
import { kernelRuleTrees } from '../../src/ui/kernel.ts';
import { iptablesRuleTree, type RuleNode } from '../../src/ui/rules.ts';
import { parseListen, startUIServer } from '../../src/ui/server.ts';
import { configMapProxyMode, fileSource, type ClusterSource } from '../../src/ui/source.ts';
import { topology } from '../../src/ui/topology.ts';
import { computedRuleTree } from '../../src/ui/trace.ts';
import { repoRoot } from '../helpers/apiserver.ts';
import { labPlan } from './trace-helpers.ts';
import { run as diagnoseRun, wrongSelector } from './diagnose-helpers.ts';

const seed001 = () => readTraceState([path.join(repoRoot, 'examples/trace/seed-001.yaml')]);

/** seed 001 with a third api pod that is terminating (its endpoint serving, not ready) and a policy. */
function withTerminating(): ClusterObjects {
  const o = structuredClone(seed001());
  const pod = structuredClone(o.pods.find((p) => p.metadata.name === 'api-server-6d4cf56db6-7xk2p')!);
  pod.metadata.name = 'api-server-6d4cf56db6-zzzzz';
  pod.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
  pod.status!.podIP = '10.244.0.9';
  o.pods.push(pod);
  o.slices.find((s) => s.metadata.name === 'api-service-x7k2p')!.endpoints!.push({ addresses: ['10.244.0.9'], conditions: { ready: false, serving: true, terminating: true }, nodeName: 'minikube', targetRef: { kind: 'Pod', namespace: 'default', name: pod.metadata.name } });
  o.policies.push({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'api-only', namespace: 'default' }, spec: { podSelector: { matchLabels: { app: 'api' } }, ingress: [{}], egress: [{}, {}] } });
  return o;
}

const find = (n: RuleNode, pred: (x: RuleNode) => boolean): RuleNode | undefined => (pred(n) ? n : n.children.map((c) => find(c, pred)).find(Boolean));

describe('ui topology', () => {
  it('groups pods by node and namespace, with readiness, and lists endpoints with their conditions', () => {
    const t = topology(withTerminating(), { mode: 'nftables', live: false, generation: 4 });
    assert.equal(t.generation, 4);
    const [node] = t.nodes;
    assert.deepEqual({ name: node!.name, podCIDR: node!.podCIDR, proxyMode: node!.proxyMode, ready: node!.ready }, { name: 'minikube', podCIDR: '10.244.0.0/24', proxyMode: 'nftables', ready: true });
    assert.deepEqual(node!.namespaces.map((ns) => `${ns.name}: ${ns.pods.map((p) => `${p.name}${p.terminating ? ' (terminating)' : ''}`).join(', ')}`), [
      'default: api-server-6d4cf56db6-7xk2p, api-server-6d4cf56db6-q9m4t, api-server-6d4cf56db6-zzzzz (terminating), curl',
      'kube-system: coredns-5d78c9869d-abcde',
    ]);
    const svc = t.services.find((s) => s.name === 'api-service')!;
    assert.deepEqual(svc.ports, [{ name: '', protocol: 'TCP', port: 8080, targetPort: '8080', nodePort: 30080 }]);
    assert.deepEqual(svc.endpoints.map((e) => `${e.ip} ${e.pod} ready=${e.ready} serving=${e.serving} terminating=${e.terminating}`), [
      '10.244.0.5 default/api-server-6d4cf56db6-7xk2p ready=true serving=true terminating=false',
      '10.244.0.6 default/api-server-6d4cf56db6-q9m4t ready=true serving=true terminating=false',
      '10.244.0.9 default/api-server-6d4cf56db6-zzzzz ready=false serving=true terminating=true',
    ]);
  });

  it('shows a NetworkPolicy as the pods it selects, with policyTypes defaulted as the API does', () => {
    const [p] = topology(withTerminating(), { mode: 'iptables', live: false, generation: 0 }).policies;
    assert.deepEqual(p, { namespace: 'default', name: 'api-only', podSelector: 'app=api', policyTypes: ['Ingress', 'Egress'], ingressRules: 1, egressRules: 2, selects: ['default/api-server-6d4cf56db6-7xk2p', 'default/api-server-6d4cf56db6-q9m4t', 'default/api-server-6d4cf56db6-zzzzz'] });
  });
});

describe('ui rule trees', () => {
  it('iptables: KUBE-SERVICES → KUBE-SVC → KUBE-SEP with each branch\'s chance (iptables\' conditional probabilities multiplied out) and the pods', () => {
    const o = seed001();
    // a third ready endpoint: kube-proxy writes 0.3333…, 0.5 and the rest
    o.slices.find((s) => s.metadata.name === 'api-service-x7k2p')!.endpoints!.push({ addresses: ['10.244.0.7'], conditions: { ready: true }, nodeName: 'minikube', targetRef: { kind: 'Pod', namespace: 'default', name: 'curl' } });
    const t = computedRuleTree({ objects: o, plan: labPlan, mode: 'iptables' }, 'minikube');
    assert.equal(t.source, 'computed');
    const svc = find(t.roots[0]!, (n) => n.kind === 'service' && n.label === 'default/api-service cluster IP')!;
    assert.equal(svc.match, '10.96.123.45:8080/tcp');
    assert.deepEqual(svc.children.map((c) => `${c.kind} ${c.dnat} ${c.pods.join()} ${c.probability}`), [
      'endpoint 10.244.0.5:8080 default/api-server-6d4cf56db6-7xk2p 0.333333',
      'endpoint 10.244.0.6:8080 default/api-server-6d4cf56db6-q9m4t 0.333333',
      'endpoint 10.244.0.7:8080 default/curl 0.333333',
    ]);
    // the NodePort's way in reaches the same Service chain, labelled as KUBE-SERVICES labels it
    const ext = find(t.roots[0]!, (n) => n.kind === 'external')!;
    assert.equal(ext.children.find((c) => c.kind === 'service')?.label, 'default/api-service cluster IP');
  });

  it("leaves session affinity's recent-match jumps out of the random choice", () => {
    const o = seed001();
    o.services.find((s) => s.metadata.name === 'api-service')!.spec!.sessionAffinity = 'ClientIP';
    const t = computedRuleTree({ objects: o, plan: labPlan, mode: 'iptables' }, 'minikube');
    const svc = find(t.roots[0]!, (n) => n.kind === 'service' && n.label === 'default/api-service cluster IP')!;
    assert.deepEqual(svc.children.map((c) => `${c.dnat} ${/--rcheck/.test(c.via ?? '') ? 'affinity' : c.probability}`), ['10.244.0.5:8080 affinity', '10.244.0.6:8080 affinity', '10.244.0.5:8080 0.5', '10.244.0.6:8080 0.5']);
  });

  it('nftables: the services chain\'s verdict map elements → service chains → endpoints', () => {
    const t = computedRuleTree({ objects: seed001(), plan: labPlan, mode: 'nftables' }, 'minikube');
    const [root] = t.roots;
    assert.equal(root!.chain, 'services');
    const svc = root!.children.find((c) => c.match === '10.96.123.45 . tcp . 8080')!;
    assert.equal(svc.label, 'default/api-service/TCP');
    assert.deepEqual(svc.children.map((c) => `${c.label} ${c.dnat} ${c.pods.join()} ${c.probability}`), ['10.244.0.5:8080 10.244.0.5:8080 default/api-server-6d4cf56db6-7xk2p 0.5', '10.244.0.6:8080 10.244.0.6:8080 default/api-server-6d4cf56db6-q9m4t 0.5']);
    assert.ok(root!.children.some((c) => c.kind === 'external' && c.match === 'tcp . 30080'));
  });

  it('carries the kernel\'s counters of the rule that leads to each chain', () => {
    const dump = `*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-A - [0:0]\n:KUBE-SEP-B - [0:0]\n[7:420] -A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-A\n[5:300] -A KUBE-SVC-A -j KUBE-SEP-B\n[5:300] -A KUBE-SEP-B -p tcp -m tcp -j DNAT --to-destination 192.168.49.2:6443\nCOMMIT\n`;
    const t = iptablesRuleTree('n1', parseDump(dump), (ip) => (ip === '192.168.49.2' ? 'node' : ip), 'kernel');
    const svc = t.roots[0]!.children[0]!;
    assert.deepEqual([svc.counters, svc.match, svc.children[0]!.counters, svc.children[0]!.probability], [{ packets: 7, bytes: 420 }, '10.96.0.1:443/tcp', { packets: 5, bytes: 300 }, 1]);
  });

  it("reads a lab node's rules from its kernel (iptables-save -c in the node's namespace), other nodes' from the objects", () => {
    const o = seed001();
    // the kernel's dump: what the node's kube-proxy wrote, with counters
    const rendered = computedRuleTree({ objects: o, plan: labPlan, mode: 'iptables' }, 'minikube');
    const ex = new FakeExecutor().on('iptables-save', () => `*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-X - [0:0]\n:KUBE-SEP-Y - [0:0]\n[3:180] -A KUBE-SERVICES -d 10.96.123.45/32 -p tcp -m comment --comment "default/api-service cluster IP" -m tcp --dport 8080 -j KUBE-SVC-X\n[3:180] -A KUBE-SVC-X -j KUBE-SEP-Y\n[3:180] -A KUBE-SEP-Y -p tcp -m tcp -j DNAT --to-destination 10.244.0.6:8080\nCOMMIT\n`);
    const trees = kernelRuleTrees((node) => (node === 'minikube' ? 'pp-lab-node' : undefined), ex);
    const t = trees({ objects: o, plan: labPlan, mode: 'iptables' }, 'minikube');
    assert.deepEqual(ex.calls.map((c) => `${c.netns} ${c.argv.join(' ')}`), ['pp-lab-node iptables-save -c -t nat']);
    assert.equal(t.source, 'kernel');
    const sep = t.roots[0]!.children[0]!.children[0]!;
    assert.deepEqual([sep.dnat, sep.pods, sep.counters], ['10.244.0.6:8080', ['default/api-server-6d4cf56db6-q9m4t'], { packets: 3, bytes: 180 }]);
    const other = { ...o, nodes: [...o.nodes, { ...structuredClone(o.nodes[0]!), metadata: { name: 'm2' }, spec: { podCIDR: '10.244.1.0/24' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.49.3' }] } }] };
    const computed = trees({ objects: other, plan: labPlan, mode: 'iptables' }, 'm2');
    assert.equal(computed.source, 'computed');
    assert.equal(ex.calls.length, 1);
    assert.equal(rendered.roots[0]!.children.length, computed.roots[0]!.children.length);
  });
});

describe('ui flags and sources', () => {
  it('reads --listen as HOST:PORT, loopback when the host is left out', () => {
    assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListen(':9000'), { host: '127.0.0.1', port: 9000 });
    for (const bad of ['8080', '127.0.0.1:70000', 'localhost:http', '']) assert.throws(() => parseListen(bad), (e: Error & { code?: string }) => e.code === 'BadListen' && e.message.includes(`--listen ${bad}:`), bad);
  });

  it("takes kube-proxy's mode from its ConfigMap as kube-proxy does (empty is iptables)", () => {
    const cm = (conf: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-proxy' }, data: { 'config.conf': conf } });
    assert.equal(configMapProxyMode(cm('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n')), 'nftables');
    assert.equal(configMapProxyMode(cm('kind: KubeProxyConfiguration\nmode: ""\n')), 'iptables');
    assert.equal(configMapProxyMode(undefined), undefined);
  });
});

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .request(url, { headers, method }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject)
      .end();
  });
}

const post = (url: string, headers: Record<string, string> = {}) => get(url, headers, 'POST');

describe('ui server', () => {
  it('wants the token on every request, then serves traces exactly as podpath trace -o json renders them', async () => {
    const objects = seed001();
    const s = await startUIServer({ source: fileSource(objects, 'iptables'), plan: labPlan, host: '127.0.0.1', port: 0 });
    try {
      const base = new URL(s.url).origin;
      assert.equal((await get(`${base}/`)).status, 403);
      assert.equal((await get(`${base}/api/topology`, { Cookie: 'podpath-ui=nope' })).status, 403);
      const first = await get(s.url);
      assert.equal(first.status, 200);
      const cookie = String(first.headers['set-cookie']).split(';')[0]!;
      assert.match(String(first.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
      const q = new URLSearchParams({ from: 'client', to: 'http://192.168.49.2:30080/health' });
      const tr = await get(`${base}/api/trace?${q}`, { Cookie: cookie });
      assert.equal(tr.status, 200);
      assert.equal(tr.body, traceJSON(traceObjects(objects, labPlan, 'iptables', { from: 'client', to: 'http://192.168.49.2:30080/health', protocol: 'tcp', prefer: [] })));
      const bad = await get(`${base}/api/trace?from=pod/default/nope&to=10.96.123.45:8080`, { Cookie: cookie });
      assert.equal(bad.status, 400);
      assert.equal(JSON.parse(bad.body).code, 'BadSource');
      assert.equal((await get(`${base}/api/object?kind=Service&namespace=default&name=nope`, { Cookie: cookie })).status, 404);
      const js = await get(`${base}/assets/app.js`, { Cookie: cookie });
      assert.equal(js.status, 200);
      assert.doesNotMatch(js.body, /https?:\/\/(?!192\.168|10\.|127\.)[a-z]/i, 'the page loads nothing from elsewhere');
    } finally {
      await s.close();
    }
  });

  it("diagnoses a path as podpath diagnose does, and names diagnose's failing check where the path fails", async () => {
    const objects = wrongSelector();
    const s = await startUIServer({ source: fileSource(objects, 'iptables'), plan: labPlan, host: '127.0.0.1', port: 0, token: 't' });
    try {
      const q = new URLSearchParams({ from: 'pod/default/curl', to: 'svc/default/api-service:8080' });
      const r = await get(`${new URL(s.url).origin}/api/diagnose?${q}`, { Cookie: 'podpath-ui=t' });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, diagnosisJSON(diagnoseRun(objects, { from: 'pod/default/curl', to: 'svc/default/api-service:8080', protocol: 'tcp' })));
      assert.equal(JSON.parse(r.body).failing.check, 'selector');
      const bad = await get(`${new URL(s.url).origin}/api/diagnose?from=pod/default/nope&to=svc/default/api-service:8080`, { Cookie: 'podpath-ui=t' });
      assert.equal(bad.status, 400);
      assert.match(JSON.parse(bad.body).message, /pod\/default\/nope/);
    } finally {
      await s.close();
    }
  });

  it('refuses Observe without a lab, and a second while one runs; close waits for the running one', async () => {
    const objects = seed001();
    const offline = await startUIServer({ source: fileSource(objects, 'iptables'), plan: labPlan, host: '127.0.0.1', port: 0, token: 't' });
    const q = new URLSearchParams({ from: 'client', to: '192.168.49.2:30080' });
    try {
      const r = await post(`${new URL(offline.url).origin}/api/observe?${q}`, { Cookie: 'podpath-ui=t' });
      assert.equal(r.status, 400);
      assert.equal(JSON.parse(r.body).code, 'NotLive');
      assert.equal((JSON.parse(await get(`${new URL(offline.url).origin}/api/topology`, { Cookie: 'podpath-ui=t' }).then((x) => x.body)) as { observe: boolean }).observe, false);
    } finally {
      await offline.close();
    }
    // an observation that ends when the test says: its rules are "removed" then
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const calls: string[] = [];
    let removed = false;
    const observe = async (i: { objects: ClusterObjects }, req: { from: string; to: string }) => {
      calls.push(`${req.from} ${req.to}`);
      await finished;
      removed = true;
      return traceObjects(i.objects, labPlan, 'iptables', { from: req.from, to: req.to, protocol: 'tcp', prefer: [] });
    };
    const s = await startUIServer({ source: fileSource(objects, 'iptables'), plan: labPlan, host: '127.0.0.1', port: 0, token: 't', observe });
    const base = new URL(s.url).origin;
    const first = post(`${base}/api/observe?${q}`, { Cookie: 'podpath-ui=t' });
    while (!calls.length) await new Promise((r) => setTimeout(r, 5));
    const second = await post(`${base}/api/observe?${q}`, { Cookie: 'podpath-ui=t' });
    assert.equal(second.status, 409);
    assert.equal(JSON.parse(second.body).code, 'Busy');
    assert.match(JSON.parse(second.body).message, /an observation is running/);
    assert.equal((await get(`${base}/api/observe?${q}`, { Cookie: 'podpath-ui=t' })).status, 405, 'Observe is a POST');
    assert.equal(calls.length, 1);
    // closing while it runs: close resolves only once the observation is done
    let closed = false;
    const closing = s.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(closed, false);
    finish();
    await closing;
    assert.equal(removed, true);
    await first.catch(() => undefined);
  });

  it('pushes the topology to the page when the source changes', async () => {
    let generation = 0;
    const listeners: (() => void)[] = [];
    let objects = seed001();
    const source: ClusterSource = { live: true, get generation() { return generation; }, objects: () => objects, proxyMode: () => 'iptables', proxyConfig: () => undefined, onChange: (cb) => listeners.push(cb), stop: () => {} };
    const s = await startUIServer({ source, plan: labPlan, host: '127.0.0.1', port: 0, token: 'fixed-token' });
    try {
      const frames: string[] = [];
      const got = new Promise<void>((resolve) => {
        http.get(`${new URL(s.url).origin}/api/events`, { headers: { Cookie: 'podpath-ui=fixed-token' } }, (res) => {
          assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
          let buf = '';
          res.on('data', (d: Buffer) => {
            buf += d.toString();
            let i;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              frames.push(buf.slice(0, i));
              buf = buf.slice(i + 2);
              if (frames.length === 1) {
                objects = { ...objects, pods: objects.pods.filter((p) => p.metadata.name !== 'curl') };
                generation++;
                for (const l of listeners) l();
              }
              if (frames.length === 2) resolve();
            }
          });
        });
      });
      await got;
      const pods = (f: string) => (JSON.parse(f.replace(/^event: topology\ndata: /, '')) as { generation: number; nodes: { namespaces: { pods: { name: string }[] }[] }[] }).nodes[0]!.namespaces[0]!.pods.map((p) => p.name);
      assert.ok(pods(frames[0]!).includes('curl'));
      assert.ok(!pods(frames[1]!).includes('curl'));
    } finally {
      await s.close();
    }
  });
});
