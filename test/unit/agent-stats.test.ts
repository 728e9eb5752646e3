// What the node agent measures for the Summary API and how the Metrics API presents it:
// /proc/PID/stat read, a container's processes found by their mount namespace, CPU as a rate
// between two measurements (a new instance starting over, a counter that went back giving none),
// the node's rate from its parts, and the quantities as metrics-server writes them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeNanoCores, parseStat, StatsCollector, usageNanoCores, type ProcFS, type RunningContainer } from '../../src/agent/stats.ts';
import { binaryQuantity, decimalQuantity } from '../../src/api/stats.ts';
import type { Node, Pod } from '../../src/api/types.ts';
import { goDuration, nodeMetrics, podMetrics } from '../../src/apiserver/metrics.ts';

/** A /proc/PID/stat line with the given utime, stime, cutime, cstime and rss (pages). */
function statLine(pid: number, comm: string, utime: number, stime: number, cutime: number, cstime: number, rss: number): string {
  // fields 3..24: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice threads itreal starttime vsize rss
  return `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 4194560 100 0 0 0 ${utime} ${stime} ${cutime} ${cstime} 20 0 1 0 12345 1000000 ${rss} 18446744073709551615\n`;
}

/** A process table: pid → [mount namespace, utime, stime, cutime, cstime, rss pages]. */
function fakeProc(table: Map<number, [string, number, number, number, number, number]>): ProcFS {
  return {
    pids: () => [...table.keys()],
    stat: (pid) => {
      const p = table.get(pid);
      return p && statLine(pid, 'sh -c (x)', p[1], p[2], p[3], p[4], p[5]);
    },
    mountNamespace: (pid) => table.get(pid)?.[0],
  };
}

describe('process measurements', () => {
  it('reads utime, stime and the reaped children’s times, and rss, past a command name with spaces and parentheses', () => {
    const s = parseStat(statLine(77, 'a) (b c', 150, 50, 7, 3, 321))!;
    assert.deepEqual(s, { pid: 77, cpuTicks: 210, ownTicks: 200, rssPages: 321 });
    assert.equal(parseStat('garbage'), undefined);
  });

  it('gives CPU as nanocores over the window, none without an earlier measurement or when the counter went back', () => {
    assert.equal(usageNanoCores({ t: 0, cpuNs: 0, bytes: 0 }, { t: 15_000, cpuNs: 15e9, bytes: 0 }), 1e9);
    assert.equal(usageNanoCores({ t: 1000, cpuNs: 2e9, bytes: 0 }, { t: 11_000, cpuNs: 4.5e9, bytes: 0 }), 250_000_000);
    assert.equal(usageNanoCores(undefined, { t: 1, cpuNs: 5, bytes: 0 }), undefined);
    assert.equal(usageNanoCores({ t: 5, cpuNs: 9e9, bytes: 0 }, { t: 10, cpuNs: 1e9, bytes: 0 }), undefined);
    assert.equal(usageNanoCores({ t: 5, cpuNs: 0, bytes: 0 }, { t: 5, cpuNs: 1e9, bytes: 0 }), undefined);
  });

  it('sums the node’s parts: the agent’s own rate plus each container’s, one new in the window from zero', () => {
    const rate = nodeNanoCores({ prev: { t: 0, cpuNs: 1e9, bytes: 0 }, cur: { t: 10_000, cpuNs: 2e9, bytes: 0 } }, [
      { prev: { t: 0, cpuNs: 3e9, bytes: 0 }, cur: { t: 10_000, cpuNs: 13e9, bytes: 0 } },
      { cur: { t: 10_000, cpuNs: 1e9, bytes: 0 } },
    ]);
    assert.equal(rate, 1.2e9);
  });
});

