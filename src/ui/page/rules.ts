// The rules view: a node's kube-proxy rules as a tree from KUBE-SERVICES (or the nftables
// `services` chain) to each endpoint's DNAT, as nested disclosure widgets (keyboard: Tab to a
// chain, Enter or Space to open or close it).
import type { RuleNode, RuleTree } from '../rules.ts';
import { h } from './dom.ts';

function counters(n: RuleNode) {
  return n.counters ? h('span', { class: 'counters mono', title: 'packets and bytes the kernel counted for the rule that leads here' }, `${n.counters.packets} pkts, ${n.counters.bytes} B`) : null;
}

function ruleNode(n: RuleNode, depth: number): HTMLElement {
  const head = [
    h('span', { class: `rk ${n.kind}` }, n.kind),
    ' ',
    h('span', { class: 'label' }, n.label),
    n.match ? h('span', { class: 'match mono' }, ` ${n.match}`) : null,
    n.probability !== undefined ? h('span', { class: 'prob mono' }, ` ${(n.probability * 100).toFixed(1)}%`) : null,
    n.dnat ? h('span', { class: 'dnat mono' }, ` DNAT → ${n.dnat}`) : null,
    counters(n),
    h('div', { class: 'chain mono dim' }, n.chain),
    n.pods.length && n.kind !== 'entry' ? h('div', { class: 'chips' }, n.pods.map((p) => h('span', { class: 'chip small' }, p))) : null,
  ];
  const via = n.via ? h('pre', { class: 'via', title: 'the rule that leads here' }, n.via) : null;
  if (!n.children.length) return h('li', { class: 'leaf', 'data-chain': n.chain }, h('div', { class: 'node-body' }, head, via));
  return h('li', { 'data-chain': n.chain }, h('details', { open: depth < 2 }, h('summary', {}, head), via, h('ul', {}, n.children.map((c) => ruleNode(c, depth + 1)))));
}

export function rulesView(t: RuleTree): HTMLElement {
  return h(
    'div',
    { class: 'rules' },
    h('p', { class: 'dim' }, `${t.mode} rules of node ${t.node}, ${t.source === 'kernel' ? "read from the node's kernel, with its packet counters" : "computed from the cluster's objects as the node's kube-proxy writes them (no counters)"}.`),
    t.roots.length ? h('ul', { class: 'tree', role: 'tree' }, t.roots.map((r) => ruleNode(r, 0))) : h('p', {}, 'kube-proxy has written no Service rules on this node.'),
  );
}
