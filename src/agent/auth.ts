// Who may use the node agent's server, decided as the kubelet decides it with the settings kubeadm
// gives it (--anonymous-auth=false, webhook authentication and authorization): a client
// certificate the client CA signed is its CN in the groups of its O; otherwise a bearer token is
// whoever the API server's TokenReview says; no one else gets in (401 "Unauthorized"). The user
// is then asked about through a SubjectAccessReview on the node: resource nodes, subresource
// stats, metrics or log for those paths and proxy for every other (exec, attach, port-forward,
// containerLogs) — refused with 403 "Forbidden (user=…, verb=…, resource=…, subresource=…)".
// Answers are cached for as long as the kubelet's defaults keep them.

/** authentication.k8s.io/v1 UserInfo, as a TokenReview answers it and a SubjectAccessReview asks with it. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** The kubelet's nodeAuthorizerAttributesGetter result: a resource request on this Node. */
export interface NodeAttributes {
  verb: string;
  resource: 'nodes';
  subresource: string;
  name: string;
  apiVersion: 'v1';
  path: string;
}

/** Whether `subpath` is `path` or below it (a trailing slash of `path` ignored), as auth.go's isSubpath. */
export function isSubpath(subpath: string, path: string): boolean {
  const p = path.endsWith('/') ? path.slice(0, -1) : path;
  return subpath === p || (subpath.startsWith(p) && subpath[p.length] === '/');
}

const verbs: Record<string, string> = { POST: 'create', GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** The attributes a request to the node's server is authorized with (pkg/kubelet/server/auth.go). */
export function nodeRequestAttributes(nodeName: string, method: string, path: string): NodeAttributes {
  let subresource = 'proxy';
  if (isSubpath(path, '/stats/')) subresource = 'stats';
  else if (isSubpath(path, '/metrics')) subresource = 'metrics';
  // "log" to match the other log subresources (pods/log)
  else if (isSubpath(path, '/logs/')) subresource = 'log';
  return { verb: verbs[method] ?? '', resource: 'nodes', subresource, name: nodeName, apiVersion: 'v1', path };
}

/** The kubelet's 403 text. */
export function forbiddenText(user: UserInfo, a: NodeAttributes): string {
  return `Forbidden (user=${user.username}, verb=${a.verb}, resource=${a.resource}, subresource=${a.subresource})`;
}

/** What a request presents: the TLS peer's certificate (when it sent one) and its Authorization header. */
export interface Credentials {
  /** the client certificate; `verified` when it chains to the client CA */
  peer?: { verified: boolean; commonName?: string; organizations: string[] };
  authorization?: string;
}

/** The API server's reviews, asked by the agent (webhook.ts makes the real ones). */
export interface Reviews {
  /** the user a bearer token is, or undefined when the TokenReview does not authenticate it */
  tokenReview(token: string): Promise<UserInfo | undefined>;
  /** whether the SubjectAccessReview allows `user` the attributes */
  subjectAccessReview(user: UserInfo, a: NodeAttributes): Promise<boolean>;
}

const systemAuthenticated = 'system:authenticated';

/** The bearer token of an Authorization header (bearertoken.Authenticator): undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  const parts = (header ?? '').trim().split(/\s+/);
  if (parts.length < 2 || parts[0]!.toLowerCase() !== 'bearer' || !parts[1]) return undefined;
  return parts[1];
}

/**
 * The authentication decision: a verified client certificate with a CN wins; otherwise the bearer
 * token's TokenReview; undefined (401) for anything else — an unverified certificate, no
 * credentials, a token the API server does not know.
 */
export async function authenticate(c: Credentials, tokenReview: (token: string) => Promise<UserInfo | undefined>): Promise<UserInfo | undefined> {
  if (c.peer?.verified && c.peer.commonName) {
    return { username: c.peer.commonName, groups: [...c.peer.organizations, systemAuthenticated] };
  }
  const token = bearerToken(c.authorization);
  if (token === undefined) return undefined;
  const user = await tokenReview(token);
  if (!user) return undefined;
  return user.groups.includes(systemAuthenticated) ? user : { ...user, groups: [...user.groups, systemAuthenticated] };
}

/** A map whose entries are forgotten after their own time to live. */
class TTLCache<V> {
  private readonly m = new Map<string, { v: V; until: number }>();
  constructor(private readonly now: () => number) {}
  get(k: string): V | undefined {
    const e = this.m.get(k);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.m.delete(k);
      return undefined;
    }
    return e.v;
  }
  set(k: string, v: V, ttlMs: number): void {
    // bounded: stale entries are dropped when it grows
    if (this.m.size > 1000) for (const [key, e] of this.m) if (e.until <= this.now()) this.m.delete(key);
    this.m.set(k, { v, until: this.now() + ttlMs });
  }
}

/** The kubelet's webhook cache times: authentication 2m, authorized 5m, unauthorized 30s. */
export const cacheTTL = { authenticationMs: 120_000, authorizedMs: 300_000, unauthorizedMs: 30_000 };

export type AuthDecision = { allowed: true; user: UserInfo } | { allowed: false; code: 401 | 403 | 500; text: string };

/** The kubelet's auth filter, for the node's server. */
export class AgentAuth {
  private readonly tokens: TTLCache<UserInfo | null>;
  private readonly decisions: TTLCache<boolean>;

  constructor(
    private readonly nodeName: string,
    private readonly reviews: Reviews,
    private readonly log: (s: string) => void,
    now: () => number = Date.now,
  ) {
    this.tokens = new TTLCache(now);
    this.decisions = new TTLCache(now);
  }

  /** Authenticates and authorizes a request to `path` with `method`. */
  async check(c: Credentials, method: string, path: string): Promise<AuthDecision> {
    let user: UserInfo | undefined;
    try {
      user = await authenticate(c, (t) => this.tokenReview(t));
    } catch (e) {
      this.log(`unable to authenticate the request due to an error: ${(e as Error).message}`);
      return { allowed: false, code: 401, text: 'Unauthorized' };
    }
    if (!user) return { allowed: false, code: 401, text: 'Unauthorized' };
    const a = nodeRequestAttributes(this.nodeName, method, path);
    try {
      if (await this.authorize(user, a)) return { allowed: true, user };
    } catch (e) {
      this.log(`authorization error: ${(e as Error).message}`);
      return { allowed: false, code: 500, text: `Authorization error (user=${user.username}, verb=${a.verb}, resource=${a.resource}, subresource=${a.subresource})` };
    }
    return { allowed: false, code: 403, text: forbiddenText(user, a) };
  }

  private async tokenReview(token: string): Promise<UserInfo | undefined> {
    const cached = this.tokens.get(token);
    if (cached !== undefined) return cached ?? undefined;
    const user = await this.reviews.tokenReview(token);
    this.tokens.set(token, user ?? null, cacheTTL.authenticationMs);
    return user;
  }

  private async authorize(user: UserInfo, a: NodeAttributes): Promise<boolean> {
    const key = JSON.stringify([user.username, user.uid, user.groups, user.extra, a.verb, a.subresource]);
    const cached = this.decisions.get(key);
    if (cached !== undefined) return cached;
    const allowed = await this.reviews.subjectAccessReview(user, a);
    this.decisions.set(key, allowed, allowed ? cacheTTL.authorizedMs : cacheTTL.unauthorizedMs);
    return allowed;
  }
}
