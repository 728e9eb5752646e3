// kube-proxy's nftables mode, as pure functions: each ServicePort becomes its chains, affinity
// sets and map elements in upstream's `ip kube-proxy` table (hashed chain names, numgen load
// balancing, verdict maps), built as knftables objects; a sync plan queues the wanted state — and
// what the last sync applied — in one knftables Transaction: everything on a full sync, only the
// changed Services' chains and the element differences on a partial one. The `nft -f` text is
// the transaction's toString(): src/knftables writes it, nothing here does.
import { concat, Transaction, type BaseChainHook, type BaseChainType, type Chain, type Element, type NftContext, type NftMap, type NftSet, type Rule } from '../../knftables/index.ts';
import { cidrContains, cidrString, parseCIDR } from '../../util/ip.ts';
import { masqueradeMark, type ProxyFlags } from '../config.ts';
import { base32Sha256Prefix } from '../hash.ts';
import { categorizeEndpoints, externallyAccessible, portsByService, type ProxyEndpoint, type ServicePortInfo } from '../model.ts';

export interface NftablesConfig {
  /** detect-local-mode ClusterCIDR: ClusterIP traffic from outside it is masqueraded */
  clusterCIDR?: string;
  masqueradeAll?: boolean;
  masqueradeBit?: number;
  /** addresses NodePorts answer on; absent: every local address except 127.0.0.0/8 */
  nodePortIPs?: string[];
  /** the node's primary IP (LoadBalancer source ranges that contain it also admit the LB IPs) */
  nodeIP?: string;
  /** Service CIDRs: traffic to an unallocated ClusterIP in them is dropped */
  serviceCIDRs?: string[];
}

/** The rendering options the flags give, with the addresses NodePorts answer on (undefined: every local address) and the node's IP. */
export function nftablesConfig(f: ProxyFlags, ips: string[] | undefined, nodeIP: string | undefined): NftablesConfig {
  return {
    ...(f.clusterCIDR ? { clusterCIDR: f.clusterCIDR } : {}),
    masqueradeAll: f.masqueradeAll,
    masqueradeBit: f.masqueradeBit,
    ...(ips ? { nodePortIPs: ips } : {}),
    ...(nodeIP ? { nodeIP } : {}),
    ...(f.serviceCIDRs?.length ? { serviceCIDRs: f.serviceCIDRs } : {}),
  };
}

/** The table kube-proxy owns: its transactions and its Interface work on it. */
export const kubeProxyTable = { family: 'ip', table: 'kube-proxy' } as const satisfies NftContext;

// The fixed sets, maps and chains, by upstream's names.
const clusterIPsSet = 'cluster-ips';
const nodePortIPsSet = 'nodeport-ips';
const firewallIPsMap = 'firewall-ips';
const noEndpointNodePortsMap = 'no-endpoint-nodeports';
const noEndpointServicesMap = 'no-endpoint-services';
const serviceIPsMap = 'service-ips';
const serviceNodePortsMap = 'service-nodeports';
const clusterIPsCheckChain = 'cluster-ips-check';
const firewallCheckChain = 'firewall-check';
const markMasqChain = 'mark-for-masquerade';
const masqueradingChain = 'masquerading';
const nodePortEndpointsCheckChain = 'nodeport-endpoints-check';
const servicesChain = 'services';
const serviceEndpointsCheckChain = 'service-endpoints-check';
const rejectChain = 'reject-chain';

/** A per-service chain with the rules a sync writes into it. */
export interface ServiceChain {
  chain: Chain;
  rules: Rule[];
}

/** What one Service (all its ports) puts into the table. */
export interface ServiceNft {
  chains: ServiceChain[];
  affinitySets: NftSet[];
  elements: Element[];
}

// Chain names: a readable name with an 8-character hash in front, cut to 240 characters.
const nameBaseMax = 240;
function hashAndTruncate(name: string): string {
  const n = `${base32Sha256Prefix(name, 8)}-${name}`;
  return n.length > nameBaseMax ? `${n.slice(0, nameBaseMax - 3)}...` : n;
}
const proto = (sp: ServicePortInfo) => sp.protocol.toLowerCase();
const portBase = (sp: ServicePortInfo) => hashAndTruncate(`${sp.namespace}/${sp.serviceName}/${proto(sp)}/${sp.portName}`);
const endpointBase = (sp: ServicePortInfo, e: ProxyEndpoint) => hashAndTruncate(`${sp.namespace}/${sp.serviceName}/${proto(sp)}/${sp.portName}__${e.ip.replace(/:/g, '.')}/${e.port}`);
/** Per-service chains are the only ones with a "/" in their names. */
export const isServiceChain = (name: string) => name.includes('/');
export const isAffinitySet = (name: string) => name.startsWith('affinity-');

