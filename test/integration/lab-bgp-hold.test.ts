// --cni-backend bgp, a node whose BIRD falls silent (stopped, as a node that went away): the
// others withdraw its routes when the hold timer (9 s) expires and its pods become unreachable;
// when it speaks again the sessions come back up and so do its routes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { labPaths } from '../../src/lab/lab.ts';
import { nodeBgp } from '../../src/lab/status.ts';
import { eventually } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';
import { birdRoute, nodesOf, peer, podsYaml, runningPods, ssh } from '../helpers/bgp.ts';

describe('a 3-node lab with --cni-backend bgp: the hold timer', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  before(async () => {
    lab = await startLab({ nodes: 3, cniBackend: 'bgp', tag: 'bgph', args: ['--no-dns', '--no-netpol'] });
  });
  after(async () => {
    if (lab) assert.equal((await lab.down()).code, 0);
  });

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

});
