// sigs.k8s.io/knftables for podpath: typed nftables objects, transactions rendered to `nft -f`
// text in one place, an Interface over nft with one Fake, and a reader of the kernel's rules.
export * from './types.ts';
export * from './errors.ts';
export { Transaction, type Operation } from './transaction.ts';
export { writeOperation } from './serialize.ts';
export type { NftInterface, ListableType } from './interface.ts';
export { Fake, type FakeTable, type FakeChain, type FakeSet } from './fake.ts';
export { Nftables, readRuleset, type NftOptions, type NftRunner } from './nftables.ts';
export { parseRuleset, type Ruleset } from './ruleset.ts';
export type { Expr, Statement, SetItem, Verdict, MatchOp, NatType, Value } from './expr.ts';
export { verdictText, elementWords } from './expr.ts';