const normCIDR = (c: string) => {
  const p = parseCIDR(c);
  return p ? cidrString(p) : c;
};

/** Words separated by a "," word, for an anonymous set or map in concat(). */
const commaSeparated = (items: readonly (string | number)[][]) => items.flatMap((words, i) => (i ? [',', ...words] : words));

const rule = (chain: string, text: string, comment?: string): Rule => ({ kind: 'rule', chain, rule: text, ...(comment ? { comment } : {}) });
const setElement = (set: string, key: string[]): Element => ({ kind: 'element', set, key });
/** A verdict map's element: its value is one verdict ("drop", "goto service-…"). */
const mapElement = (map: string, key: string[], verdict: string, comment?: string): Element => ({ kind: 'element', map, key, value: [verdict], ...(comment ? { comment } : {}) });

/** The chains, affinity sets and map elements of one ServicePort. */
export function renderServicePort(sp: ServicePortInfo, cfg: NftablesConfig): ServiceNft {
  const p = proto(sp);
  const eps = categorizeEndpoints(sp);
  const hasEndpoints = eps.hasAnyEndpoints;
  const base = portBase(sp);
  const clusterChain = `service-${base}`;
  const localChain = `local-${base}`;
  const externalChain = `external-${base}`;
  const fwChain = `firewall-${base}`;
  // Each endpoint's chain and affinity set name, computed once.
  const epBase = new Map<ProxyEndpoint, string>();
  const epName = (e: ProxyEndpoint) => {
    let b = epBase.get(e);
    if (b === undefined) epBase.set(e, (b = endpointBase(sp, e)));
    return b;
  };
  const usesClusterChain = eps.clusterEndpoints.length > 0;
  const usesLocalChain = eps.localEndpoints.length > 0;
  const internalChain = sp.internalPolicyLocal ? localChain : clusterChain;
  const hasInternalEndpoints = sp.internalPolicyLocal ? usesLocalChain && hasEndpoints : hasEndpoints;
  const hasExternalEndpoints = sp.externalPolicyLocal ? usesLocalChain && hasEndpoints : hasEndpoints;
  const usesExternalChain = hasEndpoints && externallyAccessible(sp);
  const usesFWChain = sp.loadBalancerVIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
  // No endpoints anywhere: reject; endpoints elsewhere but none for this policy: drop.
  const verdict = hasEndpoints ? 'drop' : `goto ${rejectChain}`;

  const out: ServiceNft = { chains: [], affinitySets: [], elements: [] };
  /** Declares a chain; what it returns adds a rule to it. */
  const chain = (name: string) => {
    const c: ServiceChain = { chain: { kind: 'chain', name }, rules: [] };
    out.chains.push(c);
    return (text: string, comment?: string) => void c.rules.push(rule(name, text, comment));
  };
  const el = (e: Element) => void out.elements.push(e);
  const svcKey = (ip: string) => [ip, p, String(sp.port)];

  el(setElement(clusterIPsSet, [sp.clusterIP]));
  if (hasInternalEndpoints) el(mapElement(serviceIPsMap, svcKey(sp.clusterIP), `goto ${internalChain}`));
  else el(mapElement(noEndpointServicesMap, svcKey(sp.clusterIP), verdict, sp.name));
  for (const ip of sp.externalIPs) {
    if (hasEndpoints) el(mapElement(serviceIPsMap, svcKey(ip), `goto ${externalChain}`));
    if (!hasExternalEndpoints) el(mapElement(noEndpointServicesMap, svcKey(ip), verdict, sp.name));
  }
  if (usesFWChain) {
    const sources = sp.loadBalancerSourceRanges.map(normCIDR);
    const fromNode = cfg.nodeIP !== undefined && sp.loadBalancerSourceRanges.some((r) => {
      const c = parseCIDR(r);
      return c !== undefined && cidrContains(c, cfg.nodeIP!);
    });
    if (fromNode) sources.push(...sp.loadBalancerVIPs);
    chain(fwChain)(concat('ip saddr != {', commaSeparated(sources.map((s) => [s])), '}', 'drop'));
  }
  for (const ip of sp.loadBalancerVIPs) {
    if (hasEndpoints) el(mapElement(serviceIPsMap, svcKey(ip), `goto ${externalChain}`));
    if (usesFWChain) el(mapElement(firewallIPsMap, svcKey(ip), `goto ${fwChain}`));
  }
  if (!hasExternalEndpoints) for (const ip of sp.loadBalancerVIPs) el(mapElement(noEndpointServicesMap, svcKey(ip), verdict, sp.name));
  if (sp.nodePort) {
    const key = [p, String(sp.nodePort)];
    if (hasEndpoints) el(mapElement(serviceNodePortsMap, key, `goto ${externalChain}`));
    if (!hasExternalEndpoints) el(mapElement(noEndpointNodePortsMap, key, verdict, sp.name));
  }

  const serviceToEndpoints = (add: (text: string) => void, endpoints: ProxyEndpoint[]) => {
    if (sp.stickyMaxAgeSeconds) for (const e of endpoints) add(concat('ip saddr', '@', `affinity-${epName(e)}`, 'goto', `endpoint-${epName(e)}`));
    add(concat('numgen random mod', endpoints.length, 'vmap', '{', commaSeparated(endpoints.map((e, i) => [i, ':', 'goto', `endpoint-${epName(e)}`])), '}'));
  };
  const internalMasq = cfg.masqueradeAll
    ? concat('ip daddr', sp.clusterIP, p, 'dport', sp.port, 'jump', markMasqChain)
    : cfg.clusterCIDR
      ? concat('ip daddr', sp.clusterIP, 'ip saddr !=', cfg.clusterCIDR, 'jump', markMasqChain)
      : undefined;
  if (usesClusterChain) {
    const add = chain(clusterChain);
    if (hasInternalEndpoints && internalChain === clusterChain && internalMasq) add(internalMasq);
    serviceToEndpoints(add, eps.clusterEndpoints);
  }
  if (usesLocalChain) {
    const add = chain(localChain);
    if (hasInternalEndpoints && internalChain === localChain && internalMasq) add(internalMasq);
    serviceToEndpoints(add, eps.localEndpoints);
  }
  if (usesExternalChain) {
    const add = chain(externalChain);
    if (!sp.externalPolicyLocal) {
      add(concat('jump', markMasqChain));
    } else {
      if (cfg.clusterCIDR) add(concat('ip saddr', cfg.clusterCIDR, 'goto', clusterChain), 'short-circuit pod traffic');
      add(concat('fib saddr type local', 'jump', markMasqChain), 'masquerade local traffic');
      add(concat('fib saddr type local', 'goto', clusterChain), 'short-circuit local traffic');
    }
    if (hasExternalEndpoints) add(concat('goto', sp.externalPolicyLocal ? localChain : clusterChain));
  }
  for (const e of eps.allReachable) {
    const add = chain(`endpoint-${epName(e)}`);
    const affinity = `affinity-${epName(e)}`;
    add(concat('ip saddr', e.ip, 'jump', markMasqChain));
    if (sp.stickyMaxAgeSeconds) {
      out.affinitySets.push({ kind: 'set', name: affinity, type: 'ipv4_addr', flags: ['dynamic', 'timeout'], timeout: sp.stickyMaxAgeSeconds });
      add(concat('update', '@', affinity, '{ ip saddr }'));
    }
    add(concat('meta l4proto', p, 'dnat to', e.key));
  }
  return out;
}

