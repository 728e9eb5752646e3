// The API server's object store: every object of every resource, one global
// resourceVersion (like etcd's revision), a bounded history per resource for watch
// resumption, and watchers that receive events once the write is durable.
//
// Node runs handlers on one thread, so a read followed by a write with no `await`
// between them is atomic; handlers rely on that instead of locks.
import type { KubeObject } from '../../api/types.ts';
import { Wal } from './wal.ts';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  rv: number;
  resource: string;
  object: KubeObject;
  /** the object before this change (MODIFIED and DELETED) */
  prev?: KubeObject;
}

export interface Watcher {
  resource: string;
  deliver(ev: StoreEvent): void;
}

export interface StoreOptions {
  /** events kept per resource for watch resumption */
  historyLimit?: number;
  /** compact the log once it exceeds this many bytes */
  compactBytes?: number;
  /** told about storage trouble the store lives through (failed compactions) */
  log?: (line: string) => void;
  /** write without fdatasync (wal.ts: etcd's --unsafe-no-fsync) */
  unsafeNoFsync?: boolean;
}

/**
 * A resource's recent events, oldest first. Dropping the oldest is O(1): its slot is cleared and
 * the cleared head is cut off in one copy once it is as long as what is kept (a splice per
 * write moved the whole history, 20,000 entries, on every write).
 */
class History {
  private events: (StoreEvent | undefined)[] = [];
  private first = 0;
  /** all events with rv > startRV are kept */
  startRV: number;
  constructor(startRV: number) {
    this.startRV = startRV;
  }

  push(ev: StoreEvent, limit: number): void {
    this.events.push(ev);
    while (this.events.length - this.first > limit) {
      this.startRV = this.events[this.first]!.rv;
      this.events[this.first++] = undefined;
    }
    if (this.first > 0 && this.first >= limit) {
      this.events = this.events.slice(this.first);
      this.first = 0;
    }
  }

  /** The kept events that satisfy `keep`, oldest first. */
  filter(keep: (e: StoreEvent) => boolean): StoreEvent[] {
    const out: StoreEvent[] = [];
    for (let i = this.first; i < this.events.length; i++) {
      const e = this.events[i]!;
      if (keep(e)) out.push(e);
    }
    return out;
  }

  /** Forgets `undone` events (a rolled-back batch). */
  forget(undone: Set<StoreEvent>): void {
    this.events = this.filter((e) => !undone.has(e));
    this.first = 0;
  }
}

export function objectKey(resource: string, namespace: string | undefined, name: string): string {
  return `${resource}/${namespace ?? ''}/${name}`;
}

export class Store {
  private objects: Map<string, KubeObject>;
  private byResource = new Map<string, Map<string, KubeObject>>();
  private histories = new Map<string, History>();
  private watchers = new Map<string, Set<Watcher>>();
  private undelivered: StoreEvent[] = [];
  private rollBackListeners: ((undone: StoreEvent[]) => void)[] = [];
  private rv: number;
  /** the resourceVersion the store opened at: watch history reaches back no further */
  private readonly openedRV: number;
  private readonly historyLimit: number;
  private readonly compactBytes: number;

  constructor(
    private readonly wal: Wal | null,
    initial: { rv: number; objects: Map<string, KubeObject> } = { rv: 0, objects: new Map() },
    opts: StoreOptions = {},
  ) {
    this.rv = initial.rv;
    this.openedRV = initial.rv;
    this.objects = initial.objects;
    this.historyLimit = opts.historyLimit ?? 20000;
    this.compactBytes = opts.compactBytes ?? 64 * 1024 * 1024;
    for (const [key, obj] of this.objects) this.table(resourceOfKey(key)).set(key, obj);
    if (wal) {
      wal.onDurable = () => this.deliver();
      wal.onFailed = () => this.rollBack();
      if (opts.log) wal.log = opts.log;
    }
  }

  static open(dataDir: string, opts: StoreOptions = {}): Store {
    const { wal, state } = Wal.open(dataDir, { unsafeNoFsync: opts.unsafeNoFsync ?? false });
    return new Store(wal, state, opts);
  }

  get resourceVersion(): number {
    return this.rv;
  }

  private table(resource: string): Map<string, KubeObject> {
    let t = this.byResource.get(resource);
    if (!t) {
      t = new Map();
      this.byResource.set(resource, t);
    }
    return t;
  }

  private history(resource: string): History {
    let h = this.histories.get(resource);
    if (!h) {
      // A resource with no history yet has seen no change since this process started: it resumes
      // from any resourceVersion since then, not only from now (a write that creates the history
      // after a client listed must not make that list's resourceVersion too old).
      h = new History(this.openedRV);
      this.histories.set(resource, h);
    }
    return h;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(objectKey(resource, namespace, name));
  }

  /** All objects of a resource, optionally in one namespace, ordered by namespace then name. */
  list(resource: string, namespace?: string): KubeObject[] {
    const t = this.byResource.get(resource);
    if (!t) return [];
    const prefix = namespace === undefined ? undefined : `${resource}/${namespace}/`;
    const out: KubeObject[] = [];
    for (const [key, obj] of t) if (prefix === undefined || key.startsWith(prefix)) out.push(obj);
    out.sort(compareObjects);
    return out;
  }

  count(resource: string): number {
    return this.byResource.get(resource)?.size ?? 0;
  }

