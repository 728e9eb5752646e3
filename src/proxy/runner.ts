// Upstream's BoundedFrequencyRunner: a sync runs as soon as it is asked for, as long as a token
// is available; tokens come back one per minInterval, up to `burst` (kube-proxy uses 2), so a
// change right after a sync is not held back, but a stream of changes is batched into at most
// one sync per minInterval. Requests made while a sync is due are merged into it.

export class BoundedFrequencyRunner {
  private tokens: number;
  private last: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly fn: () => void,
    private readonly minIntervalMs: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
    private readonly schedule: (fn: () => void, ms: number) => NodeJS.Timeout = (fn, ms) => setTimeout(fn, ms),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    if (this.minIntervalMs > 0) this.tokens = Math.min(this.burst, this.tokens + (t - this.last) / this.minIntervalMs);
    else this.tokens = this.burst;
    this.last = t;
  }

  /** Asks for a run: now (on the next turn of the event loop) if a token is left, else when one comes back. */
  run(): void {
    if (this.timer) return;
    this.refill();
    const wait = this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) * this.minIntervalMs);
    this.timer = this.schedule(() => {
      this.timer = undefined;
      this.refill();
      this.tokens = Math.max(0, this.tokens - 1);
      this.fn();
    }, wait);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
