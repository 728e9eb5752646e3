// A long-running component's life in its process: what SIGTERM/SIGINT stop before the process
// exits, and the one full garbage collection once the component has started and gone quiet.
//
// V8 keeps the heap a process grew to while starting (module loading, the informers' first
// lists, the first sync) until its memory reducer gets to it, seconds or minutes later; a seed
// lab's ten processes held about 38 MiB of it when its pods were Ready (bench/lab.ts). One full
// collection when the event loop first goes idle after the start returns it at once. It needs
// --expose-gc (nodeflags.ts gives it to the lab's processes); without it nothing is done.
import { performance } from 'node:perf_hooks';

/** What SIGTERM/SIGINT stop, all of it, before the process exits (a process may run two components). */
const stops: (() => void | Promise<void>)[] = [];

/**
 * Registers what stops a started component. The first registration installs the signal handlers
 * and schedules compactHeapWhenIdle: a component registers once its start has finished.
 */
export function onStop(fn: () => void | Promise<void>): void {
  if (stops.push(fn) > 1) return;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.all(stops.map((f) => f()));
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  compactHeapWhenIdle();
}

export interface IdleOptions {
  /** how often the event loop's utilization is looked at (ms) */
  intervalMs?: number;
  /** the utilization over one interval under which the process counts as idle */
  idleBelow?: number;
  /** collect anyway after this many looks */
  maxLooks?: number;
  /** the collector (default: the global gc of --expose-gc) */
  gc?: () => void;
  /** the event loop's utilization since the previous call (default: perf_hooks'; a fake in tests) */
  sample?: () => number;
}

/** The event loop's utilization between one call and the next. */
function loopUtilization(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return u;
  };
}

/** Runs one full garbage collection the first time an interval passes with the event loop nearly idle (or after maxLooks intervals). */
export function compactHeapWhenIdle(o: IdleOptions = {}): void {
  const gc = o.gc ?? (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  const sample = o.sample ?? loopUtilization();
  const idleBelow = o.idleBelow ?? 0.05;
  const maxLooks = o.maxLooks ?? 120;
  let looks = 0;
  const timer = setInterval(() => {
    if (sample() < idleBelow || ++looks >= maxLooks) {
      clearInterval(timer);
      gc();
    }
  }, o.intervalMs ?? 250);
  timer.unref();
}
