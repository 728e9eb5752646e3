// The iptables Interface over the real iptables, iptables-restore and iptables-save, through
// podpath's exec layer (in a namespace when asked, or the exec fake in unit tests).
import { defaultExecutor, type Executor, type Result } from '../exec/exec.ts';
import type { IptablesInterface, RestoreOptions, RulePosition } from './interface.ts';
import { chainsOf, parseDump } from './parse.ts';
import { serializeDump } from './serialize.ts';
import { IptError, type IptErrorCode, type Table, type TableName } from './types.ts';

export interface IptablesOptions {
  executor?: Executor;
  /** the network namespace (under /run/netns) whose tables to work on */
  netns?: string;
  /** per command (default 60 s) */
  timeoutMs?: number;
  /** seconds to wait for the xtables lock (-w; default 5) */
  waitSeconds?: number;
}

// iptables' messages are not translated; these say which failure it was.
const messages: [string, IptErrorCode][] = [
  ['does not exist', 'ENOENT'],
  ['No chain/target/match by that name', 'ENOENT'],
  ['No such file or directory', 'ENOENT'],
  ['does a matching rule exist', 'ENOENT'],
  ['already exists', 'EEXIST'],
  ['File exists', 'EEXIST'],
  ['Device or resource busy', 'EBUSY'],
  ['Too many links', 'EBUSY'],
  ['Operation not supported', 'EOPNOTSUPP'],
];

export function errorFromStderr(stderr: string): IptError {
  const code = messages.find(([text]) => stderr.includes(text))?.[1] ?? 'EINVAL';
  const said = stderr.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  return new IptError(code, said || 'iptables failed', stderr);
}

/** Whether an `iptables --version` line names 1.6.2 or later, the first with MASQUERADE --random-fully. */
function versionHasRandomFully(versionText: string): boolean {
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(versionText);
  if (!m) return false;
  const [a, b, c] = m.slice(1).map(Number) as [number, number, number];
  return a > 1 || (a === 1 && (b > 6 || (b === 6 && c >= 2)));
}

export class Iptables implements IptablesInterface {
  private randomFully: boolean | undefined;

  constructor(private readonly opts: IptablesOptions = {}) {}

  private exec(argv: string[], input?: string): Result {
    const r = (this.opts.executor ?? defaultExecutor).exec(argv, {
      ...(input !== undefined ? { input } : {}),
      ...(this.opts.netns ? { netns: this.opts.netns } : {}),
      timeoutMs: this.opts.timeoutMs ?? 60_000,
    });
    if (r.status === null) throw new IptError('EEXEC', `${argv[0]} did not run: ${r.error ?? r.stderr}`, r.stderr);
    return r;
  }

  private ok(argv: string[], input?: string): string {
    const r = this.exec(argv, input);
    if (r.status !== 0) throw errorFromStderr(r.stderr);
    return r.stdout;
  }

  private iptables(table: TableName, ...args: string[]): string[] {
    return ['iptables', '-w', String(this.opts.waitSeconds ?? 5), '-t', table, ...args];
  }

  restore(tables: readonly Table[], opts: RestoreOptions = {}): void {
    const wait = String(this.opts.waitSeconds ?? 5);
    // -W: poll the lock every 100 ms, as kube-proxy does
    const argv = ['iptables-restore', '-w', wait, '-W', '100000', ...(opts.noflush ? ['--noflush'] : []), ...(opts.counters ? ['--counters'] : [])];
    this.ok(argv, serializeDump(tables, 'restore'));
  }

  save(table: TableName, chains?: readonly string[]): Table {
    let text = this.ok(['iptables-save', '-t', table]);
    // Only the rules asked for are parsed: kube-proxy's nat table can hold 100,000s.
    if (chains) text = text.split('\n').filter((l) => !l.startsWith('-A ') || chains.some((c) => l.startsWith(`-A ${c} `))).join('\n');
    const found = parseDump(text).find((t) => t.name === table);
    return found ?? { name: table, chains: [], ops: [] };
  }

  listChains(table: TableName): string[] {
    return chainsOf(this.ok(['iptables-save', '-t', table]), table);
  }

  ensureChain(table: TableName, chain: string): boolean {
    const r = this.exec(this.iptables(table, '-N', chain));
    if (r.status === 0) return false;
    const e = errorFromStderr(r.stderr);
    if (e.code === 'EEXIST') return true;
    throw e;
  }

  ensureRule(position: RulePosition, table: TableName, chain: string, args: readonly string[]): boolean {
    if (this.exec(this.iptables(table, '-C', chain, ...args)).status === 0) return true;
    this.ok(this.iptables(table, position === 'append' ? '-A' : '-I', chain, ...args));
    return false;
  }

  hasChain(table: TableName, chain: string): boolean {
    return this.exec(this.iptables(table, '-S', chain)).status === 0;
  }

  /** Asks `iptables --version` once. */
  hasRandomFully(): boolean {
    this.randomFully ??= versionHasRandomFully(this.exec(['iptables', '--version']).stdout);
    return this.randomFully;
  }
}
