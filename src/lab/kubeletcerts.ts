// The certificates of the API server's connections to the node agents, as kubeadm issues them
// from the cluster CA (here the lab CA): apiserver-kubelet-client (CN kube-apiserver-kubelet-client,
// O system:masters), and for each node a serving certificate for its name and address — the
// agents trust the CA for client certificates, the API server for serving ones. And the
// components' own identities, each a client certificate of the CA in its own kubeconfig (the API
// server trusts the CA with --client-ca-file): system:kube-scheduler,
// system:kube-controller-manager, each node's system:node:NAME in group system:nodes, and the
// lab resolver's podpath:lab-resolver.
import { writeKubeconfig } from '../client/kubeconfig.ts';
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

/** The lab resolver's user: held by RBAC to what external-dns's ClusterRole gives it. */
export const resolverUser = 'podpath:lab-resolver';

/** A component's identity: the subject of its client certificate, and where its kubeconfig goes. */
export interface ComponentIdentity {
  subject: string;
  kubeconfig: string;
}

/** The identities kubeadm gives the control plane's components and each node's kubelet. */
export function componentIdentities(nodes: readonly LabNode[], files: { schedulerKubeconfig: string; controllerManagerKubeconfig: string; resolverKubeconfig: string; nodeKubeconfig: (node: string) => string }, controlPlane = true): ComponentIdentity[] {
  return [
    ...(controlPlane
      ? [
          { subject: 'CN=system:kube-scheduler', kubeconfig: files.schedulerKubeconfig },
          { subject: 'CN=system:kube-controller-manager', kubeconfig: files.controllerManagerKubeconfig },
          { subject: `CN=${resolverUser}`, kubeconfig: files.resolverKubeconfig },
        ]
      : []),
    ...nodes.map((n) => ({ subject: `CN=system:node:${n.name}, O=system:nodes`, kubeconfig: files.nodeKubeconfig(n.name) })),
  ];
}

/** Issues each identity's client certificate and writes its kubeconfig for the API server at `server` (whose CA is `apiCA`). */
export async function writeComponentKubeconfigs(ca: CA, identities: readonly ComponentIdentity[], server: string, apiCA: string): Promise<void> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + 365 * 24 * 3600 * 1000);
  for (const id of identities) {
    const leaf = await issueLeaf(ca, { subject: id.subject, dns: [], ips: [], notBefore, notAfter, usage: 'client' });
    writeKubeconfig(id.kubeconfig, { name: 'podpath', server, caCert: apiCA, clientCert: leaf.cert, clientKey: leaf.key });
  }
}
