// The three-node lab suite of test/integration/lab-multinode*.test.ts, one describe per CNI backend
// and kube-proxy mode: replicas spread over the nodes, pods on different nodes reach each other by
// pod IP (routed by host-gw or encapsulated in VXLAN), externalTrafficPolicy Local answers
// only where the pod is, and `podpath down` leaves nothing behind. The labs are split over files
// so that each file's labs, built one after another, stay within the runner's time per file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { labPaths } from '../../src/lab/lab.ts';
import { ipIn } from '../../src/exec/netns.ts';
import { vxlanDevice } from '../../src/cni/routes.ts';
import { eventually } from './apiserver.ts';
import { downAndGone, explained, isRoot, pods, startLab } from './lab.ts';

const app = `apiVersion: apps/v1
kind: Deployment
metadata: {name: spread}
spec:
  replicas: 6
  selector: {matchLabels: {app: spread}}
  template:
    metadata: {labels: {app: spread}}
    spec:
      containers:
      - {name: web, image: podpath/echo, ports: [{containerPort: 8080}]}
`;

function txPackets(ns: string, dev: string): number {
  const j = JSON.parse(ipIn(ns, '-s', '-j', 'link', 'show', dev)) as { stats64: { tx: { packets: number } } }[];
  return j[0]!.stats64.tx.packets;
}

