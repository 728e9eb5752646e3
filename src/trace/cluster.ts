// What the trace knows of the cluster: its objects, and the address plan they live in (the lab's:
// underlay, client, router, pod and Service ranges, CNI backend), indexed the ways a hop asks —
// which node owns an address, which pod has an IP, which node answers for a LoadBalancer IP.
import type { EndpointSlice, Ingress, IngressClass, KubeObject, Namespace, NetworkPolicy, Node, Pod, Service } from '../api/types.ts';
import { announcements } from '../agent/announce.ts';
import type { CniBackend } from '../cni/routes.ts';
import { cidrAddress, cidrContains, parseCIDR } from '../util/ip.ts';
import type { Secret } from '../ingress/model.ts';
import type { Gateway, GatewayClass, HTTPRoute, ReferenceGrant } from '../gateway/types.ts';

export interface ClusterObjects {
  nodes: Node[];
  pods: Pod[];
  services: Service[];
  slices: EndpointSlice[];
  namespaces: Namespace[];
  ingresses: Ingress[];
  ingressClasses: IngressClass[];
  policies: NetworkPolicy[];
  secrets: Secret[];
  /** the Gateway API's objects (absent where its CRDs are not installed) */
  gatewayClasses?: GatewayClass[];
  gateways?: Gateway[];
  httpRoutes?: HTTPRoute[];
  referenceGrants?: ReferenceGrant[];
}

/** The kinds a state file for the trace may hold. */
export const traceKinds = [
  { apiVersion: 'v1', kind: 'Node', namespaced: false },
  { apiVersion: 'v1', kind: 'Namespace', namespaced: false },
  { apiVersion: 'v1', kind: 'Pod', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', namespaced: true },
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', namespaced: false },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespaced: true },
  { apiVersion: 'v1', kind: 'Secret', namespaced: true },
  // the Gateway API's standard channel: CRDs, so a cluster may not serve them (optional)
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', namespaced: false, optional: true },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', namespaced: true, optional: true },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', namespaced: true, optional: true },
  { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', namespaced: true, optional: true },
];

export function sortObjects(objs: KubeObject[]): ClusterObjects {
  const c: ClusterObjects = { nodes: [], pods: [], services: [], slices: [], namespaces: [], ingresses: [], ingressClasses: [], policies: [], secrets: [] };
  for (const o of objs) {
    switch (o.kind) {
      case 'Node':
        c.nodes.push(o as Node);
        break;
      case 'Namespace':
        c.namespaces.push(o as Namespace);
        break;
      case 'Pod':
        c.pods.push(o as Pod);
        break;
      case 'Service':
        c.services.push(o as Service);
        break;
      case 'EndpointSlice':
        c.slices.push(o as EndpointSlice);
        break;
      case 'Ingress':
        c.ingresses.push(o as Ingress);
        break;
      case 'IngressClass':
        c.ingressClasses.push(o as IngressClass);
        break;
      case 'NetworkPolicy':
        c.policies.push(o as NetworkPolicy);
        break;
      case 'Secret':
        c.secrets.push(o as Secret);
        break;
      case 'GatewayClass':
        (c.gatewayClasses ??= []).push(o as GatewayClass);
        break;
      case 'Gateway':
        (c.gateways ??= []).push(o as Gateway);
        break;
      case 'HTTPRoute':
        (c.httpRoutes ??= []).push(o as HTTPRoute);
        break;
      case 'ReferenceGrant':
        (c.referenceGrants ??= []).push(o as ReferenceGrant);
        break;
    }
  }
  return c;
}

/** The address plan the objects live in (the lab's, src/lab/defaults.ts, in `podpath trace`). */
export interface AddressPlan {
  underlayCIDR: string;
  /** the underlay's router, where the lab's resolver answers */
  routerIP: string;
  clientIP: string;
  clusterCIDR: string;
  serviceCIDR: string;
  clusterDNS: string;
  clusterDomain: string;
  cniBackend: CniBackend;
}

export interface NodeInfo {
  name: string;
  ip: string;
  podCIDR: string;
  /** cni0's address: the pods' gateway */
  gateway: string;
  /** the node's own addresses: InternalIP, cni0, the LoadBalancer IPs it answers for */
  localIPs: Set<string>;
}

export const podKey = (p: Pod) => `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
const podNetworked = (p: Pod) => !p.spec?.hostNetwork && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';

export class ClusterIndex {
  readonly nodes = new Map<string, NodeInfo>();
  private readonly nodeByIP = new Map<string, NodeInfo>();
  private readonly podsByIP = new Map<string, Pod>();
  private readonly podsByKey = new Map<string, Pod>();
  /** LoadBalancer IP → the node that answers for it on the underlay */
  readonly lbHolder = new Map<string, string>();

  constructor(
    readonly objects: ClusterObjects,
    readonly plan: AddressPlan,
  ) {
    for (const n of objects.nodes) {
      const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
      const podCIDR = n.spec?.podCIDR ?? n.spec?.podCIDRs?.[0];
      if (!ip || !podCIDR) continue;
      const c = parseCIDR(podCIDR);
      const gateway = c ? cidrAddress(c, 1n) : '';
      const info: NodeInfo = { name: n.metadata.name!, ip, podCIDR, gateway, localIPs: new Set([ip, gateway]) };
      this.nodes.set(info.name, info);
      this.nodeByIP.set(ip, info);
    }
    for (const a of announcements(objects.services, objects.slices, objects.nodes)) {
      this.lbHolder.set(a.ip, a.node);
      this.nodes.get(a.node)?.localIPs.add(a.ip);
    }
    for (const p of objects.pods) {
      this.podsByKey.set(podKey(p), p);
      const ip = p.status?.podIP;
      if (ip && podNetworked(p)) this.podsByIP.set(ip, p);
    }
  }

  private readonly memos = new Map<string, unknown>();

  /** What is derived from the objects once (DNS zone, policy model, chain hashes), shared by every trace over them. */
  memo<T>(key: string, make: () => T): T {
    if (!this.memos.has(key)) this.memos.set(key, make());
    return this.memos.get(key) as T;
  }

  pod(key: string): Pod | undefined {
    return this.podsByKey.get(key);
  }

  podByIP(ip: string): Pod | undefined {
    return this.podsByIP.get(ip);
  }

  nodeOfIP(ip: string): NodeInfo | undefined {
    return this.nodeByIP.get(ip);
  }

  /** The node whose pod CIDR holds ip. */
  nodeOfPodIP(ip: string): NodeInfo | undefined {
    for (const n of this.nodes.values()) {
      const c = parseCIDR(n.podCIDR);
      if (c && cidrContains(c, ip)) return n;
    }
    return undefined;
  }

  /** The node a pod runs on (a hostNetwork pod has the node's address). */
  nodeOfPod(p: Pod): NodeInfo | undefined {
    return p.spec?.nodeName ? this.nodes.get(p.spec.nodeName) : undefined;
  }

  /** "NS/NAME" of the pod with this IP, or the IP itself. */
  podName(ip: string): string {
    const p = this.podByIP(ip);
    return p ? podKey(p) : ip;
  }

  inCIDR(cidr: string, ip: string): boolean {
    const c = parseCIDR(cidr);
    return c !== undefined && cidrContains(c, ip);
  }
}
