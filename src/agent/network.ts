// The LoadBalancer IPs this node answers for on the underlay, as MetalLB's layer-2 speaker holds
// them: which node is chosen is announce.ts's plan; this adds and removes the addresses through
// the executor, in the namespace the agent runs in (the node's). (The routes to other nodes' pod
// CIDRs are the network daemon's: src/cni.)
import type { EndpointSlice, Node, Service } from '../api/types.ts';
import { succeeds, type Executor } from '../exec/exec.ts';
import { announcements } from './announce.ts';

export interface AnnouncerOptions {
  nodeName: string;
  /** the interface LoadBalancer IPs are held on (the node's underlay link) */
  underlayDevice: string;
  log: (s: string) => void;
}

export class LoadBalancerAnnouncer {
  /** LoadBalancer IPs this node holds on its underlay interface */
  private readonly announced = new Set<string>();

  constructor(
    private readonly o: AnnouncerOptions,
    private readonly ex: Executor,
  ) {}

  /** Holds the LoadBalancer IPs this node is chosen to answer for, and lets go of the others. */
  announce(services: Service[], slices: EndpointSlice[], nodes: Node[]): void {
    const mine = new Set(announcements(services, slices, nodes).filter((a) => a.node === this.o.nodeName).map((a) => a.ip));
    for (const ip of mine) {
      if (this.announced.has(ip)) continue;
      if (succeeds(['ip', 'addr', 'replace', `${ip}/32`, 'dev', this.o.underlayDevice], {}, this.ex)) {
        this.announced.add(ip);
        this.o.log(`answering for LoadBalancer IP ${ip}`);
      }
    }
    for (const ip of [...this.announced]) {
      if (mine.has(ip)) continue;
      succeeds(['ip', 'addr', 'del', `${ip}/32`, 'dev', this.o.underlayDevice], {}, this.ex);
      this.announced.delete(ip);
      this.o.log(`no longer answering for LoadBalancer IP ${ip}`);
    }
  }
}
