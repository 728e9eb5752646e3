// The nftables Interface over the real nft binary, through podpath's exec layer (so it can run
// in a namespace, and be handed the exec fake): transactions go to `nft -f -` as text, reads come
// back as JSON plus the text listing that carries each rule's text. Asked to (`session`), it runs
// transactions through one libnftables context kept open instead (./libnftables.ts), and through
// `nft -f -` where that addon is not built.
import { defaultExecutor, type Executor, type Result } from '../exec/exec.ts';
import { deletesByName, rulesInChainBlocks } from './cachefree.ts';
import { errorFromStderr, NftError } from './errors.ts';
import { singular, type ListableType, type NftInterface } from './interface.ts';
import { libnftables, NftSession } from './libnftables.ts';
import { parseRuleset, type Ruleset } from './ruleset.ts';
import { Transaction } from './transaction.ts';
import type { Element, Family, Rule } from './types.ts';

export interface NftOptions {
  family: Family;
  table: string;
  executor?: Executor;
  /** the network namespace (under /run/netns) whose tables to work on */
  netns?: string;
  /** destroy as add + delete where nft or the kernel lacks destroy (checked once, on first use) */
  emulateDestroy?: boolean;
  /** per nft run (default 60 s; a large sync may want more) */
  timeoutMs?: number;
  /**
   * Run transactions through one libnftables context kept open (build/nftctx.node) rather than a
   * new nft each. Only with the real executor; without the addon, transactions go to `nft -f -`.
   */
  session?: boolean;
}

/** Where and how to run nft. */
export interface NftRunner {
  executor?: Executor;
  netns?: string;
  timeoutMs?: number;
}

/** Runs nft; its stdout, or the NftError for what it said. */
function nft(r: NftRunner, args: string[], input?: string): string {
  const res: Result = (r.executor ?? defaultExecutor).exec(['nft', ...args], {
    ...(input !== undefined ? { input } : {}),
    ...(r.netns ? { netns: r.netns } : {}),
    timeoutMs: r.timeoutMs ?? 60_000,
  });
  if (res.status === 0) return res.stdout;
  if (res.status === null) throw new NftError('EEXEC', `nft did not run: ${res.error ?? res.stderr}`, res.stderr);
  throw errorFromStderr(res.stderr);
}

/** Every table of the namespace, read back (the trace's view of the kernel). */
export function readRuleset(r: NftRunner = {}): Ruleset {
  return parseRuleset(nft(r, ['-j', 'list', 'ruleset']), nft(r, ['-a', 'list', 'ruleset']));
}

export class Nftables implements NftInterface {
  private hasDestroy: boolean | undefined;
  private session: NftSession | undefined;
  /** why transactions go to `nft -f -` though a session was asked for */
  private noSession: string | undefined;

  constructor(private readonly opts: NftOptions) {
    if (opts.session && opts.executor && opts.executor !== defaultExecutor) this.noSession = 'not with this executor';
  }

  /** How transactions are applied: through the libnftables context, or by nft (and why not the context, if one was asked for). */
  get transport(): string {
    if (this.opts.session && !this.session && !this.noSession) {
      const lib = libnftables();
      if ('error' in lib) this.noSession = lib.error;
    }
    if (this.opts.session && !this.noSession) return 'libnftables (one context kept open)';
    return `nft -f -${this.noSession ? ` (${this.noSession})` : ''}`;
  }

  /** The open context, opened on first use; undefined when transactions go to nft. */
  private openSession(): NftSession | undefined {
    if (this.session || !this.opts.session || this.noSession) return this.session;
    const { netns } = this.opts;
    const s = NftSession.open(netns ? { netns } : {});
    if ('error' in s) this.noSession = s.error;
    else this.session = s;
    return this.session;
  }

  /** Closes the libnftables context, if one is open (a later transaction opens another). */
  close(): void {
    this.session?.close();
    this.session = undefined;
  }

  newTransaction(): Transaction {
    const { family, table, emulateDestroy } = this.opts;
    if (emulateDestroy && this.hasDestroy === undefined) {
      // nft before 1.0.7 does not parse destroy; kernels before 6.3 refuse it
      this.hasDestroy = this.probe(`destroy table ${family} ${table}\n`);
    }
    return new Transaction({ family, table, emulateDestroy: emulateDestroy === true && this.hasDestroy === false });
  }

  private probe(text: string): boolean {
    try {
      nft(this.opts, ['--check', '-f', '-'], text);
      return true;
    } catch {
      return false;
    }
  }

  run(tx: Transaction): void {
    if (tx.error) throw tx.error;
    // Rules in chain blocks where that spares nft reading every chain first (./cachefree.ts).
    // Refused in that form, the transaction (nothing of which was applied) goes again as written,
    // so what it does and the error it fails with are nft's for tx.toString() exactly.
    // Deletes by name alone, in a libnftables context: as netlink messages of its own, where nft
    // would read every chain first; refused, again as written (so nft's own words).
    const s = this.openSession();
    const deletes = s && deletesByName(tx);
    if (s && deletes) {
      try {
        s.remove(deletes.family, deletes.table, deletes.objs);
        return;
      } catch {
        // as written, below
      }
    }
    const blocks = rulesInChainBlocks(tx);
    if (blocks !== undefined) {
      try {
        this.apply(blocks);
        return;
      } catch {
        // as written, below
      }
    }
    this.apply(tx.toString());
  }

  private apply(text: string): void {
    const s = this.openSession();
    if (s) s.run(text);
    else nft(this.opts, ['-f', '-'], text);
  }

  check(tx: Transaction): void {
    if (tx.error) throw tx.error;
    // by nft, always: a dry run in the context would leave the objects it defines in its cache
    nft(this.opts, ['--check', '-f', '-'], tx.toString());
  }

  private where(): string[] {
    return [this.opts.family, this.opts.table];
  }

  list(objectType: ListableType): string[] {
    const kind = singular(objectType);
    const { family, table } = this.opts;
    // as knftables: `list chains ip` and the like, of every table of the family, kept to this one
    // (`list table` would print every rule, a lot in a large table just to read names)
    const rs = parseRuleset(nft(this.opts, ['--json', '--terse', 'list', `${kind}s`, family]));
    const objs = kind === 'chain' ? rs.chains : kind === 'set' ? rs.sets : kind === 'map' ? rs.maps : rs.flowtables;
    const names = objs.filter((o) => o.table === table).map((o) => o.name);
    // none: the table may be missing, which is ENOENT
    if (!names.length && !parseRuleset(nft(this.opts, ['--json', 'list', 'tables', family])).tables.some((t) => t.name === table)) {
      throw new NftError('ENOENT', `no such table "${family}" "${table}"`);
    }
    return names.sort();
  }

  listRules(chain: string): Rule[] {
    const what = chain === '' ? ['table', ...this.where()] : ['chain', ...this.where(), chain];
    // --terse: a table's set elements are not wanted here
    const json = nft(this.opts, ['--json', ...(chain === '' ? ['--terse'] : []), 'list', ...what]);
    return parseRuleset(json, nft(this.opts, ['-a', 'list', ...what])).rules;
  }

  hasRules(chain: string): boolean {
    const s = this.openSession();
    if (s) return s.ruleCount(this.opts.family, this.opts.table, chain) > 0;
    try {
      return this.listRules(chain).length > 0;
    } catch (e) {
      if (e instanceof NftError && e.code === 'ENOENT') return false;
      throw e;
    }
  }

  listElements(objectType: 'set' | 'map', name: string): Element[] {
    return parseRuleset(nft(this.opts, ['--json', 'list', objectType, ...this.where(), name])).elements;
  }
}
