// Containers as processes: each started detached (leading its own process group, so a restarted
// agent leaves it running), its output appended to a log file, its exit reported to whoever
// started it. Injected into the runtime and the prober, so unit tests can use a fake table.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { alive, killGroup } from '../exec/proc.ts';

export type ExitListener = (code: number | null, signal: NodeJS.Signals | null) => void;

export interface StartOptions {
  env: Record<string, string>;
  cwd?: string;
  /** stdout and stderr are appended here */
  logFile: string;
}

export interface Processes {
  /** Starts argv; its pid, or undefined when it could not be started. */
  start(argv: string[], o: StartOptions, onExit: ExitListener): number | undefined;
  /** Whether pid was started by this table (its exit will be reported), not adopted. */
  supervises(pid: number): boolean;
  alive(pid: number): boolean;
  /** Signals the process's group. */
  signal(pid: number, sig: NodeJS.Signals): void;
}

export function hostProcesses(): Processes {
  const children = new Map<number, ChildProcess>();
  return {
    start(argv, o, onExit) {
      const logFd = fs.openSync(o.logFile, 'a');
      const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', logFd, logFd], env: o.env, ...(o.cwd ? { cwd: o.cwd } : {}) });
      fs.closeSync(logFd);
      child.unref();
      if (!child.pid) return undefined;
      const pid = child.pid;
      children.set(pid, child);
      child.on('exit', (code, signal) => {
        children.delete(pid);
        onExit(code, signal);
      });
      return pid;
    },
    supervises: (pid) => children.has(pid),
    alive,
    signal: killGroup,
  };
}
