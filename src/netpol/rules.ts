// What one node's `ip podpath-netpol` table should hold, as a pure function of the policy model:
// the forward base chain (sees pod IPs after kube-proxy's DNAT, and bridged same-node traffic
// through br_netfilter), one verdict map per direction sending a local pod's isolated traffic to
// that pod's chain, the pod's chain (one line per allowing rule × peer × port, `return` when
// allowed, a counted drop at the end), and one set per rule of the pod IPs its selector peers
// match — shared by every pod the policy selects, so a label change rewrites a set's elements
// and not the chains.
import { createHash } from 'node:crypto';
import { matches } from '../api/labels.ts';
import type { Pod } from '../api/types.ts';
import { cidrString } from '../util/ip.ts';
import { endpointIP, matchesPeer, namedPortNumbers, type CompiledPeer, type CompiledPolicy, type CompiledPort, type CompiledRule, type Direction } from './peers.ts';
import { podKey, type PolicyModel } from './policy.ts';

export const tableFamily = 'ip';
export const tableName = 'podpath-netpol';
export const baseChain = 'forward';
export const mapName: Record<Direction, string> = { Ingress: 'ingress-pods', Egress: 'egress-pods' };

export interface DesiredChain {
  name: string;
  rules: string[];
  /** the chain's comment: the pod and direction it polices ("x/a ingress") */
  comment?: string;
}

export interface DesiredSet {
  name: string;
  elements: string[];
  comment: string;
}

/** The table's whole content, by name (the sync plan diffs two of these). */
export interface DesiredTable {
  chains: Map<string, DesiredChain>;
  sets: Map<string, DesiredSet>;
  /** map name → key (pod IP) → verdict ("jump ingress-x/a") */
  maps: Record<Direction, Map<string, string>>;
  /** per pod chain: the pod, direction and isolating policies (for the drop metrics) */
  owners: Map<string, { pod: string; direction: Direction; policies: string[] }>;
}

const nameMax = 200;
const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);
/** A readable object name, or its hash when too long for nft. */
function objName(prefix: string, text: string): string {
  const n = `${prefix}${text}`;
  return n.length <= nameMax ? n : `${prefix}${hash(text)}`;
}

export const podChainName = (dir: Direction, pod: string) => objName(dir === 'Ingress' ? 'ingress-' : 'egress-', pod);
export const peerSetName = (p: CompiledPolicy, dir: Direction, i: number) => objName(dir === 'Ingress' ? 'from-' : 'to-', `${p.key}-${i}`);

const l4 = (p: string) => p.toLowerCase();

/** Port matchers of a rule for a destination whose named ports are known (`to` a pod) or not. */
function portMatchers(ports: CompiledPort[] | undefined, to: Pod | undefined): string[] | undefined {
  if (ports === undefined) return undefined;
  const out: string[] = [];
  for (const p of ports) {
    const proto = `meta l4proto ${l4(p.protocol)}`;
    if (p.port === undefined) out.push(proto);
    else if (typeof p.port === 'number' || /^\d+$/.test(p.port)) out.push(`${proto} th dport ${p.port}${p.endPort !== undefined ? `-${p.endPort}` : ''}`);
    else if (to) for (const n of namedPortNumbers(to, p.port, p.protocol)) out.push(`${proto} th dport ${n}`);
  }
  return out;
}

function ipBlockMatch(field: string, peer: CompiledPeer): string | undefined {
  const b = peer.ipBlock!;
  if (b.cidr.family !== 4) return undefined; // an ip-family table sees IPv4 only
  const except = b.except.filter((c) => c.family === 4).map(cidrString);
  return `${field} ${cidrString(b.cidr)}${except.length ? ` ${field} != { ${except.join(', ')} }` : ''}`;
}

/**
 * What one desiredTable call computes once and reuses: each pod's usable IPv4 address, pods and
 * policies by namespace, each rule's pod-independent lines, and the elements of a selector set by
 * its selectors (policies with the same peers in one namespace share the list). Only a rule
 * whose ingress ports are named depends on the pod whose chain it is written in.
 */
interface Ctx {
  m: PolicyModel;
  ip: Map<Pod, string | undefined>;
  podsByNs: Map<string, Pod[]>;
  policiesByNs: Map<string, CompiledPolicy[]>;
  /** per rule and direction: its named ingress ports, and its lines by the numbers those have on the pod ('' when none is named) */
  lines: Map<CompiledRule, { named: CompiledPort[]; byVariant: Map<string, string[]> }>;
  /** allowLines' answers by selecting()'s answer, then by the pod's container ports (ingress) */
  bodies: Map<CompiledPolicy[], Map<string, string[]>>;
  elements: Map<string, string[]>;
  /** selecting()'s answers by namespace, direction and labels (pods of one app share one) */
  selected: Map<string, CompiledPolicy[]>;
}

