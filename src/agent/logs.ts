// The kubelet's /containerLogs endpoint, which the API server proxies `kubectl logs` to: a
// container's CRI log (crilog.ts) rendered as the kubelet's ReadLogs does — the current or the
// previous instance, its last tailLines, lines since a time, each with its timestamp, at most
// limitBytes — and with follow what is appended while the container runs. Errors are the
// kubelet's texts (the API server passes a 400's text on to the client).
import fs from 'node:fs';
import type { Summary } from '../api/stats.ts';
import type { ContainerStatus, Pod, PodStatus } from '../api/types.ts';
import { queryBool } from '../api/query.ts';
import { decodeSegment, type Handler } from '../util/httpserver.ts';
import { LogView, parseEntry, splitLines, tailStart, timestampOfMillis, type LogViewOptions } from './crilog.ts';

/** Which instance of a container a log is of. */
export type LogInstance = 'current' | 'previous';

export interface LogServerOptions {
  /** a pod bound to this node, with its status as this node knows it; undefined when there is none */
  pod: (namespace: string, name: string) => { pod: Pod; status: PodStatus } | undefined;
  /** the log file of a container's current (or last) instance, or of the one before */
  logFile: (uid: string, container: string, instance: LogInstance) => string;
  /** whether a container's current instance may still add to its log */
  writing: (uid: string, container: string) => boolean;
  log: (s: string) => void;
  /** how often a followed log is looked at */
  followIntervalMs?: number;
  /** the Summary API's answer (GET /stats/summary) */
  summary?: () => Summary;
}

/** The options of a /containerLogs request, as the kubelet reads them. */
export interface LogQuery {
  follow: boolean;
  previous: boolean;
  view: LogViewOptions;
  /** the last lines only (-1: all) */
  tail: number;
}

const int64Re = /^[+-]?\d+$/;

/**
 * The query of a /containerLogs request, at `now` (ms). The API server has validated what it
 * sends; a malformed query gets the kubelet's answers: 400 for what does not decode, 422 for what
 * PodLogOptions' validation refuses.
 */
export function parseLogQuery(q: URLSearchParams, now: number): LogQuery | { code: 400 | 422; text: string } {
  const ints: Record<string, number | undefined> = {};
  // `tail` is the old name of tailLines ("all": every line)
  const tail = q.get('tail');
  for (const name of ['sinceSeconds', 'tailLines', 'limitBytes']) {
    const v = name === 'tailLines' && tail ? (tail === 'all' ? null : tail) : q.get(name);
    if (v === null) continue;
    if (!int64Re.test(v)) return { code: 400, text: '{"message": "Unable to decode query."}' };
    ints[name] = Number(v);
  }
  const sinceTimeText = q.get('sinceTime');
  const sinceTime = sinceTimeText ? Date.parse(sinceTimeText) : undefined;
  if (sinceTime !== undefined && (Number.isNaN(sinceTime) || !/^\d{4}-\d{2}-\d{2}T/.test(sinceTimeText!))) return { code: 400, text: '{"message": "Unable to decode query."}' };
  const invalid =
    (ints.tailLines ?? 0) < 0 ||
    (ints.limitBytes !== undefined && ints.limitBytes < 1) ||
    (ints.sinceSeconds !== undefined && (ints.sinceSeconds < 1 || sinceTimeText !== null));
  if (invalid) return { code: 422, text: '{"message": "Invalid request."}' };
  // The cut-off: now - sinceSeconds, or sinceTime when that is later.
  let since = ints.sinceSeconds !== undefined ? now - ints.sinceSeconds * 1000 : undefined;
  if (sinceTime !== undefined && (since === undefined || sinceTime > since)) since = sinceTime;
  const view: LogViewOptions = { timestamps: queryBool(q, 'timestamps') };
  if (since !== undefined) view.since = timestampOfMillis(since);
  if (ints.limitBytes !== undefined) view.limitBytes = ints.limitBytes;
  return { follow: queryBool(q, 'follow'), previous: queryBool(q, 'previous'), view, tail: ints.tailLines ?? -1 };
}

/**
 * Which instance's log a request reads, from the container's status (the kubelet's
 * validateContainerLogStatus): the running or terminated instance; while it waits to restart,
 * the one that ended; `previous`, the one before — or why there is none.
 */
