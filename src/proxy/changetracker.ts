// Upstream's ServiceChangeTracker and EndpointsChangeTracker: told of every add, update and
// delete, they keep the current Services and each Service's EndpointSlices, and know which
// Services changed since the last sync (and, for slices, when the changes were triggered) so a
// partial sync rewrites only those.
import { serviceKey, sliceServiceKey } from '../api/keys.ts';
import type { EndpointSlice, Service } from '../api/types.ts';

/** Which Services changed since the last sync. */
abstract class ChangeTracker {
  protected readonly changed = new Set<string>();

  /** How many Services changed since the last checkout. */
  get pending(): number {
    return this.changed.size;
  }

  /** The Services changed since the last checkout; the tracker starts over. */
  checkoutChanges(): Set<string> {
    const out = new Set(this.changed);
    this.changed.clear();
    return out;
  }
}

export class ServiceChangeTracker extends ChangeTracker {
  private readonly services = new Map<string, Service>();

  /** An add (no old), update, or delete (no cur). */
  update(old: Service | undefined, cur: Service | undefined): void {
    const s = cur ?? old;
    if (!s) return;
    const key = serviceKey(s.metadata.namespace, s.metadata.name);
    if (cur) this.services.set(key, cur);
    else this.services.delete(key);
    this.changed.add(key);
  }

  get(key: string): Service | undefined {
    return this.services.get(key);
  }

  /** Every current Service's key. */
  keys(): IterableIterator<string> {
    return this.services.keys();
  }
}

const triggerTimeAnnotation = 'endpoints.kubernetes.io/last-change-trigger-time';

/** Its changes are the Services whose EndpointSlices changed. */
export class EndpointSliceChangeTracker extends ChangeTracker {
  /** slices by Service key, then by slice name */
  private readonly slices = new Map<string, Map<string, EndpointSlice>>();
  /** when the changes waiting for a sync were triggered (ms since the epoch) */
  private triggerTimes: number[] = [];

  /** An add (no old), update, or delete (no cur); a slice may move from one Service to another. */
  update(old: EndpointSlice | undefined, cur: EndpointSlice | undefined): void {
    const name = (cur ?? old)?.metadata.name;
    if (name === undefined) return;
    const oldKey = old && sliceServiceKey(old);
    const newKey = cur && sliceServiceKey(cur);
    if (oldKey) {
      this.slices.get(oldKey)?.delete(name);
      this.changed.add(oldKey);
    }
    if (newKey && cur) {
      let m = this.slices.get(newKey);
      if (!m) this.slices.set(newKey, (m = new Map()));
      m.set(name, cur);
      this.changed.add(newKey);
    }
    const trigger = Date.parse(cur?.metadata.annotations?.[triggerTimeAnnotation] ?? '');
    if (!Number.isNaN(trigger)) this.triggerTimes.push(trigger);
  }

  /** The Service's EndpointSlices. */
  slicesFor(key: string): EndpointSlice[] {
    return [...(this.slices.get(key)?.values() ?? [])];
  }

  /** The trigger times of the changes since the last checkout (for the network programming latency). */
  checkoutTriggerTimes(): number[] {
    const out = this.triggerTimes;
    this.triggerTimes = [];
    return out;
  }
}
