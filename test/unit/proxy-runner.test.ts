// The sync runner kube-proxy uses (upstream's BoundedFrequencyRunner): runs at once while it
// has a token (burst 2), then at most one run per minimum interval, merging requests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedFrequencyRunner } from '../../src/proxy/runner.ts';

describe('bounded-frequency sync runner', () => {
  it('runs two requests at once, holds the third for the interval, and merges requests while one is due', () => {
    let now = 0;
    const due: { fn: () => void; at: number }[] = [];
    const runs: number[] = [];
    const r = new BoundedFrequencyRunner(() => runs.push(now), 1000, 2, () => now, (fn, ms) => {
      due.push({ fn, at: now + ms });
      return setTimeout(() => {}, 0);
    });
    const fire = () => {
      const d = due.shift()!;
      now = Math.max(now, d.at);
      d.fn();
    };
    r.run();
    fire();
    now = 10;
    r.run();
    fire();
    assert.deepEqual(runs, [0, 10], 'a burst of two runs without waiting');
    now = 20;
    r.run();
    r.run();
    r.run();
    assert.equal(due.length, 1, 'requests while a run is due are merged');
    assert.ok(due[0]!.at >= 990 && due[0]!.at <= 1000, `the third run waits for a token (due at ${due[0]!.at})`);
    fire();
    assert.equal(runs.length, 3);
    // After a quiet spell the burst is back.
    now = 5000;
    r.run();
    fire();
    now = 5001;
    r.run();
    assert.equal(due[0]!.at, 5001);
    r.stop();
  });
});
