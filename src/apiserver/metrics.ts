// The Metrics API (metrics.k8s.io/v1beta1), as metrics-server serves it through the aggregation
// layer: NodeMetrics and PodMetrics, read-only (get and list; label and field selectors on the
// Nodes and Pods they are of), from each node agent's Summary API (/stats/summary, the
// kubelet's). An agent reports a rate once it has measured twice; a pod or node it has no rate
// for yet is left out, as metrics-server leaves it out.
import https from 'node:https';
import type tls from 'node:tls';
import { errors } from '../api/errors.ts';
import { findResource, type ResourceType } from '../api/resources.ts';
import { binaryQuantity, decimalQuantity, metricResolutionSeconds, type CPUStats, type MemoryStats, type Summary } from '../api/stats.ts';
import type { KubeObject, Node, Pod } from '../api/types.ts';
import type { Shape } from './negotiation.ts';
import { includeObjectOf, partialMetadata, toMetadataList } from './output.ts';
import { keepSession, kubeletTLS, type KubeletClientConfig } from './kubeletclient.ts';
import type { Registry } from './registry.ts';
import { nodeEndpoint } from './streaming.ts';

export const metricsGroup = 'metrics.k8s.io';
const apiVersion = `${metricsGroup}/v1beta1`;
/** How long an agent's summary is waited for (metrics-server's --kubelet-request-timeout is 10s). */
const summaryTimeoutMs = 5000;

type Obj = Record<string, unknown>;

export function isMetrics(r: { rt: ResourceType }): boolean {
  return r.rt.group === metricsGroup;
}

/** A node's or container's usage as metrics-server writes it: CPU in nanocores, memory in bytes (BinarySI). */
function usage(cpu: CPUStats | undefined, memory: MemoryStats | undefined): { cpu: string; memory: string } | undefined {
  if (cpu?.usageNanoCores === undefined || !memory) return undefined;
  return { cpu: decimalQuantity(cpu.usageNanoCores, -9), memory: binaryQuantity(memory.workingSetBytes) };
}

/**
 * The time of the measurement and the window its rate is over, as metrics-server reports them
 * (the window the real interval between the two measurements, e.g. 15.012s); an agent that
 * does not say its window is taken at the nominal resolution.
 */
const timeInfo = (cpu: CPUStats) => ({ timestamp: cpu.time, window: goDuration(cpu.windowSeconds ?? metricResolutionSeconds) });

/** A duration as Go's time.Duration prints it (metav1.Duration's JSON): 15s, 15.012s, 1m0.5s. */
export function goDuration(seconds: number): string {
  let ns = Math.round(seconds * 1e9);
  if (ns === 0) return '0s';
  const neg = ns < 0;
  ns = Math.abs(ns);
  if (ns < 1e9) {
    // below a second Go uses ms, µs or ns
    const [unit, div] = ns >= 1e6 ? ['ms', 1e6] : ns >= 1e3 ? ['µs', 1e3] : ['ns', 1];
    return `${neg ? '-' : ''}${trimFraction(ns / div)}${unit}`;
  }
  const h = Math.floor(ns / 3600e9);
  const m = Math.floor((ns % 3600e9) / 60e9);
  const s = (ns % 60e9) / 1e9;
  return `${neg ? '-' : ''}${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${trimFraction(s)}s`;
}

const trimFraction = (v: number) => v.toFixed(9).replace(/\.?0+$/, '');

/** The NodeMetrics of a node from its agent's summary; undefined without a rate yet. */
export function nodeMetrics(node: Node, summary: Summary | undefined, now: string): Obj | undefined {
  const u = usage(summary?.node.cpu, summary?.node.memory);
  if (!u) return undefined;
  return { kind: 'NodeMetrics', apiVersion, metadata: { name: node.metadata.name, creationTimestamp: now, ...(node.metadata.labels ? { labels: node.metadata.labels } : {}) }, ...timeInfo(summary!.node.cpu!), usage: u };
}

