// The ingress-nginx annotations podpath's controller understands (nginx.ingress.kubernetes.io/*),
// parsed into one typed configuration per Ingress. A value that does not parse is an error that
// skips the Ingress (the controller records a Warning Event); an annotation under the prefix that
// podpath does not know is ignored, and named so the controller can log it.
import { parseCIDR } from '../util/ip.ts';

export const annotationPrefix = 'nginx.ingress.kubernetes.io/';

export type BackendProtocol = 'HTTP' | 'HTTPS';

export interface IngressConfig {
  rewriteTarget?: string;
  useRegex: boolean;
  /** undefined: on when the host has TLS (ingress-nginx's default) */
  sslRedirect?: boolean;
  forceSslRedirect: boolean;
  preserveTrailingSlash: boolean;
  appRoot?: string;
  backendProtocol: BackendProtocol;
  /** nginx size syntax (client_max_body_size); ingress-nginx's default is 1m */
  proxyBodySize: string;
  /** seconds */
  proxyConnectTimeout: number;
  proxyReadTimeout: number;
  proxySendTimeout: number;
  serviceUpstream: boolean;
  affinity?: { type: 'cookie'; cookieName: string; path?: string; maxAge?: number };
  canary?: { weight: number; weightTotal: number; header?: string; headerValue?: string };
  /** client CIDRs allowed (empty: all) */
  allowSourceRange: string[];
}

export const defaultConfig: IngressConfig = {
  useRegex: false,
  forceSslRedirect: false,
  preserveTrailingSlash: false,
  backendProtocol: 'HTTP',
  proxyBodySize: '1m',
  proxyConnectTimeout: 5,
  proxyReadTimeout: 60,
  proxySendTimeout: 60,
  serviceUpstream: false,
  allowSourceRange: [],
};

export interface ParsedAnnotations {
  config: IngressConfig;
  /** "annotation: why" for each value that does not parse */
  errors: string[];
  /** annotations under the prefix that podpath does not implement */
  ignored: string[];
}

/** Go's strconv.ParseBool, which ingress-nginx uses for its boolean annotations. */
function parseBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

const sizePattern = /^\d+[kKmMgG]?$/;
// nginx's variables and capture references are what a rewrite target may carry; quotes and
// braces would end the directive nginx.conf writes them into.
const safeTarget = /^[A-Za-z0-9/$._~:@!*+,=%?&-]+$/;
// app-root goes into a `return 302` after $http_host: no variables there
const safePath = /^\/[A-Za-z0-9/._~:@!*+,=%?&-]*$/;

type Parser = (v: string, c: IngressConfig) => string | undefined;

const bool =
  (set: (c: IngressConfig, b: boolean) => void): Parser =>
  (v, c) => {
    const b = parseBool(v);
    if (b === undefined) return `"${v}" is not a boolean`;
    set(c, b);
    return undefined;
  };

const seconds =
  (set: (c: IngressConfig, n: number) => void): Parser =>
  (v, c) => {
    if (!/^\d+$/.test(v) || Number(v) > 86400) return `"${v}" is not a number of seconds`;
    set(c, Number(v));
    return undefined;
  };

const cidrs: Parser = (v, c) => {
  const withPrefix = (s: string) => (s.includes('/') ? s : s.includes(':') ? `${s}/128` : `${s}/32`);
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of list) {
    const cidr = withPrefix(s);
    if (!parseCIDR(cidr)) return `"${s}" is not an IP address or CIDR`;
  }
  c.allowSourceRange = list.map(withPrefix);
  return undefined;
};

/** Annotations that shape a canary are read together after the rest (see canaryConfig). */
const canaryKeys = ['canary', 'canary-weight', 'canary-weight-total', 'canary-by-header', 'canary-by-header-value'];
const affinityKeys = ['affinity', 'session-cookie-name', 'session-cookie-path', 'session-cookie-max-age'];

