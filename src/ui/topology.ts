// What the page's topology view shows, computed from the trace's objects: nodes with their
// addresses, pod CIDR and proxy mode; pods by node and namespace; Services with their
// EndpointSlices' endpoints and conditions; Ingresses' hosts and paths; NetworkPolicies with the
// pods they select. Pure: the same objects `podpath trace` reads in, a plain JSON value out.
import { fromLabelSelector, formatLabelSelector, matches } from '../api/labels.ts';
import { isPodReady } from '../api/pod.ts';
import type { ClusterObjects } from '../trace/cluster.ts';
import { podKey } from '../trace/cluster.ts';

export interface PodView {
  namespace: string;
  name: string;
  ip: string;
  node: string;
  phase: string;
  ready: boolean;
  hostNetwork: boolean;
  terminating: boolean;
  /** the containers' declared ports */
  ports: { port: number; protocol: string }[];
}

export interface NodeView {
  name: string;
  addresses: { type: string; address: string }[];
  podCIDR: string;
  ready: boolean;
  proxyMode: string;
  /** the node's pods, grouped by namespace (namespaces in name order) */
  namespaces: { name: string; pods: PodView[] }[];
}

export interface EndpointView {
  ip: string;
  /** "NS/NAME" of the endpoint's targetRef pod, when it names one */
  pod?: string;
  node?: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  slice: string;
}

export interface ServiceView {
  namespace: string;
  name: string;
  type: string;
  clusterIP: string;
  loadBalancerIPs: string[];
  ports: { name: string; protocol: string; port: number; targetPort: string; nodePort?: number }[];
  endpoints: EndpointView[];
}

export interface IngressView {
  namespace: string;
  name: string;
  className: string;
  loadBalancerIPs: string[];
  tlsHosts: string[];
  rules: { host: string; paths: { path: string; pathType: string; backend: string }[] }[];
}

export interface PolicyView {
  namespace: string;
  name: string;
  podSelector: string;
  policyTypes: string[];
  ingressRules: number;
  egressRules: number;
  /** "NS/NAME" of every pod it selects */
  selects: string[];
}

export interface Topology {
  /** the kube-proxy mode the rules and traces are computed in */
  mode: string;
  /** watched from an API server (true) or read from a file */
  live: boolean;
  /** bumped on every change the server sees, so the page can tell a fresh view */
  generation: number;
  /** whether the server can send a probe and watch its path (a lab's): the path view's Observe */
  observe: boolean;
  nodes: NodeView[];
  /** pods bound to no node yet */
  pending: PodView[];
  services: ServiceView[];
  ingresses: IngressView[];
  policies: PolicyView[];
}

const byName = <T extends { namespace?: string; name: string }>(a: T, b: T) => (a.namespace ?? '').localeCompare(b.namespace ?? '') || a.name.localeCompare(b.name);

