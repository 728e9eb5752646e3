// Events about an object, recorded as client-go's EventRecorder (tools/record) records them:
// each event goes through the EventCorrelator — similar events (same object, reason, type,
// differing only in message) are aggregated once there are ten in ten minutes, a repeat of an
// event already written becomes a PATCH of its count, lastTimestamp and message, and a token
// bucket per source and object (burst 25, one more every five minutes) drops a flood — then
// is written (POST, or PATCH) in order by one queue. Best effort: a failed write is dropped.
import type { Event, KubeObject } from '../api/types.ts';
import type { Client } from './client.ts';

export type EventType = 'Normal' | 'Warning';

/** tools/record's defaults. */
export const correlatorDefaults = {
  /** LRU size of each cache */
  cacheSize: 4096,
  /** distinct messages of similar events before they are combined */
  maxEvents: 10,
  maxIntervalSeconds: 600,
  spamBurst: 25,
  /** tokens a second: one every five minutes */
  spamQPS: 1 / 300,
  combinedPrefix: '(combined from similar events): ',
};

/** A map that forgets its least recently used entry past `max` (golang-lru, as client-go uses). */
class Lru<V> {
  private m = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined) {
      this.m.delete(k);
      this.m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
  }
}

const ts = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** client-go's event name: OBJECT.<unix nanoseconds in hex>. */
function eventName(objName: string, ms: number): string {
  return `${objName}.${(BigInt(ms) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n)).toString(16)}`;
}

function ioKey(e: Event): string[] {
  const io = e.involvedObject ?? {};
  return [e.source?.component ?? '', e.source?.host ?? '', io.kind ?? '', io.namespace ?? '', io.name ?? '', io.uid ?? '', io.apiVersion ?? ''];
}

/** getEventKey: everything that makes two events the same one. */
function eventKey(e: Event): string {
  const io = e.involvedObject ?? {};
  return [e.source?.component ?? '', e.source?.host ?? '', io.kind ?? '', io.namespace ?? '', io.name ?? '', io.fieldPath ?? '', io.uid ?? '', io.apiVersion ?? '', e.type ?? '', e.reason ?? '', e.message ?? ''].join('');
}

/** EventAggregatorByReasonFunc: similar events differ only in their message. */
function aggregateKey(e: Event): string {
  return [...ioKey(e), e.type ?? '', e.reason ?? '', e.reportingComponent ?? '', e.reportingInstance ?? ''].join('');
}

export interface CorrelateResult {
  /** the event to write */
  event: Event;
  /** when set, the event exists: PATCH it (strategic merge) with this */
  patch?: { count: number; lastTimestamp: string; message: string };
  /** dropped by the spam filter */
  skip: boolean;
}

/** tools/record's EventCorrelator: aggregator, then logger, then spam filter. */
export class EventCorrelator {
  private aggregates: Lru<{ messages: Set<string>; last: number }>;
  private observed: Lru<{ count: number; firstTimestamp: string; name: string }>;
  private buckets: Lru<{ tokens: number; at: number }>;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly opts = correlatorDefaults,
  ) {
    this.aggregates = new Lru(opts.cacheSize);
    this.observed = new Lru(opts.cacheSize);
    this.buckets = new Lru(opts.cacheSize);
  }

  correlate(input: Event): CorrelateResult {
    const now = this.now();
    // EventAggregate: past maxEvents distinct messages in the interval, one combined event.
    const akey = aggregateKey(input);
    const prevRec = this.aggregates.get(akey);
    const rec = prevRec && now - prevRec.last <= this.opts.maxIntervalSeconds * 1000 ? prevRec : { messages: new Set<string>(), last: now };
    rec.messages.add(input.message ?? '');
    rec.last = now;
    this.aggregates.set(akey, rec);
    let event: Event = structuredClone(input);
    let key = eventKey(input);
    if (rec.messages.size >= this.opts.maxEvents) {
      rec.messages.delete(rec.messages.values().next().value!);
      event = {
        ...event,
        metadata: { name: eventName(input.involvedObject.name ?? '', now), namespace: input.metadata.namespace },
        message: `${this.opts.combinedPrefix}${input.message ?? ''}`,
        count: 1,
        firstTimestamp: ts(now),
        lastTimestamp: ts(now),
      };
      key = akey;
    }
    // eventObserve: a repeat keeps the first one's name and first timestamp and counts up.
    let patch: CorrelateResult['patch'];
    const last = this.observed.get(key);
    if (last) {
      event.metadata = { ...event.metadata, name: last.name };
      event.firstTimestamp = last.firstTimestamp;
      event.count = last.count + 1;
      patch = { count: event.count, lastTimestamp: event.lastTimestamp ?? ts(now), message: event.message ?? '' };
    }
    this.observed.set(key, { count: event.count ?? 1, firstTimestamp: event.firstTimestamp ?? ts(now), name: event.metadata.name! });
    // EventSourceObjectSpamFilter: a token bucket per source and object.
    const skey = ioKey(event).join('');
    const b = this.buckets.get(skey) ?? { tokens: this.opts.spamBurst, at: now };
    b.tokens = Math.min(this.opts.spamBurst, b.tokens + ((now - b.at) / 1000) * this.opts.spamQPS);
    b.at = now;
    const skip = b.tokens < 1;
    if (!skip) b.tokens -= 1;
    this.buckets.set(skey, b);
    return skip ? { event, skip } : { event, skip, ...(patch ? { patch } : {}) };
  }

  /** A written event's count as the server has it (updateState). */
  written(e: Event): void {
    const key = e.message?.startsWith(this.opts.combinedPrefix) ? aggregateKey(e) : eventKey(e);
    const cur = this.observed.get(key);
    if (cur && cur.name === e.metadata.name) this.observed.set(key, { ...cur, count: Math.max(cur.count, e.count ?? 1) });
  }
}

