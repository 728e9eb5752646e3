// A node's rules read from its kernel, for the rules view of a live cluster: kube-proxy's nat
// table with its packet counters (`iptables-save -c -t nat`) or its nftables table (`nft -j
// list ruleset`), run in the node's network namespace through an injectable executor.
import { defaultExecutor, run, type Executor } from '../exec/exec.ts';
import { parseDump } from '../iptables/index.ts';
import { readRuleset } from '../knftables/index.ts';
import { ClusterIndex } from '../trace/cluster.ts';
import { checkMode } from '../trace/offline.ts';
import { kubeProxyTable } from '../proxy/nftables/render.ts';
import { iptablesRuleTree, nftablesRuleTree, type RuleTree } from './rules.ts';
import { computedRuleTree, type TraceInputs } from './trace.ts';

/**
 * Rule trees from the kernel of nodes whose network namespace `netnsOf` knows (a lab's); from
 * the objects, as computedRuleTree, for any other node.
 */
export function kernelRuleTrees(netnsOf: (node: string) => string | undefined, ex: Executor = defaultExecutor): (i: TraceInputs, node: string) => RuleTree {
  return (i, node) => {
    const netns = netnsOf(node);
    if (!netns) return computedRuleTree(i, node);
    const mode = checkMode(i.mode);
    const ix = new ClusterIndex(i.objects, i.plan);
    const podOf = (ip: string) => ix.podName(ip);
    if (mode === 'iptables') return iptablesRuleTree(node, parseDump(run(['iptables-save', '-c', '-t', 'nat'], { netns, timeoutMs: 10_000 }, ex)), podOf, 'kernel');
    const rs = readRuleset({ executor: ex, netns, timeoutMs: 10_000 });
    const mine = (o: { family?: string; table?: string }) => o.family === kubeProxyTable.family && o.table === kubeProxyTable.table;
    return nftablesRuleTree(node, { ...rs, chains: rs.chains.filter(mine), rules: rs.rules.filter(mine), elements: rs.elements.filter(mine), sets: rs.sets.filter(mine), maps: rs.maps.filter(mine) }, podOf, 'kernel');
  };
}
