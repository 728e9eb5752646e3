// The lab's cluster add-ons, applied by `podpath up` like kubeadm applies its own: the cluster
// DNS as CoreDNS is deployed (Deployment `coredns` in kube-system, two replicas, behind the
// `kube-dns` Service at the cluster DNS address), running the built-in image podpath/coredns.
import type { KubeObject } from '../api/types.ts';

export interface DnsAddonOptions {
  /** the kube-dns Service's ClusterIP (the kubelet's --cluster-dns) */
  clusterIP: string;
  zone: string;
  replicas?: number;
  /** resolvers for names outside the zone (default: the node's resolv.conf, dnsPolicy Default) */
  upstream?: string;
}

export function dnsAddon(o: DnsAddonOptions): KubeObject[] {
  const labels = { 'k8s-app': 'kube-dns' };
  const args = ['--zone', o.zone, '--ttl', '5', ...(o.upstream ? ['--upstream', o.upstream] : [])];
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'kube-system', labels },
      spec: {
        replicas: o.replicas ?? 2,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            // CoreDNS forwards to the node's resolvers, so it must not use itself.
            dnsPolicy: 'Default',
            containers: [
              {
                name: 'coredns',
                image: 'podpath/coredns',
                args,
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                  { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
                ],
                livenessProbe: { httpGet: { path: '/health', port: 8080 }, initialDelaySeconds: 60, timeoutSeconds: 5, failureThreshold: 5 },
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { ...labels, 'kubernetes.io/name': 'CoreDNS' }, annotations: { 'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true' } },
      spec: {
        selector: labels,
        clusterIP: o.clusterIP,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
          { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
        ],
      },
    },
  ] as KubeObject[];
}
