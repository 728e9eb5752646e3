// The nft executable as nftables mode uses it: one transaction per sync, and the table's chains
// and sets read back (for stale ones and the canary check); and a fake of it.
import { defaultExecutor, run, succeeds, type Executor } from '../../exec/exec.ts';
import { table } from './render.ts';

export interface NftShell {
  run(text: string): void;
  /** names of the table's chains and sets; empty when there is no table */
  listChains(): string[];
  listSets(): string[];
  hasChain(name: string): boolean;
}

/** `nft` run through `ex`. */
export function realNft(ex: Executor = defaultExecutor): NftShell {
  const list = (kind: 'chains' | 'sets'): string[] => {
    const out = run(['nft', '--json', 'list', kind, 'ip'], { allowFail: true, timeoutMs: 600_000 }, ex);
    if (!out.trim()) return [];
    const one = kind === 'chains' ? 'chain' : 'set';
    const doc = JSON.parse(out) as { nftables: Record<string, { table?: string; name?: string }>[] };
    return doc.nftables.map((o) => o[one]).filter((o): o is { table: string; name: string } => o?.table === 'kube-proxy').map((o) => o.name);
  };
  return {
    run: (text) => void run(['nft', '-f', '-'], { input: text, timeoutMs: 600_000 }, ex),
    listChains: () => list('chains'),
    listSets: () => list('sets'),
    hasChain: (name) => succeeds(['nft', 'list', 'chain', ...table.split(' '), name], {}, ex),
  };
}

/**
 * The fake: transactions are recorded, and the chains and sets they add or delete kept, so the
 * listings and hasChain answer as the kernel would; `failNext` makes the next one throw, once.
 * (test/helpers/nft-fake.ts is the one that checks every operation as nft would.)
 */
export class FakeNft implements NftShell {
  readonly transactions: string[] = [];
  readonly chains = new Set<string>();
  readonly sets = new Set<string>();
  failNext: Error | undefined;

  run(text: string): void {
    const e = this.failNext;
    this.failNext = undefined;
    if (e) throw e;
    this.transactions.push(text);
    for (const line of text.split('\n')) {
      const m = new RegExp(`^(add|delete) (chain|set) ${table} (\\S+)`).exec(line);
      if (!m) continue;
      const names = m[2] === 'chain' ? this.chains : this.sets;
      if (m[1] === 'add') names.add(m[3]!);
      else names.delete(m[3]!);
    }
  }

  listChains(): string[] {
    return [...this.chains];
  }

  listSets(): string[] {
    return [...this.sets];
  }

  hasChain(name: string): boolean {
    return this.chains.has(name);
  }
}
