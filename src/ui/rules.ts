// A node's kube-proxy rules as the page's rules view draws them: a tree from the entry point
// (iptables: nat KUBE-SERVICES; nftables: the `services` chain and its verdict maps) down through
// each Service's chain to its endpoints' DNAT, every chain labelled with the Service port and the
// pods behind it, with the kernel's packet counters when the rules were read from a live node.
// Pure: kube-proxy's tables (rendered by src/trace/rules.ts, or parsed from a node) in.
import { parseRuleSpec, ruleLine, rulesOf, targetParam, matchParam, type Table } from '../iptables/index.ts';
import type { Ruleset } from '../knftables/index.ts';
import { ruleWords } from '../trace/nfttext.ts';

export type RuleNodeKind = 'entry' | 'nodeports' | 'service' | 'external' | 'firewall' | 'endpoint' | 'chain';

export interface RuleNode {
  kind: RuleNodeKind;
  /** the chain this node stands for */
  chain: string;
  /** what it is, in Kubernetes terms: "default/api-service:8080/TCP cluster IP 10.96.123.45" */
  label: string;
  /** the rule (or map element) in the parent that leads here */
  via?: string;
  /** the chance a packet entering the parent's random choice takes this branch */
  probability?: number;
  /** what the rule leading here matches: "10.96.123.45:8080/tcp", "tcp . 30080" */
  match?: string;
  /** an endpoint chain's DNAT destination */
  dnat?: string;
  /** the pods behind this chain (an endpoint's own pod; a Service's every endpoint pod) */
  pods: string[];
  /** the kernel's counters of the rule in `via`, when the rules were read from a node */
  counters?: { packets: number; bytes: number };
  children: RuleNode[];
}

export interface RuleTree {
  node: string;
  mode: 'iptables' | 'nftables';
  /** rules read from the node's kernel (with counters), or computed from the objects */
  source: 'kernel' | 'computed';
  roots: RuleNode[];
}

/** "10.244.0.5" → "default/api-…" (or the address when no pod has it). */
export type PodOf = (ip: string) => string;

const leafTargets = new Set(['KUBE-MARK-MASQ', 'KUBE-MARK-DROP', 'RETURN', 'ACCEPT', 'DROP', 'REJECT', 'MARK', 'DNAT', 'MASQUERADE', 'SNAT']);

function iptKind(chain: string): RuleNodeKind {
  if (chain === 'KUBE-SERVICES') return 'entry';
  if (chain === 'KUBE-NODEPORTS') return 'nodeports';
  if (chain.startsWith('KUBE-SVC-') || chain.startsWith('KUBE-SVL-')) return 'service';
  if (chain.startsWith('KUBE-EXT-')) return 'external';
  if (chain.startsWith('KUBE-FW-')) return 'firewall';
  if (chain.startsWith('KUBE-SEP-')) return 'endpoint';
  return 'chain';
}

const uniq = (xs: string[]) => [...new Set(xs)].sort();

/** iptables mode: nat KUBE-SERVICES and everything it jumps to, depth first in rule order. */
export function iptablesRuleTree(node: string, tables: readonly Table[], podOf: PodOf, source: RuleTree['source']): RuleTree {
  const nat = tables.filter((t) => t.name === 'nat');
  const rules = (chain: string) => nat.flatMap((t) => rulesOf(t, chain));
  // A KUBE-SVC chain reached from KUBE-EXT has no comment there: name it as KUBE-SERVICES does.
  const labels = new Map<string, string>();
  const walk = (chain: string, label: string, seen: Set<string>): RuleNode => {
    const n: RuleNode = { kind: iptKind(chain), chain, label, pods: [], children: [] };
    // iptables' --probability is conditional on the earlier rules not matching; the chance of each
    // branch is that times the chance of reaching it.
    let reach = 1;
    for (const r of rules(chain)) {
      const spec = parseRuleSpec(r.args);
      const target = spec.target?.name;
      if (!target) continue;
      if (target === 'DNAT') {
        n.dnat = targetParam(spec, 'to-destination')?.values[0] ?? '';
        n.pods = [podOf(n.dnat.replace(/:\d+$/, ''))];
        continue;
      }
      if (leafTargets.has(target) || seen.has(target) || !target.startsWith('KUBE-')) continue;
      const comment = matchParam(spec, 'comment', 'comment')?.values[0];
      const p = matchParam(spec, 'statistic', 'probability')?.values[0];
      if (comment && !labels.has(target)) labels.set(target, comment);
      const child = walk(target, comment ?? labels.get(target) ?? target, new Set([...seen, target]));
      child.via = ruleLine('-A', r, 'save');
      const dport = matchParam(spec, undefined, 'dport')?.values[0];
      const proto = spec.protocol?.value;
      if (spec.destination || dport) child.match = `${spec.destination?.value.replace(/\/32$/, '') ?? ''}${dport ? `:${dport}` : ''}${proto ? `/${proto}` : ''}`;
      // Session affinity's "-m recent --rcheck" jumps are not part of the random choice.
      if (iptKind(target) === 'endpoint' && !spec.matches.some((m) => m.module === 'recent')) {
        child.probability = Number((p !== undefined ? reach * Number(p) : reach).toFixed(6));
        if (p !== undefined) reach *= 1 - Number(p);
      }
      if (r.counters) child.counters = { packets: Number(r.counters.packets), bytes: Number(r.counters.bytes) };
      n.children.push(child);
    }
    n.pods = uniq([...n.pods, ...n.children.flatMap((c) => c.pods)]);
    return n;
  };
  return { node, mode: 'iptables', source, roots: rules('KUBE-SERVICES').length ? [walk('KUBE-SERVICES', 'kubernetes service portals', new Set(['KUBE-SERVICES']))] : [] };
}

