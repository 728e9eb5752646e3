// nginx.conf from the model, laid out as ingress-nginx's template lays it: one upstream
// (`upstream_balancer`, the Lua balancer) for every backend, a server per host (the catch-all `_`
// first) listening on the HTTP and HTTPS ports with its certificate, a location per path, the
// default backend's 404, and a status server on 127.0.0.1 that takes endpoint updates and serves
// the request counters. Pure: the controller writes the text and the files it names.
import { createHash } from 'node:crypto';
import { catchAll, defaultCertificate, ownsHealthz, refString, type Location, type Model, type NginxMatch, type RouteChoice, type Server } from '../model.ts';
import { luaModuleName, luaSource } from './lua.ts';

export interface RenderOptions {
  /** the directory nginx.conf lives in (/etc/nginx in the controller pod) */
  confDir: string;
  /** pid file and temp directories */
  runDir: string;
  /** address the HTTP and HTTPS servers bind ("" or "*": all) */
  listenAddress: string;
  httpPort: number;
  httpsPort: number;
  /** 127.0.0.1:PORT of the status server (ingress-nginx: 10246) */
  statusPort: number;
  /** nginx worker_processes ("auto") */
  workerProcesses: string;
  /**
   * nginx worker_connections: ingress-nginx's max-worker-connections is 16384. nginx allocates
   * and touches a connection and two events per slot at each worker's start, about 0.4 KiB each,
   * so 16384 slots hold 7 MiB in every worker.
   */
  workerConnections: number;
  /** where access log lines go: a file, /dev/stdout, or "off" */
  accessLog: string;
  /** HTTP status of the https redirect (ingress-nginx's http-redirect-code, 308) */
  redirectCode: number;
}

export const defaultRenderOptions: Omit<RenderOptions, 'confDir' | 'runDir'> = {
  listenAddress: '',
  httpPort: 80,
  httpsPort: 443,
  statusPort: 10246,
  workerProcesses: 'auto',
  workerConnections: 16384,
  accessLog: '/dev/stdout',
  redirectCode: 308,
};

export interface Rendered {
  /** nginx.conf */
  conf: string;
  /** other files, by path relative to confDir */
  files: Map<string, string>;
  /**
   * names this configuration (a hash of it and its files): the workers that load it know it, so
   * before the next reload they can be told to drain (POST /configuration/drain)
   */
  generation: string;
}

/** ingress-nginx's default access log format (log-format-upstream). */
export const upstreamInfoFormat =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id';

