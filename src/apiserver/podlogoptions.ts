// PodLogOptions (pods/{name}/log) as kube-apiserver reads them: decoded from the query (a value
// that does not convert is a 400 with Go's own error text), validated (422, kind PodLogOptions),
// and re-encoded for the kubelet's /containerLogs as the API server's LogLocation does.
import { errors, field, goQuote, Path, type FieldError } from '../api/errors.ts';
import { queryBool } from '../api/query.ts';

export interface PodLogOptions {
  container?: string;
  follow: boolean;
  previous: boolean;
  sinceSeconds?: bigint;
  /** RFC3339, normalized to seconds (as the API server formats it for the kubelet) */
  sinceTime?: string;
  timestamps: boolean;
  tailLines?: bigint;
  limitBytes?: bigint;
}

const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;

/** Go's strconv.ParseInt(s, 10, 64), with its error text. */
export function parseInt64(s: string): bigint | { error: string } {
  if (!/^[+-]?\d+$/.test(s)) return { error: `strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax` };
  const v = BigInt(s);
  if (v < int64Min || v > int64Max) return { error: `strconv.ParseInt: parsing ${goQuote(s)}: value out of range` };
  return v;
}

const rfc3339 = '2006-01-02T15:04:05Z07:00';
const isDigit = (s: string, i: number) => i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;

/**
 * Go's time.Parse(time.RFC3339, s): the time normalized to whole seconds in its own zone
 * (`Z` for UTC), or Go's ParseError text.
 */
export function parseRFC3339(s: string): { time: string; ms: number } | { error: string } {
  const bad = (valueElem: string, layoutElem: string) => ({ error: `parsing time ${goQuote(s)} as ${goQuote(rfc3339)}: cannot parse ${goQuote(valueElem)} as ${goQuote(layoutElem)}` });
  const outOfRange = (what: string) => ({ error: `parsing time ${goQuote(s)}: ${what} out of range` });
  let v = s;
  const num: Record<string, number> = {};
  // [literal before the element, element, fixed two digits]
  const steps: [string, string, boolean][] = [['', '2006', true], ['-', '01', true], ['-', '02', true], ['T', '15', false], [':', '04', true], [':', '05', true]];
  for (const [literal, elem] of steps) {
    for (const ch of literal) {
      if (v[0] !== ch) return bad(v, literal);
      v = v.slice(1);
    }
    const hold = v;
    if (elem === '2006') {
      if (v.length < 4 || ![0, 1, 2, 3].every((i) => isDigit(v, i))) return bad(hold, elem);
      num[elem] = Number(v.slice(0, 4));
      v = v.slice(4);
      continue;
    }
    // getnum: one or two digits (two required unless the element is the hour)
    if (!isDigit(v, 0)) return bad(hold, elem);
    if (!isDigit(v, 1)) {
      if (elem !== '15') return bad(hold, elem);
      num[elem] = Number(v[0]);
      v = v.slice(1);
    } else {
      num[elem] = Number(v.slice(0, 2));
      v = v.slice(2);
    }
    const limits: Record<string, [number, number, string]> = { '01': [1, 12, 'month'], '15': [0, 23, 'hour'], '04': [0, 59, 'minute'], '05': [0, 59, 'second'] };
    const lim = limits[elem];
    if (lim && (num[elem]! < lim[0] || num[elem]! > lim[1])) return outOfRange(lim[2]);
  }
  // A fractional second the layout does not have is read all the same.
  let frac = 0;
  if (v.length >= 2 && (v[0] === '.' || v[0] === ',') && isDigit(v, 1)) {
    let n = 2;
    while (isDigit(v, n)) n++;
    frac = Number(`0.${v.slice(1, Math.min(n, 10))}`);
    v = v.slice(n);
  }
  let zone = 'Z';
  let offsetMin = 0;
  if (v[0] === 'Z') v = v.slice(1);
  else {
    if (v.length < 6 || v[3] !== ':' || !isDigit(v, 1) || !isDigit(v, 2) || !isDigit(v, 4) || !isDigit(v, 5) || (v[0] !== '+' && v[0] !== '-')) return bad(v, 'Z07:00');
    const hh = Number(v.slice(1, 3));
    const mm = Number(v.slice(4, 6));
    if (hh > 24) return outOfRange('time zone offset hour');
    if (mm > 60) return outOfRange('time zone offset minute');
    offsetMin = (v[0] === '-' ? -1 : 1) * (hh * 60 + mm);
    zone = offsetMin === 0 ? 'Z' : v.slice(0, 6);
    v = v.slice(6);
  }
  if (v.length) return { error: `parsing time ${goQuote(s)}: extra text: ${goQuote(v)}` };
  const [year, month, day] = [num['2006']!, num['01']!, num['02']!];
  const daysIn = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysIn) return outOfRange('day');
  const ms = Date.UTC(year, month - 1, day, num['15']!, num['04']!, num['05']!) - offsetMin * 60_000 + Math.floor(frac * 1000);
  const p2 = (n: number) => String(n).padStart(2, '0');
  return { time: `${String(year).padStart(4, '0')}-${p2(month)}-${p2(day)}T${p2(num['15']!)}:${p2(num['04']!)}:${p2(num['05']!)}${zone}`, ms };
}

