// CronJob schedules as kube-controller-manager reads them (robfig/cron's ParseStandard): five
// fields or an @descriptor, evaluated in spec.timeZone (the controller's local zone, UTC here,
// without one). cron-parser does the field arithmetic; what robfig refuses is refused first,
// in robfig's words, so validation and the controller agree.
import { CronExpressionParser } from 'cron-parser';

export interface Schedule {
  /** the first time strictly after `after` (ms since the epoch) */
  next(after: number): number;
}

const descriptors = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/** time.LoadLocation's verdict on a zone name: undefined when it loads, else Go's error text. */
export function timeZoneError(tz: string): string | undefined {
  if (tz === '' || tz === 'UTC' || tz === 'Local') return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return undefined;
  } catch {
    return `unknown time zone ${tz}`;
  }
}

/** Parses a schedule; throws an Error whose message is what upstream's validation reports. */
export function parseSchedule(schedule: string, timeZone?: string): Schedule {
  const spec = schedule.trim();
  if (spec.startsWith('@')) {
    if (!descriptors.has(spec)) throw new Error(`unrecognized descriptor: ${spec}`);
  } else {
    const fields = spec.split(/\s+/).filter(Boolean);
    if (fields.length !== 5) throw new Error(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
  }
  const tz = timeZone || 'UTC';
  const tzErr = timeZoneError(tz);
  if (tzErr) throw new Error(tzErr);
  try {
    CronExpressionParser.parse(spec, { tz, currentDate: new Date(0) });
  } catch (e) {
    throw new Error((e as Error).message);
  }
  return {
    next(after: number): number {
      // cron-parser's next() is strictly after currentDate at second precision; schedules have minute precision.
      return CronExpressionParser.parse(spec, { tz, currentDate: new Date(after) }).next().getTime();
    },
  };
}

/**
 * The schedule times in (`since`, `now`], as the cronjob controller's mostRecentScheduleTime
 * counts them: the latest one, and how many there were (it stops counting past `limit`).
 */
export function missedTimes(s: Schedule, since: number, now: number, limit = 100): { latest?: number; count: number } {
  let t = s.next(since);
  let latest: number | undefined;
  let count = 0;
  while (t <= now && count <= limit) {
    latest = t;
    count++;
    t = s.next(t);
  }
  return latest === undefined ? { count } : { latest, count };
}