function context(m: PolicyModel): Ctx {
  const c: Ctx = { m, ip: new Map(), podsByNs: new Map(), policiesByNs: new Map(), lines: new Map(), bodies: new Map(), elements: new Map(), selected: new Map() };
  for (const q of m.allPods()) {
    const ip = endpointIP({ pod: q });
    c.ip.set(q, ip !== undefined && !ip.includes(':') ? ip : undefined);
    const ns = q.metadata.namespace ?? 'default';
    let l = c.podsByNs.get(ns);
    if (!l) c.podsByNs.set(ns, (l = []));
    l.push(q);
  }
  for (const p of m.policies) {
    let l = c.policiesByNs.get(p.namespace);
    if (!l) c.policiesByNs.set(p.namespace, (l = []));
    l.push(p);
  }
  return c;
}

/** m.selecting(pod, dir) over the pod's namespace's policies only (same order). */
function selecting(c: Ctx, pod: Pod, dir: Direction): CompiledPolicy[] {
  const ns = pod.metadata.namespace ?? 'default';
  const ps = c.policiesByNs.get(ns);
  if (!ps) return [];
  // equal JSON means equal labels (the converse need not hold: a miss only costs the filter)
  const key = `${ns}\0${dir}\0${JSON.stringify(pod.metadata.labels ?? {})}`;
  let sel = c.selected.get(key);
  if (!sel) c.selected.set(key, (sel = ps.filter((p) => p.types.includes(dir) && p.selects(pod.metadata.labels))));
  return sel;
}

/** The sorted, distinct IPv4 addresses of the pods any of `selectors` (none an ipBlock) matches: matchesPeer, namespace by namespace. */
function selectorElements(c: Ctx, policyNs: string, selectors: CompiledPeer[]): string[] {
  const key = `${policyNs}\0${JSON.stringify(selectors)}`;
  const hit = c.elements.get(key);
  if (hit) return hit;
  const ips = new Set<string>();
  for (const [ns, pods] of c.podsByNs) {
    const live = selectors.filter((x) => (x.namespaces ? matches(x.namespaces, c.m.namespaceLabels(ns)) : ns === policyNs));
    if (!live.length) continue;
    for (const q of pods) {
      const ip = c.ip.get(q);
      if (ip !== undefined && live.some((x) => !x.pods || matches(x.pods, q.metadata.labels))) ips.add(ip);
    }
  }
  const out = [...ips].sort();
  c.elements.set(key, out);
  return out;
}

/** A port given by name ("http"), not by number. */
function isName(x: CompiledPort): boolean {
  return typeof x.port === 'string' && !/^\d+$/.test(x.port);
}

/**
 * The lines of one rule in `pod`'s chain for `dir`. Ingress ports resolve names on the pod itself;
 * egress names resolve per destination pod, so such a port becomes address . protocol . port
 * elements of every destination pod the rule's peers match.
 */
