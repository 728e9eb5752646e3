// What the kernel says while one connection crosses it, read from text: `nft monitor trace`
// (netfilter's trace events, for packets a `meta nftrace set 1` rule marked), `conntrack -E`
// (new connections, with the reply tuple NAT gave them), and the small nftables table that marks
// the probe's packets. Pure: the observer (observe.ts) runs the commands and hands the text here.
import type { Packet, Protocol } from './types.ts';

/** One line of `nft monitor trace`. */
export interface TraceEvent {
  /** the trace id: the same for one packet's whole walk through this namespace's hooks */
  id: string;
  family: string;
  table: string;
  chain: string;
  type: 'packet' | 'rule' | 'verdict' | 'policy';
  /** rule: the rule as nft lists it, without its handle and verdict */
  text: string;
  handle?: number;
  /** "continue", "jump KUBE-SERVICES", "accept", "drop" */
  verdict?: string;
  /** packet: the headers as nft printed them */
  pkt?: Packet;
  /** packet: the TCP flags ("syn", "ack", "0x18") */
  flags?: string;
  iif?: string;
  oif?: string;
}

const words = (s: string, key: string) => new RegExp(`(?:^|\\s)${key} (\\S+)`).exec(s)?.[1];

/** The 5-tuple of a trace's `packet:` line ("ip saddr … ip daddr … tcp sport … tcp dport …"). */
export function packetOf(line: string): Packet | undefined {
  const src = words(line, 'ip saddr');
  const dst = words(line, 'ip daddr');
  const l4 = /(?:^|\s)(tcp|udp|sctp) sport (\d+) \1 dport (\d+)/.exec(line);
  if (!src || !dst || !l4) return undefined;
  return { protocol: l4[1] as Protocol, src, srcPort: Number(l4[2]), dst, dstPort: Number(l4[3]) };
}

const unquote = (s: string | undefined) => (s === undefined ? undefined : s.replace(/^"|"$/g, ''));

/** The lines of `nft monitor trace` (nft 1.0's text form; `-a` adds each rule's handle). */
export function parseTraceEvents(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const line of text.split('\n')) {
    const m = /^trace id (\S+) (\S+) (\S+) (\S+) (packet|rule|verdict|policy):? ?(.*)$/.exec(line.trimEnd());
    if (!m) continue;
    const [, id, family, table, chain, type, rest] = m as unknown as [string, string, string, string, string, TraceEvent['type'], string];
    const e: TraceEvent = { id, family, table, chain, type, text: rest.trim() };
    if (type === 'packet') {
      const pkt = packetOf(rest);
      if (pkt) e.pkt = pkt;
      const iif = unquote(words(rest, 'iif'));
      const oif = unquote(words(rest, 'oif'));
      if (iif) e.iif = iif;
      if (oif) e.oif = oif;
      const flags = /tcp flags == (\S+)/.exec(rest)?.[1];
      if (flags) e.flags = flags;
    } else if (type === 'rule') {
      const r = /^(.*?)\s*(?:# handle (\d+)\s*)?\(verdict ([^)]*)\)\s*$/.exec(rest);
      if (r) {
        e.text = r[1]!.trim();
        if (r[2]) e.handle = Number(r[2]);
        e.verdict = r[3]!.trim();
      }
    } else {
      e.verdict = rest.trim().split(/\s+/).slice(0, 2).filter((w) => !/^meta$/.test(w)).join(' ').replace(/ mark$/, '');
    }
    out.push(e);
  }
  return out;
}

/** One packet's walk through a namespace: from the marking table's `packet:` line to the next packet's. */
export interface Traversal {
  id: string;
  /** the marking chain that saw it: prerouting (it came in) or output (this namespace sent it) */
  chain: string;
  /** the packet as it entered (the first `packet:` line) */
  pkt: Packet;
  /** a connection's first packet: a TCP SYN, or any UDP datagram */
  first: boolean;
  events: TraceEvent[];
}

/** The events split per packet: each walk starts where the marking table (`family table`) sees a packet come in or go out. */
export function traversals(events: TraceEvent[], marker: { family: string; table: string }): Traversal[] {
  const out: Traversal[] = [];
  const open = new Map<string, Traversal>();
  for (const e of events) {
    // a packet enters at prerouting or output; the marking table's input chain sees one already in its walk
    if (e.type === 'packet' && e.family === marker.family && e.table === marker.table && e.chain !== 'input' && e.pkt) {
      const t: Traversal = { id: e.id, chain: e.chain, pkt: e.pkt, first: e.pkt.protocol !== 'tcp' || e.flags === 'syn', events: [] };
      out.push(t);
      open.set(e.id, t);
      continue;
    }
    open.get(e.id)?.events.push(e);
  }
  return out;
}

