// The API server's HTTP surface: authentication, the URL layout of /api and /apis,
// verbs, content negotiation, and Status errors. Everything a verb does lives in Registry.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errors, isApiError, type Status } from '../api/errors.ts';
import { queryBool } from '../api/query.ts';
import { apiVersionOf, findResource, type ResourceType } from '../api/resources.ts';
import { parseFieldSelector, type FieldRequirement } from '../api/fields.ts';
import { isObject, type KubeObject, type Pod } from '../api/types.ts';
import { Authentication, userOfRequest, type UserInfo } from './authn.ts';
import { storeAuthorizer, type Authorizer } from './authz.ts';
import { impersonate } from './impersonation.ts';
import { forbidden, requestAttributes } from './requestinfo.ts';
import { podLogs } from './logs.ts';
import { mediaType, parseBody, type RawBody } from './decode.ts';
import { ephemeralContainersOf, isLegacyEphemeralClient, podBodyOfEphemeralContainers, podPatchOfEphemeralContainers } from './ephemeralcontainers.ts';
import { aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, apiVersions, serverVersion, wantsAggregated } from './discovery.ts';
import { openapiResponse } from './openapi.ts';
import { fallbackShape, negotiate, statusFormat, type Shape } from './negotiation.ts';
import { encodeBody, shapeList, shapeObject, type Encoded } from './output.ts';
import { encodeProtobufObject, hasProtobuf, ProtoError, protobufMediaType } from './protobuf.ts';
import { patchTypes, type Ctx, type DeleteOptions, type Registry, type WriteResult } from './registry.ts';
import { inward, outward, storedType } from './views.ts';
import { answer, isAsk } from './reviews.ts';
import { isMetrics, serveMetrics } from './metrics.ts';
import type { Store } from './storage/store.ts';
import { streamingSubresources } from './streaming.ts';
import { serveWatch } from './watch.ts';
import type { KubeletClientConfig } from './kubeletclient.ts';
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
  /** who a bearer token is (the admin token, service account tokens); by default the admin token alone */
  authentication?: Authentication;
  /** who may do what; by default RBAC over the registry's store */
  authorizer?: Authorizer;
  serverAddress: string;
  /** how node agents are dialed (logs, the Metrics API) */
  kubelet?: KubeletClientConfig;
  ready: () => boolean;
  log?: (line: string) => void;
}

interface Route {
  rt: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** reached through the legacy /watch/ prefix: a GET there is a watch, whatever ?watch says */
  watch?: boolean;
}

/** A write answers with the object it wrote: a Table or metadata Accept gets it as JSON. */
const written = (s: Shape): Shape => (s.kind === 'object' ? s : { kind: 'object', format: 'json' });
const asIs = (s: Shape): Shape => s;

