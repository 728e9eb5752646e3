// The kernel side of IPVS mode: ipvsadm for the table, ipset for the sets, iptables for the
// rules beside them, sysctl for upstream's settings.
import { run, succeeds } from '../../exec/exec.ts';
import { realIptables, type IptablesShell } from '../iptablesshell.ts';

/** The kernel side of IPVS mode (fakes in unit tests; these machines' kernels have no IPVS). */
export interface IpvsShell {
  /** `ipvsadm-save -n` */
  save(): string;
  /** `ipvsadm -Ln` (connection counts) */
  list(): string;
  /** `ipvsadm-restore` of edit lines */
  restore(lines: string[]): void;
  /** `ipset restore` */
  ipsetRestore(text: string): void;
  iptables: IptablesShell;
  sysctl(key: string, value: string): void;
}

export const realIpvs: IpvsShell = {
  save: () => run(['ipvsadm-save', '-n']),
  list: () => run(['ipvsadm', '-Ln']),
  restore: (lines) => void (lines.length && run(['ipvsadm-restore'], { input: lines.join('\n') + '\n' })),
  ipsetRestore: (text) => void run(['ipset', 'restore'], { input: text }),
  iptables: realIptables,
  sysctl: (k, v) => void succeeds(['sysctl', '-q', '-w', `${k}=${v}`]),
};
