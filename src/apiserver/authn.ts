// Who a request is: the bearer token's user. The admin token written into the kubeconfig is
// the cluster's administrator (kubeadm's admin credential: user kubernetes-admin in group
// system:masters); a service account token (a JWT the TokenRequest API issued, signed with the
// data directory's service-account key) is system:serviceaccount:NS:NAME for as long as it has
// not expired and its service account (and the pod or secret it is bound to) still exists.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { peerCertificate, type PeerCertificate } from '../util/pki.ts';
import { privateDir, writePrivate } from '../util/privatefs.ts';
import { tokenMatches } from './certs.ts';

/** authentication.k8s.io/v1 UserInfo, as the authenticator hands it to the authorizer. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export const systemAuthenticated = 'system:authenticated';
export const systemMasters = 'system:masters';

/** The identity of the API server's admin token. */
export const adminUser: UserInfo = { username: 'kubernetes-admin', groups: [systemMasters, systemAuthenticated] };

/** The issuer kubeadm configures (--service-account-issuer), which is also the API audience. */
export const serviceAccountIssuer = 'https://kubernetes.default.svc.cluster.local';
/** The audiences the API server accepts for itself (--api-audiences defaults to the issuer). */
const apiAudiences: readonly string[] = [serviceAccountIssuer];

/** Extra keys the service account authenticator sets (k8s.io/apiserver serviceaccount util). */
export const extraKeys = {
  credentialID: 'authentication.kubernetes.io/credential-id',
  podName: 'authentication.kubernetes.io/pod-name',
  podUID: 'authentication.kubernetes.io/pod-uid',
  nodeName: 'authentication.kubernetes.io/node-name',
  nodeUID: 'authentication.kubernetes.io/node-uid',
};

export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

export function serviceAccountGroups(namespace: string): string[] {
  return ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, systemAuthenticated];
}

/** The kinds a token may be bound to, and the service account itself. */
export type BoundKind = 'ServiceAccount' | 'Pod' | 'Secret' | 'Node';

/** Looks an object up for the authenticator: its uid, or undefined when it does not exist. */
export type Lookup = (kind: BoundKind, namespace: string | undefined, name: string) => { uid: string; deleting?: boolean } | undefined;

export interface BoundRef {
  kind: 'Pod' | 'Secret' | 'Node';
  name: string;
  uid: string;
}

/** The private claim of a service account token (pkg/serviceaccount claims). */
interface KubernetesClaim {
  namespace: string;
  serviceaccount: { name: string; uid: string };
  pod?: { name: string; uid: string };
  secret?: { name: string; uid: string };
  node?: { name: string; uid: string };
}

