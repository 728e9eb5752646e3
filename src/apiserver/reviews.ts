// The create-only kinds that ask a question and are answered at once, never stored: the
// authorization reviews (SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview,
// SelfSubjectRulesReview), the authentication ones (SelfSubjectReview, TokenReview), and the
// serviceaccounts/token subresource (TokenRequest). Each answers 201 with its status filled.
import { ApiError, errors, field, GoRepr, Path, type FieldError } from '../api/errors.ts';
import { resourceOf, tokenRequestType, type ResourceType } from '../api/resources.ts';
import { isObject, type KubeObject } from '../api/types.ts';
import { serviceAccountIssuer, type Authentication, type BoundRef, type UserInfo } from './authn.ts';
import type { Attributes, Decision } from './authorizer.ts';
import type { Authorizer } from './authz.ts';
import { decodeFor, fieldValidationOf, parseBody, type RawBody } from './decode.ts';
import type { Registry } from './registry.ts';

export interface AskRoute {
  rt: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export interface AskContext {
  method: string;
  query: URLSearchParams;
  raw: RawBody;
  user: UserInfo;
  registry: Registry;
  authentication: Authentication;
  authorizer: Authorizer;
}

export interface Answer {
  code: number;
  object: Record<string, unknown>;
  warnings: string[];
}

type Obj = Record<string, unknown>;

/** Whether a route names one of these kinds (or serviceaccounts/token). */
export function isAsk(r: AskRoute): boolean {
  return Boolean(r.rt.notStored) || (r.rt.group === '' && r.rt.resource === 'serviceaccounts' && r.subresource === 'token');
}

/** Answers a request for one of these kinds; isAsk(r) must hold. */
export async function answer(r: AskRoute, ctx: AskContext): Promise<Answer> {
  const isToken = r.subresource === 'token';
  const rt = isToken ? tokenRequestType : r.rt;
  // Only create is served: no list, no get, and no object by name (other than the service account's token).
  if ((!isToken && r.name !== undefined) || (rt.namespaced && r.namespace === undefined)) throw notFoundPath();
  if (ctx.method !== 'POST') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  const { obj, warnings } = decodeFor(rt, parseBody(ctx.raw), fieldValidationOf(ctx.query));
  const out = (status: Obj, spec: Obj | undefined, metadata: Obj = metadataOf(obj)): Answer => {
    const object: Obj = { kind: rt.kind, apiVersion: obj.apiVersion, metadata };
    if (spec !== undefined) object.spec = spec;
    object.status = status;
    return { code: 201, object, warnings };
  };
  switch (rt.kind) {
    case 'SelfSubjectAccessReview': {
      const spec = (obj.spec ?? {}) as Obj;
      checkMetadataEmpty(rt, obj, false);
      checkAttributes(rt, spec, undefined);
      return out(accessStatus(ctx.authorizer, attributesOf(ctx.user, spec)), accessSpec(spec, false));
    }
    case 'SubjectAccessReview':
    case 'LocalSubjectAccessReview': {
      const spec = (obj.spec ?? {}) as Obj;
      const local = rt.kind === 'LocalSubjectAccessReview';
      checkMetadataEmpty(rt, obj, local);
      checkAttributes(rt, spec, local ? obj : undefined);
      if (local) {
        if (obj.metadata.namespace !== r.namespace) {
          throw errors.badRequest(`spec.resourceAttributes.namespace must match namespace: ${r.namespace}`);
        }
      }
      return out(accessStatus(ctx.authorizer, attributesOf(subjectOf(spec), spec)), accessSpec(spec, true));
    }
    case 'SelfSubjectRulesReview': {
      const spec = (obj.spec ?? {}) as Obj;
      const namespace = typeof spec.namespace === 'string' ? spec.namespace : '';
      if (!namespace) throw errors.badRequest('no namespace on request');
      const rules = ctx.authorizer.rulesFor(ctx.user, namespace);
      const status: Obj = {
        resourceRules: rules.resourceRules.map((x) => compact({ verbs: x.verbs, apiGroups: x.apiGroups, resources: x.resources, resourceNames: x.resourceNames }, ['verbs'])),
        nonResourceRules: rules.nonResourceRules.map((x) => compact({ verbs: x.verbs, nonResourceURLs: x.nonResourceURLs }, ['verbs'])),
        incomplete: rules.incomplete,
      };
      if (rules.evaluationError) status.evaluationError = rules.evaluationError;
      return out(status, { namespace });
    }
    case 'SelfSubjectReview':
      return out({ userInfo: userInfoJSON(ctx.user) }, undefined);
    case 'TokenReview': {
      const spec = (obj.spec ?? {}) as Obj;
      const asked = Array.isArray(spec.audiences) && spec.audiences.length ? (spec.audiences as string[]) : [serviceAccountIssuer];
      // A token holds the audiences its aud claim shares with those asked for (the API server's own when none are).
      const r = typeof spec.token === 'string' && spec.token ? ctx.authentication.authenticateFor(spec.token, asked) : undefined;
      const status: Obj = r ? { authenticated: true, user: userInfoJSON(r.user), audiences: r.audiences } : { user: {} };
      return out(status, compact({ token: spec.token, audiences: spec.audiences }, []));
    }
    case 'TokenRequest':
      return tokenRequest(r, ctx, obj, warnings);
  }
  throw notFoundPath();
}

function notFoundPath(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}

/** The object's metadata as sent; an unset creationTimestamp is written as null (as up to 1.33). */
function metadataOf(obj: KubeObject): Obj {
  const m: Obj = { ...obj.metadata };
  if (m.creationTimestamp === undefined) {
    const ordered: Obj = {};
    for (const k of ['name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation']) if (m[k] !== undefined) ordered[k] = m[k];
    ordered.creationTimestamp = null;
    for (const [k, v] of Object.entries(m)) if (!(k in ordered)) ordered[k] = v;
    return ordered;
  }
  return m;
}

/** The keys of `o` in the order given, without empty values except those named in `keep`. */
function compact(o: Obj, keep: string[]): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (keep.includes(k)) {
      out[k] = v ?? null;
      continue;
    }
    if (v === undefined || v === null || v === '' || v === false || v === 0) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (isObject(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out;
}

function resourceAttributesJSON(a: Obj): Obj {
  return compact(
    {
      namespace: a.namespace,
      verb: a.verb,
      group: a.group,
      version: a.version,
      resource: a.resource,
      subresource: a.subresource,
      name: a.name,
      fieldSelector: a.fieldSelector,
      labelSelector: a.labelSelector,
    },
    [],
  );
}

function accessSpec(spec: Obj, subject: boolean): Obj {
  const out: Obj = {};
  if (isObject(spec.resourceAttributes)) out.resourceAttributes = resourceAttributesJSON(spec.resourceAttributes);
  if (isObject(spec.nonResourceAttributes)) out.nonResourceAttributes = compact({ path: spec.nonResourceAttributes.path, verb: spec.nonResourceAttributes.verb }, []);
  if (subject) Object.assign(out, compact({ user: spec.user, groups: spec.groups, extra: spec.extra, uid: spec.uid }, []));
  return out;
}

function userInfoJSON(u: UserInfo): Obj {
  return compact({ username: u.username, uid: u.uid, groups: u.groups, extra: u.extra }, []);
}

function subjectOf(spec: Obj): UserInfo {
  const u: UserInfo = { username: typeof spec.user === 'string' ? spec.user : '', groups: Array.isArray(spec.groups) ? (spec.groups as string[]) : [] };
  if (typeof spec.uid === 'string' && spec.uid) u.uid = spec.uid;
  if (isObject(spec.extra)) u.extra = spec.extra as Record<string, string[]>;
  return u;
}

function attributesOf(user: UserInfo, spec: Obj): Attributes {
  if (isObject(spec.resourceAttributes)) {
    const a = spec.resourceAttributes;
    const s = (k: string) => (typeof a[k] === 'string' ? (a[k] as string) : '');
    return { user, verb: s('verb'), resourceRequest: true, namespace: s('namespace'), apiGroup: s('group'), apiVersion: s('version'), resource: s('resource'), subresource: s('subresource'), name: s('name') };
  }
  const n = (spec.nonResourceAttributes ?? {}) as Obj;
  return { user, verb: String(n.verb ?? ''), resourceRequest: false, path: String(n.path ?? '') };
}

/** SubjectAccessReviewStatus: `allowed` always written; denied only for an explicit denial. */
function accessStatus(authorizer: Authorizer, attrs: Attributes): Obj {
  const d: Decision = authorizer.authorize(attrs);
  const status: Obj = { allowed: d.decision === 'Allow' };
  if (d.decision === 'Deny') status.denied = true;
  if (d.reason) status.reason = d.reason;
  if (d.evaluationError) status.evaluationError = d.evaluationError;
  return status;
}

/** Invalid (422) as the authorization API's validation words it. */
function invalid(rt: ResourceType, errs: FieldError[]): ApiError {
  return errors.invalid(rt.group, rt.kind, '', errs);
}

function checkAttributes(rt: ResourceType, spec: Obj, local: KubeObject | undefined): void {
  const errs: FieldError[] = [];
  const p = Path.root('spec');
  const ra = isObject(spec.resourceAttributes);
  const na = isObject(spec.nonResourceAttributes);
  if (ra && na) errs.push(field.invalid(p.child('nonResourceAttributes'), new GoRepr(goStruct('NonResourceAttributes', spec.nonResourceAttributes as Obj)), 'cannot be specified in combination with resourceAttributes'));
  if (!ra && !na) errs.push(field.invalid(p.child('resourceAttributes'), new GoRepr('null'), 'exactly one of nonResourceAttributes or resourceAttributes must be specified'));
  if (rt.kind !== 'SelfSubjectAccessReview') {
    const noUser = typeof spec.user !== 'string' || spec.user === '';
    const noGroups = !Array.isArray(spec.groups) || spec.groups.length === 0;
    if (noUser && noGroups) errs.push(field.invalid(p.child('user'), String(spec.user ?? ''), 'at least one of user or group must be specified'));
  }
  if (local) {
    const ns = local.metadata.namespace ?? '';
    if (ra && String((spec.resourceAttributes as Obj).namespace ?? '') !== ns) {
      errs.push(field.invalid(Path.root('spec', 'resourceAttributes', 'namespace'), String((spec.resourceAttributes as Obj).namespace ?? ''), 'must match metadata.namespace'));
    }
    if (na) errs.push(field.invalid(p.child('nonResourceAttributes'), new GoRepr(goStruct('NonResourceAttributes', spec.nonResourceAttributes as Obj)), 'disallowed on this kind of request'));
  }
  if (errs.length) throw invalid(rt, errs);
}

function goStruct(type: string, o: Obj): string {
  return `&authorization.${type}{Path:${JSON.stringify(String(o.path ?? ''))}, Verb:${JSON.stringify(String(o.verb ?? ''))}}`;
}

/** The access reviews' metadata must be empty (a LocalSubjectAccessReview's but for its namespace). */
function checkMetadataEmpty(rt: ResourceType, obj: KubeObject, allowNamespace: boolean): void {
  const rest = Object.entries(obj.metadata).filter(([k, v]) => k !== 'managedFields' && !(allowNamespace && k === 'namespace') && v !== undefined && v !== null && v !== '');
  if (rest.length) throw invalid(rt, [field.invalid(Path.root('metadata'), new GoRepr('v1.ObjectMeta{...}'), allowNamespace ? 'must be empty except for namespace' : 'must be empty')]);
}

// ---- serviceaccounts/token ----

const minExpirationSeconds = 600;
const maxExpirationSeconds = 2 ** 32;
const defaultExpirationSeconds = 3600;
/** token.WarnOnlyBoundTokenExpirationSeconds, and serviceaccount.ExpirationExtensionSeconds */
const kubeletTokenSeconds = 3607;
const extendedTokenSeconds = 365 * 24 * 3600;

async function tokenRequest(r: AskRoute, ctx: AskContext, obj: KubeObject, warnings: string[]): Promise<Answer> {
  const namespace = r.namespace!;
  const name = r.name!;
  const spec = (obj.spec ?? {}) as Obj;
  const errs: FieldError[] = [];
  if (obj.metadata.name && obj.metadata.name !== name) errs.push(field.invalid(Path.root('metadata', 'name'), obj.metadata.name, 'must match the service account name if specified'));
  if (obj.metadata.namespace && obj.metadata.namespace !== namespace) errs.push(field.invalid(Path.root('metadata', 'namespace'), obj.metadata.namespace, 'must match the service account namespace if specified'));
  const expirationSeconds = typeof spec.expirationSeconds === 'number' && spec.expirationSeconds !== 0 ? spec.expirationSeconds : defaultExpirationSeconds;
  if (expirationSeconds < minExpirationSeconds) errs.push(field.invalid(Path.root('spec', 'expirationSeconds'), expirationSeconds, 'may not specify a duration less than 10 minutes'));
  if (expirationSeconds > maxExpirationSeconds) errs.push(field.invalid(Path.root('spec', 'expirationSeconds'), expirationSeconds, 'may not specify a duration larger than 2^32 seconds'));
  if (errs.length) throw errors.invalid(tokenRequestType.group, tokenRequestType.kind, name, errs);
  ctx.registry.validate?.({ operation: 'CREATE', user: ctx.user, group: '', resource: 'serviceaccounts', subresource: 'token', namespace, name, object: obj });

  const sa = ctx.registry.tryGet(resourceOf('', 'serviceaccounts'), namespace, name);
  if (!sa) throw errors.notFound({ group: '', resource: 'serviceaccounts' }, name);
  let bound: BoundRef | undefined;
  const ref = isObject(spec.boundObjectRef) ? spec.boundObjectRef : undefined;
  if (ref) {
    const kind = String(ref.kind ?? '');
    const apiVersion = String(ref.apiVersion ?? '');
    const refName = String(ref.name ?? '');
    const target = apiVersion === 'v1' ? { Pod: 'pods', Secret: 'secrets', Node: 'nodes' }[kind] : undefined;
    if (!target) throw errors.badRequest(`cannot bind token to object of type ${apiVersion ? `${apiVersion}, Kind=${kind}` : `/, Kind=${kind}`}`);
    const rt = resourceOf('', target);
    const o = ctx.registry.tryGet(rt, rt.namespaced ? namespace : undefined, refName);
    if (!o) throw errors.notFound({ group: '', resource: target }, refName);
    if (kind === 'Pod') {
      const podSA = String((o.spec as Obj | undefined)?.serviceAccountName ?? '');
      if (podSA !== name) throw errors.badRequest(`cannot bind token for serviceaccount ${JSON.stringify(name)} to pod running with serviceaccount ${JSON.stringify(podSA)}`);
    }
    const uid = o.metadata.uid ?? '';
    if (ref.uid && ref.uid !== uid) {
      throw errors.conflict({ group: '', resource: kind }, refName, `the UID in the bound object reference (${String(ref.uid)}) does not match the UID in record. The object might have been deleted and then recreated`);
    }
    bound = { kind: kind as BoundRef['kind'], name: refName, uid };
  }
  const audiences = Array.isArray(spec.audiences) && spec.audiences.length ? (spec.audiences as string[]) : [serviceAccountIssuer];
  // --service-account-extend-token-expiration (on by default): the kubelet's 3607 s pod-bound
  // tokens live a year; the answer still says when the asked-for time ends.
  const extended = bound?.kind === 'Pod' && expirationSeconds === kubeletTokenSeconds ? extendedTokenSeconds : expirationSeconds;
  const issued = ctx.authentication.issue({ namespace, serviceAccount: { name, uid: sa.metadata.uid ?? '' }, audiences, expirationSeconds: extended, ...(bound ? { bound } : {}) });
  const expiresAt = new Date(issued.expirationTimestamp.getTime() - (extended - expirationSeconds) * 1000);
  const metadata = metadataOf({ ...obj, metadata: { ...obj.metadata, name, namespace } });
  return {
    code: 201,
    object: {
      kind: 'TokenRequest',
      apiVersion: obj.apiVersion,
      metadata,
      // audiences, expirationSeconds and boundObjectRef have no omitempty.
      spec: { audiences, expirationSeconds, boundObjectRef: ref ? compact({ kind: ref.kind, apiVersion: ref.apiVersion, name: ref.name, uid: ref.uid }, []) : null },
      status: { token: issued.token, expirationTimestamp: expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z') },
    },
    warnings,
  };
}