function ruleLines(c: Ctx, p: CompiledPolicy, dir: Direction, i: number, r: CompiledRule, pod: Pod, sets: Map<string, DesiredSet>): string[] {
  // the lines are the same for every pod but for the numbers ingress ports' names have on it
  let entry = c.lines.get(r);
  if (!entry) c.lines.set(r, (entry = { named: dir === 'Ingress' && r.ports ? r.ports.filter(isName) : [], byVariant: new Map() }));
  const { byVariant } = entry;
  let variant = '';
  for (const x of entry.named) variant += `${namedPortNumbers(pod, x.port as string, x.protocol).join(',')};`;
  const cached = byVariant.get(variant);
  if (cached) return cached;
  const m = c.m;
  const field = dir === 'Ingress' ? 'ip saddr' : 'ip daddr';
  const peers: (string | undefined)[] = [];
  if (r.peers === undefined) peers.push('');
  else {
    const selectors = r.peers.filter((x) => !x.ipBlock);
    if (selectors.length) {
      const name = peerSetName(p, dir, i);
      if (!sets.has(name)) sets.set(name, { name, elements: selectorElements(c, p.namespace, selectors), comment: `${p.key} ${dir.toLowerCase()}[${i}]` });
      peers.push(`${field} @${name}`);
    }
    for (const x of r.peers.filter((y) => y.ipBlock)) peers.push(ipBlockMatch(field, x));
  }
  const usable = peers.filter((x): x is string => x !== undefined);
  const named = dir === 'Egress' ? (r.ports ?? []).filter(isName) : [];
  const plain = dir === 'Egress' && r.ports ? r.ports.filter((x) => !named.includes(x)) : r.ports;
  const out: string[] = [];
  const ports = portMatchers(plain, dir === 'Ingress' ? pod : undefined);
  if (ports === undefined) out.push(...usable);
  else for (const peer of usable) for (const port of ports) out.push(`${peer} ${port}`.trim());
  if (named.length) {
    // every destination pod the peers match (any pod when the rule has none), with its numbers
    const elements: string[] = [];
    for (const q of m.allPods()) {
      const ip = c.ip.get(q);
      if (ip === undefined) continue;
      if (r.peers !== undefined && !r.peers.some((x) => matchesPeer(x, p.namespace, { pod: q }, (ns) => m.namespaceLabels(ns)))) continue;
      for (const x of named) for (const n of namedPortNumbers(q, x.port as string, x.protocol)) elements.push(`${ip} . ${l4(x.protocol)} . ${n}`);
    }
    const uniq = [...new Set(elements)].sort();
    if (uniq.length) out.push(`ip daddr . meta l4proto . th dport { ${uniq.join(', ')} }`);
  }
  const lines = out.map((l) => `${l} return`.trim());
  byVariant.set(variant, lines);
  return lines;
}

/**
 * The allow lines of the chain of `pod` for `dir`, which `sel` (selecting()'s shared answer)
 * isolates: each line once, since policies only add allowances and a second equal line (an
 * ipBlock, or "any port 53", in several policies) would never decide anything. The same for every
 * pod the same policies select, but for the numbers ingress ports' names have on it: made once
 * per such group.
 */
function allowLines(c: Ctx, sel: CompiledPolicy[], dir: Direction, pod: Pod, sets: Map<string, DesiredSet>): string[] {
  let bodies = c.bodies.get(sel);
  if (!bodies) c.bodies.set(sel, (bodies = new Map()));
  const ports = dir === 'Ingress' ? JSON.stringify((pod.spec?.containers ?? []).map((x) => x.ports ?? [])) : '';
  const hit = bodies.get(ports);
  if (hit) return hit;
  const lines = new Set<string>();
  for (const p of sel) {
    const rs = p.rules[dir];
    for (let i = 0; i < rs.length; i++) for (const l of ruleLines(c, p, dir, i, rs[i]!, pod, sets)) lines.add(l);
  }
  const out = [...lines];
  bodies.set(ports, out);
  return out;
}

/** The table for the pods on `nodeName`: what the agent applies and the unit tests read. */
export function desiredTable(m: PolicyModel, nodeName: string): DesiredTable {
  const t: DesiredTable = { chains: new Map(), sets: new Map(), maps: { Ingress: new Map(), Egress: new Map() }, owners: new Map() };
  const c = context(m);
  t.chains.set(baseChain, {
    name: baseChain,
    rules: [
      'ct state established,related accept',
      // (the node's own connections, kubelet probes among them, leave by the output hook, over
      // cni0 too: no forward hook polices them, so they are always allowed)
      `ip saddr vmap @${mapName.Egress}`,
      `ip daddr vmap @${mapName.Ingress}`,
    ],
  });
  const local = m.allPods().filter((p) => p.spec?.nodeName === nodeName && c.ip.get(p) !== undefined);
  for (const pod of local) {
    const ip = pod.status!.podIP!;
    const key = podKey(pod);
    for (const dir of ['Egress', 'Ingress'] as const) {
      const sel = selecting(c, pod, dir);
      if (!sel.length) continue;
      const name = podChainName(dir, key);
      // a pod reaching itself (also through its own Service) is never policed
      const self = dir === 'Ingress' ? `ip saddr ${ip} return` : `ip daddr ${ip} return`;
      const allow = allowLines(c, sel, dir, pod, t.sets);
      const rules = [self, ...(allow.includes(self) ? allow.filter((l) => l !== self) : allow), 'counter drop'];
      t.chains.set(name, { name, rules, comment: `${key} ${dir.toLowerCase()}` });
      t.maps[dir].set(ip, `jump ${name}`);
      t.owners.set(name, { pod: key, direction: dir, policies: sel.map((p) => p.key) });
    }
  }
  return t;
}
