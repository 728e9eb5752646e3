// The thin shell around iproute2 that the lab and the node agent use: network namespaces,
// links, addresses, routes, and files that `ip netns exec` binds over /etc for a namespace.
import fs from 'node:fs';
import path from 'node:path';
import { defaultExecutor, run, type Executor } from './exec.ts';


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

export function netnsAdd(name: string, ex: Executor = defaultExecutor): void {
  if (!netnsExists(name)) run(['ip', 'netns', 'add', name], {}, ex);
  run(['ip', '-n', name, 'link', 'set', 'lo', 'up'], {}, ex);
}

/**
 * Gives the network namespace of process `pid` the name `name` (`ip netns attach`): a second name
 * for a namespace that exists, as a host-network pod's sandbox names its node's. Deleting that
 * name (netnsDel) removes the name only; the namespace lives on with its processes.
 */
export function netnsAttach(name: string, pid: number, ex: Executor = defaultExecutor): void {
  if (!netnsExists(name)) run(['ip', 'netns', 'attach', name, String(pid)], {}, ex);
}

/** /etc/netns/NAME: the files `ip netns exec` (and a container's root) bind over /etc for the namespace. */
export const netnsEtcDir = (name: string) => path.join('/etc/netns', name);

export function netnsDel(name: string, ex: Executor = defaultExecutor): void {
  if (netnsExists(name)) run(['ip', 'netns', 'del', name], { allowFail: true }, ex);
  fs.rmSync(netnsEtcDir(name), { recursive: true, force: true });
}

/** Writes a file `ip netns exec` will bind over /etc/<file> for processes of namespace `ns`. */
export function writeNetnsEtc(ns: string, file: 'resolv.conf' | 'hosts', content: string): void {
  const dir = netnsEtcDir(ns);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, file), content);
}

/** A directory `ip netns exec` binds over /etc/<dir> for processes of namespace `ns` (an image's own /etc/nginx, say). */
export function makeNetnsEtcDir(ns: string, dir: string): void {
  fs.mkdirSync(path.join(netnsEtcDir(ns), dir), { recursive: true });
}

export function sysctlIn(ns: string, key: string, value: string): void {
  run(['sysctl', '-q', '-w', `${key}=${value}`], { netns: ns });
}

/** The PIDs of processes whose network namespace is `ns` (as `ip netns pids`). */
export function pidsIn(ns: string): number[] {
  return run(['ip', 'netns', 'pids', ns], { allowFail: true })
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);
}
