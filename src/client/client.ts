// A small Kubernetes API client for podpath's components: kubeconfig or in-cluster
// configuration, JSON requests, and watch streams. Works against podpath's API server and any
// real cluster.
import fs from 'node:fs';
import { isIP } from 'node:net';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ApiError, type Status } from '../api/errors.ts';
import { serviceAccountMountPath } from '../util/mounts.ts';
import type { KubeObject } from '../api/types.ts';

export interface ClientConfig {
  server: string;
  ca?: string;
  token?: string;
  /**
   * A file the token is read from instead, again at most once a minute and after a 401
   * (client-go's BearerTokenFile), so a token the kubelet rotates in a pod's volume is picked up.
   */
  tokenFile?: string;
  /** Told when the server answers 401, so the token's source can renew it (client-go resets its cached token then). */
  onUnauthorized?: () => void;
  cert?: string;
  key?: string;
  insecure?: boolean;
  userAgent?: string;
}

/** A file a kubeconfig names, relative to the kubeconfig's directory. */
function readFile(file: string, base: string): string {
  return fs.readFileSync(path.resolve(base, file), 'utf8');
}

function readMaybe(data: string | undefined, file: string | undefined, base: string): string | undefined {
  if (data) return Buffer.from(data, 'base64').toString();
  if (file) return readFile(file, base);
  return undefined;
}

/**
 * Loads a kubeconfig (its current context), or the in-cluster service account config: with no
 * kubeconfig named, in a pod (KUBERNETES_SERVICE_HOST and a service account token) that comes
 * first, as client-go's in-cluster fallback; elsewhere $KUBECONFIG, then ~/.kube/config.
 */
export function loadConfig(kubeconfig?: string, userAgent = 'podpath'): ClientConfig {
  const sa = serviceAccountMountPath;
  const inPod = Boolean(process.env.KUBERNETES_SERVICE_HOST) && fs.existsSync(`${sa}/token`);
  const file = kubeconfig ?? process.env.KUBECONFIG?.split(':')[0] ?? path.join(os.homedir(), '.kube/config');
  if (!kubeconfig && process.env.KUBERNETES_SERVICE_HOST && (inPod ? !process.env.KUBECONFIG : !fs.existsSync(file))) {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    return {
      server: `https://${host.includes(':') ? `[${host}]` : host}:${process.env.KUBERNETES_SERVICE_PORT ?? '443'}`,
      ca: fs.readFileSync(`${sa}/ca.crt`, 'utf8'),
      token: fs.readFileSync(`${sa}/token`, 'utf8').trim(),
      tokenFile: `${sa}/token`,
      userAgent,
    };
  }
  const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as {
    'current-context'?: string;
    contexts?: { name: string; context: { cluster: string; user: string } }[];
    clusters?: { name: string; cluster: Record<string, unknown> }[];
    users?: { name: string; user: Record<string, unknown> }[];
  };
  const ctx = doc.contexts?.find((c) => c.name === doc['current-context']) ?? doc.contexts?.[0];
  if (!ctx) throw new Error(`${file}: no context`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.context.cluster)?.cluster ?? {};
  const user = doc.users?.find((u) => u.name === ctx.context.user)?.user ?? {};
  const base = path.dirname(file);
  const cfg: ClientConfig = { server: String(cluster.server), userAgent };
  const ca = readMaybe(cluster['certificate-authority-data'] as string | undefined, cluster['certificate-authority'] as string | undefined, base);
  if (ca) cfg.ca = ca;
  if (cluster['insecure-skip-tls-verify']) cfg.insecure = true;
  if (typeof user.token === 'string') cfg.token = user.token;
  else if (typeof user.tokenFile === 'string') {
    cfg.tokenFile = path.resolve(base, user.tokenFile);
    cfg.token = readFile(user.tokenFile, base).trim();
  }
  const cert = readMaybe(user['client-certificate-data'] as string | undefined, user['client-certificate'] as string | undefined, base);
  const key = readMaybe(user['client-key-data'] as string | undefined, user['client-key'] as string | undefined, base);
  if (cert) cfg.cert = cert;
  if (key) cfg.key = key;
  return cfg;
}