/** All ports of one Service, merged. */
export function renderService(ports: ServicePortInfo[], cfg: NftablesConfig): ServiceNft {
  const out: ServiceNft = { chains: [], affinitySets: [], elements: [] };
  for (const sp of ports) {
    const r = renderServicePort(sp, cfg);
    out.chains.push(...r.chains);
    out.affinitySets.push(...r.affinitySets);
    out.elements.push(...r.elements);
  }
  return out;
}

/** An element's identity in the table: its set or map and its key. */
const elementId = (e: Element) => `${e.set ?? e.map} ${e.key.join(' . ')}`;
const sameWords = (a: readonly string[] = [], b: readonly string[] = []) => a.length === b.length && a.every((w, i) => w === b[i]);
const sameElement = (a: Element, b: Element) => sameWords(a.value, b.value) && a.comment === b.comment;

const baseChains: [name: string, type: BaseChainType, hook: BaseChainHook, priority: number][] = [
  ['filter-prerouting-pre-dnat', 'filter', 'prerouting', -110],
  ['filter-output-pre-dnat', 'filter', 'output', -110],
  ['filter-forward', 'filter', 'forward', 0],
  ['filter-input', 'filter', 'input', 0],
  ['filter-output', 'filter', 'output', 0],
  ['nat-prerouting', 'nat', 'prerouting', -100],
  ['nat-output', 'nat', 'output', -100],
  ['nat-postrouting', 'nat', 'postrouting', 100],
];
const regularChains = [clusterIPsCheckChain, firewallCheckChain, markMasqChain, masqueradingChain, nodePortEndpointsCheckChain, servicesChain, serviceEndpointsCheckChain];
const svcMapKey = 'ipv4_addr . inet_proto . inet_service : verdict';
const nodePortMapKey = 'inet_proto . inet_service : verdict';
const maps: NftMap[] = [
  { kind: 'map', name: firewallIPsMap, type: svcMapKey, comment: 'destinations that are subject to LoadBalancerSourceRanges' },
  { kind: 'map', name: noEndpointNodePortsMap, type: nodePortMapKey, comment: 'vmap to drop or reject packets to service nodeports with no endpoints' },
  { kind: 'map', name: noEndpointServicesMap, type: svcMapKey, comment: 'vmap to drop or reject packets to services with no endpoints' },
  { kind: 'map', name: serviceIPsMap, type: svcMapKey, comment: 'ClusterIP, ExternalIP and LoadBalancer IP traffic' },
  { kind: 'map', name: serviceNodePortsMap, type: nodePortMapKey, comment: 'NodePort traffic' },
];

