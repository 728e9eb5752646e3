// What `podpath proxy render --mode userspace` prints: the addresses the node holds on kube-ipvs0
// and the table the userspace proxy balances over, as `ipvsadm -Ln` would show it.
import type { ServicePortInfo } from '../model.ts';
import { dummyAddresses, dummyDevice, ipvsadmList, virtualServers, type IpvsOptions } from '../virtualserver.ts';

export function renderUserspace(ports: ServicePortInfo[], o: IpvsOptions): string {
  return [`# ip addr: ${dummyDevice} (type dummy) holds`, ...dummyAddresses(ports).map((ip) => `${ip}/32`), '# the table podpath balances over (ipvsadm -Ln)', ipvsadmList(virtualServers(ports, o))].join('\n');
}
