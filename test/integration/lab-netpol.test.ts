// NetworkPolicy enforced for real: a one-node lab of the e2e topology (examples/netpol, nine
// podpath/echo pods in x, y, z; kube-proxy in nftables mode) whose node runs `podpath netpol agent`. Default deny closes x to
// other pods and to the client, by pod IP, through a Service's ClusterIP and through its NodePort
// (externalTrafficPolicy Local or Cluster); allow rules reopen exactly what they name; a change
// takes effect within about a second; drops are counted on /metrics; an allowed keep-alive
// connection outlives an unrelated policy's apply and delete; deleting the policies opens
// everything again. And a three-node lab where
// `podpath netpol probe` measures the whole matrix — pods and the client, across nodes, TCP and
// UDP, ingress and egress, named ports, ipBlock with except — and finds it as the model says (its
// client row is the client namespace under default deny); there, a NodePort reached on another
// node with externalTrafficPolicy Cluster arrives as that node, not as the client.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { eventually, podpathBin } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';
import { examplesDir } from '../helpers/netpol.ts';
import { sandboxName } from '../../src/agent/sandbox.ts';
import { clientIP } from '../../src/lab/defaults.ts';
import { readState } from '../../src/lab/lab.ts';

const policyFile = (f: string) => path.join(examplesDir, 'policies', f);
const svc = `apiVersion: v1
kind: Service
metadata: {name: svc-a, namespace: "x"}
spec:
  selector: {pod: a}
  ports: [{port: 8080, targetPort: 80}]
`;
/** NodePort Services np-local (externalTrafficPolicy Local) and np-cluster (Cluster) to x/a's `targetPort`. */
const nodePorts = (targetPort: number) =>
  ['Local', 'Cluster']
    .map(
      (policy) => `apiVersion: v1
kind: Service
metadata: {name: np-${policy.toLowerCase()}, namespace: "x"}
spec:
  type: NodePort
  externalTrafficPolicy: ${policy}
  selector: {pod: a}
  ports: [{port: 8081, targetPort: ${targetPort}}]
`,
    )
    .join('---\n');
/** A policy of x about x/c only: nothing to do with y/b -> x/a. */
const unrelated = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: c-from-z, namespace: "x"}
spec:
  podSelector: {matchLabels: {pod: c}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "z"}}}]
