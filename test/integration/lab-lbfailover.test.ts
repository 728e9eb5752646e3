// LoadBalancer IP failover in a 3-node lab, as MetalLB's layer-2 mode does it: when the node
// answering for the address dies — its agent killed, or its underlay link cut — another node takes
// the address and announces it with gratuitous ARP, and the client's next connections to the same
// IP are answered through it, long before the dead Node would turn NotReady. When the node comes
// back the address moves back to it, held by one node at a time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab } from '../helpers/lab.ts';
import { clientGet, clientNeighMAC, failOver, labState, lbHolders, loadBalancedApp, reviveNode, underlayMAC, watchHolders, type Death } from '../helpers/lbfailover.ts';

describe('LoadBalancer IP failover in a 3-node lab', { skip: !isRoot && 'labs need root' }, () => {
  it('moves the address to a live node when its holder dies (agent killed, link cut), and back when it returns', async (t) => {
    const lab = await startLab({ nodes: 3, tag: 'lb', args: ['--no-dns', '--no-netpol'] });
    t.after(() => lab.down());
    await explained(lab, async () => {
      const { s, ip, url, holder } = await loadBalancedApp(lab);
      await eventually(() => clientNeighMAC(s, ip) === underlayMAC(s, holder), 5000, `the client's ARP entry to name the holder ${holder}`);

      for (const how of ['kill', 'link'] as Death[]) {
        await t.test(how === 'kill' ? 'its agent killed' : 'its link cut', async () => {
          const r = await failOver(s, ip, url, holder, how);
          assert.ok('ms' in r, `no connection answered through another node within 15 tries over 10 s (${'last' in r ? r.last : ''})`);
          assert.notEqual(r.to, holder);
          assert.deepEqual(lbHolders(s, ip), [r.to], 'the dead node no longer holds the address');
          assert.equal(clientNeighMAC(s, ip), underlayMAC(s, r.to), "the client's ARP entry names the new holder (gratuitous ARP)");
          t.diagnostic(`${how}: answered through ${r.to} after ${r.ms} ms (${r.tries} connections)`);

          reviveNode(lab, labState(lab), holder, how);
          const seen = await watchHolders(s, ip, holder);
          assert.deepEqual(seen.at(-1), [holder], `the address moves back to ${holder} (seen: ${JSON.stringify(seen.slice(-5))})`);
          assert.ok(
            seen.every((h) => h.length <= 1),
            `never two holders at once: ${JSON.stringify(seen.filter((h) => h.length > 1))}`,
          );
          await eventually(() => clientGet(s, url) && clientNeighMAC(s, ip) === underlayMAC(s, holder), 10_000, "the client to reach the address through the returned node");
        });
      }
    });
  });
});
