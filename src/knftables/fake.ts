// The one fake of the nftables Interface: it applies a transaction's typed operations to an
// in-memory ruleset, refusing what nft and the kernel refuse (a rule in a missing chain, a jump to
// a missing chain or to a base chain, a lookup in a missing set or map, a delete of something
// missing or still referred to, a create of something there, a map element already there with
// another value, keys or values of the wrong shape), all or nothing. It remembers the last
// transaction and dumps its tables in knftables' Fake.Dump form and order.
import { NftError } from './errors.ts';
import { singular, type ListableType, type NftInterface } from './interface.ts';
import { references, verdictChain } from './refs.ts';
import { writeOperation } from './serialize.ts';
import { Transaction, type Operation } from './transaction.ts';
import type { Chain, Element, Family, Flowtable, NftContext, NftMap, NftObject, NftSet, Rule, Table } from './types.ts';
import { locate, type Location } from './validate.ts';

export interface FakeChain {
  chain: Chain;
  rules: Rule[];
}

export interface FakeSet<T extends NftSet | NftMap = NftSet> {
  def: T;
  elements: Element[];
}

export interface FakeTable {
  table: Table;
  chains: Map<string, FakeChain>;
  sets: Map<string, FakeSet<NftSet>>;
  maps: Map<string, FakeSet<NftMap>>;
  flowtables: Map<string, Flowtable>;
}

type Tables = Map<string, FakeTable>;
const tableKey = (l: Location) => `${l.family} ${l.table}`;

const notFound = (msg: string) => new NftError('ENOENT', msg);
const exists = (msg: string) => new NftError('EEXIST', msg);
const sameKey = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((w, i) => w === b[i]);

function cloneTable(t: FakeTable): FakeTable {
  return {
    table: t.table,
    chains: new Map([...t.chains].map(([k, c]) => [k, { chain: c.chain, rules: [...c.rules] }])),
    sets: new Map([...t.sets].map(([k, s]) => [k, { def: s.def, elements: [...s.elements] }])),
    maps: new Map([...t.maps].map(([k, s]) => [k, { def: s.def, elements: [...s.elements] }])),
    flowtables: new Map(t.flowtables),
  };
}

/** How many parts a key or value of this type has ("ipv4_addr . inet_proto . inet_service" has 3). */
function typeParts(def: NftSet | NftMap): { key?: number; value?: string[] } {
  if (def.type === undefined) return {};
  const [key, value] = def.type.split(' : ');
  return { key: key!.split(' . ').length, ...(value !== undefined ? { value: value.split(' . ') } : {}) };
}

const plainVerdicts = new Set(['accept', 'drop', 'continue', 'return', 'queue']);

export class Fake implements NftInterface {
  private tables: Tables = new Map();
  private nextHandle = 0;
  /** The last transaction given to run(), whether it succeeded or not (as knftables). */
  lastTransaction: Transaction | undefined;

  constructor(readonly context: NftContext = {}) {}

  /** Operations in the last transaction run. */
  get lastOperations(): number {
    return this.lastTransaction?.numOperations ?? 0;
  }

  newTransaction(): Transaction {
    return new Transaction(this.context);
  }

  run(tx: Transaction): void {
    this.lastTransaction = tx;
    this.tables = this.apply(tx);
  }

  check(tx: Transaction): void {
    const handle = this.nextHandle;
    this.apply(tx);
    this.nextHandle = handle;
  }

  /** One table's contents (the context's table when none is named); undefined if it does not exist. */
  table(family = this.context.family, name = this.context.table): FakeTable | undefined {
    return family && name ? this.tables.get(`${family} ${name}`) : undefined;
  }

  list(objectType: ListableType): string[] {
    const t = this.defaultTable();
    const kind = singular(objectType);
    const names = kind === 'chain' ? t.chains.keys() : kind === 'set' ? t.sets.keys() : kind === 'map' ? t.maps.keys() : t.flowtables.keys();
    return [...names].sort();
  }

