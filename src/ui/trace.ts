// The page's traces and rule trees: the engine `podpath trace` runs, over the objects the page
// shows. Every trace the server computes goes through computeTrace, the one place a live engine
// (observed hops, kernel rules) plugs in.
import { ClusterIndex, type AddressPlan, type ClusterObjects } from '../trace/cluster.ts';
import type { TraceRequest } from '../trace/engine.ts';
import { checkMode, nodeRules, traceObjects } from '../trace/offline.ts';
import { TraceError, type Trace } from '../trace/types.ts';
import { iptablesRuleTree, nftablesRuleTree, type RuleTree } from './rules.ts';

export interface TraceInputs {
  objects: ClusterObjects;
  plan: AddressPlan;
  /** kube-proxy's mode */
  mode: string;
}

/** How the server computes a trace; the default is the offline engine over the current objects. */
export type TraceFunction = (inputs: TraceInputs, req: TraceRequest) => Trace | Promise<Trace>;

export const computeTrace: TraceFunction = (i, req) => traceObjects(i.objects, i.plan, i.mode, req);

/** A node's rules as a tree, as its kube-proxy would write them for the objects. */
export function computedRuleTree(i: TraceInputs, node: string): RuleTree {
  const mode = checkMode(i.mode);
  const ix = new ClusterIndex(i.objects, i.plan);
  if (!ix.nodes.has(node)) throw new TraceError('BadSource', `no node ${node} with an InternalIP and a podCIDR (nodes: ${[...ix.nodes.keys()].join(', ') || 'none'})`);
  const r = nodeRules(ix, mode, node);
  const podOf = (ip: string) => ix.podName(ip);
  return mode === 'iptables' ? iptablesRuleTree(node, r.tables ?? [], podOf, 'computed') : nftablesRuleTree(node, r.ruleset!, podOf, 'computed');
}
