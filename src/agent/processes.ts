// Containers as processes: each started detached (leading its own process group, so a restarted
// agent leaves it running), its stdout and stderr FIFOs that it holds open for reading too (no
// broken pipe while no agent reads them; logwriter.ts reads them), its exit reported to whoever
// started it. Injected into the runtime and the prober, so unit tests can use a fake table.
// A container with `stdin: true` reads a FIFO that the table holds open for writing (so it sees
// no end of input between attaches) until closeStdin: `kubectl attach` writes into that FIFO.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { run } from '../exec/exec.ts';
import { alive, killGroup } from '../exec/proc.ts';
import type { ContainerOutput } from './logwriter.ts';

export type ExitListener = (code: number | null, signal: NodeJS.Signals | null) => void;

export interface StartOptions {
  env: Record<string, string>;
  cwd?: string;
  /** FIFOs (made here when missing) that are the process's stdout and stderr */
  output: ContainerOutput;
  /**
   * Called once the process is started, while this table still holds its output FIFOs open: the
   * log writer opens them then (a FIFO nobody holds loses what is in it, the whole output of a
   * process that ends at once).
   */
  readOutput?: () => void;
  /** a FIFO (made here when missing) that is the process's stdin, held open until closeStdin */
  stdinFifo?: string;
  /**
   * Called when the process closes its fd 3, a pipe from this table: a container's wrapper
   * closes it as it execs the container's command (rootfs.ts), the moment a runtime calls the
   * container started. (Also called if the process ends without closing it first.)
   */
  onExec?: () => void;
}

export interface Processes {
  /** Starts argv; its pid, or undefined when it could not be started. */
  start(argv: string[], o: StartOptions, onExit: ExitListener): number | undefined;
  /** Whether pid was started by this table (its exit will be reported), not adopted. */
  supervises(pid: number): boolean;
  alive(pid: number): boolean;
  /** Signals the process's group. */
  signal(pid: number, sig: NodeJS.Signals): void;
  /** Lets a process started with stdinFifo see the end of its input (stdinOnce, after the first attach). */
  closeStdin(pid: number): void;
}

export function hostProcesses(): Processes {
  const children = new Map<number, ChildProcess>();
  /** the write ends held open on containers' stdin FIFOs */
  const stdinHolders = new Map<number, number>();
  const closeStdin = (pid: number) => {
    const fd = stdinHolders.get(pid);
    if (fd === undefined) return;
    stdinHolders.delete(pid);
    fs.closeSync(fd);
  };
  return {
    start(argv, o, onExit) {
      const missing = [o.output.stdout, o.output.stderr, ...(o.stdinFifo ? [o.stdinFifo] : [])].filter((f) => !fs.existsSync(f));
      if (missing.length) run(['mkfifo', '-m', '0600', ...missing]);
      // Opened O_RDWR: the process is a reader of its own output, so a write never fails with
      // EPIPE while the agent is away; the output waits in the pipe for the next agent.
      const outFd = fs.openSync(o.output.stdout, 'r+');
      const errFd = fs.openSync(o.output.stderr, 'r+');
      // O_RDWR first (a FIFO opened so never blocks), then the read end the process gets.
      const holder = o.stdinFifo ? fs.openSync(o.stdinFifo, 'r+') : undefined;
      const stdinFd = o.stdinFifo ? fs.openSync(o.stdinFifo, 'r') : 'ignore';
      const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: [stdinFd, outFd, errFd, ...(o.onExec ? (['pipe'] as const) : [])], env: o.env, ...(o.cwd ? { cwd: o.cwd } : {}) });
      if (o.onExec) {
        const execed = child.stdio[3] as NodeJS.ReadableStream & NodeJS.EventEmitter;
        let told = false;
        const tell = () => {
          if (!told) (told = true), o.onExec!();
        };
        execed.on('error', tell);
        execed.once('end', tell);
        execed.once('close', tell);
        execed.resume();
      }
      if (typeof stdinFd === 'number') fs.closeSync(stdinFd);
      child.unref();
      if (child.pid) o.readOutput?.();
      fs.closeSync(outFd);
      fs.closeSync(errFd);
      if (!child.pid) {
        if (holder !== undefined) fs.closeSync(holder);
        return undefined;
      }
      const pid = child.pid;
      children.set(pid, child);
      if (holder !== undefined) stdinHolders.set(pid, holder);
      child.on('exit', (code, signal) => {
        children.delete(pid);
        closeStdin(pid);
        onExit(code, signal);
      });
      return pid;
    },
    supervises: (pid) => children.has(pid),
    alive,
    signal: killGroup,
    closeStdin,
  };
}
