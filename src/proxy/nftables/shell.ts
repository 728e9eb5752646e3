// The nft executable as nftables mode uses it: one transaction per sync, and the table's chains
// and sets read back (for stale ones and the canary check).
import { run, succeeds } from '../../exec/exec.ts';
import { table } from './render.ts';

export interface NftShell {
  run(text: string): void;
  /** names of the table's chains and sets; empty when there is no table */
  listChains(): string[];
  listSets(): string[];
  hasChain(name: string): boolean;
}

function nftList(kind: 'chains' | 'sets'): string[] {
  const out = run(['nft', '--json', 'list', kind, 'ip'], { allowFail: true, timeoutMs: 600_000 });
  if (!out.trim()) return [];
  const one = kind === 'chains' ? 'chain' : 'set';
  const doc = JSON.parse(out) as { nftables: Record<string, { table?: string; name?: string }>[] };
  return doc.nftables.map((o) => o[one]).filter((o): o is { table: string; name: string } => o?.table === 'kube-proxy').map((o) => o.name);
}

export const realNft: NftShell = {
  run: (text) => void run(['nft', '-f', '-'], { input: text, timeoutMs: 600_000 }),
  listChains: () => nftList('chains'),
  listSets: () => nftList('sets'),
  hasChain: (name) => succeeds(['nft', 'list', 'chain', ...table.split(' '), name]),
};
