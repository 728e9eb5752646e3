// --cni-backend bgp, nodes joining and leaving: `podpath node add` gets a session from every
// BIRD (reconfigured, not restarted) and the new node's pods are routed; `podpath node delete`
// withdraws them. A node's calico-node pod deleted: BIRD stops with it and the DaemonSet's new pod
// brings its routes back.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { labPaths } from '../../src/lab/lab.ts';
import { nodeBgp } from '../../src/lab/status.ts';
import { eventually } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';
import { birdRoute, nodesOf, peer, podsYaml, runningPods, ssh } from '../helpers/bgp.ts';

describe('a 2-node lab with --cni-backend bgp: nodes joining and leaving, the daemon restarted', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  before(async () => {
    lab = await startLab({ nodes: 2, cniBackend: 'bgp', tag: 'bgpn', args: ['--no-dns', '--no-netpol'] });
  });
  after(async () => {
    if (lab) assert.equal((await lab.down()).code, 0);
  });

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
      const [first, second] = nodesOf(lab);
      lab.ok(['apply', '-f', '-'], podsYaml([first!.name, second!.name]));
      lab.ok(['delete', 'pod', 'web4', '--ignore-not-found', '--grace-period=0', '--force']);
      await eventually(() => fs.readFileSync(`${labPaths(lab.name).nodeBird(second!.name)}/bird.pid`, 'utf8').trim() !== '' && birdRoute(lab, first!.name, second!.podCIDR, second!.ip), 30_000, 'the session to the second node up');
      const pid = Number(fs.readFileSync(`${labPaths(lab.name).nodeBird(second!.name)}/bird.pid`, 'utf8'));
      // The daemon's pod deleted: BIRD stops with it (its peers withdraw at once), the DaemonSet's new pod brings it back.
      const daemon = (JSON.parse(lab.ok(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=calico-node', '-o', 'json'])).items as any[]).find((p) => p.spec.nodeName === second!.name);
      lab.ok(['delete', 'pod', '-n', 'kube-system', daemon.metadata.name]);
      await eventually(() => Number(fs.readFileSync(`${labPaths(lab.name).nodeBird(second!.name)}/bird.pid`, 'utf8')) !== pid && birdRoute(lab, first!.name, second!.podCIDR, second!.ip), 60_000, 'a new BIRD on the second node and its routes learned');
      const pods = await runningPods(lab, 2);
      await eventually(() => peer(pods.find((p) => p.node === first!.name)!, pods.find((p) => p.node === second!.name)!, lab).code === 0, 20_000, 'reachable with the new daemon');
    }));
});
