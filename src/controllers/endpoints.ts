// The EndpointSlice controller and the Endpoints controller: for every Service with a
// selector, the pods it selects become endpoints (ready/serving/terminating conditions,
// nodeName, targetRef, named targetPorts resolved per pod, at most 100 endpoints per slice).
// The computation is a pure function of the Service and its pods.
import { isApiError } from '../api/errors.ts';
import { fromSet, matches } from '../api/labels.ts';
import type { Endpoint, EndpointPort, EndpointSlice, Endpoints, KubeObject, Pod, Service } from '../api/types.ts';
import { objectPath, type Client } from '../client/client.ts';
import type { Informer } from '../client/informer.ts';
import { cidrAddress, parseCIDR } from '../util/ip.ts';
import { nsName, splitKey, WorkQueue } from '../client/workqueue.ts';
import { isPodReady, isTerminal } from '../api/pod.ts';

export const managedBy = 'endpointslice-controller.k8s.io';
/** client-go's resourcelock.LeaderElectionRecordAnnotationKey: an Endpoints used as a leader lock has no Service. */
export const leaderElectionAnnotation = 'control-plane.alpha.kubernetes.io/leader';
export const maxEndpointsPerSlice = 100;

/** The container port a Service port's targetPort names in `pod`, or undefined. */
export function resolveTargetPort(pod: Pod, target: number | string | undefined, protocol: string): number | undefined {
  if (typeof target === 'number') return target;
  for (const c of pod.spec.containers ?? []) for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  return undefined;
}

export interface DesiredSlice {
  ports: EndpointPort[];
  endpoints: Endpoint[];
}

/** The endpoint slices a Service should have: pods grouped by their resolved ports, chunked by 100. */
export function desiredSlices(svc: Service, pods: Pod[]): DesiredSlice[] {
  const selector = fromSet(svc.spec.selector);
  const groups = new Map<string, DesiredSlice>();
  for (const pod of pods) {
    if (pod.metadata.namespace !== svc.metadata.namespace || !matches(selector, pod.metadata.labels)) continue;
    const ip = pod.status?.podIPs?.[0]?.ip ?? pod.status?.podIP;
    if (!ip || isTerminal(pod)) continue;
    const ports: EndpointPort[] = [];
    for (const sp of svc.spec.ports ?? []) {
      const port = resolveTargetPort(pod, sp.targetPort ?? sp.port, sp.protocol ?? 'TCP');
      if (port === undefined) continue;
      ports.push({ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
    }
    const terminating = Boolean(pod.metadata.deletionTimestamp);
    const ready = isPodReady(pod);
    const ep: Endpoint = {
      addresses: [ip],
      conditions: { ready: svc.spec.publishNotReadyAddresses ? true : ready && !terminating, serving: ready, terminating },
      targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
      ...(pod.spec.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    };
    if (pod.spec.hostname && pod.spec.subdomain === svc.metadata.name) ep.hostname = pod.spec.hostname;
    const key = JSON.stringify(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports, endpoints: [] }));
    g.endpoints.push(ep);
  }
  const out: DesiredSlice[] = [];
  for (const g of groups.values()) {
    g.endpoints.sort((a, b) => (a.targetRef?.name ?? '').localeCompare(b.targetRef?.name ?? ''));
    for (let i = 0; i < g.endpoints.length; i += maxEndpointsPerSlice) out.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + maxEndpointsPerSlice) });
  }
  if (out.length === 0) {
    // A Service with no endpoints still has one (empty) slice, with its ports unresolved.
    out.push({ ports: [], endpoints: [] });
  }
  return out;
}

/** The Endpoints object for a Service (one subset per port set; not-ready pods apart). */
export function desiredEndpoints(svc: Service, pods: Pod[]): Endpoints['subsets'] {
  const subsets: NonNullable<Endpoints['subsets']> = [];
  for (const s of desiredSlices(svc, pods)) {
    if (!s.endpoints.length) continue;
    const addr = (e: Endpoint) => ({ ip: e.addresses[0]!, ...(e.nodeName ? { nodeName: e.nodeName } : {}), ...(e.targetRef ? { targetRef: e.targetRef } : {}) });
    const live = s.endpoints.filter((e) => !e.conditions?.terminating);
    const ready = live.filter((e) => e.conditions?.ready).map(addr);
    const notReady = live.filter((e) => !e.conditions?.ready).map(addr);
    if (!ready.length && !notReady.length) continue;
    subsets.push({
      ...(ready.length ? { addresses: ready } : {}),
      ...(notReady.length ? { notReadyAddresses: notReady } : {}),
      ports: s.ports.map((p) => (p.name ? { name: p.name, port: p.port!, protocol: p.protocol } : { port: p.port!, protocol: p.protocol })),
    });
  }
  return subsets;
}