/** A new connection as `conntrack -E` reports it. */
export interface ConntrackEvent {
  original: Packet;
  reply: Packet;
}

/** `[NEW] tcp 6 120 SYN_SENT src=… dst=… sport=… dport=… [UNREPLIED] src=… dst=… sport=… dport=…` lines. */
export function parseConntrackEvents(text: string): ConntrackEvent[] {
  const out: ConntrackEvent[] = [];
  const re = /\[NEW\]\s+(tcp|udp|sctp)\s+\d+\s+\d+\s+(?:[A-Z_]+\s+)?src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)\s.*?src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const protocol = m[1] as Protocol;
    out.push({
      original: { protocol, src: m[2]!, dst: m[3]!, srcPort: Number(m[4]), dstPort: Number(m[5]) },
      reply: { protocol, src: m[6]!, dst: m[7]!, srcPort: Number(m[8]), dstPort: Number(m[9]) },
    });
  }
  return out;
}

/** The tuple a connection's packets leave with after NAT: its reply tuple, reversed. */
export const translated = (c: ConntrackEvent): Packet => ({ protocol: c.reply.protocol, src: c.reply.dst, srcPort: c.reply.dstPort, dst: c.reply.src, dstPort: c.reply.srcPort });

/** What the marking rule of one namespace matches: the fields known there (a set where several are possible). */
export interface TraceMatch {
  protocol: Protocol;
  src?: string[];
  srcPort?: number;
  dst?: string[];
  dstPort?: number[];
}

const setOf = (xs: readonly (string | number)[]) => (xs.length === 1 ? String(xs[0]) : `{ ${xs.join(', ')} }`);

/** A match in nft's words: "ip saddr 1.2.3.4 ip daddr { … } tcp sport 40000 tcp dport 30080". */
export function matchText(m: TraceMatch): string {
  return [
    ...(m.src?.length ? [`ip saddr ${setOf(m.src)}`] : []),
    ...(m.dst?.length ? [`ip daddr ${setOf(m.dst)}`] : []),
    `meta l4proto ${m.protocol}`,
    ...(m.srcPort !== undefined ? [`${m.protocol} sport ${m.srcPort}`] : []),
    ...(m.dstPort?.length ? [`${m.protocol} dport ${setOf(m.dstPort)}`] : []),
  ].join(' ');
}

/** Where the marking table has chains: packets coming in, coming in for this namespace itself (an input chain also shows a marked packet was delivered locally), sent from here. */
export type TraceHook = 'prerouting' | 'input' | 'output';

/** Packets marked per second at most: a probe's few packets pass, a flood of look-alikes does not. */
export const traceRate = '50/second burst 50 packets';

/**
 * The marking table for one namespace: a base chain at each hook ahead of every other table (raw is
 * -300, conntrack -200), setting nftrace on the probe's packets so every rule they meet after it
 * reports. The chain's policy is accept and its rule has no verdict: it changes nothing else.
 */
export function traceTableText(table: string, hooks: readonly TraceHook[], m: TraceMatch): string {
  const chain = (hook: string) => [`  chain ${hook} {`, `    type filter hook ${hook} priority -350; policy accept;`, `    ${matchText(m)} limit rate ${traceRate} meta nftrace set 1`, '  }'];
  return [`table ip ${table} {`, ...hooks.flatMap(chain), '}', ''].join('\n');
}

/**
 * Whether process `pid` holds a netfilter netlink socket (protocol 12) subscribed to one of
 * `groups` (a bit mask of the first 32 groups: NFTRACE is group 9, CONNTRACK_NEW group 1),
 * from /proc/PID/net/netlink (its namespace's sockets) and /proc/PID/fd (its own): the monitor is
 * listening from then on.
 */
export function subscribed(netlinkTable: string, socketInodes: ReadonlySet<string>, groups: number): boolean {
  for (const line of netlinkTable.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    if (f.length < 10 || f[1] !== '12') continue;
    if ((parseInt(f[3]!, 16) & groups) !== 0 && socketInodes.has(f[9]!)) return true;
  }
  return false;
}

export const nftraceGroup = 1 << 8;
export const conntrackNewGroup = 1 << 0;
