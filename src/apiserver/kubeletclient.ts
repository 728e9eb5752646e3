// How the API server dials node agents (kube-apiserver's --kubelet-client-certificate,
// --kubelet-client-key and --kubelet-certificate-authority): TLS with its client certificate,
// the agent's serving certificate verified against the CA when one is given (without it,
// as upstream, not verified).
import fs from 'node:fs';
import { isIP } from 'node:net';
import tls from 'node:tls';

/** PEM material, read once at start. */
export interface KubeletClientConfig {
  cert?: string;
  key?: string;
  ca?: string;
}

export interface KubeletClientFiles {
  kubeletClientCertificate?: string;
  kubeletClientKey?: string;
  kubeletCertificateAuthority?: string;
}

function read(file: string, flag: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`--${flag} ${file}: ${(e as Error).message}`);
  }
}

export function loadKubeletClient(f: KubeletClientFiles): KubeletClientConfig {
  if (Boolean(f.kubeletClientCertificate) !== Boolean(f.kubeletClientKey)) throw new Error('--kubelet-client-certificate and --kubelet-client-key go together');
  const c: KubeletClientConfig = {};
  if (f.kubeletClientCertificate) c.cert = read(f.kubeletClientCertificate, 'kubelet-client-certificate');
  if (f.kubeletClientKey) c.key = read(f.kubeletClientKey, 'kubelet-client-key');
  if (f.kubeletCertificateAuthority) c.ca = read(f.kubeletCertificateAuthority, 'kubelet-certificate-authority');
  return c;
}

const contexts = new WeakMap<KubeletClientConfig, tls.SecureContext>();
/** the last TLS session ticket each agent (host:port) gave, per configuration */
const sessions = new WeakMap<KubeletClientConfig, Map<string, Buffer>>();
/** agents remembered at most (the oldest is forgotten first) */
const maxSessions = 1024;

/**
 * The TLS options of a connection to an agent. The certificate, key and CA are parsed into one
 * secure context per configuration, once: given as PEM on each connection they were parsed
 * again every time, which cost tens of milliseconds per exec, log or metrics request. With the
 * agent's address, the session it last gave is offered for resumption (see keepSession).
 */
export function kubeletTLS(c: KubeletClientConfig, host?: string, port?: number): tls.ConnectionOptions {
  let secureContext = contexts.get(c);
  if (!secureContext) {
    secureContext = tls.createSecureContext({ ...(c.cert && c.key ? { cert: c.cert, key: c.key } : {}), ...(c.ca ? { ca: c.ca } : {}) });
    contexts.set(c, secureContext);
  }
  const session = host === undefined ? undefined : sessions.get(c)?.get(`${host}:${port}`);
  return { secureContext, rejectUnauthorized: Boolean(c.ca), ...(session ? { session } : {}) };
}

/**
 * Keeps the session tickets an agent sends on `socket`, so that the next connection to it
 * resumes the session: no certificates sent or verified again and no signatures, a round of the
 * handshake fewer on both sides. The agent still knows the client certificate of a resumed
 * session; a ticket it no longer accepts (restarted, new keys) falls back to a full handshake.
 */
export function keepSession(c: KubeletClientConfig, host: string, port: number, socket: tls.TLSSocket): void {
  socket.on('session', (ticket: Buffer) => {
    let m = sessions.get(c);
    if (!m) sessions.set(c, (m = new Map()));
    const key = `${host}:${port}`;
    m.delete(key);
    m.set(key, ticket);
    if (m.size > maxSessions) m.delete(m.keys().next().value!);
  });
}

/** Node's certificate verification codes that Go reports as an unknown authority. */
const unknownAuthority = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT']);

/** Go's text for an agent whose serving certificate fails verification; undefined for other errors. */
export function tlsVerifyError(e: NodeJS.ErrnoException & { cert?: { subjectaltname?: string } }, host: string): string | undefined {
  const prefix = 'tls: failed to verify certificate: x509: ';
  if (e.code && unknownAuthority.has(e.code)) return `${prefix}certificate signed by unknown authority`;
  if (e.code === 'CERT_HAS_EXPIRED' || e.code === 'CERT_NOT_YET_VALID') return `${prefix}certificate has expired or is not yet valid`;
  if (e.code !== 'ERR_TLS_CERT_ALTNAME_INVALID') return undefined;
  // Go's HostnameError: the certificate's IP SANs for an IP, its DNS names otherwise.
  const sans = (e.cert?.subjectaltname ?? '').split(', ').filter(Boolean);
  const ip = isIP(host) !== 0;
  const valid = sans.filter((x) => x.startsWith(ip ? 'IP Address:' : 'DNS:')).map((x) => x.slice(x.indexOf(':') + 1));
  if (ip && valid.length === 0) return `${prefix}cannot validate certificate for ${host} because it doesn't contain any IP SANs`;
  if (valid.length === 0) return `${prefix}certificate is not valid for any names, but wanted to match ${host}`;
  return `${prefix}certificate is valid for ${valid.join(', ')}, not ${host}`;
}
