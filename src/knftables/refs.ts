// What a rule or a map element's value refers to — chains (jump/goto), sets, maps and flowtables
// (@name) — read word by word as knftables' fake reads them, so the Fake can refuse a reference to
// something missing and the deletion of something still referred to.

export interface References {
  chains: string[];
  /** "@name" looked up as a set (nft also accepts a map there) */
  sets: string[];
  /** "@name" after map / vmap */
  maps: string[];
  /** "@name" after flow add / offload */
  flowtables: string[];
}

/** Splits rule text into words, a double-quoted string ("eth0") being one word. */
function words(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && (ch === ' ' || ch === '\t')) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

// names end where the surrounding syntax starts: "goto a," in "{ 0 : goto a, 1 : goto b }"
function bare(w: string): string {
  let end = w.length;
  while (end > 0 && ',;}'.includes(w[end - 1]!)) end--;
  return w.slice(0, end);
}

export function references(text: string): References {
  const r: References = { chains: [], sets: [], maps: [], flowtables: [] };
  const w = words(text);
  for (let i = 0; i < w.length; i++) {
    const word = w[i]!;
    const prev = w[i - 1];
    if (word.startsWith('@') && word.length > 1) {
      const name = bare(word.slice(1));
      if (prev === 'map' || prev === 'vmap') r.maps.push(name);
      else if (prev === 'add' || prev === 'offload') r.flowtables.push(name);
      else r.sets.push(name);
    } else if ((word === 'jump' || word === 'goto') && i + 1 < w.length) {
      r.chains.push(bare(w[i + 1]!));
    }
  }
  return r;
}

/** The chain a verdict value ("goto service-…", "jump x") names, if any. */
export function verdictChain(value: readonly string[] | undefined): string | undefined {
  if (value?.length !== 1) return undefined;
  const [verb, target, ...rest] = value[0]!.split(' ');
  return (verb === 'goto' || verb === 'jump') && target && rest.length === 0 ? target : undefined;
}
