// A pod's volumes as the node agent writes them (configMap, secret, projected, downwardAPI,
// the implicit service account volume) and the mounts a container gets, read-only where the
// kubelet mounts them so.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { KubeObject, Pod } from '../../src/api/types.ts';
import { containerMounts, setUpVolumes, tokenRefreshAt, VolumeError, volumeFiles, writeVolume, type TokenWant, type VolumeSources } from '../../src/agent/volumes.ts';
import { expandVars } from '../../src/agent/env.ts';
import { tempStateDir } from '../helpers/agent.ts';

const configMaps: Record<string, KubeObject> = {
  'kube-system/kube-proxy': {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kube-proxy', namespace: 'kube-system' },
    data: {
      'config.conf': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\nclientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\n',
      'kubeconfig.conf':
        'apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n    server: https://192.168.49.2:6443\n  name: default\ncontexts:\n- context:\n    cluster: default\n    namespace: default\n    user: default\n  name: default\ncurrent-context: default\nusers:\n- name: default\n  user:\n    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n',
    },
  },
};
const secrets: Record<string, KubeObject> = {
  'default/creds': { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'default' }, data: { password: Buffer.from('s3cret').toString('base64') } },
};
const sources: VolumeSources = {
  configMap: async (ns, name) => configMaps[`${ns}/${name}`],
  secret: async (ns, name) => secrets[`${ns}/${name}`],
  serviceAccount: async () => ({ token: 'tok-123', ca: '-----BEGIN CERTIFICATE-----\n', refreshAt: Infinity }),
};

const kubeProxyPod = (): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'kube-proxy-x2k4q', namespace: 'kube-system', uid: 'u1', labels: { 'k8s-app': 'kube-proxy' } },
  spec: {
    hostNetwork: true,
    containers: [{ name: 'kube-proxy', image: 'podpath/kube-proxy', volumeMounts: [{ name: 'kube-proxy', mountPath: '/var/lib/kube-proxy' }, { name: 'xtables-lock', mountPath: '/run/xtables.lock' }] }],
    volumes: [
      { name: 'kube-proxy', configMap: { name: 'kube-proxy' } },
      { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
    ],
  },
});