interface Claims {
  aud: string[];
  exp: number;
  iat: number;
  iss: string;
  jti: string;
  'kubernetes.io': KubernetesClaim;
  nbf: number;
  sub: string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** The data directory's service-account signing key (pki/sa.key), created on first use. */
export function loadOrCreateServiceAccountKey(dataDir: string): KeyObject {
  const dir = path.join(dataDir, 'pki');
  privateDir(dir);
  const file = path.join(dir, 'sa.key');
  if (fs.existsSync(file)) return createPrivateKey(fs.readFileSync(file, 'utf8'));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writePrivate(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  return privateKey;
}

export interface TokenRequestInput {
  namespace: string;
  serviceAccount: { name: string; uid: string };
  audiences: string[];
  expirationSeconds: number;
  bound?: BoundRef;
  now?: Date;
}

export class Authentication {
  private readonly publicKey: KeyObject | undefined;
  private readonly keyID: string;
  /**
   * The claims of tokens whose signature checked out, by token: a component sends the same token
   * with every request, and an ECDSA verification costs more than the rest of a small request.
   * (Expiry and the objects a token names are still checked each time.)
   */
  private readonly verified = new Map<string, Claims>();

  constructor(
    private readonly adminToken: string,
    private readonly signingKey?: KeyObject,
    private readonly lookup?: Lookup,
  ) {
    this.publicKey = signingKey ? createPublicKey(signingKey) : undefined;
    this.keyID = this.publicKey ? b64url(this.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32)) : '';
  }

  /** The user a bearer token stands for, or undefined when it is none of this server's. */
  authenticate(token: string): UserInfo | undefined {
    return this.authenticateFor(token, apiAudiences)?.user;
  }

  /**
   * The user a token stands for among the audiences asked for (a TokenReview's), and which of
   * them it holds. A service account token holds those its aud claim names; the admin token,
   * which names none, holds the API server's own only (upstream's audience-agnostic wrapper).
   */
  authenticateFor(token: string, audiences: readonly string[]): { user: UserInfo; audiences: string[] } | undefined {
    if (tokenMatches(token, this.adminToken)) {
      const held = audiences.filter((a) => apiAudiences.includes(a));
      return held.length ? { user: adminUser, audiences: held } : undefined;
    }
    return this.serviceAccount(token, audiences);
  }

  /** Signs a service account token (TokenRequest) and says when it expires. */
  issue(req: TokenRequestInput): { token: string; expirationTimestamp: Date } {
    if (!this.signingKey) throw new Error('no service account signing key');
    const now = Math.floor((req.now ?? new Date()).getTime() / 1000);
    const k8s: KubernetesClaim = { namespace: req.namespace, serviceaccount: { ...req.serviceAccount } };
    if (req.bound) k8s[req.bound.kind.toLowerCase() as 'pod' | 'secret' | 'node'] = { name: req.bound.name, uid: req.bound.uid };
    const claims: Claims = {
      aud: req.audiences,
      exp: now + req.expirationSeconds,
      iat: now,
      iss: serviceAccountIssuer,
      jti: randomUUID(),
      'kubernetes.io': k8s,
      nbf: now,
      sub: serviceAccountUsername(req.namespace, req.serviceAccount.name),
    };
    const head = b64url(JSON.stringify({ alg: 'ES256', kid: this.keyID }));
    const body = b64url(JSON.stringify(claims));
    const sig = sign('sha256', Buffer.from(`${head}.${body}`), { key: this.signingKey, dsaEncoding: 'ieee-p1363' });
    return { token: `${head}.${body}.${b64url(sig)}`, expirationTimestamp: new Date(claims.exp * 1000) };
  }

  private serviceAccount(token: string, audiences: readonly string[]): { user: UserInfo; audiences: string[] } | undefined {
    if (!this.publicKey || !this.lookup) return undefined;
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [head, body, sig] = parts as [string, string, string];
    let claims = this.verified.get(token);
    if (!claims) {
      try {
        const h = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg?: string };
        if (h.alg !== 'ES256') return undefined;
        if (!verify('sha256', Buffer.from(`${head}.${body}`), { key: this.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'))) return undefined;
        claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Claims;
      } catch {
        return undefined;
      }
      if (this.verified.size >= 4096) this.verified.clear();
      this.verified.set(token, claims);
    }
    const now = Date.now() / 1000;
    if (claims.iss !== serviceAccountIssuer || !Array.isArray(claims.aud)) return undefined;
    const held = audiences.filter((a) => claims!.aud.includes(a));
    if (!held.length) return undefined;
    if (!(claims.exp > now) || claims.nbf > now + 60) return undefined;
    const k8s = claims['kubernetes.io'];
    if (!k8s?.namespace || !k8s.serviceaccount?.name) return undefined;
    // A token outlives nothing it names: the service account, and the object it is bound to.
    const sa = this.lookup('ServiceAccount', k8s.namespace, k8s.serviceaccount.name);
    if (!sa || sa.uid !== k8s.serviceaccount.uid) return undefined;
    const extra: Record<string, string[]> = {};
    for (const kind of ['Pod', 'Secret', 'Node'] as const) {
      const ref = k8s[kind.toLowerCase() as 'pod' | 'secret' | 'node'];
      if (!ref) continue;
      const o = this.lookup(kind, kind === 'Node' ? undefined : k8s.namespace, ref.name);
      if (!o || o.uid !== ref.uid || o.deleting) return undefined;
    }
    if (k8s.pod) {
      extra[extraKeys.podName] = [k8s.pod.name];
      extra[extraKeys.podUID] = [k8s.pod.uid];
    }
    if (k8s.node) {
      extra[extraKeys.nodeName] = [k8s.node.name];
      extra[extraKeys.nodeUID] = [k8s.node.uid];
    }
    if (claims.jti) extra[extraKeys.credentialID] = [`JTI=${claims.jti}`];
    return { user: { username: serviceAccountUsername(k8s.namespace, k8s.serviceaccount.name), uid: k8s.serviceaccount.uid, groups: serviceAccountGroups(k8s.namespace), extra }, audiences: held };
  }
}

/**
 * The x509 authenticator: a client certificate the client CA signed is the user of its CN, in
 * the groups of its O fields (kubeadm's component and node credentials). Unverified ones, and
 * ones with no CN, identify no one.
 */
export function userOfCertificate(peer: PeerCertificate | undefined): UserInfo | undefined {
  if (!peer?.verified || !peer.commonName) return undefined;
  return { username: peer.commonName, groups: [...peer.organizations, systemAuthenticated] };
}

/** The user of a request: its verified client certificate's (x509 comes first, as upstream's union of authenticators has it), else its `Authorization: Bearer` token's, or undefined. */
export function userOfRequest(req: { headers: { authorization?: string | undefined }; socket?: unknown }, authentication: Authentication): UserInfo | undefined {
  const byCert = userOfCertificate(peerCertificate(req.socket));
  if (byCert) return byCert;
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return m ? authentication.authenticate(m[1]!.trim()) : undefined;
}
