// What `nft -a list ruleset` (text, with handles) says that `nft -j` leaves out: the text of each
// rule as nft writes it, and — before nft 1.0.8 — table and chain comments and a set's "dynamic"
// flag. Read line by line by its block structure; the JSON stays the source of everything else.

export interface Listing {
  /** rule text as nft lists it (its comment included), by `${family} ${table} ${handle}` */
  rules: Map<string, string>;
  /** by `${family} ${table}` */
  tableComments: Map<string, string>;
  /** by `${family} ${table} ${chain}` */
  chainComments: Map<string, string>;
  /** set and map flags, by `${family} ${table} ${name}` */
  setFlags: Map<string, string[]>;
}

const unquote = (s: string) => (s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s);

/** "comment \"x\"" → x */
function commentOf(line: string): string | undefined {
  return line.startsWith('comment "') && line.endsWith('"') ? line.slice('comment "'.length, -1) : undefined;
}

/** Splits " # handle N" off a line. */
function splitHandle(line: string): [string, number | undefined] {
  const at = line.lastIndexOf(' # handle ');
  if (at < 0) return [line, undefined];
  const n = Number(line.slice(at + ' # handle '.length));
  return Number.isInteger(n) ? [line.slice(0, at), n] : [line, undefined];
}

interface Block {
  kind: string;
  name: string;
}

export function parseListing(text: string): Listing {
  const out: Listing = { rules: new Map(), tableComments: new Map(), chainComments: new Map(), setFlags: new Map() };
  const stack: Block[] = [];
  let table = '';
  for (const raw of text.split('\n')) {
    const [line, handle] = splitHandle(raw.trim());
    if (line === '}') {
      stack.pop();
      continue;
    }
    // block headers ("chain x {"); rules and element lists never end so
    if (line.endsWith(' {')) {
      const words = line.slice(0, -2).split(' ');
      if (words[0] === 'table' && stack.length === 0) {
        table = `${words[1]} ${unquote(words[2] ?? '')}`;
        stack.push({ kind: 'table', name: table });
      } else stack.push({ kind: words[0] ?? '', name: unquote(words[1] ?? '') });
      continue;
    }
    const top = stack[stack.length - 1];
    if (!top) continue;
    if (top.kind === 'chain' && stack.length === 2) {
      if (handle !== undefined) out.rules.set(`${table} ${handle}`, line);
      else if (commentOf(line) !== undefined) out.chainComments.set(`${table} ${top.name}`, commentOf(line)!);
    } else if (top.kind === 'table' && commentOf(line) !== undefined) {
      out.tableComments.set(table, commentOf(line)!);
    } else if ((top.kind === 'set' || top.kind === 'map') && line.startsWith('flags ')) {
      out.setFlags.set(`${table} ${top.name}`, line.slice('flags '.length).split(','));
    }
  }
  return out;
}
