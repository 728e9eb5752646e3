// kube-proxy's shared model, for every mode: Services become ServicePorts, EndpointSlices
// become each ServicePort's endpoints, and endpoints are split into the ones cluster traffic
// and local traffic may use. Pure functions of API objects (IPv4 only).
import { serviceKey, serviceNameLabel } from '../api/keys.ts';
import type { EndpointSlice, Node, Service } from '../api/types.ts';
import { isIPv4Sloppy } from '../util/ip.ts';

export interface ProxyEndpoint {
  ip: string;
  port: number;
  /** "ip:port", as upstream's BaseEndpointInfo.String() */
  key: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  isLocal: boolean;
  /** the pod behind it (targetRef), if the slice says */
  podName?: string;
  /** topology hints of the EndpointSlice: zones and nodes this endpoint is meant for */
  zoneHints: string[];
  nodeHints: string[];
}

/** Where the proxy runs, as topology-aware routing sees it. */
export interface NodeTopology {
  nodeName: string;
  /** the Node's topology.kubernetes.io/zone label */
  zone?: string;
}

export interface ServicePortInfo {
  /** "<ns>/<name>" plus ":<portName>" when the port is named */
  name: string;
  namespace: string;
  serviceName: string;
  portName: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  clusterIP: string;
  port: number;
  nodePort: number;
  externalIPs: string[];
  loadBalancerVIPs: string[];
  loadBalancerSourceRanges: string[];
  /** only for type NodePort/LoadBalancer with externalTrafficPolicy Local */
  externalPolicyLocal: boolean;
  internalPolicyLocal: boolean;
  /** ClientIP affinity timeout in seconds, 0 without affinity */
  stickyMaxAgeSeconds: number;
  /** only for LoadBalancer Services with externalTrafficPolicy Local */
  healthCheckNodePort: number;
  endpoints: ProxyEndpoint[];
  /** the node these ports are seen from (topology hints are matched against it) */
  topology: NodeTopology;
  /** userspace/IPVS modes: the Service's scheduler annotation, if any */
  scheduler?: string;
  /** userspace/IPVS modes: endpoint weights by pod name or IP (the weights annotation) */
  weights?: Record<string, number>;
}

/** Annotations choosing a Service's IPVS scheduler and its endpoints' weights (userspace and IPVS modes). */
export const schedulerAnnotation = 'proxy.podpath.dev/scheduler';
export const weightsAnnotation = 'proxy.podpath.dev/weights';

/** "pod-a=3,10.244.0.6=1" → { 'pod-a': 3, '10.244.0.6': 1 } (malformed items are ignored). */
export function parseWeights(s: string | undefined): Record<string, number> | undefined {
  if (!s) return undefined;
  const out: Record<string, number> = {};
  for (const item of s.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\d+)\s*$/.exec(item);
    if (m) out[m[1]!] = Math.min(Number(m[2]), 65535);
  }
  return out;
}

export function externallyAccessible(sp: ServicePortInfo): boolean {
  return sp.nodePort !== 0 || sp.loadBalancerVIPs.length > 0 || sp.externalIPs.length > 0;
}

/** Headless and ExternalName Services have nothing for kube-proxy to do. */
export function shouldSkipService(svc: Service): boolean {
  const ip = svc.spec?.clusterIP;
  return !ip || ip === 'None' || svc.spec?.type === 'ExternalName';
}

const isIPv4 = isIPv4Sloppy;

/** A Node's topology.kubernetes.io/zone label (topology-aware routing matches hints against it). */
export const nodeZone = (n: Node | undefined): string | undefined => n?.metadata.labels?.['topology.kubernetes.io/zone'];

/** EndpointSlices by "<namespace>/<service name>". */
export function slicesByService(slices: EndpointSlice[]): Map<string, EndpointSlice[]> {
  const m = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const k = serviceKey(s.metadata.namespace, s.metadata.labels?.[serviceNameLabel]);
    const list = m.get(k);
    if (list) list.push(s);
    else m.set(k, [s]);
  }
  return m;
}