`;

/** Whether one TCP connection (an HTTP GET) from `from` gets through within `ms`. */
function connects(lab: TestLab, from: string, url: string, ms = 1000): boolean {
  const r = lab.curl(from, url, ['-s', '-o', '/dev/null', '--max-time', String(ms / 1000)]);
  return r.code === 0;
}

describe('NetworkPolicy in a lab', { skip: !isRoot && 'labs need root' }, () => {
  it('denies by default what a policy isolates, reopens what allow rules name, through Services too, within about a second', async (t) => {
    // kube-proxy in nftables mode here, iptables (the default) in the three-node lab below
    const lab = await startLab({ files: [examplesDir], proxyMode: 'nftables' });
    t.after(async () => {
      await lab.down();
    });
    await explained(lab, async () => {
      lab.ok(['apply', '-f', '-'], `${svc}---\n${nodePorts(81)}`);
      const ips = Object.fromEntries(
        (JSON.parse(lab.ok(['get', 'pods', '-A', '-o', 'json'])).items as any[]).map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p.status.podIP as string]),
      );
      const clusterIP = JSON.parse(lab.ok(['get', 'svc', '-n', 'x', 'svc-a', '-o', 'json'])).spec.clusterIP as string;
      const xa = (port = 80) => `http://${ips['x/a']}:${port}/health`;
      const viaService = `http://${clusterIP}:8080/health`;
      const nodeIP = readState(lab.name)!.nodes[0]!.ip;
      const nodePort = (name: string) => JSON.parse(lab.ok(['get', 'svc', '-n', 'x', name, '-o', 'json'])).spec.ports[0].nodePort as number;
      const viaLocal = `http://${nodeIP}:${nodePort('np-local')}/health`;
      const viaCluster = `http://${nodeIP}:${nodePort('np-cluster')}/health`;
      // before any policy everything connects (the Service's rules may take a moment)
      await eventually(() => connects(lab, 'pod/y/a', viaService) || undefined, 10_000, 'y/a -> svc-a before policies');
      assert.ok(connects(lab, 'pod/y/a', xa()));
      assert.ok(connects(lab, 'client', xa()));
      await eventually(() => (connects(lab, 'client', viaLocal) && connects(lab, 'client', viaCluster)) || undefined, 10_000, 'client -> NodePorts before policies');

      // default deny: measured from the apply to the first connection without an answer, with
      // curl run straight in y/a's namespace (podpath curl's own start-up would be measured too)
      const uid = JSON.parse(lab.ok(['get', 'pod', '-n', 'y', 'a', '-o', 'json'])).metadata.uid as string;
      const yaNetns = sandboxName(readState(lab.name)!.podNetnsPrefix, uid);
      const quick = () => spawnSync('ip', ['netns', 'exec', yaNetns, 'curl', '-s', '-o', '/dev/null', '--max-time', '0.3', xa()], { timeout: 5000 }).status === 0;
      assert.ok(quick(), 'y/a -> x/a before the policy, straight from its namespace');
      lab.ok(['apply', '-f', policyFile('default-deny.yaml')]);
      const t0 = Date.now();
      while (quick() && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
      const enforcedMs = Date.now() - t0;
      t.diagnostic(`default deny enforced ${enforcedMs} ms after kubectl apply returned`);
      assert.ok(enforcedMs < 3000, `default deny took ${enforcedMs} ms`);
      assert.equal(connects(lab, 'pod/y/a', xa()), false, 'y/a -> x/a');
      assert.equal(connects(lab, 'pod/x/b', xa()), false, 'x/b -> x/a (same namespace)');
      assert.equal(connects(lab, 'client', xa()), false, 'client -> x/a');
      assert.equal(connects(lab, 'pod/y/a', viaService), false, 'y/a -> svc-a (ClusterIP)');
      // through a NodePort too: the forward hook sees the client's address after the DNAT and
      // before kube-proxy's masquerade (POSTROUTING), with either externalTrafficPolicy
      assert.equal(connects(lab, 'client', viaLocal), false, 'client -> NodePort (externalTrafficPolicy Local)');
      assert.equal(connects(lab, 'client', viaCluster), false, 'client -> NodePort (externalTrafficPolicy Cluster)');
      assert.ok(connects(lab, 'pod/x/a', `http://${ips['y/a']}:80/health`), 'x is not isolated for egress');
      assert.ok(connects(lab, 'pod/z/a', `http://${ips['y/b']}:81/health`), 'y is not isolated at all');
      // the node's own probes still pass: the pods stay Ready
      const ready = JSON.parse(lab.ok(['get', 'pods', '-n', 'x', '-o', 'json'])).items.every((p: any) => p.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True'));
      assert.ok(ready, 'x pods stay Ready under default deny');

      // allow from namespace y: y reaches x (also through the Service); z and the client do not
      lab.ok(['apply', '-f', policyFile('allow-from-namespace.yaml')]);
      await eventually(() => connects(lab, 'pod/y/b', xa()) || undefined, 3000, 'y/b -> x/a after allow-from-y');
      assert.ok(connects(lab, 'pod/y/c', viaService), 'y/c -> svc-a');
      assert.equal(connects(lab, 'pod/z/a', xa()), false, 'z/a -> x/a');
      assert.equal(connects(lab, 'client', xa()), false, 'client -> x/a');

      // the named port serve-81-tcp of x/a, from anyone: 81 opens, 80 stays closed, x/b's 81 too
      lab.ok(['apply', '-f', policyFile('allow-named-port.yaml')]);
      await eventually(() => connects(lab, 'client', xa(81)) || undefined, 3000, 'client -> x/a:81');
      assert.equal(connects(lab, 'client', xa(80)), false, 'client -> x/a:80');
      // the NodePorts lead to x/a:81: the same rule reopens them
      assert.ok(connects(lab, 'client', viaLocal), 'client -> NodePort (Local) after allow-named-port');
      assert.ok(connects(lab, 'client', viaCluster), 'client -> NodePort (Cluster) after allow-named-port');
      assert.equal(connects(lab, 'client', `http://${ips['x/b']}:81/health`), false, 'client -> x/b:81');

      // drops are counted per policy
      const metrics = lab.curl('node/' + lab.name, 'http://127.0.0.1:10264/metrics').stdout;
      const dropped = Number(/podpath_netpol_dropped_packets_total\{namespace="x",policy="default-deny-ingress",direction="ingress"\} (\d+)/.exec(metrics)?.[1]);
      assert.ok(dropped > 0, metrics);

      // an allowed connection lives through unrelated changes: 60 requests over ONE keep-alive
      // connection y/b -> x/a, 10 a second, while a policy about x/c comes and goes
      const n = 60;
      const long = spawn(process.execPath, [podpathBin, 'curl', '--name', lab.name, '--from', 'pod/y/b', `${xa()}?[1-${n}]`, '--rate', '10/s', '--max-time', '20', '-o', '/dev/null', '-w', 'RESULT %{http_code} %{local_port} %{num_connects}\\n'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let longOut = '';
      long.stdout.on('data', (d: Buffer) => (longOut += d.toString()));
      long.stderr.on('data', (d: Buffer) => (longOut += d.toString()));
      const longCode = new Promise<number>((r) => long.on('exit', (c) => r(c ?? -1)));
      t.after(() => {
        if (long.exitCode === null && long.pid) process.kill(long.pid);
      });
      await new Promise((r) => setTimeout(r, 500));
      lab.ok(['apply', '-f', '-'], unrelated);
      await eventually(() => connects(lab, 'pod/z/a', `http://${ips['x/c']}:80/health`, 300) || undefined, 3000, 'z/a -> x/c under the unrelated policy');
      lab.ok(['delete', 'networkpolicy', '-n', 'x', 'c-from-z']);
      await eventually(() => !connects(lab, 'pod/z/a', `http://${ips['x/c']}:80/health`, 300) || undefined, 3000, 'z/a -> x/c closed again');
      assert.equal(long.exitCode, null, `the connection's requests outlast the change: ${longOut}`);
      assert.equal(await longCode, 0, longOut);
      const results = [...longOut.matchAll(/^RESULT (\d+) (\d+) (\d+)$/gm)];
      assert.equal(results.length, n, longOut);
      assert.ok(results.every((m) => m[1] === '200'), longOut);
      assert.equal(new Set(results.map((m) => m[2])).size, 1, `one connection: ${longOut}`);
      assert.equal(results.reduce((a, m) => a + Number(m[3]), 0), 1, `connected once: ${longOut}`);
      t.diagnostic(`${n} requests over one connection (local port ${results[0]![2]}) while x/c-from-z came and went`);

      // policies deleted: everything connects again
      lab.ok(['delete', 'networkpolicy', '-n', 'x', '--all']);
      await eventually(() => connects(lab, 'client', xa()) || undefined, 3000, 'client -> x/a after the policies went');
      assert.ok(connects(lab, 'pod/z/a', viaService));
    });
  });
});

