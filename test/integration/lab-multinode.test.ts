// Three-node labs with each flannel backend: host-gw in iptables mode, VXLAN in nftables mode
// (the suite itself: test/helpers/multinode.ts; userspace mode: lab-multinode-modes, the BGP
// backend: lab-bgp).
import { multinodeSuites } from '../helpers/multinode.ts';

multinodeSuites([
  { backend: 'host-gw', proxyMode: 'iptables' },
  { backend: 'vxlan', proxyMode: 'nftables' },
]);
