// How the API server dials node agents (kube-apiserver's --kubelet-client-certificate,
// --kubelet-client-key and --kubelet-certificate-authority): TLS with its client certificate,
// the agent's serving certificate verified against the CA when one is given (without it,
// as upstream, not verified).
import fs from 'node:fs';
import type tls from 'node:tls';

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

/** The TLS options of a connection to an agent. */
export function kubeletTLS(c: KubeletClientConfig): tls.ConnectionOptions {
  return { ...(c.cert && c.key ? { cert: c.cert, key: c.key } : {}), ...(c.ca ? { ca: c.ca } : {}), rejectUnauthorized: Boolean(c.ca) };
}
