// The API server's own certificate authority, serving certificate and bearer token, kept
// in the data directory so a restarted server is still trusted by the kubeconfigs it wrote.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

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

async function makeMaterial(sans: { ips: string[]; dns: string[] }): Promise<Omit<ServingMaterial, 'token'> & { caKey: string }> {
  const now = new Date(Date.now() - 60_000);
  const notAfter = new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000);
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
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=kube-apiserver',
    issuer: ca.subject,
    notBefore: now,
    notAfter,
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([...sans.ips.map((ip) => ({ type: 'ip' as const, value: ip })), ...sans.dns.map((d) => ({ type: 'dns' as const, value: d }))]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  return {
    caCert: ca.toString('pem') + '\n',
    caKey: pemKey(await webcrypto.subtle.exportKey('pkcs8', caKeys.privateKey)),
    cert: cert.toString('pem') + '\n',
    key: pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
  };
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
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (n: string) => path.join(dir, n);
  const write = (n: string, s: string) => fs.writeFileSync(f(n), s, { mode: 0o600 });
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
  const m = await makeMaterial(sans);
  write('ca.crt', m.caCert);
  write('ca.key', m.caKey);
  write('server.crt', m.cert);
  write('server.key', m.key);
  return { caCert: m.caCert, cert: m.cert, key: m.key, token };
}

/** Constant-time comparison of a presented bearer token. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
