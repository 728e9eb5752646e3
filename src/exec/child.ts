// A long-running child process that its starter supervises (the ingress controller's nginx
// master): output passed through to the starter's own, its exit reported. It stays in the
// starter's process group, so whoever stops the starter's group (the node agent, a test) stops
// it too.
import { spawn } from 'node:child_process';

export interface Child {
  readonly pid: number;
  /** settles when the process has exited */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(sig: NodeJS.Signals): void;
}

/** Starts argv with stdout and stderr shared with this process; rejects when it cannot be started. */
export function startChild(argv: string[]): Promise<Child> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'] });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => p.once('exit', (code, signal) => res({ code, signal })));
    p.once('error', reject);
    p.once('spawn', () =>
      resolve({
        pid: p.pid!,
        exited,
        signal: (sig) => {
          if (p.exitCode === null && p.signalCode === null) p.kill(sig);
        },
      }),
    );
  });
}
