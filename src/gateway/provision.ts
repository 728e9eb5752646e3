// What a Gateway gets of its own, as NGINX Gateway Fabric and Envoy Gateway provision it: a
// LoadBalancer Service in the Gateway's namespace, owned by the Gateway (the garbage collector
// deletes it with the Gateway), named GATEWAY-CLASS, whose ports are the listeners' ports. All
// Gateways share one data plane (the controller's nginx pods, in the controller's namespace), so
// the Service has no selector: the controller writes its EndpointSlice with those pods. kube-proxy
// DNATs a LoadBalancer IP to the pod's address, so nginx never sees which address was asked for;
// each Gateway's listener ports therefore map to target ports of their own inside the pod
// (targetPortRange), and the listener's nginx server listens on its target port. A target port
// once given stays with the Gateway while its Service keeps it. Pure.
import { createHash } from 'node:crypto';
import { isPodReady } from '../api/pod.ts';
import type { EndpointSlice, KubeObject, Pod, Service } from '../api/types.ts';
import { parseIP } from '../util/ip.ts';
import { keyOf } from './model.ts';
import { gatewayGroup, type Gateway } from './types.ts';

/** The label naming a provisioned object's Gateway (the spec's, as NGINX Gateway Fabric and Envoy Gateway set it). */
export const gatewayNameLabel = 'gateway.networking.k8s.io/gateway-name';
export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedBy = 'podpath-gateway-controller';
// a label value: no '/' (upstream's own is endpointslice-controller.k8s.io)
const sliceManagedBy = 'gateway-controller.podpath.dev';
/** nginx's ports for the Gateways' listeners, inside the data plane pods */
export const targetPortRange = { first: 20000, last: 29999 };

/** GATEWAY-CLASS (NGINX Gateway Fabric's name), shortened with a hash past 63 characters. */
export function gatewayServiceName(gw: Gateway): string {
  const name = `${gw.metadata.name}-${gw.spec.gatewayClassName}`;
  if (name.length <= 63) return name;
  const h = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, 54).replace(/-+$/, '')}-${h}`;
}

/** Provisioned by this controller (not a user's Service that happens to carry the label). */
export const isGatewayService = (s: KubeObject): boolean => s.metadata.labels?.[managedByLabel] === managedBy && s.metadata.labels?.[gatewayNameLabel] !== undefined;

const listenerPorts = (gw: Gateway): number[] => [...new Set((gw.spec.listeners ?? []).map((l) => l.port))].sort((a, b) => a - b);

/** by Gateway "namespace/name": listener port → nginx's port in the pod */
export type TargetPorts = Map<string, Map<number, number>>;

/**
 * Each Gateway's listener ports to target ports, oldest Gateway first: the target port its
 * Service already has is kept, a new port takes the lowest free one of targetPortRange.
 */
export function allocateTargetPorts(gateways: Gateway[], services: Service[]): TargetPorts {
  const out: TargetPorts = new Map();
  const used = new Set<number>();
  const inRange = (p: unknown): p is number => typeof p === 'number' && p >= targetPortRange.first && p <= targetPortRange.last;
  const want = gateways.map((gw) => {
    const svc = services.find((s) => s.metadata.namespace === gw.metadata.namespace && s.metadata.name === gatewayServiceName(gw) && isGatewayService(s));
    const m = new Map<number, number>();
    for (const port of listenerPorts(gw)) {
      const had = svc?.spec.ports?.find((p) => p.port === port)?.targetPort;
      if (inRange(had) && !used.has(had)) {
        used.add(had);
        m.set(port, had);
      }
    }
    out.set(keyOf(gw), m);
    return [gw, m] as const;
  });
  let next = targetPortRange.first;
  for (const [gw, m] of want) {
    for (const port of listenerPorts(gw)) {
      if (m.has(port)) continue;
      while (used.has(next) && next <= targetPortRange.last) next++;
      if (next > targetPortRange.last) break; // the range is spent: the listener reports PortUnavailable
      used.add(next);
      m.set(port, next);
    }
  }
  return out;
}

/** The address spec.addresses asks for, or why it cannot be had (the Programmed reason AddressNotUsable). */
export function requestedAddress(gw: Gateway): { ip?: string } | { reason: 'AddressNotUsable'; message: string } {
  const addrs = (gw.spec as { addresses?: { type?: string; value?: string }[] }).addresses ?? [];
  if (!addrs.length) return {};
  if (addrs.length > 1) return { reason: 'AddressNotUsable', message: `${addrs.length} addresses requested; a Gateway's LoadBalancer Service has one` };
  const a = addrs[0]!;
  const type = a.type ?? 'IPAddress';
  if (type !== 'IPAddress') return { reason: 'AddressNotUsable', message: `address type ${type} is not supported; IPAddress is` };
  if (!a.value) return {}; // an empty value leaves the choice to the implementation
  if (parseIP(a.value)?.family !== 4) return { reason: 'AddressNotUsable', message: `address ${a.value} is not an IPv4 address` };
  return { ip: a.value };
}

