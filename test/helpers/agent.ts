// Fakes for the node agent's parts: a clock that jumps instead of waiting, a process table whose
// processes live and die as a test says, namespace operations that only record, and one log of
// events they (and a FakeExecutor's handlers) append to, so a test can assert an order.
import type { Pod, PodSpec } from '../../src/api/types.ts';
import type { Clock } from '../../src/agent/clock.ts';
import type { ExitListener, Processes, StartOptions } from '../../src/agent/processes.ts';
import type { NetnsOps } from '../../src/agent/sandbox.ts';
import { scratchDir } from './tmp.ts';

/** Starts at a fixed instant; sleep() moves time forward at once. */
export class FakeClock implements Clock {
  constructor(public t = Date.parse('2025-01-01T00:00:00Z')) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
    await new Promise((r) => setImmediate(r));
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface FakeProcess {
  argv: string[];
  opts: StartOptions;
  onExit: ExitListener;
  alive: boolean;
  /** a process that does not end on SIGTERM */
  ignoresTerm?: boolean;
}

export class FakeProcesses implements Processes {
  readonly procs = new Map<number, FakeProcess>();
  /** processes a previous agent started: alive, but no exit is reported */
  readonly adopted = new Set<number>();
  private next = 1000;
  constructor(private readonly events: string[] = []) {}

  start(argv: string[], opts: StartOptions, onExit: ExitListener): number | undefined {
    const pid = this.next++;
    this.procs.set(pid, { argv, opts, onExit, alive: true });
    this.events.push(`start ${pid}`);
    opts.onExec?.(); // the command runs at once
    return pid;
  }
  supervises(pid: number): boolean {
    return this.procs.has(pid);
  }
  alive(pid: number): boolean {
    return this.procs.get(pid)?.alive ?? this.adopted.has(pid);
  }
  signal(pid: number, sig: NodeJS.Signals): void {
    this.events.push(`${sig} ${pid}`);
    this.adopted.delete(pid);
    const p = this.procs.get(pid);
    if (p?.alive && (sig === 'SIGKILL' || !p.ignoresTerm)) this.exit(pid, null, sig);
  }
  closeStdin(pid: number): void {
    this.events.push(`closeStdin ${pid}`);
  }
  /** The process ends; its exit is reported as the real table does, a moment later. */
  exit(pid: number, code: number | null, signal: NodeJS.Signals | null = null): void {
    const p = this.procs.get(pid)!;
    p.alive = false;
    queueMicrotask(() => p.onExit(code, signal));
  }
  /** The one process started with a command containing `word`. */
  find(word: string): [number, FakeProcess] {
    const found = [...this.procs].filter(([, p]) => p.argv.includes(word));
    if (found.length !== 1) throw new Error(`${found.length} processes with ${word}`);
    return found[0]!;
  }
}

export class FakeNetns implements NetnsOps {
  readonly present = new Set<string>();
  readonly etc = new Map<string, string>();
  constructor(private readonly events: string[] = []) {}
  add(name: string): void {
    this.present.add(name);
    this.events.push(`netns add ${name}`);
  }
  attachOwn(name: string): void {
    this.present.add(name);
    this.events.push(`netns attach ${name}`);
  }
  del(name: string): void {
    this.present.delete(name);
    this.events.push(`netns del ${name}`);
  }
  exists(name: string): boolean {
    return this.present.has(name);
  }
  writeEtc(name: string, file: 'resolv.conf' | 'hosts', content: string): void {
    this.etc.set(`${name}/${file}`, content);
  }
  etcDir(name: string, dir: string): void {
    this.etc.set(`${name}/${dir}/`, '');
  }
}

/** A scratch state directory, removed when the test process exits. */
export function tempStateDir(): string {
  return scratchDir('podpath-agent-');
}

export function pod(name: string, spec: Partial<PodSpec>, extra: Partial<Pod> = {}): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid: `${name}-0000-1111-2222-333344445555` }, spec: { containers: [{ name: 'main', image: 'debian:12', command: ['sleep', '600'] }], ...spec }, ...extra };
}

/** Lets queued microtasks and immediates run (exit listeners, probe results). */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
