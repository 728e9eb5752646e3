// The API server's HTTP surface: authentication, the URL layout of /api and /apis,
// verbs, content negotiation, and Status errors. Everything a verb does lives in Registry.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errors, isApiError, type Status } from '../api/errors.ts';
import { findResource, type ResourceType } from '../api/resources.ts';
import { isObject } from '../api/types.ts';
import { tokenMatches } from './certs.ts';
import { podLogs } from './logs.ts';
import { mediaType, parseBody, type RawBody } from './decode.ts';
import { aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, apiVersions, serverVersion, wantsAggregated } from './discovery.ts';
import { openapiFor, openapiRoot, openapiV2 } from './openapi.ts';
import { contentTypeOf, negotiate, serialize, shapeList, shapeObject } from './output.ts';
import type { Ctx, DeleteOptions, Registry } from './registry.ts';
import type { Store } from './storage/store.ts';
import { streamingSubresources } from './streaming.ts';
import { serveWatch } from './watch.ts';
import { BodyTooLargeError, decodeSegment, discardBody, readBody, type Handler, type Target } from '../util/httpserver.ts';

const maxBodyBytes = 3 * 1024 * 1024;
/** Go's server reads up to 256 KiB of an unread body to keep the connection; past that it closes it. */
const unauthenticatedDiscardCap = 256 * 1024;
const publicPaths = new Set(['/healthz', '/livez', '/readyz', '/version', '/healthz/ping', '/livez/ping', '/readyz/ping']);
const namespaceSubresources = new Set(['status', 'finalize']);
const endpointsWarning = 'v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice';

export interface HttpOptions {
  registry: Registry;
  token: string;
  /** accepts extra bearer tokens (service accounts); returns true when valid */
  tokenReview?: (token: string) => boolean;
  serverAddress: string;
  ready: () => boolean;
  log?: (line: string) => void;
}

