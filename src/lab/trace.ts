// `podpath trace` against a running lab: the objects from its API server, kube-proxy's mode and the
// pod network from its ConfigMap, the rest of the address plan from the lab's own (its state:
// the CNI backend), each node's rules read from that node's kernel, and — with --observe — the
// lab's namespaces for the probe and the kernel's reports. `podpath ui` runs the same over the
// objects its watches hold.
import type { Pod } from '../api/types.ts';
import { sandboxName } from '../agent/sandbox.ts';
import { defaultExecutor, type Executor } from '../exec/exec.ts';
import { ClusterIndex, podKey, type AddressPlan, type ClusterObjects } from '../trace/cluster.ts';
import type { TraceRequest } from '../trace/engine.ts';
import { readClusterObjects, readProxyConfig, type ProxyConfigSummary } from '../trace/live.ts';
import { kernelTrace, readKernelRules, type KernelRules } from '../trace/kernel.ts';
import { observeTrace } from '../trace/observe.ts';
import { TraceError, type Trace } from '../trace/types.ts';
import { curlTrust, labClient, pickLab } from './access.ts';
import { clientIP, clusterCIDR, clusterDNS, routerIP, serviceCIDR, underlayCIDR } from './defaults.ts';
import { labPaths, type LabState } from './lab.ts';

export interface LabTraceOptions {
  /** the lab; the only one running when absent */
  name?: string;
  observe?: boolean;
  executor?: Executor;
}

/** The lab's address plan: its defaults, the pod network kube-proxy is configured with and the lab's CNI backend. */
export function labPlan(s: LabState, podNetwork: string | undefined): AddressPlan {
  return { underlayCIDR, routerIP, clientIP, clusterCIDR: podNetwork ?? clusterCIDR, serviceCIDR, clusterDNS, clusterDomain: 'cluster.local', cniBackend: s.cniBackend };
}

/** The network namespace of a place in the lab: client, node/NAME, pod/NS/NAME (a pod's sandbox, or its node's for a hostNetwork pod). */
export function labNetns(s: LabState, pods: Map<string, Pod>): (place: string) => string | undefined {
  return (place) => {
    if (place === 'client') return s.client;
    if (place.startsWith('node/')) return s.nodes.find((n) => n.name === place.slice(5))?.netns;
    if (place.startsWith('pod/')) {
      const p = pods.get(place.slice(4));
      if (!p?.metadata.uid) return undefined;
      if (p.spec?.hostNetwork) return s.nodes.find((n) => n.name === p.spec?.nodeName)?.netns;
      return sandboxName(s.podNetnsPrefix, p.metadata.uid);
    }
    return undefined;
  };
}

/** One trace in the lab: computed from the nodes' kernels, and observed with `observe`. */
export async function labTrace(o: LabTraceOptions, req: TraceRequest): Promise<Trace> {
  const s = pickLab(o.name);
  const client = labClient(s);
  let objects;
  let proxy;
  try {
    [objects, proxy] = await Promise.all([readClusterObjects(client), readProxyConfig(client)]);
  } finally {
    client.close();
  }
  return labTraceOver(s, objects, proxy, o, req);
}

/**
 * One trace in the lab over objects already at hand (as read by labTrace, or as `podpath ui`'s
 * watches hold them): each node's rules read from its kernel now, the probe sent with `observe`.
 */
export async function labTraceOver(s: LabState, objects: ClusterObjects, proxy: ProxyConfigSummary | undefined, o: Omit<LabTraceOptions, 'name'>, req: TraceRequest): Promise<Trace> {
  const ex = o.executor ?? defaultExecutor;
  const mode = proxy?.mode ?? 'iptables';
  if (mode === 'none' || !proxy) throw new TraceError('BadState', `lab ${s.name} runs no kube-proxy (no ConfigMap kube-system/kube-proxy): no Service rules to trace`);
  const ix = new ClusterIndex(objects, labPlan(s, proxy.clusterCIDR));
  const read = await Promise.all(s.nodes.map(async (n) => [n.name, await readKernelRules(n.netns, mode, ex)] as const));
  const kernel = new Map<string, KernelRules>(read);
  if (o.observe) {
    const legacy = read.find(([, k]) => k.iptablesBackend === 'legacy');
    if (legacy) throw new TraceError('BadState', `node ${legacy[0]}'s iptables is the legacy variant: nft monitor trace sees only iptables-nft's rules (update-alternatives --set iptables /usr/sbin/iptables-nft)`);
    const pods = new Map(objects.pods.map((p) => [podKey(p), p]));
    const readKernel = (node: string) => readKernelRules(s.nodes.find((n) => n.name === node)!.netns, mode, ex);
    return observeTrace({ ix, mode, kernel, ...(proxy.scheduler ? { scheduler: proxy.scheduler } : {}), netnsOf: labNetns(s, pods), executor: ex, readKernel, ...(curlTrust(s).length ? { ca: labPaths(s.name).labCACert } : {}) }, req);
  }
  return kernelTrace({ ix, mode, kernel, ...(proxy.scheduler ? { scheduler: proxy.scheduler } : {}) }, req);
}
