// --cni-backend bgp: a real BIRD on every node (the DaemonSet kube-system/calico-node) peering
// over the underlay. Each node's kernel holds the other nodes' pod CIDRs `proto bird` via their
// underlay address and every session is Established; pods on different nodes reach each other
// with their own addresses, through a ClusterIP and a NodePort too; `podpath ssh` shows birdc and
// the CNI configuration, `podpath status` a line per peer; `podpath trace` names the BGP route.
// In the same lab, one after another: a node whose BIRD falls silent (the others withdraw its
// routes when the hold timer, 9 s, expires, and learn them again when it speaks); `podpath node
// add` gets a session from every BIRD (reconfigured, not restarted) and the new node's pods are
// routed, `podpath node delete` withdraws them; a node's calico-node pod deleted: BIRD stops with
// it and the DaemonSet's new pod brings its routes back. (The route reflector: lab-bgp-rr.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { labPaths } from '../../src/lab/lab.ts';
import { nodeBgp } from '../../src/lab/status.ts';
import { eventually } from '../helpers/apiserver.ts';
import { downAndGone, explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';
import { birdRoute, nodesOf, peer, podsYaml, runningPods, ssh } from '../helpers/bgp.ts';

describe('a 3-node lab with --cni-backend bgp', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  before(async () => {
    lab = await startLab({ nodes: 3, cniBackend: 'bgp', tag: 'bgp', args: ['--no-dns', '--no-netpol'] });
  });
  after(async () => {
    // BIRD's processes and the nodes' namespaces go with the lab
    if (lab) await downAndGone(lab);
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
      const svc = lab.get('/api/v1/namespaces/default/services/web3').spec;
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

  it('withdraws the routes of a node whose BIRD falls silent within the hold time (its pods unreachable), and learns them again when it speaks', () =>
    explained(lab, async () => {
      const nodes = nodesOf(lab);
      const [first, , third] = nodes;
      lab.ok(['apply', '-f', '-'], podsYaml(nodes.map((n) => n.name)));
      const pods = await runningPods(lab, 3);
      // the session up (the first node routes to the third) and BIRD's pid written, before it falls silent
      await eventually(() => fs.readFileSync(`${labPaths(lab.name).nodeBird(third!.name)}/bird.pid`, 'utf8').trim() !== '' && birdRoute(lab, first!.name, third!.podCIDR, third!.ip), 30_000, 'the session to the third node up');
      const web1 = pods.find((p) => p.node === first!.name)!;
      const web3 = pods.find((p) => p.node === third!.name)!;
      const pid = Number(fs.readFileSync(`${labPaths(lab.name).nodeBird(third!.name)}/bird.pid`, 'utf8'));
      // SIGSTOP: the node is there but its BGP speaker says nothing (as a node that went away): only the hold timer (9 s) tells
      process.kill(pid, 'SIGSTOP');
      try {
        await eventually(() => !birdRoute(lab, first!.name, third!.podCIDR, third!.ip), 30_000, `the first node to withdraw ${third!.podCIDR}`);
        assert.match(ssh(lab, first!.name, 'birdc show protocols').stdout, new RegExp(`Mesh_${third!.ip.replace(/\./g, '_')}\\s+BGP\\s+---\\s+start\\s+.*Hold timer expired`));
        assert.notEqual(peer(web1, web3, lab).code, 0, 'the silent node\'s pod is unreachable');
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await eventually(() => birdRoute(lab, first!.name, third!.podCIDR, third!.ip), 60_000, `the first node to learn ${third!.podCIDR} again`);
      assert.equal(peer(web1, web3, lab).code, 0, 'reachable again');
    }));

  it('peers with a node that joins and routes its pods, and withdraws a node that leaves, without restarting BIRD', () =>
    explained(lab, async () => {
      const before = nodesOf(lab);
      const pidFile = (n: string) => `${labPaths(lab.name).nodeBird(n)}/bird.pid`;
      // BIRD starts once the daemon has seen its Node's pod CIDR: after its pod is Ready, maybe
      await eventually(() => before.every((n) => fs.existsSync(pidFile(n.name)) && fs.readFileSync(pidFile(n.name), 'utf8').trim() !== ''), 30_000, 'BIRD on every node');
      const pids = before.map((n) => fs.readFileSync(pidFile(n.name), 'utf8'));
      const add = lab.podpath(['node', 'add']);
      assert.equal(add.code, 0, add.stderr);
      const joined = nodesOf(lab).find((n) => !before.some((b) => b.name === n.name))!;
      for (const n of before) await eventually(() => birdRoute(lab, n.name, joined.podCIDR, joined.ip), 30_000, `${n.name} to learn ${joined.podCIDR}`);
      lab.ok(['apply', '-f', '-'], podsYaml(before.map((n) => n.name)));
      lab.ok(['run', 'web4', '--image=podpath/echo', '--port=8080', `--overrides={"spec":{"nodeName":"${joined.name}"}}`]);
      const pods = await runningPods(lab, before.length + 1);
      const web1 = pods.find((p) => p.name === 'web1')!;
      const web4 = pods.find((p) => p.name === 'web4')!;
      await eventually(() => peer(web1, web4, lab).code === 0, 20_000, 'the new node\'s pod reachable');
      assert.deepEqual(before.map((n) => fs.readFileSync(`${labPaths(lab.name).nodeBird(n.name)}/bird.pid`, 'utf8')), pids, 'the same BIRD processes, reconfigured');

      const del = lab.podpath(['node', 'delete', joined.name]);
      assert.equal(del.code, 0, del.stderr);
      for (const n of before) await eventually(() => !birdRoute(lab, n.name, joined.podCIDR, joined.ip) && !ssh(lab, n.name, 'birdc show protocols').stdout.includes(`Mesh_${joined.ip.replace(/\./g, '_')}`), 30_000, `${n.name} to forget ${joined.name}`);
    }));

  it('brings the routes of a node back when its daemon pod is deleted and the DaemonSet starts another', () =>
    explained(lab, async () => {
      const nodes = nodesOf(lab);
      const [first, second] = nodes;
      lab.ok(['apply', '-f', '-'], podsYaml(nodes.map((n) => n.name)));
      lab.ok(['delete', 'pod', 'web4', '--ignore-not-found', '--grace-period=0', '--force']);
      await eventually(() => fs.readFileSync(`${labPaths(lab.name).nodeBird(second!.name)}/bird.pid`, 'utf8').trim() !== '' && birdRoute(lab, first!.name, second!.podCIDR, second!.ip), 30_000, 'the session to the second node up');
      const pid = Number(fs.readFileSync(`${labPaths(lab.name).nodeBird(second!.name)}/bird.pid`, 'utf8'));
      // The daemon's pod deleted: BIRD stops with it (its peers withdraw at once), the DaemonSet's new pod brings it back.
      const daemon = (JSON.parse(lab.ok(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=calico-node', '-o', 'json'])).items as any[]).find((p) => p.spec.nodeName === second!.name);
      lab.ok(['delete', 'pod', '-n', 'kube-system', daemon.metadata.name]);
      await eventually(() => Number(fs.readFileSync(`${labPaths(lab.name).nodeBird(second!.name)}/bird.pid`, 'utf8')) !== pid && birdRoute(lab, first!.name, second!.podCIDR, second!.ip), 60_000, 'a new BIRD on the second node and its routes learned');
      const pods = await runningPods(lab, nodes.length);
      await eventually(() => peer(pods.find((p) => p.node === first!.name)!, pods.find((p) => p.node === second!.name)!, lab).code === 0, 20_000, 'reachable with the new daemon');
    }));
});
