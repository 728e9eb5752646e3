// A lab's node agents as kubeadm's kubelets: each authenticates with its own client certificate
// (system:node:NAME in system:nodes) and the Node authorizer and NodeRestriction hold it to the
// pods bound to it and its own Node — kubectl with a node's kubeconfig (1.32, and Debian's 1.20
// when present) reads the secret of a pod on its node but not one on another node, and labels
// its own Node but not another's. Pods get their own service accounts' tokens, bound to them.
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
  volumes: [{name: s, secret: {secretName: ${secret}}}]
  containers:
  - {name: main, image: busybox, command: [sleep, '600'], volumeMounts: [{name: s, mountPath: /secret}]}
`;

describe('node agents with their own identities in a lab', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  let nodes: string[];
  let nodeKubeconfig: string;

  before(async () => {
    lab = await startLab({ nodes: 2, args: ['--no-netpol', '--no-dns'], tag: 'na' });
    nodes = lab.ok(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}']).trim().split(' ').sort();
    lab.ok(['create', 'secret', 'generic', 'first', '--from-literal=key=one']);
    lab.ok(['create', 'secret', 'generic', 'second', '--from-literal=key=two']);
    lab.ok(['apply', '-f', '-'], podWithSecret('on-first', nodes[0]!, 'first') + '---\n' + podWithSecret('on-second', nodes[1]!, 'second'));
    // the second node's kubelet kubeconfig, pointed at the API server through the host's tunnel
    const mine = YAML.parse(fs.readFileSync(lab.kubeconfig, 'utf8'));
    const node = YAML.parse(fs.readFileSync(labPaths(lab.name).nodeKubeconfig(nodes[1]!), 'utf8'));
    node.clusters[0].cluster.server = mine.clusters[0].cluster.server;
    nodeKubeconfig = path.join(tempDir('nodekc'), 'kubeconfig');
    fs.writeFileSync(nodeKubeconfig, YAML.stringify(node), { mode: 0o600 });
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
});