  listRules(chain: string): Rule[] {
    const t = this.defaultTable();
    if (chain === '') return [...t.chains.values()].flatMap((c) => c.rules.map((r) => ({ ...r })));
    const c = t.chains.get(chain);
    if (!c) throw notFound(`no such chain "${chain}"`);
    return c.rules.map((r) => ({ ...r }));
  }

  hasRules(chain: string): boolean {
    return (this.table()?.chains.get(chain)?.rules.length ?? 0) > 0;
  }

  listElements(objectType: 'set' | 'map', name: string): Element[] {
    const s = objectType === 'set' ? this.table()?.sets.get(name) : this.table()?.maps.get(name);
    if (!s) throw notFound(`no such ${objectType} "${name}"`);
    return s.elements.map((e) => ({ ...e }));
  }

  private defaultTable(): FakeTable {
    const t = this.table();
    if (!t) throw notFound(`no such table "${this.context.table}"`);
    return t;
  }

  /** Every table, in knftables' dump form: all definitions, then rules, then elements, each sorted by name. */
  dump(): string {
    let out = '';
    for (const key of [...this.tables.keys()].sort()) {
      const t = this.tables.get(key)!;
      const [family, table] = key.split(' ') as [Family, string];
      const ctx = { family, table };
      const write = (obj: NftObject) => (out += writeOperation('add', obj, ctx));
      const sorted = <V>(m: Map<string, V>) => [...m.keys()].sort().map((k) => m.get(k)!);
      write({ ...t.table, handle: undefined });
      for (const f of sorted(t.flowtables)) write(f);
      for (const c of sorted(t.chains)) write(c.chain);
      for (const s of sorted(t.sets)) write(s.def);
      for (const m of sorted(t.maps)) write(m.def);
      for (const c of sorted(t.chains)) for (const r of c.rules) write({ ...r, handle: undefined, index: undefined });
      for (const s of sorted(t.sets)) for (const e of s.elements) write(e);
      for (const m of sorted(t.maps)) for (const e of m.elements) write(e);
    }
    return out;
  }

  /** The tables as they would be after tx; throws (changing nothing) on the first operation that fails. */
  private apply(tx: Transaction): Tables {
    if (tx.error) throw tx.error;
    const tables: Tables = new Map([...this.tables].map(([k, t]) => [k, cloneTable(t)]));
    for (const op of tx.operations) {
      if (op.verb === 'add' || op.verb === 'create' || op.verb === 'insert') this.nextHandle++;
      const where = locate(tx.context, op.obj);
      if (where instanceof NftError) throw where;
      if (op.obj.kind === 'table') {
        this.applyTable(tables, where, op.verb, op.obj);
        continue;
      }
      const t = tables.get(tableKey(where));
      if (!t) throw notFound(`no such table "${where.family}" "${where.table}"`);
      this.applyIn(t, op);
    }
    return tables;
  }

  private applyTable(tables: Tables, where: Location, verb: Operation['verb'], obj: Table): void {
    const key = obj.handle !== undefined ? [...tables].find(([k, t]) => k.startsWith(`${where.family} `) && t.table.handle === obj.handle)?.[0] : tableKey(where);
    const t = key === undefined ? undefined : tables.get(key);
    switch (verb) {
      case 'add':
      case 'create':
        if (t && verb === 'create') throw exists(`table "${where.table}" already exists`);
        if (!t) {
          const table = { ...obj, family: where.family, name: where.table, handle: this.nextHandle };
          tables.set(tableKey(where), { table, chains: new Map(), sets: new Map(), maps: new Map(), flowtables: new Map() });
        }
        return;
      case 'flush':
        // the kernel empties every chain; sets and maps keep their elements
        if (!t) throw notFound(`no such table "${where.table}"`);
        for (const c of t.chains.values()) c.rules = [];
        return;
      default:
        if (!t) {
          if (verb === 'destroy') return;
          throw notFound(`no such table "${where.table}"`);
        }
        tables.delete(key!);
    }
  }