/** The Gateway's Service: type LoadBalancer, Local traffic policy (nginx sees the client), no selector. */
export function gatewayService(gw: Gateway, ports: Map<number, number>, ip: string | undefined): Service {
  const name = gatewayServiceName(gw);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: gw.metadata.namespace, labels: labelsOf(gw), ownerReferences: [ownerOf(gw)] },
    spec: {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv4'],
      ...(ip ? { loadBalancerIP: ip } : {}),
      ports: [...ports].map(([port, targetPort]) => ({ name: `port-${port}`, protocol: 'TCP', port, targetPort })),
    },
  };
}

/** The Service's endpoints: the data plane's pods with an address, at the target ports. */
export function gatewaySlice(gw: Gateway, ports: Map<number, number>, pods: Pod[]): EndpointSlice {
  const name = gatewayServiceName(gw);
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: gw.metadata.namespace, labels: { ...labelsOf(gw), 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': sliceManagedBy }, ownerReferences: [ownerOf(gw)] },
    addressType: 'IPv4',
    endpoints: pods
      .filter((p) => p.status?.podIP && p.status.phase !== 'Succeeded' && p.status.phase !== 'Failed')
      .sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1))
      .map((p) => {
        const terminating = Boolean(p.metadata.deletionTimestamp);
        const ready = isPodReady(p);
        return {
          addresses: [p.status!.podIP!],
          conditions: { ready: ready && !terminating, serving: ready, terminating },
          ...(p.spec.nodeName ? { nodeName: p.spec.nodeName } : {}),
          targetRef: { kind: 'Pod', namespace: p.metadata.namespace!, name: p.metadata.name!, uid: p.metadata.uid! },
        };
      }),
    ports: [...ports].map(([port, targetPort]) => ({ name: `port-${port}`, protocol: 'TCP', port: targetPort })),
  };
}

function labelsOf(gw: Gateway): Record<string, string> {
  return { [gatewayNameLabel]: gw.metadata.name!, [managedByLabel]: managedBy, 'app.kubernetes.io/name': gatewayServiceName(gw), 'app.kubernetes.io/instance': gw.metadata.name! };
}

function ownerOf(gw: Gateway) {
  return { apiVersion: `${gatewayGroup}/v1`, kind: 'Gateway', name: gw.metadata.name!, uid: gw.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** The Gateway that a request reaching the data plane on `targetPort` was sent to, and its listener port (from the Services). */
export function gatewayAtTargetPort(services: Service[], targetPort: number): { gateway: string; port: number } | undefined {
  for (const s of services) {
    if (!isGatewayService(s)) continue;
    const p = s.spec.ports?.find((x) => x.targetPort === targetPort);
    if (p) return { gateway: `${s.metadata.namespace}/${s.metadata.labels![gatewayNameLabel]}`, port: p.port };
  }
  return undefined;
}

/**
 * The Gateway's address: its Service's LoadBalancer IP, or why it has none — the Programmed
 * reasons AddressNotUsable (spec.addresses cannot be had) and AddressNotAssigned (no address yet,
 * or not the one requested).
 */
export function gatewayAddress(gw: Gateway, svc: Service | undefined): { ip: string } | { reason: 'AddressNotUsable' | 'AddressNotAssigned'; message: string } {
  const req = requestedAddress(gw);
  if ('reason' in req) return req;
  const ip = svc?.status?.loadBalancer?.ingress?.[0]?.ip;
  if (!svc) return { reason: 'AddressNotAssigned', message: `the Gateway's Service ${gatewayServiceName(gw)} does not exist yet` };
  if (!ip) return { reason: 'AddressNotAssigned', message: `the Gateway's Service ${gatewayServiceName(gw)} has no LoadBalancer address yet` };
  if (req.ip && ip !== req.ip) return { reason: 'AddressNotAssigned', message: `address ${req.ip} was requested; the LoadBalancer pool gave ${ip} (not in the pool, or taken)` };
  return { ip };
}