export interface WatchEvent<T = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** How long a token read from a file is used before the file is read again (client-go's cachingTokenSource). */
const tokenFileCacheMs = 60_000;

export class Client {
  private readonly agent: https.Agent;
  private readonly url: URL;
  private tokenReadAt = Date.now();

  constructor(readonly cfg: ClientConfig) {
    this.url = new URL(cfg.server);
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: 32,
      ...(cfg.ca ? { ca: cfg.ca } : {}),
      ...(cfg.cert ? { cert: cfg.cert } : {}),
      ...(cfg.key ? { key: cfg.key } : {}),
      rejectUnauthorized: !cfg.insecure,
    });
  }

  private options(method: string, p: string, headers: Record<string, string>): https.RequestOptions {
    const h: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.cfg.userAgent ?? 'podpath', ...headers };
    const token = this.token();
    if (token) h.Authorization = `Bearer ${token}`;
    return { host: this.url.hostname.replace(/^\[|\]$/g, ''), port: this.url.port || 443, method, path: p, agent: this.agent, headers: h, servername: isIP(this.url.hostname.replace(/^\[|\]$/g, '')) ? undefined : this.url.hostname };
  }

  /** The token to send: the configured one, or the token file's, read again once it is a minute old (a failed read keeps the last). */
  private token(): string | undefined {
    const file = this.cfg.tokenFile;
    if (file && Date.now() - this.tokenReadAt >= tokenFileCacheMs) {
      this.tokenReadAt = Date.now();
      try {
        this.cfg.token = fs.readFileSync(file, 'utf8').trim();
      } catch {
        // the last token read stays in use, as client-go's cached source keeps it
      }
    }
    return this.cfg.token;
  }

  /** A 401: the token file is read again on the next request, and the token's source is told. */
  private unauthorized(): void {
    this.tokenReadAt = 0;
    this.cfg.onUnauthorized?.();
  }

  /** One request; non-2xx answers throw ApiError carrying the server's Status. */
  request<T = KubeObject>(method: string, p: string, body?: unknown, contentType = 'application/json', timeoutMs = 30_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const req = https.request(this.options(method, p, payload !== undefined ? { 'Content-Type': contentType } : {}), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) {
            try {
              resolve((text ? JSON.parse(text) : {}) as T);
            } catch (e) {
              reject(e);
            }
            return;
          }
          if (code === 401) this.unauthorized();
          let st: Status | undefined;
          try {
            st = JSON.parse(text) as Status;
          } catch {
            // not a Status
          }
          reject(new ApiError(code, (st?.reason ?? '') as never, st?.message ?? `${method} ${p}: HTTP ${code}`, st?.details));
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${p}: timed out`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  get<T = KubeObject>(p: string): Promise<T> {
    return this.request<T>('GET', p);
  }

  /** Streams watch events until the server ends the stream, the callback throws, or stop(). */
  watch(p: string, onEvent: (ev: WatchEvent) => void, onEnd: (err?: Error) => void): () => void {
    let buf = '';
    let ended = false;
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    const req = https.request(this.options('GET', p, {}), (res) => {
      if ((res.statusCode ?? 0) >= 300) {
        if (res.statusCode === 401) this.unauthorized();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => end(new ApiError(res.statusCode ?? 0, '', Buffer.concat(chunks).toString())));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          try {
            onEvent(JSON.parse(line) as WatchEvent);
          } catch (e) {
            req.destroy();
            end(e as Error);
            return;
          }
        }
      });
      res.on('end', () => end());
      res.on('error', (e) => end(e));
    });
    req.on('error', (e) => end(e));
    req.end();
    return () => {
      ended = true;
      req.destroy();
    };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The REST path of a collection (namespace may be undefined for cluster scope or all namespaces). */
export function collectionPath(apiVersion: string, resource: string, namespace?: string): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return namespace ? `${base}/namespaces/${namespace}/${resource}` : `${base}/${resource}`;
}

export function objectPath(apiVersion: string, resource: string, namespace: string | undefined, name: string, sub?: string): string {
  return `${collectionPath(apiVersion, resource, namespace)}/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`;
}
