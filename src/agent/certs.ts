// The node agent's serving certificate, as the kubelet finds it: the files given
// (--tls-cert-file, --tls-private-key-file), else a self-signed one kept in the state directory
// (pki/kubelet.crt and kubelet.key, for the node's name and address) — and the client CA bundle
// that client certificates are verified against (--client-ca-file).
import fs from 'node:fs';
import path from 'node:path';
import { issueLeaf, makeCA, sansOf } from '../util/pki.ts';
import { privateDir, writePrivate } from '../util/privatefs.ts';

export interface ServingOptions {
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  clientCAFile?: string;
  stateDir: string;
  nodeName: string;
  nodeIP: string;
}

export interface AgentTLS {
  cert: string;
  key: string;
  /** the CA bundle client certificates must chain to; without it no client certificate is asked for */
  clientCA?: string;
}

function read(file: string, flag: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${flag} ${file}: ${(e as Error).message}`);
  }
}

/** The serving material and client CA; the self-signed certificate is made again when the node's names changed. */
export async function loadAgentTLS(o: ServingOptions): Promise<AgentTLS> {
  if (Boolean(o.tlsCertFile) !== Boolean(o.tlsPrivateKeyFile)) throw new Error('--tls-cert-file and --tls-private-key-file go together');
  const clientCA = o.clientCAFile ? read(o.clientCAFile, '--client-ca-file') : undefined;
  const ca = clientCA !== undefined ? { clientCA } : {};
  if (o.tlsCertFile && o.tlsPrivateKeyFile) return { cert: read(o.tlsCertFile, '--tls-cert-file'), key: read(o.tlsPrivateKeyFile, '--tls-private-key-file'), ...ca };
  const dir = path.join(o.stateDir, 'pki');
  privateDir(dir);
  const certFile = path.join(dir, 'kubelet.crt');
  const keyFile = path.join(dir, 'kubelet.key');
  const want = [o.nodeName, o.nodeIP].sort();
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    const cert = fs.readFileSync(certFile, 'utf8');
    if (JSON.stringify(sansOf(cert)) === JSON.stringify(want)) return { cert, key: fs.readFileSync(keyFile, 'utf8'), ...ca };
  }
  // As the kubelet's GenerateSelfSignedCertKey: a CA of its own (HOST-ca@TIME) signing the leaf; the file holds both.
  const now = new Date(Date.now() - 60_000);
  const notAfter = new Date(now.getTime() + 365 * 24 * 3600 * 1000);
  const self = await makeCA(`CN=${o.nodeName}-ca@${Math.floor(Date.now() / 1000)}`, now, notAfter);
  const leaf = await issueLeaf(self, { subject: `CN=${o.nodeName}@${Math.floor(Date.now() / 1000)}`, dns: [o.nodeName], ips: [o.nodeIP], notBefore: now, notAfter });
  writePrivate(certFile, leaf.cert + self.certPem);
  writePrivate(keyFile, leaf.key);
  return { cert: leaf.cert + self.certPem, key: leaf.key, ...ca };
}
