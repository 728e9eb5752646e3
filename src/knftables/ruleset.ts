// The kernel's rules read back: `nft -j list …` JSON (libnftables' schema version 1) into the same
// typed objects a transaction is built from, each rule with its statements (expr.ts) and — when
// the `nft -a list …` text listing is given too — its text as nft writes it.
import { NftError } from './errors.ts';
import { elementWords, setItem, statement } from './expr.ts';
import { parseListing, type Listing } from './listing.ts';
import type { BaseChainHook, BaseChainPolicy, BaseChainType, Chain, Element, Family, Flowtable, NftMap, NftSet, Rule, SetFlag, SetPolicy, Table, TableFlag } from './types.ts';

export interface Ruleset {
  tables: Table[];
  chains: Chain[];
  /** in each chain's order */
  rules: Rule[];
  sets: NftSet[];
  maps: NftMap[];
  /** the elements of named sets and maps, in the kernel's order */
  elements: Element[];
  flowtables: Flowtable[];
}

type JsonObject = Record<string, unknown>;
const isObject = (j: unknown): j is JsonObject => typeof j === 'object' && j !== null && !Array.isArray(j);
const str = (j: unknown) => (typeof j === 'string' ? j : undefined);
const num = (j: unknown) => (typeof j === 'number' ? j : undefined);
const list = (j: unknown): string[] | undefined => (typeof j === 'string' ? [j] : Array.isArray(j) ? j.map(String) : undefined);
/** The fields that are present, so absent ones stay absent (not undefined) in the objects. */
const present = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** "ipv4_addr" or ["ipv4_addr", "inet_service"] → "ipv4_addr . inet_service" */
const typeText = (j: unknown) => (typeof j === 'string' ? j : Array.isArray(j) ? j.join(' . ') : undefined);

function invalid(msg: string): NftError {
  return new NftError('EINVAL', `unexpected nft JSON: ${msg}`);
}

/** The objects of `nft -j list …` output, after checking its metainfo (as knftables does). */
function jsonObjects(json: string | unknown): JsonObject[] {
  let doc: unknown = json;
  if (typeof json === 'string') {
    try {
      doc = JSON.parse(json);
    } catch (e) {
      throw invalid((e as Error).message);
    }
  }
  const items = isObject(doc) && Array.isArray(doc.nftables) ? doc.nftables : undefined;
  if (!items?.length) throw invalid('no "nftables" array');
  const meta = isObject(items[0]) ? items[0].metainfo : undefined;
  if (!isObject(meta) || meta.json_schema_version !== 1) throw invalid('no metainfo with json_schema_version 1');
  return items.slice(1).filter(isObject);
}

function setLike(o: JsonObject, l: Listing | undefined) {
  const family = o.family as Family;
  const key = typeText(o.type);
  const flags = l?.setFlags.get(`${family} ${o.table} ${o.name}`) ?? list(o.flags);
  return {
    common: present({
      family,
      table: str(o.table),
      name: String(o.name),
      flags: flags as SetFlag[] | undefined,
      timeout: num(o.timeout),
      gcInterval: num(o['gc-interval']),
      size: num(o.size),
      policy: str(o.policy) as SetPolicy | undefined,
      comment: str(o.comment),
      handle: num(o.handle),
    }),
    key,
  };
}

function elements(o: JsonObject, where: { set: string } | { map: string }): Element[] {
  const elems = Array.isArray(o.elem) ? o.elem : [];
  return elems.map((j) => {
    const it = setItem(j);
    return present({
      kind: 'element' as const,
      family: o.family as Family,
      table: str(o.table),
      ...where,
      key: elementWords(it.key),
      value: it.value ? elementWords(it.value) : undefined,
      comment: it.comment,
    });
  });
}

/** Parses `nft -j list ruleset` (or list table / chain / set / map) output; listing is `nft -a list …` text of the same objects. */
export function parseRuleset(json: string | unknown, listingText?: string): Ruleset {
  const l = listingText === undefined ? undefined : parseListing(listingText);
  const rs: Ruleset = { tables: [], chains: [], rules: [], sets: [], maps: [], elements: [], flowtables: [] };
  for (const item of jsonObjects(json)) {
    const [kind, body] = Object.entries(item)[0] ?? [];
    if (!isObject(body)) continue;
    const family = body.family as Family;
    switch (kind) {
      case 'table':
        rs.tables.push(present({
          kind: 'table',
          family,
          name: String(body.name),
          comment: str(body.comment) ?? l?.tableComments.get(`${family} ${body.name}`),
          flags: list(body.flags) as TableFlag[] | undefined,
          handle: num(body.handle),
        }));
        break;
      case 'chain':
        rs.chains.push(present({
          kind: 'chain',
          family,
          table: str(body.table),
          name: String(body.name),
          type: str(body.type) as BaseChainType | undefined,
          hook: str(body.hook) as BaseChainHook | undefined,
          priority: num(body.prio),
          policy: str(body.policy) as BaseChainPolicy | undefined,
          device: str(body.dev),
          comment: str(body.comment) ?? l?.chainComments.get(`${family} ${body.table} ${body.name}`),
          handle: num(body.handle),
        }));
        break;
      case 'rule': {
        const handle = num(body.handle);
        const comment = str(body.comment);
        let text = l?.rules.get(`${family} ${body.table} ${handle}`) ?? '';
        // knftables keeps a rule's comment apart from its text
        if (comment !== undefined && text.endsWith(` comment "${comment}"`)) text = text.slice(0, -` comment "${comment}"`.length);
        rs.rules.push(present({
          kind: 'rule',
          family,
          table: str(body.table),
          chain: String(body.chain),
          rule: text,
          comment,
          handle,
          expr: (Array.isArray(body.expr) ? body.expr : []).map(statement),
        }));
        break;
      }
      case 'set': {
        const { common, key } = setLike(body, l);
        rs.sets.push(present({ kind: 'set', ...common, type: key, autoMerge: body['auto-merge'] === true ? true : undefined }));
        rs.elements.push(...elements(body, { set: common.name }));
        break;
      }
      case 'map': {
        const { common, key } = setLike(body, l);
        const value = typeText(body.map);
        rs.maps.push(present({ kind: 'map', ...common, type: key !== undefined && value !== undefined ? `${key} : ${value}` : undefined }));
        rs.elements.push(...elements(body, { map: common.name }));
        break;
      }
      case 'flowtable':
        rs.flowtables.push(present({
          kind: 'flowtable',
          family,
          table: str(body.table),
          name: String(body.name),
          priority: body.prio === undefined ? undefined : String(body.prio),
          devices: list(body.dev),
          handle: num(body.handle),
        }));
        break;
    }
  }
  return rs;
}
