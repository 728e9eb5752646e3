// Container log files in the CRI format the kubelet reads (`2016-10-06T00:17:09.669794202Z stdout F text`):
// one entry per line with its time and stream; a line longer than the runtime's maximum is cut
// into partial (P) entries ended by a full (F) one. Writing (LineSplitter, encodeEntry) and
// reading as the kubelet's ReadLogs does (tailStart, LogView: since, timestamps, limitBytes).
// Pure: bytes in, bytes out.

export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  /** RFC3339 with 9 fractional digits, in UTC */
  time: string;
  stream: LogStream;
  /** a P entry: the line goes on in the next entry */
  partial: boolean;
  /** without the line's newline */
  content: Buffer;
}

/** containerd's default max_container_log_line_size: longer lines become P entries. */
export const maxLogLineBytes = 16 * 1024;

const newline = 0x0a;

/** Nanoseconds since the epoch as RFC3339NanoFixed (`2006-01-02T15:04:05.000000000Z`), the kubelet's timestamps. */
export function formatTimestamp(ns: bigint): string {
  const secs = ns / 1_000_000_000n;
  const iso = new Date(Number(secs) * 1000).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

const timestampRe = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** A timestamp as the runtime wrote it (Go's RFC3339Nano, trailing zeros trimmed, any zone) in the fixed UTC form; undefined when it is none. */
export function normalizeTimestamp(s: string): string | undefined {
  const m = timestampRe.exec(s);
  if (!m) return undefined;
  const frac = (m[2] ?? '').padEnd(9, '0');
  if (m[3] === 'Z') return `${m[1]}.${frac}Z`;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return formatTimestamp(BigInt(ms) * 1_000_000n + BigInt(frac));
}

/** Milliseconds since the epoch as a fixed timestamp, for comparing with entries' times. */
export function timestampOfMillis(ms: number): string {
  return formatTimestamp(BigInt(Math.floor(ms)) * 1_000_000n);
}

/** One line of a log file, with its newline. */
export function encodeEntry(e: LogEntry): Buffer {
  return encodeEntries(e.time, e.stream, [e]);
}

/**
 * Lines of one time and stream as log file lines, in one buffer: a busy container (an Ingress
 * controller's access log) sends hundreds of lines a read, and a buffer per line's pieces cost
 * more than the copying.
 */
export function encodeEntries(time: string, stream: LogStream, pieces: readonly LinePiece[]): Buffer {
  const headF = `${time} ${stream} F `;
  const headP = `${time} ${stream} P `;
  let size = 0;
  for (const p of pieces) size += headF.length + p.content.length + 1;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of pieces) {
    at += out.write(p.partial ? headP : headF, at, 'latin1');
    at += p.content.copy(out, at);
    out[at++] = newline;
  }
  return out;
}

/** One line of a log file (without its newline); undefined for a malformed line, which the kubelet skips. */
export function parseEntry(line: Buffer): LogEntry | undefined {
  const s1 = line.indexOf(0x20);
  const s2 = s1 < 0 ? -1 : line.indexOf(0x20, s1 + 1);
  if (s2 < 0) return undefined;
  const time = normalizeTimestamp(line.subarray(0, s1).toString('latin1'));
  const stream = line.subarray(s1 + 1, s2).toString('latin1');
  if (!time || (stream !== 'stdout' && stream !== 'stderr')) return undefined;
  // The tags (`F`, `P`, colon-separated for what may come) end at the next space or the line's end.
  const s3 = line.indexOf(0x20, s2 + 1);
  const tags = line.subarray(s2 + 1, s3 < 0 ? line.length : s3).toString('latin1').split(':');
  const content = s3 < 0 ? Buffer.alloc(0) : line.subarray(s3 + 1);
  return { time, stream, partial: tags[0] === 'P', content };
}

/** A piece of output cut at a newline (full) or at the maximum line length (partial). */
export interface LinePiece {
  content: Buffer;
  partial: boolean;
}

/**
 * Cuts a stream's output into lines as the runtime does: at each newline; a line reaching the
 * maximum length becomes a partial entry; what is left at the end of the stream is a full line.
 */
export class LineSplitter {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxLine = maxLogLineBytes) {}

  /** The pieces are views of `chunk` (or of what was pending with it): use them before changing it. */
  push(chunk: Buffer): LinePiece[] {
    const pieces: LinePiece[] = [];
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      const nl = buf.indexOf(newline);
      const end = nl < 0 ? buf.length : nl;
      if (end >= this.maxLine) {
        pieces.push({ content: buf.subarray(0, this.maxLine), partial: true });
        buf = buf.subarray(this.maxLine);
        continue;
      }
      if (nl < 0) break;
      pieces.push({ content: buf.subarray(0, nl), partial: false });
      buf = buf.subarray(nl + 1);
    }
    this.pending = Buffer.from(buf);
    return pieces;
  }

  /** The stream ended: an unfinished line is written as a full one. */
  end(): LinePiece[] {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest.length ? [{ content: rest, partial: false }] : [];
  }
}

/** The complete lines of a log file's bytes, and where the unfinished rest starts (a writer is mid-line). */
export function splitLines(data: Buffer): { lines: Buffer[]; consumed: number } {
  const lines: Buffer[] = [];
  let start = 0;
  for (;;) {
    const nl = data.indexOf(newline, start);
    if (nl < 0) break;
    lines.push(data.subarray(start, nl));
    start = nl + 1;
  }
  return { lines, consumed: start };
}

/** The index of the first of the last `tail` lines (a negative tail: all of them). */
export function tailStart(lineCount: number, tail: number): number {
  return tail < 0 ? 0 : Math.max(0, lineCount - tail);
}

export interface LogViewOptions {
  /** entries before this fixed timestamp are skipped */
  since?: string;
  /** each line starts with its time (RFC3339NanoFixed) and a space */
  timestamps: boolean;
  /** at most this many bytes, timestamps included; the last line may be cut */
  limitBytes?: number;
}

/**
 * What the kubelet writes for each entry, in file order: entries older than `since` skipped, a
 * timestamp at the start of each line (not before a partial line's continuation), the byte budget
 * spent and then `done`.
 */
export class LogView {
  private remain: number;
  /** the last entry read ended its line */
  private atLineStart = true;
  done = false;

  constructor(private readonly o: LogViewOptions) {
    this.remain = o.limitBytes ?? Number.POSITIVE_INFINITY;
  }

  /** The bytes to send for this entry (empty when skipped or done). */
  write(e: LogEntry): Buffer {
    const addPrefix = this.atLineStart;
    this.atLineStart = !e.partial;
    if (this.done || (this.o.since && e.time < this.o.since)) return Buffer.alloc(0);
    const parts = [e.content];
    if (this.o.timestamps && addPrefix) parts.unshift(Buffer.from(`${e.time} `));
    if (!e.partial) parts.push(Buffer.from('\n'));
    let line = Buffer.concat(parts);
    if (line.length > this.remain) line = line.subarray(0, this.remain);
    this.remain -= line.length;
    if (this.remain <= 0) this.done = true;
    return line;
  }
}
