// The informer's relists: before its first list succeeds it retries soon (100 ms, doubling up
// to a second), so a component whose API server is not reachable yet for a moment syncs right
// after; once synced, a broken watch is relisted after a second.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '../../src/client/client.ts';
import { Informer } from '../../src/client/informer.ts';

/** A client whose lists fail `failing` times, then answer; its watches end with an error at once after `watchEnds` ms. */
function fakeClient(failing: number, watchEnds = -1) {
  const lists: number[] = [];
  const t0 = performance.now();
  const client = {
    get: async () => {
      lists.push(performance.now() - t0);
      if (lists.length <= failing) throw new Error('connect EHOSTUNREACH 10.96.0.1:443');
      return { kind: 'ConfigMapList', metadata: { resourceVersion: '1' }, items: [{ metadata: { name: 'a', namespace: 'default', resourceVersion: '1' } }] };
    },
    watch: (_p: string, _ev: unknown, onEnd: (err?: Error) => void) => {
      const t = watchEnds >= 0 ? setTimeout(() => onEnd(new Error('watch broke')), watchEnds) : undefined;
      return () => clearTimeout(t);
    },
  };
  return { client: client as unknown as Client, lists };
}

test('before the first list succeeds, retries come after 100, 200, 400 ms', async () => {
  const { client, lists } = fakeClient(3);
  const inf = new Informer(client, 'v1', 'configmaps');
  const t0 = performance.now();
  inf.start();
  await inf.waitForSync();
  const took = performance.now() - t0;
  inf.stop();
  assert.equal(lists.length, 4);
  const gaps = lists.slice(1).map((t, i) => t - lists[i]!);
  // (timers fire no sooner than asked, later on a busy machine)
  [100, 200, 400].forEach((want, i) => assert.ok(gaps[i]! >= want - 2 && gaps[i]! < want + 500, `retry ${i + 1} after ${gaps[i]!.toFixed(0)} ms, not about ${want}`));
  assert.ok(took < 2000, `synced after ${took.toFixed(0)} ms`);
  assert.equal(inf.list().length, 1);
});

test('once synced, a broken watch is listed again after a second', async () => {
  const { client, lists } = fakeClient(0, 10);
  const inf = new Informer(client, 'v1', 'configmaps');
  inf.start();
  await inf.waitForSync();
  await new Promise((r) => setTimeout(r, 1300));
  inf.stop();
  assert.equal(lists.length, 2);
  assert.ok(lists[1]! - lists[0]! >= 1000, `relisted after ${(lists[1]! - lists[0]!).toFixed(0)} ms`);
});
