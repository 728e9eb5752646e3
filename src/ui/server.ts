// `podpath ui`'s HTTP server: one page and the JSON it reads — the topology (pushed again over
// Server-Sent Events whenever the watched cluster changes), traces (the very text `podpath
// trace -o json|mermaid` prints; observed ones, one at a time, in a lab), the diagnosis of a
// failing path (`podpath diagnose -o json`), a node's rule tree and any object's YAML. Every request must
// carry the token printed in the URL (or the cookie the first load sets), so another local user
// cannot drive it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { stringify as toYAML } from 'yaml';
import { createHttpServer, type Target } from '../util/httpserver.ts';
import type { AddressPlan } from '../trace/cluster.ts';
import type { TraceRequest } from '../trace/engine.ts';
import { diagnosisJSON } from '../diagnose/json.ts';
import { DiagnoseError } from '../diagnose/types.ts';
import { traceJSON } from '../trace/json.ts';
import { traceMermaid } from '../trace/mermaid.ts';
import { TraceError } from '../trace/types.ts';
import { loadPageAssets, type PageAssets } from './assets.ts';
import { pageHTML } from './html.ts';
import type { RuleTree } from './rules.ts';
import type { ClusterSource } from './source.ts';
import { topology, type Topology } from './topology.ts';
import { computeTrace, computedRuleTree, offlineDiagnosis, type DiagnoseFunction, type TraceFunction, type TraceInputs } from './trace.ts';

export interface UIServerOptions {
  source: ClusterSource;
  plan: AddressPlan;
  host: string;
  /** 0: any free port */
  port: number;
  /** defaults to the offline engine over the source's objects */
  trace?: TraceFunction;
  /** the observed trace (`podpath trace --observe`): a lab's only; without it Observe is refused */
  observe?: TraceFunction;
  /** defaults to the offline checklist over the source's objects */
  diagnose?: DiagnoseFunction;
  /** a node's rule tree; defaults to the rules computed from the objects */
  rules?: (inputs: TraceInputs, node: string) => RuleTree | Promise<RuleTree>;
  /** fixed in tests; random otherwise */
  token?: string;
}

export interface UIServer {
  /** the page's address with its token */
  url: string;
  token: string;
  close(): Promise<void>;
}

const cookieName = 'podpath-ui';

export class UIError extends Error {
  constructor(
    readonly code: 'BadListen' | 'NotFound' | 'BadRequest' | 'NotLive' | 'Busy',
    message: string,
  ) {
    super(message);
  }
}

