// Long-running commands in tests: their output as it comes, a wait for a pattern, input, their
// end; and a command on a pseudo-terminal of its own (script(1)), as a person at a terminal runs it.
import { spawn } from 'node:child_process';

/** A long-running command: its output so far, waits for a pattern, input, its end. */
export class Proc {
  out = '';
  err = '';
  code: number | null | undefined;
  private readonly exited: Promise<void>;
  constructor(private readonly child: ReturnType<typeof spawn>) {
    child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
    // 'close': the output is all read by then.
    this.exited = new Promise((r) => child.on('close', (code) => ((this.code = code), r())));
  }
  async waitFor(re: RegExp, ms = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.out + this.err);
      if (m) return m;
      if (Date.now() > deadline || this.code !== undefined) throw new Error(`no ${re} in:\n${this.out}\n${this.err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  write(s: string): void {
    this.child.stdin!.write(s);
  }
  async end(ms = 30_000): Promise<number | null> {
    const t = setTimeout(() => this.child.kill('SIGKILL'), ms);
    await this.exited;
    clearTimeout(t);
    return this.code ?? null;
  }
  kill(): void {
    if (this.code === undefined) this.child.kill('SIGTERM');
  }
}

/** `bin args` on a pseudo-terminal of its own, 30 rows by 100 columns. */
export function onPseudoTerminal(bin: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  const quoted = [bin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Proc(spawn('script', ['-qfec', `stty rows 30 cols 100; exec ${quoted}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] }));
}
