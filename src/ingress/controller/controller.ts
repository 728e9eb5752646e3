// `podpath ingress-controller`: ingress-nginx's control loop. Informers for Ingresses,
// IngressClasses, Services, EndpointSlices and Secrets; on any change a sync (coalesced, at most
// one at a time, reloads at most once per --sync-period) builds the model and
//   1. sends the upstreams' endpoints to the Lua balancer when they changed (never a reload);
//   2. renders nginx.conf, and only when the text changed checks it with `nginx -t` and reloads.
// A configuration nginx refuses is never loaded: the Ingresses changed since the last good one
// are checked one by one, those that break it get a Warning Event and are left out, and the
// rest is loaded (or, when no single Ingress is to blame, the running configuration stays).
// Served Ingresses get the published Service's address as their status.
import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { EndpointSlice, Ingress, IngressClass, KubeObject, LoadBalancerIngress, Service } from '../../api/types.ts';
import { Client, loadConfig, objectPath } from '../../client/client.ts';
import { EventRecorder, type EventType } from '../../client/events.ts';
import { Informer } from '../../client/informer.ts';
import { createHttpServer } from '../../util/httpserver.ts';
import type { HostPort } from '../../util/ip.ts';
import type { ControllerClass } from '../classes.ts';
import { ControllerMetrics } from '../metrics.ts';
import { buildModel, refString, type IngressState, type Model, type Secret } from '../model.ts';
import { Nginx, type DataPlane } from '../nginx/process.ts';
import { backendsPayload, renderNginxConf, type RenderOptions } from '../nginx/template.ts';

export interface SyncerOptions {
  class: ControllerClass;
  render: RenderOptions;
  /** the self-signed certificate served where no Secret applies (PEM chain + key) */
  defaultCertificate: string;
  /** least time between two reloads (endpoint updates do not wait) */
  minSyncMs: number;
  log: (s: string) => void;
  /** an Event about an Ingress */
  event?: (ing: Ingress, type: EventType, reason: string, message: string) => void;
  metrics: ControllerMetrics;
  /** after every sync (the controller updates Ingress status then) */
  onSynced?: () => void;
  /** adds to (or replaces parts of) the model before it is rendered: a Gateway controller's listeners and routes */
  extend?: (m: Model) => Model;
}

const keyOf = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;
/** each informer object's version, hashed once (objects are replaced, never changed, on update) */
const versions = new WeakMap<Ingress, string>();
/** an Ingress as the controller reads it (spec and annotations; a status update is not a change): a new version is a new chance */
const versionOf = (o: Ingress): string => {
  let v = versions.get(o);
  if (v === undefined) versions.set(o, (v = `${keyOf(o)}@${o.metadata.uid ?? ''}@${createHash('sha256').update(JSON.stringify([o.spec, o.metadata.annotations ?? {}])).digest('hex').slice(0, 16)}`));
  return v;
};

/** Keeps nginx in line with the objects. */
export class IngressSyncer {
  /** the nginx.conf running, and the Ingress versions it was made from */
  private runningConf: string | undefined;
  private good = new Set<string>();
  private sentBackends: string | undefined;
  /** Ingress versions nginx refused, left out until they change */
  private refused = new Map<string, string>();
  private reported = new Set<string>();
  private loggedIgnored = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private pending = false;
  private stopped = false;
  private lastReload = 0;
  private reloadTimer: NodeJS.Timeout | undefined;
  /** the model of the last sync */
  model: Model | undefined;
  /** resolves when the sync in flight (if any) and those asked for meanwhile are done */
  private idle: Promise<void> = Promise.resolve();
  private settle: (() => void) | undefined;

  constructor(
    private readonly state: () => IngressState,
    private readonly plane: DataPlane,
    private readonly o: SyncerOptions,
  ) {}

