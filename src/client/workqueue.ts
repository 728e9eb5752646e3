// A rate-limited work queue of keys: each key is processed by one sync at a time, a failed
// sync is retried with exponential back-off, and repeated adds of a queued key coalesce.
export class WorkQueue {
  private queued = new Set<string>();
  private running = new Set<string>();
  private dirty = new Set<string>();
  private failures = new Map<string, number>();
  private timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private scheduled = false;

  constructor(
    private readonly sync: (key: string) => Promise<void>,
    private readonly onError: (key: string, e: Error) => void = () => {},
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.queued.add(key);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  addAfter(key: string, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.add(key);
    }, ms);
    this.timers.add(t);
  }

  private drain(): void {
    this.scheduled = false;
    for (const key of [...this.queued]) {
      this.queued.delete(key);
      this.running.add(key);
      this.sync(key)
        .then(() => this.failures.delete(key))
        .catch((e: Error) => {
          const n = (this.failures.get(key) ?? 0) + 1;
          this.failures.set(key, n);
          this.onError(key, e);
          this.addAfter(key, Math.min(5 * 2 ** n, 5000));
        })
        .finally(() => {
          this.running.delete(key);
          if (this.dirty.delete(key)) this.add(key);
        });
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }
}

export function nsName(o: { metadata: { namespace?: string; name?: string } }): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}
