// kube-proxy's nftables mode, as pure functions: each ServicePort becomes its chains, affinity
// sets and map elements in upstream's `ip kube-proxy` table (hashed chain names, numgen load
// balancing, verdict maps), and a sync plan turns the wanted state — and what the last sync
// applied — into one `nft -f` transaction: everything on a full sync, only changed services'
// chains and the element differences on a partial one.
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

export const table = 'ip kube-proxy';

export interface NftChain {
  name: string;
  rules: string[];
}

export interface NftElement {
  set: string;
  key: string;
  value?: string;
  comment?: string;
}

/** What one Service (all its ports) puts into the table. */
export interface ServiceNft {
  chains: NftChain[];
  affinitySets: { name: string; timeoutSeconds: number }[];
  elements: NftElement[];
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
  const verdict = hasEndpoints ? 'drop' : 'goto reject-chain';

  const out: ServiceNft = { chains: [], affinitySets: [], elements: [] };
  const chain = (name: string): string[] => {
    const c = { name, rules: [] as string[] };
    out.chains.push(c);
    return c.rules;
  };
  const el = (set: string, key: string, value?: string, comment?: string) => out.elements.push({ set, key, ...(value ? { value } : {}), ...(comment ? { comment } : {}) });
  const svcKey = (ip: string) => `${ip} . ${p} . ${sp.port}`;

  el('cluster-ips', sp.clusterIP);
  if (hasInternalEndpoints) el('service-ips', svcKey(sp.clusterIP), `goto ${internalChain}`);
  else el('no-endpoint-services', svcKey(sp.clusterIP), verdict, sp.name);
  for (const ip of sp.externalIPs) {
    if (hasEndpoints) el('service-ips', svcKey(ip), `goto ${externalChain}`);
    if (!hasExternalEndpoints) el('no-endpoint-services', svcKey(ip), verdict, sp.name);
  }
  if (usesFWChain) {
    const sources = sp.loadBalancerSourceRanges.map(normCIDR);
    const fromNode = cfg.nodeIP !== undefined && sp.loadBalancerSourceRanges.some((r) => {
      const c = parseCIDR(r);
      return c !== undefined && cidrContains(c, cfg.nodeIP!);
    });
    if (fromNode) sources.push(...sp.loadBalancerVIPs);
    chain(fwChain).push(`ip saddr != { ${sources.join(' , ')} } drop`);
  }
  for (const ip of sp.loadBalancerVIPs) {
    if (hasEndpoints) el('service-ips', svcKey(ip), `goto ${externalChain}`);
    if (usesFWChain) el('firewall-ips', svcKey(ip), `goto ${fwChain}`);
  }
  if (!hasExternalEndpoints) for (const ip of sp.loadBalancerVIPs) el('no-endpoint-services', svcKey(ip), verdict, sp.name);
  if (sp.nodePort) {
    if (hasEndpoints) el('service-nodeports', `${p} . ${sp.nodePort}`, `goto ${externalChain}`);
    if (!hasExternalEndpoints) el('no-endpoint-nodeports', `${p} . ${sp.nodePort}`, verdict, sp.name);
  }

