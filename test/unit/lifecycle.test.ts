// The one garbage collection after a component starts: when the event loop first goes idle,
// once; and the lab's processes have a collector to call.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compactHeapWhenIdle } from '../../src/util/lifecycle.ts';
import { daemonNodeFlags, labDaemonNodeFlags } from '../../src/util/nodeflags.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('collects once, at the first idle interval', async () => {
  const busy = [0.9, 0.6, 0.2, 0.01, 0.01, 0.9, 0.01];
  let looked = 0;
  let collected = 0;
  let lookedAtCollection = -1;
  compactHeapWhenIdle({
    intervalMs: 2,
    sample: () => busy[looked++] ?? 0,
    gc: () => {
      collected++;
      lookedAtCollection = looked;
    },
  });
  await wait(80);
  assert.equal(collected, 1);
  assert.equal(lookedAtCollection, 4, 'the fourth interval is the first under 5%');
  assert.equal(looked, 4, 'no more looks after the collection');
});

test('collects after maxLooks when the process never goes idle', async () => {
  let collected = 0;
  let looked = 0;
  compactHeapWhenIdle({ intervalMs: 2, maxLooks: 3, sample: () => (looked++, 1), gc: () => collected++ });
  await wait(60);
  assert.equal(collected, 1);
  assert.equal(looked, 3);
});

test("the lab's processes start with a collector to call", () => {
  for (const flags of [daemonNodeFlags, labDaemonNodeFlags('apiserver')]) assert.ok(flags.includes('--expose-gc'), flags.join(' '));
});
