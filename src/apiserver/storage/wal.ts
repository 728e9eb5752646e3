// Durable storage for the API server: a snapshot plus an append-only log of JSON lines.
// Writes are grouped: every record appended in one turn of the event loop is written and
// fdatasync'ed together, and only then acknowledged. A torn last line (a crash mid-write)
// was never acknowledged and is dropped on recovery.
//
// A batch that cannot be written (a full disk) is cut back out of the log and reported to
// onFailed, whose owner undoes it; its writers get the error, and later batches try again.
//
// With unsafeNoFsync (etcd's --unsafe-no-fsync) nothing is fdatasync'ed: every write still
// reaches the kernel before it is acknowledged, so a process that dies loses nothing, but a
// machine that crashes may lose or corrupt what is stored (a snapshot renamed into place
// unsynced). `podpath up` gives it to a lab's API server: a lab does not outlive the machine's
// boot anyway.
//
// Compaction never stops the event loop for long: the log is rotated to a segment
// (wal.<rv>.log) and a new log started at once, then the snapshot at that rv is written in
// slices between other work; once it is durable the segments it covers are deleted. Recovery
// replays the snapshot, then the segments in order, then the log.
import fs from 'node:fs';
import path from 'node:path';
import type { KubeObject } from '../../api/types.ts';
import { openPrivate, privateDir } from '../../util/privatefs.ts';

export interface WalRecord {
  rv: number;
  op: 'put' | 'del';
  key: string;
  obj?: KubeObject;
}

export interface RecoveredState {
  rv: number;
  objects: Map<string, KubeObject>;
  /** how many log records were replayed on top of the snapshot */
  replayed: number;
  /** bytes of a torn trailing record that were discarded */
  discardedBytes: number;
}

interface Snapshot {
  version: 1;
  rv: number;
  objects: { key: string; obj: KubeObject }[];
}

const snapshotName = 'snapshot.json';
const logName = 'wal.log';
const segmentName = /^wal\.(\d+)\.log$/;
/** CPU time one slice of snapshot writing may take before yielding to requests. */
const sliceMs = 4;
/** Snapshot bytes written between syncs, so no large burst of dirty pages stalls the log's fdatasync. */
const syncEveryBytes = 8 * 1024 * 1024;

/** How files reach the disk: synced, or left to the page cache (unsafeNoFsync). */
interface Syncer {
  data(fd: number): void;
  dataAsync(fd: number): Promise<void>;
  dir(dir: string): void;
  dirAsync(dir: string): Promise<void>;
}

const synced: Syncer = {
  data: (fd) => fs.fdatasyncSync(fd),
  dataAsync: (fd) => new Promise<void>((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve()))),
  dir: syncDir,
  dirAsync: syncDirAsync,
};

const unsynced: Syncer = {
  data: () => {},
  dataAsync: () => Promise.resolve(),
  dir: () => {},
  dirAsync: () => Promise.resolve(),
};

export interface WalOptions {
  /** leave the log and snapshots to the page cache (see above) */
  unsafeNoFsync?: boolean;
}

export class Wal {
  private fd: number;
  private pending: string[] = [];
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private scheduled = false;
  private logBytes = 0;
  private readonly dir: string;
  private compaction: Promise<void> | undefined;
  private closed = false;
  /** Called once a batch is durable, before its writers are acknowledged. */
  onDurable: () => void = () => {};
  /** Called when a batch could not be written (it is no longer in the log), before its writers get the error. */
  onFailed: (e: Error) => void = () => {};
  /** Told about compactions that failed (they are retried later). */
  log: (line: string) => void = () => {};

  private constructor(
    dir: string,
    fd: number,
    size: number,
    private readonly syncer: Syncer,
  ) {
    this.dir = dir;
    this.fd = fd;
    this.logBytes = size;
  }

  /** Opens (creating if needed) the data directory and recovers its state. */
  static open(dir: string, o: WalOptions = {}): { wal: Wal; state: RecoveredState } {
    const sync = o.unsafeNoFsync ? unsynced : synced;
    privateDir(dir);
    const state = recover(dir);
    // Start from a fresh snapshot so the log never grows across restarts.
    writeSnapshot(dir, state.rv, state.objects, sync);
    for (const seg of segments(dir)) fs.rmSync(path.join(dir, seg.name), { force: true });
    const fd = openPrivate(path.join(dir, logName), 'w');
    sync.data(fd);
    return { wal: new Wal(dir, fd, 0, sync), state };
  }

