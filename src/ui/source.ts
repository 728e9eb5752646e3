// Where the page's cluster comes from: a state file read once, or an API server watched through
// informers (one per kind the trace reads, and kube-proxy's ConfigMap for the proxy mode), so
// that a change shows on the page without a reload. Both give the objects in the shape the trace
// engine takes them.
import type { KubeObject } from '../api/types.ts';
import { collectionPath, type Client } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { sortObjects, traceKinds, type ClusterObjects } from '../trace/cluster.ts';
import { proxyConfigOf, traceResources, type ProxyConfigSummary } from '../trace/live.ts';

export interface ClusterSource {
  /** watched (true) or read once */
  readonly live: boolean;
  /** bumped on every change */
  readonly generation: number;
  objects(): ClusterObjects;
  /** kube-proxy's mode: the flag's, or the kube-system/kube-proxy ConfigMap's */
  proxyMode(): string;
  /** kube-proxy's configuration as its ConfigMap gives it (mode, pod network, scheduler); none from a file */
  proxyConfig(): ProxyConfigSummary | undefined;
  /** called (at most once per batch of watch events) after the objects changed */
  onChange(cb: () => void): void;
  stop(): void;
}

export function fileSource(objects: ClusterObjects, mode: string): ClusterSource {
  return { live: false, generation: 0, objects: () => objects, proxyMode: () => mode, proxyConfig: () => undefined, onChange: () => {}, stop: () => {} };
}

/** kube-proxy's configuration as its KubeProxyConfiguration (the ConfigMap's config.conf) says; undefined when it cannot be read. */
export function configMapProxyConfig(cm: KubeObject | undefined): ProxyConfigSummary | undefined {
  if (!cm) return undefined;
  try {
    return proxyConfigOf(cm as { data?: Record<string, string> });
  } catch {
    return undefined;
  }
}

/** kube-proxy's mode as its KubeProxyConfiguration says; "" is iptables on Linux. */
export const configMapProxyMode = (cm: KubeObject | undefined): string | undefined => configMapProxyConfig(cm)?.mode;

/** Events arriving together (a scale writes a Deployment, pods and a slice) are one change. */
const batchMs = 25;
const syncTimeoutMs = 30_000;

export async function watchSource(client: Client, fallbackMode: string): Promise<ClusterSource> {
  // a CRD's kind is watched where the cluster serves it (the Gateway API's, in a lab without --no-gateway)
  const served = await Promise.all(traceKinds.map((k) => (k.optional ? client.get(collectionPath(k.apiVersion, traceResources[k.kind]!)).then(() => true, () => false) : true)));
  const watched = traceKinds.filter((_, i) => served[i]);
  const informers = watched.map((k) => new Informer(client, k.apiVersion, traceResources[k.kind]!));
  const kinds = new Map(informers.map((inf, i) => [inf, watched[i]!]));
  const proxyConfig = new Informer(client, 'v1', 'configmaps', { namespace: 'kube-system', fieldSelector: 'metadata.name=kube-proxy' });
  const listeners: (() => void)[] = [];
  let generation = 0;
  let cached: ClusterObjects | undefined;
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    cached = undefined;
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      generation++;
      for (const l of listeners) l();
    }, batchMs);
  };
  const lastError = new Map<Informer, Error>();
  for (const inf of [...informers, proxyConfig]) {
    inf.on({ add: changed, update: changed, delete: changed });
    inf.onError = (e) => lastError.set(inf, e);
    inf.start();
  }
  // A cluster that refuses a list (no such resource, no permission) would leave the page empty
  // for ever: say which list failed and why instead.
  let timeout: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all([...informers, proxyConfig].map((i) => i.waitForSync())),
      new Promise<never>((_, reject) => {
        timeout = setTimeout(() => {
          const stuck = [...informers, proxyConfig].filter((i) => !i.hasSynced);
          for (const i of [...informers, proxyConfig]) i.stop();
          reject(new Error(`could not list ${stuck.map((i) => `${i.resource}${lastError.get(i) ? ` (${lastError.get(i)!.message.split('\n')[0]})` : ''}`).join(', ')} in ${syncTimeoutMs / 1000} s`));
        }, syncTimeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timeout);
  }
  return {
    live: true,
    get generation() {
      return generation;
    },
    objects: () =>
      (cached ??= sortObjects(
        informers.flatMap((inf) => {
          const k = kinds.get(inf)!;
          return inf.list().map((o) => ({ ...o, apiVersion: k.apiVersion, kind: k.kind }));
        }),
      )),
    proxyMode: () => configMapProxyMode(proxyConfig.list()[0]) ?? fallbackMode,
    proxyConfig: () => configMapProxyConfig(proxyConfig.list()[0]),
    onChange: (cb) => listeners.push(cb),
    stop: () => {
      if (timer) clearTimeout(timer);
      for (const i of [...informers, proxyConfig]) i.stop();
    },
  };
}