export function logInstance(podName: string, status: PodStatus | undefined, container: string, previous: boolean): { instance: LogInstance } | { error: string } {
  const find = (list: ContainerStatus[] | undefined) => list?.find((s) => s.name === container);
  const cs = find(status?.containerStatuses) ?? find(status?.initContainerStatuses) ?? find((status as { ephemeralContainerStatuses?: ContainerStatus[] } | undefined)?.ephemeralContainerStatuses);
  const c = JSON.stringify(container);
  const p = JSON.stringify(podName);
  if (!cs) return { error: `container ${c} in pod ${p} is not available` };
  const last = cs.lastState?.terminated;
  const { waiting, running, terminated } = cs.state ?? {};
  // This node keeps two logs: the instance that ran last, and the one before it. While a
  // container waits to restart, its last terminated instance is the one that ran last.
  if (previous) {
    if (!last) return { error: `previous terminated container ${c} in pod ${p} not found` };
    return { instance: waiting ? 'current' : 'previous' };
  }
  if (running || terminated || last) return { instance: 'current' };
  if (waiting) {
    const why = waiting.reason === 'ErrImagePull' ? "image can't be pulled" : waiting.reason === 'ImagePullBackOff' ? 'trying and failing to pull image' : waiting.reason;
    return { error: `container ${c} in pod ${p} is waiting to start: ${why}` };
  }
  return { error: `container ${c} in pod ${p} is waiting to start - no logs yet` };
}

/** What a log file's complete lines render to, from its `tail` last lines; `done` once limitBytes is spent. */
export function renderLines(lines: Buffer[], view: LogView, tail = -1): Buffer {
  const out: Buffer[] = [];
  for (const line of lines.slice(tailStart(lines.length, tail))) {
    const e = parseEntry(line);
    if (!e) continue;
    out.push(view.write(e));
    if (view.done) break;
  }
  return Buffer.concat(out);
}

function readFrom(file: string, offset: number): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size <= offset) return Buffer.alloc(0);
    const buf = Buffer.alloc(size - offset);
    const n = fs.readSync(fd, buf, 0, buf.length, offset);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/** The handler of /containerLogs and /stats/summary (server.ts serves it, after the auth filter). */
export function logHandler(o: LogServerOptions): Handler {
  return (_req, res, target) => {
    if (target.pathname === '/stats/summary' && o.summary) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(o.summary()));
    }
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(target.pathname);
    const fail = (code: number, text: string) => {
      res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(text);
    };
    const [namespace, podName, container] = m ? [m[1]!, m[2]!, m[3]!].map((s) => decodeSegment(s)) : [];
    if (namespace === undefined || podName === undefined || container === undefined) return fail(404, '404 page not found\n');
    const query = parseLogQuery(target.query, Date.now());
    if ('code' in query) return fail(query.code, query.text);
    const found = o.pod(namespace, podName);
    if (!found) return fail(404, `pod ${JSON.stringify(podName)} does not exist\n`);
    const { pod, status } = found;
    const specs = [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? []), ...((pod.spec as { ephemeralContainers?: { name: string }[] }).ephemeralContainers ?? [])];
    if (!specs.some((c) => c.name === container)) return fail(404, `container ${JSON.stringify(container)} not found in pod ${JSON.stringify(podName)}\n`);
    const which = logInstance(podName, status, container, query.previous);
    if ('error' in which) return fail(400, which.error);
    const uid = pod.metadata.uid!;
    const file = o.logFile(uid, container, which.instance);
    const view = new LogView(query.view);
    const first = readFrom(file, 0);
    const { lines, consumed } = splitLines(first);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write(renderLines(lines, view, query.tail));
    if (!query.follow || view.done) return res.end();
    // Following: what is appended, until the instance can write no more (or the budget is spent).
    let offset = consumed;
    const running = () => which.instance === 'current' && o.writing(uid, container);
    const t = setInterval(() => {
      const wasRunning = running();
      const more = splitLines(readFrom(file, offset));
      offset += more.consumed;
      if (more.lines.length) res.write(renderLines(more.lines, view));
      if (view.done || !wasRunning) {
        clearInterval(t);
        res.end();
      }
    }, o.followIntervalMs ?? 200);
    res.on('close', () => clearInterval(t));
  };
}
