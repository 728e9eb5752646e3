// Running commands: one interface for every call of iptables, nft, ip, conntrack, ipset,
// ipvsadm and the CNI plugins, so each caller can be handed the fake (./fake.ts) in unit tests.
// Commands may run inside a network namespace; that is done with nsenter(1), which joins the
// namespace and execs the command directly (`ip netns exec` remounts /sys and binds /etc/netns
// files first, ~10x the cost), unless the caller asks for the namespace's /etc files.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';

export interface RunOptions {
  /** written to the command's stdin */
  input?: string;
  /** return stdout even when the command exits non-zero */
  allowFail?: boolean;
  /** killed after this long (default 60 s) */
  timeoutMs?: number;
  /** the network namespace (a name under /run/netns) to run in; the caller's when absent */
  netns?: string;
  /** with netns: bind /etc/netns/<netns>/* over /etc as `ip netns exec` does (resolv.conf, hosts) */
  netnsEtc?: boolean;
  /** a process (a container's) whose network, mount and UTS namespaces, root and working directory to run in; instead of netns */
  enter?: number;
  /** the whole environment of the command (the caller's when absent) */
  env?: NodeJS.ProcessEnv;
}

export interface Result {
  /** the exit code; null when the command could not be started or was killed */
  status: number | null;
  stdout: string;
  stderr: string;
  /** why the command did not run to an exit (not found, timed out) */
  error?: string;
}

export type ErrorCode = 'ENOENT' | 'ETIMEDOUT' | 'EXIT';

/** A command that could not be started, timed out, or exited non-zero. */
export class CommandError extends Error {
  readonly code: ErrorCode;
  constructor(
    readonly argv: string[],
    readonly status: number | null,
    readonly stderr: string,
    code?: ErrorCode,
  ) {
    super(`${argv.join(' ')} failed (${status}): ${stderr.trim()}`);
    this.code = code ?? 'EXIT';
  }
}

export interface Executor {
  /** Runs a command to its end and returns everything it said; never throws. */
  exec(argv: string[], opts?: RunOptions): Result;
  /** The same without blocking the event loop (CNI plugins, probes). */
  execAsync(argv: string[], opts?: RunOptions): Promise<Result>;
}

/** A host tool by absolute path, so that a command's own PATH (a container's) cannot pick another. */
export function hostTool(name: string): string {
  for (const dir of ['/usr/bin', '/usr/sbin', '/bin', '/sbin']) if (fs.existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  return name;
}

/** The command line that runs argv beside a process: its namespaces, root and working directory (a container's, for exec). */
export function enterArgv(pid: number, argv: string[]): string[] {
  return [hostTool('nsenter'), `--target=${pid}`, '--mount', '--uts', '--net', '--root', '--wd', '--', ...argv];
}

/** The command line that runs argv in a namespace (argv itself when none is asked for). */
export function wrapNetns(argv: string[], opts: Pick<RunOptions, 'netns' | 'netnsEtc' | 'enter'> = {}): string[] {
  if (opts.enter) return enterArgv(opts.enter, argv);
  if (!opts.netns) return argv;
  if (opts.netnsEtc) return ['ip', 'netns', 'exec', opts.netns, ...argv];
  return ['nsenter', `--net=/run/netns/${opts.netns}`, '--', ...argv];
}

/** The real thing: child processes. */
export const realExecutor: Executor = {
  exec(argv, opts = {}) {
    const cmd = wrapNetns(argv, opts);
    // Large outputs (iptables-save of thousands of Services) must not hit spawnSync's 1 MiB default.
    const r = spawnSync(cmd[0]!, cmd.slice(1), { input: opts.input, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, maxBuffer: 1 << 30, env: opts.env });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ...(r.error ? { error: r.error.message } : {}) };
  },
  execAsync(argv, opts = {}) {
    const cmd = wrapNetns(argv, opts);
    const timeoutMs = opts.timeoutMs ?? 60_000;
    return new Promise((resolve) => {
      const child = spawn(cmd[0]!, cmd.slice(1), { env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let error: string | undefined;
      let done = false;
      const finish = (status: number | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // A command that could not start closes with a negative errno: reported as null, as spawnSync does.
        resolve({ status: error === undefined ? status : null, stdout, stderr, ...(error ? { error } : {}) });
      };
      // Killed outright at the deadline (a probe command may ignore SIGTERM), as spawnSync's ETIMEDOUT.
      const timer = setTimeout(() => {
        error = `spawn ${cmd[0]} ETIMEDOUT: killed after ${timeoutMs} ms`;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (e) => {
        error ??= e.message;
        finish(null);
      });
      child.on('close', (status) => finish(status));
      // Output is complete when its pipes close. A child the command left behind may hold them
      // open, so a second after the exit what reached the pipes by then is the output. Timers run
      // before the event loop polls for I/O, so what arrived while the loop was busy is read in
      // the poll after the timer: the pipes are let go in the check phase that follows it.
      child.on('exit', (status) => {
        setTimeout(() => {
          setImmediate(() => {
            child.stdout.destroy();
            child.stderr.destroy();
            finish(status);
          });
        }, 1_000).unref();
      });
      child.stdin.on('error', () => {
        // the command exited without reading its input
      });
      child.stdin.end(opts.input ?? '');
    });
  },
};

/** The executor used when a caller is given none. */
export const defaultExecutor: Executor = realExecutor;

/**
 * Turns a Result into stdout, or a CommandError. allowFail forgives a non-zero exit only: a
 * command that could not start or timed out is always an error.
 */
export function checked(argv: string[], r: Result, allowFail = false): string {
  if (r.error !== undefined && r.status === null) {
    throw new CommandError(argv, null, r.error, /ENOENT/.test(r.error) ? 'ENOENT' : /ETIMEDOUT|timed out/i.test(r.error) ? 'ETIMEDOUT' : 'EXIT');
  }
  if (r.status !== 0 && !allowFail) throw new CommandError(argv, r.status, r.stderr);
  return r.stdout;
}

/** Runs a command and returns its stdout; throws CommandError on a non-zero exit unless allowFail. */
export function run(argv: string[], opts: RunOptions = {}, ex: Executor = defaultExecutor): string {
  return checked(argv, ex.exec(argv, opts), opts.allowFail);
}

/** Whether a command exits 0. */
export function succeeds(argv: string[], opts: RunOptions = {}, ex: Executor = defaultExecutor): boolean {
  return ex.exec(argv, opts).status === 0;
}

/** Whether a program is on the PATH. */
export function commandExists(cmd: string, ex: Executor = defaultExecutor): boolean {
  return ex.exec(['sh', '-c', `command -v ${cmd}`]).stdout.trim() !== '';
}

/** Runs a command without blocking; resolves to stdout or rejects with a CommandError. */
export async function runAsync(argv: string[], opts: RunOptions = {}, ex: Executor = defaultExecutor): Promise<string> {
  return checked(argv, await ex.execAsync(argv, opts), opts.allowFail);
}

/**
 * Runs a user's command attached to this terminal (stdin, stdout and stderr inherited, so it
 * can be interactive) and returns its exit code (1 when it could not run). Not part of
 * Executor: nothing is captured, so there is nothing for a fake to answer.
 */
export function execAttached(argv: string[], opts: Pick<RunOptions, 'netns' | 'netnsEtc' | 'env'> = {}): number {
  const cmd = wrapNetns(argv, opts);
  return spawnSync(cmd[0]!, cmd.slice(1), { stdio: 'inherit', env: opts.env }).status ?? 1;
}
