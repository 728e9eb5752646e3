// The API server's own certificate authority, serving certificate and bearer token, kept
// in the data directory so a restarted server is still trusted by the kubeconfigs it wrote.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { privateDir, writePrivate } from '../util/privatefs.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface ServingMaterial {
  caCert: string;
  cert: string;
  key: string;
  token: string;
}

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

function pemKey(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64.trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

interface CA {
  cert: x509.X509Certificate;
  key: CryptoKey;
  certPem: string;
  keyPem: string;
}

async function makeCA(now: Date, notAfter: Date): Promise<CA> {
  const caKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=podpath-ca',
    notBefore: now,
    notAfter,
    signingAlgorithm: alg,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  return { cert: ca, key: caKeys.privateKey, certPem: ca.toString('pem') + '\n', keyPem: pemKey(await webcrypto.subtle.exportKey('pkcs8', caKeys.privateKey)) };
}

/** The CA kept in the data directory, or undefined when it is missing or unreadable. */
async function loadCA(certPem: string, keyPem: string): Promise<CA | undefined> {
  try {
    const der = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
    return { cert: new x509.X509Certificate(certPem), key, certPem, keyPem };
  } catch {
    return undefined;
  }
}

/** A serving certificate for `sans`, signed by `ca`. */
async function issueServing(ca: CA, sans: { ips: string[]; dns: string[] }, now: Date, notAfter: Date): Promise<{ cert: string; key: string }> {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=kube-apiserver',
    issuer: ca.cert.subject,
    notBefore: now,
    notAfter,
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([...sans.ips.map((ip) => ({ type: 'ip' as const, value: ip })), ...sans.dns.map((d) => ({ type: 'dns' as const, value: d }))]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) };
}

function sansOf(certPem: string): string[] {
  try {
    const c = new x509.X509Certificate(certPem);
    const ext = c.getExtension(x509.SubjectAlternativeNameExtension);
    return (ext?.names.items ?? []).map((n) => n.value).sort();
  } catch {
    return [];
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
    ca = await makeCA(now, notAfter);
    write('ca.crt', ca.certPem);
    write('ca.key', ca.keyPem);
  }
  const serving = await issueServing(ca, sans, now, notAfter);
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
