// Completion indexes of Indexed Jobs as the API writes them (status.completedIndexes,
// status.failedIndexes, successPolicy's succeededIndexes): ordered intervals in a compressed
// string, "1,3-5,7" — two neighbours are written "3,4", three or more "3-5". The job
// controller's reading (lenient: a corrupt interval is skipped, indexes past completions are
// cut) and the API server's (strict: the first error, in upstream's words) are both here.

/** A closed interval of indexes, first ≤ last. */
export interface Interval {
  first: number;
  last: number;
}

/** Ordered, non-overlapping, non-adjacent intervals. */
export type Intervals = Interval[];

/** The compressed string of `iv` (orderedIntervals.String). */
export function formatIntervals(iv: Intervals): string {
  return iv.map((v) => (v.last === v.first ? `${v.first}` : `${v.first}${v.last === v.first + 1 ? ',' : '-'}${v.last}`)).join(',');
}

/** How many indexes `iv` holds. */
export function totalIndexes(iv: Intervals): number {
  return iv.reduce((n, v) => n + v.last - v.first + 1, 0);
}

/** Whether `ix` is in `iv`. */
export function hasIndex(iv: Intervals, ix: number): boolean {
  return iv.some((v) => v.first <= ix && ix <= v.last);
}

/** Every index of `iv`, in order. */
export function indexList(iv: Intervals): number[] {
  const out: number[] = [];
  for (const v of iv) for (let i = v.first; i <= v.last; i++) out.push(i);
  return out;
}

const atoi = (s: string): number | undefined => (/^[+-]?\d+$/.test(s) ? Number(s) : undefined);

/**
 * The controller's reading of a status string (parseIndexesFromString): intervals at or past
 * `completions` are dropped or cut, a corrupt one is skipped, adjacent ones merge.
 */
export function parseIntervals(s: string | undefined, completions: number): Intervals {
  if (!s) return [];
  const out: Intervals = [];
  for (const part of s.split(',')) {
    const limits = part.split('-');
    const first = atoi(limits[0]!);
    if (first === undefined) continue;
    if (first >= completions) break;
    let last = first;
    if (limits.length > 1) {
      const l = atoi(limits[1]!);
      if (l === undefined) continue;
      last = Math.min(l, completions - 1);
    }
    const prev = out[out.length - 1];
    if (prev && prev.last === first - 1) prev.last = last;
    else out.push({ first, last });
  }
  return out;
}

/** `iv` with `indexes` (increasing) added (withOrderedIndexes). */
export function withIndexes(iv: Intervals, indexes: number[]): Intervals {
  const out: Intervals = [];
  const add = (v: Interval) => {
    const lastIv = out[out.length - 1];
    if (!lastIv || v.first > lastIv.last + 1) out.push({ ...v });
    else if (lastIv.last < v.last) lastIv.last = v.last;
  };
  let i = 0;
  let j = 0;
  while (i < iv.length && j < indexes.length) {
    if (iv[i]!.first < indexes[j]!) add(iv[i++]!);
    else add({ first: indexes[j]!, last: indexes[j++]! });
  }
  while (i < iv.length) add(iv[i++]!);
  while (j < indexes.length) add({ first: indexes[j]!, last: indexes[j++]! });
  return out;
}

/** Intervals from a set of indexes. */
export function intervalsOf(indexes: Iterable<number>): Intervals {
  return withIndexes([], [...new Set(indexes)].sort((a, b) => a - b));
}

/** The first `count` indexes below `completions` in none of `taken` (firstPendingIndexes). */
export function firstPendingIndexes(taken: Intervals, count: number, completions: number): number[] {
  const out: number[] = [];
  let candidate = 0;
  for (const v of taken) {
    for (; candidate < completions && out.length < count && candidate < v.first; candidate++) out.push(candidate);
    if (candidate < v.last + 1) candidate = v.last + 1;
  }
  for (; candidate < completions && out.length < count; candidate++) out.push(candidate);
  return out;
}

function parseInterval(s: string, completions: number): [number, number] {
  const limits = s.split('-');
  if (limits.length > 2) throw new Error(`the fragment ${JSON.stringify(s)} violates the requirement that an index interval can have at most two parts separated by '-'`);
  const x = atoi(limits[0]!);
  if (x === undefined) throw new Error(`cannot convert string to integer for index: ${JSON.stringify(limits[0])}`);
  if (x >= completions) throw new Error(`too large index: ${JSON.stringify(limits[0])}`);
  if (limits.length === 1) return [x, x];
  const y = atoi(limits[1]!);
  if (y === undefined) throw new Error(`cannot convert string to integer for index: ${JSON.stringify(limits[1])}`);
  if (y >= completions) throw new Error(`too large index: ${JSON.stringify(limits[1])}`);
  if (x >= y) throw new Error(`non-increasing order, previous: ${x}, current: ${y}`);
  return [x, y];
}

/** The API server's check of an index string (validateIndexesFormat): how many indexes it holds, or upstream's error. */
export function validateIndexesFormat(s: string, completions: number): { total: number } | { error: string } {
  if (!s) return { total: 0 };
  let last: number | undefined;
  let total = 0;
  try {
    for (const part of s.split(',')) {
      const [x, y] = parseInterval(part, completions);
      if (last !== undefined && last >= x) throw new Error(`non-increasing order, previous: ${last}, current: ${x}`);
      total += y - x + 1;
      last = y;
    }
  } catch (e) {
    return { error: (e as Error).message };
  }
  return { total };
}
