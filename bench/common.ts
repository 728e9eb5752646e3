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

/** CPU ticks (user + system) of every process, by PID, with its command and network namespace's inode. */
export function cpuSnapshot(): Map<number, { comm: string; net: number; ticks: number }> {
  const out = new Map<number, { comm: string; net: number; ticks: number }>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'latin1');
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      // fields 14 and 15 (utime, stime) are the 12th and 13th after the command
      let comm = stat.slice(stat.indexOf('(') + 1, close);
      // podpath's processes by their command: `node …/podpath.js agent` is "podpath agent"
      if (comm === 'node') {
        const argv = fs.readFileSync(`/proc/${e}/cmdline`, 'latin1').split('\0');
        const i = argv.findIndex((a) => /podpath(\.js)?$/.test(a));
        if (i >= 0 && argv[i + 1]) comm = `podpath ${argv[i + 1]}`;
      }
      out.set(Number(e), { comm, net: fs.statSync(`/proc/${e}/ns/net`).ino, ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU-seconds by "place process" between two snapshots, places named by their namespaces' inodes; the largest first. */
export function cpuByPlace(a: ReturnType<typeof cpuSnapshot>, b: ReturnType<typeof cpuSnapshot>, places: Map<number, string>): [string, number][] {
  const hz = 100; // USER_HZ
  const by = new Map<string, number>();
  for (const [pid, x] of b) {
    const d = x.ticks - (a.get(pid)?.ticks ?? 0);
    if (d <= 0) continue;
    const key = `${places.get(x.net) ?? 'other'} ${x.comm}`;
    by.set(key, (by.get(key) ?? 0) + d / hz);
  }
  return [...by].sort((p, q) => q[1] - p[1]);
}
