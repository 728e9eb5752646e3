// Seed 001 in a real one-node lab: kubectl sees the node at 192.168.49.2 and two Running pods in
// 10.244.0.0/24; the client namespace reaches each pod through the node; the Deployment and
// ReplicaSet controllers, probes, logs and the node agent behave as in a real cluster.
// (kube-proxy's behaviour in this lab, per mode, is in lab-proxy.test.ts.)
// Then, in the same lab, kube-system as kubeadm lays it out: kube-proxy is the DaemonSet
// kube-system/kube-proxy, its log is in kubectl logs, and the seeds' way of switching its mode —
// kubectl edit cm kube-proxy, kubectl delete pod -l k8s-app=kube-proxy — switches it while
// NodePort traffic keeps flowing; podpath ssh is minikube ssh; busybox pods run wget and nslookup
// against Services.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readState } from '../../src/lab/lab.ts';
import { listNetns } from '../../src/exec/netns.ts';
import { eventually, kubectlBin, podpathBin, repoRoot, sleep, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, pods, startLab, type TestLab } from '../helpers/lab.ts';

const seed = path.join(repoRoot, 'examples/seed-001');
const nodePortURL = 'http://192.168.49.2:30080/health';

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

  // Last, in the same lab (the same seed-001 lab both built): kube-system, ending on a switch of kube-proxy's mode.
  describe('kube-system as kubeadm lays it out', () => {
    let netns: string;
    const proxyPods = () => lab.ok(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy']).trim().split('\n').slice(1);
    /** `podpath ssh --name LAB ARGS…` (the lab helper's podpath() puts --name last, which would be after --) */
    const ssh = (args: string[]) => {
      const r = spawnSync(process.execPath, [podpathBin, 'ssh', '--name', lab.name, ...args], { encoding: 'utf8', timeout: 60_000 });
      return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    };
    const inNode = (argv: string[]) => spawnSync('ip', ['netns', 'exec', netns, ...argv], { encoding: 'utf8' }).stdout;

    before(() => {
      netns = readState(lab.name)!.nodes[0]!.netns;
    });

    it('runs kube-proxy as the DaemonSet kube-system/kube-proxy: one Running host-network pod per node', () => {
      const lines = proxyPods();
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /^kube-proxy-[bcdfghjklmnpqrstvwxz2456789]{5}\s+1\/1\s+Running\s+0\s+\S+$/);
      const ds = lab.ok(['get', 'ds', '-n', 'kube-system']).trim().split('\n');
      assert.match(ds[0]!, /^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE$/);
      assert.match(ds.find((l) => l.startsWith('kube-proxy '))!, /^kube-proxy\s+1\s+1\s+1\s+1\s+1\s+kubernetes\.io\/os=linux\s+\S+$/);
      const pod = JSON.parse(lab.ok(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy', '-o', 'json'])).items[0];
      assert.equal(pod.spec.hostNetwork, true);
      assert.equal(pod.status.podIP, '192.168.49.2', 'a host-network pod has its node\'s address');
      assert.deepEqual(pod.spec.containers[0].command.slice(0, 3), ['/usr/local/bin/kube-proxy', '--config=/var/lib/kube-proxy/config.conf', '--hostname-override=$(NODE_NAME)']);
      // its template kept as a ControllerRevision, whose hash the pod carries
      assert.equal(lab.ok(['rollout', 'history', 'daemonset/kube-proxy', '-n', 'kube-system']), 'daemonset.apps/kube-proxy \nREVISION  CHANGE-CAUSE\n1         <none>\n\n');
      const rev = JSON.parse(lab.ok(['get', 'controllerrevisions', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy', '-o', 'json'])).items[0];
      assert.equal(pod.metadata.labels['controller-revision-hash'], rev.metadata.labels['controller-revision-hash']);
      const conf = lab.ok(['get', 'cm', 'kube-proxy', '-n', 'kube-system', '-o', 'jsonpath={.data.config\\.conf}']);
      assert.match(conf, /^kind: KubeProxyConfiguration$/m);
      assert.match(conf, /^mode: ""$/m, 'iptables, as kubeadm writes it');
    });

    it('lists in kube-system what a kubeadm cluster does, with podpath\'s names for its own components', () => {
      const x = '[bcdfghjklmnpqrstvwxz2456789]';
      const names = lab.ok(['get', 'pods', '-n', 'kube-system', '-o', 'name']).trim().split('\n').sort();
      assert.equal(names.length, 4, names.join(' '));
      for (const [i, re] of [`^pod/coredns-[bcdf4-9]+-${x}{5}$`, `^pod/kube-flannel-ds-${x}{5}$`, `^pod/kube-proxy-${x}{5}$`, `^pod/podpath-netpol-${x}{5}$`].entries()) assert.match(names[i]!, new RegExp(re));
      const netpol = lab.ok(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=podpath-netpol', '-o', 'jsonpath={.items[0].metadata.name}']);
      assert.match(lab.ok(['logs', '-n', 'kube-system', netpol]), /table ip podpath-netpol written for node/);
    });

    it('runs each component as its own service account with what its upstream manifest grants, and no more', () => {
      const can = (sa: string, args: string[]) => lab.kubectl(['auth', 'can-i', ...args, `--as=system:serviceaccount:kube-system:${sa}`]).stdout.trim();
      for (const [sa, yes, no] of [
        ['kube-proxy', [['watch', 'endpointslices.discovery.k8s.io', '-A'], ['list', 'services', '-A'], ['get', 'nodes']], [['list', 'secrets', '-A'], ['list', 'pods', '-A'], ['patch', 'nodes']]],
        ['coredns', [['list', 'endpointslices.discovery.k8s.io', '-A'], ['watch', 'pods', '-A'], ['list', 'namespaces']], [['list', 'secrets', '-A'], ['get', 'services', '-n', 'default'], ['list', 'nodes']]],
        ['flannel', [['watch', 'nodes'], ['patch', 'nodes'], ['patch', 'nodes/status']], [['list', 'pods', '-A'], ['list', 'secrets', '-A'], ['delete', 'nodes']]],
        ['podpath-netpol', [['watch', 'networkpolicies.networking.k8s.io', '-A'], ['list', 'pods', '-A'], ['watch', 'namespaces']], [['list', 'secrets', '-A'], ['list', 'services', '-A'], ['create', 'pods', '-n', 'default']]],
      ] as const) {
        for (const args of yes) assert.equal(can(sa, [...args]), 'yes', `${sa} ${args.join(' ')}`);
        for (const args of no) assert.equal(can(sa, [...args]), 'no', `${sa} ${args.join(' ')}`);
      }
      // kubeadm's binding of kube-proxy's account, and the bootstrap policy, as `kubectl get` lists them.
      assert.match(lab.ok(['get', 'clusterrolebinding', 'kubeadm:node-proxier', 'system:coredns', '-o', 'wide']), /^kubeadm:node-proxier\s+ClusterRole\/system:node-proxier\s+\S+\s+kube-system\/kube-proxy$/m);
    });

    it("finds the CNI daemon as seed 003 does (kubectl get pods -n kube-system | grep -E 'calico|flannel|weave'; kubectl logs -n kube-system <cni-pod-name>)", () => {
      const r = spawnSync('sh', ['-c', `${kubectlBin} get pods -n kube-system | grep -E 'calico|flannel|weave'`], { env: { ...process.env, KUBECONFIG: lab.kubeconfig }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 1, r.stdout);
      assert.match(lines[0]!, /^kube-flannel-ds-[bcdfghjklmnpqrstvwxz2456789]{5}\s+1\/1\s+Running\s+0\s+\S+$/);
      const log = lab.ok(['logs', '-n', 'kube-system', lines[0]!.split(/\s+/)[0]!]);
      assert.match(log, /Using interface eth0 with address 192\.168\.49\.2; backend host-gw, network 10\.244\.0\.0\/16/);
      assert.match(log, /Current network or subnet \(10\.244\.0\.0\/16, 10\.244\.0\.0\/24\) is the node's lease/);
      const node = JSON.parse(lab.ok(['get', 'nodes', '-o', 'json'])).items[0];
      assert.equal(node.metadata.annotations['flannel.alpha.coreos.com/backend-type'], 'host-gw');
      assert.equal(node.metadata.annotations['flannel.alpha.coreos.com/public-ip'], '192.168.49.2');
      const netConf = JSON.parse(lab.ok(['get', 'cm', 'kube-flannel-cfg', '-n', 'kube-system', '-o', 'jsonpath={.data.net-conf\\.json}']));
      assert.deepEqual(netConf, { Network: '10.244.0.0/16', Backend: { Type: 'host-gw' } });
    });

    it('logs upstream\'s "Using iptables Proxier" in kubectl logs', () => {
      const name = proxyPods()[0]!.split(/\s+/)[0]!;
      assert.match(lab.ok(['logs', '-n', 'kube-system', name]), /Using iptables Proxier/);
    });

    it('runs commands in the node with podpath ssh, as minikube ssh does', () => {
      const r = ssh(['--', 'iptables', '-t', 'nat', '-L', 'KUBE-SERVICES', '-n']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Chain KUBE-SERVICES \(2 references\)$/m);
      assert.match(r.stdout, /^KUBE-SVC-\S+\s+6\s+--\s+0\.0\.0\.0\/0\s+10\.\d+\.\d+\.\d+\s+\/\* default\/api-service cluster IP \*\/ tcp dpt:8080$/m);
      const host = ssh([lab.name, '--', 'sh', '-c', 'hostname; exit 7']);
      assert.equal(host.code, 7, 'the command\'s exit code');
      assert.equal(host.stdout.trim(), lab.name, 'the node\'s name as hostname');
    });

    it('runs busybox pods that reach a Service by name with wget and resolve it with nslookup', async () => {
      lab.ok(['run', 'wget', '--image=busybox', '--restart=Never', '--', 'wget', '-qO-', 'http://api-service:8080/health']);
      lab.ok(['run', 'lookup', '--image=docker.io/library/busybox:1.36', '--restart=Never', '--', 'nslookup', 'api-service.default.svc.cluster.local']);
      const ip = lab.get('/api/v1/namespaces/default/services/api-service').spec.clusterIP as string;
      await explained(lab, () =>
        eventually(() => ['wget', 'lookup'].every((p) => /Completed/.test(lab.kubectl(['get', 'pod', p]).stdout)), 30_000, 'the busybox pods to complete'),
      );
      // wget prints the body without a newline; the runtime ends the log's last line anyway (containerd's "F" tag)
      assert.match(lab.ok(['logs', 'wget']), /^\{"status":"healthy","uptime":"(\d+m)?\d+s"\}\n$/);
      const dns = lab.ok(['logs', 'lookup']);
      assert.match(dns, /^Server:\s+10\.96\.0\.10$/m);
      assert.match(dns, new RegExp(`^Name:\\s+api-service\\.default\\.svc\\.cluster\\.local\\nAddress: ${ip.replace(/\./g, '\\.')}$`, 'm'));
      lab.ok(['delete', 'pod', 'wget', 'lookup', '--wait=false']);
    });

    it('switches to nftables when the ConfigMap is edited and the pods deleted, with NodePort traffic flowing throughout', async () => {
      // 120 requests, one every 100 ms, from the client namespace while the mode changes
      const loop = spawn(process.execPath, [podpathBin, 'exec', '--name', lab.name, '--from', 'client', '--', 'sh', '-c', `for i in $(seq 1 120); do curl -s -o /dev/null -w '%{http_code}\\n' --max-time 2 ${nodePortURL}; sleep 0.1; done`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let codes = '';
      loop.stdout.on('data', (d: Buffer) => (codes += d.toString()));
      const done = new Promise((r) => loop.once('exit', r));
      // kubectl edit, with an editor that does what the seeds' readers do by hand
      const edit = spawnSync(kubectlBin, ['edit', 'cm', 'kube-proxy', '-n', 'kube-system'], {
        encoding: 'utf8',
        env: { ...process.env, HOME: tempDir('home'), KUBECONFIG: lab.kubeconfig, KUBE_EDITOR: `sed -i 's/mode: ""/mode: nftables/'` },
      });
      assert.equal(edit.status, 0, edit.stderr);
      assert.match(edit.stdout, /configmap\/kube-proxy edited/);
      const old = proxyPods()[0]!.split(/\s+/)[0]!;
      assert.match(lab.ok(['delete', 'pod', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy']), new RegExp(`pod "${old}" deleted`));
      const fresh = await explained(lab, () =>
        eventually(() => {
          const line = proxyPods().find((l) => !l.startsWith(old) && /Running/.test(l));
          return line && /Using nftables Proxier/.test(lab.kubectl(['logs', '-n', 'kube-system', line.split(/\s+/)[0]!]).stdout) ? line.split(/\s+/)[0]! : undefined;
        }, 30_000, 'a new kube-proxy pod logging "Using nftables Proxier"'),
      );
      assert.match(fresh!, /^kube-proxy-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      await explained(lab, () => eventually(() => /tcp \. 30080 : goto external-\w{8}-default\/api-service\/tcp\//.test(inNode(['nft', 'list', 'table', 'ip', 'kube-proxy'])), 10_000, 'the NodePort in the node\'s nft table'));
      await explained(lab, () => eventually(() => !/KUBE-SERVICES/.test(inNode(['iptables-save'])), 10_000, 'iptables mode\'s chains gone from the node'));
      await done;
      const results = codes.trim().split('\n');
      assert.equal(results.length, 120);
      assert.deepEqual(results.filter((c) => c !== '200'), [], 'every request through the NodePort answered while the mode changed');
      const r = lab.curl('client', nodePortURL);
      assert.equal(r.code, 0, r.stderr);
      assert.match(lab.ok(['logs', '-n', 'kube-system', fresh!]), /removed what other proxy modes left: iptables chains/);
    });
  });
});
