// Event recording as client-go's recorder does it: the EventCorrelator aggregates similar
// events, turns repeats into count/lastTimestamp patches of the first event, and rate-limits
// per source and object; the recorder writes in order and recreates an event whose patch
// finds it gone. The API server's event TTL sweep goes with them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/api/errors.ts';
import type { Event, KubeObject } from '../../src/api/types.ts';
import { EventCorrelator, EventRecorder, type EventSink } from '../../src/client/events.ts';
import { lastWritten } from '../../src/apiserver/eventttl.ts';
import { parseGoDuration } from '../../src/api/duration.ts';
import { CniError, sandboxSetupError } from '../../src/agent/cni.ts';
import { fitErrorMessage } from '../../src/scheduler/scheduler.ts';
import type { Node, Pod } from '../../src/api/types.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function ev(message: string, o: { reason?: string; name?: string; at?: number } = {}): Event {
  const t = new Date(o.at ?? T0).toISOString().replace('.000Z', 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `web.${message.length}${o.reason ?? ''}`, namespace: 'default' },
    involvedObject: { kind: 'Pod', namespace: 'default', name: o.name ?? 'web', uid: `uid-${o.name ?? 'web'}`, apiVersion: 'v1' },
    reason: o.reason ?? 'Unhealthy',
    message,
    source: { component: 'kubelet', host: 'n1' },
    firstTimestamp: t,
    lastTimestamp: t,
    count: 1,
    type: 'Warning',
  };
}

describe('EventCorrelator', () => {
  it('turns a repeat into a patch of the first event: same name and first timestamp, count and lastTimestamp up', () => {
    let now = T0;
    const c = new EventCorrelator(() => now);
    const first = c.correlate(ev('Readiness probe failed: HTTP probe failed with statuscode: 503'));
    assert.equal(first.skip, false);
    assert.equal(first.patch, undefined);
    now += 10_000;
    const again = c.correlate(ev('Readiness probe failed: HTTP probe failed with statuscode: 503', { at: now }));
    assert.equal(again.event.metadata.name, first.event.metadata.name);
    assert.equal(again.event.firstTimestamp, '2026-01-01T00:00:00Z');
    assert.deepEqual(again.patch, { count: 2, lastTimestamp: '2026-01-01T00:00:10Z', message: 'Readiness probe failed: HTTP probe failed with statuscode: 503' });
    const third = c.correlate(ev('Readiness probe failed: HTTP probe failed with statuscode: 503', { at: now }));
    assert.equal(third.patch?.count, 3);
    // Another message is another event.
    assert.equal(c.correlate(ev('Readiness probe failed: dial tcp 10.244.0.5:8080: connect: connection refused')).patch, undefined);
  });

  it('combines similar events once ten distinct messages came within ten minutes', () => {
    let now = T0;
    const c = new EventCorrelator(() => now);
    const results = Array.from({ length: 12 }, (_, i) => c.correlate(ev(`Created pod: web-${i}`, { reason: 'SuccessfulCreate' })));
    assert.ok(results.slice(0, 9).every((r) => !r.event.message!.startsWith('(combined')), 'nine messages pass as they are');
    const combined = results.slice(9);
    assert.equal(combined[0]!.event.message, '(combined from similar events): Created pod: web-9');
    assert.equal(combined[0]!.patch, undefined);
    // Further ones count on the combined event.
    assert.equal(combined[1]!.event.metadata.name, combined[0]!.event.metadata.name);
    assert.deepEqual(combined[2]!.patch, { count: 3, lastTimestamp: combined[2]!.event.lastTimestamp, message: '(combined from similar events): Created pod: web-11' });
    // Ten minutes of quiet start the count again.
    now += 601_000;
    assert.equal(c.correlate(ev('Created pod: web-12', { reason: 'SuccessfulCreate', at: now })).event.message, 'Created pod: web-12');
  });

  it('lets 25 events of one object through, then one every five minutes; other objects are not held back', () => {
    let now = T0;
    const c = new EventCorrelator(() => now);
    const passed = Array.from({ length: 30 }, (_, i) => c.correlate(ev(`m${i}`, { reason: `R${i}` }))).filter((r) => !r.skip).length;
    assert.equal(passed, 25);
    assert.equal(c.correlate(ev('other', { name: 'db' })).skip, false);
    now += 299_000;
    assert.equal(c.correlate(ev('later', { reason: 'X' })).skip, true);
    now += 1_000;
    assert.equal(c.correlate(ev('later', { reason: 'Y' })).skip, false);
    assert.equal(c.correlate(ev('later', { reason: 'Z' })).skip, true);
  });
});