/** Egress from z to y's named port (and UDP 80) only; y/a from x/b (namespace AND pod) or the underlay minus a /28. */
const mixed = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: z-egress-to-y-80, namespace: "z"}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}}]
    ports: [{port: serve-80-tcp}, {port: 80, protocol: UDP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: y-a-from-x-b-or-client, namespace: "y"}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - {namespaceSelector: {matchLabels: {ns: "x"}}, podSelector: {matchLabels: {pod: b}}}
    - ipBlock: {cidr: 192.168.49.0/24, except: [192.168.49.0/28]}
`;

/** x/a from the client's address. */
const fromClient = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-client, namespace: "x"}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{ipBlock: {cidr: ${clientIP}/32}}]
`;

describe('NetworkPolicy in a three-node lab, probed', { skip: !isRoot && 'labs need root' }, () => {
  it('measures the same matrix the model computes, on every port and protocol, before and after a change', async (t) => {
    const lab = await startLab({ files: [examplesDir], nodes: 3 });
    t.after(async () => {
      await lab.down();
    });
    await explained(lab, async () => {
      const probe = (port: number, protocol: string) => lab.podpath(['netpol', 'probe', '--port', String(port), '--protocol', protocol]);
      const open = probe(80, 'TCP');
      assert.equal(open.code, 0, open.stdout + open.stderr);
      assert.doesNotMatch(open.stdout.split('\n\n')[0]!, /X/, 'nothing is closed before the policies');
      lab.ok(['apply', '-f', policyFile('default-deny.yaml'), '-f', policyFile('allow-from-namespace.yaml'), '-f', policyFile('allow-named-port.yaml')]);
      lab.ok(['apply', '-f', '-'], mixed);
      lab.ok(['apply', '-f', '-'], nodePorts(80)); // x/a:80, which the policies close to the client
      await new Promise((r) => setTimeout(r, 1500));
      for (const [port, protocol] of [[80, 'TCP'], [81, 'TCP'], [80, 'UDP'], [81, 'UDP']] as const) {
        const r = probe(port, protocol);
        assert.equal(r.code, 0, `${port}/${protocol}:\n${r.stdout}${r.stderr}`);
        assert.match(r.stdout, /all 90 probes agree with the policies/);
        assert.match(r.stdout.split('\n')[1]!, /^client +\S+ +X/, `the client is kept out of x/b on ${port}/${protocol}`);
      }
      // a change: x/b's label no longer matches y/a's rule
      lab.ok(['label', 'pod', '-n', 'x', 'b', 'pod=bee', '--overwrite']);
      await new Promise((r) => setTimeout(r, 1500));
      const after = probe(80, 'TCP');
      assert.equal(after.code, 0, after.stdout + after.stderr);
      assert.match(after.stdout, /^x\/b +\S+ +\S+ +\S+ +X/m, 'x/b -> y/a is closed now');

      // NodePorts across nodes: with the client's address admitted by an ipBlock, x/a's NodePort
      // opens on x/a's node (externalTrafficPolicy Local keeps the client's address), but reached
      // on another node with externalTrafficPolicy Cluster the connection arrives masqueraded as
      // that node, which the policy does not admit
      const st = readState(lab.name)!;
      const xaNode = JSON.parse(lab.ok(['get', 'pod', '-n', 'x', 'a', '-o', 'json'])).spec.nodeName as string;
      const own = st.nodes.find((nd) => nd.name === xaNode)!.ip;
      const other = st.nodes.find((nd) => nd.name !== xaNode)!.ip;
      const nodePort = (name: string) => JSON.parse(lab.ok(['get', 'svc', '-n', 'x', name, '-o', 'json'])).spec.ports[0].nodePort as number;
      const local = `http://${own}:${nodePort('np-local')}/health`;
      const clusterElsewhere = `http://${other}:${nodePort('np-cluster')}/health`;
      assert.equal(connects(lab, 'client', local), false, 'client -> NodePort (Local) under default deny');
      assert.equal(connects(lab, 'client', clusterElsewhere), false, 'client -> NodePort (Cluster, other node) under default deny');
      lab.ok(['apply', '-f', '-'], fromClient);
      await eventually(() => connects(lab, 'client', local) || undefined, 3000, 'client -> NodePort (Local) admitted by its ipBlock');
      assert.equal(connects(lab, 'client', clusterElsewhere), false, 'client -> NodePort (Cluster) through another node arrives as that node');
    });
  });
});
