// A long-running component's life in its process: what SIGTERM/SIGINT stop before the process
// exits (a process may run two components, as the controller manager and the scheduler).

/** What SIGTERM/SIGINT stop, all of it, before the process exits (a process may run two components). */
const stops: (() => void | Promise<void>)[] = [];

/** Registers what stops a started component; the first registration installs the signal handlers. */
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
}
