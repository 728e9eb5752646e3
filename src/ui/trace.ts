// The page's traces, diagnoses and rule trees: the engines `podpath trace` and `podpath diagnose`
// run, over the objects the page shows. Offline these are the defaults below; a lab plugs in its
// own (each node's rules read from its kernel, the probe observed, the lab's live facts).
import { ClusterIndex, type AddressPlan, type ClusterObjects } from '../trace/cluster.ts';
import { diagnose, type DiagnoseRequest } from '../diagnose/diagnose.ts';
import type { Event } from '../api/types.ts';
import type { Diagnosis } from '../diagnose/types.ts';
import type { TraceRequest } from '../trace/engine.ts';
import type { ProxyConfigSummary } from '../trace/live.ts';
import { checkMode, nodeRules, traceObjects } from '../trace/offline.ts';
import { TraceError, type Trace } from '../trace/types.ts';
import { iptablesRuleTree, nftablesRuleTree, type RuleTree } from './rules.ts';

export interface TraceInputs {
  objects: ClusterObjects;
  plan: AddressPlan;
  /** kube-proxy's mode */
  mode: string;
  /** kube-proxy's configuration as a live cluster's ConfigMap gives it */
  proxy?: ProxyConfigSummary;
}

/** How the server computes a trace; the default is the offline engine over the current objects. */
export type TraceFunction = (inputs: TraceInputs, req: TraceRequest) => Trace | Promise<Trace>;

export const computeTrace: TraceFunction = (i, req) => traceObjects(i.objects, i.plan, i.mode, req);

/** How the server diagnoses a path that fails. */
export type DiagnoseFunction = (inputs: TraceInputs, req: DiagnoseRequest) => Diagnosis | Promise<Diagnosis>;

/** `podpath diagnose -f`'s checklist over the objects (and a state file's Events): no live facts. */
export const offlineDiagnosis =
  (events: Event[] = []): DiagnoseFunction =>
  (i, req) =>
    diagnose({ objects: i.objects, events, plan: i.plan, mode: i.mode }, req);

/** A node's rules as a tree, as its kube-proxy would write them for the objects. */
export function computedRuleTree(i: TraceInputs, node: string): RuleTree {
  const mode = checkMode(i.mode);
  const ix = new ClusterIndex(i.objects, i.plan);
  if (!ix.nodes.has(node)) throw new TraceError('BadSource', `no node ${node} with an InternalIP and a podCIDR (nodes: ${[...ix.nodes.keys()].join(', ') || 'none'})`);
  const r = nodeRules(ix, mode, node);
  const podOf = (ip: string) => ix.podName(ip);
  return mode === 'iptables' ? iptablesRuleTree(node, r.tables ?? [], podOf, 'computed') : nftablesRuleTree(node, r.ruleset!, podOf, 'computed');
}