interface Route {
  rt: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

class Reply {
  constructor(
    readonly res: ServerResponse,
    readonly warnings: string[] = [],
  ) {}
  send(code: number, body: unknown, contentType = 'application/json', text?: string, binary = false): void {
    const headers: Record<string, string | string[]> = { 'Content-Type': contentType, 'Cache-Control': 'no-cache, private' };
    if (this.warnings.length) headers.Warning = this.warnings.map((w) => `299 - ${JSON.stringify(w)}`);
    const payload = binary ? Buffer.from(text ?? '', 'latin1') : (text ?? JSON.stringify(body));
    headers['Content-Length'] = String(Buffer.byteLength(payload));
    this.res.writeHead(code, headers);
    this.res.end(payload);
  }
  status(err: ApiError | Status): void {
    const st = err instanceof ApiError ? err.status : err;
    // As apiserver's responsewriters: a Status that says when to retry says it in a header too.
    if (st.details?.retryAfterSeconds) this.res.setHeader('Retry-After', String(st.details.retryAfterSeconds));
    this.send(st.code, st);
  }
}

/** Resolves /api/v1/... and /apis/g/v/... to a resource, namespace, name and subresource. */
export function route(pathname: string): Route | undefined {
  const parts: string[] = [];
  for (const seg of pathname.split('/').filter(Boolean)) {
    // Escapes that are not UTF-8 name nothing here: 404, as upstream.
    const d = decodeSegment(seg);
    if (d === undefined) return undefined;
    parts.push(d);
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 2 && !namespaceSubresources.has(rest[2]!)) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const rt = findResource(group, version, rest[0]!);
  if (!rt) return undefined;
  if (rest.length > 3) return undefined;
  const r: Route = { rt, name: rest[1], subresource: rest[2] };
  if (rt.namespaced) r.namespace = namespace;
  else if (namespace !== undefined) return undefined;
  if (r.subresource && !rt.subresources.some((s) => s.name === r.subresource)) return undefined;
  return r;
}

function deleteOptions(body: string, contentType: string, q: URLSearchParams): DeleteOptions {
  const opts: DeleteOptions = {};
  if (body.trim()) {
    const parsed = parseBody({ text: body, contentType: contentType || 'application/json' });
    if (!isObject(parsed)) throw errors.badRequest('DeleteOptions must be an object');
    if (typeof parsed.propagationPolicy === 'string') opts.propagationPolicy = parsed.propagationPolicy as DeleteOptions['propagationPolicy'];
    if (typeof parsed.gracePeriodSeconds === 'number') opts.gracePeriodSeconds = parsed.gracePeriodSeconds;
    if (typeof parsed.orphanDependents === 'boolean') opts.orphanDependents = parsed.orphanDependents;
    if (isObject(parsed.preconditions)) opts.preconditions = parsed.preconditions as DeleteOptions['preconditions'];
    if (Array.isArray(parsed.dryRun)) opts.dryRun = parsed.dryRun.map(String);
  }
  const pp = q.get('propagationPolicy');
  if (pp) opts.propagationPolicy = pp as DeleteOptions['propagationPolicy'];
  const gp = q.get('gracePeriodSeconds');
  if (gp !== null && gp !== '') opts.gracePeriodSeconds = Number(gp);
  const od = q.get('orphanDependents');
  if (od !== null) opts.orphanDependents = od === 'true';
  const dr = q.getAll('dryRun');
  if (dr.length) opts.dryRun = dr;
  if (opts.propagationPolicy && !['Foreground', 'Background', 'Orphan'].includes(opts.propagationPolicy)) {
    throw errors.invalid('meta.k8s.io', 'DeleteOptions', '', [
      { type: 'FieldValueNotSupported', field: 'propagationPolicy', badValue: opts.propagationPolicy, detail: 'supported values: "Foreground", "Background", "Orphan", "nil"' },
    ]);
  }
  if (opts.gracePeriodSeconds !== undefined && (!Number.isInteger(opts.gracePeriodSeconds) || opts.gracePeriodSeconds < 0)) {
    throw errors.badRequest(`gracePeriodSeconds must be a non-negative integer`);
  }
  return opts;
}

/** Whether a request carries the server's bearer token (or one tokenReview accepts). */
export function bearerAuthenticated(req: IncomingMessage, opts: Pick<HttpOptions, 'token' | 'tokenReview'>): boolean {
  const h = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(h);
  if (!m) return false;
  const presented = m[1]!.trim();
  return tokenMatches(presented, opts.token) || Boolean(opts.tokenReview?.(presented));
}

export function createHandler(opts: HttpOptions): Handler {
  const { registry } = opts;
  const authenticated = (req: IncomingMessage) => bearerAuthenticated(req, opts);

  async function handleResource(req: IncomingMessage, reply: Reply, r: Route, q: URLSearchParams, bytes: Buffer): Promise<void> {
    const method = req.method ?? 'GET';
    const ctx: Ctx = { rt: r.rt, query: q, userAgent: req.headers['user-agent'] };
    if (r.namespace !== undefined) ctx.namespace = r.namespace;
    if (r.name !== undefined) ctx.name = r.name;
    if (r.rt.kind === 'Endpoints') reply.warnings.push(endpointsWarning);
    const accept = req.headers.accept;
    const contentType = req.headers['content-type'] ?? '';

    if (r.name === undefined) {
      switch (method) {
        case 'GET': {
          const shape = negotiate(accept);
          await waitForResourceVersion(registry.store, q);
          if (q.get('watch') === 'true' || q.get('watch') === '1') {
            serveWatch(reply.res, registry, { rt: r.rt, ...(r.namespace !== undefined ? { namespace: r.namespace } : {}), query: q, shape }, (close) => {
              req.on('close', close);
              reply.res.on('close', close);
            });
            return;
          }
          const { items, resourceVersion } = registry.list(r.rt, r.namespace, q);
          const body = shapeList(r.rt, items, String(resourceVersion), shape, q);
          reply.send(200, body, contentTypeOf(shape), serialize(body, shape));
          return;
        }
        case 'POST': {
          if (r.rt.namespaced && r.namespace === undefined) throw errors.methodNotSupported({ group: r.rt.group, resource: r.rt.resource }, 'create');
          const raw: RawBody = { text: bytes.toString('utf8'), contentType, bytes };
          const result = await registry.create(ctx, raw);
          reply.warnings.push(...result.warnings);
          reply.send(result.code, result.object);
          return;
        }
        case 'DELETE': {
          const items = await registry.deleteCollection(ctx, deleteOptions(bytes.toString('utf8'), contentType, q));
          reply.send(200, { kind: r.rt.listKind, apiVersion: r.rt.group ? `${r.rt.group}/${r.rt.version}` : r.rt.version, metadata: { resourceVersion: String(registry.store.resourceVersion) }, items });
          return;
        }
        default:
          throw errors.methodNotSupported({ group: r.rt.group, resource: r.rt.resource }, method.toLowerCase());
      }
    }

    const sub = r.subresource;
    const raw = async (): Promise<RawBody> => ({ text: bytes.toString('utf8'), contentType, bytes });
    if (sub === 'scale') {
      if (method === 'GET') {
        await waitForResourceVersion(registry.store, q);
        return reply.send(200, registry.getScale(ctx));
      }
      if (method === 'PUT') return send(reply, await registry.updateScale(ctx, await raw()));
      if (method === 'PATCH') return send(reply, await registry.updateScale(ctx, await raw(), mediaType(contentType)));
      throw errors.methodNotSupported({ group: r.rt.group, resource: `${r.rt.resource}/scale` }, method.toLowerCase());
    }
    if (sub === 'status') {
      if (method === 'GET') {
        const shape = negotiate(accept);
        await waitForResourceVersion(registry.store, q);
        const body = shapeObject(r.rt, registry.get(r.rt, r.namespace, r.name), shape, q);
        return reply.send(200, body, contentTypeOf(shape), serialize(body, shape));
      }
      if (method === 'PUT') return send(reply, await registry.updateStatus(ctx, await raw()));
      if (method === 'PATCH') return send(reply, await registry.patch(ctx, await raw(), 'status'));
      throw errors.methodNotSupported({ group: r.rt.group, resource: `${r.rt.resource}/status` }, method.toLowerCase());
    }
    if (sub === 'log') {
      if (method !== 'GET') throw errors.methodNotSupported({ group: '', resource: 'pods/log' }, method.toLowerCase());
      return podLogs(registry, r, q, reply.res);
    }
    if (streamingSubresources.has(sub ?? '')) {
      // Served on the upgrade (streaming.ts); a plain request is refused as upstream's proxy refuses it.
      throw errors.badRequest('Upgrade request required');
    }
    if (sub === 'binding') {
      if (method !== 'POST') throw errors.methodNotSupported({ group: '', resource: 'pods/binding' }, method.toLowerCase());
      const st = await registry.bind(ctx, await raw());
      return reply.send(201, st);
    }
    if (sub === 'finalize') {
      if (method !== 'PUT') throw errors.methodNotSupported({ group: '', resource: 'namespaces/finalize' }, method.toLowerCase());
      return send(reply, await registry.finalizeNamespace(ctx, await raw()));
    }
    if (sub !== undefined) throw errors.notFound({ group: r.rt.group, resource: `${r.rt.resource}/${sub}` }, r.name);

    switch (method) {
      case 'GET': {
        const shape = negotiate(accept);
        // A get from a resourceVersion not reached yet waits as a list does (the watch cache's
        // WaitUntilFreshAndGet), before looking the object up: 504 even for one that is not there.
        await waitForResourceVersion(registry.store, q);
        if (q.get('watch') === 'true' || q.get('watch') === '1') {
          const fq = new URLSearchParams(q);
          fq.set('fieldSelector', [q.get('fieldSelector'), `metadata.name=${r.name}`].filter(Boolean).join(','));
          serveWatch(reply.res, registry, { rt: r.rt, ...(r.namespace !== undefined ? { namespace: r.namespace } : {}), query: fq, shape }, (close) => {
            req.on('close', close);
            reply.res.on('close', close);
          });
          return;
        }
        const body = shapeObject(r.rt, registry.get(r.rt, r.namespace, r.name), shape, q);
        reply.send(200, body, contentTypeOf(shape), serialize(body, shape));
        return;
      }
      case 'PUT':
        return send(reply, await registry.update(ctx, await raw()));
      case 'PATCH':
        return send(reply, await registry.patch(ctx, await raw()));
      case 'DELETE': {
        const result = await registry.delete(ctx, deleteOptions(bytes.toString('utf8'), contentType, q));
        reply.send(200, result.body);
        return;
      }
      default:
        throw errors.methodNotSupported({ group: r.rt.group, resource: r.rt.resource }, method.toLowerCase());
    }
  }

  function send(reply: Reply, result: { object: unknown; code: number; warnings: string[] }): void {
    reply.warnings.push(...result.warnings);
    reply.send(result.code, result.object);
  }

  function handleDiscovery(req: IncomingMessage, reply: Reply, path: string): boolean {
    const accept = req.headers.accept ?? '';
    if (path === '/api' || path === '/apis') {
      const agg = wantsAggregated(accept);
      if (agg) {
        reply.send(200, aggregatedDiscovery(path === '/api', agg), `application/json;g=apidiscovery.k8s.io;v=${agg.split('/')[1]};as=APIGroupDiscoveryList`);
      } else reply.send(200, path === '/api' ? apiVersions(opts.serverAddress) : apiGroupList());
      return true;
    }
    if (path === '/api/v1') {
      reply.send(200, apiResourceList('', 'v1'));
      return true;
    }
    const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (m) {
      if (m[2] === undefined) {
        const g = apiGroup(m[1]!);
        if (!g) return false;
        reply.send(200, g);
        return true;
      }
      const list = apiResourceList(m[1]!, m[2]);
      if ((list.resources as unknown[]).length === 0) return false;
      reply.send(200, list);
      return true;
    }
    return false;
  }

  async function dispatch(req: IncomingMessage, res: ServerResponse, target: Target): Promise<void> {
    const path = target.pathname.length > 1 ? target.pathname.replace(/\/+$/, '') : target.pathname;
    const reply = new Reply(res);
    try {
      if (publicPaths.has(path)) {
        discardBody(req);
        if (path === '/version') return reply.send(200, serverVersion);
        if (path.startsWith('/readyz') && !opts.ready()) return reply.send(500, null, 'text/plain; charset=utf-8', '[-]informer-sync failed: not ready\nreadyz check failed\n');
        return reply.send(200, null, 'text/plain; charset=utf-8', 'ok');
      }
      // Authentication comes before the body is read, so an unauthenticated client cannot make
      // the server hold anything it sends; its body is discarded (up to a cap) after the 401.
      if (!authenticated(req)) {
        discardBody(req, unauthenticatedDiscardCap);
        return reply.status(errors.unauthorized());
      }
      // The whole body is read (or refused with 413, the rest discarded) before anything is
      // answered: a response sent while a body is still arriving breaks the kept-alive connection.
      const bytes = await readBody(req, maxBodyBytes).catch((e: unknown) => {
        throw e instanceof BodyTooLargeError ? errors.tooLarge(e.message) : e;
      });
      if (path === '/openapi/v3') return reply.send(200, openapiRoot());
      if (path.startsWith('/openapi/v3/')) {
        const doc = openapiFor(path.slice('/openapi/v3/'.length));
        if (!doc) throw notFoundPath();
        return reply.send(200, doc);
      }
      if (path === '/openapi/v2' || path === '/swagger-2.0.0.pb-v1') {
        const doc = openapiV2();
        if ((req.headers.accept ?? '').includes('protobuf')) {
          return reply.send(200, null, 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', doc.proto.toString('latin1'), true);
        }
        return reply.send(200, doc.json);
      }
      if (req.method === 'GET' && handleDiscovery(req, reply, path)) return;
      const r = route(path);
      if (!r) throw notFoundPath();
      await handleResource(req, reply, r, target.query, bytes);
    } catch (e) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (isApiError(e)) return reply.status(e);
      opts.log?.(`internal error on ${req.method} ${req.url}: ${(e as Error).stack ?? String(e)}`);
      reply.status(errors.internal((e as Error).message ?? String(e)));
    }
  }

  return dispatch;
}

/** How long a get, list or watch waits for the store to reach the resourceVersion it asks for (the watch cache's blockTimeout). */
const freshnessWaitMs = 3000;

/**
 * A get, list or watch from a resourceVersion the store has not reached waits for it a little,
 * then fails as upstream's does: 504 "Too large resource version", retry after a second.
 */
async function waitForResourceVersion(store: Store, q: URLSearchParams): Promise<void> {
  const rv = q.get('resourceVersion') ?? '';
  if (!/^\d+$/.test(rv)) return;
  const asked = Number(rv);
  const deadline = Date.now() + freshnessWaitMs;
  while (store.resourceVersion < asked) {
    if (Date.now() >= deadline) throw errors.resourceVersionTooLarge(asked, store.resourceVersion);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function notFoundPath(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}
