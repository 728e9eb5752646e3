// `podpath gateway-controller`: a Gateway API controller on the Ingress controller's data plane.
// It watches GatewayClasses, Gateways, HTTPRoutes, ReferenceGrants, Services, EndpointSlices,
// Secrets and Namespaces; the Gateways of its classes (spec.controllerName) become listeners and
// routes in the Ingress model (dataplane.ts) that the same syncer renders into nginx.conf and
// whose endpoints go to the same Lua balancer without a reload. Status — GatewayClass Accepted,
// Gateway Accepted/Programmed with the data plane Service's address and each listener's, every
// HTTPRoute's parents — is computed by the functions `podpath gateway route` uses (model.ts,
// status.ts) and written through the status subresources when it changed. With a data plane
// selector, each Gateway gets a LoadBalancer Service of its own (provision.ts) and its own address.
import type { EndpointSlice, KubeObject, Namespace, Pod, Service } from '../api/types.ts';
import { Client, loadConfig, objectPath } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { IngressSyncer, fakeCertificate, nginxPlane, serveController } from '../ingress/controller/controller.ts';
import { ControllerMetrics } from '../ingress/metrics.ts';
import type { Model as IngressModel, Secret } from '../ingress/model.ts';
import type { RenderOptions } from '../ingress/nginx/template.ts';
import type { HostPort } from '../util/ip.ts';
import { byAge } from '../ingress/model.ts';
import { buildDataPlane, type DataPlaneModel } from './dataplane.ts';
import { OnDemandPlane } from './ondemand.ts';
import { allocateTargetPorts, gatewayAddress, gatewayService, gatewayServiceName, gatewaySlice, isGatewayService, requestedAddress, type TargetPorts } from './provision.ts';
import { buildModel, keyOf, type GatewayState, type Model } from './model.ts';
import { gatewayClassConditions, gatewayStatus, routeParents, sameStatus, stamp, type Condition, type RouteParentEntry } from './status.ts';
import { gatewayGroup, type Gateway, type GatewayClass, type HTTPRoute, type ReferenceGrant } from './types.ts';

export const defaultControllerName = 'podpath.dev/gateway-controller';

export interface GatewayControllerOptions {
  kubeconfig?: string;
  /** the GatewayClass spec.controllerName this controller answers to */
  controllerName: string;
  /** NAMESPACE/NAME of the data plane's Service: its address goes into each Gateway's status, its ports are the listeners' */
  publishService?: string;
  /** the data plane's pods (the controller's own): each Gateway gets a LoadBalancer Service of its own in front of them */
  dataPlane?: { namespace: string; selector: string };
  render: RenderOptions;
  healthz?: HostPort;
  nginx: string;
  minSyncMs: number;
  log: (s: string) => void;
}

/** The objects a Gateway controller reads. */
export interface GatewayObjects extends GatewayState {
  secrets: Secret[];
}

/**
 * Only the Gateways of classes with our controllerName; the model and data plane built from them.
 * `ports`: the shared Service's (undefined: any); `perGateway`: every Gateway has a Service of its
 * own, its listener ports mapped to target ports kept in those Services.
 */
export function computeGateways(s: GatewayObjects, controllerName: string, ports: number[] | undefined, perGateway = false): { classes: GatewayClass[]; gateways: Gateway[]; model: Model; plane: DataPlaneModel; targetPorts?: TargetPorts } {
  const classes = s.classes.filter((c) => c.spec?.controllerName === controllerName);
  const names = new Set(classes.map((c) => c.metadata.name));
  const gateways = s.gateways.filter((g) => names.has(g.spec?.gatewayClassName) && !g.metadata.deletionTimestamp).sort(byAge);
  const model = buildModel({ ...s, gateways });
  const targetPorts = perGateway ? allocateTargetPorts(gateways, s.services) : undefined;
  const plane = buildDataPlane({ model, services: s.services, slices: s.slices, secrets: s.secrets, grants: s.grants, ...(ports ? { ports } : {}), ...(targetPorts ? { targetPorts } : {}) });
  return { classes, gateways, model, plane, ...(targetPorts ? { targetPorts } : {}) };
}

/**
 * The Ingress model with the Gateways' servers in place of the Ingress catch-all (kept while there
 * is no listener: nginx then answers 404 on its ports), their upstreams and certificates added.
 */
export function withGateways(m: IngressModel, plane: DataPlaneModel): IngressModel {
  return { ...m, servers: plane.servers.length ? plane.servers : m.servers, upstreams: new Map([...m.upstreams, ...plane.upstreams]), certificates: new Map([...m.certificates, ...plane.certificates]) };
}

export interface RunningGatewayController {
  syncer: IngressSyncer;
  stop(): Promise<void>;
}

