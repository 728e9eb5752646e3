// `podpath netpol matrix|check`: the policy model over a state file of Namespaces, Pods and
// NetworkPolicies, with no cluster and no root.
import { readStateFiles } from '../api/state.ts';
import type { Namespace, NetworkPolicy, Pod } from '../api/types.ts';
import { formatMatrix, reachability } from './matrix.ts';
import { explain, parsePort, parseProtocol, PolicyModel, type Cluster } from './policy.ts';
import { applyDefaults } from '../api/defaults.ts';

/** Namespaces, Pods and NetworkPolicies from state files or directories ("-" is stdin); a file that cannot be read or parsed is named. */
export function readCluster(files: string[]): Cluster {
  const c: Cluster = { namespaces: [], pods: [], policies: [] };
  const objs = readStateFiles(files, [
    { apiVersion: 'v1', kind: 'Namespace', namespaced: false },
    { apiVersion: 'v1', kind: 'Pod', namespaced: true },
    { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespaced: true },
  ]);
  for (const o of objs) {
    if (o.kind === 'Namespace') c.namespaces.push(o as Namespace);
    else if (o.kind === 'Pod') c.pods.push(o as Pod);
    else c.policies.push(o as NetworkPolicy);
  }
  return c;
}

export function matrixText(files: string[], port: string, protocol: string): string {
  const m = new PolicyModel(readCluster(files), applyDefaults);
  return formatMatrix(reachability(m, parsePort(port), parseProtocol(protocol)));
}

export function checkText(files: string[], o: { from: string; to: string; port: string; protocol: string }): { allowed: boolean; text: string } {
  const m = new PolicyModel(readCluster(files), applyDefaults);
  const c = { from: m.resolve(o.from), to: m.resolve(o.to), port: parsePort(o.port), protocol: parseProtocol(o.protocol) };
  const v = m.evaluate(c);
  return { allowed: v.allowed, text: explain(c, v) };
}