/** A sink recording what reaches the API, with events it "lost" answering 404 to a patch. */
function fakeSink() {
  const calls: string[] = [];
  const stored = new Map<string, Event>();
  const sink: EventSink = {
    async create(e) {
      calls.push(`POST ${e.metadata.name} count=${e.count}`);
      stored.set(e.metadata.name!, e);
      return e;
    },
    async patch(e, p) {
      calls.push(`PATCH ${e.metadata.name} ${JSON.stringify(p)}`);
      const cur = stored.get(e.metadata.name!);
      if (!cur) throw new ApiError(404, 'NotFound', `events "${e.metadata.name}" not found`);
      const next = { ...cur, ...p };
      stored.set(e.metadata.name!, next);
      return next;
    },
  };
  return { sink, calls, stored };
}

const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', uid: 'u1' } };

describe('EventRecorder', () => {
  it('creates an event once and patches its count after, in order; an event gone meanwhile is created again', async () => {
    const { sink, calls, stored } = fakeSink();
    const r = new EventRecorder(sink, { component: 'kubelet', host: 'n1' });
    void r.record(pod, 'Warning', 'BackOff', 'Back-off restarting failed container app in pod web_default(u1)', 'spec.containers{app}');
    await r.record(pod, 'Warning', 'BackOff', 'Back-off restarting failed container app in pod web_default(u1)', 'spec.containers{app}');
    assert.equal(calls.length, 2);
    assert.match(calls[0]!, /^POST web\.[0-9a-f]+ count=1$/);
    assert.match(calls[1]!, /^PATCH web\.[0-9a-f]+ \{"count":2,"lastTimestamp":"[^"]+","message":"Back-off restarting failed container app in pod web_default\(u1\)"\}$/);
    const [e] = [...stored.values()];
    assert.deepEqual(e!.involvedObject, { kind: 'Pod', namespace: 'default', name: 'web', uid: 'u1', apiVersion: 'v1', resourceVersion: undefined, fieldPath: 'spec.containers{app}' });
    assert.deepEqual([e!.source, e!.reportingComponent, e!.reportingInstance], [{ component: 'kubelet', host: 'n1' }, 'kubelet', 'n1']);
    stored.clear(); // expired at the API server
    await r.record(pod, 'Warning', 'BackOff', 'Back-off restarting failed container app in pod web_default(u1)', 'spec.containers{app}');
    assert.match(calls[2]!, /^PATCH .*"count":3/);
    assert.match(calls[3]!, /^POST web\.[0-9a-f]+ count=3$/);
  });
});

describe('event TTL', () => {
  it('counts from the latest time an Event carries, and --event-ttl reads Go durations', () => {
    const e = ev('x');
    e.lastTimestamp = '2026-01-01T00:05:00Z';
    e.metadata.managedFields = [{ manager: 'kubelet', operation: 'Update', time: '2026-01-01T00:06:00Z' }];
    assert.equal(lastWritten(e), Date.parse('2026-01-01T00:06:00Z'));
    assert.equal(parseGoDuration('1h0m0s'), 3_600_000);
    assert.equal(parseGoDuration('90s'), 90_000);
    assert.equal(parseGoDuration('1.5h'), 5_400_000);
    assert.throws(() => parseGoDuration('1 hour'), /time: invalid duration "1 hour"/);
  });
});

describe('event texts', () => {
  it("FailedScheduling counts each node's reason, sorted, with the preemption verdict", () => {
    const node = (name: string, o: { cidr?: boolean; taint?: string; os?: string } = {}) =>
      ({ metadata: { name, labels: { 'kubernetes.io/os': o.os ?? 'linux' } }, spec: { ...(o.cidr === false ? {} : { podCIDR: '10.244.0.0/24' }), ...(o.taint ? { taints: [{ key: o.taint, effect: 'NoSchedule' }] } : {}) }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }) as Node;
    const pod = { metadata: { name: 'p', namespace: 'default' }, spec: { nodeSelector: { 'kubernetes.io/os': 'windows' }, containers: [] } } as unknown as Pod;
    assert.equal(
      fitErrorMessage(pod, [node('a'), node('b'), node('c', { taint: 'dedicated' }), node('d', { cidr: false })]),
      "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: }, 1 node(s) had untolerated taint {node.kubernetes.io/network-unavailable: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.",
    );
    assert.equal(fitErrorMessage(pod, []), 'no nodes available to schedule pods');
  });

  it('FailedCreatePodSandBox carries the CNI plugin\'s error as containerd words it', () => {
    const e = new CniError('bridge', 11, 'failed to allocate for range 0: no IP addresses available in range set: 10.244.0.1-10.244.0.254', 'podpath');
    assert.equal(
      `Failed to create pod sandbox: ${sandboxSetupError(e, 'u1')}`,
      'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "u1": plugin type="bridge" name="podpath" failed (add): failed to allocate for range 0: no IP addresses available in range set: 10.244.0.1-10.244.0.254',
    );
  });
});
