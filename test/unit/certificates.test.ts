// Ingress certificates as cert-manager's ingress-shim and CA issuer make them: which Secrets an
// Ingress asks for, when a Secret is (re)issued or left alone, and the Secret written.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { Ingress } from '../../src/api/types.ts';
import { caBundle, certificatesFor, decideSecret, issuedSecret, renewalTime, type Secret, type WantedCertificate } from '../../src/controllers/certificates.ts';
import { issueLeaf, makeCA, parseCA, pemCertificates, sansOf, type CA } from '../../src/util/pki.ts';

const day = 24 * 3600 * 1000;
let seq = 0;
const ing = (name: string, tls: { hosts?: string[]; secretName?: string }[], annotations: Record<string, string> = { 'cert-manager.io/cluster-issuer': 'podpath-lab-ca' }, created = '2025-01-01T00:00:00Z'): Ingress => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { namespace: 'shop', name, uid: `uid-${++seq}`, annotations, creationTimestamp: created },
  spec: { tls, rules: [] },
});
const want = (over: Partial<WantedCertificate> = {}): WantedCertificate => ({ namespace: 'shop', secretName: 'app-tls', ingress: 'app', dnsNames: ['app.example.com', '*.app.example.com'], ipAddresses: [], issuerName: 'podpath-lab-ca', ...over });

describe('which Secrets an Ingress asks for', () => {
  it('asks for nothing without cert-manager.io/cluster-issuer, or while it is being deleted', () => {
    assert.deepEqual(certificatesFor(ing('plain', [{ hosts: ['a.example.com'], secretName: 'a' }], {}), []), { wanted: [], problems: [] });
    const deleting = ing('gone', [{ hosts: ['a.example.com'], secretName: 'a' }]);
    deleting.metadata.deletionTimestamp = '2025-01-02T00:00:00Z';
    assert.deepEqual(certificatesFor(deleting, [deleting]), { wanted: [], problems: [] });
  });

  it('asks for one Secret per TLS block, for exactly its hosts (IP hosts as IP SANs), from the annotated ClusterIssuer', () => {
    const i = ing('app', [{ hosts: ['app.example.com', '*.app.example.com'], secretName: 'app-tls' }, { hosts: ['api.example.com', '192.168.49.200'], secretName: 'api-tls' }]);
    const r = certificatesFor(i, [i]);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.wanted, [
      { namespace: 'shop', secretName: 'app-tls', ingress: 'app', dnsNames: ['app.example.com', '*.app.example.com'], ipAddresses: [], issuerName: 'podpath-lab-ca' },
      { namespace: 'shop', secretName: 'api-tls', ingress: 'app', dnsNames: ['api.example.com'], ipAddresses: ['192.168.49.200'], issuerName: 'podpath-lab-ca' },
    ]);
  });

  it('skips TLS blocks without hosts or secretName, with cert-manager\'s BadConfig messages', () => {
    const i = ing('app', [{ hosts: ['a.example.com'] }, { secretName: 'b' }, { hosts: ['d.example.com'], secretName: 'd' }]);
    const r = certificatesFor(i, [i]);
    assert.deepEqual(r.wanted.map((w) => w.secretName), ['d']);
    assert.deepEqual(r.problems, ['Skipped a TLS block: spec.tls[0].secretName: Required value', 'Skipped a TLS block: spec.tls[1].hosts: Required value']);
    const bare = ing('bare', [{}]);
    assert.deepEqual(certificatesFor(bare, [bare]).problems, ['Skipped a TLS block: [spec.tls[0].hosts: Required value, spec.tls[0].secretName: Required value]']);
  });

  it('refuses an Ingress naming one Secret in two TLS blocks, or with conflicting issuer annotations', () => {
    const dup = ing('dup', [{ hosts: ['a.example.com'], secretName: 's' }, { hosts: ['b.example.com'], secretName: 's' }]);
    assert.deepEqual(certificatesFor(dup, [dup]), { wanted: [], problems: ['spec.tls[0].secretName: Invalid value: "s": this secret name must only appear in a single TLS entry but is also used in spec.tls[1].secretName'] });
    // Two blocks without a secretName share the name "" (cert-manager checks duplicates first).
    const unnamed = ing('unnamed', [{ hosts: ['a.example.com'] }, { hosts: ['b.example.com'] }]);
    assert.match(certificatesFor(unnamed, [unnamed]).problems[0]!, /^spec\.tls\[0\]\.secretName: Invalid value: "": this secret name must only appear/);
    const both = ing('both', [{ hosts: ['a.example.com'], secretName: 's' }], { 'cert-manager.io/cluster-issuer': 'x', 'cert-manager.io/issuer': 'y' });
    assert.deepEqual(certificatesFor(both, [both]).problems, ['Could not determine issuer for ingress due to bad annotations: both "cert-manager.io/issuer" and "cert-manager.io/cluster-issuer" may not be set']);
    const empty = ing('empty', [{ hosts: ['a.example.com'], secretName: 's' }], { 'cert-manager.io/cluster-issuer': '' });
    assert.deepEqual(certificatesFor(empty, [empty]).problems, ['Could not determine issuer for ingress due to bad annotations: failed to determine issuer name to be used for ingress resource']);
  });

  it('leaves a Secret to the older Ingress of the namespace that asks for it', () => {
    const old = ing('old', [{ hosts: ['a.example.com'], secretName: 's' }], undefined, '2025-01-01T00:00:00Z');
    const young = ing('young', [{ hosts: ['b.example.com'], secretName: 's' }, { hosts: ['c.example.com'], secretName: 't' }], undefined, '2025-01-02T00:00:00Z');
    const otherNs = { ...ing('elsewhere', [{ hosts: ['z.example.com'], secretName: 's' }], undefined, '2024-01-01T00:00:00Z'), metadata: { namespace: 'other', name: 'elsewhere', annotations: { 'cert-manager.io/cluster-issuer': 'x' }, creationTimestamp: '2024-01-01T00:00:00Z' } };
    const all = [otherNs, young, old];
    assert.deepEqual(certificatesFor(old, all).wanted.map((w) => w.secretName), ['s']);
    const r = certificatesFor(young, all);
    assert.deepEqual(r.wanted.map((w) => w.secretName), ['t']);
    assert.deepEqual(r.problems, ['Skipped a TLS block: Secret "s" is already requested by Ingress "old"']);
  });
});