  append(rec: WalRecord): void {
    this.pending.push(JSON.stringify(rec) + '\n');
    this.schedule();
  }

  /** Resolves once everything appended so far is on disk; rejects when it could not be written. */
  sync(): Promise<void> {
    if (this.pending.length === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes and syncs the pending batch. Synchronous: a batch costs one fdatasync. */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) {
      this.release();
      return;
    }
    const buf = Buffer.from(this.pending.join(''));
    this.pending = [];
    try {
      // Positional writes: after a failed batch is cut off, the next one starts where it began.
      let off = 0;
      while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off, this.logBytes + off);
      this.syncer.data(this.fd);
    } catch (e) {
      // Cut the batch (or the part of it that got written) back out: the log must hold only
      // acknowledged records, and the next batch starts on a clean line.
      try {
        fs.ftruncateSync(this.fd, this.logBytes);
      } catch {
        // a log that cannot even shrink keeps a torn tail, which recovery drops
      }
      this.fail(e as Error);
      return;
    }
    this.logBytes += buf.length;
    this.release();
  }

  private release(): void {
    this.onDurable();
    const w = this.waiters;
    this.waiters = [];
    for (const { resolve } of w) resolve();
  }

  private fail(e: Error): void {
    this.onFailed(e);
    const w = this.waiters;
    this.waiters = [];
    for (const { reject } of w) reject(e);
  }

  get size(): number {
    return this.logBytes;
  }

  get compacting(): boolean {
    return this.compaction !== undefined;
  }

  /**
   * Starts replacing the log with a snapshot of `objects` at `rv` (their state after every
   * record written so far). Returns at once; the promise settles when the snapshot is durable.
   */
  compact(rv: number, objects: Map<string, KubeObject>): Promise<void> {
    if (this.compaction) return this.compaction;
    this.flush();
    // Objects are replaced, never changed in place, once stored: these references are the state at rv.
    const entries = [...objects];
    try {
      // The log becomes a segment; new records go to a new log from here on.
      fs.closeSync(this.fd);
      fs.renameSync(path.join(this.dir, logName), path.join(this.dir, `wal.${rv}.log`));
      this.fd = openPrivate(path.join(this.dir, logName), 'w');
      this.syncer.dir(this.dir);
      this.logBytes = 0;
    } catch (e) {
      this.log(`compaction at rv ${rv} failed: ${(e as Error).message}`);
      if (!fs.existsSync(path.join(this.dir, logName))) this.fd = openPrivate(path.join(this.dir, logName), 'w');
      return Promise.resolve();
    }
    this.compaction = writeSnapshotInSlices(this.dir, rv, entries, () => this.closed, this.syncer)
      .then(async () => {
        // Off the event loop: freeing a segment's blocks takes the kernel tens of milliseconds.
        for (const seg of segments(this.dir)) if (seg.rv <= rv) await fs.promises.rm(path.join(this.dir, seg.name), { force: true });
      })
      .catch((e: Error) => this.log(`compaction at rv ${rv} failed (its segments are kept): ${e.message}`))
      .finally(() => {
        this.compaction = undefined;
      });
    return this.compaction;
  }

  close(): void {
    this.closed = true;
    this.flush();
    fs.closeSync(this.fd);
  }
}

