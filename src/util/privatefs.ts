// Files that hold API objects or keys: mode 0600 in a 0700 directory, whatever mode a file or
// directory had before (mkdir and open apply a mode only when they create).
import fs from 'node:fs';

/** Creates `dir` (and parents) if needed and makes it 0700. */
export function privateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/** Opens `file` with `flags` as a 0600 file, even if it existed with a wider mode. */
export function openPrivate(file: string, flags: string): number {
  const fd = fs.openSync(file, flags, 0o600);
  fs.fchmodSync(fd, 0o600);
  return fd;
}

/** Writes `data` to `file`, which ends up 0600. */
export function writePrivate(file: string, data: string): void {
  const fd = openPrivate(file, 'w');
  try {
    fs.writeFileSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}