/** The PodMetrics of a pod from its node's summary; undefined when a container of it has no rate yet (or it is not there). */
export function podMetrics(pod: Pod, summary: Summary | undefined, now: string): Obj | undefined {
  const ps = summary?.pods.find((p) => p.podRef.uid === pod.metadata.uid);
  if (!ps || ps.containers.length === 0) return undefined;
  const containers: Obj[] = [];
  for (const c of ps.containers) {
    const u = usage(c.cpu, c.memory);
    if (!u) return undefined;
    containers.push({ name: c.name, usage: u });
  }
  const meta = { name: pod.metadata.name, namespace: pod.metadata.namespace, creationTimestamp: now, ...(pod.metadata.labels ? { labels: pod.metadata.labels } : {}) };
  return { kind: 'PodMetrics', apiVersion, metadata: meta, ...timeInfo(ps.containers[0]!.cpu!), containers };
}

/** GET https://NODE:PORT/stats/summary; undefined when the agent does not answer (its node is left out). */
function fetchSummary(host: string, port: number, kubelet: KubeletClientConfig): Promise<Summary | undefined> {
  return new Promise((resolve) => {
    const req = https.get({ host, port, path: '/stats/summary', agent: false, timeout: summaryTimeoutMs, ...kubeletTLS(kubelet, host, port) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(body) as Summary) : undefined);
        } catch {
          resolve(undefined);
        }
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('socket', (s) => keepSession(kubelet, host, port, s as tls.TLSSocket));
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** Each named node's summary, asked for at once. */
async function summaries(registry: Registry, nodeNames: Iterable<string>, kubelet: KubeletClientConfig): Promise<Map<string, Summary>> {
  const out = new Map<string, Summary>();
  await Promise.all(
    [...new Set(nodeNames)].map(async (name) => {
      let ep: { host: string; port: number };
      try {
        ep = nodeEndpoint(registry, name);
      } catch {
        return;
      }
      const s = await fetchSummary(ep.host, ep.port, kubelet);
      if (s) out.set(name, s);
    }),
  );
  return out;
}

/** metrics-server's Table (its own convertor): Name, each resource of the usage summed over containers, Window. */
function metricsTable(items: Obj[], version: string, include: ReturnType<typeof includeObjectOf>): Obj {
  const usageOf = (m: Obj) => {
    const containers = (m.containers as { usage: { cpu: string; memory: string } }[] | undefined) ?? [{ usage: m.usage as { cpu: string; memory: string } }];
    return { cpu: decimalQuantity(sumOf(containers.map((c) => nanocoresOf(c.usage.cpu))), -9), memory: binaryQuantity(sumOf(containers.map((c) => bytesOf(c.usage.memory)))) };
  };
  const rows = items.map((m) => {
    const u = usageOf(m);
    const row: Obj = { cells: [(m.metadata as { name: string }).name, u.cpu, u.memory, m.window] };
    if (include === 'Metadata') row.object = partialMetadata(m as unknown as KubeObject, version);
    else if (include === 'Object') row.object = m;
    return row;
  });
  const q = (name: string) => ({ name, type: 'string', format: 'quantity', description: '', priority: 0 });
  const columns = items.length ? [{ name: 'Name', type: 'string', format: 'name', description: 'Name of the resource', priority: 0 }, q('cpu'), q('memory'), { name: 'Window', type: 'string', format: 'duration', description: '', priority: 0 }] : null;
  return { kind: 'Table', apiVersion: `meta.k8s.io/${version}`, metadata: {}, columnDefinitions: columns, rows };
}

const sumOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const decimalScale: Record<string, number> = { n: 1, u: 1e3, m: 1e6, '': 1e9, k: 1e12 };
const binaryScale: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
/** A CPU quantity this module wrote, back in nanocores. */
function nanocoresOf(q: string): number {
  const m = /^(\d+)([numk]?)$/.exec(q);
  return m ? Number(m[1]) * decimalScale[m[2]!]! : 0;
}
/** A memory quantity this module wrote, back in bytes. */
function bytesOf(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(q);
  return m ? Number(m[1]) * binaryScale[m[2] ?? '']! : 0;
}

/**
 * A GET of /apis/metrics.k8s.io/v1beta1/...: the answer in the negotiated shape (JSON, or
 * metrics-server's Table). The errors are metrics-server's: a Node or Pod that is not there is
 * its lister's NotFound (`node "x" not found`, `pods "x" not found`), one with no metrics yet
 * `nodemetrics.metrics.k8s.io "x" not found` or `podmetrics.metrics.k8s.io "ns/x" not found`.
 */
export async function serveMetrics(registry: Registry, r: { rt: ResourceType; namespace?: string; name?: string; subresource?: string }, method: string, q: URLSearchParams, kubelet: KubeletClientConfig): Promise<(s: Shape) => unknown> {
  if (r.subresource !== undefined) throw errors.generic(404);
  if (method !== 'GET' || q.get('watch') === 'true' || q.get('watch') === '1') throw errors.generic(405);
  const include = includeObjectOf(q);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const nodes = findResource('', 'v1', 'nodes')!;
  const pods = findResource('', 'v1', 'pods')!;
  const one = (m: Obj) => (s: Shape) => (s.kind === 'table' ? metricsTable([m], s.version, include) : s.kind === 'metadata' ? partialMetadata(m as unknown as KubeObject, s.version) : m);
  const many = (listKind: string, items: Obj[]) => (s: Shape) =>
    s.kind === 'table' ? metricsTable(items, s.version, include) : s.kind === 'metadata' ? toMetadataList(items as unknown as KubeObject[], '', s.version) : { kind: listKind, apiVersion, metadata: {}, items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest) };
  if (r.rt.resource === 'nodes') {
    if (r.name !== undefined) {
      const node = registry.tryGet(nodes, undefined, r.name) as Node | undefined;
      if (!node) throw errors.notFound({ group: '', resource: 'node' }, r.name);
      const m = nodeMetrics(node, (await summaries(registry, [r.name], kubelet)).get(r.name), now);
      if (!m) throw errors.notFound({ group: metricsGroup, resource: 'nodemetrics' }, r.name);
      return one(m);
    }
    const list = registry.list(nodes, undefined, q).items as Node[];
    const got = await summaries(registry, list.map((n) => n.metadata.name!), kubelet);
    return many('NodeMetricsList', list.map((n) => nodeMetrics(n, got.get(n.metadata.name!), now)).filter((m): m is Obj => m !== undefined));
  }
  const onNode = (p: KubeObject) => Boolean((p as Pod).spec?.nodeName);
  if (r.name !== undefined) {
    const pod = registry.tryGet(pods, r.namespace, r.name) as Pod | undefined;
    if (!pod) throw errors.notFound({ group: '', resource: 'pods' }, r.name);
    const m = onNode(pod) ? podMetrics(pod, (await summaries(registry, [pod.spec.nodeName!], kubelet)).get(pod.spec.nodeName!), now) : undefined;
    if (!m) throw errors.notFound({ group: metricsGroup, resource: 'podmetrics' }, `${r.namespace}/${r.name}`);
    return one(m);
  }
  // in the Kube API's order: by namespace, then name
  const list = (registry.list(pods, r.namespace, q).items.filter(onNode) as Pod[]).sort((a, b) => a.metadata.namespace!.localeCompare(b.metadata.namespace!) || a.metadata.name!.localeCompare(b.metadata.name!));
  const got = await summaries(registry, list.map((p) => p.spec.nodeName!), kubelet);
  return many('PodMetricsList', list.map((p) => podMetrics(p, got.get(p.spec.nodeName!), now)).filter((m): m is Obj => m !== undefined));
}
