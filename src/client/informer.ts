// An informer: list + watch of one resource into a local cache, with add/update/delete
// handlers, relisting when the watch expires (410) or breaks, as client-go's reflector does.
import type { KubeObject } from '../api/types.ts';
import { collectionPath, type Client } from './client.ts';

export type Handler<T> = { add?(o: T): void; update?(old: T, cur: T): void; delete?(o: T): void };

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

const key = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class Informer<T extends KubeObject = KubeObject> {
  private cache = new Map<string, T>();
  private handlers: Handler<T>[] = [];
  private stopWatch: (() => void) | undefined;
  private stopped = false;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private retry: NodeJS.Timeout | undefined;
  /** lists that failed before the first one succeeded */
  private failures = 0;
  onError: (e: Error) => void = () => {};

  constructor(
    private readonly client: Client,
    readonly apiVersion: string,
    readonly resource: string,
    private readonly opts: InformerOptions = {},
  ) {}

  on(h: Handler<T>): this {
    this.handlers.push(h);
    return this;
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(`${namespace ?? ''}/${name}`);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  start(): void {
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    this.stopWatch?.();
    if (this.retry) clearTimeout(this.retry);
  }

  private query(extra: Record<string, string>): string {
    const q = new URLSearchParams(extra);
    if (this.opts.labelSelector) q.set('labelSelector', this.opts.labelSelector);
    if (this.opts.fieldSelector) q.set('fieldSelector', this.opts.fieldSelector);
    return `${collectionPath(this.apiVersion, this.resource, this.opts.namespace)}?${q}`;
  }

  /**
   * A relist after a second; until the first list succeeds, sooner (100 ms, doubling up to the
   * second): a component starting beside kube-proxy may find the `kubernetes` Service not yet
   * programmed, and a whole second's wait after that was most of a lab pod's time to Ready.
   */
  private later(): void {
    if (this.stopped) return;
    const ms = this.synced ? 1000 : Math.min(1000, 100 * 2 ** this.failures++);
    this.retry = setTimeout(() => void this.relist(), ms);
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    let list: { kind?: string; metadata: { resourceVersion: string }; items: T[] };
    try {
      list = await this.client.get(this.query({}));
    } catch (e) {
      this.onError(e as Error);
      this.later();
      return;
    }
    const fresh = new Map<string, T>();
    // A list's items carry no apiVersion/kind (the list has them); watch events' objects do.
    // The cache holds whole objects either way, so an owner reference made from one is complete.
    const kind = list.kind?.replace(/List$/, '');
    for (const it of list.items) fresh.set(key(it), { ...it, apiVersion: it.apiVersion ?? this.apiVersion, ...(kind && !it.kind ? { kind } : {}) });
    for (const [k, old] of this.cache) if (!fresh.has(k)) this.emit('delete', old);
    for (const [k, cur] of fresh) {
      const old = this.cache.get(k);
      this.cache.set(k, cur);
      if (!old) this.emit('add', cur);
      else if (old.metadata.resourceVersion !== cur.metadata.resourceVersion) this.emit('update', cur, old);
    }
    for (const k of [...this.cache.keys()]) if (!fresh.has(k)) this.cache.delete(k);
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    this.watchFrom(list.metadata.resourceVersion);
  }

  private watchFrom(rv: string): void {
    if (this.stopped) return;
    let last = rv;
    let expired = false;
    this.stopWatch = this.client.watch(
      this.query({ watch: 'true', resourceVersion: rv, allowWatchBookmarks: 'true' }),
      (ev) => {
        if (ev.type === 'ERROR') {
          expired = true;
          return;
        }
        const o = ev.object as T;
        if (o.metadata?.resourceVersion) last = o.metadata.resourceVersion;
        if (ev.type === 'BOOKMARK') return;
        const k = key(o);
        const old = this.cache.get(k);
        if (ev.type === 'DELETED') {
          this.cache.delete(k);
          this.emit('delete', o);
        } else {
          this.cache.set(k, o);
          if (old) this.emit('update', o, old);
          else this.emit('add', o);
        }
      },
      (err) => {
        if (this.stopped) return;
        if (err) this.onError(err);
        if (expired || err) this.later();
        else this.watchFrom(last);
      },
    );
  }

  private emit(kind: 'add' | 'update' | 'delete', o: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        if (kind === 'add') h.add?.(o);
        else if (kind === 'update') h.update?.(old!, o);
        else h.delete?.(o);
      } catch (e) {
        this.onError(e as Error);
      }
    }
  }
}
