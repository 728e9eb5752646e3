// Certificate authorities and the certificates they sign, with @peculiar/x509 over WebCrypto:
// ECDSA P-256 keys, PEM in and out. The API server's own CA and the lab's CA (which signs
// Ingress certificates) are both made here. Reading certificates and checking a CA's key need
// only Node's own X509Certificate: the library (~200 modules, 30-80 ms of CPU to load even
// bundled) is loaded on the first certificate made, which most processes never make.
import type * as X509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { formatIP, parseIP } from './ip.ts';
import { privateDir, writePrivate } from './privatefs.ts';

let library: Promise<typeof X509> | undefined;

/** @peculiar/x509, over Node's WebCrypto. */
function x509lib(): Promise<typeof X509> {
  library ??= (async () => {
    await import('reflect-metadata');
    // (bundled into dist/, a CommonJS package's dynamic import has only its default export)
    const mod = (await import('@peculiar/x509')) as typeof X509 & { default?: typeof X509 };
    const x509 = mod.default ?? mod;
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
    return x509;
  })();
  return library;
}

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

/** A CA able to sign: its certificate (the first of certPem) and its key, as PEM, and how the key signs. */
export interface CA {
  /** how the key signs (ECDSA or RSA with SHA-256) */
  signingAlgorithm: Algorithm;
  /** how the key is imported into WebCrypto */
  keyAlgorithm: EcKeyImportParams | RsaHashedImportParams;
  /** the CA's certificate, and the certificates above it when the file held a chain */
  certPem: string;
  keyPem: string;
}

/** A CA's certificate and key as the library signs with them, made at its first signature. */
const signers = new WeakMap<CA, Promise<{ cert: X509.X509Certificate; key: CryptoKey }>>();

function signerOf(ca: CA): Promise<{ cert: X509.X509Certificate; key: CryptoKey }> {
  let s = signers.get(ca);
  if (!s) {
    s = (async () => {
      const x509 = await x509lib();
      const der = createPrivateKey(ca.keyPem).export({ type: 'pkcs8', format: 'der' });
      return { cert: new x509.X509Certificate(ca.certPem), key: await webcrypto.subtle.importKey('pkcs8', der, ca.keyAlgorithm, true, ['sign']) };
    })();
    signers.set(ca, s);
  }
  return s;
}

/** A self-signed CA named `subject` (e.g. CN=podpath-ca), with a new ECDSA P-256 key. */
export async function makeCA(subject: string, notBefore: Date, notAfter: Date): Promise<CA> {
  const x509 = await x509lib();
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
  const ca: CA = { signingAlgorithm: ecdsa, keyAlgorithm: { name: 'ECDSA', namedCurve: 'P-256' }, certPem: cert.toString('pem') + '\n', keyPem: pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) };
  signers.set(ca, Promise.resolve({ cert, key: keys.privateKey }));
  return ca;
}

/**
 * A CA from its PEM certificate (the first certificate of the text signs) and private key
 * (PKCS#8, SEC1 or PKCS#1 PEM; ECDSA P-256/P-384 or RSA). Throws with the reason when they
 * cannot be read or do not belong together.
 */
export async function parseCA(certPem: string, keyPem: string): Promise<CA> {
  const cert = new X509Certificate(certPem);
  const key = createPrivateKey(keyPem);
  let keyAlgorithm: EcKeyImportParams | RsaHashedImportParams;
  let signingAlgorithm: Algorithm;
  const type = cert.publicKey.asymmetricKeyType;
  if (type === 'ec') {
    const curve = { prime256v1: 'P-256', secp384r1: 'P-384' }[String(cert.publicKey.asymmetricKeyDetails?.namedCurve)];
    if (!curve) throw new Error(`unsupported CA key curve ${cert.publicKey.asymmetricKeyDetails?.namedCurve} (P-256 or P-384)`);
    keyAlgorithm = { name: 'ECDSA', namedCurve: curve };
    signingAlgorithm = { name: 'ECDSA', hash: curve === 'P-384' ? 'SHA-384' : 'SHA-256' } as EcdsaParams;
  } else if (type === 'rsa') {
    keyAlgorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    signingAlgorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as RsaHashedImportParams;
  } else {
    throw new Error(`unsupported CA key algorithm ${type} (ECDSA or RSA)`);
  }
  // The key must be the certificate's.
  if (!cert.checkPrivateKey(key)) throw new Error('the private key does not belong to the CA certificate');
  return { signingAlgorithm, keyAlgorithm, certPem, keyPem };
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
  const x509 = await x509lib();
  const signer = await signerOf(ca);
  const keys = (await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: r.subject,
    issuer: signer.cert.subject,
    notBefore: r.notBefore,
    notAfter: r.notAfter,
    signingAlgorithm: ca.signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: signer.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([r.usage === 'client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth]),
      // With an empty subject the SANs are the certificate's only names, and critical (RFC 5280 4.2.1.6).
      new x509.SubjectAlternativeNameExtension([...r.ips.map((ip) => ({ type: 'ip' as const, value: ip })), ...r.dns.map((d) => ({ type: 'dns' as const, value: d }))], r.subject === ''),
      await x509.AuthorityKeyIdentifierExtension.create(signer.cert),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) };
}

/** The SAN values (DNS names and IPs) of a PEM certificate, sorted; [] when it cannot be read. */
export function sansOf(certPem: string): string[] {
  try {
    // Node writes them as "DNS:a, IP Address:10.0.0.1" (values with a comma or quote quoted)
    const alt = new X509Certificate(certPem).subjectAltName ?? '';
    return [...alt.matchAll(/(?:^|, )(DNS|IP Address):("(?:[^"\\]|\\.)*"|[^,]*)/g)]
      .map((m) => {
        const v = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
        // IPv6 addresses in their short form (Node writes all eight groups), as the names asked for
        const ip = m[1] === 'IP Address' ? parseIP(v) : undefined;
        return ip ? formatIP(ip.value, ip.family) : v;
      })
      .sort();
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
