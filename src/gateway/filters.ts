// HTTPRoute filters: header modifiers (set, add, remove), path modifiers (ReplaceFullPath,
// ReplacePrefixMatch with the spec's table of slashes), and the Location of a RequestRedirect.
import type { HTTPHeaderFilter, HTTPPathModifier, HTTPRequestRedirectFilter } from './types.ts';

/** Request headers by lower-case name, several values joined by ",". */
export type Headers = Record<string, string>;

/** What one header filter did, for the explanation. */
export interface HeaderChange {
  op: 'set' | 'add' | 'remove';
  name: string;
  value?: string;
}

/** Apply set, then add (appending to a present value with ","), then remove. */
export function modifyHeaders(h: Headers, f: HTTPHeaderFilter): HeaderChange[] {
  const changes: HeaderChange[] = [];
  for (const { name, value } of f.set ?? []) {
    h[name.toLowerCase()] = value;
    changes.push({ op: 'set', name: name.toLowerCase(), value });
  }
  for (const { name, value } of f.add ?? []) {
    const n = name.toLowerCase();
    h[n] = h[n] !== undefined ? `${h[n]},${value}` : value;
    changes.push({ op: 'add', name: n, value });
  }
  for (const name of f.remove ?? []) {
    delete h[name.toLowerCase()];
    changes.push({ op: 'remove', name: name.toLowerCase() });
  }
  return changes;
}

/** The response headers a ResponseHeaderModifier asks for (later filters win for the same name). */
export interface ResponseHeaders {
  set: Record<string, string>;
  add: Record<string, string>;
  remove: string[];
}

export function addResponseModifier(r: ResponseHeaders, f: HTTPHeaderFilter): HeaderChange[] {
  const changes: HeaderChange[] = [];
  for (const { name, value } of f.set ?? []) {
    r.set[name.toLowerCase()] = value;
    changes.push({ op: 'set', name: name.toLowerCase(), value });
  }
  for (const { name, value } of f.add ?? []) {
    const n = name.toLowerCase();
    r.add[n] = r.add[n] !== undefined ? `${r.add[n]},${value}` : value;
    changes.push({ op: 'add', name: n, value });
  }
  for (const name of f.remove ?? []) {
    if (!r.remove.includes(name.toLowerCase())) r.remove.push(name.toLowerCase());
    changes.push({ op: 'remove', name: name.toLowerCase() });
  }
  return changes;
}

/**
 * The path after a path modifier. ReplacePrefixMatch replaces the matched prefix (element-wise,
 * its trailing "/" ignored) and keeps the rest: /foo/bar with prefix /foo and /xyz gives /xyz/bar,
 * with "" gives /bar; an empty result is "/".
 */
export function modifyPath(path: string, m: HTTPPathModifier, matchedPrefix: string | undefined): string {
  if (m.type === 'ReplaceFullPath') return m.replaceFullPath ?? '/';
  const prefix = (matchedPrefix ?? '/').replace(/\/$/, '');
  const rest = path.slice(prefix.length);
  const repl = (m.replacePrefixMatch ?? '').replace(/\/$/, '');
  return repl + rest || '/';
}

const defaultPorts: Record<string, number> = { http: 80, https: 443 };

/**
 * The redirect's Location: scheme, hostname and path from the filter or the request; the port
 * from the filter, else the new scheme's well-known port when the filter names a scheme, else the
 * listener's; no port in the URL when it is the scheme's default.
 */
export function redirectLocation(
  f: HTTPRequestRedirectFilter,
  req: { scheme: string; host: string; path: string; search: string; listenerPort: number },
  matchedPrefix: string | undefined,
): string {
  const scheme = f.scheme ?? req.scheme;
  const host = f.hostname ?? req.host;
  const port = f.port ?? (f.scheme !== undefined ? (defaultPorts[scheme] ?? req.listenerPort) : req.listenerPort);
  const path = f.path ? modifyPath(req.path, f.path, matchedPrefix) : req.path;
  const hostPort = port === defaultPorts[scheme] ? host : `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return `${scheme}://${hostPort}${path}${req.search}`;
}
