// kube-system as kubeadm lays it out, in a one-node lab with seed 001: kube-proxy is the
// DaemonSet kube-system/kube-proxy, its log is in kubectl logs, and the seeds' way of switching
// its mode — kubectl edit cm kube-proxy, kubectl delete pod -l k8s-app=kube-proxy — switches it
// while NodePort traffic keeps flowing; podpath ssh is minikube ssh; busybox pods run wget and
// nslookup against Services.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readState } from '../../src/lab/lab.ts';
import { eventually, kubectlBin, podpathBin, repoRoot, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';

const seed = path.join(repoRoot, 'examples/seed-001');
const nodePortURL = 'http://192.168.49.2:30080/health';

describe('kube-system as kubeadm lays it out', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  let netns: string;
  const proxyPods = () => lab.ok(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy']).trim().split('\n').slice(1);
  /** `podpath ssh --name LAB ARGS…` (the lab helper's podpath() puts --name last, which would be after --) */
  const ssh = (args: string[]) => {
    const r = spawnSync(process.execPath, [podpathBin, 'ssh', '--name', lab.name, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const inNode = (argv: string[]) => spawnSync('ip', ['netns', 'exec', netns, ...argv], { encoding: 'utf8' }).stdout;

  before(async () => {
    lab = await startLab({ files: [seed] });
    netns = readState(lab.name)!.nodes[0]!.netns;
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
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
