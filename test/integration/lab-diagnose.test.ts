// `podpath diagnose --name LAB` in a one-node lab with seed 001, broken on purpose one way at a
// time, as seed 003's checklist has it: a misspelt selector, an app listening on another port
// than the one it declares, a readiness probe that fails, kube-proxy stopped with its rules
// flushed, the cluster DNS scaled to zero. Each time diagnose must fail (exit 3) at the check that names the breakage, its trace
// must say what the kernel does (a real connection is refused, or goes nowhere), and once
// repaired every check must pass again (exit 0).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Diagnosis } from '../../src/diagnose/types.ts';
import { readState } from '../../src/lab/lab.ts';
import { eventually, repoRoot, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, pods, serviceClusterIP, startLab, type TestLab } from '../helpers/lab.ts';

/** An app that declares containerPort 8080 and serves on 9090 (busybox httpd), behind a Service for 8080. */
const deafManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: deaf}
spec:
  replicas: 1
  selector: {matchLabels: {app: deaf}}
  template:
    metadata: {labels: {app: deaf}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: busybox
        command: [httpd, -f, -p, "9090"]
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: deaf}
spec:
  selector: {app: deaf}
  ports: [{port: 80, targetPort: 8080}]
`;

/** An app whose readiness probe asks for a path it does not serve (404): applied after the lab is up, which waits for Ready pods. */
const unreadyManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: unready}
spec:
  replicas: 1
  selector: {matchLabels: {app: unready}}
  template:
    metadata: {labels: {app: unready}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: echo
        image: podpath/echo
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: unready}
spec:
  selector: {app: unready}
  ports: [{port: 80, targetPort: 8080}]
`;

