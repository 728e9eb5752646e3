// `podpath trace -f STATE.yaml`: the engine over a state file's objects, each node's rules
// rendered (once, when the path first crosses the node) as that node's kube-proxy would write
// them, in the given proxy mode.
import { readStateFiles } from '../api/state.ts';
import { ClusterIndex, sortObjects, traceKinds, type AddressPlan, type ClusterObjects } from './cluster.ts';
import { trace, type TraceRequest } from './engine.ts';
import type { RuleWalker } from './netfilter.ts';
import { renderNodeRules, traceProxyModes, type NodeRules, type TraceProxyMode } from './rules.ts';
import { TraceError, type Trace } from './types.ts';

export function readTraceState(files: string[]): ClusterObjects {
  return sortObjects(readStateFiles(files, traceKinds));
}

export function checkMode(mode: string): TraceProxyMode {
  if (!(traceProxyModes as readonly string[]).includes(mode)) throw new TraceError('BadFlags', `--mode ${mode}: the trace computes ${traceProxyModes.join(' and ')} rules`);
  return mode as TraceProxyMode;
}

/** A node's kube-proxy rules as its kube-proxy would write them for these objects. */
export function nodeRules(ix: ClusterIndex, mode: TraceProxyMode, name: string): NodeRules {
  const n = ix.nodes.get(name);
  if (!n) throw new TraceError('BadSource', `no node ${name} with an InternalIP and a podCIDR`);
  const zone = ix.objects.nodes.find((x) => x.metadata.name === name)?.metadata.labels?.['topology.kubernetes.io/zone'];
  return renderNodeRules({ mode, nodeName: name, nodeIP: n.ip, localIPs: [...n.localIPs], services: ix.objects.services, slices: ix.objects.slices, clusterCIDR: ix.plan.clusterCIDR, ...(zone ? { zone } : {}) });
}

/** The node rules of each node the path crosses, rendered from the objects when first asked for. */
export function renderedRules(ix: ClusterIndex, mode: TraceProxyMode): (node: string) => RuleWalker[] {
  const cache = new Map<string, RuleWalker[]>();
  return (name) => {
    let w = cache.get(name);
    if (!w) cache.set(name, (w = nodeRules(ix, mode, name).walkers));
    return w;
  };
}

export function traceObjects(objects: ClusterObjects, plan: AddressPlan, mode: string, req: TraceRequest): Trace {
  const m = checkMode(mode);
  const ix = new ClusterIndex(objects, plan);
  if (!ix.nodes.size) throw new TraceError('BadState', 'the state has no Node with an InternalIP and a podCIDR: the trace needs the nodes to route between');
  return trace({ ix, mode: m, rules: renderedRules(ix, m) }, req);
}
