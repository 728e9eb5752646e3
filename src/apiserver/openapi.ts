// /openapi/v2 and /openapi/v3 as kube-openapi's handlers serve them: documents built once from
// the served kinds and kept as bytes, content negotiation by Accept, quoted SHA-512 ETags,
// If-None-Match/If-Modified-Since, and on /openapi/v3/<gv>?hash=… the immutable caching
// headers (or a 301 to the current hash).
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { errors } from '../api/errors.ts';
import { groupVersions, resourceTypes } from '../api/resources.ts';
import { serverVersion } from './discovery.ts';
import { gvPath, servedCatalog, v2Document, v3Document } from './openapi/documents.ts';
import { encodeSwagger } from './openapi/gnostic.ts';
import { loadModelData, ModelDataMissing } from './openapi/models.ts';
import type { SchemaCatalog } from './openapi/schemas.ts';

/** Group-versions served beside the built-in ones (CustomResourceDefinitions'), with their documents. */
export interface DynamicOpenAPI {
  groupVersions(): { group: string; version: string }[];
  document(gv: { group: string; version: string }, catalog: SchemaCatalog, serverVersion: string): unknown;
}

export interface OpenAPIResponse {
  code: number;
  headers: Record<string, string>;
  body: Buffer;
}

interface Cached {
  bytes: Buffer;
  /** upper-case hex SHA-512 of the JSON bytes */
  etag: string;
  lastModified: Date;
}

const v2Json = 'application/json';
const v2Proto = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';
const v2ProtoDeprecated = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

const computeETag = (data: Buffer): string => createHash('sha512').update(data).digest('hex').toUpperCase();

let catalog: SchemaCatalog | undefined;
const v3Docs = new Map<string, Cached>();
let v2: (Cached & { proto: Buffer }) | undefined;

function theCatalog(): SchemaCatalog {
  catalog ??= servedCatalog(loadModelData(), resourceTypes);
  return catalog;
}

function v3Cached(gv: { group: string; version: string }): Cached {
  const key = gvPath(gv);
  let c = v3Docs.get(key);
  if (!c) {
    const bytes = Buffer.from(JSON.stringify(v3Document(theCatalog(), gv, resourceTypes, serverVersion.gitVersion)));
    c = { bytes, etag: computeETag(bytes), lastModified: new Date() };
    v3Docs.set(key, c);
  }
  return c;
}

function v2Cached(): Cached & { proto: Buffer } {
  if (!v2) {
    const doc = v2Document(theCatalog(), resourceTypes, serverVersion.gitVersion) as Record<string, unknown>;
    const bytes = Buffer.from(JSON.stringify(doc));
    v2 = { bytes, proto: encodeSwagger(doc), etag: computeETag(bytes), lastModified: new Date() };
  }
  return v2;
}

/** The v3 documents' group-versions, by their path under /openapi/v3. */
function servedGvs(): Map<string, { group: string; version: string }> {
  return new Map(groupVersions().map((gv) => [gvPath(gv), gv]));
}

interface Clause {
  type: string;
  subtype: string;
  q: number;
}

/** An Accept header's media ranges, best first (as goautoneg orders them). */
function parseAccept(accept: string | undefined): Clause[] {
  const clauses = (accept || '*/*').split(',').flatMap((part, i) => {
    const [range, ...params] = part.trim().split(';');
    const [type, subtype] = (range ?? '').trim().split('/');
    if (!type || subtype === undefined) return [];
    let q = 1;
    for (const p of params) {
      const [k, v] = p.trim().split('=');
      if (k === 'q') q = Number(v);
    }
    return [{ type, subtype, q, i }];
  });
  const wild = (c: Clause) => (c.type === '*' ? 2 : c.subtype === '*' ? 1 : 0);
  return clauses.sort((a, b) => b.q - a.q || wild(a) - wild(b) || a.i - b.i);
}

function negotiate(accept: string | undefined, offers: string[]): string | undefined {
  for (const c of parseAccept(accept)) {
    for (const o of offers) {
      const [type, subtype] = o.split('/') as [string, string];
      if ((c.type === type || c.type === '*') && (c.subtype === subtype || c.subtype === '*')) return o;
    }
  }
  return undefined;
}

const httpDate = (d: Date) => d.toUTCString();
/** Go's time.RFC1123 in UTC. */
const rfc1123 = (d: Date) => d.toUTCString().replace(/GMT$/, 'UTC');

/** http.ServeContent: conditional requests against the ETag and Last-Modified, then the bytes. */
function serveContent(reqHeaders: IncomingHttpHeaders, headers: Record<string, string>, data: Buffer, lastModified: Date): OpenAPIResponse {
  headers['Last-Modified'] = httpDate(lastModified);
  const inm = reqHeaders['if-none-match'];
  const etag = headers.Etag;
  const ims = reqHeaders['if-modified-since'];
  const notModified = inm !== undefined ? etag !== undefined && (inm.trim() === '*' || inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) : ims !== undefined && Math.floor(lastModified.getTime() / 1000) <= Math.floor(Date.parse(ims) / 1000);
  if (notModified) {
    delete headers['Content-Type'];
    return { code: 304, headers, body: Buffer.alloc(0) };
  }
  headers['Accept-Ranges'] = 'bytes';
  return { code: 200, headers, body: data };
}

