// Impersonation (k8s.io/apiserver endpoints/filters WithImpersonation): a request with
// Impersonate-User (and Impersonate-Group, Impersonate-Uid, Impersonate-Extra-KEY) headers is
// served as that user, once the requesting user is authorized to `impersonate` each part —
// users, groups, uids, userextras/KEY, or the service account itself when the user is one.
import type { IncomingHttpHeaders } from 'node:http';
import { errors } from '../api/errors.ts';
import { serviceAccountGroups, systemAuthenticated, type UserInfo } from './authn.ts';
import type { Attributes } from './authorizer.ts';
import type { Authorizer } from './authz.ts';
import { forbidden } from './requestinfo.ts';

const extraPrefix = 'impersonate-extra-';

/** One part of what is impersonated: its authorization attributes, and what it adds to the user. */
interface Part {
  attrs: Omit<Attributes, 'user' | 'verb' | 'resourceRequest'>;
  describe: string;
}

function values(headers: IncomingHttpHeaders, name: string): string[] {
  const v = headers[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x) => x !== '');
}

/** unescapeExtraKey: a header name carries the key percent-encoded; one that does not decode is taken as it is. */
function unescapeExtraKey(k: string): string {
  try {
    return decodeURIComponent(k);
  } catch {
    return k;
  }
}

/** serviceaccount.SplitUsername */
function splitServiceAccount(username: string): { namespace: string; name: string } | undefined {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  return m ? { namespace: m[1]!, name: m[2]! } : undefined;
}

/**
 * The user a request acts as: `requestor` itself without impersonation headers, else the
 * impersonated user. Throws 403 (upstream's text) for a part the requestor may not impersonate.
 * `distinct` holds every value of repeated headers (IncomingMessage.headersDistinct).
 */
export function impersonate(requestor: UserInfo, distinct: Record<string, string[] | undefined>, authorizer: Authorizer): UserInfo {
  const headers = distinct as IncomingHttpHeaders;
  const userName = values(headers, 'impersonate-user')[0] ?? '';
  const groupsAsked = values(headers, 'impersonate-group');
  const uid = values(headers, 'impersonate-uid')[0] ?? '';
  const extraKeys = Object.keys(distinct).filter((h) => h.startsWith(extraPrefix));
  if (!userName && !groupsAsked.length && !uid && !extraKeys.length) return requestor;

  const parts: Part[] = [];
  let username = '';
  let groups: string[] = [];
  const extra: Record<string, string[]> = {};
  const sa = userName ? splitServiceAccount(userName) : undefined;
  if (sa) {
    parts.push({ attrs: { namespace: sa.namespace, name: sa.name, apiGroup: '', apiVersion: 'v1', resource: 'serviceaccounts' }, describe: `{ServiceAccount ${sa.namespace} ${sa.name}}` });
    username = userName;
    // A service account's groups follow from its name (without system:authenticated, added below).
    if (!groupsAsked.length) groups = serviceAccountGroups(sa.namespace).filter((g) => g !== systemAuthenticated);
  } else if (userName) {
    parts.push({ attrs: { name: userName, apiGroup: '', resource: 'users' }, describe: `{User ${userName}}` });
    username = userName;
  }
  for (const g of groupsAsked) {
    parts.push({ attrs: { name: g, apiGroup: '', resource: 'groups' }, describe: `{Group ${g}}` });
    groups.push(g);
  }
  for (const h of extraKeys) {
    const key = unescapeExtraKey(h.slice(extraPrefix.length).toLowerCase());
    for (const v of values(headers, h)) {
      parts.push({ attrs: { name: v, apiGroup: 'authentication.k8s.io', apiVersion: 'v1', resource: 'userextras', subresource: key }, describe: `{UserExtra ${v}}` });
      (extra[key] ??= []).push(v);
    }
  }
  if (uid) parts.push({ attrs: { name: uid, apiGroup: 'authentication.k8s.io', apiVersion: 'v1', resource: 'uids' }, describe: `{UID ${uid}}` });
  if (!userName) throw errors.internal(`requested [${parts.map((p) => p.describe).join(' ')}] without impersonating a user`);

  for (const p of parts) {
    const attrs: Attributes = { user: requestor, verb: 'impersonate', resourceRequest: true, namespace: '', subresource: '', ...p.attrs };
    const d = authorizer.authorize(attrs);
    if (d.decision !== 'Allow') throw forbidden(attrs, d.reason);
  }
  if (username === 'system:anonymous') {
    if (!groups.includes('system:unauthenticated')) groups.push('system:unauthenticated');
  } else if (!groups.includes(systemAuthenticated) && !groups.includes('system:unauthenticated')) groups.push(systemAuthenticated);
  const user: UserInfo = { username, groups };
  if (uid) user.uid = uid;
  if (Object.keys(extra).length) user.extra = extra;
  return user;
}