function ownerRef(svc: Service) {
  return [{ apiVersion: 'v1', kind: 'Service', name: svc.metadata.name!, uid: svc.metadata.uid!, controller: true, blockOwnerDeletion: true }];
}

export class EndpointsControllers {
  readonly queue: WorkQueue;

  constructor(
    private readonly client: Client,
    private readonly services: Informer<Service>,
    private readonly pods: Informer<Pod>,
    private readonly slices: Informer<EndpointSlice>,
    private readonly endpoints: Informer<Endpoints>,
    log: (s: string) => void,
    /** the client that writes Endpoints (upstream's endpoint controller; `client` writes EndpointSlices as the endpointslice controller) */
    private readonly endpointsClient: Client = client,
  ) {
    this.queue = new WorkQueue((k) => this.sync(k), (k, e) => log(`endpoints ${k}: ${e.message}`));
    services.on({ add: (s) => this.queue.add(nsName(s)), update: (_, s) => this.queue.add(nsName(s)), delete: (s) => this.queue.add(nsName(s)) });
    const podChanged = (p: Pod) => {
      for (const s of services.list()) {
        if (s.metadata.namespace === p.metadata.namespace && s.spec.selector && matches(fromSet(s.spec.selector), p.metadata.labels)) this.queue.add(nsName(s));
      }
    };
    pods.on({ add: podChanged, update: (old, p) => (podChanged(old), podChanged(p)), delete: podChanged });
    slices.on({
      delete: (es) => {
        const svc = es.metadata.labels?.['kubernetes.io/service-name'];
        if (svc) this.queue.add(`${es.metadata.namespace}/${svc}`);
      },
    });
    // Once both caches are full, Endpoints left by a Service deleted while no controller ran.
    void Promise.all([services.waitForSync(), endpoints.waitForSync()]).then(() => this.checkLeftoverEndpoints());
  }

  /**
   * Queues every Endpoints (but leader-election locks) under its own name: one whose Service is
   * gone is deleted by sync; one whose Service has no selector stays the user's.
   */
  checkLeftoverEndpoints(): void {
    for (const ep of this.endpoints.list()) {
      if (ep.metadata.annotations?.[leaderElectionAnnotation] !== undefined) continue;
      this.queue.add(nsName(ep));
    }
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    if (!name) return;
    const svc = this.services.get(ns, name);
    if (!svc) {
      // The Service is gone (or never was): so is its Endpoints. A cache not yet filled proves
      // nothing; checkLeftoverEndpoints comes back once it is.
      if (this.services.hasSynced) await this.deleteEndpoints(ns, name);
      return;
    }
    if (!svc.spec.selector || svc.spec.type === 'ExternalName') return; // selectorless: user-managed
    const pods = this.pods.list();
    await this.syncSlices(svc, desiredSlices(svc, pods));
    await this.syncEndpoints(svc, desiredEndpoints(svc, pods) ?? []);
  }

