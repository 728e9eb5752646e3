// Seed 001 in a real one-node lab: kubectl sees the node at 192.168.49.2 and two Running pods in
// 10.244.0.0/24; the client namespace reaches each pod through the node; the Deployment and
// ReplicaSet controllers, probes, logs and the node agent behave as in a real cluster.
// (kube-proxy's behaviour in this lab, per mode, is in lab-proxy.test.ts.)
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readState } from '../../src/lab/lab.ts';
import { listNetns } from '../../src/exec/netns.ts';
import { eventually, podpathBin, repoRoot, sleep, tempDir } from '../helpers/apiserver.ts';
import { isRoot, pods, startLab, type TestLab } from '../helpers/lab.ts';

const seed = path.join(repoRoot, 'examples/seed-001');

describe('podpath up with the seed example', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;

  before(async () => {
    lab = await startLab({ files: [seed] });
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
  });

  it('shows the node with INTERNAL-IP 192.168.49.2 and two Running pods with 10.244.0.x IPs', () => {
    const nodes = lab.ok(['get', 'nodes', '-o', 'wide']).trim().split('\n');
    assert.match(nodes[0]!, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+INTERNAL-IP\s+EXTERNAL-IP/);
    assert.match(nodes[1]!, new RegExp(`^${lab.name}\\s+Ready\\s+control-plane\\s+\\S+\\s+v1\\.33\\.0\\s+192\\.168\\.49\\.2\\s`));
    const wide = lab.ok(['get', 'pods', '-o', 'wide']).trim().split('\n').slice(1);
    assert.equal(wide.length, 2);
    for (const line of wide) assert.match(line, new RegExp(`^api-server-\\S+\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+10\\.244\\.0\\.\\d+\\s+${lab.name}\\s`));
  });

  it('reaches each pod from the client namespace through the node', () => {
    for (const p of pods(lab, 'app=api')) {
      const health = lab.curl('client', `http://${p.ip}:8080/health`);
      assert.equal(health.code, 0, health.stderr);
      assert.match(health.stdout, /^\{"status":"healthy","uptime":"(\d+m)?\d+s"\}$/);
      const who = JSON.parse(lab.curl('client', `http://${p.ip}:8080/api/v1/whoami`).stdout);
      assert.equal(who.pod, p.name);
      assert.equal(who.podIP, p.ip);
      // the pod's namespace from its service account's files; no node: the Deployment asks for none through the downward API
      assert.equal(who.namespace, 'default');
      assert.equal(who.node, '');
      // routed, not NATed: the pod sees the client's own address
      assert.match(who.client, /^192\.168\.49\.100:\d+$/);
    }
  });

  it('opens the NodePort to the host with podpath service --url', async () => {
    const child = spawn(process.execPath, [podpathBin, 'service', 'api-service', '--name', lab.name, '--url'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`podpath service exited with ${code}: ${out}`)));
      });
      const body = await new Promise<string>((resolve, reject) => {
        http.get(`${url}/api/v1/host`, (res) => {
          let b = '';
          res.on('data', (d: Buffer) => (b += d.toString()));
          res.on('end', () => resolve(b));
        }).on('error', reject);
      });
      assert.match(JSON.parse(body).pod, /^api-server-/);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('lists both pods, ready, in the Service\'s EndpointSlice with the named port and nodeName', async () => {
    const ips = pods(lab, 'app=api').map((p) => p.ip).sort();
    const slices = JSON.parse(lab.ok(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=api-service', '-o', 'json'])).items;
    assert.equal(slices.length, 1);
    assert.equal(slices[0].metadata.labels['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
    assert.deepEqual(slices[0].ports, [{ name: '', port: 8080, protocol: 'TCP' }]);
    assert.deepEqual(slices[0].endpoints.map((e: any) => e.addresses[0]).sort(), ips);
    for (const e of slices[0].endpoints) {
      assert.deepEqual(e.conditions, { ready: true, serving: true, terminating: false });
      assert.equal(e.nodeName, lab.name);
    }
    const ep = lab.ok(['get', 'endpoints', 'api-service']);
    assert.match(ep, /api-service\s+10\.244\.0\.\d+:8080,10\.244\.0\.\d+:8080/);
  });

  it('shows a pod\'s output with kubectl logs', () => {
    const [p] = pods(lab, 'app=api');
    lab.curl('client', `http://${p!.ip}:8080/api/v1/logged`);
    const logs = lab.ok(['logs', p!.name]);
    assert.match(logs, /listening on :8080/);
    assert.match(logs, /192\.168\.49\.100:\d+ GET \/api\/v1\/logged 200/);
  });

  it('keeps a pod whose readiness probe fails out of the ready endpoints until it passes', async () => {
    const dir = tempDir('ready');
    const flag = path.join(dir, 'ready');
    const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: gated}
spec:
  replicas: 1
  selector: {matchLabels: {app: gated}}
  template:
    metadata: {labels: {app: gated}}
    spec:
      # The gate is a host directory mounted into the container, where the probe looks.
      volumes: [{name: gate, hostPath: {path: ${dir}}}]
      containers:
      - name: web
        image: podpath/echo
        ports: [{containerPort: 8080, name: http}]
        volumeMounts: [{name: gate, mountPath: /gate}]
        readinessProbe:
          exec: {command: [test, -f, /gate/ready]}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: gated}
spec:
  selector: {app: gated}
  ports: [{port: 80, targetPort: http}]
`;
    lab.ok(['apply', '-f', '-'], manifest);
    const slice = () => lab.get('/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dgated').items[0];
    const running = (await eventually(() => pods(lab, 'app=gated').find((p) => p.phase === 'Running' && p.ip), 30_000, 'the gated pod to run'))!;
    await eventually(() => slice()?.endpoints?.length === 1, 10_000, 'the not-ready endpoint');
    // Probed every second and failing: not Ready, and its endpoint is not ready either.
    await sleep(2500);
    assert.equal(pods(lab, 'app=gated')[0]!.ready, false);
    const notReady = slice();
    assert.equal(notReady.endpoints[0].addresses[0], running.ip);
    assert.equal(notReady.endpoints[0].conditions.ready, false);
    assert.equal(notReady.ports[0].port, 8080, 'the named targetPort resolves to the container port');
    const ep = lab.get('/api/v1/namespaces/default/endpoints/gated');
    assert.equal(ep.subsets[0].addresses, undefined);
    assert.equal(ep.subsets[0].notReadyAddresses[0].ip, running.ip);
    fs.writeFileSync(flag, '');
    await eventually(() => slice().endpoints[0].conditions.ready === true, 15_000, 'the endpoint to become ready');
    assert.equal(pods(lab, 'app=gated')[0]!.ready, true);
    lab.ok(['delete', 'deployment', 'gated']);
    lab.ok(['delete', 'service', 'gated']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs init containers to completion first, and gives containers the Service link variables', async () => {
    // The init container hands its work to the app container through an emptyDir, as upstream's example does.
    const manifest = `apiVersion: v1
kind: Pod
metadata: {name: init-demo}
spec:
  restartPolicy: Never
  volumes: [{name: workdir, emptyDir: {}}]
  initContainers:
  - {name: prepare, image: busybox, command: [sh, -c, 'sleep 3; echo prepared > /work-dir/out'], volumeMounts: [{name: workdir, mountPath: /work-dir}]}
  containers:
  - {name: main, image: busybox, command: [sh, -c, 'cat /work-dir/out; env | sort; exec sleep 600'], volumeMounts: [{name: workdir, mountPath: /work-dir}]}
`;
    lab.ok(['apply', '-f', '-'], manifest);
    const status = () => lab.get('/api/v1/namespaces/default/pods/init-demo').status;
    // One reading while the init container runs: on a busy machine its few seconds pass quickly.
    const running = (await eventually(() => {
      const st = status();
      return st.initContainerStatuses?.[0]?.state?.running ? st : undefined;
    }, 15_000, 'the init container to run'))!;
    const during = lab.ok(['get', 'pod', 'init-demo']).trim().split('\n')[1]!;
    assert.match(during, /^init-demo\s+0\/1\s+Init:0\/1\s/);
    assert.equal(running.conditions.find((c: any) => c.type === 'Initialized').status, 'False');
    assert.equal(running.containerStatuses[0].state.waiting.reason, 'PodInitializing');
    await eventually(() => status().phase === 'Running', 20_000, 'the main container to run');
    const st = status();
    assert.equal(st.initContainerStatuses[0].state.terminated.exitCode, 0);
    assert.equal(st.initContainerStatuses[0].state.terminated.reason, 'Completed');
    assert.equal(st.conditions.find((c: any) => c.type === 'Initialized').status, 'True');
    const logs = await eventually(() => {
      const l = lab.ok(['logs', 'init-demo']);
      return l.includes('KUBERNETES_SERVICE_HOST') ? l : undefined;
    }, 10_000, 'the main container\'s output');
    assert.match(logs!, /^prepared$/m);
    const clusterIP = lab.get('/api/v1/namespaces/default/services/api-service').spec.clusterIP;
    assert.match(logs!, new RegExp(`^API_SERVICE_SERVICE_HOST=${clusterIP.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(logs!, new RegExp(`^API_SERVICE_PORT_8080_TCP=tcp://${clusterIP.replace(/\./g, '\\.')}:8080$`, 'm'));
    assert.match(logs!, /^KUBERNETES_SERVICE_HOST=10\.96\.0\.1$/m);
    assert.match(logs!, /^KUBERNETES_SERVICE_PORT_HTTPS=443$/m);
    lab.ok(['delete', 'pod', 'init-demo', '--grace-period=1']);
  });

  it('leaves a pod whose image is not built in and has no command Waiting, saying why', async () => {
    lab.ok(['run', 'web', '--image=nginx:1.27', '--restart=Never']);
    const st = (await eventually(() => {
      const status = lab.get('/api/v1/namespaces/default/pods/web').status;
      return status.containerStatuses?.[0]?.state?.waiting?.message ? status : undefined;
    }, 15_000, 'the waiting reason'))!;
    assert.equal(st.containerStatuses[0].state.waiting.reason, 'CreateContainerConfigError');
    assert.match(st.containerStatuses[0].state.waiting.message, /image nginx:1\.27 is not built into podpath and the container has no command/);
    assert.match(lab.ok(['get', 'pod', 'web']), /web\s+0\/1\s+CreateContainerConfigError\s+0\s/);
    lab.ok(['delete', 'pod', 'web', '--grace-period=0', '--force']);
  });

  it('scales to 5 Running pods and replaces a deleted pod', async () => {
    lab.ok(['scale', 'deployment/api-server', '--replicas=5']);
    await eventually(() => pods(lab, 'app=api').filter((p) => p.phase === 'Running' && !p.deleting).length === 5, 30_000, '5 running pods');
    const node = readState(lab.name)!.nodes[0]!.netns;
    const dnats = () => spawnSync('ip', ['netns', 'exec', node, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' }).stdout.match(/--comment "default\/api-service" -m tcp -j DNAT --to-destination 10\.244\.0\.\d+:8080/g)?.length;
    await eventually(() => pods(lab, 'app=api').filter((p) => p.ready).length === 5 && dnats() === 5, 30_000, 'kube-proxy to write 5 endpoints');
    const before = pods(lab, 'app=api');
    assert.equal(new Set(before.map((p) => p.ip)).size, 5, 'every pod has its own IP');
    const victim = before[0]!.name;
    lab.ok(['delete', 'pod', victim, '--wait=false']);
    const after = (await eventually(
      () => {
        const now = pods(lab, 'app=api').filter((p) => !p.deleting);
        return now.length === 5 && !now.some((p) => p.name === victim) && now.every((p) => p.phase === 'Running') ? now : undefined;
      },
      30_000,
      'a replacement pod',
    ))!;
    assert.equal(after.filter((p) => !before.some((b) => b.name === p.name)).length, 1);
    lab.ok(['scale', 'deployment/api-server', '--replicas=2']);
    await eventually(() => pods(lab, 'app=api').length === 2, 30_000, 'scale down to 2');
  });

  it('rolls out new args without going below the available replicas maxUnavailable allows', async () => {
    // 2 replicas, default maxSurge 25% (rounds up to 1) and maxUnavailable 25% (rounds down to 0):
    // at every moment at least 2 pods must be Ready.
    await eventually(() => pods(lab, 'app=api').filter((p) => p.ready).length === 2, 30_000, '2 ready pods');
    lab.ok(['patch', 'deployment', 'api-server', '--type=json', '-p', '[{"op":"add","path":"/spec/template/spec/containers/0/args","value":["--message","v2"]}]']);
    let minReady = Infinity;
    let inProgress = 0;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const now = pods(lab, 'app=api');
      minReady = Math.min(minReady, now.filter((p) => p.ready && !p.deleting).length);
      const dep = lab.get('/apis/apps/v1/namespaces/default/deployments/api-server');
      const done = dep.status.observedGeneration === dep.metadata.generation && dep.status.updatedReplicas === 2 && dep.status.readyReplicas === 2 && (dep.status.replicas ?? 0) === 2;
      if (done && now.length === 2) break;
      inProgress++;
      assert.ok(Date.now() < deadline, 'the rollout did not finish within 60 s');
      await sleep(150);
    }
    // At least one sample fell inside the rollout (a new pod not yet Ready or an old one still there).
    assert.ok(inProgress > 0, 'the rollout was observed');
    assert.ok(minReady >= 2, `ready pods dropped to ${minReady} during the rollout`);
    for (const p of pods(lab, 'app=api')) {
      assert.equal(JSON.parse(lab.curl('client', `http://${p.ip}:8080/api/v1/v`).stdout).message, 'v2');
    }
    const rs = lab.ok(['get', 'rs', '-l', 'app=api']).trim().split('\n').slice(1);
    assert.equal(rs.length, 2, 'the old ReplicaSet is kept, scaled to 0');
    assert.ok(rs.some((l) => /\s0\s+0\s+0\s/.test(l)));
  });

  it('leaves pods running when the node agent is killed, and the restarted agent adopts them', async () => {
    const s = readState(lab.name)!;
    const component = `agent-${lab.name}`;
    const before = pods(lab, 'app=api');
    const podNetns = () => listNetns().filter((n) => n.startsWith(s.podNetnsPrefix)).sort();
    const nsBefore = podNetns();
    process.kill(s.pids[component]!, 'SIGKILL');
    await sleep(500);
    for (const p of before) assert.equal(lab.curl('client', `http://${p.ip}:8080/health`).code, 0, `${p.name} still answers`);
    const r = lab.podpath(['restart', component]);
    assert.equal(r.code, 0, r.stderr);
    await sleep(3000);
    const after = pods(lab, 'app=api');
    assert.deepEqual(after.map((p) => [p.name, p.ip, p.ready]).sort(), before.map((p) => [p.name, p.ip, true]).sort());
    assert.deepEqual(podNetns(), nsBefore, 'no sandbox was created twice');
    const restarts = JSON.parse(lab.ok(['get', 'pods', '-l', 'app=api', '-o', 'json'])).items.map((p: any) => p.status.containerStatuses[0].restartCount);
    assert.deepEqual(restarts, [0, 0]);
  });
});