/** The options of a pods/log request; throws 400 BadRequest for a value that does not convert. */
export function decodePodLogOptions(q: URLSearchParams): PodLogOptions {
  const o: PodLogOptions = { follow: queryBool(q, 'follow'), previous: queryBool(q, 'previous'), timestamps: queryBool(q, 'timestamps') };
  const container = q.get('container');
  if (container) o.container = container;
  for (const name of ['sinceSeconds', 'tailLines', 'limitBytes'] as const) {
    const v = q.get(name);
    if (v === null) continue;
    const n = parseInt64(v);
    if (typeof n !== 'bigint') throw errors.badRequest(n.error);
    o[name] = n;
  }
  const since = q.get('sinceTime');
  // An empty sinceTime is the zero time, which cuts nothing off.
  if (since !== null && since !== '' && since !== 'null') {
    const t = parseRFC3339(since);
    if ('error' in t) throw errors.badRequest(t.error);
    o.sinceTime = t.time;
  } else if (since !== null) o.sinceTime = '0001-01-01T00:00:00Z';
  return o;
}

/** ValidatePodLogOptions. */
export function validatePodLogOptions(o: PodLogOptions): FieldError[] {
  const errs: FieldError[] = [];
  if (o.tailLines !== undefined && o.tailLines < 0n) errs.push(field.invalid(Path.root('tailLines'), o.tailLines, 'must be greater than or equal to 0'));
  if (o.limitBytes !== undefined && o.limitBytes < 1n) errs.push(field.invalid(Path.root('limitBytes'), o.limitBytes, 'must be greater than 0'));
  if (o.sinceSeconds !== undefined && o.sinceTime !== undefined) errs.push(field.forbidden(Path.root(''), 'at most one of `sinceTime` or `sinceSeconds` may be specified'));
  else if (o.sinceSeconds !== undefined && o.sinceSeconds < 1n) errs.push(field.invalid(Path.root('sinceSeconds'), o.sinceSeconds, 'must be greater than 0'));
  return errs;
}

/** The query the API server sends the kubelet: booleans only when true, numbers in decimal, sinceTime in RFC3339. */
export function kubeletLogQuery(o: PodLogOptions): URLSearchParams {
  const q = new URLSearchParams();
  if (o.follow) q.set('follow', 'true');
  if (o.previous) q.set('previous', 'true');
  if (o.timestamps) q.set('timestamps', 'true');
  if (o.sinceSeconds !== undefined) q.set('sinceSeconds', String(o.sinceSeconds));
  if (o.sinceTime !== undefined) q.set('sinceTime', o.sinceTime);
  if (o.tailLines !== undefined) q.set('tailLines', String(o.tailLines));
  if (o.limitBytes !== undefined) q.set('limitBytes', String(o.limitBytes));
  return q;
}
