// Watch: a chunked stream of {"type":...,"object":...} lines, or for a protobuf client
// length-framed WatchEvents (protobuf.ts watchEventFrame). Starts from a resourceVersion
// (history replay, or 410 Expired as an ERROR event when history no longer reaches back),
// or from "now" with synthetic ADDED events; follows label/field selectors across updates
// (an object leaving the selection is reported DELETED); sends bookmarks when asked.
import type { ServerResponse } from 'node:http';
import { errors } from '../api/errors.ts';
import { queryBool } from '../api/query.ts';
import { apiVersionOf, asServed, storeKey, type ResourceType } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { Shape } from './negotiation.ts';
import { includeObjectOf, partialMetadata, toTable } from './output.ts';
import { encodeResponseObject, ProtoError, protobufMediaType, watchEventFrame } from './protobuf.ts';
import type { Registry } from './registry.ts';
import { outward } from './views.ts';
import type { StoreEvent, Watcher } from './storage/store.ts';

/**
 * How far (in characters of JSON, or bytes of protobuf) one watcher may fall behind beyond its
 * initial events. A watcher further behind is closed (upstream closes a cacheWatcher whose
 * buffer stays full), so the client relists and resumes.
 */
const maxQueuedLength = 16 * 1024 * 1024;
const maxTimerMs = 2 ** 31 - 1;
const bookmarkFrequencyMs = 60_000;

export interface WatchRequest {
  rt: ResourceType;
  namespace?: string;
  query: URLSearchParams;
  shape: Shape;
}

type WireType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
/** One event as written: a JSON line, or a protobuf frame. */
type Chunk = string | Buffer;

