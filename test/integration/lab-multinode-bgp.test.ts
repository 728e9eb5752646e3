// A three-node lab with the BGP backend (BIRD), in iptables mode
// (the suite itself: test/helpers/multinode.ts).
import { multinodeSuites } from '../helpers/multinode.ts';

multinodeSuites([
  { backend: 'bgp', proxyMode: 'iptables' },
]);
