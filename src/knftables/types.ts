// The nftables object model of sigs.k8s.io/knftables: tables, chains, rules, sets, maps, their
// elements and flowtables as plain typed objects. Callers build them, a Transaction queues verbs
// on them, serialize.ts renders them as `nft -f` text, the Fake applies them, and the JSON
// reader (ruleset.ts) gives the kernel's live rules back in the same shapes.
import type { Statement } from './expr.ts';

export type Family = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';

/** The longest comment nft accepts ("comment too long, 128 characters maximum allowed"). */
export const commentLengthMax = 128;

/** Objects name their family and table, or leave both to the transaction's context (the Interface's table). */
interface InTable {
  family?: Family;
  table?: string;
}

export type TableFlag = 'dormant' | 'owner' | 'persist';

export interface Table {
  kind: 'table';
  family?: Family;
  /** the table's name; the context's when absent */
  name?: string;
  comment?: string;
  flags?: TableFlag[];
  /** set by the kernel (or the Fake); only for delete/destroy by handle */
  handle?: number;
}

export type BaseChainType = 'filter' | 'nat' | 'route';
export type BaseChainHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'ingress' | 'egress';
/** A number, a named priority (raw, mangle, dstnat, filter, security, srcnat, out) or "name+N" / "name-N". */
export type BaseChainPriority = string | number;
export type BaseChainPolicy = 'accept' | 'drop';

/** A base chain when type, hook and priority are set; a regular chain when none is. */
export interface Chain extends InTable {
  kind: 'chain';
  name: string;
  type?: BaseChainType;
  hook?: BaseChainHook;
  priority?: BaseChainPriority;
  policy?: BaseChainPolicy;
  /** the interface of an ingress/egress base chain */
  device?: string;
  comment?: string;
  handle?: number;
}

export interface Rule extends InTable {
  kind: 'rule';
  chain: string;
  /** the rule in nft syntax, without its comment; empty in a delete, and in a rule read back without a text listing */
  rule: string;
  comment?: string;
  /** add after / insert before the rule at this position (counting from 0); not with handle */
  index?: number;
  /** add after / insert before / replace / delete the rule with this handle; set on rules read back */
  handle?: number;
  /** the rule's statements as the kernel holds them (rules read back from `nft -j` only) */
  expr?: Statement[];
}

export type SetFlag = 'constant' | 'dynamic' | 'interval' | 'timeout';
export type SetPolicy = 'performance' | 'memory';

interface SetLike extends InTable {
  name: string;
  /** the key type ("ipv4_addr . inet_proto . inet_service", for a map with " : verdict"); exactly one of type and typeOf */
  type?: string;
  /** the key as nft expressions ("ip saddr"; for a map "ip saddr : verdict") */
  typeOf?: string;
  flags?: SetFlag[];
  /** seconds an element stays */
  timeout?: number;
  /** seconds between garbage collections of timed-out elements */
  gcInterval?: number;
  size?: number;
  policy?: SetPolicy;
  comment?: string;
  handle?: number;
}

export interface NftSet extends SetLike {
  kind: 'set';
  /** merge adjacent and overlapping intervals */
  autoMerge?: boolean;
}

export interface NftMap extends SetLike {
  kind: 'map';
}

/** An element of a set (no value) or a map (key : value). */
export interface Element extends InTable {
  kind: 'element';
  /** exactly one of set and map */
  set?: string;
  map?: string;
  /** one word per part of a concatenated key: ["10.96.0.1", "tcp", "443"] */
  key: string[];
  /** a map element's value, likewise ("goto service-…" is one word) */
  value?: string[];
  comment?: string;
}

export interface Flowtable extends InTable {
  kind: 'flowtable';
  name: string;
  /** "filter" or a number; the hook is always ingress */
  priority?: string;
  devices?: string[];
  handle?: number;
}

export type NftObject = Table | Chain | Rule | NftSet | NftMap | Element | Flowtable;
export type ObjectKind = NftObject['kind'];

export type Verb = 'add' | 'create' | 'insert' | 'replace' | 'delete' | 'destroy' | 'flush';

/** The table an Interface (and its transactions) works on, and how destroy is written. */
export interface NftContext {
  family?: Family;
  table?: string;
  /** write destroy as add + delete (nft before 1.0.7 or kernels before 6.3 lack destroy) */
  emulateDestroy?: boolean;
}

const priorities: Record<string, number> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 };
const bridgePriorities: Record<string, number> = { dstnat: -300, filter: -200, out: 100, srcnat: 300 };

/** A chain priority as a number ("dstnat-10" in family ip is -110), or undefined when it names no known priority. */
export function parsePriority(family: Family | undefined, priority: BaseChainPriority): number | undefined {
  if (typeof priority === 'number') return priority;
  // nft lists "dstnat - 10"; knftables writes "dstnat-10"
  const s = priority.replace(/\s+/g, '');
  if (/^[+-]?\d+$/.test(s)) return Number(s);
  const m = /^([a-z]+)([+-]\d+)?$/.exec(s);
  const base = m ? (family === 'bridge' ? bridgePriorities : priorities)[m[1]!] : undefined;
  return base === undefined ? undefined : base + Number(m![2] ?? 0);
}

/**
 * Joins rule pieces with single spaces, as knftables.Concat: arrays are spread, and "@" is not
 * followed by a space, so concat('ip saddr', '@', 'my-set') is "ip saddr @my-set".
 */
export function concat(...args: (string | number | readonly (string | number)[])[]): string {
  let out = '';
  let glue = false;
  const put = (s: string) => {
    if (glue && out !== '') out += ' ';
    out += s;
    glue = s !== '@';
  };
  for (const a of args) {
    if (Array.isArray(a)) for (const s of a) put(String(s));
    else put(String(a));
  }
  return out;
}
