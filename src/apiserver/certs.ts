// The API server's own certificate authority, serving certificate and bearer token, kept
// in the data directory so a restarted server is still trusted by the kubeconfigs it wrote.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseIP } from '../util/ip.ts';
import { issueLeaf, makeCA, parseCA, sansOf, type CA } from '../util/pki.ts';
import { privateDir, writePrivate } from '../util/privatefs.ts';
import { ClusterIPAllocator } from './allocators.ts';

export interface ServingMaterial {
  caCert: string;
  cert: string;
  key: string;
  token: string;
}

/**
 * The names the serving certificate covers: 127.0.0.1, the `kubernetes` Service's ClusterIP (the
 * first of the service CIDR), the address listened on and the advertised one, kube-apiserver's
 * DNS names, and any extra.
 */
export function servingSANs(o: { listenHost: string; serviceCIDR: string; advertiseAddress?: string; extraSANs?: string[] }): { ips: string[]; dns: string[] } {
  const ips = new Set<string>(['127.0.0.1', new ClusterIPAllocator(o.serviceCIDR).first()]);
  if (o.listenHost && o.listenHost !== '0.0.0.0' && o.listenHost !== '::' && parseIP(o.listenHost)) ips.add(o.listenHost);
  if (o.advertiseAddress) ips.add(o.advertiseAddress);
  const dns = new Set(['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local']);
  for (const s of o.extraSANs ?? []) (parseIP(s) ? ips : dns).add(s);
  return { ips: [...ips], dns: [...dns] };
}

/** The CA kept in the data directory, or undefined when it is missing or unreadable. */
async function loadCA(certPem: string, keyPem: string): Promise<CA | undefined> {
  try {
    return await parseCA(certPem, keyPem);
  } catch {
    return undefined;
  }
}

/**
 * Loads the data directory's CA, serving certificate and token, creating them on first use
 * and re-issuing the serving certificate when the addresses it must cover changed.
 */
export async function loadOrCreateServing(dataDir: string, sans: { ips: string[]; dns: string[] }): Promise<ServingMaterial> {
  const dir = path.join(dataDir, 'pki');
  privateDir(dir);
  const f = (n: string) => path.join(dir, n);
  const write = (n: string, s: string) => writePrivate(f(n), s);
  // Files written before (by an older release, or by hand) are narrowed too.
  for (const n of ['token', 'ca.crt', 'ca.key', 'server.crt', 'server.key']) if (fs.existsSync(f(n))) fs.chmodSync(f(n), 0o600);
  let token: string;
  if (fs.existsSync(f('token'))) token = fs.readFileSync(f('token'), 'utf8').trim();
  else {
    token = randomBytes(32).toString('hex');
    write('token', token + '\n');
  }
  const want = [...sans.ips, ...sans.dns].sort();
  if (fs.existsSync(f('ca.crt')) && fs.existsSync(f('server.crt')) && fs.existsSync(f('server.key'))) {
    const cert = fs.readFileSync(f('server.crt'), 'utf8');
    if (JSON.stringify(sansOf(cert)) === JSON.stringify(want)) {
      return { caCert: fs.readFileSync(f('ca.crt'), 'utf8'), cert, key: fs.readFileSync(f('server.key'), 'utf8'), token };
    }
  }
  const now = new Date(Date.now() - 60_000);
  const notAfter = new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000);
  // The CA outlives address changes: the kubeconfigs it signed for stay valid, and only the
  // serving certificate is issued again.
  let ca = fs.existsSync(f('ca.crt')) && fs.existsSync(f('ca.key')) ? await loadCA(fs.readFileSync(f('ca.crt'), 'utf8'), fs.readFileSync(f('ca.key'), 'utf8')) : undefined;
  if (!ca) {
    ca = await makeCA('CN=podpath-ca', now, notAfter);
    write('ca.crt', ca.certPem);
    write('ca.key', ca.keyPem);
  }
  const serving = await issueLeaf(ca, { subject: 'CN=kube-apiserver', ...sans, notBefore: now, notAfter });
  write('server.crt', serving.cert);
  write('server.key', serving.key);
  return { caCert: ca.certPem, cert: serving.cert, key: serving.key, token };
}

/** Constant-time comparison of a presented bearer token. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