function nftKind(chain: string): RuleNodeKind {
  if (chain === 'services') return 'entry';
  if (chain.startsWith('service-')) return 'service';
  if (chain.startsWith('external-')) return 'external';
  if (chain.startsWith('firewall-')) return 'firewall';
  if (chain.startsWith('endpoint-')) return 'endpoint';
  return 'chain';
}

/** "service-MICGIRMT-default/api-service/tcp/" → "default/api-service tcp"; "endpoint-…__10.244.0.5/8080" → "10.244.0.5:8080". */
function nftLabel(chain: string): string {
  const m = /^(?:service|external|firewall|endpoint)-[A-Z0-9]{8}-([^/]+)\/([^/]+)\/([^/]+)\/([^_]*)(?:__(.+)\/(\d+))?$/.exec(chain);
  if (!m) return chain;
  const [, ns, name, proto, port, ip, epPort] = m;
  return ip ? `${ip}:${epPort}` : `${ns}/${name}${port ? `:${port}` : ''}/${proto!.toUpperCase()}`;
}

/** nftables mode: the `services` chain, its verdict maps' elements, and each chain they go to. */
export function nftablesRuleTree(node: string, rs: Ruleset, podOf: PodOf, source: RuleTree['source']): RuleTree {
  const rules = (chain: string) => rs.rules.filter((r) => r.chain === chain);
  const elements = (map: string) => rs.elements.filter((e) => e.map === map);
  const walk = (chain: string, label: string, seen: Set<string>): RuleNode => {
    const n: RuleNode = { kind: nftKind(chain), chain, label, pods: [], children: [] };
    const go = (target: string, via: string, childLabel: string, probability?: number, match?: string) => {
      if (seen.has(target) || !rs.chains.some((c) => c.name === target)) return;
      const child = walk(target, childLabel, new Set([...seen, target]));
      child.via = via;
      if (probability !== undefined) child.probability = Number(probability.toFixed(6));
      if (match) child.match = match;
      n.children.push(child);
    };
    for (const r of rules(chain)) {
      const w = ruleWords(r.rule);
      const text = r.rule + (r.comment !== undefined ? ` comment "${r.comment}"` : '');
      const dnat = w.indexOf('dnat');
      if (dnat >= 0 && w[dnat + 1] === 'to') {
        n.dnat = w[dnat + 2] ?? '';
        n.pods = [podOf(n.dnat.replace(/:\d+$/, ''))];
        continue;
      }
      const vm = w.indexOf('vmap');
      if (vm >= 0 && w[vm + 1]?.startsWith('@')) {
        const map = w[vm + 1]!.slice(1);
        for (const e of elements(map)) {
          const [verb, target] = (e.value ?? []).join(' ').split(' ');
          if ((verb === 'goto' || verb === 'jump') && target) go(target, `${text}\nelement ${map} { ${e.key.join(' . ')} : ${verb} ${target} }`, nftLabel(target), undefined, e.key.join(' . '));
        }
        continue;
      }
      if (vm >= 0 && w[vm + 1] === '{') {
        // numgen random mod N vmap { 0 : goto A , 1 : goto B }: each branch equally likely
        const mod = w.indexOf('mod');
        const count = mod >= 0 ? Number(w[mod + 1]) : 1;
        for (let i = vm + 2; i < w.length; i++) if ((w[i] === 'goto' || w[i] === 'jump') && w[i + 1]) go(w[i + 1]!, text, nftLabel(w[i + 1]!), 1 / count);
        continue;
      }
      const j = w.findIndex((x) => x === 'goto' || x === 'jump');
      if (j >= 0 && w[j + 1] && w[j + 1] !== 'mark-for-masquerade') go(w[j + 1]!, text, nftLabel(w[j + 1]!));
    }
    n.pods = uniq([...n.pods, ...n.children.flatMap((c) => c.pods)]);
    return n;
  };
  return { node, mode: 'nftables', source, roots: rs.chains.some((c) => c.name === 'services') ? [walk('services', 'services: ClusterIP, ExternalIP, LoadBalancer IP and NodePort traffic', new Set(['services']))] : [] };
}