  /** Asks for a sync soon; changes arriving meanwhile ride along. */
  request(): void {
    if (this.stopped) return;
    this.pending = true;
    if (!this.settle) this.idle = new Promise((r) => (this.settle = r));
    if (this.timer || this.running) return;
    // endpoints go out at once; reloads keep their own pace (see sync)
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.syncNow();
    }, 0);
  }

  /** Settles once no sync is running or asked for. */
  async whenIdle(): Promise<void> {
    await this.idle;
  }

  async syncNow(): Promise<void> {
    if (this.running) {
      // one sync at a time: this one rides on the next
      this.request();
      return this.whenIdle();
    }
    this.pending = false;
    this.running = true;
    try {
      await this.sync();
    } catch (e) {
      this.o.log(`sync failed: ${(e as Error).message}`);
      this.pending = true;
    } finally {
      this.running = false;
    }
    if (this.pending && !this.stopped) this.request();
    else if (this.settle) {
      const s = this.settle;
      this.settle = undefined;
      s();
    }
  }

  private build(s: IngressState): Model {
    const exclude = new Set<string>();
    for (const ing of s.ingresses) {
      const v = this.refused.get(keyOf(ing));
      if (v === undefined) continue;
      if (v === versionOf(ing)) exclude.add(keyOf(ing));
      else this.refused.delete(keyOf(ing));
    }
    const m = buildModel(s, { class: this.o.class, defaultCertificate: this.o.defaultCertificate, exclude });
    return this.o.extend ? this.o.extend(m) : m;
  }

  private async sync(): Promise<void> {
    try {
      await this.syncOnce();
    } finally {
      this.o.onSynced?.();
    }
  }

  private async syncOnce(): Promise<void> {
    const s = this.state();
    let model = this.build(s);
    // 1. endpoints: to the balancer, no reload (the running workers see them on their next request)
    await this.sendBackends(model);
    // 2. the configuration: only a changed text is checked and loaded, at most once per minSyncMs
    let rendered = renderNginxConf(model, this.o.render);
    const sinceReload = Date.now() - this.lastReload;
    if (rendered.conf !== this.runningConf && this.runningConf !== undefined && sinceReload < this.o.minSyncMs) {
      this.later(this.o.minSyncMs - sinceReload);
      this.model = model;
      return;
    }
    if (rendered.conf !== this.runningConf) {
      const err = await this.plane.check(rendered);
      if (err !== undefined) {
        // a configuration nginx refused is a reload error, whether or not the rest can be loaded
        this.o.metrics.refused();
        const culprits = await this.isolate(s, model);
        if (culprits.length) {
          model = this.build(s);
          rendered = renderNginxConf(model, this.o.render);
          await this.sendBackends(model);
        }
        // without the culprits it may be the configuration running already: nothing to load
        const again = !culprits.length ? err : rendered.conf === this.runningConf ? undefined : await this.plane.check(rendered);
        if (again !== undefined || rendered.conf === this.runningConf) {
          if (again !== undefined) this.o.log(`nginx refused the new configuration; the running one stays: ${again}`);
          this.model = model;
          this.reportProblems(s, model);
          return;
        }
      }
      await this.plane.load(rendered);
      this.lastReload = Date.now();
      const first = this.runningConf === undefined;
      this.runningConf = rendered.conf;
      this.good = new Set(model.served.map(versionOf));
      this.o.metrics.reloaded(rendered.conf);
      this.o.log(first ? 'nginx configuration loaded' : 'nginx reloaded');
      if (first) await this.sendBackends(model, true);
    }
    this.model = model;
    this.reportProblems(s, model);
  }

  /** A sync after `ms` (a reload that must wait its turn). */
  private later(ms: number): void {
    if (this.reloadTimer || this.stopped) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      this.request();
    }, ms);
  }

  private async sendBackends(model: Model, force = false): Promise<void> {
    if (!this.plane.running()) return;
    const payload = backendsPayload(model);
    if (!force && payload === this.sentBackends) return;
    await this.plane.setBackends(payload);
    if (this.sentBackends !== undefined && !force) this.o.metrics.endpointUpdates.inc();
    this.sentBackends = payload;
  }

  /** The Ingresses changed since the last good configuration that nginx refuses on their own (with the good ones). */
  private async isolate(s: IngressState, model: Model): Promise<Ingress[]> {
    const suspects = model.served.filter((ing) => !this.good.has(versionOf(ing)));
    const goodOnes = model.served.filter((ing) => this.good.has(versionOf(ing)));
    const culprits: Ingress[] = [];
    // When the good ones alone are refused too, no Ingress is to blame (a Secret, the machine).
    const baseline = buildModel({ ...s, ingresses: goodOnes }, { class: this.o.class, defaultCertificate: this.o.defaultCertificate });
    const baseErr = await this.plane.check(renderNginxConf(baseline, this.o.render));
    if (baseErr !== undefined) {
      this.o.log(`nginx refuses even the configuration without the changed Ingresses: ${baseErr}`);
      return [];
    }
    for (const ing of suspects.slice(0, 50)) {
      const trial = buildModel({ ...s, ingresses: [...goodOnes, ing] }, { class: this.o.class, defaultCertificate: this.o.defaultCertificate });
      const err = await this.plane.check(renderNginxConf(trial, this.o.render));
      if (err === undefined) continue;
      culprits.push(ing);
      this.refused.set(keyOf(ing), versionOf(ing));
      this.o.log(`Ingress ${keyOf(ing)} makes a configuration nginx refuses: ${err}`);
      this.o.event?.(ing, 'Warning', 'RejectedByNginx', `nginx refused the configuration this Ingress makes (left out, the rest keeps serving): ${lastLine(err)}`);
    }
    return culprits;
  }

  /** Warning Events for new problems (once per Ingress version and message), log lines for ignored annotations. */
  private reportProblems(s: IngressState, model: Model): void {
    const byKey = new Map(s.ingresses.map((i) => [keyOf(i), i]));
    for (const p of model.problems) {
      if (p.reason === 'RejectedByNginx') continue; // told when found
      const ing = byKey.get(refString(p.ingress));
      if (!ing) continue;
      const k = `${versionOf(ing)} ${p.reason} ${p.message}`;
      if (this.reported.has(k)) continue;
      this.reported.add(k);
      this.o.log(`Ingress ${refString(p.ingress)}: ${p.reason}: ${p.message}`);
      this.o.event?.(ing, 'Warning', p.reason, p.message);
    }
    for (const i of model.ignored) {
      const k = `${refString(i.ingress)} ${i.annotation}`;
      if (this.loggedIgnored.has(k)) continue;
      this.loggedIgnored.add(k);
      this.o.log(`Ingress ${k.replace(' ', ': annotation ')} is not implemented by podpath and is ignored`);
    }
  }

  /** Forgets what nginx runs (it died): the next sync starts it with the whole configuration. */
  forget(): void {
    this.runningConf = undefined;
    this.sentBackends = undefined;
  }

  /** The endpoints go to the balancer again on the next sync, whether or not they changed (a data plane that dropped them). */
  resendBackends(): void {
    this.sentBackends = undefined;
    this.request();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.settle?.();
  }
}

