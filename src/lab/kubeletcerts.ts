// The certificates of the API server's connections to the node agents, as kubeadm issues them
// from the cluster CA (here the lab CA): apiserver-kubelet-client (CN kube-apiserver-kubelet-client,
// O system:masters), and for each node a serving certificate for its name and address — the
// agents trust the CA for client certificates, the API server for serving ones.
import { issueLeaf, type CA } from '../util/pki.ts';
import { writePrivate } from '../util/privatefs.ts';
import type { LabNode } from './lab.ts';

export interface KubeletCertFiles {
  kubeletClientCert: string;
  kubeletClientKey: string;
  nodeServingCert: (node: string) => string;
  nodeServingKey: (node: string) => string;
}

/** kubeadm's subject of the API server's kubelet client certificate. */
export const kubeletClientSubject = 'CN=kube-apiserver-kubelet-client, O=system:masters';

/** The API server's client certificate (unless `withClient` is false: a node joining a running lab) and each node's serving one. */
export async function issueKubeletCerts(ca: CA, nodes: LabNode[], files: KubeletCertFiles, withClient = true): Promise<void> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + 365 * 24 * 3600 * 1000);
  if (withClient) {
    const client = await issueLeaf(ca, { subject: kubeletClientSubject, dns: [], ips: [], notBefore, notAfter, usage: 'client' });
    writePrivate(files.kubeletClientCert, client.cert);
    writePrivate(files.kubeletClientKey, client.key);
  }
  for (const n of nodes) {
    const serving = await issueLeaf(ca, { subject: `CN=${n.name}`, dns: [n.name], ips: [n.ip], notBefore, notAfter });
    writePrivate(files.nodeServingCert(n.name), serving.cert);
    writePrivate(files.nodeServingKey(n.name), serving.key);
  }
}
