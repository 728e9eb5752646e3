// kube-proxy in a lab, laid out as kubeadm lays it out: the ConfigMap kube-system/kube-proxy
// (config.conf, the KubeProxyConfiguration; kubeconfig.conf, to the API server's address — not
// the `kubernetes` Service, which kube-proxy itself makes reachable), the ServiceAccount, and the
// DaemonSet kube-system/kube-proxy: host network, privileged, every taint tolerated, one pod per
// node running `kube-proxy --config=/var/lib/kube-proxy/config.conf
// --hostname-override=$(NODE_NAME)`. So `kubectl edit cm kube-proxy -n kube-system` and
// `kubectl delete pod -n kube-system -l k8s-app=kube-proxy` change the mode, as on kubeadm.
import fs from 'node:fs';
import YAML from 'yaml';
import type { KubeObject, Pod } from '../api/types.ts';
import { collectionPath, objectPath, type Client } from '../client/client.ts';
import { clusterCIDR, serviceCIDR } from './defaults.ts';

export const kubeProxyNamespace = 'kube-system';
export const kubeProxyName = 'kube-proxy';
export const kubeProxyLabels = { 'k8s-app': 'kube-proxy' };
/** where the ConfigMap is mounted in the pod, as kubeadm mounts it */
export const kubeProxyConfigDir = '/var/lib/kube-proxy';

/** The KubeProxyConfiguration kubeadm writes (v1alpha1, every field, zero values meaning "the default"). */
export function kubeadmKubeProxyConfiguration(): Record<string, unknown> {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    bindAddress: '0.0.0.0',
    bindAddressHardFail: false,
    clientConnection: { acceptContentTypes: '', burst: 0, contentType: '', kubeconfig: `${kubeProxyConfigDir}/kubeconfig.conf`, qps: 0 },
    clusterCIDR,
    configSyncPeriod: '0s',
    conntrack: { maxPerCore: null, min: null, tcpBeLiberal: false, tcpCloseWaitTimeout: null, tcpEstablishedTimeout: null, udpStreamTimeout: '0s', udpTimeout: '0s' },
    detectLocal: { bridgeInterface: '', interfaceNamePrefix: '' },
    detectLocalMode: '',
    enableProfiling: false,
    healthzBindAddress: '',
    hostnameOverride: '',
    iptables: { localhostNodePorts: null, masqueradeAll: false, masqueradeBit: null, minSyncPeriod: '0s', syncPeriod: '0s' },
    ipvs: { excludeCIDRs: null, minSyncPeriod: '0s', scheduler: '', strictARP: false, syncPeriod: '0s', tcpFinTimeout: '0s', tcpTimeout: '0s', udpTimeout: '0s' },
    kind: 'KubeProxyConfiguration',
    logging: { flushFrequency: 0, options: { json: { infoBufferSize: '0' }, text: { infoBufferSize: '0' } }, verbosity: 0 },
    metricsBindAddress: '',
    mode: '',
    nftables: { masqueradeAll: false, masqueradeBit: null, minSyncPeriod: '0s', syncPeriod: '0s' },
    nodePortAddresses: null,
    oomScoreAdj: null,
    portRange: '',
    showHiddenMetricsForVersion: '',
    winkernel: { enableDSR: false, forwardHealthCheckVip: false, networkName: '', rootHnsEndpointName: '', sourceVip: '' },
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return Boolean(v) && typeof v === 'object' && !Array.isArray(v);
}

/** `over` merged onto `base`, object fields recursively. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isPlainObject(v) && isPlainObject(out[k]) ? merge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

/**
 * The lab's config.conf: kubeadm's, with a --proxy-config file's fields over it, the lab's mode
 * (iptables, the default, as kubeadm writes it: mode ""), and strict ARP on (the lab announces
 * LoadBalancer IPs on the underlay, as MetalLB's layer-2 mode does, which needs it beside
 * Service addresses on kube-ipvs0 in IPVS and userspace modes).
 */
export function labKubeProxyConfiguration(mode: string, configFile?: string): Record<string, unknown> {
  let doc = kubeadmKubeProxyConfiguration();
  if (configFile) {
    const user = YAML.parse(fs.readFileSync(configFile, 'utf8')) as unknown;
    if (isPlainObject(user)) doc = merge(doc, user);
  }
  doc.mode = mode === 'iptables' && !doc.mode ? '' : mode;
  doc.ipvs = { ...(doc.ipvs as Record<string, unknown>), strictARP: true };
  return doc;
}