export async function runGatewayController(o: GatewayControllerOptions): Promise<RunningGatewayController> {
  const client = new Client(loadConfig(o.kubeconfig, 'podpath-gateway-controller'));
  const v1 = `${gatewayGroup}/v1`;
  const classes = new Informer<GatewayClass>(client, v1, 'gatewayclasses');
  const gateways = new Informer<Gateway>(client, v1, 'gateways');
  const routes = new Informer<HTTPRoute>(client, v1, 'httproutes');
  const grants = new Informer<ReferenceGrant>(client, `${gatewayGroup}/v1beta1`, 'referencegrants');
  const services = new Informer<Service>(client, 'v1', 'services');
  const slices = new Informer<EndpointSlice>(client, 'discovery.k8s.io/v1', 'endpointslices');
  const secrets = new Informer<Secret>(client, 'v1', 'secrets');
  const namespaces = new Informer<Namespace>(client, 'v1', 'namespaces');
  const pods = o.dataPlane ? new Informer<Pod>(client, 'v1', 'pods', { namespace: o.dataPlane.namespace, labelSelector: o.dataPlane.selector }) : undefined;
  const all = [classes, gateways, routes, grants, services, slices, secrets, namespaces, ...(pods ? [pods] : [])] as Informer<KubeObject>[];
  const objects = (): GatewayObjects => ({
    classes: classes.list(),
    gateways: gateways.list(),
    routes: routes.list(),
    grants: grants.list(),
    services: services.list(),
    slices: slices.list(),
    secrets: secrets.list(),
    namespaces: namespaces.list(),
  });
  const publish = o.publishService?.split('/');
  const publishSvc = () => (publish ? services.get(publish[0]!, publish[1]!) : undefined);
  const ports = () => {
    const p = publishSvc()?.spec?.ports?.map((x) => x.port);
    return p?.length ? p : undefined;
  };

  const metrics = new ControllerMetrics({ controller_class: o.controllerName, controller_namespace: process.env.POD_NAMESPACE ?? '', controller_pod: process.env.POD_NAME ?? '' });
  let statusSoon = (): void => {};
  const nginx = nginxPlane(o, () => {
    syncer.forget();
    syncer.request();
  });
  const { render, cancelRestart } = nginx;
  // nginx once a Gateway has a listener to serve (withGateways keeps the catch-all until then)
  const plane = new OnDemandPlane(nginx.plane, () => (last?.plane.servers.length ?? 0) > 0, () => syncer.resendBackends());
  const defaultCertificate = await fakeCertificate();
  let last: ReturnType<typeof computeGateways> | undefined;
  const syncer = new IngressSyncer(() => ({ ingresses: [], classes: [], services: [], slices: [], secrets: [] }), plane, {
    class: { ingressClass: '', controller: o.controllerName, watchWithoutClass: false },
    render,
    defaultCertificate,
    minSyncMs: o.minSyncMs,
    log: o.log,
    metrics,
    onSynced: () => statusSoon(),
    extend: (m) => {
      last = computeGateways(objects(), o.controllerName, ports(), Boolean(o.dataPlane));
      return withGateways(m, last.plane);
    },
  });

  const changed = () => syncer.request();
  for (const i of all) i.on({ add: changed, update: changed, delete: changed });
  for (const i of all) i.start();
  await Promise.all(all.map((i) => i.waitForSync()));
  o.log(`informers synced; serving GatewayClasses of controller ${o.controllerName}`);
  await syncer.syncNow();

  const put = async (apiVersion: string, resource: string, obj: KubeObject, status: unknown) => {
    const kind = { gatewayclasses: 'GatewayClass', gateways: 'Gateway', httproutes: 'HTTPRoute' }[resource];
    await client
      .request('PUT', objectPath(apiVersion, resource, obj.metadata.namespace, obj.metadata.name!, 'status'), { ...obj, apiVersion, kind, status })
      .catch((e: Error) => o.log(`status of ${kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}: ${e.message}`));
  };
  const manager = 'podpath-gateway-controller';
  /** the last failure logged per object: a write retried every second is logged once until it changes */
  const failed = new Map<string, string>();
  const apply = async (apiVersion: string, resource: string, obj: KubeObject) => {
    const what = `${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name}`;
    await client.request('PATCH', `${objectPath(apiVersion, resource, obj.metadata.namespace, obj.metadata.name!)}?fieldManager=${manager}&force=true`, JSON.stringify(obj), 'application/apply-patch+yaml').then(
      () => failed.delete(what),
      (e: Error) => {
        if (failed.get(what) !== e.message) o.log(`apply ${what}: ${e.message}`);
        failed.set(what, e.message);
      },
    );
  };
  const remove = async (apiVersion: string, resource: string, obj: KubeObject) => {
    await client.request('DELETE', objectPath(apiVersion, resource, obj.metadata.namespace, obj.metadata.name!)).catch((e: Error & { code?: number }) => {
      if (e.code !== 404) o.log(`delete ${resource} ${obj.metadata.namespace}/${obj.metadata.name}: ${e.message}`);
    });
  };
  /** Each Gateway's Service and EndpointSlice as they should be; those of a Gateway no longer ours deleted. */
  const provision = async (c: NonNullable<typeof last>) => {
    if (!pods || !c.targetPorts) return;
    const want = new Set<string>();
    for (const gw of c.gateways) {
      if ('reason' in requestedAddress(gw)) continue; // AddressNotUsable: nothing to serve it at
      const m = c.targetPorts.get(keyOf(gw)) ?? new Map<number, number>();
      const ip = (requestedAddress(gw) as { ip?: string }).ip;
      const svc = gatewayService(gw, m, ip);
      const slice = gatewaySlice(gw, m, pods.list());
      want.add(keyOf(svc));
      const cur = services.get(svc.metadata.namespace, svc.metadata.name!);
      const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
      const curPorts = cur?.spec.ports?.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port, targetPort: p.targetPort }));
      if (!cur || !same(curPorts, svc.spec.ports) || cur.spec.loadBalancerIP !== svc.spec.loadBalancerIP || !same(cur.metadata.labels, svc.metadata.labels)) await apply('v1', 'services', svc);
      const curSlice = slices.get(slice.metadata.namespace, slice.metadata.name!);
      if (!curSlice || !same(curSlice.endpoints, slice.endpoints) || !same(curSlice.ports, slice.ports)) await apply('discovery.k8s.io/v1', 'endpointslices', slice);
    }
    // a Gateway moved to another class (a deleted one's dependents are the garbage collector's)
    for (const s of services.list()) {
      if (!isGatewayService(s) || want.has(keyOf(s))) continue;
      const owner = s.metadata.ownerReferences?.find((r) => r.kind === 'Gateway');
      const gw = owner && gateways.get(s.metadata.namespace, owner.name);
      if (!gw || gw.metadata.uid !== owner.uid || gatewayServiceName(gw) !== s.metadata.name) continue;
      o.log(`Gateway ${keyOf(gw)} is no longer served: deleting its Service ${s.metadata.name}`);
      await remove('v1', 'services', s);
      const slice = slices.get(s.metadata.namespace, s.metadata.name!);
      if (slice) await remove('discovery.k8s.io/v1', 'endpointslices', slice);
    }
  };
  const updateStatus = async () => {
    const c = last;
    if (!c) return;
    await provision(c);
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    type WithStatus = { status?: { conditions?: Condition[]; parents?: RouteParentEntry[]; addresses?: unknown; listeners?: { name: string; conditions?: Condition[] }[] } };
    for (const gc of c.classes) {
      const old = (gc as WithStatus).status;
      const conditions = stamp(gatewayClassConditions(gc), old?.conditions, gc.metadata.generation, now);
      if (!sameStatus(old?.conditions, conditions)) await put(v1, 'gatewayclasses', gc, { ...old, conditions });
    }
    const address = publishSvc()?.status?.loadBalancer?.ingress?.[0];
    for (const gm of c.model.gateways.values()) {
      const gw = gm.gateway;
      const current = gateways.get(gw.metadata.namespace, gw.metadata.name!) as (Gateway & WithStatus) | undefined;
      if (!current) continue;
      const old = current.status;
      const own = o.dataPlane ? gatewayAddress(gw, services.get(gw.metadata.namespace, gatewayServiceName(gw))) : undefined;
      const view = gatewayStatus(c.plane.listeners.get(gm.key) ?? [], own ?? address, plane.running());
      const gen = current.metadata.generation;
      const status = {
        addresses: view.addresses,
        conditions: stamp(view.conditions, old?.conditions, gen, now),
        listeners: view.listeners.map((l) => ({ ...l, conditions: stamp(l.conditions, old?.listeners?.find((x) => x.name === l.name)?.conditions, gen, now) })),
      };
      if (!sameStatus(old, status)) await put(v1, 'gateways', current, status);
    }
    for (const r of routes.list() as (HTTPRoute & WithStatus)[]) {
      const parents = routeParents(c.model, keyOf(r), r.status?.parents, o.controllerName, r.metadata.generation, now);
      if (!sameStatus(r.status?.parents ?? [], parents)) await put(v1, 'httproutes', r, { ...r.status, parents });
    }
  };
  const served = serveController({ syncer, informers: all, client, plane, cancelRestart, metrics, healthz: o.healthz, log: o.log }, updateStatus);
  statusSoon = served.statusSoon;
  return served.running;
}
