// `podpath apiserver`: storage, allocators, built-in finalization, bootstrap objects, and
// the HTTPS listener, assembled.
import fs from 'node:fs';
import https from 'node:https';
import type { Socket } from 'node:net';
import path from 'node:path';
import v8 from 'node:v8';
import { isApiError } from '../api/errors.ts';
import { resourceOf } from '../api/resources.ts';
import type { KubeObject, Node, Pod, Service } from '../api/types.ts';
import { parseIP } from '../util/ip.ts';
import { ClusterIPAllocator, PortAllocator } from './allocators.ts';
import { Authentication, loadOrCreateServiceAccountKey, type BoundKind } from './authn.ts';
import { loadOrCreateServing, servingSANs, type ServingMaterial } from './certs.ts';
import { decodeFor } from './decode.ts';
import { defaultEventTTLMs, EventExpiry } from './eventttl.ts';
import { Finalization } from './finalization.ts';
import { authorizeRequest, createHandler, route } from './http.ts';
import { storeAuthorizer } from './authz.ts';
import { checkRbacWrite } from './escalation.ts';
import { admitNodeRestriction } from './noderestriction.ts';
import { clusterRoleBindings, clusterRoles } from './bootstrappolicy.ts';
import { createUpgradeHandler } from './streaming.ts';
import { loadKubeletClient } from './kubeletclient.ts';
import { writeKubeconfig } from '../client/kubeconfig.ts';
import { Registry, type Ctx } from './registry.ts';
import { CustomResources } from './apiextensions.ts';
import { ServiceAllocations } from './serviceips.ts';
import { Store } from './storage/store.ts';
import { guard, serverOptions, type Limits } from '../util/httpserver.ts';
import { privateDir } from '../util/privatefs.ts';

export interface ApiServerOptions {
  dataDir: string;
  /** host:port to listen on */
  listen: string;
  serviceCIDR: string;
  nodePortRange: string;
  kubeconfig?: string;
  /** the address other components reach this server at (backs the `kubernetes` Service) */
  advertiseAddress?: string;
  /** additional names/IPs for the serving certificate */
  extraSANs?: string[];
  /** also serve on this unix socket (the lab's host tunnel connects to it) */
  listenUnix?: string;
  /** also serve on this listening socket, inherited as a file descriptor */
  listenFd?: number;
  /** how long an Event lives after its last write (--event-ttl; an hour by default) */
  eventTTLMs?: number;
  /** the client certificate node agents are dialed with, and the CA their serving certificates are verified against */
  kubeletClientCertificate?: string;
  kubeletClientKey?: string;
  kubeletCertificateAuthority?: string;
  /** PEM file of the CA whose client certificates authenticate their CN in the groups of their O (--client-ca-file) */
  clientCAFile?: string;
  /** storage without fdatasync (etcd's --unsafe-no-fsync; storage/wal.ts) */
  unsafeNoFsync?: boolean;
  log?: (line: string) => void;
}

export interface RunningApiServer {
  url: string;
  port: number;
  host: string;
  serving: ServingMaterial;
  registry: Registry;
  close(): Promise<void>;
}

/**
 * kube-apiserver's: 32 s to send the headers (ReadHeaderTimeout), a minute for a whole request
 * (its request timeout), idle connections kept two minutes.
 */
const apiserverLimits: Partial<Limits> = { headersTimeoutMs: 32_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 120_000 };

export const systemNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

function readClientCA(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`--client-ca-file: ${(e as Error).message}`);
  }
}