/**
 * The first part of a full sync: the table, its fixed sets, maps and chains (each added and
 * flushed, so the transaction owns their contents).
 */
function declareFixed(tx: Transaction, cfg: NftablesConfig): void {
  const addFlush = (o: NftSet | NftMap | Chain) => tx.add(o).flush(o);
  tx.add({ kind: 'table', comment: 'rules for kube-proxy' });
  addFlush({ kind: 'set', name: clusterIPsSet, type: 'ipv4_addr', comment: 'Active ClusterIPs' });
  const nodePortIPs: NftSet = { kind: 'set', name: nodePortIPsSet, type: 'ipv4_addr', comment: 'IPs that accept NodePort traffic' };
  // NodePorts on every local address: the set goes (added first, so the delete cannot fail)
  if (cfg.nodePortIPs === undefined) tx.add(nodePortIPs).delete(nodePortIPs);
  else addFlush(nodePortIPs);
  for (const m of maps) addFlush(m);
  for (const [name, type, hook, priority] of baseChains) addFlush({ kind: 'chain', name, type, hook, priority });
  for (const name of regularChains) addFlush({ kind: 'chain', name });
  addFlush({ kind: 'chain', name: rejectChain, comment: 'helper for @no-endpoint-services / @no-endpoint-nodeports' });
}

