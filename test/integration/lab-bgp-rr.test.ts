// --cni-backend bgp --bgp-route-reflector: every node peers with the first one alone, which
// reflects the others' routes with their own next hops (BIRD's RR_… sessions on the first node,
// Node_… on the others), and pods on different clients reach each other with their own addresses.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { labPaths } from '../../src/lab/lab.ts';
import { nodeBgp } from '../../src/lab/status.ts';
import { eventually } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';
import { birdRoute, nodesOf, peer, podsYaml, runningPods, ssh } from '../helpers/bgp.ts';

describe('a 3-node lab with --cni-backend bgp --bgp-route-reflector', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  before(async () => {
    lab = await startLab({ nodes: 3, cniBackend: 'bgp', tag: 'bgprr', args: ['--no-dns', '--no-netpol', '--bgp-route-reflector'] });
  });
  after(async () => {
    if (lab) assert.equal((await lab.down()).code, 0);
  });

  it('peers every node with the first, which reflects the others\' routes with their own next hops', () =>
    explained(lab, async () => {
      const [rr, a, b] = nodesOf(lab);
      await eventually(() => birdRoute(lab, a!.name, b!.podCIDR, b!.ip) && birdRoute(lab, b!.name, a!.podCIDR, a!.ip) && birdRoute(lab, rr!.name, a!.podCIDR, a!.ip), 30_000, 'reflected routes');
      const rrSessions = nodeBgp(lab.name, rr!.name);
      assert.ok('sessions' in rrSessions);
      assert.deepEqual(rrSessions.sessions.map((s) => [s.protocol, s.kind, s.info]), [[`RR_${a!.ip.replace(/\./g, '_')}`, 'rr-client', 'Established'], [`RR_${b!.ip.replace(/\./g, '_')}`, 'rr-client', 'Established']]);
      const client = nodeBgp(lab.name, a!.name);
      assert.ok('sessions' in client);
      assert.deepEqual(client.sessions.map((s) => [s.protocol, s.kind, s.info]), [[`Node_${rr!.ip.replace(/\./g, '_')}`, 'rr', 'Established']]);
      lab.ok(['apply', '-f', '-'], podsYaml([a!.name, b!.name]));
      const pods = await runningPods(lab, 2);
      const r = peer(pods[0]!, pods[1]!, lab);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).client.split(':')[0], pods[0]!.ip);
    }));
});
