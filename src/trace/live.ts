// The trace's view of a running cluster: the same objects a state file holds, listed from an API
// server (the lab's through its tunnel, or any cluster's through a kubeconfig). Items of a list
// carry no kind, so each is stamped with its list's before sorting. kube-proxy's mode and pod
// network come from its ConfigMap, where kubeadm (and the lab) keep them.
import YAML from 'yaml';
import { ApiError } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';
import { collectionPath, objectPath, type Client } from '../client/client.ts';
import { sortObjects, traceKinds, type ClusterObjects } from './cluster.ts';

/** The resource (plural) of each kind the trace reads. */
export const traceResources: Record<string, string> = {
  Node: 'nodes',
  Namespace: 'namespaces',
  Pod: 'pods',
  Service: 'services',
  EndpointSlice: 'endpointslices',
  Ingress: 'ingresses',
  IngressClass: 'ingressclasses',
  NetworkPolicy: 'networkpolicies',
  Secret: 'secrets',
  GatewayClass: 'gatewayclasses',
  Gateway: 'gateways',
  HTTPRoute: 'httproutes',
  ReferenceGrant: 'referencegrants',
};

/** Every object of the trace's kinds, in all namespaces, as the API server lists them now. */
export async function readClusterObjects(client: Client): Promise<ClusterObjects> {
  const lists = await Promise.all(
    traceKinds.map(async (k) => {
      const l = await client.get<{ items: KubeObject[] }>(collectionPath(k.apiVersion, traceResources[k.kind]!)).catch((e: unknown) => {
        // a CRD's kind where the CRD is not installed
        if (k.optional && e instanceof ApiError && e.code === 404) return { items: [] };
        throw e;
      });
      return l.items.map((o) => ({ ...o, apiVersion: k.apiVersion, kind: k.kind }));
    }),
  );
  return sortObjects(lists.flat());
}

/** What the trace takes from kube-proxy's configuration (the ConfigMap kube-system/kube-proxy, as kubeadm lays it out). */
export interface ProxyConfigSummary {
  /** iptables when the file says "" (kube-proxy's default on Linux) */
  mode: string;
  clusterCIDR?: string;
  /** ipvs.scheduler, when set (the IPVS and userspace proxies' balancing) */
  scheduler?: string;
  /** where it was read, for the report */
  source: string;
}

/** kube-proxy's mode and cluster CIDR from its ConfigMap's config.conf; undefined when the cluster has none (not a kubeadm layout). */
export async function readProxyConfig(client: Client): Promise<ProxyConfigSummary | undefined> {
  let cm: { data?: Record<string, string> };
  try {
    cm = await client.get<{ data?: Record<string, string> }>(objectPath('v1', 'configmaps', 'kube-system', 'kube-proxy'));
  } catch (e) {
    if (e instanceof ApiError && e.code === 404) return undefined;
    throw e;
  }
  return proxyConfigOf(cm);
}

/** What the trace takes from the ConfigMap kube-system/kube-proxy (as read once, or as a watch holds it); undefined without a config.conf. */
export function proxyConfigOf(cm: { data?: Record<string, string> }): ProxyConfigSummary | undefined {
  const text = cm.data?.['config.conf'];
  if (text === undefined) return undefined;
  const doc = YAML.parse(text) as { mode?: string; clusterCIDR?: string; ipvs?: { scheduler?: string } } | null;
  return { mode: doc?.mode || 'iptables', ...(doc?.clusterCIDR ? { clusterCIDR: doc.clusterCIDR.split(',')[0]!.trim() } : {}), ...(doc?.ipvs?.scheduler ? { scheduler: doc.ipvs.scheduler } : {}), source: 'ConfigMap kube-system/kube-proxy config.conf' };
}