/** The fixed chains' rules, and the addresses NodePorts answer on. */
function addFixedRules(tx: Transaction, cfg: NftablesConfig): void {
  const m = masqueradeMark(cfg.masqueradeBit);
  const matchAll = cfg.nodePortIPs === undefined;
  const add = (chain: string, text: string, comment?: string) => tx.add(rule(chain, text, comment));
  const dispatch = 'ip daddr . meta l4proto . th dport';
  const ctNewJump = (to: string) => concat('ct state new', 'jump', to);
  add(clusterIPsCheckChain, concat('ip daddr', '@', clusterIPsSet, 'reject'), 'Reject traffic to invalid ports of ClusterIPs');
  if (cfg.serviceCIDRs?.length) add(clusterIPsCheckChain, concat('ip daddr', '{', cfg.serviceCIDRs.map(normCIDR).join(', '), '}', 'drop'), 'Drop traffic to unallocated ClusterIPs');
  add('filter-prerouting-pre-dnat', ctNewJump(firewallCheckChain));
  add('filter-output-pre-dnat', ctNewJump(firewallCheckChain));
  add('filter-forward', ctNewJump(serviceEndpointsCheckChain));
  add('filter-forward', ctNewJump(clusterIPsCheckChain));
  add('filter-input', ctNewJump(nodePortEndpointsCheckChain));
  add('filter-input', ctNewJump(serviceEndpointsCheckChain));
  add('filter-output', ctNewJump(serviceEndpointsCheckChain));
  add('filter-output', ctNewJump(clusterIPsCheckChain));
  add(firewallCheckChain, concat(dispatch, 'vmap', '@', firewallIPsMap));
  add(markMasqChain, concat('mark set mark or', m));
  add(masqueradingChain, concat('mark and', m, '==', 0, 'return'));
  add(masqueradingChain, concat('mark set mark xor', m));
  add(masqueradingChain, 'masquerade fully-random');
  add('nat-output', concat('jump', servicesChain));
  add('nat-postrouting', concat('jump', masqueradingChain));
  add('nat-prerouting', concat('jump', servicesChain));
  const nodePortMatch = matchAll ? 'fib daddr type local ip daddr != 127.0.0.0/8' : concat('ip daddr', '@', nodePortIPsSet);
  add(nodePortEndpointsCheckChain, concat(nodePortMatch, 'meta l4proto . th dport', 'vmap', '@', noEndpointNodePortsMap));
  add(rejectChain, 'reject');
  add(servicesChain, concat(dispatch, 'vmap', '@', serviceIPsMap));
  add(servicesChain, concat(nodePortMatch, 'meta l4proto . th dport', 'vmap', '@', serviceNodePortsMap));
  add(serviceEndpointsCheckChain, concat(dispatch, 'vmap', '@', noEndpointServicesMap));
  if (!matchAll) for (const ip of cfg.nodePortIPs!) tx.add(setElement(nodePortIPsSet, [ip]));
}

/** What the last successful sync left in the table: each Service's contents, and each map or set element with how many Services want it. */
export interface NftAppliedState {
  services: Map<string, ServiceNft>;
  elements: Map<string, { e: Element; refs: number }>;
}

export interface NftSyncPlan {
  /** the sync's transaction (no operations when nothing changed); upstream counts its operations */
  tx: Transaction;
  /** per-service chains flushed by this sync, to delete in a later one */
  staleChains: string[];
  /** once the transaction succeeded: the state it left (on a partial sync, `prev` updated in place) */
  commit(): NftAppliedState;
}

export interface NftSyncInput {
  /** a full sync: every Service's contents; a partial one: those of the changed Services (absent: gone) */
  services: Map<string, ServiceNft>;
  /** undefined: a full sync; else the Services whose objects or EndpointSlices changed */
  changed?: Set<string>;
  prev?: NftAppliedState;
  /** on a full sync: chains and sets found in the table (stale ones are flushed or deleted) */
  existingChains?: string[];
  existingSets?: string[];
  cfg: NftablesConfig;
  /** the transaction to queue into (an Interface's newTransaction()); a new one on kubeProxyTable when absent */
  tx?: Transaction;
}

/**
 * Plans one sync transaction. A partial sync costs in proportion to the changed Services:
 * their chains are rewritten and their elements diffed against what they had. The operations
 * go in this order: declarations (the fixed ones on a full sync, then the Services' affinity sets
 * and chains, each chain added and flushed), rules, element deletes, element adds, and last the
 * stale chains flushed and stale affinity sets deleted.
 */
