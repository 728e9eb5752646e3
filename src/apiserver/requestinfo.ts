// What a request asks, in the authorizer's terms (k8s.io/apiserver endpoints/request
// RequestInfoFactory): a resource request under /api or /apis — verb, API group and version,
// namespace, resource, subresource, name — or a non-resource request for a path. Read from the
// URL alone, before routing, so that a request for something the server does not serve is
// authorized like any other (and refused before anyone learns it does not exist).
import { ApiError, errors } from '../api/errors.ts';
import { parseFieldSelector } from '../api/fields.ts';
import { queryBool } from '../api/query.ts';
import type { UserInfo } from './authn.ts';
import type { Attributes } from './authorizer.ts';

const namespaceSubresources = new Set(['status', 'finalize']);
const specialVerbs = new Set(['proxy', 'watch']);

const methodVerbs: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** NewRequestInfo as Attributes for `user`; `path` is the URL's path, still escaped. */
export function requestAttributes(user: UserInfo, method: string, path: string, query: URLSearchParams): Attributes {
  const nonResource: Attributes = { user, verb: method.toLowerCase(), resourceRequest: false, path };
  let parts: string[];
  try {
    parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return nonResource;
  }
  if (parts.length < 3 || (parts[0] !== 'api' && parts[0] !== 'apis')) return nonResource;
  const prefix = parts[0];
  parts = parts.slice(1);
  let apiGroup = '';
  if (prefix === 'apis') {
    if (parts.length < 3) return nonResource;
    apiGroup = parts[0]!;
    parts = parts.slice(1);
  }
  const apiVersion = parts[0]!;
  parts = parts.slice(1);
  let verb: string;
  if (specialVerbs.has(parts[0]!)) {
    // /watch/... or /proxy/... with nothing after it names nothing: upstream errors, and the
    // request is then authorized as a non-resource one.
    if (parts.length < 2) return nonResource;
    verb = parts[0]!;
    parts = parts.slice(1);
  } else verb = methodVerbs[method] ?? '';
  let namespace = '';
  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      namespace = parts[1]!;
      if (parts.length > 2 && !namespaceSubresources.has(parts[2]!)) parts = parts.slice(2);
    }
  }
  const a: Attributes = { user, verb, resourceRequest: true, apiGroup, apiVersion, namespace, resource: parts[0] ?? '', subresource: '', name: '' };
  if (parts.length >= 3 && verb !== 'proxy') a.subresource = parts[2]!;
  if (parts.length >= 2) a.name = parts[1]!;
  // A get without a name is a list or a watch; a field selector on metadata.name names the object.
  if (!a.name && a.verb === 'get') {
    a.verb = queryBool(query, 'watch') ? 'watch' : 'list';
    const fs = query.get('fieldSelector');
    if (fs) {
      try {
        const reqs = parseFieldSelector(fs);
        a.fieldSelector = reqs;
        const exact = reqs.filter((r) => r.field === 'metadata.name' && r.op === '=');
        const name = exact[0]?.value ?? '';
        if (name && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%')) a.name = name;
      } catch {
        // an unparsable selector names nothing; the list refuses it later
      }
    }
  }
  if (!a.name && a.verb === 'delete') a.verb = 'deletecollection';
  return a;
}

/** responsewriters' forbiddenMessage: who may not do what, where. */
export function forbiddenMessage(a: Attributes): string {
  const user = JSON.stringify(a.user.username);
  if (!a.resourceRequest) return `User ${user} cannot ${a.verb} path ${JSON.stringify(a.path ?? '')}`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : (a.resource ?? '');
  const where = a.namespace ? `in the namespace ${JSON.stringify(a.namespace)}` : 'at the cluster scope';
  return `User ${user} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup ?? '')} ${where}`;
}

const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** responsewriters.Forbidden: 403 for the request's resource (and name), the reason appended. */
export function forbidden(a: Attributes, reason: string): ApiError {
  const msg = forbiddenMessage(a).replace(/[&<>]/g, (c) => htmlEscapes[c]!);
  const why = reason ? `${msg}: ${reason}` : msg;
  if (!a.resourceRequest || (!a.resource && !a.apiGroup)) return new ApiError(403, 'Forbidden', `forbidden: ${why}`, {});
  return errors.forbidden({ group: a.apiGroup ?? '', resource: a.resource ?? '' }, a.name ?? '', why);
}