/** "127.0.0.1:8080", "[::1]:0", ":8080" (loopback) → host and port. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UIError('BadListen', `--listen ${s}: expected HOST:PORT (127.0.0.1:8080; port 0 picks a free one)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

const headers = {
  // the page loads nothing from elsewhere and nothing inline
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

function send(res: http.ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

const sendJSON = (res: http.ServerResponse, status: number, v: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(v));

function cookieToken(req: http.IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === cookieName) return v;
  }
  return undefined;
}

const sameToken = (a: string | undefined | null, b: string) => !!a && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export function traceRequestOf(q: URLSearchParams): TraceRequest {
  const from = q.get('from');
  const to = q.get('to');
  if (!from) throw new TraceError('BadSource', 'from: required (client, node/NAME or pod/NAMESPACE/NAME)');
  if (!to) throw new TraceError('BadDestination', 'to: required (a URL, HOST:PORT or svc/NAMESPACE/NAME[:PORT])');
  const protocol = q.get('protocol') ?? 'tcp';
  if (protocol !== 'tcp' && protocol !== 'udp') throw new TraceError('BadFlags', `protocol ${protocol}: tcp or udp`);
  return { from, to, protocol, prefer: q.getAll('endpoint') };
}

export async function startUIServer(o: UIServerOptions): Promise<UIServer> {
  const assets: PageAssets = await loadPageAssets();
  const token = o.token ?? randomBytes(24).toString('base64url');
  const traceFn = o.trace ?? computeTrace;
  const rulesFn = o.rules ?? computedRuleTree;
  const diagnoseFn = o.diagnose ?? offlineDiagnosis();
  const inputs = (): TraceInputs => {
    const proxy = o.source.proxyConfig();
    return { objects: o.source.objects(), plan: o.plan, mode: o.source.proxyMode(), ...(proxy ? { proxy } : {}) };
  };
  // One observation at a time: each installs trace rules in the namespaces the path crosses. It
  // runs to its end (its rules removed) even when the page goes away; close() waits for it.
  let observing: Promise<unknown> | undefined;
  let view: { generation: number; json: string } | undefined;
  const topologyJSON = () => {
    if (view?.generation !== o.source.generation) {
      const t: Topology = topology(o.source.objects(), { mode: o.source.proxyMode(), live: o.source.live, generation: o.source.generation, observe: !!o.observe });
      view = { generation: o.source.generation, json: JSON.stringify(t) };
    }
    return view.json;
  };
  const streams = new Set<http.ServerResponse>();
  o.source.onChange(() => {
    if (!streams.size) return;
    const frame = `event: topology\ndata: ${topologyJSON()}\n\n`;
    for (const s of streams) s.write(frame);
  });
  // Comments keep the stream open through anything that closes idle connections.
  const keepAlive = setInterval(() => {
    for (const s of streams) s.write(': keep-alive\n\n');
  }, 15_000);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, t: Target): Promise<void> => {
    const p = t.pathname;
    const fromQuery = p === '/' && sameToken(t.query.get('token'), token);
    if (!fromQuery && !sameToken(cookieToken(req), token)) return send(res, 403, 'text/plain; charset=utf-8', 'podpath ui: open the address podpath ui printed, with its token\n');
    // Observe changes the nodes' rules for a moment: a POST (which a link or an image cannot send)
    if (p === '/api/observe' ? req.method !== 'POST' : req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', p === '/api/observe' ? 'only POST\n' : 'only GET\n', { Allow: p === '/api/observe' ? 'POST' : 'GET, HEAD' });
    try {
      switch (p) {
        case '/':
          return send(res, 200, 'text/html; charset=utf-8', pageHTML(), fromQuery ? { 'Set-Cookie': `${cookieName}=${token}; Path=/; HttpOnly; SameSite=Strict` } : {});
        case '/assets/app.js':
          return send(res, 200, 'text/javascript; charset=utf-8', assets.js);
        case '/assets/app.css':
          return send(res, 200, 'text/css; charset=utf-8', assets.css);
        case '/favicon.ico':
          res.writeHead(204, headers).end();
          return;
        case '/api/topology':
          return send(res, 200, 'application/json; charset=utf-8', topologyJSON());
        case '/api/events':
          res.writeHead(200, { ...headers, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
          res.write(`event: topology\ndata: ${topologyJSON()}\n\n`);
          streams.add(res);
          res.on('close', () => streams.delete(res));
          return;
        case '/api/trace': {
          const tr = await traceFn(inputs(), traceRequestOf(t.query));
          return t.query.get('output') === 'mermaid' ? send(res, 200, 'text/plain; charset=utf-8', traceMermaid(tr)) : send(res, 200, 'application/json; charset=utf-8', traceJSON(tr));
        }
        case '/api/observe': {
          if (!o.observe) throw new UIError('NotLive', 'Observe sends a probe and watches its path in a lab: serve the page with --name LAB (this one shows a file or a kubeconfig\'s cluster)');
          if (observing) throw new UIError('Busy', 'an observation is running (one at a time: each puts trace rules in the namespaces on the path); try again when it is done');
          const run = Promise.resolve().then(() => o.observe!(inputs(), traceRequestOf(t.query)));
          observing = run;
          try {
            return send(res, 200, 'application/json; charset=utf-8', traceJSON(await run));
          } finally {
            observing = undefined;
          }
        }
        case '/api/diagnose': {
          const r = traceRequestOf(t.query);
          return send(res, 200, 'application/json; charset=utf-8', diagnosisJSON(await diagnoseFn(inputs(), { from: r.from, to: r.to, protocol: r.protocol })));
        }
        case '/api/rules': {
          const node = t.query.get('node');
          if (!node) throw new UIError('BadRequest', 'node: required');
          return sendJSON(res, 200, await rulesFn(inputs(), node));
        }
        case '/api/object':
          return send(res, 200, 'text/yaml; charset=utf-8', objectYAML(inputs(), t.query));
        default:
          return send(res, 404, 'text/plain; charset=utf-8', `${p}: not found\n`);
      }
    } catch (e) {
      const code = e instanceof TraceError || e instanceof UIError || e instanceof DiagnoseError ? e.code : 'Internal';
      const status = code === 'Internal' ? 500 : code === 'NotFound' ? 404 : code === 'Busy' ? 409 : 400;
      // the page may be gone (closed during an observation): nothing to answer then
      if (res.writableEnded || res.destroyed) return;
      return sendJSON(res, status, { code, message: (e as Error).message });
    }
  };
  const server = createHttpServer((req, res, t) => void handle(req, res, t));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new UIError('BadListen', `--listen ${o.host}:${o.port}: ${e.code === 'EADDRINUSE' ? 'address in use' : e.message}`)));
    server.listen(o.port, o.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${host}:${a.port}/?token=${token}`,
    token,
    close: async () => {
      // an observation under way removes its trace rules before the server goes
      await observing?.catch(() => undefined);
      return new Promise<void>((resolve) => {
        clearInterval(keepAlive);
        for (const s of streams) s.end();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** An object the page links to, as YAML (without managedFields, which says nothing about the path). */
function objectYAML(i: TraceInputs, q: URLSearchParams): string {
  const kind = q.get('kind') ?? '';
  const name = q.get('name') ?? '';
  const ns = q.get('namespace') ?? undefined;
  const all = Object.values(i.objects).flat() as { kind?: string; metadata: { name?: string; namespace?: string; managedFields?: unknown } }[];
  const o = all.find((x) => x.kind === kind && x.metadata.name === name && (ns === undefined || (x.metadata.namespace ?? 'default') === ns));
  if (!o) throw new UIError('NotFound', `${kind} ${ns ? `${ns}/` : ''}${name}: not in the cluster`);
  const { managedFields: _, ...metadata } = o.metadata;
  // Secrets are shown without their data: the page has no business showing keys.
  const shown = kind === 'Secret' ? { ...o, metadata, data: undefined, stringData: undefined } : { ...o, metadata };
  return toYAML(shown);
}
