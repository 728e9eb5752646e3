// A lab's node agents as kubeadm's kubelets: each authenticates with its own client certificate
// (system:node:NAME in system:nodes) and the Node authorizer and NodeRestriction hold it to the
// pods bound to it and its own Node — kubectl with a node's kubeconfig (1.32, and Debian's 1.20
// when present) reads the secret of a pod on its node but not one on another node, and labels
// its own Node but not another's. Pods get their own service accounts' tokens, bound to them.
// The controller manager has its own identity too, and each of its controllers acts as its own
// service account in kube-system, held to its system:controller role.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { labPaths } from '../../src/lab/lab.ts';
import { eventually, kubectlBin, makeKubectl, repoRoot, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';

const debianKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');
const kubectls = [{ version: '1.32', bin: kubectlBin }, ...(fs.existsSync(debianKubectl) ? [{ version: '1.20', bin: debianKubectl }] : [])];

const podWithSecret = (name: string, node: string, secret: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  nodeName: ${node}
  volumes:
  - {name: s, secret: {secretName: ${secret}}}
  - {name: vault, projected: {sources: [{serviceAccountToken: {audience: vault, expirationSeconds: 600, path: token}}]}}
  containers:
  - {name: main, image: busybox, command: [sleep, '600'], volumeMounts: [{name: s, mountPath: /secret}, {name: vault, mountPath: /vault}]}
`;

describe('node agents with their own identities in a lab', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  let nodes: string[];
  let nodeKubeconfig: string;
  let controllerManagerKubeconfig: string;
  /** A component's kubeconfig, pointed at the API server through the host's tunnel. */
  const tunnelled = (file: string): string => {
    const mine = YAML.parse(fs.readFileSync(lab.kubeconfig, 'utf8'));
    const theirs = YAML.parse(fs.readFileSync(file, 'utf8'));
    theirs.clusters[0].cluster.server = mine.clusters[0].cluster.server;
    const out = path.join(tempDir('componentkc'), 'kubeconfig');
    fs.writeFileSync(out, YAML.stringify(theirs), { mode: 0o600 });
    return out;
  };

  before(async () => {
    lab = await startLab({ nodes: 2, args: ['--no-netpol', '--no-dns'], tag: 'na' });
    nodes = lab.ok(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}']).trim().split(' ').sort();
    lab.ok(['create', 'secret', 'generic', 'first', '--from-literal=key=one']);
    lab.ok(['create', 'secret', 'generic', 'second', '--from-literal=key=two']);
    lab.ok(['apply', '-f', '-'], podWithSecret('on-first', nodes[0]!, 'first') + '---\n' + podWithSecret('on-second', nodes[1]!, 'second'));
    nodeKubeconfig = tunnelled(labPaths(lab.name).nodeKubeconfig(nodes[1]!));
    controllerManagerKubeconfig = tunnelled(labPaths(lab.name).controllerManagerKubeconfig);
    await eventually(() => lab.ok(['get', 'pods', '-o', 'jsonpath={.items[*].status.phase}']).trim() === 'Running Running', 60_000, 'both pods to run');
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
  });

  it("mounts each pod's secret through its own node's credential, and the pod's own service account token", () =>
    explained(lab, async () => {
      assert.equal(lab.ok(['exec', 'on-second', '--', 'cat', '/secret/key']), 'two');
      const token = lab.ok(['exec', 'on-first', '--', 'cat', '/var/run/secrets/kubernetes.io/serviceaccount/token']);
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
      assert.equal(claims.sub, 'system:serviceaccount:default:default');
      assert.equal(claims['kubernetes.io'].pod.name, 'on-first');
      assert.deepEqual(claims.aud, ['https://kubernetes.default.svc.cluster.local']);
      // A projected token carries the audience and lifetime its volume asks for, not the pod's default.
      const projected = lab.ok(['exec', 'on-first', '--', 'cat', '/vault/token']);
      const pc = JSON.parse(Buffer.from(projected.split('.')[1]!, 'base64url').toString('utf8'));
      assert.deepEqual([pc.aud, pc.exp - pc.iat, pc['kubernetes.io'].pod.name], [['vault'], 600, 'on-first']);
      const review = lab.ok(['create', '-f', '-', '-o', 'json'], JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: projected, audiences: ['vault'] } }));
      assert.equal(JSON.parse(review).status.authenticated, true, 'the vault audience accepts it');
      const spec = JSON.parse(lab.ok(['get', 'pod', 'on-first', '-o', 'json'])).spec.volumes;
      assert.deepEqual(spec[1].projected, { defaultMode: 420, sources: [{ serviceAccountToken: { audience: 'vault', expirationSeconds: 600, path: 'token' } }] });
    }));

  for (const { version, bin } of kubectls) {
    it(`kubectl ${version} as a node reads only its own pods' secrets and modifies only its own Node, in upstream's words`, () =>
      explained(lab, async () => {
        const asNode = makeKubectl(nodeKubeconfig, bin);
        const [first, second] = nodes as [string, string];
        let r = asNode(['get', 'secret', 'second', '-o', 'jsonpath={.data.key}']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(Buffer.from(r.stdout, 'base64').toString(), 'two');
        r = asNode(['get', 'secret', 'first']);
        assert.notEqual(r.code, 0);
        assert.equal(r.stderr.trim(), `Error from server (Forbidden): secrets "first" is forbidden: User "system:node:${second}" cannot get resource "secrets" in API group "" in the namespace "default": no relationship found between node '${second}' and this object`);
        r = asNode(['get', 'pods']);
        assert.match(r.stderr, /can only list\/watch pods with spec.nodeName field selector/);
        assert.match(asNode(['get', 'pods', '--field-selector', `spec.nodeName=${second}`, '-o', 'name']).stdout, /^pod\/on-second$/m);
        r = asNode(['label', 'node', first, `seen-by-${version.replace('.', '-')}=yes`]);
        assert.notEqual(r.code, 0);
        assert.equal(r.stderr.trim(), `Error from server (Forbidden): nodes "${first}" is forbidden: node "${second}" is not allowed to modify node "${first}"`);
        r = asNode(['label', 'node', second, `seen-by-${version.replace('.', '-')}=yes`]);
        assert.equal(r.code, 0, r.stderr);
        r = asNode(['label', 'node', second, 'node-restriction.kubernetes.io/trusted=yes']);
        assert.equal(r.stderr.trim(), `Error from server (Forbidden): nodes "${second}" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/trusted`);
        // the admin may
        lab.ok(['label', 'node', first, 'node-restriction.kubernetes.io/trusted=yes', '--overwrite']);
      }));
  }

  it('runs the controller manager as system:kube-controller-manager, which may watch everything but not write what its controllers write', () =>
    explained(lab, async () => {
      const asManager = makeKubectl(controllerManagerKubeconfig);
      let r = asManager(['get', 'pods', '-A', '-o', 'name']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^pod\/on-first$/m);
      r = asManager(['create', 'deployment', 'by-manager', '--image=busybox']);
      assert.equal(r.stderr.trim(), 'error: failed to create deployment: deployments.apps is forbidden: User "system:kube-controller-manager" cannot create resource "deployments" in API group "apps" in the namespace "default"');
      r = asManager(['delete', 'pod', 'on-first']);
      assert.equal(r.stderr.trim(), 'Error from server (Forbidden): pods "on-first" is forbidden: User "system:kube-controller-manager" cannot delete resource "pods" in API group "" in the namespace "default"');
    }));

  it('runs the lab resolver as podpath:lab-resolver, which reads what external-dns reads and no Secret', () =>
    explained(lab, async () => {
      const asResolver = makeKubectl(tunnelled(labPaths(lab.name).resolverKubeconfig));
      let r = asResolver(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
      assert.deepEqual([r.code, r.stdout], [0, 'podpath:lab-resolver'], r.stderr);
      for (const what of ['ingresses.networking.k8s.io', 'services', 'nodes']) assert.equal(asResolver(['auth', 'can-i', 'watch', what, '-A']).stdout.trim(), 'yes', what);
      r = asResolver(['get', 'secrets', '-n', 'default']);
      assert.match(r.stderr, /secrets is forbidden: User "podpath:lab-resolver" cannot list resource "secrets" in API group "" in the namespace "default"/);
      // and it publishes as before: a LoadBalancer Service's hostname annotation resolves on the router
      lab.ok(['create', 'service', 'loadbalancer', 'published', '--tcp=80:80']);
      lab.ok(['annotate', 'service', 'published', 'external-dns.alpha.kubernetes.io/hostname=published.example.com']);
      const ip = await eventually(() => lab.ok(['get', 'service', 'published', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']) || undefined, 20_000, 'a LoadBalancer IP');
      await eventually(() => lab.exec('client', ['getent', 'hosts', 'published.example.com']).stdout.split(/\s+/)[0] === ip || undefined, 20_000, 'the name published');
      lab.ok(['delete', 'service', 'published']);
    }));

  it("writes a Deployment's ReplicaSet as kube-system:deployment-controller: without that binding it is refused, with it back it is made", () =>
    explained(lab, async () => {
      const binding = 'system:controller:deployment-controller';
      assert.equal(lab.ok(['get', 'clusterrolebinding', binding, '-o', 'jsonpath={.subjects[0].kind}/{.subjects[0].namespace}/{.subjects[0].name}']), 'ServiceAccount/kube-system/deployment-controller');
      const log = path.join(labPaths(lab.name).logs, 'controller-manager.log');
      lab.ok(['delete', 'clusterrolebinding', binding]);
      try {
        lab.ok(['create', 'deployment', 'denied', '--image=busybox', '--', 'sleep', '600']);
        await eventually(() => fs.readFileSync(log, 'utf8').includes('replicasets.apps is forbidden: User "system:serviceaccount:kube-system:deployment-controller" cannot create resource "replicasets" in API group "apps" in the namespace "default"'), 30_000, "the deployment controller's refused ReplicaSet in its log");
        assert.equal(lab.ok(['get', 'rs', '-l', 'app=denied', '-o', 'name']), '');
      } finally {
        lab.ok(['create', 'clusterrolebinding', binding, `--clusterrole=${binding}`, '--serviceaccount=kube-system:deployment-controller']);
      }
      await eventually(() => lab.ok(['get', 'rs', '-l', 'app=denied', '-o', 'name']).startsWith('replicaset.apps/denied-'), 30_000, 'the ReplicaSet once the binding is back');
      // its events are the controller's as before, written as its service account
      await eventually(() => /Normal\s+ScalingReplicaSet\s+deployment\/denied\s+Scaled up replica set denied-\w+ from 0 to 1/.test(lab.ok(['get', 'events', '--field-selector', 'involvedObject.name=denied'])), 30_000, 'the ScalingReplicaSet event');
      lab.ok(['delete', 'deployment', 'denied']);
    }));
});
