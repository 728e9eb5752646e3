// What knftables checks before an operation is queued (which fields each verb needs or forbids),
// plus what nft itself would refuse of the object alone (over-long or unquotable comments), so a
// bad object fails the transaction before any text reaches nft.
import { NftError } from './errors.ts';
import { commentLengthMax, type Family, type NftContext, type NftObject, type Verb } from './types.ts';

export interface Location {
  family: Family;
  table: string;
}

/** The family and table an object lives in: its own, or the context's (which it may not contradict). */
export function locate(ctx: NftContext, obj: NftObject): Location | NftError {
  const family = obj.family;
  const table = obj.kind === 'table' ? obj.name : obj.table;
  // the usual case, an object in the context's table: the context is the location (no copy per operation)
  if (family === undefined && table === undefined && ctx.family && ctx.table) return ctx as Location;
  if ((ctx.family && family && family !== ctx.family) || (ctx.table && table && table !== ctx.table)) {
    return new NftError('EINVAL', 'cannot override family or table when the Interface has a default');
  }
  const f = family ?? ctx.family;
  const t = table ?? ctx.table;
  if (!f || !t) return new NftError('EINVAL', 'must specify family and table for each object when the Interface has no default');
  return { family: f, table: t };
}

const invalid = (msg: string) => new NftError('EINVAL', msg);

// nft's scanner takes a quoted string up to the next '"' and knows no escapes.
function checkComment(comment: string | undefined): NftError | undefined {
  if (comment === undefined) return undefined;
  if (comment.length > commentLengthMax) return invalid(`comment too long, ${commentLengthMax} characters maximum allowed`);
  if (/["\\\x00-\x1f\x7f]/.test(comment)) return invalid(`comment ${JSON.stringify(comment)} cannot be quoted for nft`);
  return undefined;
}

function byNameOrHandle(verb: Verb, what: string, name: string | undefined, handle: number | undefined): NftError | undefined {
  switch (verb) {
    case 'add':
    case 'create':
    case 'flush':
      if (!name) return invalid(`no name specified for ${what}`);
      if (handle !== undefined) return invalid(`cannot specify Handle in ${verb} operation`);
      return undefined;
    case 'delete':
    case 'destroy':
      if (!name && handle === undefined) return invalid('must specify either name or handle');
      return undefined;
    default:
      return invalid(`${verb} is not implemented for ${what}s`);
  }
}

/** Whether obj may be the object of verb; the error if not. */
export function validate(verb: Verb, obj: NftObject, ctx: NftContext): NftError | undefined {
  const where = locate(ctx, obj);
  if (where instanceof NftError) return where;
  if ('comment' in obj) {
    const bad = checkComment(obj.comment);
    if (bad) return bad;
  }
  switch (obj.kind) {
    case 'table':
      if (verb === 'add' || verb === 'create' || verb === 'flush') return obj.handle === undefined ? undefined : invalid(`cannot specify Handle in ${verb} operation`);
      return verb === 'delete' || verb === 'destroy' ? undefined : invalid(`${verb} is not implemented for tables`);
    case 'chain':
      if (obj.hook === undefined) {
        if (obj.type !== undefined || obj.priority !== undefined) return invalid(`regular chain "${obj.name}" must not specify Type or Priority`);
        if (obj.policy !== undefined) return invalid(`regular chain "${obj.name}" must not specify Policy`);
        if (obj.device !== undefined) return invalid(`regular chain "${obj.name}" must not specify Device`);
      } else if (obj.type === undefined || obj.priority === undefined) {
        return invalid(`base chain "${obj.name}" must specify Type and Priority`);
      }
      return byNameOrHandle(verb, 'chain', obj.name, obj.handle);
    case 'rule':
      if (!obj.chain) return invalid('no chain name specified for rule');
      if (obj.index !== undefined && obj.handle !== undefined) return invalid('cannot specify both Index and Handle');
      switch (verb) {
        case 'add':
        case 'insert':
          return obj.rule ? undefined : invalid('no rule specified');
        case 'replace':
          if (!obj.rule) return invalid('no rule specified');
          return obj.handle === undefined ? invalid(`must specify Handle with ${verb}`) : undefined;
        case 'delete':
        case 'destroy':
          return obj.handle === undefined ? invalid(`must specify Handle with ${verb}`) : undefined;
        default:
          return invalid(`${verb} is not implemented for rules`);
      }
    case 'set':
    case 'map':
      if ((verb === 'add' || verb === 'create') && (obj.type === undefined) === (obj.typeOf === undefined)) return invalid(`${obj.kind} must specify either Type or TypeOf`);
      return byNameOrHandle(verb, obj.kind, obj.name, obj.handle);
    case 'element':
      if (!obj.set === !obj.map) return invalid(obj.set ? 'element specifies both a set name and a map name' : 'no set/map name specified for element');
      if (obj.key.length === 0) return invalid('no key specified for element');
      if (obj.set && obj.value?.length) return invalid('map value specified for set element');
      if (verb === 'add' || verb === 'create') return obj.map && !obj.value?.length ? invalid('no map value specified for map element') : undefined;
      return verb === 'delete' || verb === 'destroy' ? undefined : invalid(`${verb} is not implemented for elements`);
    case 'flowtable':
      if (verb === 'flush') return invalid('flush is not implemented for flowtables');
      return byNameOrHandle(verb, 'flowtable', obj.name, obj.handle);
  }
}