function unavailable(e: unknown): never {
  if (e instanceof ModelDataMissing) throw errors.serviceUnavailable(e.message);
  throw e;
}

/** A custom group-version's document, built on each request (CRDs change while the server runs). */
function dynamicCached(dynamic: DynamicOpenAPI | undefined, p: string): Cached | undefined {
  const gv = dynamic?.groupVersions().find((g) => gvPath(g) === p);
  if (!gv || servedGvs().has(p)) return undefined;
  const bytes = Buffer.from(JSON.stringify(dynamic!.document(gv, theCatalog(), serverVersion.gitVersion)));
  return { bytes, etag: computeETag(bytes), lastModified: new Date() };
}

function v3Index(reqHeaders: IncomingHttpHeaders, dynamic: DynamicOpenAPI | undefined): OpenAPIResponse {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  const all = new Map<string, () => Cached>([...servedGvs()].map(([p, gv]) => [p, () => v3Cached(gv)]));
  for (const gv of dynamic?.groupVersions() ?? []) if (!all.has(gvPath(gv))) all.set(gvPath(gv), () => dynamicCached(dynamic, gvPath(gv))!);
  for (const [p, doc] of [...all].sort(([a], [b]) => (a < b ? -1 : 1))) {
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${doc().etag}` };
  }
  const data = Buffer.from(JSON.stringify({ paths }));
  return serveContent(reqHeaders, { 'Content-Type': 'application/json', Etag: JSON.stringify(computeETag(data)) }, data, new Date());
}

function v3GroupVersion(p: string, query: URLSearchParams, reqHeaders: IncomingHttpHeaders, dynamic: DynamicOpenAPI | undefined): OpenAPIResponse {
  const headers: Record<string, string> = { Vary: 'Accept' };
  // Only JSON is offered: an Accept naming nothing else is refused, as upstream refuses unknown types.
  if (!negotiate(reqHeaders.accept, ['application/json'])) return { code: 406, headers, body: Buffer.alloc(0) };
  const gv = servedGvs().get(p);
  const doc = gv ? v3Cached(gv) : dynamicCached(dynamic, p);
  // kube-openapi writes nothing for a group-version it does not know: an empty 200.
  if (!doc) return { code: 200, headers, body: Buffer.alloc(0) };
  headers['Content-Type'] = 'application/json';
  headers.Etag = JSON.stringify(doc.etag);
  const hash = query.get('hash');
  if (hash) {
    if (hash !== doc.etag) {
      const location = `/openapi/v3/${p}?hash=${doc.etag}`;
      return { code: 301, headers: { Vary: 'Accept', Etag: headers.Etag, Location: location, 'Content-Type': 'text/html; charset=utf-8' }, body: Buffer.from(`<a href="${location}">Moved Permanently</a>.\n\n`) };
    }
    headers['Cache-Control'] = 'public, immutable';
    headers.Expires = rfc1123(new Date(Date.now() + 365 * 24 * 3600 * 1000));
  }
  return serveContent(reqHeaders, headers, doc.bytes, doc.lastModified);
}

function v2Response(reqHeaders: IncomingHttpHeaders): OpenAPIResponse {
  const headers: Record<string, string> = { Vary: 'Accept' };
  const chosen = negotiate(reqHeaders.accept, [v2Json, v2ProtoDeprecated, v2Proto]);
  if (!chosen) return { code: 406, headers, body: Buffer.alloc(0) };
  const doc = v2Cached();
  headers['Content-Type'] = chosen === v2Json ? v2Json : v2Proto;
  headers.Etag = JSON.stringify(doc.etag);
  return serveContent(reqHeaders, headers, chosen === v2Json ? doc.bytes : doc.proto, doc.lastModified);
}

/**
 * The answer to an OpenAPI path, or undefined for any other path. Throws a 503 ApiError when the
 * model data was never built.
 */
export function openapiResponse(path: string, query: URLSearchParams, reqHeaders: IncomingHttpHeaders, dynamic?: DynamicOpenAPI): OpenAPIResponse | undefined {
  try {
    if (path === '/openapi/v3') return v3Index(reqHeaders, dynamic);
    if (path.startsWith('/openapi/v3/')) return v3GroupVersion(path.slice('/openapi/v3/'.length), query, reqHeaders, dynamic);
    if (path === '/openapi/v2' || path === '/swagger-2.0.0.pb-v1') return v2Response(reqHeaders);
  } catch (e) {
    unavailable(e);
  }
  return undefined;
}