function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(s);
  if (!m) throw new Error(`--listen must be host:port, got ${JSON.stringify(s)}`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** Creates an object through the registry as the API server itself, unless it exists. */
function ensure(registry: Registry, group: string, resource: string, obj: KubeObject): void {
  const rt = resourceOf(group, resource);
  if (registry.tryGet(rt, obj.metadata.namespace, obj.metadata.name!)) return;
  const { obj: decoded } = decodeFor(rt, obj, 'Strict');
  const ctx: Ctx = { rt, query: new URLSearchParams(), userAgent: 'kube-apiserver' };
  if (obj.metadata.namespace) ctx.namespace = obj.metadata.namespace;
  registry.createObject(ctx, decoded);
}

function bootstrap(registry: Registry, servicePort: number, advertise: string | undefined): void {
  for (const name of systemNamespaces) ensure(registry, '', 'namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const svc: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: {
      type: 'ClusterIP',
      clusterIP: registry.allocations.ips.first(),
      ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: servicePort }],
      sessionAffinity: 'None',
    },
  };
  ensure(registry, '', 'services', svc);
  // RBAC's bootstrap policy, as kube-apiserver's rbac/bootstrap-roles post-start hook creates it.
  for (const role of clusterRoles) ensure(registry, 'rbac.authorization.k8s.io', 'clusterroles', structuredClone(role));
  for (const b of clusterRoleBindings) ensure(registry, 'rbac.authorization.k8s.io', 'clusterrolebindings', structuredClone(b));
  if (!advertise) return;
  ensure(registry, '', 'endpoints', {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: advertise }], ports: [{ name: 'https', port: servicePort, protocol: 'TCP' }] }],
  });
  ensure(registry, 'discovery.k8s.io', 'endpointslices', {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: parseIP(advertise)?.family === 6 ? 'IPv6' : 'IPv4',
    endpoints: [{ addresses: [advertise], conditions: { ready: true } }],
    ports: [{ name: 'https', port: servicePort, protocol: 'TCP' }],
  });
}

