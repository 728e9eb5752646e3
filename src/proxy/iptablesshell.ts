// The iptables executables as kube-proxy uses them (upstream's util/iptables): restore a
// transaction, read the nat table back, and keep a jump rule or chain in place. Both iptables
// mode and IPVS mode (its nat and filter rules beside the IPVS table) go through it; the fake
// keeps what was written for unit tests.
import { defaultExecutor, run, succeeds, type Executor } from '../exec/exec.ts';

export interface IptablesShell {
  restore(text: string): void;
  saveNat(): string;
  /** -C, then -I when missing */
  ensureRule(table: string, chain: string, args: string[]): void;
  ensureChain(table: string, chain: string): void;
  hasChain(table: string, chain: string): boolean;
  /** whether MASQUERADE takes --random-fully (absent: it is not used) */
  supportsRandomFully?(): boolean;
}

/** The real executables, run through `ex`. */
export function realIptables(ex: Executor = defaultExecutor): IptablesShell {
  const iptables = (...args: string[]) => ['iptables', '-w', '5', ...args];
  return {
    restore: (text) => void run(['iptables-restore', '-w', '5', '-W', '100000', '--noflush', '--counters'], { input: text, timeoutMs: 600_000 }, ex),
    saveNat: () => run(['iptables-save', '-t', 'nat'], { timeoutMs: 600_000 }, ex),
    ensureRule: (t, chain, args) => {
      if (!succeeds(iptables('-t', t, '-C', chain, ...args), {}, ex)) run(iptables('-t', t, '-I', chain, ...args), {}, ex);
    },
    ensureChain: (t, chain) => {
      if (!succeeds(iptables('-t', t, '-S', chain, '1'), {}, ex)) run(iptables('-t', t, '-N', chain), {}, ex);
    },
    hasChain: (t, chain) => succeeds(iptables('-t', t, '-S', chain, '1'), {}, ex),
    // MASQUERADE --random-fully came with iptables 1.6.2.
    supportsRandomFully: () => {
      const m = /v(\d+)\.(\d+)\.(\d+)/.exec(run(['iptables', '--version'], { allowFail: true }, ex));
      if (!m) return false;
      const [a, b, c] = m.slice(1).map(Number) as [number, number, number];
      return a > 1 || (a === 1 && (b > 6 || (b === 6 && c >= 2)));
    },
  };
}

/**
 * The fake: restores are recorded and their chain declarations kept, so hasChain answers as the
 * kernel would; `natSave` is what `iptables-save -t nat` prints; `failNext` makes the next
 * restore throw, once.
 */
export class FakeIptables implements IptablesShell {
  readonly restores: string[] = [];
  /** "table chain args…" of every rule ensured */
  readonly rules = new Set<string>();
  /** "table chain" */
  readonly chains = new Set<string>();
  natSave = '';
  randomFully = false;
  failNext: Error | undefined;

  restore(text: string): void {
    const e = this.failNext;
    this.failNext = undefined;
    if (e) throw e;
    this.restores.push(text);
    let table = '';
    for (const line of text.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1);
      else if (line.startsWith(':')) this.chains.add(`${table} ${line.slice(1).split(' ')[0]}`);
    }
  }

  saveNat(): string {
    return this.natSave;
  }

  ensureRule(table: string, chain: string, args: string[]): void {
    this.rules.add([table, chain, ...args].join(' '));
  }

  ensureChain(table: string, chain: string): void {
    this.chains.add(`${table} ${chain}`);
  }

  hasChain(table: string, chain: string): boolean {
    return this.chains.has(`${table} ${chain}`);
  }

  supportsRandomFully(): boolean {
    return this.randomFully;
  }
}
