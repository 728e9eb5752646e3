// The Linux IPVS schedulers, as pure choosers over a virtual service's destinations (net/netfilter
// ipvs/ip_vs_{rr,wrr,lc,wlc,sed,nq,sh,dh}.c): the same choices for the same state, so that
// userspace mode balances as IPVS mode would and `ipvsadm -Ln` reads the same.
import { parseIP } from '../util/ip.ts';

export const schedulerNames = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'dh', 'sed', 'nq'] as const;
export type SchedulerName = (typeof schedulerNames)[number];

export interface Dest {
  /** "ip:port" */
  key: string;
  ip: string;
  /** 0 takes the destination out of rotation (IPVS's quiesced server) */
  weight: number;
  /** connections in use */
  active: number;
  /** connections IPVS counts as inactive (here: UDP sessions) */
  inactive: number;
}

export interface Scheduler {
  readonly name: SchedulerName;
  /** The destination for a new connection from `client` to `vip`, or undefined when none can take it. */
  pick(dests: readonly Dest[], client: string, vip: string): Dest | undefined;
}

const usable = (d: Dest) => d.weight > 0;
/** ip_vs_dest_conn_overhead: active connections weigh 256 inactive ones. */
const overhead = (d: Dest) => d.active * 256 + d.inactive;

/** The address as IPVS hashes it: an IPv4 address as its 32-bit number (others folded to 32 bits). */
function ipv4Number(ip: string): number {
  const p = parseIP(ip);
  return p?.family === 4 ? Number(p.value) : hashString(ip);
}
function hashString(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) >>> 0;
  return h;
}

