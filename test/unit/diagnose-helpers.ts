// The diagnose unit tests' clusters: the trace's seed state files, broken in code, and the live
// facts a running lab would give (LiveFacts is the boundary the lab's shell fills in).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Event, Pod, Service } from '../../src/api/types.ts';
import { diagnose, type DiagnoseRequest } from '../../src/diagnose/diagnose.ts';
import { readDiagnoseState } from '../../src/diagnose/offline.ts';
import type { Diagnosis, LiveFacts, Socket } from '../../src/diagnose/types.ts';
import type { ClusterObjects } from '../../src/trace/cluster.ts';
import { labPlan } from './trace-helpers.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The objects of examples/trace/NAME.yaml files, together. */
export const seed = (...names: string[]): ClusterObjects => readDiagnoseState(names.map((n) => path.join(repoRoot, `examples/trace/${n}.yaml`))).objects;
export const run = (objects: ClusterObjects, req: DiagnoseRequest, o: { events?: Event[]; facts?: LiveFacts; mode?: string } = {}): Diagnosis => diagnose({ objects, events: o.events ?? [], plan: labPlan, mode: o.mode ?? 'iptables', ...(o.facts ? { facts: o.facts } : {}) }, req);
export const api = (o: ClusterObjects) => o.services.find((s) => s.metadata.name === 'api-service')!;
export const apiPods = (o: ClusterObjects) => o.pods.filter((p) => p.metadata.labels?.app === 'api');

/** Seed 001 with api-service's selector misspelt: the EndpointSlice controller lists no endpoint. */
export function wrongSelector(): ClusterObjects {
  const o = seed('seed-001');
  api(o).spec.selector = { app: 'apl' };
  o.slices.find((s) => s.metadata.name === 'api-service-x7k2p')!.endpoints = [];
  return o;
}

/** A running lab as it answers when all is well: every pod listens on its declared ports, kube-proxy is synced, its rules are there, names resolve. */
export function healthyFacts(over: Partial<LiveFacts> = {}): LiveFacts {
  return {
    sockets: (p: Pod): Socket[] => p.spec.containers.flatMap((c) => (c.ports ?? []).map((cp) => ({ protocol: (cp.protocol ?? 'TCP').toLowerCase() as 'tcp', address: '0.0.0.0', port: cp.containerPort }))),
    proxyHealth: () => ({ answered: true, healthy: true, detail: '200 (lastUpdated 2026-01-01T00:00:00Z)' }),
    serviceRules: (_n: string, s: Service) => ({ proxyRules: true, service: true, detail: `iptables-save: 5 lines for ${s.metadata.namespace}/${s.metadata.name}` }),
    readinessProbe: () => ({ ok: true, message: 'HTTP 200' }),
    resolve: (_p: Pod, name: string) => ({ addresses: ['10.96.123.45'], detail: `getent ahostsv4 ${name}: 10.96.123.45` }),
    ...over,
  };
}

/** kube-proxy stopped on every node and its rules flushed, as the lab's shell reports it. */
export const kubeProxyStoppedFacts = (): LiveFacts =>
  healthyFacts({
    proxyHealth: () => ({ answered: false, healthy: false, detail: 'nothing answers on 127.0.0.1:10256 (curl: (7) Failed to connect)' }),
    serviceRules: () => ({ proxyRules: false, service: false, detail: 'iptables-save: no kube-proxy rules at all (no KUBE-SERVICES chain)' }),
  });
