// ServicePorts, endpoints and a kube-ipvs0 stand-in for the userspace and IPVS mode tests; a
// clock and sync runner that move only when a Proxier test says.
import type { DummyShell } from '../../src/proxy/dummydevice.ts';
import type { ServicePortInfo } from '../../src/proxy/model.ts';
import type { Clock, SyncRunner } from '../../src/proxy/proxier.ts';

export function sp(o: Partial<ServicePortInfo> & Pick<ServicePortInfo, 'clusterIP' | 'port' | 'endpoints'>): ServicePortInfo {
  return { name: 'default/svc', namespace: 'default', serviceName: 'svc', portName: '', protocol: 'TCP', nodePort: 0, externalIPs: [], loadBalancerVIPs: [], loadBalancerSourceRanges: [], externalPolicyLocal: false, internalPolicyLocal: false, stickyMaxAgeSeconds: 0, healthCheckNodePort: 0, topology: { nodeName: 'n' }, ...o };
}
export const ep = (ip: string, port: number, isLocal = true) => ({ ip, port, key: `${ip}:${port}`, ready: true, serving: true, terminating: false, isLocal, zoneHints: [], nodeHints: [] });

export const fakeDummy = (): DummyShell & { addrs: Set<string> } => {
  const addrs = new Set<string>();
  return { addrs, ensure() {}, exists: () => true, list: () => [...addrs], nodeAddresses: () => ['192.168.49.2'], add: (ip) => void addrs.add(ip), del: (ip) => void addrs.delete(ip) };
};

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