/** The endpoints of one Service port from that Service's EndpointSlices, deduplicated and sorted as upstream does. */
export function endpointsFor(portName: string, protocol: string, slices: EndpointSlice[], nodeName: string): ProxyEndpoint[] {
  const byKey = new Map<string, ProxyEndpoint>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const port = (slice.ports ?? []).find((p) => p.name != null && (p.name ?? '') === portName && (p.protocol ?? 'TCP') === protocol);
    if (!port?.port) continue;
    for (const ep of slice.endpoints ?? []) {
      const ip = ep.addresses?.[0];
      if (!ip || !isIPv4(ip)) continue;
      const c = ep.conditions ?? {};
      const e: ProxyEndpoint = {
        ip,
        port: port.port,
        key: `${ip}:${port.port}`,
        ready: c.ready ?? true,
        serving: c.serving ?? true,
        terminating: c.terminating ?? false,
        isLocal: ep.nodeName === nodeName,
        ...(ep.targetRef?.name ? { podName: ep.targetRef.name } : {}),
        zoneHints: (ep.hints?.forZones ?? []).map((z) => z.name),
        nodeHints: (ep.hints?.forNodes ?? []).map((n) => n.name),
      };
      const had = byKey.get(e.key);
      if (!had || (had.terminating && !e.terminating)) byKey.set(e.key, e);
    }
  }
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** ServicePorts of all Services (skipping headless/ExternalName), with their endpoints. */
export function servicePorts(services: Service[], slices: EndpointSlice[], nodeName: string, zone?: string): ServicePortInfo[] {
  const out: ServicePortInfo[] = [];
  const topology: NodeTopology = { nodeName, ...(zone ? { zone } : {}) };
  const bySvc = slicesByService(slices);
  for (const svc of services) {
    if (shouldSkipService(svc)) continue;
    const s = svc.spec;
    const ns = svc.metadata.namespace ?? 'default';
    const name = svc.metadata.name!;
    const type = s.type ?? 'ClusterIP';
    const externalPolicyLocal = (type === 'NodePort' || type === 'LoadBalancer') && s.externalTrafficPolicy === 'Local';
    for (const p of s.ports ?? []) {
      const protocol = (p.protocol ?? 'TCP') as ServicePortInfo['protocol'];
      const portName = p.name ?? '';
      out.push({
        name: `${ns}/${name}${portName ? `:${portName}` : ''}`,
        namespace: ns,
        serviceName: name,
        portName,
        protocol,
        clusterIP: s.clusterIP!,
        port: p.port,
        nodePort: p.nodePort ?? 0,
        externalIPs: (s.externalIPs ?? []).filter(isIPv4),
        loadBalancerVIPs: type === 'LoadBalancer' ? (svc.status?.loadBalancer?.ingress ?? []).filter((i) => i.ip && isIPv4(i.ip) && (i as { ipMode?: string }).ipMode !== 'Proxy').map((i) => i.ip!) : [],
        loadBalancerSourceRanges: type === 'LoadBalancer' ? (s.loadBalancerSourceRanges ?? []).map((r) => r.trim()).filter((r) => isIPv4(r.split('/')[0]!)) : [],
        externalPolicyLocal,
        internalPolicyLocal: s.internalTrafficPolicy === 'Local',
        stickyMaxAgeSeconds: s.sessionAffinity === 'ClientIP' ? (s.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : 0,
        healthCheckNodePort: type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local' ? (s.healthCheckNodePort ?? 0) : 0,
        endpoints: endpointsFor(portName, protocol, bySvc.get(serviceKey(ns, name)) ?? [], nodeName),
        topology,
        ...(svc.metadata.annotations?.[schedulerAnnotation] ? { scheduler: svc.metadata.annotations[schedulerAnnotation] } : {}),
        ...(svc.metadata.annotations?.[weightsAnnotation] ? { weights: parseWeights(svc.metadata.annotations[weightsAnnotation]) } : {}),
      });
    }
  }
  return out;
}

/** ServicePorts grouped by their Service, "<namespace>/<name>" (the unit partial syncs rewrite). */
export function portsByService(ports: ServicePortInfo[]): Map<string, ServicePortInfo[]> {
  const m = new Map<string, ServicePortInfo[]>();
  for (const sp of ports) {
    const k = serviceKey(sp.namespace, sp.serviceName);
    const l = m.get(k);
    if (l) l.push(sp);
    else m.set(k, [sp]);
  }
  return m;
}

export interface CategorizedEndpoints {
  clusterEndpoints: ProxyEndpoint[];
  localEndpoints: ProxyEndpoint[];
  allReachable: ProxyEndpoint[];
  hasAnyEndpoints: boolean;
}

/**
 * Topology-aware routing: when every ready endpoint carries node (or zone) hints and one is
 * meant for this node (its zone), cluster traffic keeps to the endpoints hinted so.
 */
function topologyFilter(sp: ServicePortInfo): ((e: ProxyEndpoint) => boolean) | undefined {
  const { nodeName, zone } = sp.topology;
  let allNode = true;
  let forNode = false;
  let allZone = true;
  let forZone = false;
  for (const e of sp.endpoints) {
    if (!e.ready) continue;
    if (!e.nodeHints.length) allNode = false;
    else if (e.nodeHints.includes(nodeName)) forNode = true;
    if (!e.zoneHints.length) allZone = false;
    else if (zone !== undefined && e.zoneHints.includes(zone)) forZone = true;
  }
  if (allNode && forNode) return (e) => e.nodeHints.includes(nodeName);
  if (allZone && forZone) return (e) => e.zoneHints.includes(zone!);
  return undefined;
}

/** Which endpoints cluster and local traffic may use: ready ones (kept to hinted ones by topology), else serving-terminating ones. */
export function categorizeEndpoints(sp: ServicePortInfo): CategorizedEndpoints {
  const usable = (eps: ProxyEndpoint[], topology?: (e: ProxyEndpoint) => boolean) => {
    const ready = eps.filter((e) => e.ready && (!topology || topology(e)));
    return ready.length ? ready : eps.filter((e) => e.serving && e.terminating);
  };
  const usesCluster = !sp.internalPolicyLocal || externallyAccessible(sp);
  const usesLocal = sp.internalPolicyLocal || (sp.externalPolicyLocal && externallyAccessible(sp));
  const clusterEndpoints = usesCluster ? usable(sp.endpoints, topologyFilter(sp)) : [];
  const localEndpoints = usesLocal ? usable(sp.endpoints.filter((e) => e.isLocal)) : [];
  const hasAnyEndpoints = sp.endpoints.some((e) => e.ready || (e.serving && e.terminating));
  const seen = new Set(clusterEndpoints.map((e) => e.key));
  const allReachable = [...clusterEndpoints, ...localEndpoints.filter((e) => !seen.has(e.key))].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { clusterEndpoints, localEndpoints, allReachable, hasAnyEndpoints };
}
