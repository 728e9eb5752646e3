// Three-node labs with each flannel backend, host-gw and VXLAN, in iptables mode
// (the suite itself: test/helpers/multinode.ts).
import { multinodeSuites } from '../helpers/multinode.ts';

multinodeSuites([
  { backend: 'host-gw', proxyMode: 'iptables' },
  { backend: 'vxlan', proxyMode: 'iptables' },
]);