/** kubeconfig.conf: the API server at its address on the node network, with the pod's service account credentials. */
export function kubeProxyKubeconfig(apiServer: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ cluster: { 'certificate-authority': '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt', server: apiServer }, name: 'default' }],
    contexts: [{ context: { cluster: 'default', namespace: 'default', user: 'default' }, name: 'default' }],
    'current-context': 'default',
    users: [{ name: 'default', user: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' } }],
  };
}

/** The ServiceAccount, ConfigMap and DaemonSet of kube-proxy. */
export function kubeProxyAddon(o: { config: Record<string, unknown>; apiServer: string }): KubeObject[] {
  const meta = (extra: Record<string, unknown> = {}) => ({ name: kubeProxyName, namespace: kubeProxyNamespace, ...extra });
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta() },
    // kubeadm binds the bootstrap ClusterRole system:node-proxier to kube-proxy's service account.
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'kubeadm:node-proxier' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node-proxier' },
      subjects: [{ kind: 'ServiceAccount', name: kubeProxyName, namespace: kubeProxyNamespace }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta({ labels: { app: 'kube-proxy' } }),
      data: { 'config.conf': YAML.stringify(o.config), 'kubeconfig.conf': YAML.stringify(kubeProxyKubeconfig(o.apiServer)) },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: meta({ labels: kubeProxyLabels }),
      spec: {
        selector: { matchLabels: kubeProxyLabels },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
        template: {
          metadata: { labels: kubeProxyLabels },
          spec: {
            containers: [
              {
                name: 'kube-proxy',
                image: 'podpath/kube-proxy',
                imagePullPolicy: 'IfNotPresent',
                // kubeadm's command; --service-cidr is podpath's (nftables mode drops traffic to unallocated Service IPs)
                command: ['/usr/local/bin/kube-proxy', `--config=${kubeProxyConfigDir}/config.conf`, '--hostname-override=$(NODE_NAME)', `--service-cidr=${serviceCIDR}`],
                env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } }],
                securityContext: { privileged: true },
                volumeMounts: [
                  { mountPath: kubeProxyConfigDir, name: 'kube-proxy' },
                  { mountPath: '/run/xtables.lock', name: 'xtables-lock' },
                  { mountPath: '/lib/modules', name: 'lib-modules', readOnly: true },
                ],
              },
            ],
            hostNetwork: true,
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            priorityClassName: 'system-node-critical',
            serviceAccountName: kubeProxyName,
            // the proxy ends its work at once on SIGTERM; its rules stay for the next one
            terminationGracePeriodSeconds: 30,
            tolerations: [{ operator: 'Exists' }],
            volumes: [
              { name: 'kube-proxy', configMap: { name: kubeProxyName, defaultMode: 420 } },
              { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
              { name: 'lib-modules', hostPath: { path: '/lib/modules', type: '' } },
            ],
          },
        },
      },
    },
  ] as KubeObject[];
}

/** The kube-system pods of a label selector (a DaemonSet's). */
export async function kubeSystemPods(client: Client, selector: string): Promise<Pod[]> {
  const list = await client.get<{ items: Pod[] }>(`${collectionPath('v1', 'pods', kubeProxyNamespace)}?labelSelector=${encodeURIComponent(selector)}`);
  return list.items;
}

/** The kube-proxy pods. */
export function kubeProxyPods(client: Client): Promise<Pod[]> {
  return kubeSystemPods(client, 'k8s-app=kube-proxy');
}

/**
 * `podpath restart proxy-NODE` (and netpol-NODE): the node's pod of a kube-system DaemonSet
 * deleted, as `kubectl delete pod` does, and the one the DaemonSet makes instead once it runs
 * (at most `timeoutMs`).
 */
export async function restartDaemonSetPod(client: Client, selector: string, node: string, timeoutMs = 60_000): Promise<{ deleted: string[]; started?: string }> {
  const before = (await kubeSystemPods(client, selector)).filter((p) => p.spec.nodeName === node);
  for (const p of before) await client.request('DELETE', objectPath('v1', 'pods', kubeProxyNamespace, p.metadata.name!));
  const old = new Set(before.map((p) => p.metadata.uid));
  const deadline = Date.now() + timeoutMs;
  while (before.length && Date.now() < deadline) {
    const fresh = (await kubeSystemPods(client, selector)).find((p) => p.spec.nodeName === node && !old.has(p.metadata.uid) && p.status?.containerStatuses?.[0]?.state?.running);
    if (fresh) return { deleted: before.map((p) => p.metadata.name!), started: fresh.metadata.name! };
    await new Promise((r) => setTimeout(r, 200));
  }
  return { deleted: before.map((p) => p.metadata.name!) };
}
