// The exec layer: the command lines it runs in a namespace, how results and failures come back
// from real child processes, and the shared fake.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandError, commandExists, realExecutor, run, runAsync, succeeds, wrapNetns } from '../../src/exec/exec.ts';
import { FakeExecutor } from '../../src/exec/fake.ts';

describe('exec layer', () => {
  it('enters a namespace with nsenter, or with ip netns exec when the namespace\'s /etc files are asked for', () => {
    assert.deepEqual(wrapNetns(['nft', '-f', '-']), ['nft', '-f', '-']);
    assert.deepEqual(wrapNetns(['nft', '-f', '-'], { netns: 'pp-x-n1' }), ['nsenter', '--net=/run/netns/pp-x-n1', '--', 'nft', '-f', '-']);
    assert.deepEqual(wrapNetns(['curl', 'http://svc'], { netns: 'pp-x-pod', netnsEtc: true }), ['ip', 'netns', 'exec', 'pp-x-pod', 'curl', 'http://svc']);
  });

  it('returns stdout, passes input, and throws a CommandError with the exit status and stderr', async () => {
    assert.equal(run(['cat'], { input: 'abc' }), 'abc');
    assert.equal(await runAsync(['cat'], { input: 'xyz' }), 'xyz');
    const e = (() => {
      try {
        run(['sh', '-c', 'echo bad >&2; exit 3']);
      } catch (err) {
        return err as CommandError;
      }
    })();
    assert.ok(e instanceof CommandError);
    assert.equal(e.status, 3);
    assert.equal(e.code, 'EXIT');
    assert.match(e.message, /exit 3 failed \(3\): bad/);
    assert.equal(run(['sh', '-c', 'echo out; exit 1'], { allowFail: true }), 'out\n');
    assert.equal(succeeds(['false']), false);
    assert.equal(commandExists('sh'), true);
    assert.equal(commandExists('podpath-no-such-tool'), false);
  });

  it('says ENOENT for a program that is not there, sync and async alike', async () => {
    const sync = realExecutor.exec(['/nonexistent/tool']);
    const async = await realExecutor.execAsync(['/nonexistent/tool']);
    for (const r of [sync, async]) {
      assert.equal(r.status, null);
      assert.match(r.error ?? '', /ENOENT/);
    }
    await assert.rejects(runAsync(['/nonexistent/tool']), (e: CommandError) => e.code === 'ENOENT');
    assert.throws(() => run(['/nonexistent/tool'], { allowFail: true }), (e: CommandError) => e.code === 'ENOENT', 'allowFail forgives exits, not a missing program');
    assert.throws(() => run(['/nonexistent/tool']), (e: CommandError) => e.code === 'ENOENT');
  });

  it('kills a command that ignores SIGTERM at its deadline, and answers when a command exits though a child it left holds its output', async () => {
    const t0 = performance.now();
    const r = await realExecutor.execAsync(['sh', '-c', 'trap "" TERM; while :; do :; done'], { timeoutMs: 300 });
    assert.equal(r.status, null);
    assert.match(r.error ?? '', /ETIMEDOUT/);
    assert.ok(performance.now() - t0 < 2_000, 'killed at the deadline');
    const t1 = performance.now();
    const bg = await realExecutor.execAsync(['sh', '-c', 'echo ready; sleep 3 &']);
    assert.deepEqual([bg.status, bg.stdout], [0, 'ready\n']);
    assert.ok(performance.now() - t1 < 2_500, 'did not wait for the background child');
    await assert.rejects(runAsync(['sh', '-c', 'sleep 5'], { timeoutMs: 200, allowFail: true }), (e: CommandError) => e.code === 'ETIMEDOUT');
    // All that a command wrote before it exited is its output, however much was still in the pipe.
    const big = await realExecutor.execAsync(['sh', '-c', 'head -c 8000000 /dev/zero | tr "\\0" x']);
    assert.equal(big.stdout.length, 8_000_000);
  });

  it('has a fake that records calls with their namespace and answers per program', () => {
    const fake = new FakeExecutor().on('iptables-save', () => '*nat\nCOMMIT\n').on('nft', () => ({ status: 1, stderr: 'Error: No such file or directory' }));
    assert.equal(run(['iptables-save', '-t', 'nat'], { netns: 'ns1' }, fake), '*nat\nCOMMIT\n');
    assert.throws(() => run(['nft', '-f', '-'], { input: 'add table ip t' }, fake), /No such file/);
    assert.equal(run(['ip', 'link'], {}, fake), '');
    assert.deepEqual(fake.calls, [
      { argv: ['iptables-save', '-t', 'nat'], netns: 'ns1' },
      { argv: ['nft', '-f', '-'], input: 'add table ip t' },
      { argv: ['ip', 'link'] },
    ]);
    assert.deepEqual(fake.callsOf('nft'), [['-f', '-']]);
  });
});
