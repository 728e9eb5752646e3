// A rule's arguments read as iptables reads them: the built-in matches (-p, -s, -d, -i, -o, -f),
// each "-m MODULE" with the options that follow it, and the "-j TARGET" (or "-g CHAIN") with its
// options, each option possibly negated with "!". The order of the arguments is kept in the rule;
// this is the structure a packet walker asks questions of.
import { IptError } from './types.ts';

export interface Negatable {
  value: string;
  negated: boolean;
}

/** An option of a match or target: "--dport 80" is { name: 'dport', values: ['80'] }. */
export interface Param {
  name: string;
  values: string[];
  negated: boolean;
}

export interface Match {
  module: string;
  /** options given after -p PROTO without "-m PROTO" belong to that protocol's match */
  implicit?: boolean;
  params: Param[];
}

export interface Target {
  name: string;
  params: Param[];
}

export interface RuleSpec {
  protocol?: Negatable;
  source?: Negatable;
  destination?: Negatable;
  inInterface?: Negatable;
  outInterface?: Negatable;
  fragment?: { negated: boolean };
  matches: Match[];
  /** -j: a chain, a verdict (ACCEPT, DROP, RETURN) or an extension (DNAT, MARK, …) */
  target?: Target;
  /** -g: continue in this chain without returning here */
  goto?: string;
  /** the comment match's text */
  comment?: string;
}

const core: Record<string, 'protocol' | 'source' | 'destination' | 'inInterface' | 'outInterface'> = {
  '-p': 'protocol',
  '--protocol': 'protocol',
  '-s': 'source',
  '--source': 'source',
  '--src': 'source',
  '-d': 'destination',
  '--destination': 'destination',
  '--dst': 'destination',
  '-i': 'inInterface',
  '--in-interface': 'inInterface',
  '-o': 'outInterface',
  '--out-interface': 'outInterface',
};

// Options whose values may look like options themselves, or that take more than one word;
// any other option takes the words up to the next one starting with "-" (or "!").
const arity: Record<string, number> = { comment: 1, 'log-prefix': 1, 'nflog-prefix': 1, 'match-set': 2, 'tcp-flags': 2 };

/** Reads a rule's argument list; throws IptError EINVAL for arguments iptables would not take. */
export function parseRuleSpec(args: readonly string[]): RuleSpec {
  const spec: RuleSpec = { matches: [] };
  let owner: Match | Target | undefined;
  let negated = false;
  const fail = (msg: string) => new IptError('EINVAL', `${msg} in: ${args.join(' ')}`);
  const value = (i: number) => {
    const v = args[i + 1];
    if (v === undefined) throw fail(`${args[i]} needs a value`);
    return v;
  };
  for (let i = 0; i < args.length; ) {
    const a = args[i]!;
    if (a === '!') {
      if (negated) throw fail('"!" twice');
      negated = true;
      i++;
      continue;
    }
    const field = core[a];
    if (field) {
      spec[field] = { value: value(i), negated };
      i += 2;
    } else if (a === '-f' || a === '--fragment') {
      spec.fragment = { negated };
      i++;
    } else if (a === '-m' || a === '--match') {
      owner = { module: value(i), params: [] };
      spec.matches.push(owner);
      i += 2;
    } else if (a === '-j' || a === '--jump') {
      owner = spec.target = { name: value(i), params: [] };
      i += 2;
    } else if (a === '-g' || a === '--goto') {
      spec.goto = value(i);
      i += 2;
    } else if (a.startsWith('--')) {
      if (!owner) {
        if (!spec.protocol) throw fail(`${a} belongs to no match`);
        owner = { module: spec.protocol.value, implicit: true, params: [] };
        spec.matches.push(owner);
      }
      const name = a.slice(2);
      const n = arity[name];
      let end = i + 1;
      if (n !== undefined) end += n;
      else while (end < args.length && !args[end]!.startsWith('-') && args[end] !== '!') end++;
      if (end > args.length) throw fail(`${a} needs ${n} value(s)`);
      owner.params.push({ name, values: args.slice(i + 1, end), negated });
      if ('module' in owner && owner.module === 'comment' && name === 'comment') spec.comment = args[i + 1];
      i = end;
    } else {
      throw fail(`unexpected argument ${JSON.stringify(a)}`);
    }
    negated = false;
  }
  if (negated) throw fail('"!" at the end');
  return spec;
}

/** The first option of this name in a match of this module (or in any match when module is undefined). */
export function matchParam(spec: RuleSpec, module: string | undefined, name: string): Param | undefined {
  for (const m of spec.matches) {
    if (module !== undefined && m.module !== module) continue;
    const p = m.params.find((x) => x.name === name);
    if (p) return p;
  }
  return undefined;
}

/** An option of the target ("to-destination" of DNAT). */
export function targetParam(spec: RuleSpec, name: string): Param | undefined {
  return spec.target?.params.find((p) => p.name === name);
}