  private async syncSlices(svc: Service, want: DesiredSlice[]): Promise<void> {
    const ns = svc.metadata.namespace!;
    const existing = this.slices.list().filter((es) => es.metadata.namespace === ns && es.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name && es.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] === managedBy);
    const labels = { ...(svc.metadata.labels ?? {}), 'kubernetes.io/service-name': svc.metadata.name!, 'endpointslice.kubernetes.io/managed-by': managedBy };
    const addressType = (svc.spec.ipFamilies?.[0] ?? 'IPv4') === 'IPv6' ? 'IPv6' : 'IPv4';
    // When this change was made: kube-proxy and the cluster DNS measure their programming latency from it.
    const annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': new Date().toISOString() };
    const body = (d: DesiredSlice, base?: EndpointSlice): KubeObject => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: base ? { ...base.metadata, labels, annotations: { ...base.metadata.annotations, ...annotations } } : { generateName: `${svc.metadata.name}-`, namespace: ns, labels, annotations, ownerReferences: ownerRef(svc) },
      addressType,
      endpoints: d.endpoints,
      ports: d.ports,
    });
    const same = (es: EndpointSlice, d: DesiredSlice) =>
      JSON.stringify(es.endpoints ?? []) === JSON.stringify(d.endpoints) && JSON.stringify(es.ports ?? []) === JSON.stringify(d.ports) && JSON.stringify(es.metadata.labels) === JSON.stringify(labels);
    const unused = [...existing];
    const todo: DesiredSlice[] = [];
    for (const d of want) {
      const i = unused.findIndex((es) => same(es, d));
      if (i >= 0) unused.splice(i, 1);
      else todo.push(d);
    }
    for (const d of todo) {
      const reuse = unused.shift();
      if (reuse) await this.client.request('PUT', objectPath('discovery.k8s.io/v1', 'endpointslices', ns, reuse.metadata.name!), body(d, reuse));
      else await this.client.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, body(d));
    }
    for (const es of unused) await this.client.request('DELETE', objectPath('discovery.k8s.io/v1', 'endpointslices', ns, es.metadata.name!)).catch(() => {});
  }

  private async deleteEndpoints(ns: string, name: string): Promise<void> {
    try {
      await this.endpointsClient.request('DELETE', objectPath('v1', 'endpoints', ns, name));
    } catch (e) {
      if (!isApiError(e) || e.code !== 404) throw e;
    }
  }

  private async syncEndpoints(svc: Service, subsets: NonNullable<Endpoints['subsets']>): Promise<void> {
    const ns = svc.metadata.namespace!;
    const name = svc.metadata.name!;
    const cur = this.endpoints.get(ns, name);
    const labels = { ...(svc.metadata.labels ?? {}) };
    if (cur && JSON.stringify(cur.subsets ?? []) === JSON.stringify(subsets) && JSON.stringify(cur.metadata.labels ?? {}) === JSON.stringify(labels)) return;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const body = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace: ns, labels, annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': now }, ...(cur ? { resourceVersion: cur.metadata.resourceVersion } : {}) },
      ...(subsets.length ? { subsets } : {}),
    };
    await this.endpointsClient.request('PUT', objectPath('v1', 'endpoints', ns, name), body);
  }
}

/** Node IPAM: gives each Node a /24 (by default) of the cluster CIDR as spec.podCIDR. */
export class NodeIpamController {
  readonly queue: WorkQueue;
  /** CIDRs this controller handed out; the informer's cache may not show them yet. */
  private readonly allocated = new Map<string, string>();
  constructor(
    private readonly client: Client,
    private readonly nodes: Informer<KubeObject>,
    private readonly clusterCIDR: string,
    private readonly maskSize: number,
    log: (s: string) => void,
  ) {
    this.queue = new WorkQueue((k) => this.sync(k), (k, e) => log(`node-ipam ${k}: ${e.message}`));
    nodes.on({ add: (n) => this.queue.add(nsName(n)), update: (_, n) => this.queue.add(nsName(n)) });
  }

  private async sync(key: string): Promise<void> {
    const [, name] = splitKey(key);
    const node = this.nodes.get(undefined, name);
    const spec = (node?.spec ?? {}) as { podCIDR?: string };
    if (!node || spec.podCIDR || this.allocated.has(name)) return;
    const cluster = parseCIDR(this.clusterCIDR);
    if (!cluster) throw new Error(`invalid cluster CIDR ${this.clusterCIDR}`);
    const used = new Set([...this.nodes.list().map((n) => (n.spec as { podCIDR?: string } | undefined)?.podCIDR), ...this.allocated.values()].filter(Boolean));
    const count = 2 ** (this.maskSize - cluster.prefix);
    const step = 1n << BigInt(cluster.bits - this.maskSize);
    for (let i = 0; i < count; i++) {
      // e.g. a /16 cluster CIDR, a /24 per node: the i-th /24
      const cidr = `${cidrAddress(cluster, BigInt(i) * step)}/${this.maskSize}`;
      if (used.has(cidr)) continue;
      // Reserved before the request: the queue syncs several nodes at once.
      this.allocated.set(name, cidr);
      try {
        await this.client.request('PATCH', objectPath('v1', 'nodes', undefined, name), { spec: { podCIDR: cidr, podCIDRs: [cidr] } }, 'application/strategic-merge-patch+json');
      } catch (e) {
        this.allocated.delete(name);
        throw e;
      }
      return;
    }
    throw new Error(`no free /${this.maskSize} left in ${this.clusterCIDR}`);
  }
}
