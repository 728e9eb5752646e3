// The IPVS schedulers' choices against the definitions of their Linux namesakes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hash32, newScheduler, type Dest } from '../../src/proxy/schedulers.ts';

const dest = (ip: string, weight = 1, active = 0, inactive = 0): Dest => ({ key: `${ip}:80`, ip, weight, active, inactive });
const picks = (name: Parameters<typeof newScheduler>[0], dests: Dest[], n: number, client = (i: number) => `192.168.49.${100 + (i % 50)}`, vip = '10.96.0.20') => {
  const s = newScheduler(name);
  return Array.from({ length: n }, (_, i) => s.pick(dests, client(i), vip)?.ip ?? '-');
};

test('rr: each usable destination in turn; weight 0 is skipped', () => {
  assert.deepEqual(picks('rr', [dest('a'), dest('b'), dest('c')], 7), ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  assert.deepEqual(picks('rr', [dest('a'), dest('b', 0), dest('c')], 4), ['a', 'c', 'a', 'c']);
  assert.deepEqual(picks('rr', [dest('a', 0)], 2), ['-', '-']);
});

test('wrr: weights 3,2,1 give A A B A B C (ip_vs_wrr.c), and the ratios hold over 1,000 picks', () => {
  assert.deepEqual(picks('wrr', [dest('A', 3), dest('B', 2), dest('C', 1)], 12), ['A', 'A', 'B', 'A', 'B', 'C', 'A', 'A', 'B', 'A', 'B', 'C']);
  const counts = new Map<string, number>();
  for (const ip of picks('wrr', [dest('a', 5), dest('b', 3), dest('c', 2)], 1000)) counts.set(ip, (counts.get(ip) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(counts), { a: 500, b: 300, c: 200 });
  // Weights with a common divisor step by the gcd: 4,2 is 2:1.
  assert.deepEqual(picks('wrr', [dest('a', 4), dest('b', 2)], 6), ['a', 'a', 'b', 'a', 'a', 'b']);
});

test('lc: the fewest connections by overhead 256·active + inactive; first on ties', () => {
  const s = newScheduler('lc');
  assert.equal(s.pick([dest('a', 1, 3), dest('b', 1, 1), dest('c', 1, 2)], 'x', 'v')!.ip, 'b');
  // One active connection outweighs 255 inactive ones.
  assert.equal(s.pick([dest('a', 1, 1, 0), dest('b', 1, 0, 255)], 'x', 'v')!.ip, 'b');
  assert.equal(s.pick([dest('a', 1, 0, 256), dest('b', 1, 1, 0)], 'x', 'v')!.ip, 'a');
  assert.equal(s.pick([dest('a', 1, 2), dest('b', 1, 2)], 'x', 'v')!.ip, 'a');
  // lc ignores weights except 0.
  assert.equal(s.pick([dest('a', 10, 2), dest('b', 1, 1)], 'x', 'v')!.ip, 'b');
  assert.equal(s.pick([dest('a', 0, 0), dest('b', 1, 9)], 'x', 'v')!.ip, 'b');
});

test('wlc and sed: connections per weight; nq prefers an idle destination', () => {
  const wlc = newScheduler('wlc');
  // a: 4 active / weight 4 = 1 each; b: 2 / 1 = 2 → a.
  assert.equal(wlc.pick([dest('a', 4, 4), dest('b', 1, 2)], 'x', 'v')!.ip, 'a');
  assert.equal(wlc.pick([dest('a', 1, 4), dest('b', 1, 2)], 'x', 'v')!.ip, 'b');
  const sed = newScheduler('sed');
  // sed: (active+1)/weight — a: (0+1)/1 = 1; b: (1+1)/3 = 0.67 → b even though a is idle.
  assert.equal(sed.pick([dest('a', 1, 0), dest('b', 3, 1)], 'x', 'v')!.ip, 'b');
  const nq = newScheduler('nq');
  assert.equal(nq.pick([dest('a', 1, 0), dest('b', 3, 1)], 'x', 'v')!.ip, 'a');
  assert.equal(nq.pick([dest('a', 1, 2), dest('b', 3, 1)], 'x', 'v')!.ip, 'b');
});

test('sh: a source keeps its destination; sources spread over the table; dh: one destination per VIP', () => {
  const dests = [dest('a'), dest('b'), dest('c')];
  const sh = newScheduler('sh');
  const first = sh.pick(dests, '192.168.49.100', 'v')!.ip;
  for (let i = 0; i < 20; i++) assert.equal(sh.pick(dests, '192.168.49.100', 'v')!.ip, first);
  // The bucket is hash_32(address, 8) and bucket i holds destination i mod 3 (weights 1).
  const bucket = hash32(((192 << 24) | (168 << 16) | (49 << 8) | 100) >>> 0);
  assert.equal(first, ['a', 'b', 'c'][bucket % 3]);
  const spread = new Set(Array.from({ length: 200 }, (_, i) => sh.pick(dests, `10.244.${i >> 8}.${i & 255}`, 'v')!.ip));
  assert.deepEqual([...spread].sort(), ['a', 'b', 'c']);
  const dh = newScheduler('dh');
  const forVip = new Set(Array.from({ length: 50 }, (_, i) => dh.pick(dests, `10.244.0.${i}`, '10.96.0.20')!.ip));
  assert.equal(forVip.size, 1);
});
