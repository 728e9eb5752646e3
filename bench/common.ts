// What the loopback benchmarks share: flags, CPU pinning (load generator on CPU 0, the
// servers under test on CPU 1), a scratch directory and child processes ended at exit.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const pinned = os.cpus().length >= 2 && !spawnSync('taskset', ['-c', '0', 'true']).error;
/** argv on CPU `cpu` when pinning (taskset), as is otherwise */
export const on = (cpu: number, argv: string[]) => (pinned ? ['taskset', '-c', String(cpu), ...argv] : argv);

/** A scratch directory, and the children started with `start`, both gone when the bench exits. */
export function scratch(prefix: string): { dir: string; start: (argv: string[], stderr?: 'inherit' | 'pipe') => ChildProcess } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const children: ChildProcess[] = [];
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null) c.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    start(argv, stderr = 'inherit') {
      const a = on(1, argv);
      const c = spawn(a[0]!, a.slice(1), { stdio: ['ignore', 'ignore', stderr] });
      children.push(c);
      return c;
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
