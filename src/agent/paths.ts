// Where a node agent keeps its files, all under its --state-dir.
import path from 'node:path';

export interface AgentPaths {
  /** one checkpoint file per pod */
  podsDir: string;
  logsDir: string;
  /** the log of a container's current (or last) instance, in the CRI format */
  containerLog(uid: string, container: string): string;
  /** the log of the instance before it (`kubectl logs --previous`) */
  containerPreviousLog(uid: string, container: string): string;
  /** the FIFOs that are a container's stdout and stderr */
  containerOutput(uid: string, container: string): { stdout: string; stderr: string };
  /** the FIFO a container with `stdin: true` reads (kubectl attach writes into it) */
  containerStdin(uid: string, container: string): string;
  /** host-local IPAM's allocations */
  ipamDir: string;
  /** the node's CNI network configuration list, as written for inspection: 10-<backend>.conflist in the CNI configuration directory */
  confList: string;
  /** the in-cluster kubeconfig a pod's built-in image is given */
  podKubeconfig(uid: string): string;
  /** a pod's volumes, one directory each */
  podVolumes(uid: string): string;
  /** where a container's root is assembled (a mount point inside the container's own mount namespace only) */
  containerRoot(uid: string, container: string): string;
}

/** `cni` is where the CNI configuration goes (kubelet --cni-conf-dir; STATE-DIR by default) and the backend that names it. */
export function agentPaths(stateDir: string, cni: { confDir?: string; backend?: string } = {}): AgentPaths {
  return {
    podsDir: path.join(stateDir, 'pods'),
    logsDir: path.join(stateDir, 'logs'),
    containerLog: (uid, container) => path.join(stateDir, 'logs', `${uid}_${container}.log`),
    containerPreviousLog: (uid, container) => path.join(stateDir, 'logs', `${uid}_${container}.previous.log`),
    containerOutput: (uid, container) => ({ stdout: path.join(stateDir, 'logs', `${uid}_${container}.stdout`), stderr: path.join(stateDir, 'logs', `${uid}_${container}.stderr`) }),
    containerStdin: (uid, container) => path.join(stateDir, 'logs', `${uid}_${container}.stdin`),
    ipamDir: path.join(stateDir, 'ipam'),
    confList: path.join(cni.confDir ?? stateDir, `10-${cni.backend ?? 'podpath'}.conflist`),
    podKubeconfig: (uid) => path.join(stateDir, 'serviceaccount', `${uid}.kubeconfig`),
    podVolumes: (uid) => path.join(stateDir, 'volumes', uid),
    containerRoot: (uid, container) => path.join(stateDir, 'rootfs', `${uid}_${container}`),
  };
}
