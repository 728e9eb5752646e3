// flannel's net-conf.json, the network daemon's configuration (ConfigMap kube-flannel-cfg, key
// net-conf.json, mounted at /etc/kube-flannel/): the cluster's pod network and the backend that
// reaches other nodes' pod CIDRs. {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}
import { parseCIDR } from '../util/ip.ts';
import type { FlannelBackend } from './routes.ts';

export interface NetConf {
  /** the cluster's pod network (what --ip-masq does not masquerade) */
  network: string;
  backend: FlannelBackend;
}

export const backends: readonly FlannelBackend[] = ['host-gw', 'vxlan'];

/** Parses net-conf.json; an error names the file's fault. */
export function parseNetConf(text: string, source = 'net-conf.json'): NetConf {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${source}: must be a JSON object`);
  const d = doc as { Network?: unknown; Backend?: { Type?: unknown } };
  if (typeof d.Network !== 'string') throw new Error(`${source}: "Network" (the pod network, e.g. "10.244.0.0/16") is missing`);
  if (parseCIDR(d.Network)?.family !== 4) throw new Error(`${source}: "Network" ${JSON.stringify(d.Network)} is not an IPv4 CIDR`);
  const type = d.Backend?.Type ?? 'vxlan';
  if (typeof type !== 'string' || !(backends as string[]).includes(type)) throw new Error(`${source}: backend type ${JSON.stringify(type)} is not supported (${backends.join(', ')})`);
  return { network: d.Network, backend: type as FlannelBackend };
}

/** The net-conf.json of a cluster with pod network `network` and `backend`. */
export function netConfJSON(network: string, backend: FlannelBackend): string {
  return `${JSON.stringify({ Network: network, Backend: { Type: backend } }, null, 2)}\n`;
}
