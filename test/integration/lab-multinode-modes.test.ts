// A three-node host-gw lab in kube-proxy's userspace mode, whose proxy connects onward itself
// (the suite itself: test/helpers/multinode.ts; nftables mode runs with VXLAN in lab-multinode).
import { multinodeSuites } from '../helpers/multinode.ts';

multinodeSuites([
  { backend: 'host-gw', proxyMode: 'userspace' },
]);