  private applyIn(t: FakeTable, { verb, obj }: Operation): void {
    switch (obj.kind) {
      case 'chain':
        return this.applyChain(t, verb, obj);
      case 'rule':
        return this.applyRule(t, verb, obj);
      case 'set':
      case 'map':
        return this.applySet(t, verb, obj);
      case 'element':
        return this.applyElement(t, verb, obj);
      case 'flowtable': {
        const name = obj.name || [...t.flowtables.values()].find((f) => f.handle === obj.handle)?.name;
        const had = name !== undefined && t.flowtables.has(name);
        if (verb === 'create' && had) throw exists(`flowtable "${name}" already exists`);
        if (verb === 'add' || verb === 'create') {
          if (!had) t.flowtables.set(obj.name, { ...obj, handle: this.nextHandle });
        } else if (!had) {
          if (verb !== 'destroy') throw notFound(`no such flowtable "${obj.name}"`);
        } else t.flowtables.delete(name);
        return;
      }
      case 'table':
        return;
    }
  }

  private applyChain(t: FakeTable, verb: Operation['verb'], obj: Chain): void {
    const name = obj.name || [...t.chains.values()].find((c) => c.chain.handle === obj.handle)?.chain.name;
    const c = name === undefined ? undefined : t.chains.get(name);
    if (verb === 'add' || verb === 'create') {
      if (c && verb === 'create') throw exists(`chain "${obj.name}" already exists`);
      if (!c) t.chains.set(obj.name, { chain: { ...obj, handle: this.nextHandle }, rules: [] });
      return;
    }
    if (!c) {
      if (verb === 'destroy') return;
      throw notFound(`no such chain "${obj.name || obj.handle}"`);
    }
    if (verb === 'flush') {
      c.rules = [];
      return;
    }
    // A chain's own rules go with it; a jump from elsewhere keeps it.
    for (const [other, oc] of t.chains) {
      if (other !== name && oc.rules.some((r) => references(r.rule).chains.includes(name!))) throw new NftError('EBUSY', `chain "${name}" is used by a rule in chain "${other}"`);
    }
    for (const m of t.maps.values()) {
      if (m.elements.some((e) => verdictChain(e.value) === name)) throw new NftError('EBUSY', `chain "${name}" is used by an element of map "${m.def.name}"`);
    }
    t.chains.delete(name!);
  }

  private checkRefs(t: FakeTable, text: string): void {
    const r = references(text);
    for (const c of r.chains) this.checkChainTarget(t, c);
    for (const s of r.sets) if (!t.sets.has(s) && !t.maps.has(s)) throw notFound(`no such set "${s}"`);
    for (const m of r.maps) if (!t.maps.has(m)) throw notFound(`no such map "${m}"`);
    for (const f of r.flowtables) if (!t.flowtables.has(f)) throw notFound(`no such flowtable "${f}"`);
  }

  private checkChainTarget(t: FakeTable, name: string): void {
    const c = t.chains.get(name);
    if (!c) throw notFound(`no such chain "${name}"`);
    if (c.chain.hook !== undefined) throw new NftError('EOPNOTSUPP', `cannot jump to base chain "${name}"`);
  }

  private applyRule(t: FakeTable, verb: Operation['verb'], obj: Rule): void {
    const c = t.chains.get(obj.chain);
    if (!c) throw notFound(`no such chain "${obj.chain}"`);
    let at = -1;
    if (obj.handle !== undefined) {
      at = c.rules.findIndex((r) => r.handle === obj.handle);
      if (at < 0) {
        if (verb === 'destroy') return;
        throw notFound(`no rule with handle ${obj.handle}`);
      }
    } else if (obj.index !== undefined) {
      if (obj.index >= c.rules.length) throw notFound(`no rule with index ${obj.index}`);
      at = obj.index;
    }
    if (verb === 'delete' || verb === 'destroy') {
      c.rules.splice(at, 1);
      return;
    }
    this.checkRefs(t, obj.rule);
    const { index: _, ...given } = obj;
    const rule: Rule = { ...given, handle: verb === 'replace' ? obj.handle : this.nextHandle };
    if (verb === 'add') c.rules.splice(at < 0 ? c.rules.length : at + 1, 0, rule);
    else if (verb === 'insert') c.rules.splice(at < 0 ? 0 : at, 0, rule);
    else c.rules[at] = rule;
  }

