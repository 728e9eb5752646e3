// `podpath diagnose` on deliberately broken clusters, from state files (and, for what only a
// running lab can tell, live facts given at the LiveFacts boundary): each must fail at the check
// that names the breakage, with its evidence, and agree with the trace's verdict for the path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Event, NetworkPolicy, Service } from '../../src/api/types.ts';
import type { DiagnoseRequest } from '../../src/diagnose/diagnose.ts';
import { DiagnoseError, type CheckName, type Diagnosis } from '../../src/diagnose/types.ts';
import { api, apiPods, healthyFacts, kubeProxyStoppedFacts, run, seed, wrongSelector } from './diagnose-helpers.ts';

const finding = (d: Diagnosis, check: CheckName) => d.findings.find((f) => f.check === check)!;

describe('diagnose: broken scenarios', () => {
  it('a healthy Service passes every check it can run offline, and says which it could not', () => {
    const d = run(seed('seed-001'), { target: 'svc/default/api-service' });
    assert.equal(d.result, 'ok');
    assert.equal(d.failing, undefined);
    assert.equal(d.source, 'offline');
    assert.deepEqual(d.findings.filter((f) => f.status === 'skipped').map((f) => f.check), ['listening', 'kube-proxy', 'proxy-rules']);
    assert.match(finding(d, 'listening').summary, /not checked offline/);
    assert.equal(d.trace!.verdict, 'delivered');
  });

  it('and every check live, when the lab says all is well', () => {
    const d = run(seed('seed-001'), { target: 'svc/default/api-service', from: 'pod/default/curl' }, { facts: healthyFacts() });
    assert.equal(d.result, 'ok');
    assert.equal(d.source, 'live');
    assert.deepEqual(d.findings.filter((f) => f.status !== 'ok').map((f) => f.check), []);
  });

  it('wrong selector: names the labels that differ from the nearest pods; the trace is rejected for want of endpoints', () => {
    const d = run(wrongSelector(), { target: 'svc/default/api-service' });
    assert.equal(d.failing!.check, 'selector');
    const f = finding(d, 'selector');
    assert.match(f.summary, /selector app=apl of Service default\/api-service matches no pod/);
    assert.match(f.evidence[0]!, /^nearest: pod default\/api-server-6d4cf56db6-7xk2p \[app=api,pod-template-hash=6d4cf56db6,version=v0\.1\] has app=api \(selector wants app=apl\)$/);
    assert.equal(finding(d, 'endpoints').status, 'fail');
    assert.match(finding(d, 'endpoints').fix!, /follows from the selector check/);
    assert.equal(d.trace!.verdict, 'rejected');
    assert.match(d.trace!.reason, /default\/api-service has no endpoints/);
    assert.deepEqual(d.trace!.hop!.object, { kind: 'Service', namespace: 'default', name: 'api-service' });
    assert.equal(finding(d, 'path').status, 'fail');
  });

  it('targetPort matching no containerPort: named, and the trace delivers to a port the pod does not declare', () => {
    const o = seed('seed-001');
    api(o).spec.ports![0]!.targetPort = 8081;
    o.slices.find((s) => s.metadata.name === 'api-service-x7k2p')!.ports = [{ name: '', port: 8081, protocol: 'TCP' }];
    const d = run(o, { target: 'svc/default/api-service' });
    assert.equal(d.failing!.check, 'target-port');
    assert.match(finding(d, 'target-port').summary, /^targetPort 8081 matches no containerPort of pod default\/api-server-\w+-\w+ \(its ports: 8080\/TCP\)$/);
    assert.equal(d.trace!.verdict, 'delivered');
    assert.equal(d.trace!.hop!.kind, 'deliver');
    assert.match(d.trace!.hop!.note, /no container declares 8081\/TCP/);
    assert.match(finding(d, 'path').summary, /DELIVERED to .* at 10\.244\.0\.5:8081, a port no container of the pod declares/);
  });

  it("a Gateway's own Service: nginx's port per listener is not in the controller pod's spec, and the path is not failed for it", () => {
    const o = seed('seed-000', 'gateway');
    const d = run(o, { from: 'pod/default/app-7c9d8f6b5-2xw9k', target: 'svc/default/web-podpath' });
    assert.equal(d.trace!.verdict, 'delivered');
    assert.match(finding(d, 'path').summary, /DELIVERED to podpath-gateway\/podpath-gateway-\w+-\w+ at 10\.244\.1\.9:20000$/);
    assert.equal(finding(d, 'path').status, 'ok', finding(d, 'path').summary);
    // a port that is neither declared nor any Gateway Service's targetPort (an EndpointSlice written by hand) still fails
    o.slices.find((s) => s.metadata.name === 'web-podpath')!.ports = [{ name: 'port-80', port: 20999, protocol: 'TCP' }];
    assert.equal(finding(run(o, { from: 'pod/default/app-7c9d8f6b5-2xw9k', target: 'svc/default/web-podpath' }), 'path').status, 'fail');
  });

  it('a named targetPort no container port carries fails the same check', () => {
    const o = seed('seed-001');
    api(o).spec.ports![0]!.targetPort = 'http';
    const d = run(o, { target: 'svc/default/api-service' });
    assert.equal(d.failing!.check, 'target-port');
    assert.match(finding(d, 'target-port').summary, /targetPort http names no containerPort/);
  });

  it('failing readiness probe: the probe and its last message; the trace is rejected', () => {
    const o = seed('seed-001');
    for (const p of apiPods(o)) {
      p.spec.containers[0]!.readinessProbe = { httpGet: { path: '/health', port: 8080 }, periodSeconds: 2 };
      p.status!.conditions = [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [api]', lastTransitionTime: '2026-01-01T00:00:05Z' }];
      p.status!.containerStatuses = [{ name: 'api', ready: false, restartCount: 0, state: { running: { startedAt: '2026-01-01T00:00:00Z' } } }];
    }
    for (const e of o.slices.find((s) => s.metadata.name === 'api-service-x7k2p')!.endpoints!) e.conditions = { ready: false, serving: false, terminating: false };
    const pod = apiPods(o)[0]!;
    const events: Event[] = [
      { apiVersion: 'v1', kind: 'Event', metadata: { name: 'x.1', namespace: 'default' }, involvedObject: { kind: 'Pod', namespace: 'default', name: pod.metadata.name! }, type: 'Warning', reason: 'Unhealthy', message: 'Readiness probe failed: HTTP probe failed with statuscode: 503', count: 7, lastTimestamp: '2026-01-01T00:01:00Z' },
    ];
    const d = run(o, { target: 'svc/default/api-service' }, { events });
    assert.equal(d.failing!.check, 'ready');
    const f = finding(d, 'ready');
    assert.match(f.summary, /^2 of 2 selected pods are not Ready: .*: the Service has no ready endpoint$/);
    assert.ok(f.evidence.includes('  its readiness probe fails: http-get http://:8080/health delay=0s timeout=1s period=2s #success=1 #failure=3'), f.evidence.join('\n'));
    assert.ok(f.evidence.includes('event Unhealthy (x7): Readiness probe failed: HTTP probe failed with statuscode: 503'), f.evidence.join('\n'));
    assert.ok(f.evidence.some((e) => /condition Ready=False ContainersNotReady: containers with unready status: \[api\]/.test(e)));
    assert.equal(d.trace!.verdict, 'rejected');
    // live, the probe is run once more, as the kubelet runs it
    const live = run(o, { target: 'svc/default/api-service' }, { events, facts: healthyFacts({ readinessProbe: () => ({ ok: false, message: 'HTTP probe failed with statuscode: 503' }) }) });
    assert.ok(finding(live, 'ready').evidence.includes('  run now from node minikube: Readiness probe failed: HTTP probe failed with statuscode: 503'), finding(live, 'ready').evidence.join('\n'));
  });

  it('a Service with no endpoints at all (no selector, no EndpointSlice): the endpoints check, and REJECT', () => {
    const o = seed('seed-001');
    o.services.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: 'default' }, spec: { clusterIP: '10.96.7.7', clusterIPs: ['10.96.7.7'], ports: [{ port: 5432, protocol: 'TCP' }] } } as Service);
    const d = run(o, { target: 'svc/default/db' });
    assert.equal(d.failing!.check, 'endpoints');
    assert.equal(finding(d, 'selector').status, 'skipped');
    assert.match(finding(d, 'endpoints').summary, /has no ready endpoints: kube-proxy rejects connections to it/);
    assert.equal(d.trace!.verdict, 'rejected');
    assert.match(d.trace!.hop!.note, /REJECT/);
  });

  it('externalTrafficPolicy Local reached on a node without a local pod: the traffic-policy check, and DROP there', () => {
    const d = run(seed('seed-000'), { from: 'client', to: '192.168.49.2:31443' });
    assert.equal(d.failing!.check, 'traffic-policy');
    assert.match(finding(d, 'traffic-policy').summary, /externalTrafficPolicy Local: the path reaches node podpath, which has no local endpoint, and is dropped there/);
    assert.deepEqual(finding(d, 'traffic-policy').object, { kind: 'Service', namespace: 'ingress-nginx', name: 'ingress-nginx-controller' });
    assert.equal(d.trace!.verdict, 'dropped');
    assert.equal(d.trace!.hop!.where, 'node podpath');
    // the node with the endpoint is fine
    assert.equal(run(seed('seed-000'), { from: 'client', to: '192.168.49.3:31443' }).result, 'ok');
  });

  it('a NetworkPolicy default deny: the policy named, and the trace dropped at the destination', () => {
    const o = seed('seed-001');
    o.policies.push({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } } as NetworkPolicy);
    const d = run(o, { target: 'svc/default/api-service', from: 'pod/default/curl' });
    assert.equal(d.failing!.check, 'network-policy');
    const f = finding(d, 'network-policy');
    assert.match(f.summary, /NetworkPolicy denies default\/curl → the endpoints of default\/api-service: default\/default-deny isolates them and no rule allows it/);
    assert.deepEqual(f.object, { kind: 'NetworkPolicy', namespace: 'default', name: 'default-deny' });
    assert.equal(d.trace!.verdict, 'dropped');
    assert.equal(d.trace!.hop!.kind, 'netpol');
    // from the node itself the same policy does not apply: its connections leave by output, not forward
    const n = run(o, { target: 'svc/default/api-service', from: 'node/minikube' });
    const fn = finding(n, 'network-policy');
    assert.equal(fn.status, 'ok');
    assert.match(fn.summary, /^NetworkPolicy does not apply: node minikube's own connections to its pods/);
    assert.equal(n.trace!.verdict, 'delivered');
  });

  it('an Ingress with a missing backend: the backend named; nginx answers 503 in the trace', () => {
    const o = seed('seed-000');
    o.ingresses[0]!.spec!.rules![0]!.http!.paths[0]!.backend.service!.name = 'app-svc';
    const d = run(o, { target: 'ingress/default/my-ingress' });
    assert.equal(d.failing!.check, 'ingress-backend');
    assert.match(finding(d, 'ingress-backend').summary, /^backend Service default\/app-svc does not exist$/);
    assert.equal(finding(d, 'ingress-class').status, 'ok');
    assert.equal(d.to, 'https://app.example.com/');
    assert.equal(d.trace!.verdict, 'rejected');
    assert.equal(d.trace!.hop!.kind, 'ingress');
    assert.match(d.trace!.reason, /answers 503/);
  });

  it('an Ingress whose class no controller serves', () => {
    const o = seed('seed-000');
    o.ingresses[0]!.spec!.ingressClassName = 'traefik';
    const d = run(o, { target: 'ingress/default/my-ingress' });
    assert.equal(d.failing!.check, 'ingress-class');
    assert.match(finding(d, 'ingress-class').summary, /IngressClass traefik does not exist/);
  });

  it('kube-proxy stopped and its rules flushed: named per node; the trace finds no rule for the ClusterIP', () => {
    const d = run(seed('seed-001'), { target: 'svc/default/api-service' }, { facts: kubeProxyStoppedFacts() });
    assert.equal(d.failing!.check, 'kube-proxy');
    assert.match(finding(d, 'kube-proxy').summary, /kube-proxy is not running and synced on node minikube/);
    assert.deepEqual(finding(d, 'kube-proxy').evidence, ['node minikube: no kube-proxy pod; /healthz nothing answers on 127.0.0.1:10256 (curl: (7) Failed to connect)']);
    assert.equal(finding(d, 'proxy-rules').status, 'fail');
    // no rule translated the ClusterIP: it goes to the underlay's router, which answers it unreachable
    assert.equal(d.trace!.verdict, 'rejected');
    assert.match(d.trace!.reason, /no rule translated 10\.96\.123\.45, and the underlay's router rejects the Service range/);
  });

  it('one Service\'s rules missing while kube-proxy answers: the proxy-rules check, and the trace agrees', () => {
    const facts = healthyFacts({ serviceRules: (_n, s) => ({ proxyRules: true, service: s.metadata.name !== 'api-service', detail: '…' }) });
    const d = run(seed('seed-001'), { target: 'svc/default/api-service' }, { facts });
    assert.equal(d.failing!.check, 'proxy-rules');
    assert.equal(d.trace!.verdict, 'rejected');
  });

  it('nothing listening on the targetPort (live): the listening check, and the delivered path fails there', () => {
    const facts = healthyFacts({ sockets: () => [{ protocol: 'tcp', address: '0.0.0.0', port: 9090 }] });
    const d = run(seed('seed-001'), { target: 'svc/default/api-service' }, { facts });
    assert.equal(d.failing!.check, 'listening');
    assert.match(finding(d, 'listening').summary, /nothing listens on 8080\/TCP \(it listens on tcp 0\.0\.0\.0:9090\): connections are refused/);
    assert.equal(d.trace!.verdict, 'delivered');
    assert.match(finding(d, 'path').summary, /where nothing listens/);
  });

  it('a name the pod cannot resolve live, though the zone has it: the dns check says so', () => {
    const facts = healthyFacts({ resolve: (_p, name) => ({ addresses: [], detail: `getent ahostsv4 ${name}: no answer` }) });
    const d = run(seed('seed-001'), { target: 'svc/default/api-service', from: 'pod/default/curl' }, { facts });
    assert.equal(d.failing!.check, 'dns');
    assert.match(finding(d, 'dns').summary, /api-service\.default does not resolve in pod\/default\/curl, though the cluster DNS should answer 10\.96\.123\.45/);
    assert.ok(finding(d, 'dns').evidence.includes('in pod default/curl: getent ahostsv4 api-service.default: no answer'));
  });

  it('DNS pods scaled to zero: the dns check, with the query to kube-dns rejected', () => {
    const o = seed('seed-001');
    o.pods = o.pods.filter((p) => p.metadata.labels?.['k8s-app'] !== 'kube-dns');
    o.slices.find((s) => s.metadata.name === 'kube-dns-4hs8w')!.endpoints = [];
    const d = run(o, { target: 'svc/default/api-service', from: 'pod/default/curl' });
    assert.equal(d.failing!.check, 'dns');
    const f = finding(d, 'dns');
    assert.match(f.summary, /^api-service\.default cannot be resolved from pod\/default\/curl: no cluster DNS pod runs/);
    assert.deepEqual(f.object, { kind: 'Service', namespace: 'kube-system', name: 'kube-dns' });
    // the name's own path is fine; the query to the cluster DNS is what the kernel rejects
    assert.equal(d.trace!.verdict, 'delivered');
    const q = run(o, { from: 'pod/default/curl', to: 'svc/kube-system/kube-dns:dns', protocol: 'udp' });
    assert.equal(q.trace!.verdict, 'rejected');
    assert.equal(q.failing!.check, 'selector');
  });

  it('bad input is an error naming it', () => {
    const o = seed('seed-001');
    const code = (req: DiagnoseRequest) => {
      try {
        run(o, req);
      } catch (e) {
        assert.ok(e instanceof DiagnoseError, String(e));
        return `${e.code}: ${e.message}`;
      }
      return 'no error';
    };
    assert.match(code({ target: 'deploy/default/x' }), /^BadTarget: deploy\/default\/x: expected svc\/NAMESPACE\/NAME/);
    assert.match(code({}), /^BadTarget/);
    assert.match(code({ target: 'svc/default/api-service', to: '10.96.0.1:443' }), /^BadFlags/);
    assert.match(code({ target: 'svc/default/api-service', from: 'pod/default/nope' }), /^BadFlags: --from pod\/default\/nope: no Pod default\/nope/);
    assert.match(code({ target: 'svc/default/api-service:9999' }), /^BadTarget: Service default\/api-service has no port 9999/);
  });

  it('a Service that does not exist is a failing check, not bad input', () => {
    const d = run(seed('seed-001'), { target: 'svc/default/api-servic' });
    assert.equal(d.failing!.check, 'service');
    assert.match(finding(d, 'service').evidence[0]!, /Services in default: api-service/);
    assert.equal(d.trace, undefined);
  });
});

