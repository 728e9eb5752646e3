// kube-apiserver's --event-ttl: Events live an hour after their last write. Upstream puts a
// lease on each write in etcd; here each write of an Event (create or update) sets its
// deadline, a sweep removes those past it, and after a restart an Event's deadline counts from
// the latest time it carries.
import { resourceOf } from '../api/resources.ts';
import type { Event, KubeObject } from '../api/types.ts';
import type { Registry } from './registry.ts';

/** The default of --event-ttl. */
export const defaultEventTTLMs = 60 * 60 * 1000;

const eventsKey = '/events';

/** The latest time an Event carries: when it was last written, as near as a stored Event tells. */
export function lastWritten(e: Event): number {
  const times = [e.lastTimestamp, e.eventTime, e.series?.lastObservedTime, e.firstTimestamp, e.metadata.creationTimestamp, ...(e.metadata.managedFields ?? []).map((f) => f.time)];
  return Math.max(0, ...times.map((t) => Date.parse(t ?? '') || 0));
}

export class EventExpiry {
  /** namespace/name -> deadline (ms) */
  private deadlines = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly sweepMs = Math.min(10_000, Math.max(100, ttlMs / 10)),
  ) {}

  start(): void {
    for (const e of this.registry.store.list(eventsKey)) this.deadlines.set(key(e), lastWritten(e as Event) + this.ttlMs);
    this.registry.store.addWatcher({
      resource: eventsKey,
      deliver: (ev) => {
        if (ev.type === 'DELETED') this.deadlines.delete(key(ev.object));
        else this.deadlines.set(key(ev.object), this.now() + this.ttlMs);
      },
    });
    this.timer = setInterval(() => this.sweep(), this.sweepMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Removes the Events past their deadline; how many went. */
  sweep(): number {
    const rt = resourceOf('', 'events');
    const now = this.now();
    let n = 0;
    for (const [k, deadline] of this.deadlines) {
      if (deadline > now) continue;
      this.deadlines.delete(k);
      const [ns, name] = k.split('/') as [string, string];
      const e = this.registry.tryGet(rt, ns, name);
      if (e) {
        this.registry.removeNow(rt, e);
        n++;
      }
    }
    if (n) void this.registry.store.sync().catch(() => {});
    return n;
  }
}

function key(o: KubeObject): string {
  return `${o.metadata.namespace}/${o.metadata.name}`;
}
