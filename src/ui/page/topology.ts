// The topology view: nodes with their pods by namespace, Services with their endpoints,
// Ingresses and NetworkPolicies, redrawn whenever the server pushes a new topology.
import type { EndpointView, IngressView, NodeView, PodView, PolicyView, ServiceView, Topology } from '../topology.ts';
import { h } from './dom.ts';

export interface TopologyActions {
  traceService(s: ServiceView): void;
  traceIngress(i: IngressView, host: string, path: string): void;
  tracePod(p: PodView): void;
  showObject(kind: string, namespace: string | undefined, name: string): void;
}

const podState = (p: PodView) => (p.terminating ? 'terminating' : p.ready ? 'ready' : 'notready');
const endpointState = (e: EndpointView) => (e.terminating ? 'terminating' : e.ready ? 'ready' : e.serving ? 'serving' : 'notready');

function podChip(p: PodView, a: TopologyActions) {
  const state = podState(p);
  return h(
    'button',
    { class: `chip pod ${state}`, 'data-pod': `${p.namespace}/${p.name}`, 'data-ip': p.ip, title: `${p.namespace}/${p.name} · ${p.phase}${p.ready ? ', Ready' : ', not Ready'}${p.hostNetwork ? ' · hostNetwork' : ''} — trace a connection to it`, onclick: () => a.tracePod(p) },
    h('span', { class: `dot ${state}`, 'aria-hidden': 'true' }),
    h('span', { class: 'name' }, p.name),
    h('span', { class: 'mono dim' }, p.ip || '—'),
    h('span', { class: 'sr-only' }, state === 'ready' ? 'Ready' : state === 'terminating' ? 'Terminating' : 'not Ready'),
  );
}

function nodeCard(n: NodeView, a: TopologyActions) {
  const ip = n.addresses.find((x) => x.type === 'InternalIP')?.address ?? '';
  return h(
    'article',
    { class: 'card node', 'data-node': n.name },
    h('header', {}, h('h3', {}, h('button', { class: 'link', onclick: () => a.showObject('Node', undefined, n.name) }, n.name)), h('span', { class: `badge ${n.ready ? 'ok' : 'bad'}` }, n.ready ? 'Ready' : 'NotReady')),
    h('dl', { class: 'facts' }, h('dt', {}, 'InternalIP'), h('dd', { class: 'mono' }, ip), h('dt', {}, 'pod CIDR'), h('dd', { class: 'mono' }, n.podCIDR), h('dt', {}, 'proxy'), h('dd', {}, n.proxyMode)),
    n.namespaces.map((ns) => h('section', { class: 'ns', 'data-namespace': ns.name }, h('h4', {}, ns.name, h('span', { class: 'dim' }, ` · ${ns.pods.length} pod${ns.pods.length === 1 ? '' : 's'}`)), h('div', { class: 'chips' }, ns.pods.map((p) => podChip(p, a))))),
  );
}

function serviceRow(s: ServiceView, a: TopologyActions) {
  const ready = s.endpoints.filter((e) => e.ready).length;
  return h(
    'tr',
    { 'data-service': `${s.namespace}/${s.name}` },
    h('td', {}, h('button', { class: 'link', onclick: () => a.showObject('Service', s.namespace, s.name) }, h('span', { class: 'dim' }, `${s.namespace}/`), s.name)),
    h('td', {}, s.type),
    h('td', { class: 'mono' }, s.clusterIP || '—'),
    h('td', { class: 'mono' }, s.ports.map((p) => h('div', {}, `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol}`, p.name ? h('span', { class: 'dim' }, ` ${p.name}`) : ''))),
    h('td', { class: 'mono' }, s.loadBalancerIPs.join(', ') || '—'),
    h('td', {}, h('span', { class: `count ${ready ? '' : 'bad'}`, 'data-ready-endpoints': ready }, `${ready}/${s.endpoints.length}`), h('div', { class: 'chips' }, s.endpoints.map((e) => h('span', { class: `chip ep ${endpointState(e)}`, 'data-endpoint': e.ip, title: `${e.pod ?? e.ip} · ready=${e.ready} serving=${e.serving} terminating=${e.terminating} · slice ${e.slice}` }, h('span', { class: `dot ${endpointState(e)}`, 'aria-hidden': 'true' }), h('span', { class: 'mono' }, e.ip), h('span', { class: 'dim' }, endpointState(e)))))),
    h('td', {}, h('button', { class: 'btn small', onclick: () => a.traceService(s), title: 'trace a connection to this Service' }, 'Trace')),
  );
}