describe('pod volumes', () => {
  it('writes a configMap volume key by key, and a secret decoded, with items choosing keys and paths', async () => {
    const pod = kubeProxyPod();
    const files = await volumeFiles(pod, { name: 'kube-proxy', configMap: { name: 'kube-proxy' } }, sources);
    assert.deepEqual(files!.map((f) => [f.path, f.mode]), [['config.conf', 0o644], ['kubeconfig.conf', 0o644]]);
    const only = await volumeFiles(pod, { name: 'x', configMap: { name: 'kube-proxy', items: [{ key: 'config.conf', path: 'sub/c.yaml', mode: 0o400 }] } }, sources);
    assert.deepEqual(only!.map((f) => [f.path, f.mode]), [['sub/c.yaml', 0o400]]);
    const sec = await volumeFiles({ ...pod, metadata: { ...pod.metadata, namespace: 'default' } }, { name: 's', secret: { secretName: 'creds' } }, sources);
    assert.equal(sec![0]!.content.toString(), 's3cret');
    const dapi = await volumeFiles(pod, { name: 'd', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } }, sources);
    assert.deepEqual(dapi!.map((f) => f.content.toString()), ['k8s-app="kube-proxy"', 'kube-proxy-x2k4q']);
  });

  it("fails as the kubelet's FailedMount says when a configMap or key is missing, unless optional", async () => {
    const pod = kubeProxyPod();
    pod.spec.volumes = [{ name: 'cfg', configMap: { name: 'nope' } }];
    await assert.rejects(setUpVolumes(pod, path.join(tempStateDir(), 'v'), sources), (e: Error) => e instanceof VolumeError && e.message === 'MountVolume.SetUp failed for volume "cfg" : configmap "nope" not found');
    pod.spec.volumes = [{ name: 'cfg', configMap: { name: 'kube-proxy', items: [{ key: 'absent', path: 'a' }] } }];
    await assert.rejects(setUpVolumes(pod, path.join(tempStateDir(), 'v'), sources), /configmap references non-existent config key: absent/);
    pod.spec.volumes = [{ name: 'cfg', configMap: { name: 'nope', optional: true } }];
    await setUpVolumes(pod, path.join(tempStateDir(), 'v'), sources);
  });

  it('sets up every volume and the service account volume, and maps mount paths to them', async () => {
    const dir = path.join(tempStateDir(), 'volumes', 'u1');
    const pod = kubeProxyPod();
    pod.spec.volumes![1] = { name: 'xtables-lock', hostPath: { path: path.join(dir, '..', 'xtables.lock'), type: 'FileOrCreate' } };
    await setUpVolumes(pod, dir, sources);
    assert.match(fs.readFileSync(path.join(dir, 'kube-proxy', 'config.conf'), 'utf8'), /mode: nftables/);
    assert.equal(fs.readFileSync(path.join(dir, 'kube-api-access', 'token'), 'utf8'), 'tok-123');
    assert.equal(fs.readFileSync(path.join(dir, 'kube-api-access', 'namespace'), 'utf8'), 'kube-system');
    assert.equal(fs.statSync(path.join(dir, 'kube-api-access', 'token')).mode & 0o777, 0o600);
    assert.ok(fs.existsSync(path.join(dir, '..', 'xtables.lock')), 'FileOrCreate made the host file');
    // configMap and projected volumes are read-only whatever the volumeMount says; hostPath is as the mount says.
    assert.deepEqual(containerMounts(pod, pod.spec.containers[0]!, (v) => path.join(dir, v)), [
      { source: path.join(dir, 'kube-proxy'), target: '/var/lib/kube-proxy', readOnly: true },
      { source: path.join(dir, '..', 'xtables.lock'), target: '/run/xtables.lock', readOnly: false },
      { source: path.join(dir, 'kube-api-access'), target: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    ]);
    assert.deepEqual(containerMounts({ ...pod, spec: { ...pod.spec, automountServiceAccountToken: false } }, pod.spec.containers[0]!, (v) => path.join(dir, v)).length, 2);
  });

  it("asks for a projected token with the volume's audience and lifetime, and writes token volumes again in place when they are due", async () => {
    const dir = path.join(tempStateDir(), 'volumes', 'u2');
    const asked: TokenWant[] = [];
    let n = 0;
    const src: VolumeSources = {
      ...sources,
      serviceAccount: async (_pod, want) => {
        asked.push(want);
        n++;
        return { token: `tok-${n}`, ca: 'ca', refreshAt: tokenRefreshAt(1_000_000, want.expirationSeconds) };
      },
    };
    const pod = kubeProxyPod();
    pod.spec.volumes = [
      { name: 'kube-proxy', configMap: { name: 'kube-proxy' } },
      { name: 'vault', projected: { sources: [{ serviceAccountToken: { audience: 'vault', expirationSeconds: 600, path: 'vault-token' } }, { serviceAccountToken: { path: 'api-token' } }] } },
    ];
    const due = await setUpVolumes(pod, dir, src);
    // kube-api-access's 3607 s, the projection's own 600 s, and a projection's default hour
    assert.deepEqual(asked, [{ audience: 'vault', expirationSeconds: 600 }, { expirationSeconds: 3600 }, { expirationSeconds: 3607 }]);
    assert.equal(due, 1_000_000 + 480_000, 'due at 80% of the shortest lifetime');
    assert.equal(tokenRefreshAt(0, 1e9), 24 * 3600 * 1000, 'and never later than a day');
    assert.equal(fs.readFileSync(path.join(dir, 'vault', 'vault-token'), 'utf8'), 'tok-1');
    assert.equal(fs.statSync(path.join(dir, 'vault', 'vault-token')).mode & 0o777, 0o600);
    const inode = fs.statSync(path.join(dir, 'vault')).ino;
    const cmWritten = fs.statSync(path.join(dir, 'kube-proxy', 'config.conf')).mtimeMs;
    asked.length = 0;
    await setUpVolumes(pod, dir, src, { tokensOnly: true });
    assert.equal(asked.length, 3, 'every token volume is written again');
    assert.equal(fs.readFileSync(path.join(dir, 'vault', 'vault-token'), 'utf8'), 'tok-4');
    assert.equal(fs.statSync(path.join(dir, 'vault')).ino, inode, 'the directory containers bind-mount stays');
    assert.equal(fs.statSync(path.join(dir, 'kube-proxy', 'config.conf')).mtimeMs, cmWritten, 'volumes without a token are left alone');
    assert.deepEqual(fs.readdirSync(path.join(dir, 'vault')).sort(), ['api-token', 'vault-token'], 'no temporary file is left');
  });

  it('removes the files a volume no longer has when it is written again', () => {
    const dir = path.join(tempStateDir(), 'volumes', 'u3', 'cfg');
    const f = (p: string) => ({ path: p, content: Buffer.from(p), mode: 0o644 });
    writeVolume(dir, [f('a'), f('sub/b'), f('old/c')]);
    writeVolume(dir, [f('a'), f('sub/d')]);
    assert.deepEqual(fs.readdirSync(dir, { recursive: true }).map(String).sort(), ['a', 'sub', 'sub/d']);
    assert.throws(() => writeVolume(dir, [f('../x')]), VolumeError);
  });

  it('expands $(VAR) as the kubelet does', () => {
    const env = { NODE_NAME: 'minikube', A: 'x' };
    assert.equal(expandVars('--hostname-override=$(NODE_NAME)', env), '--hostname-override=minikube');
    assert.equal(expandVars('$$(NODE_NAME) $(MISSING) $A $(A)$(A)', env), '$(NODE_NAME) $(MISSING) $A xx');
  });
});
