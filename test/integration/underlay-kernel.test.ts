// The LoadBalancer speaker's two ways of holding addresses on the underlay (src/agent/underlay.ts),
// on a veth pair in a network namespace of the test's own: rtnetlink through build/sockopt.node
// and `ip` through the executor do the same to the kernel — an address renewed with its two-second
// lifetime, the link read as down until both ends are up, an address released — and say the same
// when they cannot.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ipUnderlay, netlinkUnderlay, type RtnetlinkAddon, type Underlay } from '../../src/agent/underlay.ts';
import { realExecutor, run, type Executor } from '../../src/exec/exec.ts';
import { loadAddon } from '../../src/util/addon.ts';
import { isRoot, testLabPrefix } from '../helpers/lab.ts';

const addon = loadAddon<RtnetlinkAddon>('sockopt');
const skip = !isRoot ? 'needs root for a network namespace' : 'error' in addon ? addon.error : false;
// Named as the suite's labs, so its leftover check would see it.
const ns = `pp-${testLabPrefix}${randomBytes(3).toString('hex')}-ul`;
/** The real executor, every command in the test's namespace. */
const inNs: Executor = {
  exec: (argv, opts = {}) => realExecutor.exec(argv, { ...opts, netns: ns }),
  execAsync: (argv, opts = {}) => realExecutor.execAsync(argv, { ...opts, netns: ns }),
};
const addrs = () =>
  run(['ip', '-o', '-4', 'addr', 'show', 'dev', 'ul0'], { netns: ns })
    .split('\n')
    .filter(Boolean)
    .map((l) => `${/inet (\S+)/.exec(l)?.[1]} ${/valid_lft (\S+)/.exec(l)?.[1]}`);

describe('the speaker\'s underlay on the kernel: rtnetlink and ip alike', { skip }, () => {
  before(() => {
    run(['ip', 'netns', 'add', ns]);
    run(['ip', 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul1'], { netns: ns });
  });
  after(() => {
    run(['ip', 'netns', 'del', ns], { allowFail: true });
  });

  const ways = (): [string, Underlay][] => [
    ['rtnetlink', netlinkUnderlay((addon as { addon: RtnetlinkAddon }).addon, 'ul0', 2, `/run/netns/${ns}`)],
    ['ip', ipUnderlay(inNs, 'ul0', 2)],
  ];

  it('reads the link as up only with both ends up (a carrier), whichever way', async () => {
    for (const [way, u] of ways()) {
      run(['ip', 'link', 'set', 'ul0', 'down'], { netns: ns });
      run(['ip', 'link', 'set', 'ul1', 'down'], { netns: ns });
      assert.equal(await u.renew([]), false, `${way}: down`);
      run(['ip', 'link', 'set', 'ul0', 'up'], { netns: ns });
      assert.equal(await u.renew([]), false, `${way}: up, no carrier (its peer is down)`);
      run(['ip', 'link', 'set', 'ul1', 'up'], { netns: ns });
      assert.equal(await u.renew([]), true, `${way}: up with a carrier`);
    }
  });

  it('claims, renews with the lifetime and releases an address, whichever way', async () => {
    for (const [way, u] of ways()) {
      assert.equal(await u.claim('192.0.2.10'), undefined, way);
      assert.deepEqual(addrs(), ['192.0.2.10/32 2sec'], `${way}: held for two seconds`);
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal(await u.renew(['192.0.2.10', '192.0.2.11']), true);
      assert.deepEqual(addrs(), ['192.0.2.10/32 2sec', '192.0.2.11/32 2sec'], `${way}: renewed, and one that was gone added back`);
      await u.release('192.0.2.10');
      await u.release('192.0.2.11');
      await u.release('192.0.2.11');
      assert.deepEqual(addrs(), [], `${way}: released (twice is nothing)`);
    }
  });

  it('lets an address it stops renewing expire', async () => {
    const [[, u]] = ways() as [[string, Underlay]];
    await u.claim('192.0.2.12');
    assert.deepEqual(addrs(), ['192.0.2.12/32 2sec']);
    let gone = false;
    for (let i = 0; i < 40 && !gone; i++) {
      await new Promise((r) => setTimeout(r, 100));
      gone = addrs().length === 0;
    }
    assert.ok(gone, 'the kernel dropped the address within 4 s');
  });

  it('says what is wrong in ip\'s words', async () => {
    const netlink = netlinkUnderlay((addon as { addon: RtnetlinkAddon }).addon, 'nope0', 2, `/run/netns/${ns}`);
    const ip = ipUnderlay(inNs, 'nope0', 2);
    assert.equal(await netlink.claim('192.0.2.13'), 'Device "nope0" does not exist.');
    assert.match((await ip.claim('192.0.2.13'))!, /Cannot find device "nope0"/);
    assert.equal(await netlink.renew(['192.0.2.13']), false, 'no such link is not up');
    const lost = netlinkUnderlay((addon as { addon: RtnetlinkAddon }).addon, 'ul0', 2, `/run/netns/${ns}-missing`);
    assert.equal(await lost.claim('192.0.2.13'), 'open network namespace: No such file or directory');
  });
});