export function planNftSync(input: NftSyncInput): NftSyncPlan {
  const tx = input.tx ?? new Transaction(kubeProxyTable);
  const full = input.changed === undefined || input.prev === undefined;
  const keys = full ? [...input.services.keys()].sort() : [...input.changed!].sort();
  const wanted = keys.flatMap((k) => input.services.get(k) ?? []);
  const deletes: Element[] = [];
  const adds: Element[] = [];
  const staleChains: string[] = [];
  /** stale chains (to flush) and affinity sets (to delete), in the order found */
  const stale: (Chain | NftSet)[] = [];
  const staleChain = (name: string) => {
    staleChains.push(name);
    stale.push({ kind: 'chain', name });
  };
  const staleSet = (name: string) => stale.push({ kind: 'set', name });
  let commit: () => NftAppliedState;

  if (full) {
    const activeChains = new Set(wanted.flatMap((svc) => svc.chains.map((c) => c.chain.name)));
    const activeSets = new Set(wanted.flatMap((svc) => svc.affinitySets.map((a) => a.name)));
    const want = new Map<string, { e: Element; refs: number }>();
    for (const e of wanted.flatMap((svc) => svc.elements)) {
      const had = want.get(elementId(e));
      if (had) had.refs++;
      else want.set(elementId(e), { e, refs: 1 });
    }
    for (const { e } of want.values()) adds.push(e);
    for (const c of input.existingChains ?? []) if (isServiceChain(c) && !activeChains.has(c)) staleChain(c);
    for (const s of input.existingSets ?? []) if (isAffinitySet(s) && !activeSets.has(s)) staleSet(s);
    commit = () => ({ services: new Map(input.services), elements: want });
  } else {
    const prev = input.prev!;
    // Reference counts as they will be after this sync, for the elements it touches.
    const refs = new Map<string, { e?: Element; refs: number }>();
    const entry = (id: string) => {
      let r = refs.get(id);
      if (!r) {
        const had = prev.elements.get(id);
        refs.set(id, (r = had ? { e: had.e, refs: had.refs } : { refs: 0 }));
      }
      return r;
    };
    for (const k of keys) {
      const svc = input.services.get(k);
      const old = prev.services.get(k);
      // A Service's chains and sets carry its name: only its own new contents can still use them.
      const chains = new Set(svc?.chains.map((c) => c.chain.name));
      const sets = new Set(svc?.affinitySets.map((a) => a.name));
      for (const c of old?.chains ?? []) if (!chains.has(c.chain.name)) staleChain(c.chain.name);
      for (const a of old?.affinitySets ?? []) if (!sets.has(a.name)) staleSet(a.name);
      const before = new Set((old?.elements ?? []).map(elementId));
      const after = new Map((svc?.elements ?? []).map((e) => [elementId(e), e]));
      for (const id of before) if (!after.has(id)) entry(id).refs--;
      for (const [id, e] of after) {
        const r = entry(id);
        if (!before.has(id)) r.refs++;
        // The newest wanted value wins (two Services never rightly share an element).
        if (r.e === undefined || !sameElement(r.e, e)) r.e = e;
      }
    }
    for (const [id, r] of refs) {
      const had = prev.elements.get(id);
      const changed = had !== undefined && r.e !== undefined && !sameElement(had.e, r.e);
      if (had && (r.refs <= 0 || changed)) deletes.push(had.e);
      if (r.refs > 0 && (!had || changed)) adds.push(r.e!);
    }
    commit = () => {
      for (const k of keys) {
        const svc = input.services.get(k);
        if (svc) prev.services.set(k, svc);
        else prev.services.delete(k);
      }
      for (const [id, r] of refs) {
        if (r.refs > 0) prev.elements.set(id, { e: r.e!, refs: r.refs });
        else prev.elements.delete(id);
      }
      return prev;
    };
  }

  if (full) declareFixed(tx, input.cfg);
  for (const svc of wanted) {
    for (const a of svc.affinitySets) tx.add(a);
    for (const c of svc.chains) tx.add(c.chain).flush(c.chain);
  }
  if (full) addFixedRules(tx, input.cfg);
  for (const svc of wanted) for (const c of svc.chains) for (const r of c.rules) tx.add(r);
  for (const e of deletes) tx.delete(e);
  for (const e of adds) tx.add(e);
  for (const o of stale) {
    if (o.kind === 'chain') tx.flush(o);
    else tx.delete(o);
  }
  return { tx, staleChains, commit };
}

/** Queues the deletion of chains an earlier sync flushed. */
export function deleteChains(tx: Transaction, chains: string[]): Transaction {
  for (const name of chains) tx.delete({ kind: 'chain', name });
  return tx;
}

/** The transaction of a full sync from nothing. */
export function fullSyncTransaction(ports: ServicePortInfo[], cfg: NftablesConfig): Transaction {
  const services = new Map<string, ServiceNft>();
  for (const [k, l] of portsByService(ports)) services.set(k, renderService(l, cfg));
  return planNftSync({ services, cfg }).tx;
}

/** A full sync, from nothing: what `podpath proxy render --mode nftables` prints. */
export function renderNftables(ports: ServicePortInfo[], cfg: NftablesConfig): string {
  return fullSyncTransaction(ports, cfg).toString();
}
