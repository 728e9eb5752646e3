// pkg/util/iptables for podpath: typed tables, chains and rules; iptables-save / -restore text
// read and written in one place each; an Interface over the tools with one fake.
export * from './types.ts';
export { chainsOf, parseDump } from './parse.ts';
export { serializeDump, ruleLine } from './serialize.ts';
export { tokenize, quoteArg, joinArgs, type Quoting } from './tokenize.ts';
export { parseRuleSpec, matchParam, targetParam, type RuleSpec, type Match, type Target, type Param, type Negatable } from './rulespec.ts';
export type { IptablesInterface, RestoreOptions, RulePosition } from './interface.ts';
export { FakeIptables } from './fake.ts';
export { withEnsured, type EnsuredChain, type EnsuredRule } from './ensure.ts';
export { Iptables, errorFromStderr, type IptablesOptions } from './iptables.ts';