export async function startApiServer(opts: ApiServerOptions): Promise<RunningApiServer> {
  const log = opts.log ?? (() => {});
  // Young-generation collections on the main thread alone. With the store's ~500 MB heap a
  // scavenge keeps ~1 MB, a few ms of work, but in parallel the main thread waits for helper
  // threads the scheduler has put aside on a busy machine: pauses of 60-90 ms were measured
  // (--trace-gc-nvp: scavenge.parallel 61-92 ms, background.scavenge.parallel 1-2 ms).
  v8.setFlagsFromString('--no-parallel-scavenge');
  const { host, port } = splitHostPort(opts.listen);
  const kubelet = loadKubeletClient(opts);
  const ips = new ClusterIPAllocator(opts.serviceCIDR);
  const nodePorts = PortAllocator.parse(opts.nodePortRange);
  privateDir(opts.dataDir);
  const store = Store.open(path.join(opts.dataDir, 'store'), { log, unsafeNoFsync: opts.unsafeNoFsync ?? false });
  const allocations = new ServiceAllocations(ips, nodePorts);
  for (const problem of allocations.rebuild(store.list('/services') as Service[])) log(`warning: ${problem}`);
  const registry = new Registry(store, { allocations });
  const customResources = new CustomResources(store);
  customResources.log = log;
  registry.kinds = customResources;

  const serving = await loadOrCreateServing(opts.dataDir, servingSANs({ listenHost: host, serviceCIDR: opts.serviceCIDR, ...(opts.advertiseAddress ? { advertiseAddress: opts.advertiseAddress } : {}), ...(opts.extraSANs ? { extraSANs: opts.extraSANs } : {}) }));

  let ready = false;
  const finalization = new Finalization(registry);
  finalization.log = log;

  // With a client CA, clients may present certificates (asked for, never required: tokens still work).
  const clientCA = opts.clientCAFile ? readClientCA(opts.clientCAFile) : undefined;
  const tls = { cert: serving.cert, key: serving.key, ...(clientCA ? { ca: clientCA, requestCert: true, rejectUnauthorized: false } : { ca: serving.caCert }) };
  const server = https.createServer({ ...tls, ...serverOptions(apiserverLimits) });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actualPort = (server.address() as { port: number }).port;
  // Further listeners serving the same: a unix socket, or a listening socket inherited as a file
  // descriptor (a lab's API server is reached from the host's 127.0.0.1 so, through a socket
  // \`podpath up\` made in the host's network namespace).
  const extra: https.Server[] = [];
  const serveAlso = async (listen: (srv: https.Server, done: () => void) => void) => {
    const srv = https.createServer({ ...tls, ...serverOptions(apiserverLimits) });
    srv.on('connection', (sk: Socket) => {
      sockets.add(sk);
      sk.on('close', () => sockets.delete(sk));
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      listen(srv, resolve);
    });
    extra.push(srv);
  };
  if (opts.listenUnix) {
    const unixPath = opts.listenUnix;
    fs.rmSync(unixPath, { force: true });
    await serveAlso((srv, done) => srv.listen(unixPath, done));
    fs.chmodSync(unixPath, 0o600);
  }
  if (opts.listenFd !== undefined) {
    const fd = opts.listenFd;
    await serveAlso((srv, done) => srv.listen({ fd }, done));
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `https://${shownHost}:${actualPort}`;
  const lookupResource: Record<BoundKind, string> = { ServiceAccount: 'serviceaccounts', Pod: 'pods', Secret: 'secrets', Node: 'nodes' };
  const authentication = new Authentication(serving.token, loadOrCreateServiceAccountKey(opts.dataDir), (kind, namespace, name) => {
    const o = registry.tryGet(resourceOf('', lookupResource[kind]), namespace, name);
    return o ? { uid: o.metadata.uid ?? '', deleting: Boolean(o.metadata.deletionTimestamp) } : undefined;
  });
  const authorizer = storeAuthorizer(store);
  registry.writeCheck = (ctx, obj, old) => checkRbacWrite(authorizer, ctx.user, obj, old);
  registry.validate = (a) =>
    admitNodeRestriction(a, {
      pod: (namespace, name) => registry.tryGet(resourceOf('', 'pods'), namespace, name) as Pod | undefined,
      node: (name) => registry.tryGet(resourceOf('', 'nodes'), undefined, name) as Node | undefined,
    });
  const handler = createHandler({
    registry,
    token: serving.token,
    authentication,
    authorizer,
    serverAddress: `${opts.advertiseAddress ?? host}:${actualPort}`,
    kubelet,
    ready: () => ready,
    log,
  });
  guard(server, handler, apiserverLimits, log);
  for (const srv of extra) guard(srv, handler, apiserverLimits, log);
  // exec, attach and port-forward: upgraded connections, proxied to the pod's node agent.
  const upgrade = createUpgradeHandler({ registry, kubelet, admit: (req, pathname, query) => void authorizeRequest(req, pathname, query, authentication, authorizer), route, log });
  server.on('upgrade', upgrade);
  for (const srv of extra) srv.on('upgrade', upgrade);

  try {
    bootstrap(registry, actualPort, opts.advertiseAddress);
    await store.sync();
  } catch (e) {
    server.close();
    store.close();
    throw isApiError(e) ? new Error(`bootstrap failed: ${e.message}`) : e;
  }
  finalization.start();
  customResources.start(registry);
  const eventExpiry = new EventExpiry(registry, opts.eventTTLMs ?? defaultEventTTLMs);
  eventExpiry.start();
  ready = true;

  if (opts.kubeconfig) writeKubeconfig(opts.kubeconfig, { name: 'podpath', server: url, caCert: serving.caCert, token: serving.token });

  return {
    url,
    port: actualPort,
    host,
    serving,
    registry,
    async close() {
      ready = false;
      finalization.stop();
      customResources.stop();
      eventExpiry.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const srv of extra) srv.close();
        for (const s of sockets) s.destroy();
      });
      if (opts.listenUnix) fs.rmSync(opts.listenUnix, { force: true });
      await store.sync();
      store.close();
    },
  };
}
