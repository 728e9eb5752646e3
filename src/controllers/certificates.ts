// Certificates for Ingress TLS, the way cert-manager's ingress-shim and its CA issuer provide
// them: for an Ingress annotated cert-manager.io/cluster-issuer, each spec.tls[] entry with a
// secretName gets a Secret of type kubernetes.io/tls in the Ingress's namespace, signed by the
// cluster's signing CA (kube-controller-manager's --cluster-signing-cert-file/-key-file) for
// exactly that entry's hosts, valid 90 days and renewed when a third of that is left. There
// are no Certificate objects: the Secret carries what cert-manager writes on the Secrets it
// issues (cert-manager.io/certificate-name, issuer-name, …), it is owned by nothing (it stays
// after the Ingress goes, as cert-manager's do), and a Secret this controller did not issue is
// never overwritten (a Warning Event on the Ingress says so).
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type { Ingress, KubeObject } from '../api/types.ts';
import { ApiError } from '../api/errors.ts';
import { collectionPath, objectPath, type Client } from '../client/client.ts';
import { EventRecorder } from '../client/events.ts';
import type { Informer } from '../client/informer.ts';
import { nsName, splitKey, WorkQueue } from '../client/workqueue.ts';
import { parseIP } from '../util/ip.ts';
import { issueLeaf, pemCertificates, type CA } from '../util/pki.ts';

export const clusterIssuerAnnotation = 'cert-manager.io/cluster-issuer';
export const issuerAnnotation = 'cert-manager.io/issuer';
export const issuerKindAnnotation = 'cert-manager.io/issuer-kind';
export const issuerGroupAnnotation = 'cert-manager.io/issuer-group';
export const certificateNameAnnotation = 'cert-manager.io/certificate-name';
export const issuerNameAnnotation = 'cert-manager.io/issuer-name';
export const commonNameAnnotation = 'cert-manager.io/common-name';
export const altNamesAnnotation = 'cert-manager.io/alt-names';
export const ipSansAnnotation = 'cert-manager.io/ip-sans';
export const uriSansAnnotation = 'cert-manager.io/uri-sans';
/** the label cert-manager puts on the Secrets it issues (so its controllers watch only those) */
export const faoLabel = 'controller.cert-manager.io/fao';
const issuerGroup = 'cert-manager.io';
const clusterIssuerKind = 'ClusterIssuer';

/** cert-manager's defaults: duration 2160h, renewed when a third of it is left */
export const certificateDurationMs = 90 * 24 * 3600 * 1000;

export interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

/** One Secret an Ingress asks for: what cert-manager's ingress-shim would put in a Certificate. */
export interface WantedCertificate {
  namespace: string;
  /** the Secret (and the name cert-manager gives the Certificate) */
  secretName: string;
  /** the Ingress asking */
  ingress: string;
  dnsNames: string[];
  ipAddresses: string[];
  issuerName: string;
}

/** The Secrets an Ingress asks for, and what is wrong with its annotations or TLS blocks (Warning Events, reason BadConfig). */
export interface IngressCertificates {
  wanted: WantedCertificate[];
  problems: string[];
}

const created = (i: Ingress) => `${i.metadata.creationTimestamp ?? ''}\u0000${i.metadata.name}`;

/**
 * What `ing` asks for, among the Ingresses `all` of the cluster: nothing without the
 * cluster-issuer annotation or while it is deleted; a Secret per TLS block with hosts and a
 * secretName otherwise. A block naming a Secret an older Ingress of the namespace already asks
 * for is skipped (that Ingress's Certificate would own it).
 */
