// Scratch directories of a test process, removed when it exits (one is left where something is
// still mounted under it: rm would reach into the mount).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];

/** A new directory under the system's temporary directory, named `prefix` and a random suffix. */
export function scratchDir(prefix: string): string {
  if (!made.length) {
    process.once('exit', () => {
      const mounts = fs.readFileSync('/proc/mounts', 'utf8');
      for (const d of made) if (!mounts.includes(d)) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}
