// kube-ipvs0, the device that holds the Service addresses in IPVS and userspace modes so the node
// accepts their traffic as its own (upstream's ipvs netlink handle), and a fake of it.
import { defaultExecutor, run, succeeds, type Executor } from '../exec/exec.ts';
import { ipv4Addresses } from './nodeaddresses.ts';
import { dummyDevice } from './virtualserver.ts';

/** The addresses of kube-ipvs0. */
export interface DummyShell {
  /** the device, up; with strictARP (--ipvs-strict-arp) the node answers no ARP for the Service IPs it holds there */
  ensure(strictARP: boolean): void;
  exists(): boolean;
  list(): string[];
  /** the node's addresses on its other interfaces */
  nodeAddresses(): string[];
  add(ip: string): void;
  del(ip: string): void;
}

/** The device through `ip` and `sysctl`, run through `ex`. */
export function realDummy(ex: Executor = defaultExecutor): DummyShell {
  const ok = (argv: string[]) => succeeds(argv, {}, ex);
  return {
    ensure(strictARP) {
      // A kernel without the dummy driver gets a port-less bridge: addresses on it are just as local.
      if (!ok(['ip', 'link', 'show', dummyDevice]) && !ok(['ip', 'link', 'add', dummyDevice, 'type', 'dummy'])) run(['ip', 'link', 'add', dummyDevice, 'type', 'bridge'], {}, ex);
      run(['ip', 'link', 'set', dummyDevice, 'up'], {}, ex);
      // strictARP, as IPVS mode sets it when asked (MetalLB's layer-2 mode needs it): the node
      // must not answer ARP for Service IPs it holds on the dummy device, so a LoadBalancer IP is
      // answered only by the node that announces it.
      if (strictARP) for (const [k, v] of [['net.ipv4.conf.all.arp_ignore', '1'], ['net.ipv4.conf.all.arp_announce', '2']]) ok(['sysctl', '-q', '-w', `${k}=${v}`]);
    },
    exists: () => ok(['ip', 'link', 'show', dummyDevice]),
    list: () => ipv4Addresses(['dev', dummyDevice], undefined, ex),
    nodeAddresses: () => ipv4Addresses([], dummyDevice, ex),
    add: (ip) => void ok(['ip', 'addr', 'replace', `${ip}/32`, 'dev', dummyDevice]),
    del: (ip) => void ok(['ip', 'addr', 'del', `${ip}/32`, 'dev', dummyDevice]),
  };
}

/** The fake: the device's addresses in a set, the node's other addresses given. */
export class FakeDummy implements DummyShell {
  readonly addresses = new Set<string>();
  present = false;
  strictARP = false;

  constructor(private readonly nodeIPs: string[] = []) {}

  ensure(strictARP: boolean): void {
    this.present = true;
    this.strictARP = strictARP;
  }

  exists(): boolean {
    return this.present;
  }

  list(): string[] {
    return [...this.addresses];
  }

  nodeAddresses(): string[] {
    return this.nodeIPs;
  }

  add(ip: string): void {
    this.addresses.add(ip);
  }

  del(ip: string): void {
    this.addresses.delete(ip);
  }
}
