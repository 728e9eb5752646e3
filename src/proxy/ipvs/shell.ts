// The kernel side of IPVS mode: ipvsadm for the table, ipset for the sets, iptables (src/iptables'
// Interface) for the rules beside them, sysctl for upstream's settings; and a fake kernel (these
// machines' kernels have no IPVS) whose iptables is src/iptables' fake.
import { defaultExecutor, run, succeeds, type Executor } from '../../exec/exec.ts';
import { FakeIptables, Iptables, type IptablesInterface } from '../../iptables/index.ts';

export interface IpvsShell {
  /** `ipvsadm-save -n` */
  save(): string;
  /** `ipvsadm -Ln` (connection counts) */
  list(): string;
  /** `ipvsadm-restore` of edit lines */
  restore(lines: string[]): void;
  /** `ipset restore` */
  ipsetRestore(text: string): void;
  iptables: IptablesInterface;
  sysctl(key: string, value: string): void;
}

/** The real tools, run through `ex`. */
export function realIpvs(ex: Executor = defaultExecutor, iptables: IptablesInterface = new Iptables({ executor: ex, timeoutMs: 600_000 })): IpvsShell {
  return {
    save: () => run(['ipvsadm-save', '-n'], {}, ex),
    list: () => run(['ipvsadm', '-Ln'], {}, ex),
    restore: (lines) => void (lines.length && run(['ipvsadm-restore'], { input: lines.join('\n') + '\n' }, ex)),
    ipsetRestore: (text) => void run(['ipset', 'restore'], { input: text }, ex),
    iptables,
    sysctl: (k, v) => void succeeds(['sysctl', '-q', '-w', `${k}=${v}`], {}, ex),
  };
}

/**
 * The fake kernel: `ipvsadm-restore` edits (-A/-E/-D, -a/-e/-d) change its table, which
 * `ipvsadm-save -n` prints back; `listing` is what `ipvsadm -Ln` prints (connection counts);
 * ipset scripts and sysctls are recorded.
 */
export class FakeIpvs implements IpvsShell {
  readonly edits: string[] = [];
  readonly ipsetScripts: string[] = [];
  readonly sysctls = new Map<string, string>();
  listing = '';
  /** the table, by "-t ip:port": the virtual server's options and each real server's */
  private readonly table = new Map<string, { opts: string; reals: Map<string, string> }>();

  constructor(readonly iptables: IptablesInterface = new FakeIptables()) {}

  save(): string {
    const lines = [...this.table].flatMap(([vs, v]) => [`-A ${vs} ${v.opts}`.trimEnd(), ...[...v.reals].map(([r, o]) => `-a ${vs} -r ${r} ${o}`.trimEnd())]);
    return lines.map((l) => `${l}\n`).join('');
  }

  list(): string {
    return this.listing;
  }

  restore(lines: string[]): void {
    for (const line of lines) {
      this.edits.push(line);
      const m = /^-([AEDaed]) (-[tu]|--sctp-service) (\S+)(?: -r (\S+))?(?: (.*))?$/.exec(line);
      if (!m) throw new Error(`ipvsadm-restore (fake): cannot parse ${JSON.stringify(line)}`);
      const [, op, flag, addr, real, opts = ''] = m;
      const vs = `${flag} ${addr}`;
      const v = this.table.get(vs);
      if (op === 'A') this.table.set(vs, { opts, reals: new Map() });
      else if (!v) throw new Error(`ipvsadm-restore (fake): no virtual server ${vs}`);
      else if (op === 'E') v.opts = opts;
      else if (op === 'D') this.table.delete(vs);
      else if (op === 'd') v.reals.delete(real!);
      else v.reals.set(real!, opts);
    }
  }

  ipsetRestore(text: string): void {
    this.ipsetScripts.push(text);
  }

  sysctl(key: string, value: string): void {
    this.sysctls.set(key, value);
  }
}