export function serveWatch(res: ServerResponse, registry: Registry, w: WatchRequest, onClose: (fn: () => void) => void): void {
  const { rt, namespace, query, shape } = w;
  const store = registry.store;
  const resourceKey = storeKey(rt);
  const match = registry.matcher(rt, query);
  const inScope = (o: KubeObject) => !rt.namespaced || namespace === undefined || o.metadata.namespace === namespace;
  const selected = (o: KubeObject | undefined) => o !== undefined && inScope(o) && match(o);
  const include = shape.kind === 'table' ? includeObjectOf(query) : 'Metadata';
  const rvParam = query.get('resourceVersion') ?? '';
  const sendInitial = queryBool(query, 'sendInitialEvents');
  const bookmarks = queryBool(query, 'allowWatchBookmarks');
  const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '') || 1800 + Math.floor(Math.random() * 1800);
  // Node fires a longer timer at once (TimeoutOverflowWarning): such a watch simply lasts the longest a timer can wait.
  const timeoutMs = Math.min(timeoutSeconds * 1000, maxTimerMs);

  if (rvParam !== '' && rvParam !== '0' && !/^\d+$/.test(rvParam)) throw errors.badRequest(`invalid resource version: ${rvParam}`);

  const protobuf = shape.kind !== 'table' && shape.format === 'protobuf';
  // apiserver's watch handler: the stream media type with ";stream=watch", but JSON's as is.
  res.writeHead(200, { 'Content-Type': protobuf ? `${protobufMediaType};stream=watch` : 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();

  let first = true;
  let closed = false;
  const encode = (type: WireType, stored: unknown, ev?: StoreEvent): Chunk => {
    const isObject = type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED';
    // A custom object watched at a version other than its storage version: its own line.
    let obj = isObject ? asServed(rt, stored as KubeObject) : stored;
    if (shape.kind === 'table' && isObject) {
      const o = obj as KubeObject;
      const table = toTable(rt, [o], o.metadata.resourceVersion ?? '', shape.version, include, first);
      first = false;
      return JSON.stringify({ type, object: table }) + '\n';
    }
    // A view's objects (events.k8s.io Events) are converted: a line of their own too.
    if (rt.storage && isObject && shape.kind === 'object') obj = outward(rt, obj as KubeObject);
    // As the embedded encoder's PartialObjectMetadata transform: only the metadata travels.
    const body = shape.kind === 'metadata' && type !== 'ERROR' ? partialMetadata(obj as KubeObject, shape.version) : obj;
    if (protobuf) {
      const env = ev && obj === ev.object && shape.kind === 'object' ? eventProto(ev) : encodeResponseObject(body as Record<string, unknown>);
      return watchEventFrame(type, env);
    }
    if (ev && obj === ev.object && shape.kind === 'object') return `{"type":"${type}","object":${eventJson(ev)}}\n`;
    return JSON.stringify({ type, object: body }) + '\n';
  };
  // Lines wait in a queue while the socket is full, and go out as it drains. A queued event
  // line is a rope over the event's JSON that every watcher shares, so a lagging watcher costs
  // little until it is too far behind; then it is dropped and what it had buffered released.
  // (A protobuf frame copies the shared envelope; the same bound holds it.) The initial events
  // (the list the client asked for) are exempt from the bound.
  const queue: Chunk[] = [];
  let queued = 0;
  let initialLength = 0;
  let live = false;
  let blocked = false;
  const write = (line: Chunk): void => {
    if (!res.write(line) && !blocked) {
      blocked = true;
      res.once('drain', drain);
    }
  };
  const drain = (): void => {
    blocked = false;
    while (queue.length && !blocked && !closed) {
      const line = queue.shift()!;
      queued -= line.length;
      write(line);
    }
    if (!queue.length) initialLength = 0;
  };
  const send = (line: Chunk) => {
    if (closed) return;
    if (!blocked) return write(line);
    queue.push(line);
    queued += line.length;
    if (!live) initialLength += line.length;
    else if (queued > maxQueuedLength + initialLength) drop();
  };
  /**
   * Sends one event. An object protobuf cannot carry (a field the table lacks) ends the watch
   * with an ERROR event, as a failed encode ends upstream's; the client relists.
   */
  const emit = (type: WireType, obj: unknown, ev?: StoreEvent): void => {
    if (closed) return;
    let chunk: Chunk;
    try {
      chunk = encode(type, obj, ev);
    } catch (e) {
      if (!(e instanceof ProtoError)) throw e;
      send(encode('ERROR', errors.internal(`unable to encode watch event as protobuf: ${e.message}`).status));
      return close();
    }
    send(chunk);
  };

  let startRV: number;
  let replay: StoreEvent[] = [];
  const explicit = rvParam !== '' && rvParam !== '0' && !sendInitial;
  if (explicit) {
    startRV = Number(rvParam);
    const since = store.eventsSince(resourceKey, startRV);
    if (!since) {
      const st = errors.expired(`too old resource version: ${startRV} (${store.oldestResumableRV(resourceKey) + 1})`).status;
      res.end(encode('ERROR', st));
      return;
    }
    replay = since;
  } else {
    startRV = store.resourceVersion;
  }

  const deliver = (ev: StoreEvent) => {
    if (ev.rv <= startRV) return;
    const isNow = selected(ev.object);
    const wasBefore = ev.type === 'ADDED' ? false : selected(ev.prev);
    let type: WireType | undefined;
    if (ev.type === 'ADDED') type = isNow ? 'ADDED' : undefined;
    else if (ev.type === 'DELETED') type = wasBefore || isNow ? 'DELETED' : undefined;
    else if (isNow && wasBefore) type = 'MODIFIED';
    else if (isNow) type = 'ADDED';
    else if (wasBefore) type = 'DELETED';
    if (type) emit(type, ev.object, ev);
  };
  const watcher: Watcher = { resource: resourceKey, deliver };
  const timers: NodeJS.Timeout[] = [];

  if (!explicit) {
    for (const o of store.list(resourceKey, rt.namespaced ? namespace : undefined)) if (match(o)) emit('ADDED', o);
    if (sendInitial) {
      emit('BOOKMARK', { kind: rt.kind, apiVersion: apiVersionOf(rt), metadata: { resourceVersion: String(startRV), annotations: { 'k8s.io/initial-events-end': 'true' } } });
    }
  } else {
    for (const ev of replay) deliver(ev);
  }
  // An event that could not be encoded ended the watch already.
  if (closed) return;
  live = true;
  store.addWatcher(watcher);

  const deadline = Date.now() + timeoutMs;
  // As the watch cache's cacheWatcher.nextBookmarkTime: a bookmark about every minute, and one
  // 2 s before the watch times out, so a client resumes from as near now as it can.
  const scheduleBookmark = (): void => {
    const pretimeout = deadline - 2000 - Date.now();
    const next = Math.min(bookmarkFrequencyMs, pretimeout);
    if (next < 0) return;
    timers.push(
      setTimeout(() => {
        emit('BOOKMARK', { kind: rt.kind, apiVersion: apiVersionOf(rt), metadata: { resourceVersion: String(store.deliveredRV) } });
        if (next < pretimeout) scheduleBookmark();
      }, next),
    );
  };
  if (bookmarks) scheduleBookmark();
  timers.push(setTimeout(() => close(), timeoutMs));
  function stop(): boolean {
    if (closed) return false;
    closed = true;
    store.removeWatcher(watcher);
    for (const t of timers) clearTimeout(t);
    return true;
  }
  function close() {
    if (stop()) res.end();
  }
  /** Closes a watcher that stopped reading, releasing what it had buffered. */
  function drop() {
    if (!stop()) return;
    queue.length = 0;
    res.destroy();
  }
  onClose(close);
}

const jsonCache = new WeakMap<StoreEvent, string>();

/** An event's object serialized once, however many watchers receive it. */
function eventJson(ev: StoreEvent): string {
  let s = jsonCache.get(ev);
  if (s === undefined) {
    s = JSON.stringify(ev.object);
    jsonCache.set(ev, s);
  }
  return s;
}

const protoCache = new WeakMap<StoreEvent, Buffer>();

/** An event's object as a protobuf envelope, encoded once however many watchers receive it. */
function eventProto(ev: StoreEvent): Buffer {
  let b = protoCache.get(ev);
  if (b === undefined) {
    b = encodeResponseObject(ev.object as unknown as Record<string, unknown>);
    protoCache.set(ev, b);
  }
  return b;
}
