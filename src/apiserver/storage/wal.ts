// Durable storage for the API server: a snapshot plus an append-only log of JSON lines.
// Writes are grouped: every record appended in one turn of the event loop is written and
// fdatasync'ed together, and only then acknowledged. A torn last line (a crash mid-write)
// was never acknowledged and is dropped on recovery.
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

export class Wal {
  private fd: number;
  private pending: string[] = [];
  private waiters: (() => void)[] = [];
  private scheduled = false;
  private logBytes = 0;
  private readonly dir: string;
  /** Called once a batch is durable, before its writers are acknowledged. */
  onDurable: () => void = () => {};

  private constructor(dir: string, fd: number, size: number) {
    this.dir = dir;
    this.fd = fd;
    this.logBytes = size;
  }

  /** Opens (creating if needed) the data directory and recovers its state. */
  static open(dir: string): { wal: Wal; state: RecoveredState } {
    privateDir(dir);
    const state = recover(dir);
    // Start from a fresh snapshot so the log never grows across restarts.
    writeSnapshot(dir, state.rv, state.objects);
    const fd = openPrivate(path.join(dir, logName), 'w');
    fs.fdatasyncSync(fd);
    return { wal: new Wal(dir, fd, 0), state };
  }

  append(rec: WalRecord): void {
    this.pending.push(JSON.stringify(rec) + '\n');
    this.schedule();
  }

  /** Resolves once everything appended so far is on disk. */
  sync(): Promise<void> {
    if (this.pending.length === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
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
    let off = 0;
    while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off);
    fs.fdatasyncSync(this.fd);
    this.logBytes += buf.length;
    this.release();
  }

  private release(): void {
    this.onDurable();
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  get size(): number {
    return this.logBytes;
  }

  /** Replaces the log with a snapshot of `objects` at `rv`. */
  compact(rv: number, objects: Map<string, KubeObject>): void {
    this.flush();
    writeSnapshot(this.dir, rv, objects);
    fs.closeSync(this.fd);
    this.fd = openPrivate(path.join(this.dir, logName), 'w');
    fs.fdatasyncSync(this.fd);
    this.logBytes = 0;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}

function writeSnapshot(dir: string, rv: number, objects: Map<string, KubeObject>): void {
  const tmp = path.join(dir, `${snapshotName}.tmp`);
  const fd = openPrivate(tmp, 'w');
  // Written piecewise: one JSON.stringify of everything would hold the whole store twice.
  const write = (s: string) => fs.writeSync(fd, s);
  write(`{"version":1,"rv":${rv},"objects":[`);
  let first = true;
  for (const [key, obj] of objects) {
    write((first ? '\n' : ',\n') + JSON.stringify({ key, obj }));
    first = false;
  }
  write('\n]}\n');
  fs.fdatasyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, path.join(dir, snapshotName));
  const dfd = fs.openSync(dir, 'r');
  fs.fsyncSync(dfd);
  fs.closeSync(dfd);
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
  const logPath = path.join(dir, logName);
  if (fs.existsSync(logPath)) {
    const text = fs.readFileSync(logPath, 'utf8');
    let start = 0;
    while (start < text.length) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) {
        discardedBytes = Buffer.byteLength(text.slice(start));
        break;
      }
      const line = text.slice(start, nl);
      start = nl + 1;
      let rec: WalRecord;
      try {
        rec = JSON.parse(line) as WalRecord;
      } catch {
        // A record cut short by a crash: it was never acknowledged, and nothing follows it.
        discardedBytes = Buffer.byteLength(text.slice(start - line.length - 1));
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