describe('podpath diagnose in a running lab', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  let node: string;
  let netns: string;
  const diagnose = (args: string[]): { code: number; d: Diagnosis; stderr: string } => {
    const r = lab.podpath(['diagnose', ...args, '-o', 'json']);
    return { code: r.code, d: (r.stdout ? JSON.parse(r.stdout) : undefined) as Diagnosis, stderr: r.stderr };
  };
  const finding = (d: Diagnosis, check: string) => d.findings.find((f) => f.check === check)!;
  const healthy = async (args: string[]) => eventually(() => diagnose(args).code === 0, 30_000, `diagnose ${args.join(' ')} to pass`);

  before(async () => {
    const dir = tempDir('diagnose');
    fs.writeFileSync(path.join(dir, 'deaf.yaml'), deafManifest);
    lab = await startLab({ files: [path.join(repoRoot, 'examples/seed-001'), path.join(dir, 'deaf.yaml')], tag: 'dg', args: ['--no-netpol'] });
    node = readState(lab.name)!.nodes[0]!.name;
    netns = readState(lab.name)!.nodes[0]!.netns;
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
  });

  it('passes every check for a healthy Service, the live ones included', () =>
    explained(lab, async () => {
      await healthy(['svc/default/api-service']);
      const { code, d } = diagnose(['svc/default/api-service']);
      assert.equal(code, 0);
      assert.equal(d.source, 'live');
      assert.equal(d.from, `node/${node}`);
      assert.deepEqual(d.findings.filter((f) => f.status !== 'ok').map((f) => `${f.check}: ${f.summary}`), []);
      assert.match(finding(d, 'listening').evidence.join('\n'), /tcp (0\.0\.0\.0|::):8080 listens/);
      assert.match(finding(d, 'kube-proxy').evidence[0]!, new RegExp(`^node ${node}: pod kube-system/kube-proxy-\\w+ Running, Ready; /healthz 200 \\(lastUpdated `));
      assert.match(finding(d, 'proxy-rules').evidence[0]!, /iptables-save: \d+ lines for default\/api-service/);
      assert.equal(d.trace!.verdict, 'delivered');
    }));

  it('a misspelt selector: the labels that differ, and a REJECT the kernel really answers with', () =>
    explained(lab, async () => {
      lab.ok(['patch', 'svc', 'api-service', '-p', '{"spec":{"selector":{"app":"apl"}}}']);
      const ip = serviceClusterIP(lab, 'api-service');
      const { d } = (await eventually(() => {
        const r = diagnose(['svc/default/api-service']);
        return r.code === 3 && r.d.trace?.verdict === 'rejected' ? r : undefined;
      }, 30_000, 'the selector to fail'))!;
      assert.equal(d.failing!.check, 'selector');
      assert.match(finding(d, 'selector').evidence[0]!, /^nearest: pod default\/api-server-\w+-\w+ \[.*\] has app=api \(selector wants app=apl\)$/);
      assert.match(d.trace!.reason, /default\/api-service has no endpoints/);
      const c = lab.curl(`node/${node}`, `http://${ip}:8080/health`, ['--max-time', '3']);
      assert.equal(c.code, 7, `curl: connection refused, as the REJECT says (${c.stderr})`);
      lab.ok(['patch', 'svc', 'api-service', '-p', '{"spec":{"selector":{"app":"api"}}}']);
      await healthy(['svc/default/api-service']);
    }));

  it('nothing listening on the targetPort: the sockets in the pod, and a connection refused', () =>
    explained(lab, async () => {
      await eventually(() => pods(lab, 'app=deaf').some((p) => p.ready), 30_000, 'the deaf pod');
      const { code, d } = diagnose(['svc/default/deaf']);
      assert.equal(code, 3);
      assert.equal(d.failing!.check, 'listening');
      assert.match(finding(d, 'listening').summary, /^pod default\/deaf-\w+-\w+: nothing listens on 8080\/TCP \(it listens on tcp .*:9090\): connections are refused$/);
      assert.equal(finding(d, 'target-port').status, 'ok', 'the port is declared');
      assert.equal(d.trace!.verdict, 'delivered');
      assert.match(finding(d, 'path').summary, /where nothing listens/);
      const c = lab.curl(`node/${node}`, `http://${serviceClusterIP(lab, 'deaf')}/`, ['--max-time', '3']);
      assert.equal(c.code, 7, `curl: connection refused (${c.stderr})`);
    }));

  it('a readiness probe that fails: the probe, and what it gets when run now', () =>
    explained(lab, async () => {
      lab.ok(['apply', '-f', '-'], unreadyManifest);
      await eventually(() => pods(lab, 'app=unready').some((p) => p.phase === 'Running'), 30_000, 'the unready pod to run');
      const { code, d } = (await eventually(() => {
        const r = diagnose(['svc/default/unready']);
        return r.d?.failing?.check === 'ready' && r.d.findings.find((f) => f.check === 'ready')!.evidence.some((e) => e.includes('run now')) ? r : undefined;
      }, 30_000, 'the unready pod to be diagnosed'))!;
      assert.equal(code, 3);
      assert.equal(d.failing!.check, 'ready');
      const ev = finding(d, 'ready').evidence;
      assert.ok(ev.includes('  its readiness probe fails: http-get http://:8080/ready delay=0s timeout=1s period=1s #success=1 #failure=3'), ev.join('\n'));
      assert.ok(ev.some((e) => e === `  run now from node ${node}: Readiness probe failed: HTTP probe failed with statuscode: 404`), ev.join('\n'));
      assert.equal(d.trace!.verdict, 'rejected');
    }));

  it('kube-proxy stopped and its rules flushed: both named, and the ClusterIP answered unreachable by the router', () =>
    explained(lab, async () => {
      // as one stops a DaemonSet: a nodeSelector no node has
      lab.ok(['-n', 'kube-system', 'patch', 'ds', 'kube-proxy', '-p', '{"spec":{"template":{"spec":{"nodeSelector":{"podpath.test/stopped":"true"}}}}}']);
      await eventually(() => lab.ok(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=kube-proxy', '-o', 'name']).trim() === '', 30_000, 'kube-proxy to stop');
      const flush = spawnSync('ip', ['netns', 'exec', netns, 'sh', '-c', 'iptables-save | grep -v KUBE | iptables-restore'], { encoding: 'utf8' });
      assert.equal(flush.status, 0, flush.stderr);
      const { code, d } = diagnose(['svc/default/api-service']);
      assert.equal(code, 3);
      assert.equal(d.failing!.check, 'kube-proxy');
      assert.match(finding(d, 'kube-proxy').evidence[0]!, new RegExp(`^node ${node}: no kube-proxy pod; /healthz nothing answers on 127\\.0\\.0\\.1:10256`));
      assert.equal(finding(d, 'proxy-rules').status, 'fail');
      assert.match(finding(d, 'proxy-rules').evidence[0]!, /no kube-proxy rules at all \(no KUBE-SERVICES chain\)/);
      // untranslated, the ClusterIP goes to the underlay's router, which answers it unreachable
      assert.equal(d.trace!.verdict, 'rejected');
      const ip = serviceClusterIP(lab, 'api-service');
      assert.match(d.trace!.reason, new RegExp(`no rule translated ${ip.replace(/\./g, '\\.')}, and the underlay's router rejects the Service range`));
      const c = lab.curl(`node/${node}`, `http://${ip}:8080/health`, ['--max-time', '2']);
      assert.equal(c.code, 7, `curl: could not connect, at once (${c.stderr})`);
      assert.match(c.stderr, /after \d{1,3} ms/, 'refused at once, not after an ARP timeout');
      lab.ok(['-n', 'kube-system', 'patch', 'ds', 'kube-proxy', '-p', '{"spec":{"template":{"spec":{"nodeSelector":{"podpath.test/stopped":null}}}}}']);
      await healthy(['svc/default/api-service']);
    }));

  it('the cluster DNS scaled to zero: named from a pod, whose own lookup gets no answer', () =>
    explained(lab, async () => {
      const from = `pod/default/${pods(lab, 'app=api')[0]!.name}`;
      lab.ok(['-n', 'kube-system', 'scale', 'deploy', 'coredns', '--replicas=0']);
      await eventually(() => lab.ok(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=kube-dns', '-o', 'name']).trim() === '', 30_000, 'the DNS pods to go');
      const { d } = (await eventually(() => {
        const r = diagnose(['svc/default/api-service', '--from', from]);
        return r.code === 3 && finding(r.d, 'dns').evidence.some((e) => /kube-dns:dns has no endpoints/.test(e)) ? r : undefined;
      }, 30_000, 'the DNS check to fail'))!;
      assert.equal(d.failing!.check, 'dns');
      assert.match(finding(d, 'dns').summary, /^api-service\.default cannot be resolved from pod\/default\/api-server-\w+-\w+: no cluster DNS pod runs/);
      assert.ok(finding(d, 'dns').evidence.some((e) => /getent ahostsv4 api-service\.default: no answer/.test(e)), finding(d, 'dns').evidence.join('\n'));
      // the Service's own path is fine: the failing hop is the name
      assert.equal(d.trace!.verdict, 'delivered');
      assert.notEqual(lab.exec(from, ['getent', 'hosts', 'api-service.default']).code, 0);
      const text = lab.podpath(['diagnose', 'svc/default/api-service', '--from', from]);
      assert.equal(text.code, 3);
      assert.match(text.stdout, /^FAILING at dns: api-service\.default cannot be resolved/m);
    }));
});