describe('when a Secret is issued', () => {
  let ca: CA;
  let otherCA: CA;
  const now = new Date('2025-03-01T00:00:00Z');
  /** A Secret as the controller writes it, issued at `at` for `w`. */
  const issued = async (w: WantedCertificate, at = now, by = () => ca): Promise<Secret> => {
    const leaf = await issueLeaf(by(), { subject: '', dns: w.dnsNames, ips: w.ipAddresses, notBefore: at, notAfter: new Date(at.getTime() + 90 * day) });
    const s = issuedSecret(w, leaf, caBundle(by().certPem));
    return { ...s, metadata: { ...s.metadata, resourceVersion: '7' } };
  };
  before(async () => {
    ca = await makeCA('CN=podpath lab test CA', new Date('2025-01-01T00:00:00Z'), new Date('2035-01-01T00:00:00Z'));
    otherCA = await makeCA('CN=someone else', new Date('2025-01-01T00:00:00Z'), new Date('2035-01-01T00:00:00Z'));
  });

  it('issues a missing Secret', () => {
    assert.deepEqual(decideSecret(want(), undefined, ca.certPem, now), { action: 'issue', reason: 'Issuing certificate as Secret does not exist' });
  });

  it('never overwrites a Secret it did not issue', () => {
    const mine: Secret = { apiVersion: 'v1', kind: 'Secret', metadata: { namespace: 'shop', name: 'app-tls' }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==', 'tls.key': 'eA==' } };
    const d = decideSecret(want(), mine, ca.certPem, now);
    assert.equal(d.action, 'refuse');
    assert.match((d as { message: string }).message, /^Secret "app-tls" exists and was not issued by cert-manager for this TLS block \(its cert-manager\.io\/certificate-name annotation is missing\): not overwriting it$/);
    const otherCert = { ...mine, metadata: { ...mine.metadata, annotations: { 'cert-manager.io/certificate-name': 'elsewhere' } } };
    assert.match((decideSecret(want(), otherCert, ca.certPem, now) as { message: string }).message, /annotation is "elsewhere"/);
    const opaque = { ...mine, type: 'Opaque', metadata: { ...mine.metadata, annotations: { 'cert-manager.io/certificate-name': 'app-tls' } } };
    assert.match((decideSecret(want(), opaque, ca.certPem, now) as { message: string }).message, /has type "Opaque", not kubernetes\.io\/tls/);
  });

  it('keeps a Secret it issued for these hosts until a third of its 90 days is left, then renews it', async () => {
    const s = await issued(want());
    const keep = decideSecret(want(), s, ca.certPem, now);
    assert.deepEqual(keep, { action: 'keep', renewAt: new Date(now.getTime() + 60 * day) });
    assert.deepEqual(renewalTime(now, new Date(now.getTime() + 90 * day)), new Date(now.getTime() + 60 * day));
    // Hosts compare as a set, case-insensitively.
    assert.equal(decideSecret(want({ dnsNames: ['*.APP.example.com', 'app.example.com'] }), s, ca.certPem, now).action, 'keep');
    assert.deepEqual(decideSecret(want(), s, ca.certPem, new Date(now.getTime() + 60 * day)), { action: 'issue', reason: 'Renewing certificate as renewal was scheduled at 2025-04-30T00:00:00Z' });
  });

  it('reissues when the hosts, the issuer or the CA changed, or the Secret is damaged', async () => {
    const s = await issued(want());
    assert.deepEqual(decideSecret(want({ dnsNames: ['app.example.com'] }), s, ca.certPem, now), {
      action: 'issue',
      reason: 'Issuing certificate as the hosts changed: Secret is for [app.example.com, *.app.example.com], the Ingress asks for [app.example.com]',
    });
    assert.equal(decideSecret(want({ ipAddresses: ['192.168.49.200'] }), s, ca.certPem, now).action, 'issue');
    assert.deepEqual(decideSecret(want({ issuerName: 'other' }), s, ca.certPem, now), { action: 'issue', reason: 'Issuing certificate as Secret was previously issued by ClusterIssuer.cert-manager.io/podpath-lab-ca' });
    assert.deepEqual(decideSecret(want(), s, otherCA.certPem, now), { action: 'issue', reason: 'Issuing certificate as Secret was signed by another CA' });
    const other = await issued(want());
    assert.deepEqual(decideSecret(want(), { ...s, data: { ...s.data, 'tls.key': other.data!['tls.key']! } }, ca.certPem, now), { action: 'issue', reason: 'Issuing certificate as Secret contains a private key that does not match the certificate' });
    assert.deepEqual(decideSecret(want(), { ...s, data: { 'tls.key': s.data!['tls.key']! } }, ca.certPem, now), { action: 'issue', reason: 'Issuing certificate as Secret does not contain a certificate' });
    assert.deepEqual(decideSecret(want(), { ...s, data: { ...s.data, 'tls.crt': Buffer.from('garbage').toString('base64') } }, ca.certPem, now), { action: 'issue', reason: 'Issuing certificate as Secret contains an invalid certificate' });
  });

  it("writes a kubernetes.io/tls Secret as cert-manager's CA issuer does, keeping what else the old one had", async () => {
    const w = want({ ipAddresses: ['192.168.49.200'] });
    const leaf = await issueLeaf(ca, { subject: '', dns: w.dnsNames, ips: w.ipAddresses, notBefore: now, notAfter: new Date(now.getTime() + 90 * day) });
    const old: Secret = { apiVersion: 'v1', kind: 'Secret', metadata: { namespace: 'shop', name: 'app-tls', resourceVersion: '9', labels: { team: 'web' }, annotations: { note: 'kept', 'cert-manager.io/certificate-name': 'app-tls' }, managedFields: [] }, type: 'kubernetes.io/tls', data: { extra: 'eA==', 'tls.crt': '', 'tls.key': '' } };
    const s = issuedSecret(w, leaf, caBundle(ca.certPem), old);
    assert.equal(s.type, 'kubernetes.io/tls');
    assert.equal(s.metadata.resourceVersion, '9', 'an update of the version read');
    assert.equal(s.metadata.managedFields, undefined);
    assert.equal(s.metadata.ownerReferences, undefined, 'owned by nothing: it outlives the Ingress');
    assert.deepEqual(s.metadata.labels, { team: 'web', 'controller.cert-manager.io/fao': 'true' });
    assert.deepEqual(s.metadata.annotations, {
      note: 'kept',
      'cert-manager.io/alt-names': 'app.example.com,*.app.example.com',
      'cert-manager.io/certificate-name': 'app-tls',
      'cert-manager.io/common-name': '',
      'cert-manager.io/ip-sans': '192.168.49.200',
      'cert-manager.io/issuer-group': 'cert-manager.io',
      'cert-manager.io/issuer-kind': 'ClusterIssuer',
      'cert-manager.io/issuer-name': 'podpath-lab-ca',
      'cert-manager.io/uri-sans': '',
    });
    assert.deepEqual(Object.keys(s.data!).sort(), ['ca.crt', 'extra', 'tls.crt', 'tls.key']);
    const text = (k: string) => Buffer.from(s.data![k]!, 'base64').toString();
    // The lab CA is a self-signed root: the chain in tls.crt is the leaf alone, the root is ca.crt.
    assert.equal(pemCertificates(text('tls.crt')).length, 1);
    assert.equal(text('ca.crt'), ca.certPem);
    const cert = new X509Certificate(text('tls.crt'));
    const root = new X509Certificate(text('ca.crt'));
    assert.ok(cert.checkIssued(root) && cert.verify(root.publicKey));
    assert.equal(cert.subjectAltName, 'IP Address:192.168.49.200, DNS:app.example.com, DNS:*.app.example.com');
    assert.equal(cert.subject, undefined, 'no subject: the names are the SANs');
    assert.equal(new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime(), 90 * day);
    assert.ok(cert.checkPrivateKey(createPrivateKey(text('tls.key'))));
    assert.equal(decideSecret(w, { ...s, metadata: { ...s.metadata } }, ca.certPem, now).action, 'keep');
  });

  it('puts the certificates of a signing file below its self-signed root after the leaf', async () => {
    const inter = await issueLeaf(ca, { subject: 'CN=not self-signed', dns: ['x'], ips: [], notBefore: now, notAfter: new Date(now.getTime() + day) });
    assert.deepEqual(caBundle(inter.cert + ca.certPem), { chain: inter.cert, ca: ca.certPem });
    assert.deepEqual(caBundle(ca.certPem), { chain: '', ca: ca.certPem });
  });

  it('reads a certificate\'s names back as they were asked for: DNS names, IPv4, IPv6 in its short form', async () => {
    const leaf = await issueLeaf(ca, { subject: 'CN=names', dns: ['b.example', 'a.example'], ips: ['10.0.0.1', 'fd00::10', '::1'], notBefore: now, notAfter: new Date(now.getTime() + day) });
    assert.deepEqual(sansOf(leaf.cert), ['10.0.0.1', '::1', 'a.example', 'b.example', 'fd00::10']);
    assert.deepEqual(sansOf('not a certificate'), []);
  });

  it('reads a signing CA whatever its key encoding, and refuses a key of another certificate', async () => {
    const sec1 = createPrivateKey(ca.keyPem).export({ type: 'sec1', format: 'pem' }) as string;
    const parsed = await parseCA(ca.certPem, sec1);
    const leaf = await issueLeaf(parsed, { subject: '', dns: ['a.example.com'], ips: [], notBefore: now, notAfter: new Date(now.getTime() + day) });
    assert.ok(new X509Certificate(leaf.cert).verify(new X509Certificate(ca.certPem).publicKey));
    await assert.rejects(parseCA(ca.certPem, otherCA.keyPem), /the private key does not belong to the CA certificate/);
  });
});
