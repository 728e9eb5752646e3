// The files a pod's container sees at its volumes' mount paths. podpath runs containers as host
// processes without a mount namespace of their own; the node agent writes each volume to a
// directory and hands a built-in image the table of mount paths → directories in
// PODPATH_VOLUME_MOUNTS, and the built-in images open the files they are given (kube-proxy's
// --config, a kubeconfig and the files it names, the service account token) through
// containerPath, so `--config=/var/lib/kube-proxy/config.conf` reads the ConfigMap's file as in
// a container. Outside a pod the table is empty and every path is itself.

/** mountPath → host path, as [mountPath, hostPath] pairs. */
export type MountTable = [mountPath: string, hostPath: string][];

export const mountsEnvVar = 'PODPATH_VOLUME_MOUNTS';

/** Where a pod's service account token, CA and namespace are (rest.InClusterConfig reads them there). */
export const serviceAccountMountPath = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The mount table in `env` (empty when absent or unreadable). */
export function mountTable(env: NodeJS.ProcessEnv = process.env): MountTable {
  const raw = env[mountsEnvVar];
  if (!raw) return [];
  try {
    const t = JSON.parse(raw) as unknown;
    return Array.isArray(t) ? (t.filter((e) => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string') as MountTable) : [];
  } catch {
    return [];
  }
}

/** The host path of `p` as a container sees it: under the longest mount path that holds it, else `p` itself. */
export function containerPath(p: string, table: MountTable = mountTable()): string {
  let best: [string, string] | undefined;
  for (const [mount, host] of table) {
    const m = mount.replace(/\/+$/, '') || '/';
    if (p === m || p.startsWith(m === '/' ? '/' : `${m}/`)) {
      if (!best || m.length > best[0].length) best = [m, host];
    }
  }
  if (!best) return p;
  return best[1] + p.slice(best[0] === '/' ? 0 : best[0].length);
}
