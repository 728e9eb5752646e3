// The node's network daemon, as flannel's flanneld runs with --kube-subnet-mgr: one per node (in a
// lab, a pod of the DaemonSet kube-system/kube-flannel-ds on the node's own network), it takes
// the node's pod CIDR from its Node (the controller manager's node IPAM allocates it), publishes
// the node's backend on the Node as flannel's annotations, and keeps the routes or the VXLAN
// device, neighbours and FDB entries that reach every other node's pod CIDR (network.ts), and
// with --ip-masq the masquerade rule for pod traffic leaving the cluster network.
import type { Node } from '../api/types.ts';
import { Client, loadConfig, objectPath } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { defaultExecutor, type Executor } from '../exec/exec.ts';
import { internalIP, PodNetwork } from './network.ts';
import { vtepMAC, vxlanVNI } from './routes.ts';
import type { NetConf } from './netconf.ts';

export interface DaemonOptions {
  kubeconfig?: string;
  nodeName: string;
  netConf: NetConf;
  /** masquerade pod traffic leaving the cluster network (flanneld --ip-masq) */
  ipMasq: boolean;
  /** how often the masquerade rule is checked (it may be flushed under us; default 30 s) */
  resyncMs?: number;
  log: (s: string) => void;
}

const annotationPrefix = 'flannel.alpha.coreos.com';

/** The annotations flanneld writes on its Node: how other nodes reach this one's pod CIDR. */
export function nodeAnnotations(conf: NetConf, publicIP: string): Record<string, string> {
  return {
    [`${annotationPrefix}/backend-data`]: conf.backend === 'vxlan' ? JSON.stringify({ VNI: vxlanVNI, VtepMAC: vtepMAC(publicIP) }) : 'null',
    [`${annotationPrefix}/backend-type`]: conf.backend,
    [`${annotationPrefix}/kube-subnet-manager`]: 'true',
    [`${annotationPrefix}/public-ip`]: publicIP,
  };
}

export interface RunningDaemon {
  stop(): void;
}

/** Watches the Nodes and keeps this node's side of the pod network as they say. */
export class NetworkDaemon {
  private net: PodNetwork | undefined;
  private annotated = '';

  constructor(
    private readonly o: DaemonOptions,
    private readonly client: Pick<Client, 'request'>,
    private readonly ex: Executor = defaultExecutor,
  ) {}

  /** One Node seen (added or changed). */
  async nodeChanged(n: Node, all: () => Node[]): Promise<void> {
    if (n.metadata.name !== this.o.nodeName) {
      this.net?.peerChanged(n);
      return;
    }
    const ip = internalIP(n);
    const cidr = n.spec?.podCIDR;
    if (!ip || !cidr) return;
    if (!this.net) {
      this.o.log(`Using interface eth0 with address ${ip}; backend ${this.o.netConf.backend}, network ${this.o.netConf.network}`);
      this.net = new PodNetwork({ nodeName: this.o.nodeName, nodeIP: ip, clusterCIDR: this.o.netConf.network, backend: this.o.netConf.backend, log: this.o.log }, this.ex);
      if (this.o.ipMasq) {
        this.net.ensureMasquerade();
        this.o.log(`Setting up masquerade for traffic from ${this.o.netConf.network} leaving it`);
      }
    }
    if (cidr !== this.net.podCIDR) {
      this.net.setPodCIDR(cidr);
      this.o.log(`Current network or subnet (${this.o.netConf.network}, ${cidr}) is the node's lease`);
      // Peers seen before this node had its own CIDR (and VXLAN device) are wired now.
      for (const other of all()) if (other.metadata.name !== this.o.nodeName) this.net.peerChanged(other);
    }
    await this.annotate(n, ip);
  }

  nodeGone(n: Node): void {
    this.net?.peerGone(n);
  }

  /** Re-checks what may be flushed under the daemon (the masquerade rule). */
  resync(): void {
    if (this.net && this.o.ipMasq) this.net.ensureMasquerade();
  }

  private async annotate(n: Node, ip: string): Promise<void> {
    const want = nodeAnnotations(this.o.netConf, ip);
    const have = n.metadata.annotations ?? {};
    const key = JSON.stringify(want);
    if (this.annotated === key || Object.entries(want).every(([k, v]) => have[k] === v)) {
      this.annotated = key;
      return;
    }
    try {
      await this.client.request('PATCH', objectPath('v1', 'nodes', undefined, this.o.nodeName), { metadata: { annotations: want } }, 'application/merge-patch+json');
      this.annotated = key;
    } catch (e) {
      this.o.log(`annotating node ${this.o.nodeName}: ${(e as Error).message}`);
    }
  }
}

export async function runDaemon(o: DaemonOptions): Promise<RunningDaemon> {
  const client = new Client(loadConfig(o.kubeconfig, `flanneld/podpath (${o.nodeName})`));
  const nodes = new Informer<Node>(client, 'v1', 'nodes');
  const d = new NetworkDaemon(o, client);
  nodes.onError = (e) => o.log(`nodes informer: ${e.message}`);
  const changed = (n: Node) => void d.nodeChanged(n, () => nodes.list());
  nodes.on({ add: changed, update: (_, n) => changed(n), delete: (n) => d.nodeGone(n) });
  nodes.start();
  await nodes.waitForSync();
  o.log(`Node informer synced; ${nodes.list().length} nodes`);
  const timer = setInterval(() => d.resync(), o.resyncMs ?? 30_000);
  return {
    stop: () => {
      clearInterval(timer);
      nodes.stop();
      client.close();
    },
  };
}
