// The node agents' LoadBalancer speakers: the pure choice with dead members, the plan that never
// lets two live speakers hold one address, the heartbeat codec, and three speakers over a fake
// underlay (their executors keep each node's addresses and link) failing over and back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node, Service } from '../../src/api/types.ts';
import { announceRank, announcements, speakerPlan } from '../../src/agent/announce.ts';
import { deadAfterMs, decodeHeartbeat, encodeHeartbeat, heartbeatIntervalMs, Members } from '../../src/agent/memberlist.ts';
import { LoadBalancerAnnouncer, type HeartbeatSocket, type OpenHeartbeatSocket } from '../../src/agent/network.ts';
import { linkUp } from '../../src/agent/underlay.ts';
import { FakeExecutor } from '../../src/exec/fake.ts';

const node = (name: string, ip: string, ready = true) =>
  ({ metadata: { name }, status: { addresses: [{ type: 'InternalIP', address: ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } }) as unknown as Node;
const lb = (name: string, ip: string) => ({ metadata: { namespace: 'default', name }, spec: { type: 'LoadBalancer' }, status: { loadBalancer: { ingress: [{ ip }] } } }) as unknown as Service;
const nodes = [node('a', '192.168.49.2'), node('b', '192.168.49.3'), node('c', '192.168.49.4')];
const vip = '192.168.49.200';
/** the three nodes in the order they rank for vip: the first answers */
const byRank = ['a', 'b', 'c'].sort((x, y) => (announceRank(x, vip) < announceRank(y, vip) ? -1 : 1));

describe('the announcing node with the speakers alive', () => {
  it('leaves out a dead member while its Node is still Ready, and takes the next by rank', () => {
    const [first, second] = byRank as [string, string, string];
    assert.deepEqual(announcements([lb('s', vip)], [], nodes), [{ ip: vip, node: first }]);
    assert.deepEqual(announcements([lb('s', vip)], [], nodes, new Set(['a', 'b', 'c'])), [{ ip: vip, node: first }]);
    const live = new Set(['a', 'b', 'c'].filter((n) => n !== first));
    assert.deepEqual(announcements([lb('s', vip)], [], nodes, live), [{ ip: vip, node: second }], 'the dead member is passed over');
    assert.deepEqual(announcements([lb('s', vip)], [], [node('a', '192.168.49.2', false), ...nodes.slice(1)], new Set(['a', 'b', 'c'])).map((x) => x.node === 'a'), [false], 'a NotReady Node is not chosen even with its speaker alive');
    assert.deepEqual(announcements([lb('s', vip)], [], nodes, new Set()), [], 'nobody alive, nobody answers');
  });

  it('claims only once no live peer holds the address, and lets go of what it is not chosen for', () => {
    const chosen = [{ ip: vip, node: 'a' }];
    assert.deepEqual(speakerPlan('a', chosen, new Set(), new Map([[vip, ['b']]])), { claim: [], release: [] }, 'b still holds it: wait');
    assert.deepEqual(speakerPlan('a', chosen, new Set(), new Map()), { claim: [vip], release: [] });
    assert.deepEqual(speakerPlan('b', chosen, new Set([vip]), new Map()), { claim: [], release: [vip] });
    const [best, worse] = byRank as [string, string];
    const both = [{ ip: vip, node: worse }];
    assert.deepEqual(speakerPlan(worse, both, new Set([vip]), new Map([[vip, [best]]])).release, [vip], 'of two live holders the worse rank yields');
    assert.deepEqual(speakerPlan(best, [{ ip: vip, node: best }], new Set([vip]), new Map([[vip, [worse]]])).release, []);
  });
});

describe('speaker heartbeats', () => {
  it('round-trips and names what is wrong in a bad one', () => {
    const h = { node: 'a', ready: true, holds: [vip] };
    assert.deepEqual(decodeHeartbeat(encodeHeartbeat(h)), h);
    assert.throws(() => decodeHeartbeat(Buffer.from('{')), { code: 'EBADHEARTBEAT', message: 'heartbeat is not JSON' });
    assert.throws(() => decodeHeartbeat(Buffer.from('{"kind":"x"}')), /kind is not podpath-speaker\/v1/);
    assert.throws(() => decodeHeartbeat(Buffer.from(JSON.stringify({ kind: 'podpath-speaker/v1', node: 'a', ready: true, holds: ['fd00::1'] }))), /holds is not a list of IPv4 addresses/);
  });

  it('counts a member dead after deadAfter, and its holds with it', () => {
    const m = new Members();
    assert.equal(m.heard({ node: 'b', ready: true, holds: [vip] }, 0), true);
    assert.equal(m.heard({ node: 'b', ready: true, holds: [vip] }, 500), false, 'nothing new');
    assert.deepEqual([...m.ready(500 + deadAfterMs)], ['b']);
    assert.deepEqual([...m.ready(501 + deadAfterMs)], []);
    assert.deepEqual(m.holders(501 + deadAfterMs), new Map());
    assert.equal(m.heard({ node: 'b', ready: true, holds: [vip] }, 600 + deadAfterMs), true, 'back from the dead');
  });

  it('reads the link state from ip -o link', () => {
    assert.equal(linkUp('2: eth0@if9: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP', 'eth0'), true);
    assert.equal(linkUp('2: eth0@if9: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 state LOWERLAYERDOWN', 'eth0'), false);
    assert.equal(linkUp('2: eth0@if9: <BROADCAST,MULTICAST> mtu 1500 state DOWN', 'eth0'), false);
    assert.equal(linkUp('', 'eth0'), false);
  });
});

/** Three speakers over a fake underlay: each node's executor keeps its addresses and link state. */
function cluster() {
  let now = 0;
  const ips: Record<string, string> = { a: '192.168.49.2', b: '192.168.49.3', c: '192.168.49.4' };
  const sockets = new Map<string, (buf: Buffer, from: string) => void>();
  const pending: (() => void)[] = [];
  interface Member {
    s: LoadBalancerAnnouncer;
    addrs: Set<string>;
    link: { up: boolean };
    ex: FakeExecutor;
    dead: boolean;
  }
  const speakers = new Map<string, Member>();
  const nameOf = (ip: string) => Object.keys(ips).find((n) => ips[n] === ip)!;
  const speaker = (name: string, ex: FakeExecutor) => {
    const open: OpenHeartbeatSocket = async (address, _port, onMessage) => {
      sockets.set(address, onMessage);
      const sock: HeartbeatSocket = {
        // Delivered later, as datagrams are; nothing leaves or reaches a node whose link is down or that is dead.
        send: async (buf, ip) =>
          void pending.push(() => {
            const from = speakers.get(name)!;
            const to = speakers.get(nameOf(ip))!;
            if (!from.dead && from.link.up && !to.dead && to.link.up) sockets.get(ip)?.(buf, address);
          }),
        close: () => sockets.delete(address),
      };
      return sock;
    };
    return new LoadBalancerAnnouncer({ nodeName: name, nodeIP: ips[name]!, underlayDevice: 'eth0', log: () => {} }, ex, { openSocket: open, now: () => now });
  };
  for (const name of Object.keys(ips)) {
    const addrs = new Set<string>();
    const link = { up: true };
    const ex = new FakeExecutor().on('ip', (argv, opts) => {
      const cmds = argv.includes('-batch') ? (opts.input ?? '').trim().split('\n').map((l) => l.split(' ')) : [argv.slice(1)];
      let out = '';
      for (const c of cmds) {
        if (c[0] === 'link') out += `2: eth0@if9: <BROADCAST,MULTICAST,UP${link.up ? ',LOWER_UP' : ''}> mtu 1500\n`;
        if (c[0] === 'addr' && c[1] === 'replace') addrs.add(c[2]!.split('/')[0]!);
        if (c[0] === 'addr' && c[1] === 'del') addrs.delete(c[2]!.split('/')[0]!);
      }
      return out;
    });
    speakers.set(name, { s: speaker(name, ex), addrs, link, ex, dead: false });
  }
  const flush = async () => {
    for (let i = 0; i < 20; i++) {
      for (const f of pending.splice(0)) f();
      await new Promise((r) => setImmediate(r));
      if (!pending.length) return;
    }
  };
  const holders = () => [...speakers].filter(([, x]) => x.addrs.has(vip)).map(([n]) => n);
  /** Advances the clock one heartbeat interval at a time, ticking every live speaker; never two holders at once. */
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += heartbeatIntervalMs) {
      now += heartbeatIntervalMs;
      for (const x of speakers.values()) {
        if (x.dead) continue;
        await x.s.tick();
        await flush();
        assert.ok(holders().length <= 1, `two holders at ${now} ms: ${holders()}`);
      }
    }
  };
  const startOne = async (x: Member) => {
    await x.s.start(false);
    await x.s.announce([lb('s', vip)], [], nodes);
    await flush();
  };
  /** Runs until `name` holds vip; how long that took. */
  const until = async (name: string) => {
    const from = now;
    while (!holders().includes(name) && now - from < 20_000) await run(heartbeatIntervalMs);
    assert.deepEqual(holders(), [name]);
    return now - from;
  };
  return {
    speakers,
    holders,
    run,
    until,
    start: async () => {
      for (const x of speakers.values()) await startOne(x);
    },
    /** The agent is killed: no more ticks or heartbeats, and the kernel's lifetime drops its address. */
    kill: (name: string) => {
      const x = speakers.get(name)!;
      x.dead = true;
      x.addrs.clear();
    },
    /** A new agent process on the node: it holds nothing yet. */
    revive: async (name: string) => {
      const x = speakers.get(name)!;
      x.dead = false;
      x.s = speaker(name, x.ex);
      await startOne(x);
    },
  };
}

