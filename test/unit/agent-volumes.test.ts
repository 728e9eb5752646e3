// A pod's volumes as the node agent writes them (configMap, secret, projected, downwardAPI,
// the implicit service account volume) and the mounts a container gets, read-only where the
// kubelet mounts them so.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { KubeObject, Pod } from '../../src/api/types.ts';
import { containerMounts, setUpVolumes, VolumeError, volumeFiles, type VolumeSources } from '../../src/agent/volumes.ts';
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
  serviceAccount: async () => ({ token: 'tok-123', ca: '-----BEGIN CERTIFICATE-----\n' }),
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

  it('expands $(VAR) as the kubelet does', () => {
    const env = { NODE_NAME: 'minikube', A: 'x' };
    assert.equal(expandVars('--hostname-override=$(NODE_NAME)', env), '--hostname-override=minikube');
    assert.equal(expandVars('$$(NODE_NAME) $(MISSING) $A $(A)$(A)', env), '$(NODE_NAME) $(MISSING) $A xx');
  });
});
