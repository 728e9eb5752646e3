// The live kube-proxy (iptables mode): informers for Services and EndpointSlices, a
// bounded-frequency sync runner, and a thin shell that hands renderIptables' text to
// iptables-restore. The offline `podpath proxy render` calls the same renderIptables.
import type { EndpointSlice, Service } from '../api/types.ts';
import { Client, loadConfig } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { run, succeeds } from '../lab/netns.ts';
import { jumpRules, renderIptables, staleChainLines, type IptablesConfig } from './iptables.ts';
import { ProxyHealthServer, ServiceHealthServers } from './healthcheck.ts';
import { categorizeEndpoints, servicePorts } from './model.ts';

export interface ProxierOptions {
  kubeconfig?: string;
  nodeName: string;
  config: IptablesConfig;
  minSyncPeriodMs: number;
  /** where /healthz and /livez listen (upstream 0.0.0.0:10256); none when absent */
  healthz?: { host: string; port: number };
  syncPeriodMs: number;
  log: (s: string) => void;
}

/** Whether iptables supports MASQUERADE --random-fully (1.6.2 and later). */
function supportsRandomFully(): boolean {
  let version = '';
  try {
    version = run(['iptables', '--version'], { allowFail: true });
  } catch {
    // no iptables: the first sync says so
  }
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [a, b, c] = m.slice(1).map(Number) as [number, number, number];
  return a > 1 || (a === 1 && (b > 6 || (b === 6 && c >= 2)));
}

export class IptablesProxier {
  private client: Client;
  private services: Informer<Service>;
  private slices: Informer<EndpointSlice>;
  private timer: NodeJS.Timeout | undefined;
  private lastSync = 0;
  private pending = false;
  private needFullSync = true;
  /** no sync before both informers have listed: a Service without its slices would be REJECTed */
  private initialized = false;
  readonly cfg: IptablesConfig;
  private health: ServiceHealthServers;
  private proxyHealth: ProxyHealthServer;

  constructor(private readonly o: ProxierOptions) {
    this.client = new Client(loadConfig(o.kubeconfig, `kube-proxy/podpath (${o.nodeName})`));
    this.services = new Informer<Service>(this.client, 'v1', 'services');
    this.slices = new Informer<EndpointSlice>(this.client, 'discovery.k8s.io/v1', 'endpointslices');
    this.cfg = { randomFully: supportsRandomFully(), ...o.config };
    // Healthy while asked-for syncs complete within two sync periods, as upstream.
    this.proxyHealth = new ProxyHealthServer(2 * o.syncPeriodMs);
    this.health = new ServiceHealthServers(() => this.proxyHealth.healthy(), o.log);
  }

  async start(): Promise<void> {
    for (const inf of [this.services, this.slices]) {
      inf.onError = (e) => this.o.log(`informer: ${e.message}`);
      inf.on({ add: () => this.requestSync(), update: () => this.requestSync(), delete: () => this.requestSync() });
      inf.start();
    }
    if (this.o.healthz) this.proxyHealth.listen(this.o.healthz.host, this.o.healthz.port, this.o.log);
    this.proxyHealth.queued();
    await Promise.all([this.services.waitForSync(), this.slices.waitForSync()]);
    this.initialized = true;
    this.sync();
    this.timer = setInterval(() => this.requestSync(true), this.o.syncPeriodMs);
    this.o.log(`iptables proxier for ${this.o.nodeName} started`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.services.stop();
    this.slices.stop();
    this.health.close();
    this.proxyHealth.close();
    this.client.close();
  }

  /** Runs a sync now, or as soon as minSyncPeriod allows (several requests make one sync). */
  private requestSync(full = false): void {
    if (full) this.needFullSync = true;
    this.proxyHealth.queued();
    if (this.pending) return;
    const wait = Math.max(0, this.lastSync + this.o.minSyncPeriodMs - Date.now());
    this.pending = true;
    setTimeout(() => {
      this.pending = false;
      this.sync();
    }, wait);
  }

  private sync(): void {
    if (!this.initialized) return;
    this.lastSync = Date.now();
    const t0 = performance.now();
    try {
      const ports = servicePorts(this.services.list(), this.slices.list(), this.o.nodeName);
      const r = renderIptables(ports, this.cfg);
      let text = r.text;
      // Stale per-service chains go in the same transaction.
      const stale = staleChainLines(run(['iptables-save', '-t', 'nat']), r.activeNatChains);
      if (stale.length) text = text.replace(/COMMIT\n$/, `${stale.join('\n')}\nCOMMIT\n`);
      run(['iptables-restore', '-w', '5', '-W', '100000', '--noflush', '--counters'], { input: text });
      if (this.needFullSync) this.ensureJumpRules();
      this.needFullSync = false;
      this.proxyHealth.updated();
      this.health.sync(
        ports
          .filter((sp) => sp.healthCheckNodePort)
          .map((sp) => ({ namespace: sp.namespace, name: sp.serviceName, port: sp.healthCheckNodePort, localEndpoints: categorizeEndpoints(sp).localEndpoints.filter((e) => e.ready).length })),
      );
      this.o.log(`synced ${ports.length} service ports in ${(performance.now() - t0).toFixed(1)} ms${stale.length ? `, ${stale.length / 2} stale chains removed` : ''}`);
    } catch (e) {
      this.needFullSync = true;
      this.o.log(`sync failed: ${(e as Error).message}`);
      setTimeout(() => this.requestSync(true), this.o.syncPeriodMs);
    }
  }

  /** The jump rules from the built-in chains, prepended when missing (full syncs only). */
  private ensureJumpRules(): void {
    for (const j of jumpRules) {
      if (!succeeds(['iptables', '-w', '5', '-t', j.table, '-C', j.chain, ...j.args])) run(['iptables', '-w', '5', '-t', j.table, '-I', j.chain, ...j.args]);
    }
  }
}
