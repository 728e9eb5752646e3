// Watch: a chunked stream of {"type":...,"object":...} lines. Starts from a resourceVersion
// (history replay, or 410 Expired as an ERROR event when history no longer reaches back),
// or from "now" with synthetic ADDED events; follows label/field selectors across updates
// (an object leaving the selection is reported DELETED); sends bookmarks when asked.
import type { ServerResponse } from 'node:http';
import { errors } from '../api/errors.ts';
import { queryBool } from '../api/query.ts';
import { apiVersionOf, type ResourceType } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { includeObjectOf, toTable, type Shape } from './output.ts';
import type { Registry } from './registry.ts';
import type { StoreEvent, Watcher } from './storage/store.ts';

/**
 * How far (in characters of JSON) one watcher may fall behind beyond its initial events. A
 * watcher further behind is closed (upstream closes a cacheWatcher whose buffer stays full), so
 * the client relists and resumes.
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

export function serveWatch(res: ServerResponse, registry: Registry, w: WatchRequest, onClose: (fn: () => void) => void): void {
  const { rt, namespace, query, shape } = w;
  const store = registry.store;
  const resourceKey = `${rt.group}/${rt.resource}`;
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

  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();

  let first = true;
  let closed = false;
  const encode = (type: WireType, obj: unknown, ev?: StoreEvent): string => {
    if (shape.kind === 'table' && (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED')) {
      const o = obj as KubeObject;
      const table = toTable(rt, [o], o.metadata.resourceVersion ?? '', shape.version, include, first);
      first = false;
      return JSON.stringify({ type, object: table }) + '\n';
    }
    if (ev && obj === ev.object) return `{"type":"${type}","object":${eventJson(ev)}}\n`;
    return JSON.stringify({ type, object: obj }) + '\n';
  };
  // Lines wait in a queue while the socket is full, and go out as it drains. A queued event
  // line is a rope over the event's JSON that every watcher shares, so a lagging watcher costs
  // little until it is too far behind; then it is dropped and what it had buffered released.
  // The initial events (the list the client asked for) are exempt from the bound.
  const queue: string[] = [];
  let queued = 0;
  let initialLength = 0;
  let live = false;
  let blocked = false;
  const write = (line: string): void => {
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
  const send = (line: string) => {
    if (closed) return;
    if (!blocked) return write(line);
    queue.push(line);
    queued += line.length;
    if (!live) initialLength += line.length;
    else if (queued > maxQueuedLength + initialLength) drop();
  };

  let startRV: number;
  let replay: StoreEvent[] = [];
  const explicit = rvParam !== '' && rvParam !== '0' && !sendInitial;
  if (explicit) {
    startRV = Number(rvParam);
    const since = store.eventsSince(resourceKey, startRV);
    if (!since) {
      const st = errors.expired(`too old resource version: ${startRV} (${store.oldestResumableRV(resourceKey) + 1})`).status;
      res.end(JSON.stringify({ type: 'ERROR', object: st }) + '\n');
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
    if (type) send(encode(type, ev.object, ev));
  };
  const watcher: Watcher = { resource: resourceKey, deliver };

  if (!explicit) {
    for (const o of store.list(resourceKey, rt.namespaced ? namespace : undefined)) if (match(o)) send(encode('ADDED', o));
    if (sendInitial) {
      send(
        JSON.stringify({
          type: 'BOOKMARK',
          object: { kind: rt.kind, apiVersion: apiVersionOf(rt), metadata: { resourceVersion: String(startRV), annotations: { 'k8s.io/initial-events-end': 'true' } } },
        }) + '\n',
      );
    }
  } else {
    for (const ev of replay) deliver(ev);
  }
  live = true;
  store.addWatcher(watcher);

  const timers: NodeJS.Timeout[] = [];
  const deadline = Date.now() + timeoutMs;
  // As the watch cache's cacheWatcher.nextBookmarkTime: a bookmark about every minute, and one
  // 2 s before the watch times out, so a client resumes from as near now as it can.
  const scheduleBookmark = (): void => {
    const pretimeout = deadline - 2000 - Date.now();
    const next = Math.min(bookmarkFrequencyMs, pretimeout);
    if (next < 0) return;
    timers.push(
      setTimeout(() => {
        send(JSON.stringify({ type: 'BOOKMARK', object: { kind: rt.kind, apiVersion: apiVersionOf(rt), metadata: { resourceVersion: String(store.deliveredRV) } } }) + '\n');
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
