// Three-node host-gw labs in kube-proxy's nftables and userspace modes
// (the suite itself: test/helpers/multinode.ts).
import { multinodeSuites } from '../helpers/multinode.ts';

multinodeSuites([
  { backend: 'host-gw', proxyMode: 'nftables' },
  { backend: 'host-gw', proxyMode: 'userspace' },
]);
