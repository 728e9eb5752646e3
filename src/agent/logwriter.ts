// The runtime's log writer (containerd's part): a container's stdout and stderr are FIFOs it holds
// open itself (so it never sees a broken pipe, and outlives a restarted agent, whose output waits
// in the pipe); the agent reads them and appends each line to the container's log file in the
// CRI format, with the time it came and its stream. What comes is also handed, as it comes, to
// whoever listens (kubectl attach). A container's previous instance keeps its log for `previous`.
import fs from 'node:fs';
import net from 'node:net';
import { encodeEntries, formatTimestamp, LineSplitter, type LogStream } from './crilog.ts';

/** A container's output FIFOs. */
export interface ContainerOutput {
  stdout: string;
  stderr: string;
}

/** Which container a copy is for. */
export function logKey(uid: string, container: string): string {
  return `${uid}/${container}`;
}

export type OutputListener = (stream: LogStream, chunk: Buffer) => void;

/** The wall clock in nanoseconds (Date.now() has milliseconds; the monotonic clock adds the rest). */
export function wallClockNanos(): () => bigint {
  const baseNs = BigInt(Date.now()) * 1_000_000n;
  const baseHr = process.hrtime.bigint();
  return () => baseNs + (process.hrtime.bigint() - baseHr);
}

/** The current log becomes the previous instance's (replacing the one before); a new instance starts an empty one. */
export function rotateLog(file: string, previous: string): void {
  if (fs.existsSync(file)) fs.renameSync(file, previous);
}

/**
 * A container's log file, appended to without the thread pool. Appending is a copy into the page
 * cache (a lab's logs are on tmpfs besides); an fs.WriteStream sends each write through a pool
 * thread and back, and a pod logging a line per request then cost the agent tens of µs of CPU
 * per line, mostly in the two thread wake-ups. What comes in one turn of the loop goes out in one
 * write at its end.
 */
export class LogFile {
  private fd: number | undefined;
  private pending: Buffer[] = [];

  constructor(
    readonly file: string,
    private readonly log: (s: string) => void,
  ) {
    try {
      this.fd = fs.openSync(file, 'a');
    } catch (e) {
      log(`log ${file}: ${(e as Error).message}`);
    }
  }

  get closed(): boolean {
    return this.fd === undefined;
  }

  write(b: Buffer): void {
    if (this.fd === undefined) return;
    if (!this.pending.length) setImmediate(() => this.flush());
    this.pending.push(b);
  }

  flush(): void {
    if (this.fd === undefined || !this.pending.length) return;
    const bufs = this.pending;
    this.pending = [];
    try {
      fs.writevSync(this.fd, bufs);
    } catch (e) {
      this.log(`log ${this.file}: ${(e as Error).message}`);
    }
  }

  /** What is pending is written, then the file is closed. */
  close(): void {
    this.flush();
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

interface Copy {
  readers: net.Socket[];
  out: LogFile;
  /** both streams are at their end and the file is written */
  finished: boolean;
}

export class ContainerLogWriters {
  private readonly copies = new Map<string, Copy>();
  private readonly listeners = new Map<string, Set<OutputListener>>();

  constructor(
    private readonly log: (s: string) => void,
    private readonly now: () => bigint = wallClockNanos(),
  ) {}

  /**
   * Copies the output FIFOs of the container `key` into `file` until both end (every process
   * holding them has exited). The container must have been started on them: with no writer a
   * FIFO is at its end at once. A copy already running for `key` is stopped first.
   */
  open(key: string, output: ContainerOutput, file: string): void {
    this.close(key);
    const out = new LogFile(file, this.log);
    const copy: Copy = { readers: [], out, finished: false };
    let open = 0;
    const finish = () => {
      out.close();
      copy.finished = true;
    };
    const ended = () => {
      if (--open === 0) finish();
    };
    for (const stream of ['stdout', 'stderr'] as const) {
      let fd: number;
      try {
        fd = fs.openSync(output[stream], fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      } catch (e) {
        this.log(`log ${file}: cannot read ${stream}: ${(e as Error).message}`);
        continue;
      }
      open++;
      const reader = new net.Socket({ fd, readable: true, writable: false });
      const lines = new LineSplitter();
      const write = (pieces: ReturnType<LineSplitter['push']>) => {
        if (!pieces.length || out.closed) return;
        const time = formatTimestamp(this.now());
        out.write(encodeEntries(time, stream, pieces));
      };
      reader.on('data', (chunk: Buffer) => {
        for (const l of this.listeners.get(key) ?? []) l(stream, chunk);
        write(lines.push(chunk));
      });
      reader.once('end', () => write(lines.end()));
      reader.once('close', ended);
      reader.on('error', (e) => this.log(`log ${file}: ${stream}: ${e.message}`));
      copy.readers.push(reader);
    }
    if (open === 0) finish();
    this.copies.set(key, copy);
  }

  /** Whether the container `key` may still add to its log. */
  active(key: string): boolean {
    const c = this.copies.get(key);
    return Boolean(c && !c.finished);
  }

  /** Output of the container `key` as it comes, until the returned function is called. */
  subscribe(key: string, l: OutputListener): () => void {
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(l);
    return () => {
      set.delete(l);
      if (!set.size && this.listeners.get(key) === set) this.listeners.delete(key);
    };
  }

  /** Stops copying (what the file has stays). */
  close(key: string): void {
    const c = this.copies.get(key);
    if (!c) return;
    this.copies.delete(key);
    for (const r of c.readers) r.destroy();
    c.out.close();
  }

  closeAll(): void {
    for (const key of [...this.copies.keys()]) this.close(key);
  }
}
