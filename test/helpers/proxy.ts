// ServicePorts and endpoints for the userspace and IPVS mode tests; a
// clock and sync runner that move only when a Proxier test says; Services and EndpointSlices for
// the backends' tests.
import type { EndpointSlice, Service } from '../../src/api/types.ts';
import type { ServicePortInfo } from '../../src/proxy/model.ts';
import type { Clock, SyncRunner } from '../../src/proxy/proxier.ts';

export function sp(o: Partial<ServicePortInfo> & Pick<ServicePortInfo, 'clusterIP' | 'port' | 'endpoints'>): ServicePortInfo {
  return { name: 'default/svc', namespace: 'default', serviceName: 'svc', portName: '', protocol: 'TCP', nodePort: 0, externalIPs: [], loadBalancerVIPs: [], loadBalancerSourceRanges: [], externalPolicyLocal: false, internalPolicyLocal: false, stickyMaxAgeSeconds: 0, healthCheckNodePort: 0, topology: { nodeName: 'n' }, ...o };
}
export const ep = (ip: string, port: number, isLocal = true) => ({ ip, port, key: `${ip}:${port}`, ready: true, serving: true, terminating: false, isLocal, zoneHints: [], nodeHints: [] });

/** Time that moves only when the test says, firing the timers due on the way in order. */
export class FakeClock implements Clock {
  t = 0;
  private timers: { at: number; every?: number; fn: () => void }[] = [];

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn };
    this.timers.push(timer);
    return () => void (this.timers = this.timers.filter((x) => x !== timer));
  }

  every(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, every: ms, fn };
    this.timers.push(timer);
    return () => void (this.timers = this.timers.filter((x) => x !== timer));
  }

  advance(ms = 0): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.t = next.at;
      if (next.every) next.at += next.every;
      else this.timers = this.timers.filter((x) => x !== next);
      next.fn();
    }
    this.t = end;
  }
}

/** A runner without rate limits: a requested sync runs at the clock's next step, once however often it was asked for. */
export const runnerOn = (clock: FakeClock) => (sync: () => void): SyncRunner => {
  let pending: (() => void) | undefined;
  return {
    run: () => {
      pending ??= clock.after(0, () => {
        pending = undefined;
        sync();
      });
    },
    stop: () => pending?.(),
  };
};

/** A Service in namespace default: one TCP port "http" 80, under what spec gives. */
export const service = (name: string, spec: Record<string, unknown>, status?: Record<string, unknown>): Service =>
  ({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec }, ...(status ? { status } : {}) }) as unknown as Service;

/** The EndpointSlice of a Service in namespace default, port "http" 8080: each endpoint "ip" (on node n1) or "ip@node". */
export const endpointSlice = (name: string, endpoints: string[]): EndpointSlice =>
  ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: 'default', name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => {
      const [ip, nodeName = 'n1'] = e.split('@');
      return { addresses: [ip], nodeName };
    }),
  }) as unknown as EndpointSlice;
