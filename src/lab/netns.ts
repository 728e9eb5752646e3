// The thin shell around iproute2 that the lab and the node agent use: network namespaces,
// links, addresses, routes, and files that `ip netns exec` binds over /etc for a namespace.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')} failed (${code}): ${stderr.trim()}`);
  }
}

/** Runs a command and returns its stdout; throws CommandError on a non-zero exit. */
export function run(argv: string[], opts: { input?: string; allowFail?: boolean; timeoutMs?: number } = {}): string {
  // Large outputs (iptables-save of thousands of Services) must not hit spawnSync's 1 MiB default.
  const r = spawnSync(argv[0]!, argv.slice(1), { input: opts.input, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, maxBuffer: 1 << 30 });
  if (r.error) throw new CommandError(argv, null, r.error.message);
  if (r.status !== 0 && !opts.allowFail) throw new CommandError(argv, r.status, r.stderr ?? '');
  return r.stdout ?? '';
}

/** Whether a program is on the PATH. */
export function commandExists(cmd: string): boolean {
  return run(['sh', '-c', `command -v ${cmd}`], { allowFail: true }).trim() !== '';
}

/** Whether a command exits 0. */
export function succeeds(argv: string[]): boolean {
  return spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 60_000 }).status === 0;
}

export function ip(...args: string[]): string {
  return run(['ip', ...args]);
}

/** `ip` inside a namespace (`ip -n NS ...`). */
export function ipIn(ns: string, ...args: string[]): string {
  return run(['ip', '-n', ns, ...args]);
}

export function listNetns(): string[] {
  try {
    return fs.readdirSync('/run/netns');
  } catch {
    return [];
  }
}

export function netnsExists(name: string): boolean {
  return fs.existsSync(`/run/netns/${name}`);
}

export function netnsAdd(name: string): void {
  if (!netnsExists(name)) ip('netns', 'add', name);
  ipIn(name, 'link', 'set', 'lo', 'up');
}

export function netnsDel(name: string): void {
  if (netnsExists(name)) run(['ip', 'netns', 'del', name], { allowFail: true });
  fs.rmSync(path.join('/etc/netns', name), { recursive: true, force: true });
}

/** Writes a file `ip netns exec` will bind over /etc/<file> for processes of namespace `ns`. */
export function writeNetnsEtc(ns: string, file: 'resolv.conf' | 'hosts', content: string): void {
  const dir = path.join('/etc/netns', ns);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, file), content);
}

export function sysctlIn(ns: string, key: string, value: string): void {
  run(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', `${key}=${value}`]);
}

/** The PIDs of processes whose network namespace is `ns` (as `ip netns pids`). */
export function pidsIn(ns: string): number[] {
  return run(['ip', 'netns', 'pids', ns], { allowFail: true })
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);
}