export function multinodeSuites(labs: readonly { backend: 'host-gw' | 'vxlan'; proxyMode: 'iptables' | 'nftables' | 'userspace' }[]): void {
  for (const { backend, proxyMode } of labs) {
    describe(`a 3-node lab with --cni-backend ${backend} and --proxy-mode ${proxyMode}`, { skip: !isRoot && 'labs need root' }, () => {
      it('spreads pods over the nodes, connects them across nodes, honours externalTrafficPolicy Local, and is gone after podpath down', async (t) => {
        const lab = await startLab({ nodes: 3, cniBackend: backend, proxyMode });
        let downed = false;
        t.after(async () => {
          if (!downed) await lab.down();
        });
        const nodes = lab.ok(['get', 'nodes', '-o', 'wide']).trim().split('\n').slice(1);
        assert.deepEqual(
          nodes.map((l) => l.split(/\s+/).filter((_, i) => i === 0 || i === 5)),
          [
            [lab.name, '192.168.49.2'],
            [`${lab.name}-m02`, '192.168.49.3'],
            [`${lab.name}-m03`, '192.168.49.4'],
          ],
        );
        const cidrs = lab.get('/api/v1/nodes').items.map((n: any) => n.spec.podCIDR).sort();
        assert.deepEqual(cidrs, ['10.244.0.0/24', '10.244.1.0/24', '10.244.2.0/24']);

        lab.ok(['apply', '-f', '-'], app);
        const running = (await explained(lab, () =>
          eventually(() => {
            const p = pods(lab, 'app=spread').filter((x) => x.phase === 'Running' && x.ip);
            return p.length === 6 ? p : undefined;
          }, 60_000, '6 running pods'),
        ))!;
        const byNode = new Map<string, typeof running>();
        for (const p of running) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p]);
        assert.equal(byNode.size, 3, 'replicas are spread over all nodes');
        for (const list of byNode.values()) assert.equal(list.length, 2);

        const s = JSON.parse(fs.readFileSync(labPaths(lab.name).state, 'utf8')) as { nodes: { netns: string }[] };
        const before = backend === 'vxlan' ? s.nodes.map((n) => txPackets(n.netns, vxlanDevice)) : [];
        // Every pod reaches one pod on each other node, by pod IP, and sees the caller's own pod IP.
        const firsts = [...byNode.values()].map((l) => l[0]!);
        for (const from of firsts) {
          for (const to of firsts) {
            if (from.node === to.node) continue;
            const r = lab.curl(`pod/default/${from.name}`, `http://${to.ip}:8080/api/v1/peer`);
            assert.equal(r.code, 0, `${from.name} (${from.node}) -> ${to.ip} (${to.node}): ${r.stderr}`);
            const who = JSON.parse(r.stdout);
            assert.equal(who.pod, to.name, 'answered by the pod on the other node');
            assert.equal(who.client.split(':')[0], from.ip, 'pod-to-pod traffic keeps its source address');
          }
        }
        if (backend === 'vxlan') {
          const afterTx = s.nodes.map((n) => txPackets(n.netns, vxlanDevice));
          afterTx.forEach((n, i) => assert.ok(n > before[i]!, `node ${i + 1} sent through ${vxlanDevice}`));
          const routes = ipIn(s.nodes[0]!.netns, 'route', 'show', 'dev', vxlanDevice);
          assert.match(routes, /10\.244\.\d+\.0\/24 via 10\.244\.\d+\.0 onlink/);
        } else {
          const routes = ipIn(s.nodes[0]!.netns, 'route');
          assert.match(routes, /10\.244\.\d+\.0\/24 via 192\.168\.49\.\d+ dev eth0/);
        }

        // externalTrafficPolicy Local: one pod on the last node; only that node answers (with the
        // client's own address) and says so on the health-check port.
        const last = `${lab.name}-m03`;
        lab.ok(['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  nodeName: ${last}
  containers:
  - {name: web, image: podpath/echo, ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: solo}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: solo}
  ports: [{port: 80, targetPort: 8080}]
`);
        const soloSvc = lab.get('/api/v1/namespaces/default/services/solo').spec;
        if (proxyMode !== 'userspace') {
          // ClusterIP and NodePort traffic crosses nodes: from a pod on the first node to solo on the last
          // through its ClusterIP, and from the client through a Cluster-policy NodePort of the first node.
          const fromFirst = byNode.get(lab.name)![0]!;
          lab.ok(['expose', 'pod', 'solo', '--name', 'solo-cluster', '--type', 'NodePort', '--port', '80', '--target-port', '8080']);
          const cluster = lab.get('/api/v1/namespaces/default/services/solo-cluster').spec;
          const viaClusterIP = await eventually(() => {
            const r = lab.curl(`pod/default/${fromFirst.name}`, `http://${soloSvc.clusterIP}/api/v1/c`, ['--max-time', '3']);
            return r.code === 0 ? JSON.parse(r.stdout) : undefined;
          }, 20_000, 'the ClusterIP to answer across nodes');
          assert.equal(viaClusterIP.pod, 'solo');
          const viaNodePort = await eventually(() => {
            const r = lab.curl('client', `http://192.168.49.2:${cluster.ports[0].nodePort}/api/v1/n`, ['--max-time', '3']);
            return r.code === 0 ? JSON.parse(r.stdout) : undefined;
          }, 20_000, 'the NodePort of the first node to answer from the last');
          assert.equal(viaNodePort.pod, 'solo');
        }
        const health = (ip: string) => lab.curl('client', `http://${ip}:${soloSvc.healthCheckNodePort}/healthz`, ['-w', '\\n%{http_code}']);
        await explained(lab, () => eventually(() => health('192.168.49.4').stdout.endsWith('\n200'), 30_000, 'the health check of the node with the pod to pass'));
        const ok = health('192.168.49.4').stdout;
        assert.match(ok, /"localEndpoints": 1,/);
        assert.match(health('192.168.49.2').stdout, /"localEndpoints": 0,[\s\S]*\n503$/);
        const who = JSON.parse(lab.curl('client', `http://192.168.49.4:${soloSvc.ports[0].nodePort}/api/v1/local`).stdout);
        const soloNodePort = (ip: string) => lab.curl('client', `http://${ip}:${soloSvc.ports[0].nodePort}/`, ['--max-time', '2']);
        let dropped = soloNodePort('192.168.49.2');
        assert.equal(who.client.split(':')[0], '192.168.49.100', 'Local policy keeps the client address');
        if (proxyMode === 'userspace') {
          // The userspace proxy connects onward itself, from a transparent socket bound to the
          // client's address; a node without a local endpoint has no listener, so it refuses.
          assert.equal(dropped.code, 7, 'a node without a local endpoint refuses the connection');
          // A Cluster-policy NodePort is proxied from the node's own address (its bridge, toward a local pod).
          lab.ok(['expose', 'deployment', 'spread', '--type', 'NodePort', '--port', '80', '--target-port', '8080']);
          const spread = lab.get('/api/v1/namespaces/default/services/spread').spec;
          await eventually(() => lab.curl('client', `http://192.168.49.4:${spread.ports[0].nodePort}/`).code === 0, 10_000, 'the spread NodePort to answer');
          const podCIDR = lab.get(`/api/v1/nodes/${last}`).spec.podCIDR as string;
          const seen = new Set<string>();
          for (let i = 0; i < 30 && seen.size < 2; i++) seen.add(JSON.parse(lab.curl('client', `http://192.168.49.4:${spread.ports[0].nodePort}/api/v1/local`).stdout).client.split(':')[0]);
          assert.ok(!seen.has('192.168.49.100'), `Cluster policy does not keep the client address: ${[...seen]}`);
          assert.ok(seen.has(podCIDR.replace(/\.0\/24$/, '.1')), `the proxy reaches its own node's pod from its bridge address: ${[...seen]}`);
        } else {
          // Its health check says 0 local endpoints both before and after its proxy has seen the
          // pod's EndpointSlice (before, the Service has no endpoints at all and is rejected), so
          // wait for the sync that turns the rejection into a drop.
          await eventually(() => (dropped = soloNodePort('192.168.49.2')).code !== 7, 15_000, 'the node without a local endpoint to stop rejecting');
          assert.equal(dropped.code, 28, 'a node without a local endpoint drops the traffic (curl times out)');
        }

        downed = true;
        await downAndGone(lab);
      });
    });
  }
}
