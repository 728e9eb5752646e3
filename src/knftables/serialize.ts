// The one place nftables objects become `nft -f` text, in knftables' exact format: a transaction's
// operations, and the Fake's dump, are these lines. Callers validate first (validate.ts); the
// writer assumes a valid object.
import { NftError } from './errors.ts';
import { locate } from './validate.ts';
import { parsePriority, type NftContext, type NftObject, type Rule, type Verb } from './types.ts';

// Go's %q, which knftables uses for comments. Comments that validate need none of its escapes,
// but objects read back from the kernel are written through here too (the Fake's dump).
function quote(s: string): string {
  // printable ASCII but for quotes and backslashes (every comment that validates): as it is
  if (/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/.test(s)) return `"${s}"`;
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (/[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) out += ch;
    else out += c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

/** A rule's statements and comment, as they follow the chain (or stand in a chain block). */
export function ruleBody(r: Rule): string {
  return r.comment !== undefined ? `${r.rule} comment ${quote(r.comment)}` : r.rule;
}

const props = (parts: string[]) => (parts.length ? ` {${parts.join('')} }` : '');
const flagList = (flags: readonly string[] | undefined) => (flags?.length ? [` flags ${flags.join(',')} ;`] : []);

/** One operation as one line of `nft -f` input, newline included. */
export function writeOperation(verb: Verb, obj: NftObject, ctx: NftContext = {}): string {
  const where = locate(ctx, obj);
  if (where instanceof NftError) throw where;
  const { family, table } = where;
  const defining = verb === 'add' || verb === 'create';
  // by handle: knftables leaves out the newline here (running the next operation into this line); it is written
  if ((verb === 'delete' || verb === 'destroy') && obj.kind !== 'rule' && obj.kind !== 'element' && obj.handle !== undefined) {
    return obj.kind === 'table' ? `${verb} table ${family} handle ${obj.handle}\n` : `${verb} ${obj.kind} ${family} ${table} handle ${obj.handle}\n`;
  }
  switch (obj.kind) {
    case 'table': {
      const parts = defining ? [...(obj.comment !== undefined ? [` comment ${quote(obj.comment)} ;`] : []), ...flagList(obj.flags)] : [];
      return `${verb} table ${family} ${table}${props(parts)}\n`;
    }
    case 'chain': {
      const parts: string[] = [];
      if (defining) {
        if (obj.type !== undefined) {
          let p = ` type ${obj.type} hook ${obj.hook}`;
          if (obj.device !== undefined) p += ` device ${quote(obj.device)}`;
          // numeric where possible: older nft refuses some named priorities in some hooks (dstnat in output)
          p += ` priority ${parsePriority(family, obj.priority!) ?? obj.priority} ;`;
          if (obj.policy !== undefined) p += ` policy ${obj.policy} ;`;
          parts.push(p);
        }
        if (obj.comment !== undefined) parts.push(` comment ${quote(obj.comment)} ;`);
      }
      return `${verb} chain ${family} ${table} ${obj.name}${props(parts)}\n`;
    }
    case 'rule': {
      const at = obj.index !== undefined ? ` index ${obj.index}` : obj.handle !== undefined ? ` handle ${obj.handle}` : '';
      const h = `${verb} rule ${family} ${table} ${obj.chain}`;
      if (verb !== 'add' && verb !== 'insert' && verb !== 'replace') return `${h}${at}\n`;
      return `${h}${at} ${ruleBody(obj)}\n`;
    }
    case 'set':
    case 'map': {
      const parts: string[] = [];
      if (defining) {
        parts.push(obj.type !== undefined ? ` type ${obj.type} ;` : ` typeof ${obj.typeOf} ;`, ...flagList(obj.flags));
        if (obj.timeout !== undefined) parts.push(` timeout ${Math.trunc(obj.timeout)}s ;`);
        if (obj.gcInterval !== undefined) parts.push(` gc-interval ${Math.trunc(obj.gcInterval)}s ;`);
        if (obj.size !== undefined) parts.push(` size ${obj.size} ;`);
        if (obj.policy !== undefined) parts.push(` policy ${obj.policy} ;`);
        if (obj.kind === 'set' && obj.autoMerge) parts.push(' auto-merge ;');
        if (obj.comment !== undefined) parts.push(` comment ${quote(obj.comment)} ;`);
      }
      return `${verb} ${obj.kind} ${family} ${table} ${obj.name}${props(parts)}\n`;
    }
    case 'element': {
      const key = obj.key.length === 1 ? obj.key[0] : obj.key.join(' . ');
      const h = `${verb} element ${family} ${table} ${obj.set ?? obj.map}`;
      if (!defining || (obj.comment === undefined && !obj.value?.length)) return `${h} { ${key} }\n`;
      const comment = obj.comment !== undefined ? ` comment ${quote(obj.comment)}` : '';
      const value = obj.value?.length ? ` : ${obj.value.length === 1 ? obj.value[0] : obj.value.join(' . ')}` : '';
      return `${h} { ${key}${comment}${value} }\n`;
    }
    case 'flowtable': {
      const parts: string[] = [];
      if (defining) {
        if (obj.priority !== undefined) parts.push(` hook ingress priority ${obj.priority} ;`);
        if (obj.devices?.length) parts.push(` devices = { ${obj.devices.join(', ')} } ;`);
      }
      // knftables writes the braces even when empty: "add flowtable ip t ft { }"
      return `${verb} flowtable ${family} ${table} ${obj.name}${defining ? ` {${parts.join('')} }` : ''}\n`;
    }
  }
}

/** ` family table ` of a context that names both (pushOperation's `at`), else undefined. */
export const contextAt = (ctx: NftContext): string | undefined => (ctx.family && ctx.table ? ` ${ctx.family} ${ctx.table} ` : undefined);

/**
 * writeOperation's line pushed onto `out` (which the caller joins). Rules and elements added in
 * the context's table — the bulk of a large sync — go in piece by piece, with no string per line
 * made and then flattened again by the join. `at` is contextAt(ctx).
 */
export function pushOperation(out: string[], verb: Verb, obj: NftObject, ctx: NftContext, at: string | undefined): void {
  if (at !== undefined && verb === 'add' && (obj.kind === 'rule' || obj.kind === 'element') && obj.family === undefined && obj.table === undefined && obj.comment === undefined) {
    if (obj.kind === 'element') {
      out.push('add element', at, (obj.set ?? obj.map)!, ' { ', obj.key.length === 1 ? obj.key[0]! : obj.key.join(' . '));
      if (obj.value?.length) out.push(' : ', obj.value.length === 1 ? obj.value[0]! : obj.value.join(' . '));
      out.push(' }\n');
      return;
    }
    if (obj.index === undefined && obj.handle === undefined) {
      out.push('add rule', at, obj.chain, ' ', obj.rule, '\n');
      return;
    }
  }
  out.push(writeOperation(verb, obj, ctx));
}