function ingressRows(i: IngressView, a: TopologyActions) {
  return i.rules.flatMap((r) =>
    r.paths.map((p) =>
      h(
        'tr',
        { 'data-ingress': `${i.namespace}/${i.name}` },
        h('td', {}, h('button', { class: 'link', onclick: () => a.showObject('Ingress', i.namespace, i.name) }, h('span', { class: 'dim' }, `${i.namespace}/`), i.name)),
        h('td', {}, i.className || '—'),
        h('td', { class: 'mono' }, `${i.tlsHosts.includes(r.host) ? 'https' : 'http'}://${r.host}${p.path}`, h('span', { class: 'dim' }, ` ${p.pathType}`)),
        h('td', { class: 'mono' }, p.backend),
        h('td', { class: 'mono' }, i.loadBalancerIPs.join(', ') || '—'),
        h('td', {}, h('button', { class: 'btn small', onclick: () => a.traceIngress(i, r.host, p.path) }, 'Trace')),
      ),
    ),
  );
}

function policyRow(p: PolicyView, a: TopologyActions) {
  return h(
    'tr',
    { 'data-policy': `${p.namespace}/${p.name}` },
    h('td', {}, h('button', { class: 'link', onclick: () => a.showObject('NetworkPolicy', p.namespace, p.name) }, h('span', { class: 'dim' }, `${p.namespace}/`), p.name)),
    h('td', { class: 'mono' }, p.podSelector),
    h('td', {}, p.policyTypes.join(', ')),
    h('td', {}, `${p.ingressRules} ingress, ${p.egressRules} egress rule${p.egressRules === 1 ? '' : 's'}`),
    h('td', {}, h('div', { class: 'chips' }, p.selects.length ? p.selects.map((s) => h('span', { class: 'chip small mono' }, s)) : h('span', { class: 'dim' }, 'no pods'))),
  );
}

const table = (caption: string, head: string[], rows: Node[], empty: string) =>
  h('section', { class: 'panel' }, h('h2', {}, caption), rows.length ? h('table', {}, h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows)) : h('p', { class: 'dim' }, empty));

export function topologyView(t: Topology, a: TopologyActions): HTMLElement {
  return h(
    'div',
    { class: 'topology' },
    h('section', { class: 'panel' }, h('h2', {}, 'Nodes'), h('div', { class: 'nodes' }, t.nodes.map((n) => nodeCard(n, a))), t.pending.length ? h('div', { class: 'pending' }, h('h4', {}, 'Not scheduled'), h('div', { class: 'chips' }, t.pending.map((p) => podChip(p, a)))) : null),
    table('Services', ['Service', 'type', 'ClusterIP', 'ports', 'LoadBalancer IP', 'endpoints (EndpointSlices)', ''], t.services.map((s) => serviceRow(s, a)), 'no Services'),
    table('Ingresses', ['Ingress', 'class', 'host and path', 'backend', 'address', ''], t.ingresses.flatMap((i) => ingressRows(i, a)), 'no Ingresses'),
    table('NetworkPolicies', ['NetworkPolicy', 'pod selector', 'types', 'rules', 'selects'], t.policies.map((p) => policyRow(p, a)), 'no NetworkPolicies'),
  );
}