class Reply {
  constructor(
    readonly res: ServerResponse,
    /** the request's Accept header, which Status answers are negotiated by too */
    readonly accept: string | undefined,
    readonly log?: (line: string) => void,
    readonly warnings: string[] = [],
  ) {}
  /** whether JSON answers are indented (the request asked for `pretty`) */
  pretty = false;
  send(code: number, body: unknown, contentType = 'application/json', payload?: string | Buffer): void {
    const headers: Record<string, string | string[]> = { 'Content-Type': contentType, 'Cache-Control': 'no-cache, private' };
    if (this.warnings.length) headers.Warning = this.warnings.map((w) => `299 - ${JSON.stringify(w)}`);
    let out: string | Buffer = payload ?? JSON.stringify(body);
    if (this.pretty && typeof out === 'string' && contentType.startsWith('application/json')) out = JSON.stringify(payload !== undefined ? JSON.parse(out) : body, null, 2);
    headers['Content-Length'] = String(Buffer.byteLength(out));
    this.res.writeHead(code, headers);
    this.res.end(out);
  }
  /**
   * An API object in the negotiated shape (`fit` narrows it for writes). A body the protobuf
   * table cannot carry is answered in what else the client accepts (client-go decodes by the
   * response's Content-Type), or is a 500 when it accepts protobuf alone.
   */
  object(code: number, shape: Shape, make: (s: Shape) => unknown, fit: (s: Shape) => Shape = asIs): void {
    const s = fit(shape);
    let enc: Encoded;
    try {
      enc = encodeBody(make(s), s);
    } catch (e) {
      if (!(e instanceof ProtoError)) throw e;
      const alt = fallbackShape(this.accept);
      this.log?.(`response not encodable as protobuf (${e.message}); ${alt ? 'answered as JSON' : 'failed'}`);
      if (!alt) throw errors.internal(`unable to encode the response as protobuf: ${e.message}`);
      const a = fit(alt);
      enc = encodeBody(make(a), a);
    }
    this.send(code, undefined, enc.contentType, enc.payload);
  }
  status(err: ApiError | Status): void {
    const st = err instanceof ApiError ? err.status : err;
    // As apiserver's responsewriters: a Status that says when to retry says it in a header too.
    if (st.details?.retryAfterSeconds) this.res.setHeader('Retry-After', String(st.details.retryAfterSeconds));
    if (statusFormat(this.accept) === 'protobuf') {
      try {
        const pb = encodeProtobufObject(st as unknown as Record<string, unknown>);
        if (pb) return this.send(st.code, undefined, protobufMediaType, pb);
      } catch (e) {
        if (!(e instanceof ProtoError)) throw e;
        this.log?.(`Status not encodable as protobuf (${e.message}); answered as JSON`);
      }
    }
    this.send(st.code, st);
  }
}

/** Finds a kind that is not built in (a CustomResourceDefinition's). */
export type FindDynamic = (group: string, version: string, resource: string) => ResourceType | undefined;

/** Resolves /api/v1/... and /apis/g/v/... to a resource, namespace, name and subresource. */
export function route(pathname: string, dynamic?: FindDynamic): Route | undefined {
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
  // The legacy watch paths (/api/v1/watch/..., /apis/G/V/watch/...), still served upstream.
  const watch = rest[0] === 'watch' && rest.length > 1;
  if (watch) rest = rest.slice(1);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 2 && !namespaceSubresources.has(rest[2]!)) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const rt = findResource(group, version, rest[0]!) ?? dynamic?.(group, version, rest[0]!);
  if (!rt) return undefined;
  if (rest.length > 3) return undefined;
  const r: Route = { rt, name: rest[1], subresource: rest[2] };
  if (watch) {
    if (r.subresource !== undefined) return undefined;
    r.watch = true;
  }
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
  if (q.get('orphanDependents') !== null) opts.orphanDependents = queryBool(q, 'orphanDependents');
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

/**
 * Who a request acts as, if it may do what it asks: its bearer token's user (401 without one),
 * or the user it impersonates, authorized for the request's attributes (403 in upstream's words).
 */
export function authorizeRequest(req: IncomingMessage, pathname: string, query: URLSearchParams, authentication: Authentication, authorizer: Authorizer): UserInfo {
  const requestor = userOfRequest(req, authentication);
  if (!requestor) throw errors.unauthorized();
  const user = impersonate(requestor, req.headersDistinct, authorizer);
  const attrs = requestAttributes(user, req.method ?? 'GET', pathname, query);
  const d = authorizer.authorize(attrs);
  if (d.decision !== 'Allow') throw forbidden(attrs, d.reason);
  return user;
}

