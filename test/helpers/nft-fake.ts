// A fake of the kernel's `ip kube-proxy` table for unit tests: applies `nft -f` transactions
// line by line (refusing what nft would refuse: rules in missing chains, references to
// missing chains or sets, deleting missing objects, re-adding an element with another value),
// counts operations, and dumps the table as knftables' fake does, so upstream's expected
// outputs can be compared after upstream's canonical sort.

interface Chain {
  def: string;
  rules: string[];
}
interface SetObj {
  def: string;
  kind: 'set' | 'map';
  elements: Map<string, string>;
}

const prefix = 'ip kube-proxy';

export class NftFake {
  table: string | undefined;
  chains = new Map<string, Chain>();
  sets = new Map<string, SetObj>();
  lastOperations = 0;

  /** Applies a transaction atomically: on any error nothing changes and the error is thrown. */
  apply(text: string): void {
    const snapshot = this.clone();
    let ops = 0;
    try {
      for (const line of text.split('\n')) {
        if (!line.trim() || line.startsWith('#')) continue;
        this.exec(line);
        ops++;
      }
    } catch (e) {
      Object.assign(this, snapshot);
      throw e;
    }
    this.lastOperations = ops;
  }

  private clone(): Pick<NftFake, 'table' | 'chains' | 'sets'> {
    return {
      table: this.table,
      chains: new Map([...this.chains].map(([k, c]) => [k, { def: c.def, rules: [...c.rules] }])),
      sets: new Map([...this.sets].map(([k, s]) => [k, { def: s.def, kind: s.kind, elements: new Map(s.elements) }])),
    };
  }

  private refs(text: string, line: string): void {
    for (const m of text.matchAll(/\b(?:goto|jump) (\S+)/g)) if (!this.chains.has(m[1]!)) throw new Error(`${line}: no chain ${m[1]}`);
    for (const m of text.matchAll(/@(\S+)/g)) if (!this.sets.has(m[1]!)) throw new Error(`${line}: no set ${m[1]}`);
  }

  private exec(line: string): void {
    const m = /^(add|flush|delete) (table|chain|rule|set|map|element) ip kube-proxy(?: (\S+))?(?: (.*))?$/.exec(line);
    if (!m) throw new Error(`cannot parse: ${line}`);
    const [, verb, kind, name, rest] = m as unknown as [string, string, string, string | undefined, string | undefined];
    if (kind === 'table') {
      if (verb === 'add') this.table ??= line;
      else if (verb === 'delete') {
        this.table = undefined;
        this.chains.clear();
        this.sets.clear();
      }
      return;
    }
    if (!this.table) throw new Error(`${line}: no table`);
    if (!name) throw new Error(`${line}: no name`);
    if (kind === 'chain') {
      const c = this.chains.get(name);
      if (verb === 'add') {
        if (!c) this.chains.set(name, { def: line, rules: [] });
      } else if (!c) throw new Error(`${line}: no such chain`);
      else if (verb === 'flush') c.rules = [];
      else {
        for (const [other, oc] of this.chains) if (other !== name && oc.rules.some((r) => new RegExp(`(goto|jump) ${escape(name)}( |$)`).test(r))) throw new Error(`${line}: chain is referenced by ${other}`);
        for (const s of this.sets.values()) for (const v of s.elements.values()) if (v.includes(`goto ${name} `) || v.endsWith(`goto ${name} }`)) throw new Error(`${line}: chain is referenced by an element`);
        this.chains.delete(name);
      }
      return;
    }
    if (kind === 'rule') {
      const c = this.chains.get(name);
      if (verb !== 'add' || !c || rest === undefined) throw new Error(`${line}: bad rule or no chain`);
      this.refs(rest, line);
      c.rules.push(rest);
      return;
    }
    if (kind === 'set' || kind === 'map') {
      const s = this.sets.get(name);
      if (verb === 'add') {
        if (!s) this.sets.set(name, { def: line, kind, elements: new Map() });
      } else if (!s) throw new Error(`${line}: no such ${kind}`);
      else if (verb === 'flush') s.elements.clear();
      else {
        for (const [cn, c] of this.chains) if (c.rules.some((r) => r.includes(`@${name} `) || r.endsWith(`@${name}`))) throw new Error(`${line}: ${kind} is used by chain ${cn}`);
        this.sets.delete(name);
      }
      return;
    }
    // element
    const s = this.sets.get(name);
    if (!s) throw new Error(`${line}: no set ${name}`);
    const em = /^\{ (.*?)(?: comment "[^"]*")?(?: : (.*))? \}$/.exec(rest ?? '');
    if (!em) throw new Error(`cannot parse element: ${line}`);
    const key = em[1]!;
    if (verb === 'add') {
      if (em[2]) this.refs(em[2], line);
      const had = s.elements.get(key);
      if (had !== undefined && had !== line) throw new Error(`${line}: element exists as ${had}`);
      s.elements.set(key, line);
    } else if (verb === 'delete') {
      if (!s.elements.delete(key)) throw new Error(`${line}: no such element`);
    } else throw new Error(`${line}: bad verb`);
  }

  /** The table as knftables' fake dumps it. */
  dump(): string {
    const out: string[] = [];
    if (this.table) out.push(this.table);
    for (const [name, c] of this.chains) {
      out.push(c.def);
      for (const r of c.rules) out.push(`add rule ${prefix} ${name} ${r}`);
    }
    for (const s of this.sets.values()) {
      out.push(s.def);
      out.push(...s.elements.values());
    }
    return out.join('\n');
  }

  /** Names of the chains / sets, as `nft list chains|sets` would give them. */
  chainNames(): string[] {
    return [...this.chains.keys()];
  }
  setNames(): string[] {
    return [...this.sets.keys()];
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

const objectOrder: Record<string, number> = { table: 10, chain: 9, rule: 8, set: 7, map: 6, element: 5 };

/** Upstream's canonical order for comparing transactions: by object type, then name; rules keep their order. */
export function sortNftables(text: string): string {
  const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  return lines
    .map((l, i) => ({ l, w: l.split(' '), i }))
    .sort((a, b) => {
      if (a.w.length < 5 || b.w.length < 5) return a.i - b.i;
      if (a.w[1] !== b.w[1]) return (objectOrder[b.w[1]!] ?? 0) - (objectOrder[a.w[1]!] ?? 0);
      if (a.w[4] !== b.w[4]) return a.w[4]! < b.w[4]! ? -1 : 1;
      if (a.w[1] === 'rule') return a.i - b.i;
      return a.l < b.l ? -1 : a.l > b.l ? 1 : a.i - b.i;
    })
    .map((x) => x.l)
    .join('\n');
}