describe('diagnose: the same verdicts over nftables rules', () => {
  const mode = 'nftables';
  it('wrong selector: rejected by the no-endpoint-services map', () => {
    const d = run(wrongSelector(), { target: 'svc/default/api-service' }, { mode });
    assert.equal(d.failing!.check, 'selector');
    assert.equal(d.mode, 'nftables');
    assert.equal(d.trace!.verdict, 'rejected');
    assert.deepEqual(d.trace!.hop!.object, { kind: 'Service', namespace: 'default', name: 'api-service' });
  });

  it('externalTrafficPolicy Local on a node without an endpoint: dropped there', () => {
    const d = run(seed('seed-000'), { from: 'client', to: '192.168.49.2:31443' }, { mode });
    assert.equal(d.failing!.check, 'traffic-policy');
    assert.equal(d.trace!.verdict, 'dropped');
    assert.equal(d.trace!.hop!.where, 'node podpath');
  });

  it("kube-proxy's table gone: the router answers the ClusterIP unreachable", () => {
    const d = run(seed('seed-001'), { target: 'svc/default/api-service' }, { mode, facts: kubeProxyStoppedFacts() });
    assert.equal(d.failing!.check, 'kube-proxy');
    assert.equal(d.trace!.verdict, 'rejected');
  });

  it('a mode the trace does not compute: the checks run, the path says why it was not traced', () => {
    const d = run(seed('seed-001'), { target: 'svc/default/api-service' }, { mode: 'ipvs' });
    assert.equal(d.result, 'ok');
    assert.equal(d.trace, undefined);
    assert.match(finding(d, 'path').summary, /^not traced: the trace computes iptables and nftables rules, and kube-proxy runs in ipvs mode$/);
    assert.ok(!finding(d, 'dns').evidence.some((e) => e.startsWith('a query')), 'no trace of the DNS query either');
  });
});
