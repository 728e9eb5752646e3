// LoadBalancer IPs for the lab (the job MetalLB does on bare metal): a Service of type
// LoadBalancer (without a loadBalancerClass) gets the first free address of a pool on the
// underlay in status.loadBalancer.ingress; kube-proxy's speaker side announces it from a node.
import type { Service } from '../api/types.ts';
import type { Client } from '../client/client.ts';
import { objectPath } from '../client/client.ts';
import type { Informer } from '../client/informer.ts';
import { formatIP, parseIP } from '../util/ip.ts';
import { WorkQueue } from '../client/workqueue.ts';

/** The addresses of a pool written "FIRST-LAST", in order. */
export function poolAddresses(pool: string): string[] {
  const [first, last] = pool.trim().split('-').map(parseIP);
  if (first?.family !== 4 || last?.family !== 4) throw new Error(`invalid LoadBalancer pool ${JSON.stringify(pool)}: expected FIRST-LAST, e.g. 192.168.49.200-192.168.49.250`);
  const count = Number(last.value - first.value) + 1;
  if (count < 1 || count > 65536) throw new Error(`invalid LoadBalancer pool ${pool}: LAST must follow FIRST, at most 65536 addresses`);
  return Array.from({ length: count }, (_, i) => formatIP(first.value + BigInt(i), 4));
}

const wantsIP = (s: Service) => s.spec?.type === 'LoadBalancer' && !s.spec.loadBalancerClass;
const ingressIPs = (s: Service) => (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => Boolean(ip));

export class LoadBalancerIPController {
  readonly queue: WorkQueue;
  /** addresses handed out that the informer may not show yet */
  private reserved = new Map<string, string>();

  constructor(
    private readonly client: Client,
    private readonly services: Informer<Service>,
    private readonly pool: string[],
    log: (s: string) => void,
  ) {
    this.queue = new WorkQueue((k) => this.sync(k), (k, e) => log(`loadbalancer ${k}: ${e.message}`));
    const key = (s: Service) => `${s.metadata.namespace}/${s.metadata.name}`;
    services.on({ add: (s) => this.queue.add(key(s)), update: (_, s) => this.queue.add(key(s)), delete: (s) => this.reserved.delete(key(s)) });
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const svc = this.services.get(ns, name);
    if (!svc || !wantsIP(svc) || ingressIPs(svc).length) return;
    const used = new Set([...this.services.list().flatMap(ingressIPs), ...[...this.reserved].filter(([k]) => k !== key).map(([, ip]) => ip)]);
    const requested = svc.spec.loadBalancerIP;
    const ip = requested && this.pool.includes(requested) && !used.has(requested) ? requested : this.pool.find((a) => !used.has(a));
    if (!ip) throw new Error(`no free address left in the LoadBalancer pool (${this.pool[0]}-${this.pool[this.pool.length - 1]})`);
    this.reserved.set(key, ip);
    await this.client.request('PATCH', objectPath('v1', 'services', ns, name, 'status'), { status: { loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } } }, 'application/merge-patch+json');
  }
}