describe('three speakers', () => {
  const [first, second] = byRank as [string, string];

  it('hold the address on one node, fail over within deadAfter of a death, and move back without two holders', async () => {
    const c = cluster();
    await c.start();
    assert.deepEqual(c.holders(), [], 'nobody claims before it has listened for deadAfter');
    await c.until(first);

    c.kill(first);
    const took = await c.until(second);
    assert.ok(took <= deadAfterMs + 2 * heartbeatIntervalMs, `taken over after ${took} ms`);
    assert.ok(c.speakers.get(second)!.ex.callsOf('arping').some((a) => a.join(' ') === `-U -c 3 -I eth0 ${vip}`), 'announced with gratuitous ARP');

    await c.revive(first);
    await c.run(heartbeatIntervalMs);
    assert.deepEqual(c.holders(), [second], 'the returning node listens before it claims');
    await c.until(first);
    await c.run(deadAfterMs);
    assert.deepEqual(c.holders(), [first]);
  });

  it("count a node whose link is down as dead, and that node lets go of its addresses", async () => {
    const c = cluster();
    await c.start();
    await c.until(first);
    c.speakers.get(first)!.link.up = false;
    await c.until(second);
    assert.equal(c.speakers.get(first)!.addrs.size, 0, 'the cut-off node holds nothing');
    c.speakers.get(first)!.link.up = true;
    await c.until(first);
  });

  it('let go at once on a clean stop, and the next takes over without waiting for deadAfter', async () => {
    const c = cluster();
    await c.start();
    await c.until(first);
    await c.speakers.get(first)!.s.stop();
    assert.deepEqual(c.holders(), []);
    const took = await c.until(second);
    assert.ok(took < deadAfterMs, `taken over after ${took} ms`);
  });
});

describe('a speaker in a cluster without LoadBalancer IPs', () => {
  it('runs no ip command per tick, and checks its link again as soon as a Service has an address', async () => {
    let now = 0;
    const ex = new FakeExecutor().on('ip', () => '2: eth0@if9: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n');
    const open: OpenHeartbeatSocket = async () => ({ send: async () => {}, close: () => {} });
    const s = new LoadBalancerAnnouncer({ nodeName: 'a', nodeIP: '192.168.49.2', underlayDevice: 'eth0', log: () => {} }, ex, { openSocket: open, now: () => now });
    const linkChecks = () => ex.calls.filter((c) => c.argv.includes('-batch')).length;
    await s.start(false);
    await s.announce([], [], nodes);
    assert.equal(linkChecks(), 1, 'the link is read once at start');
    for (let i = 0; i < 10; i++) {
      now += heartbeatIntervalMs;
      await s.tick();
    }
    assert.equal(linkChecks(), 1);
    await s.announce([lb('s', vip)], [], nodes);
    now += heartbeatIntervalMs;
    await s.tick();
    assert.equal(linkChecks(), 2);
    await s.stop();
  });
});
