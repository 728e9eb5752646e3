// --cni-backend bgp: a real BIRD on every node (the DaemonSet kube-system/calico-node) peering
// over the underlay. Each node's kernel holds the other nodes' pod CIDRs `proto bird` via their
// underlay address and every session is Established; pods on different nodes reach each other
// with their own addresses, through a ClusterIP and a NodePort too; a node whose BIRD falls
// silent: lab-bgp-hold; `podpath ssh` shows birdc and the CNI
// configuration, `podpath status` a line per peer; `podpath trace` names the BGP route. (Nodes
// joining and leaving: lab-bgp-nodes; the route reflector: lab-bgp-rr.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { labPaths } from '../../src/lab/lab.ts';
import { nodeBgp } from '../../src/lab/status.ts';
import { eventually } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';
import { birdRoute, nodesOf, peer, podsYaml, runningPods, ssh } from '../helpers/bgp.ts';

describe('a 3-node lab with --cni-backend bgp', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  before(async () => {
    lab = await startLab({ nodes: 3, cniBackend: 'bgp', tag: 'bgp', args: ['--no-dns', '--no-netpol'] });
  });
  after(async () => {
    if (lab) assert.equal((await lab.down()).code, 0);
  });

  it('routes every node pair over BGP (proto bird via the underlay, sessions Established) with source addresses kept, and through a ClusterIP and a NodePort', () =>
    explained(lab, async () => {
      const nodes = nodesOf(lab);
      assert.equal(nodes.length, 3);
      for (const n of nodes) {
        await eventually(() => nodes.every((o) => o.name === n.name || birdRoute(lab, n.name, o.podCIDR, o.ip)), 30_000, `node ${n.name} to learn the other pod CIDRs over BGP`);
        const bgp = nodeBgp(lab.name, n.name);
        assert.ok('sessions' in bgp, JSON.stringify(bgp));
        assert.deepEqual(
          bgp.sessions.map((s) => [s.protocol, s.state, s.info]),
          nodes.filter((o) => o.name !== n.name).map((o) => [`Mesh_${o.ip.replace(/\./g, '_')}`, 'up', 'Established']),
        );
      }
      const birdc = ssh(lab, nodes[0]!.name, 'birdc show protocols');
      assert.equal(birdc.code, 0, birdc.stderr);
      assert.match(birdc.stdout, /Mesh_192_168_49_3\s+BGP\s+---\s+up\s+\S+\s+Established/);
      const conflist = ssh(lab, nodes[1]!.name, 'cat /etc/cni/net.d/10-bgp.conflist');
      assert.equal(conflist.code, 0, conflist.stderr);
      assert.equal(JSON.parse(conflist.stdout).plugins[0].ipam.ranges[0][0].subnet, nodes[1]!.podCIDR);
      const status = lab.podpath(['status']).stdout;
      assert.match(status, /BGP peer 192\.168\.49\.3 \(node-to-node mesh\) up since \S+ Established/);
      assert.equal(status.match(/BGP peer .* Established/g)?.length, 6, status);
      const daemon = JSON.parse(lab.ok(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=calico-node', '-o', 'json'])).items as any[];
      assert.equal(daemon.length, 3);
      assert.match(lab.ok(['logs', '-n', 'kube-system', daemon[0].metadata.name]), /Started BIRD \(config \/var\/run\/calico\/bird\/\S+\/bird\.conf\); peers: /);

      lab.ok(['apply', '-f', '-'], podsYaml(nodes.map((n) => n.name)));
      const pods = await runningPods(lab, 3);
      for (const from of pods) {
        for (const to of pods) {
          if (from === to) continue;
          const r = peer(from, to, lab);
          assert.equal(r.code, 0, `${from.name} (${from.node}) -> ${to.ip} (${to.node}): ${r.stderr}`);
          const who = JSON.parse(r.stdout);
          assert.equal(who.pod, to.name);
          assert.equal(who.client.split(':')[0], from.ip, 'pod-to-pod traffic keeps its source address');
        }
      }
      // web3 (on the third node) behind a Service: its ClusterIP from the first node's pod, its NodePort on the first node from the client
      const web3 = pods.find((p) => p.name === 'web3')!;
      lab.ok(['expose', 'pod', 'web3', '--type', 'NodePort', '--port', '80', '--target-port', '8080']);
      const svc = JSON.parse(lab.ok(['get', 'svc', 'web3', '-o', 'json'])).spec;
      const web1 = pods.find((p) => p.name === 'web1')!;
      assert.notEqual(web1.node, web3.node);
      const viaClusterIP = await eventually(() => {
        const r = lab.curl(`pod/default/web1`, `http://${svc.clusterIP}/api/v1/c`, ['--max-time', '3']);
        return r.code === 0 ? JSON.parse(r.stdout) : undefined;
      }, 20_000, 'the ClusterIP to answer');
      assert.equal(viaClusterIP.pod, 'web3');
      const viaNodePort = await eventually(() => {
        const r = lab.curl('client', `http://${nodes[0]!.ip}:${svc.ports[0].nodePort}/api/v1/n`, ['--max-time', '3']);
        return r.code === 0 ? JSON.parse(r.stdout) : undefined;
      }, 20_000, 'the NodePort to answer');
      assert.equal(viaNodePort.pod, 'web3');

      const trace = lab.podpath(['trace', '--from', 'pod/default/web1', '--to', `http://${web3.ip}:8080/`]);
      assert.match(trace.stdout, new RegExp(`${web3.ip.replace(/\.\d+$/, '')}\\.0/24 via ${nodes.find((n) => n.name === web3.node)!.ip.replace(/\./g, '\\.')} dev eth0 proto bird \\(BGP route learned from node ${web3.node}`), trace.stdout + trace.stderr);
    }));
});
