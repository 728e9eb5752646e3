// Interactive processes for the node agent's exec and attach: a command started with pipes to its
// stdin, stdout and stderr (streamed, not captured), or under a pseudo-terminal. The terminal is
// util-linux script(1) (`script -qfec CMD /dev/null`: the command on a new pty, script copying
// its stdin to the pty and the pty to its stdout, and exiting with the command's status); a
// window size is set on that pty with `stty -F`, and the kernel sends the command SIGWINCH.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { realExecutor, wrapNetns, type RunOptions } from './exec.ts';
import { killGroup } from './proc.ts';

/** A word for sh -c: single-quoted unless it is plainly safe. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** argv run on a new pseudo-terminal (script's stdin and stdout are the terminal's other end), of `size` when given. */
export function ptyArgv(argv: string[], size?: { width: number; height: number }): string[] {
  const cmd = argv.map(shellQuote).join(' ');
  const sized = size ? `stty rows ${Math.trunc(size.height)} cols ${Math.trunc(size.width)} 2>/dev/null; exec ${cmd}` : cmd;
  return ['script', '-qfec', sized, '/dev/null'];
}

export interface Interactive {
  pid: number;
  stdin: Writable;
  stdout: Readable;
  /** null with a terminal: everything comes through stdout */
  stderr: Readable | null;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** sets the terminal's size (tty only) */
  resize(width: number, height: number): void;
  /** signals the whole process group */
  kill(sig?: NodeJS.Signals): void;
}

export interface InteractiveOptions extends Pick<RunOptions, 'netns' | 'netnsEtc' | 'enter'> {
  env: Record<string, string>;
  cwd?: string;
  tty: boolean;
  /** the terminal's first size (tty) */
  size?: { width: number; height: number };
}

/**
 * The terminal of the process tree under `pid` when that is script(1) (or the terminal's reader
 * is pid's child): the pts its child has as stdin. Undefined until script has made it.
 */
export function ptyOf(pid: number): string | undefined {
  try {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const c of children) {
      const t = fs.readlinkSync(`/proc/${c}/fd/0`);
      if (t.startsWith('/dev/pts/')) return t;
    }
  } catch {
    // gone, or not started yet
  }
  return undefined;
}

/** Sets a terminal's window size; retried while the terminal is being made (a second at most). */
export function resizePty(pid: number, width: number, height: number, tries = 50): void {
  const pts = ptyOf(pid);
  if (!pts) {
    if (tries > 0) setTimeout(() => resizePty(pid, width, height, tries - 1), 20).unref();
    return;
  }
  void realExecutor.execAsync(['stty', '-F', pts, 'rows', String(height), 'cols', String(width)], { timeoutMs: 5000 });
}

/** Starts argv (in a namespace, with the container's environment), its own process group leader. */
export function startInteractive(argv: string[], o: InteractiveOptions): Interactive {
  const inner = o.tty ? ptyArgv(argv, o.size) : argv;
  const cmd = wrapNetns(inner, o);
  const child = spawn(cmd[0]!, cmd.slice(1), { env: o.env, ...(o.cwd ? { cwd: o.cwd } : {}), detached: true, stdio: ['pipe', 'pipe', o.tty ? 'ignore' : 'pipe'] });
  const stdin = child.stdin!;
  const stdout = child.stdout!;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', () => resolve({ code: null, signal: null }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  stdin.on('error', () => {
    // the command stopped reading
  });
  const pid = child.pid ?? -1;
  return {
    pid,
    stdin,
    stdout,
    stderr: child.stderr,
    exited,
    resize: (w, h) => {
      if (o.tty && pid > 0) resizePty(pid, w, h);
    },
    kill: (sig = 'SIGKILL') => {
      if (pid > 0) killGroup(pid, sig);
    },
  };
}
