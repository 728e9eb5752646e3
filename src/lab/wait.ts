// What `podpath up` waits for, each bounded by a timeout: a condition polled until it holds,
// the nodes Ready with pod CIDRs, the pods Ready (and the Deployments' replicas), and a
// NodePort that stops refusing connections from the client namespace.
import type { DaemonSet, Node, Pod } from '../api/types.ts';
import { hasTrueCondition } from '../api/conditions.ts';
import type { Client } from '../client/client.ts';
import { defaultExecutor, type Executor } from '../exec/exec.ts';

/** Polls `fn` every 100 ms until it returns something truthy (a throw counts as not yet). */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Until `count` Nodes are Ready and have a pod CIDR; those Nodes. */
export function waitForNodes(client: Client, count: number, timeoutMs: number): Promise<Node[]> {
  return waitFor(
    async () => {
      const list = (await client.get<{ items: Node[] }>('/api/v1/nodes')).items;
      const ready = list.filter((n) => n.spec?.podCIDR && hasTrueCondition(n));
      return ready.length === count ? ready : undefined;
    },
    timeoutMs,
    'nodes to be Ready',
  );
}

export interface PodsReady {
  /** the pods not being deleted */
  pods: Pod[];
  /** when all pods (every Deployment's replicas) were first seen Running with an IP (ms since the epoch) */
  runningAt?: number;
}

/** Until every Deployment has its ready replicas, every DaemonSet a Ready pod on each of its nodes, and every pod is Ready (or Succeeded). */
export async function waitForPods(client: Client, timeoutMs: number): Promise<PodsReady> {
  let runningAt: number | undefined;
  const pods = await waitFor(
    async () => {
      const pods = (await client.get<{ items: Pod[] }>('/api/v1/pods')).items.filter((x) => !x.metadata.deletionTimestamp);
      const deps = (await client.get<{ items: { spec: { replicas?: number }; status?: { readyReplicas?: number } }[] }>('/apis/apps/v1/deployments')).items;
      const dss = (await client.get<{ items: DaemonSet[] }>('/apis/apps/v1/daemonsets')).items;
      const allCreated = pods.length >= deps.reduce((n, d) => n + (d.spec.replicas ?? 1), 0) + dss.reduce((n, d) => n + (d.status?.desiredNumberScheduled ?? 0), 0);
      // a DaemonSet is ready once its controller has seen it and every node it runs on has its pod Ready
      const dssReady = dss.every((d) => (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 1) && (d.status?.numberReady ?? 0) >= (d.status?.desiredNumberScheduled ?? 0));
      const depsReady = dssReady && deps.every((d) => (d.status?.readyReplicas ?? 0) >= (d.spec.replicas ?? 1));
      if (runningAt === undefined && allCreated && pods.every((x) => x.status?.phase === 'Running' && x.status.podIP)) runningAt = Date.now();
      const ready = pods.every((x) => hasTrueCondition(x) || x.status?.phase === 'Succeeded');
      return depsReady && ready ? pods : undefined;
    },
    timeoutMs,
    'pods to be Ready',
  );
  return { pods, ...(runningAt !== undefined ? { runningAt } : {}) };
}

/**
 * Pods Ready is not yet rules written (kube-proxy syncs at most once a second): until `url`
 * stops refusing connections from namespace `netns` (curl's exit 7), at most 15 s. Whether it did.
 */
export function waitForNodePort(netns: string, url: string, ex: Executor = defaultExecutor): Promise<boolean> {
  return waitForURL(netns, url, undefined, ex);
}

/** The same for a URL whose host is reached at `address` (an Ingress host before DNS is asked; its certificate is not checked here). */
export function waitForURL(netns: string, url: string, address: string | undefined, ex: Executor = defaultExecutor): Promise<boolean> {
  const u = new URL(url);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const resolve = address ? ['-k', '--resolve', `${u.hostname}:${port}:${address}`] : [];
  const refused = () => ex.exec(['curl', '-s', '-o', '/dev/null', '--max-time', '1', ...resolve, url], { netns }).status === 7;
  return waitFor(() => !refused() || undefined, 15_000, `kube-proxy to open ${url}`).then(
    () => true,
    () => false,
  );
}
