// kube-ipvs0, the device that holds the Service addresses in IPVS and userspace modes, so the
// node accepts their traffic as its own (upstream's ipvs netlink handle).
import { run, succeeds } from '../exec/exec.ts';
import { ipv4Addresses } from './nodeaddresses.ts';
import { dummyDevice } from './virtualserver.ts';

/** The addresses of kube-ipvs0 (a fake stands in for `ip` in unit tests). */
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

export const realDummy: DummyShell = {
  ensure(strictARP) {
    // A kernel without the dummy driver gets a port-less bridge: addresses on it are just as local.
    if (!succeeds(['ip', 'link', 'show', dummyDevice]) && !succeeds(['ip', 'link', 'add', dummyDevice, 'type', 'dummy'])) run(['ip', 'link', 'add', dummyDevice, 'type', 'bridge']);
    run(['ip', 'link', 'set', dummyDevice, 'up']);
    // strictARP, as IPVS mode sets it when asked (MetalLB's layer-2 mode needs it): the node
    // must not answer ARP for Service IPs it holds on the dummy device, so a LoadBalancer IP is
    // answered only by the node that announces it.
    if (strictARP) for (const [k, v] of [['net.ipv4.conf.all.arp_ignore', '1'], ['net.ipv4.conf.all.arp_announce', '2']]) succeeds(['sysctl', '-q', '-w', `${k}=${v}`]);
  },
  exists: () => succeeds(['ip', 'link', 'show', dummyDevice]),
  list: () => ipv4Addresses(['dev', dummyDevice]),
  nodeAddresses: () => ipv4Addresses([], dummyDevice),
  add: (ip) => void succeeds(['ip', 'addr', 'replace', `${ip}/32`, 'dev', dummyDevice]),
  del: (ip) => void succeeds(['ip', 'addr', 'del', `${ip}/32`, 'dev', dummyDevice]),
};
