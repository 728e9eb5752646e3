// The lab's side of "user → DNS app.example.com → LoadBalancer IP → …" in a real one-node lab:
// the router's resolver publishes a LoadBalancer Service's external-dns hostname and an
// Ingress's hosts (at their status IPs) to the client namespace, the controller manager issues
// Ingress TLS Secrets signed by the lab CA (cert-manager's ingress-shim), and `podpath curl`
// trusts that CA.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { labPaths } from '../../src/lab/lab.ts';
import { eventually, sleep, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';

// A user's own Secret named by the Ingress (never overwritten), the app behind a LoadBalancer
// Service with an external-dns hostname, and an Ingress asking the lab's ClusterIssuer for TLS.
const manifests = `apiVersion: v1
kind: Secret
metadata: {name: taken-tls}
type: Opaque
stringData: {note: mine}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: echo
        image: podpath/echo
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  annotations: {external-dns.alpha.kubernetes.io/hostname: web.example.com}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 8080, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  annotations: {cert-manager.io/cluster-issuer: podpath-lab-ca}
spec:
  tls:
  - hosts: [shop.example.com, "*.apps.example.com"]
    secretName: shop-tls
  - hosts: [taken.example.com]
    secretName: taken-tls
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 8080}}}}
`;

/** A TLS server (openssl s_server) in a pod, with the certificate and key in `dir`, behind a LoadBalancer Service on 443. */
const tlsServer = (dir: string) => `apiVersion: v1
kind: Pod
metadata: {name: tls, labels: {app: tls}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: server
    image: openssl
    command: [openssl, s_server, -quiet, -www, -accept, "8443", -cert, ${dir}/tls.crt, -key, ${dir}/tls.key]
    ports: [{containerPort: 8443}]
---
apiVersion: v1
kind: Service
metadata: {name: tls}
spec:
  type: LoadBalancer
  selector: {app: tls}
  ports: [{port: 443, targetPort: 8443}]
`;

describe('lab public DNS and Ingress certificates', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  let dir: string;
  const json = (args: string[]) => JSON.parse(lab.ok([...args, '-o', 'json']));
  /** `getent hosts NAME` in the client namespace: the address, or undefined. */
  const resolve = (name: string) => {
    const r = lab.exec('client', ['getent', 'hosts', name]);
    return r.code === 0 ? r.stdout.trim().split(/\s+/)[0] : undefined;
  };
  const lbIP = (svc: string) => eventually(() => json(['get', 'svc', svc]).status?.loadBalancer?.ingress?.[0]?.ip as string | undefined, 15_000, `${svc}'s LoadBalancer IP`);

  before(async () => {
    dir = tempDir('publicdns');
    fs.writeFileSync(path.join(dir, 'lab.yaml'), manifests);
    lab = await startLab({ files: [path.join(dir, 'lab.yaml')], args: ['--no-dns', '--no-netpol'] });
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("resolves a LoadBalancer Service's external-dns hostname from the client, and podpath curl reaches it by name", () =>
    explained(lab, async () => {
      // ip netns exec binds the client's resolv.conf: the lab's router.
      assert.equal(lab.exec('client', ['cat', '/etc/resolv.conf']).stdout, 'nameserver 192.168.49.1\n');
      const ip = await lbIP('web');
      await eventually(() => resolve('web.example.com') === ip, 10_000, `web.example.com to resolve to ${ip}`);
      const r = await eventually(() => {
        const x = lab.curl('client', 'http://web.example.com:8080/api/v1/hello', ['--max-time', '2']);
        return x.code === 0 ? x : undefined;
      }, 15_000, 'http://web.example.com:8080 to answer');
      assert.match(JSON.parse(r!.stdout).pod, /^web-/);
      const dig = (args: string[]) => lab.exec('client', ['dig', '+time=2', '+tries=1', ...args]).stdout;
      assert.match(dig(['web.example.com', 'AAAA']), /status: NOERROR.*\n.*flags: qr aa rd ra; QUERY: 1, ANSWER: 0/);
      assert.match(dig(['nothing.example.com']), /status: REFUSED/);
      assert.match(dig(['client.lab']), /status: NOERROR/);
    }));

  it('issues the Ingress TLS Secret signed by the lab CA for exactly its hosts, and leaves a Secret it did not issue alone', () =>
    explained(lab, async () => {
      const secret = await eventually(() => {
        const r = lab.kubectl(['get', 'secret', 'shop-tls', '-o', 'json']);
        return r.code === 0 ? JSON.parse(r.stdout) : undefined;
      }, 15_000, 'Secret shop-tls');
      assert.equal(secret.type, 'kubernetes.io/tls');
      assert.equal(secret.metadata.ownerReferences, undefined);
      assert.equal(secret.metadata.labels['controller.cert-manager.io/fao'], 'true');
      const ann = secret.metadata.annotations;
      assert.deepEqual([ann['cert-manager.io/certificate-name'], ann['cert-manager.io/issuer-name'], ann['cert-manager.io/issuer-kind'], ann['cert-manager.io/alt-names']], ['shop-tls', 'podpath-lab-ca', 'ClusterIssuer', 'shop.example.com,*.apps.example.com']);
      const data = (k: string) => Buffer.from(secret.data[k], 'base64').toString();
      const caFile = labPaths(lab.name).labCACert;
      assert.equal((fs.statSync(caFile).mode & 0o777).toString(8), '600');
      assert.equal(data('ca.crt'), fs.readFileSync(caFile, 'utf8'));
      const cert = new X509Certificate(data('tls.crt'));
      const ca = new X509Certificate(fs.readFileSync(caFile));
      assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), 'signed by the lab CA');
      assert.equal(cert.subjectAltName, 'DNS:shop.example.com, DNS:*.apps.example.com');
      assert.equal(Math.round((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000), 90);
      // The user's Secret is as it was, and the Ingress says why it was not used.
      const taken = json(['get', 'secret', 'taken-tls']);
      assert.equal(taken.type, 'Opaque');
      assert.deepEqual(Object.keys(taken.data), ['note']);
      const warning = await eventually(() => (json(['get', 'events', '--field-selector', 'involvedObject.name=shop']).items as any[]).find((e) => e.type === 'Warning'), 10_000, 'a Warning Event on the Ingress');
      assert.equal(warning.reason, 'SecretNotOwned');
      assert.match(warning.message, /^Secret "taken-tls" exists and was not issued by cert-manager/);
      fs.writeFileSync(path.join(dir, 'tls.crt'), data('tls.crt'));
      fs.writeFileSync(path.join(dir, 'tls.key'), data('tls.key'));
    }));

  it("resolves the Ingress's hosts to its status IP (a wildcard one label deep), and podpath curl https:// verifies the certificate", () =>
    explained(lab, async () => {
      // No Ingress controller here: a TLS server with the issued certificate stands at the
      // address the Ingress's status names.
      lab.ok(['apply', '-f', '-'], tlsServer(dir));
      const ip = await lbIP('tls');
      lab.ok(['patch', 'ingress', 'shop', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip }] } } })]);
      await eventually(() => resolve('shop.example.com') === ip && resolve('x.apps.example.com') === ip, 10_000, `the Ingress hosts to resolve to ${ip}`);
      assert.equal(resolve('a.b.apps.example.com'), undefined);
      assert.equal(resolve('taken.example.com'), ip, 'every tls host is published, whatever its Secret');
      const r = await eventually(() => {
        const x = lab.curl('client', 'https://shop.example.com/', ['--max-time', '2', '-o', '/dev/null', '-w', '%{http_code} %{ssl_verify_result}']);
        return x.code === 0 ? x : undefined;
      }, 20_000, 'https://shop.example.com/ to answer with a verified certificate');
      assert.equal(r!.stdout, '200 0');
      assert.equal(lab.curl('client', 'https://x.apps.example.com/', ['-o', '/dev/null', '-w', '%{ssl_verify_result}']).stdout, '0');
      // A name the certificate does not cover fails verification (curl exit 60).
      assert.equal(lab.curl('client', `https://${ip}/`, ['-o', '/dev/null']).code, 60);
    }));

  it('reissues when the hosts change, and keeps the Secret after the Ingress goes', () =>
    explained(lab, async () => {
      lab.ok(['patch', 'ingress', 'shop', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/tls/0/hosts', value: ['shop.example.com'] }])]);
      await eventually(() => json(['get', 'secret', 'shop-tls']).metadata.annotations['cert-manager.io/alt-names'] === 'shop.example.com', 10_000, 'the Secret reissued for shop.example.com alone');
      const crt = new X509Certificate(Buffer.from(json(['get', 'secret', 'shop-tls']).data['tls.crt'], 'base64'));
      assert.equal(crt.subjectAltName, 'DNS:shop.example.com');
      await eventually(() => resolve('x.apps.example.com') === undefined, 10_000, 'the removed wildcard to stop resolving');
      lab.ok(['delete', 'ingress', 'shop']);
      await eventually(() => resolve('shop.example.com') === undefined, 10_000, 'shop.example.com to stop resolving');
      await sleep(500);
      assert.equal(lab.kubectl(['get', 'secret', 'shop-tls']).code, 0, 'the Secret outlives the Ingress');
    }));
});
