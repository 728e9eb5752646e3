// The iptables executables as kube-proxy uses them (upstream's util/iptables): restore a
// transaction, read the nat table back, and keep a jump rule or chain in place. Both iptables
// mode and IPVS mode (its nat and filter rules beside the IPVS table) go through it.
import { run, succeeds } from '../exec/exec.ts';

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

/** Whether iptables supports MASQUERADE --random-fully (1.6.2 and later). */
function supportsRandomFully(): boolean {
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(run(['iptables', '--version'], { allowFail: true }));
  if (!m) return false;
  const [a, b, c] = m.slice(1).map(Number) as [number, number, number];
  return a > 1 || (a === 1 && (b > 6 || (b === 6 && c >= 2)));
}

export const realIptables: IptablesShell = {
  restore: (text) => void run(['iptables-restore', '-w', '5', '-W', '100000', '--noflush', '--counters'], { input: text, timeoutMs: 600_000 }),
  saveNat: () => run(['iptables-save', '-t', 'nat'], { timeoutMs: 600_000 }),
  ensureRule: (t, chain, args) => {
    if (!succeeds(['iptables', '-w', '5', '-t', t, '-C', chain, ...args])) run(['iptables', '-w', '5', '-t', t, '-I', chain, ...args]);
  },
  ensureChain: (t, chain) => {
    if (!succeeds(['iptables', '-w', '5', '-t', t, '-S', chain, '1'])) run(['iptables', '-w', '5', '-t', t, '-N', chain]);
  },
  hasChain: (t, chain) => succeeds(['iptables', '-w', '5', '-t', t, '-S', chain, '1']),
  supportsRandomFully,
};