export function topology(objects: ClusterObjects, o: { mode: string; live: boolean; generation: number; observe?: boolean }): Topology {
  const pods: PodView[] = objects.pods.map((p) => ({
    namespace: p.metadata.namespace ?? 'default',
    name: p.metadata.name!,
    ip: p.status?.podIP ?? '',
    node: p.spec?.nodeName ?? '',
    phase: p.status?.phase ?? 'Pending',
    ready: isPodReady(p),
    hostNetwork: !!p.spec?.hostNetwork,
    terminating: !!p.metadata.deletionTimestamp,
    ports: (p.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((x) => ({ port: x.containerPort, protocol: x.protocol ?? 'TCP' }))),
  }));
  const nodes: NodeView[] = objects.nodes
    .map((n) => {
      const mine = pods.filter((p) => p.node === n.metadata.name);
      const nss = [...new Set(mine.map((p) => p.namespace))].sort();
      return {
        name: n.metadata.name!,
        addresses: (n.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })),
        podCIDR: n.spec?.podCIDR ?? n.spec?.podCIDRs?.[0] ?? '',
        ready: (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
        proxyMode: o.mode,
        namespaces: nss.map((ns) => ({ name: ns, pods: mine.filter((p) => p.namespace === ns).sort(byName) })),
      };
    })
    .sort(byName);
  const known = new Set(nodes.map((n) => n.name));
  const services: ServiceView[] = objects.services
    .map((s) => {
      const ns = s.metadata.namespace ?? 'default';
      const slices = objects.slices.filter((sl) => (sl.metadata.namespace ?? 'default') === ns && sl.metadata.labels?.['kubernetes.io/service-name'] === s.metadata.name);
      return {
        namespace: ns,
        name: s.metadata.name!,
        type: s.spec?.type ?? 'ClusterIP',
        clusterIP: s.spec?.clusterIP ?? '',
        loadBalancerIPs: (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '').filter(Boolean),
        ports: (s.spec?.ports ?? []).map((p) => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port, targetPort: String(p.targetPort ?? p.port), ...(p.nodePort ? { nodePort: p.nodePort } : {}) })),
        endpoints: slices.flatMap((sl) =>
          (sl.endpoints ?? []).flatMap((e) =>
            e.addresses.map((ip) => ({
              ip,
              ...(e.targetRef?.kind === 'Pod' ? { pod: `${e.targetRef.namespace ?? ns}/${e.targetRef.name}` } : {}),
              ...(e.nodeName ? { node: e.nodeName } : {}),
              // EndpointConditions: a nil ready means ready; nil serving means as ready; nil terminating means not
              ready: e.conditions?.ready ?? true,
              serving: e.conditions?.serving ?? e.conditions?.ready ?? true,
              terminating: e.conditions?.terminating ?? false,
              slice: sl.metadata.name!,
            })),
          ),
        ),
      };
    })
    .sort(byName);
  const ingresses: IngressView[] = objects.ingresses
    .map((i) => ({
      namespace: i.metadata.namespace ?? 'default',
      name: i.metadata.name!,
      className: i.spec?.ingressClassName ?? i.metadata.annotations?.['kubernetes.io/ingress.class'] ?? '',
      loadBalancerIPs: (i.status?.loadBalancer?.ingress ?? []).map((x) => x.ip ?? x.hostname ?? '').filter(Boolean),
      tlsHosts: (i.spec?.tls ?? []).flatMap((t) => t.hosts ?? []),
      rules: (i.spec?.rules ?? []).map((r) => ({
        host: r.host ?? '*',
        paths: (r.http?.paths ?? []).map((p) => ({ path: p.path ?? '/', pathType: p.pathType ?? 'ImplementationSpecific', backend: p.backend?.service ? `${p.backend.service.name}:${p.backend.service.port?.number ?? p.backend.service.port?.name ?? ''}` : (p.backend?.resource?.name ?? '') })),
      })),
    }))
    .sort(byName);
  const policies: PolicyView[] = objects.policies
    .map((p) => {
      const ns = p.metadata.namespace ?? 'default';
      const sel = fromLabelSelector(p.spec?.podSelector);
      const types = p.spec?.policyTypes ?? (p.spec?.egress ? ['Ingress', 'Egress'] : ['Ingress']);
      return {
        namespace: ns,
        name: p.metadata.name!,
        podSelector: formatLabelSelector(p.spec?.podSelector) || '(all pods)',
        policyTypes: types,
        ingressRules: p.spec?.ingress?.length ?? 0,
        egressRules: p.spec?.egress?.length ?? 0,
        selects: objects.pods.filter((x) => (x.metadata.namespace ?? 'default') === ns && !x.spec?.hostNetwork && matches(sel, x.metadata.labels)).map(podKey).sort(),
      };
    })
    .sort(byName);
  return { mode: o.mode, live: o.live, generation: o.generation, observe: o.observe ?? false, nodes, pending: pods.filter((p) => !known.has(p.node)).sort(byName), services, ingresses, policies };
}