describe('the Summary API of a node agent', () => {
  const pod = { uid: 'u1', namespace: 'default', name: 'busy', startTime: '2026-01-01T00:00:00Z' };
  const c = (name: string, pid: number): RunningContainer => ({ pod, name, pid, startTime: '2026-01-01T00:00:01Z' });

  it('measures a container as the processes of its mount namespace, its rate between two measurements', () => {
    // the agent (pid 1) and an unrelated process share the host's namespace; container "loop" is pids 10 and 11
    const table = new Map<number, [string, number, number, number, number, number]>([
      [1, ['mnt:[1]', 100, 20, 5000, 0, 1000]],
      [2, ['mnt:[1]', 9999, 0, 0, 0, 50]],
      [10, ['mnt:[7]', 10, 0, 0, 0, 100]],
      [11, ['mnt:[7]', 0, 0, 4, 0, 156]],
    ]);
    const stats = new StatsCollector({ nodeName: 'n1', agentPid: 1, clkTck: 100, pageSize: 4096 }, fakeProc(table));
    stats.measure([c('loop', 10)], 1_000_000);
    let s = stats.summary();
    assert.equal(s.pods[0]!.containers[0]!.cpu!.usageNanoCores, undefined, 'no rate after one measurement');
    assert.equal(s.pods[0]!.containers[0]!.memory!.workingSetBytes, 256 * 4096);
    assert.equal(s.pods[0]!.containers[0]!.cpu!.usageCoreNanoSeconds, 14 * 10_000_000);
    // 15 s later the loop used 1500 more ticks (one core), the agent 15 (10 m), the unrelated process a lot
    table.set(10, ['mnt:[7]', 1510, 0, 0, 0, 100]);
    table.set(1, ['mnt:[1]', 115, 20, 9000, 0, 1000]);
    table.set(2, ['mnt:[1]', 99999, 0, 0, 0, 50]);
    stats.measure([c('loop', 10)], 1_015_000);
    s = stats.summary();
    assert.equal(s.pods[0]!.containers[0]!.cpu!.usageNanoCores, 1e9);
    assert.equal(s.pods[0]!.cpu!.usageNanoCores, 1e9);
    assert.equal(s.node.cpu!.usageNanoCores, 1e9 + 10_000_000, 'the node is the agent’s own time (not its reaped children’s) and its containers');
    assert.equal(s.node.memory!.workingSetBytes, (1000 + 256) * 4096);
    assert.deepEqual(s.pods[0]!.podRef, { name: 'busy', namespace: 'default', uid: 'u1' });
    assert.deepEqual([s.pods[0]!.containers[0]!.cpu!.windowSeconds, s.pods[0]!.cpu!.windowSeconds, s.node.cpu!.windowSeconds], [15, 15, 15]);
    // a late measurement: the rate is over the real 15.312 s, and says so
    table.set(10, ['mnt:[7]', 3041.2, 0, 0, 0, 100]);
    stats.measure([c('loop', 10)], 1_030_312);
    s = stats.summary();
    assert.equal(s.pods[0]!.containers[0]!.cpu!.windowSeconds, 15.312);
    assert.equal(s.pods[0]!.containers[0]!.cpu!.usageNanoCores, 1e9);
  });

  it('starts a restarted container (another pid) over, and leaves out one still being set up in the host’s namespace', () => {
    const table = new Map<number, [string, number, number, number, number, number]>([
      [1, ['mnt:[1]', 0, 0, 0, 0, 10]],
      [10, ['mnt:[7]', 500, 0, 0, 0, 10]],
      [20, ['mnt:[1]', 0, 0, 0, 0, 10]],
    ]);
    const stats = new StatsCollector({ nodeName: 'n1', agentPid: 1, clkTck: 100, pageSize: 4096 }, fakeProc(table));
    stats.measure([c('a', 10), c('b', 20)], 0);
    table.delete(10);
    table.set(12, ['mnt:[8]', 100, 0, 0, 0, 10]);
    stats.measure([c('a', 12), c('b', 20)], 15_000);
    const s = stats.summary();
    assert.deepEqual(s.pods[0]!.containers.map((x) => x.name), ['a']);
    assert.equal(s.pods[0]!.containers[0]!.cpu!.usageNanoCores, undefined);
  });
});

