// Time as the node agent's parts see it. Injected, so unit tests can run back-offs, grace
// periods and probe periods without waiting.

export interface Clock {
  /** milliseconds since the epoch */
  now(): number;
  /** resolves after `ms` */
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** A timestamp as the API writes it (RFC 3339, whole seconds). */
export function apiTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}