/** ingress-nginx's self-signed certificate, for hosts without one of their own. */
export async function fakeCertificate(): Promise<string> {
  const { makeCA } = await import('../../util/pki.ts');
  const now = new Date();
  const c = await makeCA('CN=Kubernetes Ingress Controller Fake Certificate, O=Acme Co', new Date(now.getTime() - 3600_000), new Date(now.getTime() + 365 * 86400_000));
  return `${c.certPem.trimEnd()}\n${c.keyPem}`;
}

/** What nginx said that matters: its [emerg] line without the timestamp, else its last line. */
const lastLine = (s: string) => {
  const lines = s.trim().split('\n');
  const emerg = lines.find((l) => l.includes('[emerg]'));
  return emerg ? emerg.replace(/^.*?\[emerg\] (\d+#\d+: )?/, '') : (lines.at(-1) ?? s);
};

/** The status an Ingress should carry: the published Service's load-balancer addresses. */
export function desiredStatus(publish: Service | undefined): LoadBalancerIngress[] {
  return (publish?.status?.loadBalancer?.ingress ?? []).map((i) => ({ ...(i.ip ? { ip: i.ip } : {}), ...(i.hostname ? { hostname: i.hostname } : {}) }));
}

const sameStatus = (a: { ip?: string; hostname?: string }[] | undefined, b: LoadBalancerIngress[]) => JSON.stringify((a ?? []).map((x) => [x.ip, x.hostname])) === JSON.stringify(b.map((x) => [x.ip, x.hostname]));

export interface ControllerOptions {
  kubeconfig?: string;
  class: ControllerClass;
  /** NAMESPACE/NAME of the Service whose address goes into the Ingresses' status */
  publishService?: string;
  render: RenderOptions;
  healthz?: HostPort;
  nginx: string;
  minSyncMs: number;
  log: (s: string) => void;
  /** the controller's self-signed certificate; made at start when not given */
  defaultCertificate?: string;
}

export interface RunningController {
  syncer: IngressSyncer;
  stop(): Promise<void>;
}

export async function runController(o: ControllerOptions): Promise<RunningController> {
  const client = new Client(loadConfig(o.kubeconfig, 'podpath-ingress-controller'));
  const ingresses = new Informer<Ingress>(client, 'networking.k8s.io/v1', 'ingresses');
  const classes = new Informer<IngressClass>(client, 'networking.k8s.io/v1', 'ingressclasses');
  const services = new Informer<Service>(client, 'v1', 'services');
  const slices = new Informer<EndpointSlice>(client, 'discovery.k8s.io/v1', 'endpointslices');
  const secrets = new Informer<Secret>(client, 'v1', 'secrets');
  const all = [ingresses, classes, services, slices, secrets] as Informer<KubeObject>[];
  const state = (): IngressState => ({ ingresses: ingresses.list(), classes: classes.list(), services: services.list(), slices: slices.list(), secrets: secrets.list() });

  const id = { controller_class: o.class.controller, controller_namespace: process.env.POD_NAMESPACE ?? '', controller_pod: process.env.POD_NAME ?? '' };
  const metrics = new ControllerMetrics(id);
  const recorder = new EventRecorder(client, 'nginx-ingress-controller');
  const event = (ing: Ingress, type: EventType, reason: string, message: string) => void recorder.record({ ...ing, apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' }, type, reason, message);
  let statusSoon = (): void => {};
  const { plane, render, cancelRestart } = nginxPlane(o, () => {
    syncer.forget();
    syncer.request();
  });
  const defaultCertificate = o.defaultCertificate ?? (await fakeCertificate());
  const syncer = new IngressSyncer(state, plane, { class: o.class, render, defaultCertificate, minSyncMs: o.minSyncMs, log: o.log, event, metrics, onSynced: () => statusSoon() });

  // "Scheduled for sync", as ingress-nginx tells each Ingress it takes on
  const announced = new Set<string>();
  const changed = () => syncer.request();
  for (const i of all) i.on({ add: changed, update: changed, delete: changed });
  for (const i of all) i.start();
  await Promise.all(all.map((i) => i.waitForSync()));
  o.log(`informers synced; serving IngressClass ${o.class.ingressClass} (controller ${o.class.controller})`);
  await syncer.syncNow();

  // status: the published Service's address on every served Ingress
  const publish = o.publishService?.split('/');
  const updateStatus = async () => {
    const model = syncer.model;
    if (!model) return;
    const want = desiredStatus(publish ? services.get(publish[0]!, publish[1]!) : undefined);
    for (const ing of model.served) {
      if (!announced.has(versionOf(ing))) {
        announced.add(versionOf(ing));
        event(ing, 'Normal', 'Sync', 'Scheduled for sync');
      }
      if (!publish || sameStatus(ing.status?.loadBalancer?.ingress, want)) continue;
      // An update of the status subresource, as ingress-nginx's status syncer writes it (its
      // ClusterRole grants ingresses/status update only); a conflict is retried on the next round.
      const next = { ...ing, apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', status: { ...ing.status, loadBalancer: { ingress: want } } };
      await client
        .request('PUT', objectPath('networking.k8s.io/v1', 'ingresses', ing.metadata.namespace, ing.metadata.name!, 'status'), next)
        .catch((e: Error) => o.log(`status of Ingress ${keyOf(ing)}: ${e.message}`));
    }
  };
  const served = serveController({ syncer, informers: all, client, plane, cancelRestart, metrics, healthz: o.healthz, log: o.log }, updateStatus);
  statusSoon = served.statusSoon;
  return served.running;
}

/**
 * nginx as a controller's data plane (the Ingress and the Gateway controllers alike): when it
 * dies, it is started again a second later with the configuration of the next sync. nginx writes
 * its access log to the controller's own stdout (the container log); /dev/stdout cannot be opened
 * by `nginx -t` when stdout is a socket, /proc/PID/fd/1 of a file can.
 */
export function nginxPlane(o: { nginx: string; render: RenderOptions; log: (s: string) => void }, resync: () => void): { plane: DataPlane; render: RenderOptions; cancelRestart(): void } {
  let restart: NodeJS.Timeout | undefined;
  const plane = new Nginx({
    nginx: o.nginx,
    confDir: o.render.confDir,
    runDir: o.render.runDir,
    statusPort: o.render.statusPort,
    log: o.log,
    onExit: () => {
      restart = setTimeout(resync, 1000);
    },
  });
  const render = o.render.accessLog === '/dev/stdout' ? { ...o.render, accessLog: `/proc/${process.pid}/fd/1` } : o.render;
  return { plane, render, cancelRestart: () => restart && clearTimeout(restart) };
}

/**
 * A controller's status writes and serving, once its syncer runs: `updateStatus` after every
 * sync (the returned `statusSoon`) and every second (a published Service's address may come or
 * change later than the last sync), /healthz and /metrics, and the stop that ends it all.
 */
export function serveController(
  o: { syncer: IngressSyncer; informers: Informer<KubeObject>[]; client: Client; plane: DataPlane; cancelRestart(): void; metrics: ControllerMetrics; healthz?: HostPort; log: (s: string) => void },
  updateStatus: () => Promise<void>,
): { statusSoon: () => void; running: RunningController } {
  const statusSoon = oneAtATime(updateStatus);
  const statusTick = setInterval(() => statusSoon(), 1000);
  statusSoon();
  const server = o.healthz ? serveHealthz(o.healthz, o.plane, o.metrics, o.log) : undefined;
  return {
    statusSoon,
    running: {
      syncer: o.syncer,
      stop: async () => {
        clearInterval(statusTick);
        o.cancelRestart();
        o.syncer.stop();
        for (const i of o.informers) i.stop();
        server?.close();
        await o.plane.stop();
        o.client.close();
      },
    },
  };
}

/** /healthz (nginx running) and /metrics (the controller's and nginx's counters) on `addr`. */
export function serveHealthz(addr: HostPort, plane: DataPlane, metrics: ControllerMetrics, log: (s: string) => void): http.Server {
  const server = createHttpServer((_req, res, target) => {
    if (target.pathname === '/healthz') {
      const ok = plane.running();
      res.writeHead(ok ? 200 : 500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(ok ? 'ok' : 'nginx is not running');
      return;
    }
    if (target.pathname === '/metrics') {
      void plane
        .counters()
        .catch(() => '')
        .then((text) => res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.expose(text)));
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(addr.port, addr.host);
  log(`/healthz and /metrics on ${addr.host}:${addr.port}`);
  return server;
}

/** `run` at most once at a time; calls meanwhile make one more run after it. */
export function oneAtATime(run: () => Promise<void>): () => void {
  let running = false;
  let again = false;
  const soon = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    void run().finally(() => {
      running = false;
      if (again) {
        again = false;
        soon();
      }
    });
  };
  return soon;
}