/** Where events go: the API server (the recorder's EventSink). */
export interface EventSink {
  create(e: Event): Promise<Event>;
  patch(e: Event, patch: object): Promise<Event>;
}

export function clientSink(client: Client): EventSink {
  return {
    create: (e) => client.request<Event>('POST', `/api/v1/namespaces/${e.metadata.namespace}/events`, e),
    patch: (e, p) => client.request<Event>('PATCH', `/api/v1/namespaces/${e.metadata.namespace}/events/${e.metadata.name}`, p, 'application/strategic-merge-patch+json'),
  };
}

export interface EventSource {
  /** source.component and reportingComponent (kubelet, default-scheduler, job-controller, …) */
  component: string;
  /** source.host and reportingInstance: the node, for the kubelet */
  host?: string;
}

/** PODPATH_EVENT_RECORDING=off: record nothing (bench/events.ts's reference, a lab without events). */
const recordingOff = process.env.PODPATH_EVENT_RECORDING === 'off';

export class EventRecorder {
  private readonly sink: EventSink;
  private readonly source: EventSource;
  private readonly correlator: EventCorrelator;
  /** writes in order: a PATCH of an event never overtakes its POST */
  private tail: Promise<void> = Promise.resolve();

  constructor(client: Client | EventSink, source: string | EventSource, correlator = new EventCorrelator()) {
    this.sink = 'create' in client ? client : clientSink(client);
    this.source = typeof source === 'string' ? { component: source } : source;
    this.correlator = correlator;
  }

  /** Records an event; the promise settles once it is written (or dropped). */
  record(obj: KubeObject, type: EventType, reason: string, message: string, fieldPath?: string): Promise<void> {
    if (recordingOff) return Promise.resolve();
    const now = Date.now();
    const ns = obj.metadata.namespace ?? 'default';
    const event: Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: eventName(obj.metadata.name ?? '', now), namespace: ns },
      involvedObject: {
        kind: obj.kind,
        namespace: obj.metadata.namespace,
        name: obj.metadata.name,
        uid: obj.metadata.uid,
        apiVersion: obj.apiVersion,
        resourceVersion: obj.metadata.resourceVersion,
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason,
      message,
      source: { component: this.source.component, ...(this.source.host ? { host: this.source.host } : {}) },
      firstTimestamp: ts(now),
      lastTimestamp: ts(now),
      count: 1,
      type,
      reportingComponent: this.source.component,
      reportingInstance: this.source.host ?? '',
    };
    if (!obj.metadata.namespace) delete event.involvedObject.namespace;
    const r = this.correlator.correlate(event);
    if (r.skip) return Promise.resolve();
    this.tail = this.tail.then(() => this.write(r));
    return this.tail;
  }

  private async write(r: CorrelateResult): Promise<void> {
    try {
      let written: Event | undefined;
      if (r.patch) {
        try {
          written = await this.sink.patch(r.event, r.patch);
        } catch (e) {
          // The event expired or was deleted: write it anew, as recordToSink does.
          if ((e as { code?: number }).code !== 404) throw e;
        }
      }
      if (!written) written = await this.sink.create({ ...r.event, metadata: { ...r.event.metadata, resourceVersion: undefined } });
      this.correlator.written(written);
    } catch {
      // best effort, as upstream after its retries
    }
  }
}