/** Round robin: the next usable destination after the last one chosen. */
class RoundRobin implements Scheduler {
  readonly name = 'rr';
  private last?: string;
  pick(dests: readonly Dest[]): Dest | undefined {
    const n = dests.length;
    const from = this.last === undefined ? -1 : dests.findIndex((d) => d.key === this.last);
    for (let i = 1; i <= n; i++) {
      const d = dests[(from + i + n) % n]!;
      if (usable(d)) {
        this.last = d.key;
        return d;
      }
    }
    return undefined;
  }
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Weighted round robin (ip_vs_wrr.c): passes over the list with a falling current weight cw,
 * from the largest weight down by the weights' gcd; a destination is taken when its weight ≥ cw.
 * Weights 3,2,1 give A A B A B C.
 */
class WeightedRoundRobin implements Scheduler {
  readonly name = 'wrr';
  private index = -1;
  private cw = 0;
  private signature = '';
  pick(dests: readonly Dest[]): Dest | undefined {
    const weights = dests.map((d) => d.weight);
    const mw = Math.max(0, ...weights);
    if (mw === 0) return undefined;
    const sig = dests.map((d) => `${d.key}=${d.weight}`).join(',');
    if (sig !== this.signature) {
      // The destinations changed: start over, as ip_vs_wrr_dest_changed resets the mark.
      this.signature = sig;
      this.index = -1;
      this.cw = mw;
    }
    const di = weights.filter((w) => w > 0).reduce(gcd);
    for (let guard = 0; guard < dests.length * (mw / di + 1) + 1; guard++) {
      this.index++;
      if (this.index >= dests.length) {
        this.index = 0;
        this.cw -= di;
        if (this.cw <= 0) this.cw = mw;
      }
      const d = dests[this.index]!;
      if (d.weight >= this.cw && usable(d)) return d;
    }
    return undefined;
  }
}

/** Least connections: the smallest overhead (first on ties). */
class LeastConnection implements Scheduler {
  readonly name = 'lc';
  pick(dests: readonly Dest[]): Dest | undefined {
    let best: Dest | undefined;
    for (const d of dests) if (usable(d) && (!best || overhead(d) < overhead(best))) best = d;
    return best;
  }
}

/** Overhead per weight, compared without division as IPVS does: loh·wd > doh·wl takes d. */
function leastByRatio(dests: readonly Dest[], cost: (d: Dest) => number): Dest | undefined {
  let best: Dest | undefined;
  for (const d of dests) {
    if (!usable(d)) continue;
    if (!best || cost(best) * d.weight > cost(d) * best.weight) best = d;
  }
  return best;
}

class WeightedLeastConnection implements Scheduler {
  readonly name = 'wlc';
  pick(dests: readonly Dest[]): Dest | undefined {
    return leastByRatio(dests, overhead);
  }
}

/** Shortest expected delay: (active + 1) / weight. */
class ShortestExpectedDelay implements Scheduler {
  readonly name = 'sed';
  pick(dests: readonly Dest[]): Dest | undefined {
    return leastByRatio(dests, (d) => d.active + 1);
  }
}

/** Never queue: an idle destination if there is one, else shortest expected delay. */
class NeverQueue implements Scheduler {
  readonly name = 'nq';
  pick(dests: readonly Dest[]): Dest | undefined {
    return dests.find((d) => usable(d) && d.active === 0) ?? leastByRatio(dests, (d) => d.active + 1);
  }
}

const tableBits = 8;
const tableSize = 1 << tableBits;

/**
 * A 256-bucket table filled as ip_vs_sh_reassign does: destinations in order, each taking
 * `weight` consecutive buckets (dh: one each), cycling until the table is full.
 */
function hashTable(dests: readonly Dest[], byWeight: boolean): (Dest | undefined)[] {
  const out: (Dest | undefined)[] = new Array(tableSize).fill(undefined);
  if (!dests.length) return out;
  let i = 0;
  let count = 0;
  for (let b = 0; b < tableSize; b++) {
    const d = dests[i]!;
    out[b] = d;
    if (!byWeight || ++count >= Math.max(1, d.weight)) {
      i = (i + 1) % dests.length;
      count = 0;
    }
  }
  return out;
}

/** hash_32(val, 8) of include/linux/hash.h: the golden-ratio multiply, top bits. */
export function hash32(val: number, bits = tableBits): number {
  return Math.imul(val >>> 0, 0x61c88647) >>> (32 - bits);
}

/** Source hashing (ip_vs_sh.c): the client address picks a bucket; the same client, the same destination. */
class SourceHashing implements Scheduler {
  readonly name = 'sh';
  private table: (Dest | undefined)[] = [];
  private signature = '';
  pick(dests: readonly Dest[], client: string): Dest | undefined {
    const sig = dests.map((d) => `${d.key}=${d.weight}`).join(',');
    if (sig !== this.signature) {
      this.signature = sig;
      this.table = hashTable(dests, true);
    }
    const d = this.table[hash32(ipv4Number(client))];
    // Without the sh-fallback flag an unusable bucket means no destination.
    return d && usable(d) ? dests.find((x) => x.key === d.key) : undefined;
  }
}

/** Destination hashing (ip_vs_dh.c): the virtual address picks the bucket — one destination per VIP. */
class DestinationHashing implements Scheduler {
  readonly name = 'dh';
  private table: (Dest | undefined)[] = [];
  private signature = '';
  pick(dests: readonly Dest[], _client: string, vip: string): Dest | undefined {
    const sig = dests.map((d) => d.key).join(',');
    if (sig !== this.signature) {
      this.signature = sig;
      this.table = hashTable(dests, false);
    }
    const d = this.table[Math.imul(ipv4Number(vip), 2654435761 | 0) >>> 0 & (tableSize - 1)];
    return d && usable(d) ? dests.find((x) => x.key === d.key) : undefined;
  }
}

export function newScheduler(name: SchedulerName): Scheduler {
  switch (name) {
    case 'rr':
      return new RoundRobin();
    case 'wrr':
      return new WeightedRoundRobin();
    case 'lc':
      return new LeastConnection();
    case 'wlc':
      return new WeightedLeastConnection();
    case 'sed':
      return new ShortestExpectedDelay();
    case 'nq':
      return new NeverQueue();
    case 'sh':
      return new SourceHashing();
    case 'dh':
      return new DestinationHashing();
  }
}

export function isSchedulerName(s: string): s is SchedulerName {
  return (schedulerNames as readonly string[]).includes(s);
}