const parsers: Record<string, Parser> = {
  'rewrite-target': (v, c) => {
    if (!safeTarget.test(v)) return `"${v}" has characters a rewrite target cannot hold`;
    c.rewriteTarget = v;
    return undefined;
  },
  'use-regex': bool((c, b) => (c.useRegex = b)),
  'ssl-redirect': bool((c, b) => (c.sslRedirect = b)),
  'force-ssl-redirect': bool((c, b) => (c.forceSslRedirect = b)),
  'preserve-trailing-slash': bool((c, b) => (c.preserveTrailingSlash = b)),
  'app-root': (v, c) => {
    if (!safePath.test(v)) return `"${v}" is not an absolute path`;
    c.appRoot = v;
    return undefined;
  },
  'backend-protocol': (v, c) => {
    const p = v.toUpperCase();
    if (p !== 'HTTP' && p !== 'HTTPS') return `"${v}" is not supported (HTTP or HTTPS)`;
    c.backendProtocol = p;
    return undefined;
  },
  'proxy-body-size': (v, c) => {
    if (!sizePattern.test(v)) return `"${v}" is not a size (a number with an optional k, m or g)`;
    c.proxyBodySize = v;
    return undefined;
  },
  'proxy-connect-timeout': seconds((c, n) => (c.proxyConnectTimeout = n)),
  'proxy-read-timeout': seconds((c, n) => (c.proxyReadTimeout = n)),
  'proxy-send-timeout': seconds((c, n) => (c.proxySendTimeout = n)),
  'service-upstream': bool((c, b) => (c.serviceUpstream = b)),
  'whitelist-source-range': cidrs,
  'allowlist-source-range': cidrs,
};

const cookieName = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

function affinityConfig(a: Record<string, string>, c: IngressConfig, errors: string[]): void {
  const type = a[`${annotationPrefix}affinity`];
  if (type === undefined) return;
  if (type !== 'cookie') {
    errors.push(`${annotationPrefix}affinity: "${type}" is not supported (cookie)`);
    return;
  }
  const name = a[`${annotationPrefix}session-cookie-name`] ?? 'INGRESSCOOKIE';
  if (!cookieName.test(name)) errors.push(`${annotationPrefix}session-cookie-name: "${name}" is not a cookie name`);
  const path = a[`${annotationPrefix}session-cookie-path`];
  if (path !== undefined && !safePath.test(path)) errors.push(`${annotationPrefix}session-cookie-path: "${path}" is not an absolute path`);
  const maxAge = a[`${annotationPrefix}session-cookie-max-age`];
  if (maxAge !== undefined && !/^\d+$/.test(maxAge)) errors.push(`${annotationPrefix}session-cookie-max-age: "${maxAge}" is not a number of seconds`);
  c.affinity = { type: 'cookie', cookieName: name, ...(path ? { path } : {}), ...(maxAge ? { maxAge: Number(maxAge) } : {}) };
}

function canaryConfig(a: Record<string, string>, c: IngressConfig, errors: string[]): void {
  const on = a[`${annotationPrefix}canary`];
  if (on === undefined) return;
  const b = parseBool(on);
  if (b === undefined) {
    errors.push(`${annotationPrefix}canary: "${on}" is not a boolean`);
    return;
  }
  if (!b) return;
  const int = (key: string, dflt: number, max: number) => {
    const v = a[`${annotationPrefix}${key}`];
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) > max) {
      errors.push(`${annotationPrefix}${key}: "${v}" is not a whole number from 0 to ${max}`);
      return dflt;
    }
    return Number(v);
  };
  const weightTotal = int('canary-weight-total', 100, 1_000_000) || 100;
  const weight = int('canary-weight', 0, weightTotal);
  const header = a[`${annotationPrefix}canary-by-header`];
  if (header !== undefined && !cookieName.test(header)) errors.push(`${annotationPrefix}canary-by-header: "${header}" is not a header name`);
  const headerValue = a[`${annotationPrefix}canary-by-header-value`];
  if (headerValue !== undefined && !/^[\x20-\x7e]*$/.test(headerValue)) errors.push(`${annotationPrefix}canary-by-header-value: "${headerValue}" is not printable ASCII`);
  c.canary = { weight, weightTotal, ...(header ? { header } : {}), ...(header && headerValue !== undefined ? { headerValue } : {}) };
}

/** The Ingress's ingress-nginx annotations as one configuration; errors and ignored names beside it. */
export function parseAnnotations(annotations: Record<string, string> | undefined): ParsedAnnotations {
  const a = annotations ?? {};
  const config: IngressConfig = { ...defaultConfig, allowSourceRange: [] };
  const errors: string[] = [];
  const ignored: string[] = [];
  for (const [k, v] of Object.entries(a)) {
    if (!k.startsWith(annotationPrefix)) continue;
    const name = k.slice(annotationPrefix.length);
    if (canaryKeys.includes(name) || affinityKeys.includes(name)) continue;
    const p = parsers[name];
    if (!p) {
      ignored.push(k);
      continue;
    }
    const err = p(v.trim(), config);
    if (err) errors.push(`${k}: ${err}`);
  }
  affinityConfig(a, config, errors);
  canaryConfig(a, config, errors);
  return { config, errors, ignored };
}