describe('the Metrics API', () => {
  it('writes quantities in their canonical form, as apimachinery does', () => {
    assert.equal(decimalQuantity(998_123_456, -9), '998123456n');
    assert.equal(decimalQuantity(1_500_000, -9), '1500u');
    assert.equal(decimalQuantity(250_000_000, -9), '250m');
    assert.equal(decimalQuantity(2_000_000_000, -9), '2');
    assert.equal(decimalQuantity(0, -9), '0');
    assert.equal(binaryQuantity(4 * 1024 * 1024), '4Mi');
    assert.equal(binaryQuantity(1_277_952), '1248Ki');
    assert.equal(binaryQuantity(5000), '5000');
  });

  const summary = {
    node: { nodeName: 'n1', cpu: { time: '2026-01-01T00:00:15Z', usageNanoCores: 1_010_000_000, usageCoreNanoSeconds: 5 }, memory: { time: '2026-01-01T00:00:15Z', workingSetBytes: 8 * 1024 * 1024, rssBytes: 0 } },
    pods: [
      {
        podRef: { name: 'busy', namespace: 'default', uid: 'u1' },
        startTime: '2026-01-01T00:00:00Z',
        containers: [{ name: 'loop', startTime: '2026-01-01T00:00:00Z', cpu: { time: '2026-01-01T00:00:15Z', usageNanoCores: 998_123_456, usageCoreNanoSeconds: 1, windowSeconds: 15.012 }, memory: { time: '2026-01-01T00:00:15Z', workingSetBytes: 1_048_576, rssBytes: 0 } }],
      },
      {
        podRef: { name: 'new', namespace: 'default', uid: 'u2' },
        startTime: '2026-01-01T00:00:14Z',
        containers: [{ name: 'c', startTime: '2026-01-01T00:00:14Z', cpu: { time: '2026-01-01T00:00:15Z', usageCoreNanoSeconds: 1 }, memory: { time: '2026-01-01T00:00:15Z', workingSetBytes: 4096, rssBytes: 0 } }],
      },
    ],
  };
  const pod = (name: string, uid: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid, labels: { app: name } }, spec: { containers: [], nodeName: 'n1' } }) as unknown as Pod;

  it('makes PodMetrics of a pod with a rate for each container, and none for a pod measured once', () => {
    assert.deepEqual(podMetrics(pod('busy', 'u1'), summary, 'NOW'), {
      kind: 'PodMetrics',
      apiVersion: 'metrics.k8s.io/v1beta1',
      metadata: { name: 'busy', namespace: 'default', creationTimestamp: 'NOW', labels: { app: 'busy' } },
      timestamp: '2026-01-01T00:00:15Z',
      window: '15.012s',
      containers: [{ name: 'loop', usage: { cpu: '998123456n', memory: '1Mi' } }],
    });
    assert.equal(podMetrics(pod('new', 'u2'), summary, 'NOW'), undefined);
    assert.equal(podMetrics(pod('gone', 'u3'), summary, 'NOW'), undefined);
  });

  it('prints the window as Go prints a Duration', () => {
    assert.deepEqual([15, 15.012, 15.3125, 0.5, 60.5, 3725].map(goDuration), ['15s', '15.012s', '15.3125s', '500ms', '1m0.5s', '1h2m5s']);
  });

  it('makes NodeMetrics with the node’s labels', () => {
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1' } } } as Node;
    const m = nodeMetrics(node, summary, 'NOW')!;
    assert.deepEqual(m.usage, { cpu: '1010m', memory: '8Mi' });
    assert.deepEqual(m.metadata, { name: 'n1', creationTimestamp: 'NOW', labels: { 'kubernetes.io/hostname': 'n1' } });
    assert.equal(nodeMetrics(node, undefined, 'NOW'), undefined);
  });
});
