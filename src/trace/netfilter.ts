// A node's packet rules as the kernel runs them, for one packet: the netfilter hooks in order
// (prerouting, then input or forward after the routing decision, output for the node's own
// packets, postrouting), at each hook every base chain of every table by priority — iptables'
// built-in chains at their fixed priorities, nftables base chains at theirs — and what each
// matching rule did. The rules come as typed objects (src/iptables tables, a src/knftables
// Ruleset), read from the kernel or rendered offline; the walkers (iptables.ts, nftables.ts)
// never read the kernel themselves.
import { cidrContains, parseCIDR } from '../util/ip.ts';
import type { Packet } from './types.ts';

export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

/** The packet and the state the kernel keeps beside it while it crosses one node. */
export interface PacketState {
  pkt: Packet;
  /** the fwmark */
  mark: number;
  /** the connection's first packet (conntrack NEW); later packets skip the nat chains */
  ctNew: boolean;
  /** the connection has been destination-NATed (conntrack's DNAT status) */
  dnat: boolean;
  iif?: string;
  oif?: string;
  /** the address of the outgoing interface, which MASQUERADE takes */
  oifAddress?: string;
}

export interface NodeView {
  /** addresses of the node's own interfaces (addrtype LOCAL, fib type local) */
  localIPs: Set<string>;
}

/** One rule that matched and acted (a jump counts: the path goes through it). */
export interface RuleHit {
  /** "nat", "filter" (iptables) or "ip kube-proxy" (nftables) */
  table: string;
  chain: string;
  text: string;
  /** jump, goto, return, accept, drop, reject, dnat, snat, masquerade, mark, vmap, numgen, statistic, none */
  action: string;
  /** what the action did, in words: "jump KUBE-SVC-…", "DNAT to 10.244.0.5:8080" */
  detail: string;
  comment?: string;
  /** the packet after this rule */
  pkt: Packet;
  /** the chain this rule's verdict leads to, if any */
  target?: string;
}

/** An endpoint the kernel may pick, with how likely. */
export interface Branch {
  ip: string;
  port: number;
  probability: number;
  /** the chain taken for it (KUBE-SEP-…, endpoint-…) */
  chain: string;
}

/** Picks one of the branches (its index); also told where the choice is made. */
export type Chooser = (branches: Branch[], where: { table: string; chain: string }) => number;

export type HookVerdict = 'accept' | 'drop' | 'reject';

export interface HookResult {
  verdict: HookVerdict;
  state: PacketState;
  hits: RuleHit[];
  /** the choices made on the way, each with its branches and the index taken */
  choices: { where: { table: string; chain: string }; branches: Branch[]; chosen: number }[];
}

/** A walker over one kind of rules: its base chains per hook, and the walk of one of them. */
export interface RuleWalker {
  /** base chains at this hook, each with its priority and an opaque id for walk() */
  baseChains(hook: Hook): { priority: number; id: string; label: string }[];
  walk(id: string, state: PacketState, view: NodeView, choose: Chooser): HookResult;
}

/** The node's rules at one hook, every base chain by priority; stops at the first drop or reject. */
export function walkHook(walkers: RuleWalker[], hook: Hook, state: PacketState, view: NodeView, choose: Chooser): HookResult {
  const chains = walkers.flatMap((w) => w.baseChains(hook).map((c) => ({ ...c, w })));
  // Stable: iptables tables before nftables ones at the same priority, each in its own order.
  chains.sort((a, b) => a.priority - b.priority);
  const out: HookResult = { verdict: 'accept', state, hits: [], choices: [] };
  for (const c of chains) {
    const r = c.w.walk(c.id, out.state, view, choose);
    out.hits.push(...r.hits);
    out.choices.push(...r.choices);
    out.state = r.state;
    if (r.verdict !== 'accept') {
      out.verdict = r.verdict;
      break;
    }
  }
  return out;
}

// ---- matching helpers shared by the walkers ----

/** Whether ip is the address or inside the CIDR given as text. */
export function addressMatches(spec: string, ip: string): boolean {
  if (!spec.includes('/')) return spec === ip;
  const c = parseCIDR(spec);
  return c !== undefined && cidrContains(c, ip);
}

/** "80", "30000:32767" (iptables) or "30000-32767" against a port. */
export function portMatches(spec: string, port: number): boolean {
  return spec.split(',').some((part) => {
    const m = /^(\d+)[:-](\d+)$/.exec(part);
    if (m) return port >= Number(m[1]) && port <= Number(m[2]);
    return Number(part) === port;
  });
}

/** iptables' interface match: "eth0", "veth+" (prefix). */
export function interfaceMatches(spec: string, name: string | undefined): boolean {
  if (name === undefined) return false;
  return spec.endsWith('+') ? name.startsWith(spec.slice(0, -1)) : spec === name;
}

export const hex = (n: number) => `0x${n.toString(16)}`;