  const serviceToEndpoints = (rules: string[], endpoints: ProxyEndpoint[]) => {
    if (sp.stickyMaxAgeSeconds) for (const e of endpoints) rules.push(`ip saddr @affinity-${epName(e)} goto endpoint-${epName(e)}`);
    rules.push(`numgen random mod ${endpoints.length} vmap { ${endpoints.map((e, i) => `${i} : goto endpoint-${epName(e)}`).join(' , ')} }`);
  };
  const internalMasq = cfg.masqueradeAll ? `ip daddr ${sp.clusterIP} ${p} dport ${sp.port} jump mark-for-masquerade` : cfg.clusterCIDR ? `ip daddr ${sp.clusterIP} ip saddr != ${cfg.clusterCIDR} jump mark-for-masquerade` : undefined;
  if (usesClusterChain) {
    const rules = chain(clusterChain);
    if (hasInternalEndpoints && internalChain === clusterChain && internalMasq) rules.push(internalMasq);
    serviceToEndpoints(rules, eps.clusterEndpoints);
  }
  if (usesLocalChain) {
    const rules = chain(localChain);
    if (hasInternalEndpoints && internalChain === localChain && internalMasq) rules.push(internalMasq);
    serviceToEndpoints(rules, eps.localEndpoints);
  }
  if (usesExternalChain) {
    const rules = chain(externalChain);
    if (!sp.externalPolicyLocal) {
      rules.push('jump mark-for-masquerade');
    } else {
      if (cfg.clusterCIDR) rules.push(`ip saddr ${cfg.clusterCIDR} goto ${clusterChain} comment "short-circuit pod traffic"`);
      rules.push('fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"');
      rules.push(`fib saddr type local goto ${clusterChain} comment "short-circuit local traffic"`);
    }
    if (hasExternalEndpoints) rules.push(`goto ${sp.externalPolicyLocal ? localChain : clusterChain}`);
  }
  for (const e of eps.allReachable) {
    const rules = chain(`endpoint-${epName(e)}`);
    rules.push(`ip saddr ${e.ip} jump mark-for-masquerade`);
    if (sp.stickyMaxAgeSeconds) {
      out.affinitySets.push({ name: `affinity-${epName(e)}`, timeoutSeconds: sp.stickyMaxAgeSeconds });
      rules.push(`update @affinity-${epName(e)} { ip saddr }`);
    }
    rules.push(`meta l4proto ${p} dnat to ${e.key}`);
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

const elementId = (e: NftElement) => `${e.set} ${e.key}`;
const addElement = (e: NftElement) => `add element ${table} ${e.set} { ${e.key}${e.comment ? ` comment "${e.comment}"` : ''}${e.value ? ` : ${e.value}` : ''} }`;
const deleteElement = (e: NftElement) => `delete element ${table} ${e.set} { ${e.key} }`;
const sameElement = (a: NftElement, b: NftElement) => a.value === b.value && a.comment === b.comment;

const baseChains: [name: string, type: string, hook: string, priority: number][] = [
  ['filter-prerouting-pre-dnat', 'filter', 'prerouting', -110],
  ['filter-output-pre-dnat', 'filter', 'output', -110],
  ['filter-forward', 'filter', 'forward', 0],
  ['filter-input', 'filter', 'input', 0],
  ['filter-output', 'filter', 'output', 0],
  ['nat-prerouting', 'nat', 'prerouting', -100],
  ['nat-output', 'nat', 'output', -100],
  ['nat-postrouting', 'nat', 'postrouting', 100],
];
const regularChains = ['cluster-ips-check', 'firewall-check', 'mark-for-masquerade', 'masquerading', 'nodeport-endpoints-check', 'services', 'service-endpoints-check'];
const maps: [name: string, type: string, comment: string][] = [
  ['firewall-ips', 'ipv4_addr . inet_proto . inet_service : verdict', 'destinations that are subject to LoadBalancerSourceRanges'],
  ['no-endpoint-nodeports', 'inet_proto . inet_service : verdict', 'vmap to drop or reject packets to service nodeports with no endpoints'],
  ['no-endpoint-services', 'ipv4_addr . inet_proto . inet_service : verdict', 'vmap to drop or reject packets to services with no endpoints'],
  ['service-ips', 'ipv4_addr . inet_proto . inet_service : verdict', 'ClusterIP, ExternalIP and LoadBalancer IP traffic'],
  ['service-nodeports', 'inet_proto . inet_service : verdict', 'NodePort traffic'],
];

/**
 * The first part of a full sync: the table, its fixed sets, maps and chains (each added and
 * flushed, so the transaction owns their contents) and the fixed rules.
 */
export function setupLines(cfg: NftablesConfig): { declarations: string[]; rules: string[] } {
  const m = masqueradeMark(cfg.masqueradeBit);
  const matchAll = cfg.nodePortIPs === undefined;
  const d: string[] = [`add table ${table} { comment "rules for kube-proxy" ; }`];
  d.push(`add set ${table} cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }`, `flush set ${table} cluster-ips`);
  d.push(`add set ${table} nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }`);
  if (matchAll) d.push(`delete set ${table} nodeport-ips`);
  else d.push(`flush set ${table} nodeport-ips`);
  for (const [name, type, comment] of maps) d.push(`add map ${table} ${name} { type ${type} ; comment "${comment}" ; }`, `flush map ${table} ${name}`);
  for (const [name, type, hook, prio] of baseChains) d.push(`add chain ${table} ${name} { type ${type} hook ${hook} priority ${prio} ; }`, `flush chain ${table} ${name}`);
  for (const name of regularChains) d.push(`add chain ${table} ${name}`, `flush chain ${table} ${name}`);
  d.push(`add chain ${table} reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }`, `flush chain ${table} reject-chain`);

  const r: string[] = [];
  const rule = (chain: string, text: string) => r.push(`add rule ${table} ${chain} ${text}`);
  rule('cluster-ips-check', 'ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"');
  if (cfg.serviceCIDRs?.length) rule('cluster-ips-check', `ip daddr { ${cfg.serviceCIDRs.map(normCIDR).join(', ')} } drop comment "Drop traffic to unallocated ClusterIPs"`);
  rule('filter-prerouting-pre-dnat', 'ct state new jump firewall-check');
  rule('filter-output-pre-dnat', 'ct state new jump firewall-check');
  rule('filter-forward', 'ct state new jump service-endpoints-check');
  rule('filter-forward', 'ct state new jump cluster-ips-check');
  rule('filter-input', 'ct state new jump nodeport-endpoints-check');
  rule('filter-input', 'ct state new jump service-endpoints-check');
  rule('filter-output', 'ct state new jump service-endpoints-check');
  rule('filter-output', 'ct state new jump cluster-ips-check');
  rule('firewall-check', 'ip daddr . meta l4proto . th dport vmap @firewall-ips');
  rule('mark-for-masquerade', `mark set mark or ${m}`);
  rule('masquerading', `mark and ${m} == 0 return`);
  rule('masquerading', `mark set mark xor ${m}`);
  rule('masquerading', 'masquerade fully-random');
  rule('nat-output', 'jump services');
  rule('nat-postrouting', 'jump masquerading');
  rule('nat-prerouting', 'jump services');
  const nodePortMatch = matchAll ? 'fib daddr type local ip daddr != 127.0.0.0/8' : 'ip daddr @nodeport-ips';
  rule('nodeport-endpoints-check', `${nodePortMatch} meta l4proto . th dport vmap @no-endpoint-nodeports`);
  rule('reject-chain', 'reject');
  rule('services', 'ip daddr . meta l4proto . th dport vmap @service-ips');
  rule('services', `${nodePortMatch} meta l4proto . th dport vmap @service-nodeports`);
  rule('service-endpoints-check', 'ip daddr . meta l4proto . th dport vmap @no-endpoint-services');
  if (!matchAll) for (const ip of cfg.nodePortIPs!) r.push(`add element ${table} nodeport-ips { ${ip} }`);
  return { declarations: d, rules: r };
}

/** What the last successful sync left in the table: each Service's contents, and each map or set element with how many Services want it. */
export interface NftAppliedState {
  services: Map<string, ServiceNft>;
  elements: Map<string, { e: NftElement; refs: number }>;
}

export interface NftSyncPlan {
  /** the `nft -f` input, one command a line */
  text: string;
  /** commands in it (upstream counts these per transaction) */
  operations: number;
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
}

/**
 * Plans one sync transaction. A partial sync costs in proportion to the changed Services:
 * their chains are rewritten and their elements diffed against what they had.
 */
export function planNftSync(input: NftSyncInput): NftSyncPlan {
  const full = input.changed === undefined || input.prev === undefined;
  const declarations: string[] = [];
  const rules: string[] = [];
  const deletes: string[] = [];
  const adds: string[] = [];
  const cleanup: string[] = [];
  const staleChains: string[] = [];
  if (full) {
    const s = setupLines(input.cfg);
    declarations.push(...s.declarations);
    rules.push(...s.rules);
  }
  const write = (svc: ServiceNft) => {
    for (const a of svc.affinitySets) declarations.push(`add set ${table} ${a.name} { type ipv4_addr ; flags dynamic,timeout ; timeout ${a.timeoutSeconds}s ; }`);
    for (const c of svc.chains) {
      declarations.push(`add chain ${table} ${c.name}`, `flush chain ${table} ${c.name}`);
      for (const r of c.rules) rules.push(`add rule ${table} ${c.name} ${r}`);
    }
  };
  const finish = (commit: () => NftAppliedState): NftSyncPlan => {
    const parts = [declarations, rules, deletes, adds, cleanup].filter((p) => p.length);
    const operations = parts.reduce((n, p) => n + p.length, 0);
    return { text: parts.map((p) => `${p.join('\n')}\n`).join(''), operations, staleChains, commit };
  };

  if (full) {
    const activeChains = new Set<string>();
    const activeSets = new Set<string>();
    const want = new Map<string, { e: NftElement; refs: number }>();
    for (const k of [...input.services.keys()].sort()) {
      const svc = input.services.get(k)!;
      write(svc);
      for (const c of svc.chains) activeChains.add(c.name);
      for (const a of svc.affinitySets) activeSets.add(a.name);
      for (const e of svc.elements) {
        const id = elementId(e);
        const had = want.get(id);
        if (had) had.refs++;
        else want.set(id, { e, refs: 1 });
      }
    }
    for (const { e } of want.values()) adds.push(addElement(e));
    for (const c of input.existingChains ?? []) {
      if (isServiceChain(c) && !activeChains.has(c)) {
        cleanup.push(`flush chain ${table} ${c}`);
        staleChains.push(c);
      }
    }
    for (const s of input.existingSets ?? []) if (isAffinitySet(s) && !activeSets.has(s)) cleanup.push(`delete set ${table} ${s}`);
    return finish(() => ({ services: new Map(input.services), elements: want }));
  }

  const prev = input.prev!;
  // Reference counts as they will be after this sync, for the elements it touches.
  const refs = new Map<string, { e: NftElement; refs: number }>();
  const entry = (id: string) => {
    let r = refs.get(id);
    if (!r) {
      const had = prev.elements.get(id);
      r = had ? { e: had.e, refs: had.refs } : { e: undefined as unknown as NftElement, refs: 0 };
      refs.set(id, r);
    }
    return r;
  };
  const keys = [...input.changed!].sort();
  for (const k of keys) {
    const svc = input.services.get(k);
    const old = prev.services.get(k);
    if (svc) write(svc);
    // A Service's chains and sets carry its name: only its own new contents can still use them.
    const chains = new Set(svc?.chains.map((c) => c.name));
    const sets = new Set(svc?.affinitySets.map((a) => a.name));
    for (const c of old?.chains ?? []) {
      if (!chains.has(c.name)) {
        cleanup.push(`flush chain ${table} ${c.name}`);
        staleChains.push(c.name);
      }
    }
    for (const a of old?.affinitySets ?? []) if (!sets.has(a.name)) cleanup.push(`delete set ${table} ${a.name}`);
    const before = new Map((old?.elements ?? []).map((e) => [elementId(e), e]));
    const after = new Map((svc?.elements ?? []).map((e) => [elementId(e), e]));
    for (const [id] of before) if (!after.has(id)) entry(id).refs--;
    for (const [id, e] of after) {
      const r = entry(id);
      if (!before.has(id)) r.refs++;
      // The newest wanted value wins (two Services never rightly share an element).
      if (r.e === undefined || !sameElement(r.e, e)) r.e = e;
    }
  }
  for (const [id, r] of refs) {
    const had = prev.elements.get(id);
    if (had && (r.refs <= 0 || !sameElement(had.e, r.e))) deletes.push(deleteElement(had.e));
    if (r.refs > 0 && (!had || !sameElement(had.e, r.e))) adds.push(addElement(r.e));
  }
  return finish(() => {
    for (const k of keys) {
      const svc = input.services.get(k);
      if (svc) prev.services.set(k, svc);
      else prev.services.delete(k);
    }
    for (const [id, r] of refs) {
      if (r.refs > 0) prev.elements.set(id, r);
      else prev.elements.delete(id);
    }
    return prev;
  });
}

/** The transaction that deletes chains flushed by an earlier sync. */
export function deleteChainsText(chains: string[]): string {
  return chains.map((c) => `delete chain ${table} ${c}\n`).join('');
}

/** A full sync, from nothing: what `podpath proxy render --mode nftables` prints. */
export function renderNftables(ports: ServicePortInfo[], cfg: NftablesConfig): string {
  const services = new Map<string, ServiceNft>();
  for (const [k, l] of portsByService(ports)) services.set(k, renderService(l, cfg));
  return planNftSync({ services, cfg }).text;
}