const esc = (s: string) => s.replace(/[\\"]/g, (c) => `\\${c}`);
/** A literal value inside double quotes: nginx has no escape for `$`, hence ingress-nginx's $literal_dollar. */
const q = (s: string) => `"${esc(s).replace(/\$/g, '${literal_dollar}')}"`;
/** A regex inside double quotes (nginx does not expand variables in location and rewrite regexes). */
const qRegex = (s: string) => `"${esc(s)}"`;
const plainPath = /^[A-Za-z0-9/_.~%@!*+,=:-]+$/;

/** The location's match in nginx.conf, quoted where the path needs it (a location takes no variables: `$` is itself). */
function locationText(m: NginxMatch): string {
  if (m.kind === 'regex') return `~* ${qRegex(`^${m.pattern}`)}`;
  const p = plainPath.test(m.pattern) ? m.pattern : qRegex(m.pattern);
  return m.kind === 'exact' ? `= ${p}` : p;
}

const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');

const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);

/** A certificate's file: its name carries a hash of the content, so a new certificate changes nginx.conf (and reloads). */
export function certificateFile(name: string, pem: string): string {
  return `ssl/${name}-${sha(pem)}.pem`;
}

function listen(o: RenderOptions, port: number, extra: string): string {
  const addr = o.listenAddress && o.listenAddress !== '*' ? `${o.listenAddress}:${port}` : String(port);
  return `listen ${addr}${extra};`;
}

/** `set` lines that tell the log (and the metrics of a request that ends before the Lua code chose a route) what this location is, as ingress-nginx's. */
function locationVars(l: Location, upstream: string): string[] {
  return [
    `set $namespace ${q(l.ingress?.namespace ?? '')};`,
    `set $ingress_name ${q(l.ingress?.name ?? '')};`,
    `set $service_name ${q(l.backend?.service?.name ?? '')};`,
    `set $service_port ${q(String(l.backend?.service?.port?.number ?? l.backend?.service?.port?.name ?? ''))};`,
    `set $location_path ${q(l.path ?? '/')};`,
    `set $proxy_upstream_name ${q(upstream)};`,
    `set $proxy_alternative_upstream_name "";`,
  ];
}

/** http → https; ingress-nginx drops a trailing slash from the target unless preserve-trailing-slash. */
function sslRedirect(l: Location, o: RenderOptions): string[] {
  return [`if ($scheme = http) {`, `    return ${o.redirectCode} https://$host${l.config.preserveTrailingSlash ? '$request_uri' : '$pp_redirect_uri'};`, `}`];
}

/** app-root at server level (as ingress-nginx writes it): / redirects whichever location it would reach. */
function appRoots(s: Server): string[] {
  const roots = [...new Set(s.locations.flatMap((l) => (l.config.appRoot !== undefined ? [l.config.appRoot] : [])))];
  return roots.flatMap((r) => [`if ($uri = /) {`, `    return 302 $scheme://$http_host${r};`, `}`]);
}

/**
 * A location whose route the Lua code picks per request (its podpath.locations entry names its table in
 * `podpath.routes`): it sets the upstream, the names in the log and the request's changes itself.
 */
function renderRoutesLocation(l: Location, id: number): string[] {
  const c = l.config;
  // the response-header phase only where a route edits response headers
  const editsResponse = l.routes!.some((r) => [...r.filters, ...r.backends.flatMap((b) => b.filters)].some((f) => f.type === 'response-headers'));
  const body = [
    ...locationVars(l, ''),
    `client_max_body_size ${c.proxyBodySize};`,
    `proxy_connect_timeout ${c.proxyConnectTimeout}s;`,
    `proxy_send_timeout ${c.proxySendTimeout}s;`,
    `proxy_read_timeout ${c.proxyReadTimeout}s;`,
    `rewrite_by_lua_block { ${luaModuleName}.rewrite(${id}) }`,
    ...(editsResponse ? [`header_filter_by_lua_block { ${luaModuleName}.header_filter() }`] : []),
    `log_by_lua_block { ${luaModuleName}.log() }`,
    'proxy_pass http://upstream_balancer;',
  ];
  return [`location ${locationText(l.match)} { # ${l.routes!.length} route match${l.routes!.length === 1 ? '' : 'es'}, tried by the Lua code`, ...body.map((b) => `    ${b}`), '}'];
}

/** What the Lua code knows of a location with an upstream or routes (podpath.locations[N]), so it reads no nginx variables per request. */
interface LuaLocation {
  server: string;
  path: string;
  /** "NAMESPACE\tINGRESS\tSERVICE\t": the metric labels before status (routes: per request) */
  labels?: string;
  upstream?: string;
  /** podpath.routes[N] */
  routes?: number;
  canary?: { upstream: string; weight: number; total: number; header?: string; value?: string };
  affinity?: { cookie: string; path: string; max_age?: string };
}

/** The tables init_by_lua gives the Lua code: locations and route matches, each numbered from 1 as rewrite_by_lua names them. */
interface LuaTables {
  locations: LuaLocation[];
  routes: RouteChoice[][];
}

function luaLocation(l: Location, server: Server, tables: LuaTables): number {
  const c = l.canary;
  const aff = l.config.affinity;
  const path = l.path ?? '/';
  const loc: LuaLocation = { server: server.hostname, path };
  if (l.routes) {
    tables.routes.push(l.routes);
    loc.routes = tables.routes.length;
  } else {
    loc.labels = `${l.ingress?.namespace ?? ''}\t${l.ingress?.name ?? ''}\t${l.backend?.service?.name ?? ''}\t`;
    loc.upstream = l.upstream;
  }
  if (c) loc.canary = { upstream: c.upstream, weight: c.weight, total: c.weightTotal, ...(c.header ? { header: c.header } : {}), ...(c.headerValue !== undefined && c.headerValue !== '' ? { value: c.headerValue } : {}) };
  if (aff?.cookieName) loc.affinity = { cookie: aff.cookieName, path: aff.path ?? path, ...(aff.maxAge !== undefined ? { max_age: String(aff.maxAge) } : {}) };
  tables.locations.push(loc);
  return tables.locations.length;
}

function renderLocation(l: Location, server: Server, o: RenderOptions, tables: LuaTables): string[] {
  if (l.routes) return renderRoutesLocation(l, luaLocation(l, server, tables));
  const c = l.config;
  const body: string[] = [];
  const source = oneLine(l.ingress ? `# ${refString(l.ingress)}${l.path !== undefined ? ` ${server.hostname === catchAll ? '' : server.hostname}${l.path} (${l.pathType})` : ' defaultBackend'}` : "# the controller's default backend");
  if (!l.upstream) {
    body.push(`set $proxy_upstream_name "upstream-default-backend";`);
    if (l.sslRedirect) body.push(...sslRedirect(l, o));
    body.push('return 404;');
    return [`location ${locationText(l.match)} { ${source}`, ...body.map((b) => `    ${b}`), '}'];
  }
  body.push(...locationVars(l, l.upstream));
  if (l.sslRedirect) body.push(...sslRedirect(l, o));
  // the target keeps its $1, $2 (annotations.ts admits no quote, space or semicolon in it)
  if (c.rewriteTarget !== undefined && l.match.kind === 'regex') body.push(`rewrite ${qRegex(`(?i)${l.match.pattern}`)} ${c.rewriteTarget} break;`);
  for (const cidr of c.allowSourceRange) body.push(`allow ${cidr};`);
  if (c.allowSourceRange.length) body.push('deny all;');
  body.push(
    `client_max_body_size ${c.proxyBodySize};`,
    `proxy_connect_timeout ${c.proxyConnectTimeout}s;`,
    `proxy_send_timeout ${c.proxySendTimeout}s;`,
    `proxy_read_timeout ${c.proxyReadTimeout}s;`,
    `rewrite_by_lua_block { ${luaModuleName}.rewrite(${luaLocation(l, server, tables)}) }`,
    `log_by_lua_block { ${luaModuleName}.log() }`,
    `proxy_pass ${c.backendProtocol === 'HTTPS' ? 'https' : 'http'}://upstream_balancer;`,
  );
  return [`location ${locationText(l.match)} { ${source}`, ...body.map((b) => `    ${b}`), '}'];
}

/** nginx's port → the port clients asked for, where they differ (once each, in port order). */
function publicPorts(servers: Server[]): [number, number][] {
  const m = new Map<number, number>();
  for (const s of servers) if (s.listen?.publicPort !== undefined) m.set(s.listen.port, s.listen.publicPort);
  return [...m].sort((a, b) => a[0] - b[0]);
}

/** The listen lines: the controller's HTTP and HTTPS ports, or the server's own port (TLS or not). */
function listens(s: Server, o: RenderOptions, cert: string | undefined): string[] {
  const isDefault = s.hostname === catchAll;
  const certLines = cert ? [`ssl_certificate ${o.confDir}/${cert};`, `ssl_certificate_key ${o.confDir}/${cert};`] : [];
  if (s.listen) {
    const tls = s.listen.tls && cert !== undefined;
    return [listen(o, s.listen.port, `${isDefault ? ' default_server reuseport backlog=4096' : ''}${tls ? ' ssl' : ''}`), ...(tls ? certLines : [])];
  }
  return [listen(o, o.httpPort, isDefault ? ' default_server reuseport backlog=4096' : ''), ...(cert ? [listen(o, o.httpsPort, isDefault ? ' default_server reuseport backlog=4096 ssl' : ' ssl'), ...certLines] : [])];
}

function renderServer(s: Server, o: RenderOptions, certFiles: Map<string, string>, tables: LuaTables): string[] {
  const isDefault = s.hostname === catchAll;
  // nginx's own `*.example.com` takes any number of labels; an Ingress wildcard takes one
  const name = s.hostname.startsWith('*.') && !s.anyDepthWildcard ? `~^(?<subdomain>[\\w-]+)${s.hostname.slice(1).replace(/\./g, '\\.')}$` : s.hostname;
  const cert = certFiles.get(s.tls?.certificate ?? defaultCertificate) ?? certFiles.get(defaultCertificate);
  const lines = [
    `## start server ${s.hostname}${s.listen ? ` port ${s.listen.port}` : ''}`,
    'server {',
    `    server_name ${name} ;`,
    ...listens(s, o, cert).map((x) => `    ${x}`),
    `    set $pp_server ${q(s.hostname)};`,
    '    set $proxy_upstream_name "-";',
    '    set $proxy_alternative_upstream_name "";',
    ...appRoots(s).map((x) => `    ${x}`),
    ...s.locations.flatMap((l) => renderLocation(l, s, o, tables).map((x) => `    ${x}`)),
    // the controller's own health check, unless a host-less Ingress path takes /healthz
    ...(isDefault && !s.listen && !ownsHealthz(s) ? ['    location = /healthz {', '        access_log off;', '        return 200;', '    }'] : []),
    '}',
    `## end server ${s.hostname}${s.listen ? ` port ${s.listen.port}` : ''}`,
  ];
  return lines;
}

/** A Lua literal of plain data (strings, numbers, booleans, arrays, records); undefined fields left out. */
export function luaValue(v: unknown): string {
  if (typeof v === 'string') return `"${v.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\x00-\x1f\x7f]/g, (c) => `\\${String(c.charCodeAt(0)).padStart(3, '0')}`)}"`;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '0';
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(luaValue).join(', ')}}`;
  if (v && typeof v === 'object') {
    return `{${Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `[${luaValue(k)}] = ${luaValue(x)}`)
      .join(', ')}}`;
  }
  return 'nil';
}

/** The upstreams the Lua balancer serves, as the status server's payload. */
export function backendsPayload(m: Model): string {
  return [...m.upstreams.values()]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((u) => [u.name, ...u.endpoints.map((e) => `${e.address}:${e.port}`)].join(' '))
    .join('\n') + '\n';
}

export function renderNginxConf(m: Model, o: RenderOptions): Rendered {
  const files = new Map<string, string>();
  files.set(`lua/${luaModuleName}.lua`, luaSource);
  const certFiles = new Map<string, string>();
  for (const [name, c] of [...m.certificates].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const f = certificateFile(name, c.pem);
    certFiles.set(name, f);
    files.set(f, c.pem);
  }
  const tables: LuaTables = { locations: [], routes: [] };
  const servers = m.servers.flatMap((s) => [...renderServer(s, o, certFiles, tables), '']);
  const http = [
    `lua_package_path ${q(`${o.confDir}/lua/?.lua;;`)};`,
    'lua_shared_dict configuration_data 20M;',
    'lua_shared_dict metrics 5M;',
    `init_by_lua_block {`,
    `    ${luaModuleName} = require(${q(luaModuleName)})`,
    `    ${luaModuleName}.generation = "${generationMark}"`,
    `    ${luaModuleName}.locations = ${luaValue(tables.locations)}`,
    ...(tables.routes.length ? [`    ${luaModuleName}.routes = ${luaValue(tables.routes)}`] : []),
    '}',
    `init_worker_by_lua_block { ${luaModuleName}.init_worker() }`,
    '',
    'types {',
    '    text/html html htm;',
    '    text/plain txt;',
    '    application/json json;',
    '}',
    'default_type text/html;',
    'sendfile on;',
    'tcp_nopush on;',
    'tcp_nodelay on;',
    'keepalive_timeout 75s;',
    'keepalive_requests 1000;',
    'server_tokens off;',
    'server_names_hash_bucket_size 128;',
    'server_names_hash_max_size 1024;',
    'variables_hash_bucket_size 256;',
    'proxy_headers_hash_bucket_size 64;',
    `client_body_temp_path ${o.runDir}/client-body;`,
    `proxy_temp_path ${o.runDir}/proxy-temp;`,
    `fastcgi_temp_path ${o.runDir}/fastcgi-temp;`,
    `uwsgi_temp_path ${o.runDir}/uwsgi-temp;`,
    `scgi_temp_path ${o.runDir}/scgi-temp;`,
    '',
    `log_format upstreaminfo '${upstreamInfoFormat}';`,
    // buffered: one write per 64 KiB or per second instead of one per request
    o.accessLog === 'off' ? 'access_log off;' : `access_log ${o.accessLog} upstreaminfo buffer=64k flush=1s;`,
    '',
    'ssl_protocols TLSv1.2 TLSv1.3;',
    'ssl_session_cache shared:SSL:10m;',
    'ssl_session_timeout 10m;',
    '',
    '# Reverse proxies can detect if a client provides a X-Request-ID header, and pass it on to the backend server.',
    'geo $literal_dollar {',
    '    default "$";',
    '}',
    'map $http_x_request_id $req_id {',
    '    default $http_x_request_id;',
    '    "" $pp_request_id;',
    '}',
    "# a request's own id: the one podpath.lua's rewrite phase made, else nginx's (a location without Lua)",
    'map $pp_lua_request_id $pp_request_id {',
    '    "" $request_id;',
    '    default $pp_lua_request_id;',
    '}',
    'geo $pp_lua_request_id {',
    '    default "";',
    '}',
    '# the https redirect\'s target: the request line without one trailing slash',
    'map $request_uri $pp_redirect_uri {',
    '    default $request_uri;',
    '    "~^(?<pp_no_slash>.*)/$" $pp_no_slash;',
    '}',
    "# the port the client asked for: a Gateway's Service maps its listener ports to nginx's own",
    'map $server_port $pp_listener_port {',
    '    default $server_port;',
    ...publicPorts(m.servers).map(([port, pub]) => `    ${port} ${pub};`),
    '}',
    'map $http_upgrade $connection_upgrade {',
    '    default upgrade;',
    "    '' '';",
    '}',
    'map $http_host $best_http_host {',
    '    default $http_host;',
    '    "" $host;',
    '}',
    '',
    'proxy_http_version 1.1;',
    'proxy_set_header Host $best_http_host;',
    'proxy_set_header Upgrade $http_upgrade;',
    'proxy_set_header Connection $connection_upgrade;',
    'proxy_set_header X-Request-ID $req_id;',
    'proxy_set_header X-Real-IP $remote_addr;',
    'proxy_set_header X-Forwarded-For $remote_addr;',
    'proxy_set_header X-Forwarded-Host $best_http_host;',
    'proxy_set_header X-Forwarded-Port $pp_listener_port;',
    'proxy_set_header X-Forwarded-Proto $scheme;',
    'proxy_set_header X-Forwarded-Scheme $scheme;',
    'proxy_set_header X-Scheme $scheme;',
    // the client's own X-Forwarded-For (X-Forwarded-For itself is the client's address); X-Original-URI
    // only with proxy-add-original-uri-header, false by default
    'proxy_set_header X-Original-Forwarded-For $http_x_forwarded_for;',
    'proxy_buffering off;',
    'proxy_next_upstream error timeout;',
    'proxy_next_upstream_tries 10;',
    'proxy_ssl_server_name on;',
    '',
    'upstream upstream_balancer {',
    '    server 0.0.0.1; # placeholder',
    `    balancer_by_lua_block { ${luaModuleName}.balance() }`,
    '    keepalive 320;',
    '    keepalive_timeout 60s;',
    '    keepalive_requests 10000;',
    '}',
    '',
    ...servers,
    '# the status server: endpoint updates from the controller, request counters for /metrics',
    'server {',
    `    listen 127.0.0.1:${o.statusPort};`,
    '    access_log off;',
    '    keepalive_timeout 0;',
    '    location /configuration {',
    '        client_max_body_size 21M;',
    '        client_body_buffer_size 21M;',
    `        content_by_lua_block { ${luaModuleName}.configuration() }`,
    '    }',
    '    location = /healthz {',
    '        return 200;',
    '    }',
    '    location = /nginx_status {',
    '        stub_status on;',
    '    }',
    '    location / {',
    '        return 404;',
    '    }',
    '}',
  ];
  const conf = [
    '# nginx.conf written by podpath ingress-controller; do not edit (it is rewritten on every change)',
    'load_module /usr/lib/nginx/modules/ndk_http_module.so;',
    'load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;',
    '',
    `pid ${o.runDir}/nginx.pid;`,
    'daemon off;',
    `worker_processes ${o.workerProcesses};`,
    'worker_shutdown_timeout 240s;',
    'error_log stderr notice;',
    '',
    'events {',
    '    multi_accept on;',
    `    worker_connections ${o.workerConnections};`,
    '    use epoll;',
    '}',
    '',
    'http {',
    ...http.map((l) => (l ? `    ${l}` : '')),
    '}',
    '',
  ].join('\n');
  const generation = sha([conf, ...[...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flat()].join('\0'));
  return { conf: conf.replace(generationMark, generation), files, generation };
}

/** Where the configuration's generation goes in its text (replaced by a hash of the text with the mark). */
const generationMark = '@GENERATION@';