  private applySet(t: FakeTable, verb: Operation['verb'], obj: NftSet | NftMap): void {
    const mine = (obj.kind === 'set' ? t.sets : t.maps) as Map<string, FakeSet<NftSet | NftMap>>;
    const name = obj.name || [...mine.values()].find((s) => s.def.handle === obj.handle)?.def.name;
    const s = name === undefined ? undefined : mine.get(name);
    if (verb === 'add' || verb === 'create') {
      // sets and maps share one namespace in the kernel
      const other = obj.kind === 'set' ? t.maps.has(obj.name) : t.sets.has(obj.name);
      if ((s && verb === 'create') || other) throw exists(`${other ? (obj.kind === 'set' ? 'map' : 'set') : obj.kind} "${obj.name}" already exists`);
      if (!s) mine.set(obj.name, { def: { ...obj, handle: this.nextHandle }, elements: [] });
      return;
    }
    if (!s) {
      if (verb === 'destroy') return;
      throw notFound(`no such ${obj.kind} "${obj.name || obj.handle}"`);
    }
    if (verb === 'flush') {
      s.elements = [];
      return;
    }
    for (const [cn, c] of t.chains) {
      if (c.rules.some((r) => { const refs = references(r.rule); return refs.sets.includes(name!) || refs.maps.includes(name!); })) {
        throw new NftError('EBUSY', `${obj.kind} "${name}" is used by a rule in chain "${cn}"`);
      }
    }
    mine.delete(name!);
  }

  private applyElement(t: FakeTable, verb: Operation['verb'], obj: Element): void {
    const s: FakeSet<NftSet | NftMap> | undefined = obj.set !== undefined ? t.sets.get(obj.set) : t.maps.get(obj.map!);
    if (!s) throw notFound(obj.set !== undefined ? `no such set "${obj.set}"` : `no such map "${obj.map}"`);
    const at = s.elements.findIndex((e) => sameKey(e.key, obj.key));
    const key = obj.key.join(' . ');
    if (verb === 'delete' || verb === 'destroy') {
      if (at >= 0) s.elements.splice(at, 1);
      else if (verb === 'delete') throw notFound(`no such element "${key}"`);
      return;
    }
    const parts = typeParts(s.def);
    if (parts.key !== undefined && obj.key.length !== parts.key) throw new NftError('EINVAL', `element "${key}" does not have the ${parts.key} parts of type "${s.def.type}"`);
    if (obj.value) {
      if (parts.value !== undefined && obj.value.length !== parts.value.length) throw new NftError('EINVAL', `value "${obj.value.join(' . ')}" does not fit type "${s.def.type}"`);
      if (parts.value?.[0] === 'verdict' && !plainVerdicts.has(obj.value[0]!) && verdictChain(obj.value) === undefined) throw new NftError('EINVAL', `"${obj.value[0]}" is not a verdict`);
      const target = verdictChain(obj.value);
      if (target !== undefined) this.checkChainTarget(t, target);
    }
    if (at < 0) {
      s.elements.push({ ...obj });
      return;
    }
    if (verb === 'create') throw exists(`element "${key}" already exists`);
    // the kernel keeps an element re-added with the same value (its first comment included), and refuses another value
    const had = s.elements[at]!;
    if (obj.map !== undefined && !sameKey(had.value ?? [], obj.value ?? [])) throw exists(`element "${key}" already exists with value "${had.value?.join(' . ')}"`);
  }
}