function syncDir(dir: string): void {
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

async function syncDirAsync(dir: string): Promise<void> {
  const h = await fs.promises.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

const closeAsync = (fd: number) => new Promise<void>((resolve, reject) => fs.close(fd, (e) => (e ? reject(e) : resolve())));

/** The rotated logs still in `dir`, oldest first. */
function segments(dir: string): { name: string; rv: number }[] {
  const out: { name: string; rv: number }[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = segmentName.exec(name);
    if (m) out.push({ name, rv: Number(m[1]) });
  }
  return out.sort((a, b) => a.rv - b.rv);
}

/** The snapshot's text, object by object: never one JSON.stringify of everything, which would hold the store twice. */
function* snapshotText(rv: number, entries: Iterable<[string, KubeObject]>): Generator<string> {
  yield `{"version":1,"rv":${rv},"objects":[`;
  let first = true;
  for (const [key, obj] of entries) {
    yield (first ? '\n' : ',\n') + JSON.stringify({ key, obj });
    first = false;
  }
  yield '\n]}\n';
}

function writeAll(fd: number, s: string): number {
  const b = Buffer.from(s);
  let off = 0;
  while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
  return b.length;
}

/** Writes a snapshot to a temporary file through `body`, then renames it into place; a failed one is removed (giving back its space). */
function replaceSnapshot(dir: string, sync: Syncer, body: (fd: number) => Promise<void>): Promise<void>;
function replaceSnapshot(dir: string, sync: Syncer, body: (fd: number) => void): void;
function replaceSnapshot(dir: string, sync: Syncer, body: (fd: number) => void | Promise<void>): void | Promise<void> {
  const tmp = path.join(dir, `${snapshotName}.tmp`);
  const fd = openPrivate(tmp, 'w');
  const finish = (ok: boolean) => {
    fs.closeSync(fd);
    if (!ok) return fs.rmSync(tmp, { force: true });
    fs.renameSync(tmp, path.join(dir, snapshotName));
    sync.dir(dir);
  };
  let r: void | Promise<void>;
  try {
    r = body(fd);
  } catch (e) {
    finish(false);
    throw e;
  }
  if (!(r instanceof Promise)) return finish(true);
  // In the background the same steps run off the event loop: the rename frees the previous
  // snapshot's blocks (hundreds of MB), which stopped the server for 50-80 ms when done in place.
  const finishAsync = async (ok: boolean) => {
    await closeAsync(fd);
    if (!ok) return fs.promises.rm(tmp, { force: true });
    await fs.promises.rename(tmp, path.join(dir, snapshotName));
    await sync.dirAsync(dir);
  };
  return r.then(
    () => finishAsync(true),
    async (e: unknown) => {
      await finishAsync(false);
      throw e;
    },
  );
}

/** The snapshot at once (at startup, before anything is served). */
function writeSnapshot(dir: string, rv: number, objects: Map<string, KubeObject>, sync: Syncer): void {
  replaceSnapshot(dir, sync, (fd: number): void => {
    for (const s of snapshotText(rv, objects)) writeAll(fd, s);
    sync.data(fd);
  });
}

/**
 * The snapshot a slice at a time (each at most `sliceMs` of work, then a turn of the event
 * loop), synced as it goes so that no burst of dirty pages stalls the log's own fdatasync.
 */
function writeSnapshotInSlices(dir: string, rv: number, entries: [string, KubeObject][], abandoned: () => boolean, sync: Syncer): Promise<void> {
  return replaceSnapshot(dir, sync, async (fd: number): Promise<void> => {
    const text = snapshotText(rv, entries);
    let unsyncedBytes = 0;
    for (let done = false; !done; ) {
      if (abandoned()) throw new Error('the store was closed');
      const t0 = performance.now();
      const parts: string[] = [];
      while (performance.now() - t0 < sliceMs) {
        const next = text.next();
        if (next.done) {
          done = true;
          break;
        }
        parts.push(next.value);
      }
      unsyncedBytes += writeAll(fd, parts.join(''));
      if (unsyncedBytes >= syncEveryBytes || done) {
        await sync.dataAsync(fd);
        unsyncedBytes = 0;
      }
      if (!done) await new Promise((r) => setImmediate(r));
    }
  });
}

function recover(dir: string): RecoveredState {
  const objects = new Map<string, KubeObject>();
  let rv = 0;
  const snapPath = path.join(dir, snapshotName);
  if (fs.existsSync(snapPath)) {
    const snap = JSON.parse(fs.readFileSync(snapPath, 'utf8')) as Snapshot;
    rv = snap.rv;
    for (const { key, obj } of snap.objects) objects.set(key, obj);
  }
  let replayed = 0;
  let discardedBytes = 0;
  for (const file of [...segments(dir).map((g) => g.name), logName]) {
    const logPath = path.join(dir, file);
    if (!fs.existsSync(logPath)) continue;
    const text = fs.readFileSync(logPath, 'utf8');
    let start = 0;
    while (start < text.length) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) {
        discardedBytes += Buffer.byteLength(text.slice(start));
        break;
      }
      const line = text.slice(start, nl);
      start = nl + 1;
      let rec: WalRecord;
      try {
        rec = JSON.parse(line) as WalRecord;
      } catch {
        // A record cut short by a crash: it was never acknowledged, and nothing follows it.
        discardedBytes += Buffer.byteLength(text.slice(start - line.length - 1));
        break;
      }
      if (rec.rv <= rv) continue; // already in the snapshot
      rv = rec.rv;
      if (rec.op === 'put' && rec.obj) objects.set(rec.key, rec.obj);
      else objects.delete(rec.key);
      replayed++;
    }
  }
  return { rv, objects, replayed, discardedBytes };
}