export function createHandler(opts: HttpOptions): Handler {
  const { registry } = opts;
  const extra = () => registry.kinds?.types() ?? [];
  const findDynamic: FindDynamic = (g, v, r) => registry.kinds?.find(g, v, r);
  const authentication = opts.authentication ?? new Authentication(opts.token);
  const authorizer = opts.authorizer ?? storeAuthorizer(registry.store);

  async function handleResource(req: IncomingMessage, reply: Reply, r: Route, q: URLSearchParams, bytes: Buffer, user: UserInfo): Promise<void> {
    const method = req.method ?? 'GET';
    const ctx: Ctx = { rt: r.rt, query: q, userAgent: req.headers['user-agent'], user };
    if (r.namespace !== undefined) ctx.namespace = r.namespace;
    if (r.name !== undefined) ctx.name = r.name;
    if (r.rt.kind === 'Endpoints') reply.warnings.push(endpointsWarning);
    const accept = req.headers.accept;
    const contentType = req.headers['content-type'] ?? '';
    // Whether the endpoint speaks protobuf: its kind (or a subresource's) is in the table.
    const proto = !r.rt.custom && hasProtobuf(apiVersionOf(r.rt), r.rt.kind);
    if (r.rt.storage && r.subresource === undefined && ((method === 'POST' && r.name === undefined) || ((method === 'PUT' || method === 'PATCH') && r.name !== undefined))) {
      if (r.rt.namespaced && r.namespace === undefined) throw errors.generic(405);
      const shape = negotiate(accept, proto);
      return viewWrite(reply, r.rt, ctx, method, { text: bytes.toString('utf8'), contentType, bytes }, shape);
    }
    const watch = (wq: URLSearchParams) =>
      serveWatch(reply.res, registry, { rt: r.rt, ...(r.namespace !== undefined ? { namespace: r.namespace } : {}), query: wq, shape: negotiate(accept, proto) }, (close) => {
        req.on('close', close);
        reply.res.on('close', close);
      });

    if (r.watch) {
      // Only GET is routed under /watch/; the name, if any, selects as metadata.name would.
      if (method !== 'GET') throw errors.generic(405);
      negotiate(accept, proto);
      await waitForResourceVersion(registry.store, q);
      return watch(r.name === undefined ? q : nameSelected(q, r.name));
    }

    if (r.name === undefined) {
      switch (method) {
        case 'GET': {
          const shape = negotiate(accept, proto);
          await waitForResourceVersion(registry.store, q);
          if (queryBool(q, 'watch')) return watch(q);
          const { items, resourceVersion } = registry.list(r.rt, r.namespace, q);
          return reply.object(200, shape, (s) => shapeList(r.rt, items, String(resourceVersion), s, q));
        }
        case 'POST': {
          // No create route exists across all namespaces: the router's 405.
          if (r.rt.namespaced && r.namespace === undefined) throw errors.generic(405);
          // As upstream, the answer's media type is settled (or 406) before anything is written.
          const shape = negotiate(accept, proto);
          const raw: RawBody = { text: bytes.toString('utf8'), contentType, bytes };
          return send(reply, shape, await registry.create(ctx, raw));
        }
        case 'DELETE': {
          const shape = negotiate(accept, proto);
          const items = (await registry.deleteCollection(ctx, deleteOptions(bytes.toString('utf8'), contentType, q))).map((o) => outward(r.rt, o));
          const list = { kind: r.rt.listKind, apiVersion: apiVersionOf(r.rt), metadata: { resourceVersion: String(registry.store.resourceVersion) }, items };
          return reply.object(200, shape, () => list, written);
        }
        default:
          throw errors.generic(405);
      }
    }

    const sub = r.subresource;
    const raw = async (): Promise<RawBody> => ({ text: bytes.toString('utf8'), contentType, bytes });
    if (sub === 'scale') {
      if (method !== 'GET' && method !== 'PUT' && method !== 'PATCH') throw errors.generic(405);
      const shape = negotiate(accept, hasProtobuf('autoscaling/v1', 'Scale'));
      if (method === 'GET') {
        await waitForResourceVersion(registry.store, q);
        const scale = registry.getScale(ctx);
        return reply.object(200, shape, () => scale, written);
      }
      if (method === 'PUT') return send(reply, shape, await registry.updateScale(ctx, await raw()));
      return send(reply, shape, await registry.updateScale(ctx, await raw(), mediaType(contentType)));
    }
    // pods/ephemeralcontainers in the EphemeralContainers form of servers before 1.22, for the clients of then.
    if (sub === 'ephemeralcontainers' && (method === 'GET' || method === 'PUT' || method === 'PATCH')) {
      const shape = negotiate(accept, false);
      if (method === 'GET' && isLegacyEphemeralClient(ctx.userAgent)) {
        await waitForResourceVersion(registry.store, q);
        const obj = registry.get(r.rt, r.namespace, r.name) as Pod;
        return reply.object(200, shape, () => ephemeralContainersOf(obj));
      }
      const body = method === 'PUT' ? podBodyOfEphemeralContainers(await raw()) : method === 'PATCH' ? podPatchOfEphemeralContainers(await raw()) : undefined;
      if (body) {
        const result = method === 'PUT' ? await registry.updateEphemeralContainers(ctx, body) : await registry.patch(ctx, body, sub);
        return send(reply, shape, { ...result, object: ephemeralContainersOf(result.object as Pod) });
      }
    }
    // Subresources that are the object itself, of which a write takes one part (status, or a pod's ephemeral containers).
    if (sub === 'status' || sub === 'ephemeralcontainers') {
      if (method !== 'GET' && method !== 'PUT' && method !== 'PATCH') throw errors.generic(405);
      const shape = negotiate(accept, proto);
      if (method === 'GET') {
        await waitForResourceVersion(registry.store, q);
        const obj = registry.get(r.rt, r.namespace, r.name);
        return reply.object(200, shape, (s) => shapeObject(r.rt, obj, s, q));
      }
      if (method === 'PUT') return send(reply, shape, await (sub === 'status' ? registry.updateStatus(ctx, await raw()) : registry.updateEphemeralContainers(ctx, await raw())));
      return send(reply, shape, await registry.patch(ctx, await raw(), sub));
    }
    if (sub === 'log') {
      if (method !== 'GET') throw errors.generic(405);
      return podLogs(registry, r, q, reply.res, opts.kubelet ?? {});
    }
    if (streamingSubresources.has(sub ?? '')) {
      // Served on the upgrade (streaming.ts); a plain request is refused as upstream's proxy refuses it.
      throw errors.badRequest('Upgrade request required');
    }
    if (sub === 'binding') {
      if (method !== 'POST') throw errors.generic(405);
      const shape = negotiate(accept, hasProtobuf('v1', 'Binding'));
      const st = await registry.bind(ctx, await raw());
      return reply.object(201, shape, () => st, written);
    }
    if (sub === 'finalize') {
      if (method !== 'PUT') throw errors.generic(405);
      const shape = negotiate(accept, proto);
      return send(reply, shape, await registry.finalizeNamespace(ctx, await raw()));
    }
    if (sub !== undefined) throw errors.generic(404);

    if (method !== 'GET' && method !== 'PUT' && method !== 'PATCH' && method !== 'DELETE') throw errors.generic(405);
    const shape = negotiate(accept, proto);
    switch (method) {
      case 'GET': {
        // A get from a resourceVersion not reached yet waits as a list does (the watch cache's
        // WaitUntilFreshAndGet), before looking the object up: 504 even for one that is not there.
        await waitForResourceVersion(registry.store, q);
        if (queryBool(q, 'watch')) return watch(nameSelected(q, r.name));
        const obj = registry.get(r.rt, r.namespace, r.name);
        return reply.object(200, shape, (s) => shapeObject(r.rt, obj, s, q));
      }
      case 'PUT':
        return send(reply, shape, await registry.update(ctx, await raw()));
      case 'PATCH':
        return send(reply, shape, await registry.patch(ctx, await raw()));
      case 'DELETE': {
        const result = await registry.delete(ctx, deleteOptions(bytes.toString('utf8'), contentType, q));
        return reply.object(200, shape, () => result.body, written);
      }
    }
  }

  /**
   * A create, update or patch of a view (events.k8s.io Events): the body (or, for a patch, the
   * stored object as the view serves it, patched) converted to the stored kind and written as
   * that; the answer converted back. Server-side apply is not offered on a view.
   */
  async function viewWrite(reply: Reply, rt: ResourceType, ctx: Ctx, method: string, raw: RawBody, shape: Shape): Promise<void> {
    const sctx: Ctx = { ...ctx, rt: storedType(rt) };
    const asStored = (o: unknown): RawBody => {
      if (!isObject(o)) throw errors.badRequest(`the body of the request was not an object`);
      return { text: JSON.stringify(inward(rt, o as unknown as KubeObject)), contentType: 'application/json' };
    };
    let result: WriteResult;
    if (method === 'POST') result = await registry.create(sctx, asStored(parseBody(raw)));
    else if (method === 'PUT') result = await registry.update(sctx, asStored(parseBody(raw)));
    else {
      const pt = mediaType(raw.contentType);
      if (pt === 'application/apply-patch+yaml' || !(patchTypes as readonly string[]).includes(pt)) throw errors.unsupportedMediaType(patchTypes.slice(0, 3));
      const cur = registry.get(sctx.rt, ctx.namespace, ctx.name!);
      const patched = registry.applyPatch(pt, outward(rt, cur), raw, rt.model);
      if (!isObject(patched)) throw errors.badRequest('the patched object is not an object');
      const md = (isObject(patched.metadata) ? patched.metadata : {}) as KubeObject['metadata'];
      patched.metadata = { ...md, resourceVersion: md.resourceVersion ?? cur.metadata.resourceVersion };
      result = await registry.update(sctx, asStored(patched));
    }
    send(reply, shape, { ...result, object: outward(rt, result.object) });
  }

  /** A write's answer: its warnings, then the object in the negotiated format. */
  function send(reply: Reply, shape: Shape, result: { object: unknown; code: number; warnings: string[] }): void {
    reply.warnings.push(...result.warnings);
    reply.object(result.code, shape, () => result.object, written);
  }

  function handleDiscovery(req: IncomingMessage, reply: Reply, path: string): boolean {
    const accept = req.headers.accept ?? '';
    if (path === '/api' || path === '/apis') {
      const agg = wantsAggregated(accept);
      if (agg) {
        reply.send(200, aggregatedDiscovery(path === '/api', agg, extra()), `application/json;g=apidiscovery.k8s.io;v=${agg.split('/')[1]};as=APIGroupDiscoveryList`);
      } else reply.send(200, path === '/api' ? apiVersions(opts.serverAddress) : apiGroupList(extra()));
      return true;
    }
    if (path === '/api/v1') {
      reply.send(200, apiResourceList('', 'v1'));
      return true;
    }
    const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (m) {
      if (m[2] === undefined) {
        const g = apiGroup(m[1]!, extra());
        if (!g) return false;
        reply.send(200, g);
        return true;
      }
      const list = apiResourceList(m[1]!, m[2], extra());
      if ((list.resources as unknown[]).length === 0) return false;
      reply.send(200, list);
      return true;
    }
    return false;
  }

  async function dispatch(req: IncomingMessage, res: ServerResponse, target: Target): Promise<void> {
    const path = target.pathname.length > 1 ? target.pathname.replace(/\/+$/, '') : target.pathname;
    const reply = new Reply(res, req.headers.accept, opts.log);
    reply.pretty = prettyPrint(target.query, req.headers['user-agent']);
    try {
      if (publicPaths.has(path)) {
        discardBody(req);
        // The version handler writes its JSON indented, whatever the request asks.
        if (path === '/version') return reply.send(200, null, 'application/json', JSON.stringify(serverVersion, null, 2));
        if (path.startsWith('/readyz') && !opts.ready()) return reply.send(500, null, 'text/plain; charset=utf-8', '[-]informer-sync failed: not ready\nreadyz check failed\n');
        return reply.send(200, null, 'text/plain; charset=utf-8', 'ok');
      }
      // Authentication and authorization come before the body is read, so a client that may
      // not send it cannot make the server hold it; its body is discarded (up to a cap) after
      // the 401 or 403.
      let user: UserInfo;
      try {
        user = authorizeRequest(req, target.pathname, target.query, authentication, authorizer);
      } catch (e) {
        discardBody(req, unauthenticatedDiscardCap);
        if (isApiError(e) && e.code === 403) res.setHeader('X-Content-Type-Options', 'nosniff');
        throw e;
      }
      // The whole body is read (or refused with 413, the rest discarded) before anything is
      // answered: a response sent while a body is still arriving breaks the kept-alive connection.
      const bytes = await readBody(req, maxBodyBytes).catch((e: unknown) => {
        throw e instanceof BodyTooLargeError ? errors.tooLarge(e.message) : e;
      });
      const openapi = openapiResponse(path, target.query, req.headers, registry.kinds?.openapi);
      if (openapi) {
        res.writeHead(openapi.code, { 'Cache-Control': 'no-cache, private', ...openapi.headers, 'Content-Length': String(openapi.body.length) });
        res.end(openapi.body);
        return;
      }
      if (req.method === 'GET' && handleDiscovery(req, reply, path)) return;
      const r = route(path, findDynamic);
      if (!r) return notFound(reply, path, extra());
      if (isMetrics(r)) {
        const shape = negotiate(req.headers.accept, false);
        return reply.object(200, shape, await serveMetrics(registry, r, req.method ?? 'GET', target.query, opts.kubelet ?? {}));
      }
      if (isAsk(r)) {
        const a = await answer(r, { method: req.method ?? 'GET', query: target.query, raw: { text: bytes.toString('utf8'), contentType: req.headers['content-type'] ?? '', bytes }, user, registry, authentication, authorizer });
        reply.warnings.push(...a.warnings);
        const o = a.object as { apiVersion?: string; kind?: string };
        const shape = negotiate(req.headers.accept, hasProtobuf(String(o.apiVersion ?? ''), String(o.kind ?? '')));
        return reply.object(a.code, shape, () => a.object, written);
      }
      await handleResource(req, reply, r, target.query, bytes, user);
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

/**
 * A path no route serves. Under /api and a served group's prefix the API router answers, with a
 * Status whose details are empty; anywhere else Go's mux answers in plain text.
 */
function notFound(reply: Reply, path: string, extra: readonly ResourceType[]): void {
  const parts = path.split('/');
  const routed = parts[1] === 'api' || (parts[1] === 'apis' && parts[2] !== undefined && apiGroup(decodeSegment(parts[2]) ?? '', extra) !== undefined);
  if (routed) return reply.status(errors.generic(404));
  reply.res.setHeader('X-Content-Type-Options', 'nosniff');
  reply.send(404, null, 'text/plain; charset=utf-8', '404 page not found\n');
}

/**
 * The list options of a watch on one object by name (apiserver's listOpts): the name becomes the
 * field selector metadata.name=NAME; a field selector that says otherwise is refused.
 */
function nameSelected(q: URLSearchParams, name: string): URLSearchParams {
  const fs = q.get('fieldSelector') ?? '';
  const out = new URLSearchParams(q);
  if (fs.trim() === '') {
    out.set('fieldSelector', `metadata.name=${name}`);
    return out;
  }
  let reqs: FieldRequirement[] = [];
  try {
    reqs = parseFieldSelector(fs);
  } catch {
    // an unparsable selector is refused below, as one that does not name the object
  }
  if (!reqs.some((r) => r.field === 'metadata.name' && r.op === '=' && r.value === name)) {
    throw errors.badRequest("fieldSelector metadata.name doesn't match requested name");
  }
  return out;
}

/**
 * Whether to indent JSON (apiserver's negotiation isPrettyPrint): `pretty` as Go's
 * strconv.ParseBool reads it (not the query-parameter rule: it is no converted option), else
 * browsers and command-line HTTP tools by their User-Agent.
 */
function prettyPrint(q: URLSearchParams, userAgent: string | undefined): boolean {
  const pp = q.get('pretty');
  if (pp) return ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(pp);
  const ua = userAgent ?? '';
  return ua.startsWith('curl') || ua.startsWith('Wget') || ua.startsWith('Mozilla/5.0');
}
