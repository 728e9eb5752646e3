// The one fake of the exec layer: it records every command (with the namespace it was asked to
// run in) and answers from handlers registered per program, so a unit test can say what
// `iptables-save` prints or that `nft` refuses, and then read what was run.
import type { Executor, Result, RunOptions } from './exec.ts';

export interface FakeCall {
  argv: string[];
  netns?: string;
  /** the namespace's /etc files were asked for (ip netns exec, not nsenter) */
  netnsEtc?: boolean;
  /** the process whose namespaces it was asked to run beside */
  enter?: number;
  input?: string;
}

export type FakeHandler = (argv: string[], opts: RunOptions) => Partial<Result> | string | void;

export class FakeExecutor implements Executor {
  readonly calls: FakeCall[] = [];
  private readonly handlers = new Map<string, FakeHandler>();

  /** Answers every later call of `program` (argv[0]) with the handler's result: a string is stdout with exit 0. */
  on(program: string, handler: FakeHandler): this {
    this.handlers.set(program, handler);
    return this;
  }

  /** The calls of one program, as argument lists without the program. */
  callsOf(program: string): string[][] {
    return this.calls.filter((c) => c.argv[0] === program).map((c) => c.argv.slice(1));
  }

  exec(argv: string[], opts: RunOptions = {}): Result {
    this.calls.push({ argv, ...(opts.netns ? { netns: opts.netns } : {}), ...(opts.netnsEtc ? { netnsEtc: true } : {}), ...(opts.enter ? { enter: opts.enter } : {}), ...(opts.input !== undefined ? { input: opts.input } : {}) });
    const h = this.handlers.get(argv[0]!);
    if (!h) return { status: 0, stdout: '', stderr: '' };
    const r = h(argv, opts);
    if (typeof r === 'string') return { status: 0, stdout: r, stderr: '' };
    return { status: 0, stdout: '', stderr: '', ...(r ?? {}) };
  }

  execAsync(argv: string[], opts: RunOptions = {}): Promise<Result> {
    return Promise.resolve(this.exec(argv, opts));
  }
}
