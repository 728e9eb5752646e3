// Certificate authorities and the certificates they sign, with @peculiar/x509 over WebCrypto:
// ECDSA P-256 keys, PEM in and out. The API server's own CA and the lab's CA (which signs
// Ingress certificates) are both made here.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { privateDir, writePrivate } from './privatefs.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export function pemKey(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64.trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

/** A random positive 128-bit serial number, in hex. */
export function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

/** A CA able to sign: its certificate (the first of certPem), its key and both as PEM. */
export interface CA {
  cert: x509.X509Certificate;
  key: CryptoKey;
  /** how the key signs (ECDSA or RSA with SHA-256) */
  signingAlgorithm: Algorithm;
  /** the CA's certificate, and the certificates above it when the file held a chain */
  certPem: string;
  keyPem: string;
}

/** A self-signed CA named `subject` (e.g. CN=podpath-ca), with a new ECDSA P-256 key. */
export async function makeCA(subject: string, notBefore: Date, notAfter: Date): Promise<CA> {
  const keys = (await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: subject,
    notBefore,
    notAfter,
    signingAlgorithm: ecdsa,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, key: keys.privateKey, signingAlgorithm: ecdsa, certPem: cert.toString('pem') + '\n', keyPem: pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) };
}

/**
 * A CA from its PEM certificate (the first certificate of the text signs) and private key
 * (PKCS#8, SEC1 or PKCS#1 PEM; ECDSA P-256/P-384 or RSA). Throws with the reason when they
 * cannot be read or do not belong together.
 */
export async function parseCA(certPem: string, keyPem: string): Promise<CA> {
  const cert = new x509.X509Certificate(certPem);
  const der = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  const pub = cert.publicKey.algorithm as EcKeyAlgorithm | RsaHashedKeyAlgorithm;
  let importAlg: EcKeyImportParams | RsaHashedImportParams;
  let signingAlgorithm: Algorithm;
  if (pub.name === 'ECDSA') {
    const curve = (pub as EcKeyAlgorithm).namedCurve;
    importAlg = { name: 'ECDSA', namedCurve: curve };
    signingAlgorithm = { name: 'ECDSA', hash: curve === 'P-384' ? 'SHA-384' : 'SHA-256' } as EcdsaParams;
  } else if (pub.name === 'RSASSA-PKCS1-v1_5') {
    importAlg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    signingAlgorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as RsaHashedImportParams;
  } else {
    throw new Error(`unsupported CA key algorithm ${pub.name} (ECDSA or RSA)`);
  }
  const key = await webcrypto.subtle.importKey('pkcs8', der, importAlg, true, ['sign']);
  // The key must be the certificate's: sign something and check it with the certificate's key.
  const probe = Buffer.from('podpath');
  const sig = await webcrypto.subtle.sign(signingAlgorithm, key, probe);
  if (!(await webcrypto.subtle.verify(signingAlgorithm, await cert.publicKey.export(importAlg, ['verify']), sig, probe))) {
    throw new Error("the private key does not belong to the CA certificate");
  }
  return { cert, key, signingAlgorithm, certPem, keyPem };
}

/** The CA kept in these files, or undefined when either is missing or unreadable. */
async function readCA(certFile: string, keyFile: string): Promise<CA | undefined> {
  if (!fs.existsSync(certFile) || !fs.existsSync(keyFile)) return undefined;
  try {
    return await parseCA(fs.readFileSync(certFile, 'utf8'), fs.readFileSync(keyFile, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The CA in `dir` (ca.crt and ca.key), created there (self-signed, `subject`, ten years) when
 * missing or unreadable. The directory ends up 0700 and both files 0600.
 */
export async function loadOrCreateCA(dir: string, subject: string): Promise<{ ca: CA; certFile: string; keyFile: string; created: boolean }> {
  privateDir(dir);
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  // Files written before (by an older release, or by hand) are narrowed too.
  for (const f of [certFile, keyFile]) if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
  const found = await readCA(certFile, keyFile);
  if (found) return { ca: found, certFile, keyFile, created: false };
  const now = new Date(Date.now() - 60_000);
  const ca = await makeCA(subject, now, new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000));
  writePrivate(certFile, ca.certPem);
  writePrivate(keyFile, ca.keyPem);
  return { ca, certFile, keyFile, created: true };
}

export interface LeafRequest {
  /** the subject DN ('' for none: the names are in the SANs only, as cert-manager issues them) */
  subject: string;
  dns: string[];
  ips: string[];
  notBefore: Date;
  notAfter: Date;
  /** what the certificate is for (extended key usage): serving (the default) or a client's */
  usage?: 'server' | 'client';
}

/** A TLS server (or, with usage 'client', client) certificate for the request's names with a new ECDSA P-256 key, signed by `ca`; PEM. */
export async function issueLeaf(ca: CA, r: LeafRequest): Promise<{ cert: string; key: string }> {
  const keys = (await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: r.subject,
    issuer: ca.cert.subject,
    notBefore: r.notBefore,
    notAfter: r.notAfter,
    signingAlgorithm: ca.signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([r.usage === 'client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth]),
      // With an empty subject the SANs are the certificate's only names, and critical (RFC 5280 4.2.1.6).
      new x509.SubjectAlternativeNameExtension([...r.ips.map((ip) => ({ type: 'ip' as const, value: ip })), ...r.dns.map((d) => ({ type: 'dns' as const, value: d }))], r.subject === ''),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) };
}

/** The SAN values (DNS names and IPs) of a PEM certificate, sorted; [] when it cannot be read. */
export function sansOf(certPem: string): string[] {
  try {
    const c = new x509.X509Certificate(certPem);
    const ext = c.getExtension(x509.SubjectAlternativeNameExtension);
    return (ext?.names.items ?? []).map((n) => n.value).sort();
  } catch {
    return [];
  }
}

/** The PEM certificates of a text, in order. */
export function pemCertificates(text: string): string[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => `${m[0]}\n`);
}


/** What a TLS connection's client certificate says, when it presented one. */
export interface PeerCertificate {
  /** the certificate chains to the CA the server asks client certificates of */
  verified: boolean;
  commonName?: string;
  organizations: string[];
}

/** The client certificate of a request's socket: undefined on plain sockets and when none was sent. */
export function peerCertificate(socket: unknown): PeerCertificate | undefined {
  const s = socket as { getPeerCertificate?: () => { subject?: { CN?: string; O?: string | string[] } } | null; authorized?: boolean };
  if (typeof s?.getPeerCertificate !== 'function') return undefined;
  const peer = s.getPeerCertificate();
  if (!peer?.subject) return undefined;
  const o = peer.subject.O;
  return { verified: Boolean(s.authorized), organizations: o === undefined ? [] : Array.isArray(o) ? o : [o], ...(peer.subject.CN ? { commonName: String(peer.subject.CN) } : {}) };
}