  /**
   * Stores `obj` (created or replaced), stamping the next resourceVersion into it.
   * The caller owns `obj` from here on only for reading.
   */
  put(resource: string, obj: KubeObject): KubeObject {
    const key = objectKey(resource, obj.metadata.namespace, obj.metadata.name!);
    const prev = this.objects.get(key);
    const rv = ++this.rv;
    obj.metadata.resourceVersion = String(rv);
    this.objects.set(key, obj);
    this.table(resource).set(key, obj);
    this.wal?.append({ rv, op: 'put', key, obj });
    this.record({ type: prev ? 'MODIFIED' : 'ADDED', rv, resource, object: obj, ...(prev ? { prev } : {}) });
    return obj;
  }

  /** Removes an object; the DELETED event carries its last state at a new resourceVersion. */
  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const key = objectKey(resource, namespace, name);
    const prev = this.objects.get(key);
    if (!prev) return undefined;
    const rv = ++this.rv;
    const last: KubeObject = { ...prev, metadata: { ...prev.metadata, resourceVersion: String(rv) } };
    this.objects.delete(key);
    this.table(resource).delete(key);
    this.wal?.append({ rv, op: 'del', key });
    this.record({ type: 'DELETED', rv, resource, object: last, prev });
    return last;
  }

  private record(ev: StoreEvent): void {
    this.history(ev.resource).push(ev, this.historyLimit);
    this.undelivered.push(ev);
    if (!this.wal) queueMicrotask(() => this.deliver());
  }

  /** Resolves when every write so far is durable (and its watch events delivered). */
  sync(): Promise<void> {
    return this.wal ? this.wal.sync() : Promise.resolve();
  }

  private deliver(): void {
    const evs = this.undelivered;
    if (evs.length === 0) return;
    this.undelivered = [];
    for (const ev of evs) {
      const ws = this.watchers.get(ev.resource);
      if (!ws) continue;
      for (const w of ws) w.deliver(ev);
    }
    if (this.wal && this.wal.size > this.compactBytes && !this.wal.compacting) void this.wal.compact(this.rv, this.objects);
  }

  /**
   * Undoes the writes of a batch the log could not take (a full disk): their writers get an
   * error, no watcher sees them, and the next write reuses their resourceVersions.
   */
  private rollBack(): void {
    const evs = this.undelivered;
    if (evs.length === 0) return;
    this.undelivered = [];
    const undone = new Set(evs);
    for (let i = evs.length - 1; i >= 0; i--) {
      const ev = evs[i]!;
      const key = objectKey(ev.resource, ev.object.metadata.namespace, ev.object.metadata.name!);
      if (ev.prev) {
        this.objects.set(key, ev.prev);
        this.table(ev.resource).set(key, ev.prev);
      } else {
        this.objects.delete(key);
        this.table(ev.resource).delete(key);
      }
    }
    for (const resource of new Set(evs.map((e) => e.resource))) {
      this.history(resource).forget(undone);
    }
    this.rv = evs[0]!.rv - 1;
    const newestFirst = evs.slice().reverse();
    for (const l of this.rollBackListeners) l(newestFirst);
  }

  /**
   * Tells `listener` about the writes of every batch that is undone (newest first), once the
   * store holds what it held before them and before their writers get the error: what was
   * derived from those writes outside the store (allocations) is undone there too.
   */
  onRolledBack(listener: (undone: StoreEvent[]) => void): void {
    this.rollBackListeners.push(listener);
  }

  /**
   * Events of `resource` after `fromRV` that are still in history, or `undefined` when
   * history no longer reaches back that far (the caller answers 410 Expired).
   */
  eventsSince(resource: string, fromRV: number): StoreEvent[] | undefined {
    const h = this.history(resource);
    if (fromRV < h.startRV) return undefined;
    // Events not yet durable are delivered live, not replayed.
    const pending = new Set(this.undelivered);
    return h.filter((e) => e.rv > fromRV && !pending.has(e));
  }

  oldestResumableRV(resource: string): number {
    return this.history(resource).startRV;
  }

  /** The newest resourceVersion whose events have all been delivered. */
  get deliveredRV(): number {
    return this.undelivered.length ? this.undelivered[0]!.rv - 1 : this.rv;
  }

  addWatcher(w: Watcher): void {
    let set = this.watchers.get(w.resource);
    if (!set) {
      set = new Set();
      this.watchers.set(w.resource, set);
    }
    set.add(w);
  }

  removeWatcher(w: Watcher): void {
    this.watchers.get(w.resource)?.delete(w);
  }

  watcherCount(): number {
    let n = 0;
    for (const s of this.watchers.values()) n += s.size;
    return n;
  }

  close(): void {
    this.wal?.close();
  }
}

function resourceOfKey(key: string): string {
  // key = group/resource/namespace/name; group may be empty
  const parts = key.split('/');
  return `${parts[0]}/${parts[1]}`;
}

function compareObjects(a: KubeObject, b: KubeObject): number {
  const an = a.metadata.namespace ?? '';
  const bn = b.metadata.namespace ?? '';
  if (an !== bn) return an < bn ? -1 : 1;
  const a2 = a.metadata.name ?? '';
  const b2 = b.metadata.name ?? '';
  return a2 < b2 ? -1 : a2 > b2 ? 1 : 0;
}
