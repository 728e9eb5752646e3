// The in-cluster credentials a pod's built-in image gets, as a kubeconfig: the API server at the
// `kubernetes` Service (reached through kube-proxy, as pods reach it), with the CA and token of
// the agent's own client.
import fs from 'node:fs';
import path from 'node:path';
import type { Service } from '../api/types.ts';
import { writeKubeconfig } from '../client/kubeconfig.ts';

/**
 * The `kubernetes` Service's address until the agent has seen the Service: the first address
 * of the conventional Service CIDR, where the API server allocates it.
 */
export const conventionalKubernetesServiceIP = '10.96.0.1';

/** Writes `file` for a pod and returns its path. */
export function writePodKubeconfig(file: string, kubernetes: Service | undefined, creds: { ca?: string; token?: string }): string {
  const host = kubernetes?.spec.clusterIP ?? conventionalKubernetesServiceIP;
  const port = kubernetes?.spec.ports?.find((p) => p.name === 'https')?.port ?? 443;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeKubeconfig(file, { name: 'in-cluster', server: `https://${host}:${port}`, caCert: creds.ca ?? '', token: creds.token ?? '' });
  return file;
}