export function certificatesFor(ing: Ingress, all: Ingress[]): IngressCertificates {
  const a = ing.metadata.annotations ?? {};
  if (!(clusterIssuerAnnotation in a) || ing.metadata.deletionTimestamp) return { wanted: [], problems: [] };
  // cert-manager's checks on the issuer annotations, with its messages.
  const bad: string[] = [];
  if (!a[clusterIssuerAnnotation]) bad.push('failed to determine issuer name to be used for ingress resource');
  if (issuerAnnotation in a) bad.push(`both "${issuerAnnotation}" and "${clusterIssuerAnnotation}" may not be set`);
  if (issuerGroupAnnotation in a) bad.push(`both "${clusterIssuerAnnotation}" and "${issuerGroupAnnotation}" may not be set`);
  if (issuerKindAnnotation in a) bad.push(`both "${clusterIssuerAnnotation}" and "${issuerKindAnnotation}" may not be set`);
  if (bad.length) return { wanted: [], problems: [`Could not determine issuer for ingress due to bad annotations: ${bad.join(', ')}`] };
  const tls = ing.spec?.tls ?? [];
  // Two blocks with one secretName would be two Certificates of one name: the Ingress is refused.
  const firstUse = new Map<string, number>();
  const dups: string[] = [];
  tls.forEach((t, i) => {
    const n = t.secretName ?? '';
    const first = firstUse.get(n);
    if (first === undefined) firstUse.set(n, i);
    else if (!dups.some((d) => d.includes(`spec.tls[${first}].secretName`))) dups.push(`spec.tls[${first}].secretName: Invalid value: ${JSON.stringify(n)}: this secret name must only appear in a single TLS entry but is also used in spec.tls[${i}].secretName`);
  });
  if (dups.length) return { wanted: [], problems: [dups.length === 1 ? dups[0]! : `[${dups.join(', ')}]`] };
  const ns = ing.metadata.namespace ?? 'default';
  const wanted: WantedCertificate[] = [];
  const problems: string[] = [];
  tls.forEach((t, i) => {
    const errs = [...(t.hosts?.length ? [] : [`spec.tls[${i}].hosts: Required value`]), ...(t.secretName ? [] : [`spec.tls[${i}].secretName: Required value`])];
    if (errs.length) {
      problems.push(`Skipped a TLS block: ${errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`}`);
      return;
    }
    const older = all.find(
      (o) =>
        o.metadata.namespace === ing.metadata.namespace &&
        o.metadata.name !== ing.metadata.name &&
        clusterIssuerAnnotation in (o.metadata.annotations ?? {}) &&
        !o.metadata.deletionTimestamp &&
        created(o) < created(ing) &&
        (o.spec?.tls ?? []).some((x) => x.secretName === t.secretName && x.hosts?.length),
    );
    if (older) {
      problems.push(`Skipped a TLS block: Secret ${JSON.stringify(t.secretName)} is already requested by Ingress ${JSON.stringify(older.metadata.name)}`);
      return;
    }
    const hosts = t.hosts!.map((h) => h.trim()).filter(Boolean);
    wanted.push({ namespace: ns, secretName: t.secretName!, ingress: ing.metadata.name!, dnsNames: hosts.filter((h) => !parseIP(h)), ipAddresses: hosts.filter((h) => parseIP(h)), issuerName: a[clusterIssuerAnnotation]! });
  });
  return { wanted, problems };
}

export type SecretDecision =
  /** the Secret is right until renewAt */
  | { action: 'keep'; renewAt: Date }
  /** (re)issue it, for this reason (cert-manager's wording where it has one) */
  | { action: 'issue'; reason: string }
  /** the Secret is someone else's: leave it and say why */
  | { action: 'refuse'; message: string };

const sameSet = (a: string[], b: string[]) => JSON.stringify([...a].map((x) => x.toLowerCase()).sort()) === JSON.stringify([...b].map((x) => x.toLowerCase()).sort());
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString() : '');

/** The DNS names and IP addresses of a certificate, from node's rendering of its SAN extension. */
function sans(c: X509Certificate): { dns: string[]; ips: string[] } {
  const parts = (c.subjectAltName ?? '').split(', ').filter(Boolean);
  return { dns: parts.filter((p) => p.startsWith('DNS:')).map((p) => p.slice(4)), ips: parts.filter((p) => p.startsWith('IP Address:')).map((p) => p.slice(11)) };
}

/** When a certificate is renewed: a third of its lifetime before it ends (cert-manager's default renewBefore). */
export function renewalTime(notBefore: Date, notAfter: Date): Date {
  return new Date(notAfter.getTime() - (notAfter.getTime() - notBefore.getTime()) / 3);
}

/**
 * What to do about the Secret `want` names, as it is now (undefined: missing), for a CA whose
 * certificate is `caCertPem`. A Secret without cert-manager.io/certificate-name naming it (so
 * not issued as this Secret) is refused; an issued one is issued again when it is incomplete,
 * its key does not match, its issuer or hosts changed, another CA signed it, or renewal is due.
 */
export function decideSecret(want: WantedCertificate, secret: Secret | undefined, caCertPem: string, now: Date): SecretDecision {
  if (!secret) return { action: 'issue', reason: 'Issuing certificate as Secret does not exist' };
  const ann = secret.metadata.annotations ?? {};
  if (ann[certificateNameAnnotation] !== want.secretName) {
    return { action: 'refuse', message: `Secret ${JSON.stringify(want.secretName)} exists and was not issued by cert-manager for this TLS block (its ${certificateNameAnnotation} annotation is ${ann[certificateNameAnnotation] === undefined ? 'missing' : JSON.stringify(ann[certificateNameAnnotation])}): not overwriting it` };
  }
  if (secret.type !== 'kubernetes.io/tls') return { action: 'refuse', message: `Secret ${JSON.stringify(want.secretName)} has type ${JSON.stringify(secret.type ?? 'Opaque')}, not kubernetes.io/tls (a Secret's type cannot change): not overwriting it` };
  const certPem = unb64(secret.data?.['tls.crt']);
  const keyPem = unb64(secret.data?.['tls.key']);
  if (!certPem) return { action: 'issue', reason: 'Issuing certificate as Secret does not contain a certificate' };
  if (!keyPem) return { action: 'issue', reason: 'Issuing certificate as Secret does not contain a private key' };
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(pemCertificates(certPem)[0] ?? certPem);
  } catch {
    return { action: 'issue', reason: 'Issuing certificate as Secret contains an invalid certificate' };
  }
  try {
    const pub = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' }).toString('base64');
    if (pub(createPublicKey(createPrivateKey(keyPem))) !== pub(leaf.publicKey)) return { action: 'issue', reason: 'Issuing certificate as Secret contains a private key that does not match the certificate' };
  } catch {
    return { action: 'issue', reason: 'Issuing certificate as Secret contains an invalid private key' };
  }
  if (ann[issuerNameAnnotation] !== want.issuerName || ann[issuerKindAnnotation] !== clusterIssuerKind) {
    return { action: 'issue', reason: `Issuing certificate as Secret was previously issued by ${ann[issuerKindAnnotation] ?? ''}.${ann[issuerGroupAnnotation] ?? ''}/${ann[issuerNameAnnotation] ?? ''}` };
  }
  const ca = new X509Certificate(pemCertificates(caCertPem)[0] ?? caCertPem);
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return { action: 'issue', reason: 'Issuing certificate as Secret was signed by another CA' };
  const have = sans(leaf);
  if (!sameSet(have.dns, want.dnsNames) || !sameSet(have.ips, want.ipAddresses)) {
    return { action: 'issue', reason: `Issuing certificate as the hosts changed: Secret is for [${[...have.dns, ...have.ips].join(', ')}], the Ingress asks for [${[...want.dnsNames, ...want.ipAddresses].join(', ')}]` };
  }
  const renewAt = renewalTime(new Date(leaf.validFrom), new Date(leaf.validTo));
  if (now >= renewAt) return { action: 'issue', reason: `Renewing certificate as renewal was scheduled at ${renewAt.toISOString().replace(/\.\d+Z$/, 'Z')}` };
  return { action: 'keep', renewAt };
}

/** The CA's certificates as a Secret carries them: the chain below a self-signed root (appended to tls.crt), and the top one (ca.crt). */
export function caBundle(caCertPem: string): { chain: string; ca: string } {
  const certs = pemCertificates(caCertPem);
  const selfSigned = (p: string) => {
    const c = new X509Certificate(p);
    return c.checkIssued(c) && c.verify(c.publicKey);
  };
  return { chain: certs.filter((c) => !selfSigned(c)).join(''), ca: certs[certs.length - 1] ?? '' };
}

/**
 * The Secret holding a certificate just issued for `want`: type kubernetes.io/tls, tls.crt (the
 * leaf, then the CA's chain below a self-signed root, as cert-manager writes it), tls.key and
 * ca.crt, with cert-manager's annotations and label, keeping what else an existing Secret has.
 */
export function issuedSecret(want: WantedCertificate, issued: { cert: string; key: string }, bundle: { chain: string; ca: string }, existing?: Secret): Secret {
  const { managedFields: _, ...meta } = existing?.metadata ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      ...meta,
      name: want.secretName,
      namespace: want.namespace,
      labels: { ...(existing?.metadata.labels ?? {}), [faoLabel]: 'true' },
      annotations: {
        ...(existing?.metadata.annotations ?? {}),
        [altNamesAnnotation]: want.dnsNames.join(','),
        [certificateNameAnnotation]: want.secretName,
        [commonNameAnnotation]: '',
        [ipSansAnnotation]: want.ipAddresses.join(','),
        [issuerGroupAnnotation]: issuerGroup,
        [issuerKindAnnotation]: clusterIssuerKind,
        [issuerNameAnnotation]: want.issuerName,
        [uriSansAnnotation]: '',
      },
    },
    type: 'kubernetes.io/tls',
    data: { ...(existing?.data ?? {}), 'tls.crt': b64(issued.cert + bundle.chain), 'tls.key': b64(issued.key), 'ca.crt': b64(bundle.ca) },
  };
}

/** The cert-manager part of kube-controller-manager: Secrets for annotated Ingresses, signed by `ca`. */
export class IngressCertificateController {
  readonly queue: WorkQueue;
  private readonly bundle: { chain: string; ca: string };
  /** Secrets written and not yet seen by the informer (namespace/name → object), so a quick resync does not issue twice */
  private written = new Map<string, Secret>();
  /** Warnings already recorded, per Ingress uid (an Event is not repeated on every resync) */
  private warned = new Map<string, Set<string>>();
  /** when each Ingress is next looked at for renewals (ms since the epoch) */
  private due = new Map<string, number>();
  private readonly recorder: EventRecorder;

  constructor(
    private readonly client: Client,
    private readonly ingresses: Informer<Ingress>,
    private readonly secrets: Informer<Secret>,
    private readonly ca: CA,
    private readonly log: (s: string) => void,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.bundle = caBundle(ca.certPem);
    this.recorder = new EventRecorder(client, 'cert-manager-ingress-shim');
    this.queue = new WorkQueue((k) => this.sync(k), (k, e) => log(`certificates ${k}: ${e.message}`));
    ingresses.on({
      add: (o) => this.queue.add(nsName(o)),
      update: (_, o) => this.queue.add(nsName(o)),
      delete: (o) => {
        this.warned.delete(o.metadata.uid ?? '');
        this.due.delete(nsName(o));
        // Another Ingress may have been waiting for a Secret this one asked for.
        this.requeueUsers(o.metadata.namespace, (o.spec?.tls ?? []).map((t) => t.secretName ?? ''));
      },
    });
    const secretChanged = (s: Secret, deleted = false) => {
      const k = nsName(s);
      const w = this.written.get(k);
      if (deleted || (w && w.metadata.resourceVersion === s.metadata.resourceVersion)) this.written.delete(k);
      this.requeueUsers(s.metadata.namespace, [s.metadata.name ?? '']);
    };
    secrets.on({ add: (s) => secretChanged(s), update: (_, s) => secretChanged(s), delete: (s) => secretChanged(s, true) });
  }

  /** Queues the Ingresses of `namespace` that name one of `secretNames` in their TLS blocks. */
  private requeueUsers(namespace: string | undefined, secretNames: string[]): void {
    for (const ing of this.ingresses.list()) {
      if (ing.metadata.namespace === namespace && (ing.spec?.tls ?? []).some((t) => secretNames.includes(t.secretName ?? ''))) this.queue.add(nsName(ing));
    }
  }

  private async event(ing: Ingress, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    if (type === 'Warning') {
      const uid = ing.metadata.uid ?? '';
      const seen = this.warned.get(uid) ?? new Set<string>();
      if (seen.has(`${reason}\u0000${message}`)) return;
      seen.add(`${reason}\u0000${message}`);
      this.warned.set(uid, seen);
      this.log(`ingress ${nsName(ing)}: ${reason}: ${message}`);
    }
    await this.recorder.record({ ...ing, apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' }, type, reason, message);
  }

  private async sync(key: string): Promise<void> {
    // Decide only from whole caches: a Secret not listed yet is not a missing one.
    if (!this.ingresses.hasSynced || !this.secrets.hasSynced) return this.queue.addAfter(key, 200);
    const [ns, name] = splitKey(key);
    const ing = this.ingresses.get(ns, name);
    if (!ing) return;
    const { wanted, problems } = certificatesFor(ing, this.ingresses.list());
    for (const p of problems) await this.event(ing, 'Warning', 'BadConfig', p);
    let next = Infinity;
    for (const w of wanted) {
      const k = `${w.namespace}/${w.secretName}`;
      const existing = this.written.get(k) ?? this.secrets.get(w.namespace, w.secretName);
      const now = this.now();
      const d = decideSecret(w, existing, this.ca.certPem, now);
      if (d.action === 'refuse') {
        await this.event(ing, 'Warning', 'SecretNotOwned', d.message);
        continue;
      }
      if (d.action === 'keep') {
        next = Math.min(next, d.renewAt.getTime() - now.getTime());
        continue;
      }
      const issued = await issueLeaf(this.ca, { subject: '', dns: w.dnsNames, ips: w.ipAddresses, notBefore: now, notAfter: new Date(now.getTime() + certificateDurationMs) });
      const secret = issuedSecret(w, issued, this.bundle, existing);
      let saved: Secret;
      try {
        saved = existing
          ? await this.client.request<Secret>('PUT', objectPath('v1', 'secrets', w.namespace, w.secretName), secret)
          : await this.client.request<Secret>('POST', collectionPath('v1', 'secrets', w.namespace), secret);
      } catch (e) {
        // Changed or created meanwhile: forget what was written and decide again from the informer.
        if (e instanceof ApiError && (e.status.code === 409 || e.status.code === 404)) this.written.delete(k);
        throw e;
      }
      this.written.set(k, saved);
      this.log(`ingress ${key}: issued Secret ${k} for ${[...w.dnsNames, ...w.ipAddresses].join(', ')} (${d.reason})`);
      await this.event(ing, 'Normal', 'Issuing', `${d.reason}; issued Secret ${JSON.stringify(w.secretName)} for ${[...w.dnsNames, ...w.ipAddresses].join(', ')}, signed by ClusterIssuer ${w.issuerName}`);
      next = Math.min(next, renewalTime(now, new Date(now.getTime() + certificateDurationMs)).getTime() - now.getTime());
    }
    // Look again when the first of its certificates is due for renewal (a day at most: timers
    // are 32-bit), unless a look is already planned before then.
    if (!Number.isFinite(next)) return;
    const delay = Math.max(1000, Math.min(next, 24 * 3600 * 1000));
    const at = Date.now() + delay;
    const planned = this.due.get(key);
    if (planned !== undefined && planned > Date.now() && planned <= at) return;
    this.due.set(key, at);
    this.queue.addAfter(key, delay);
  }
}
