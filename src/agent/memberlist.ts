// How the node agents' LoadBalancer speakers learn each other's liveness within seconds (MetalLB's
// speakers use memberlist for this): each agent sends a small UDP heartbeat every
// heartbeatIntervalMs to every other Node's InternalIP on the underlay, saying whether it is ready
// to answer and which LoadBalancer IPs it holds; a member not heard for deadAfterMs is dead.
//
// Why UDP on the underlay and not Leases renewed every second: the heartbeats travel the very link
// the LoadBalancer IPs are answered on, so a node whose link is down is dead to its peers exactly
// when it can no longer serve — a Lease would still be renewed by a node that reaches the API
// server some other way, and could not be renewed at all when the node that goes down is the one
// running the API server (the lab's first node), so every node would look dead at once. It also
// costs the API server nothing: no write per node per second.
//
// Pure: the clock is passed in; the socket and timers are network.ts's.
import { parseIP } from '../util/ip.ts';

/** memberlist's port: where each speaker listens on its node's InternalIP */
export const memberlistPort = 7946;
export const heartbeatIntervalMs = 500;
/**
 * A member not heard for this long is dead (5 missed heartbeats). It is longer than
 * addressLifetimeSeconds (and the kernel's half-second slack in expiring addresses), so the
 * address of a holder that died without a word has expired by the time another node claims it.
 */
export const deadAfterMs = 2500;
/**
 * The valid and preferred lifetime of a held LoadBalancer IP; the holder renews it on every
 * heartbeat. When the agent dies (SIGKILL: nothing can clean up) the kernel drops the address
 * itself, so the dead node stops answering ARP for it.
 */
export const addressLifetimeSeconds = 2;

export interface Heartbeat {
  node: string;
  /** the sender's underlay link is up and it has listened for deadAfterMs: it may hold addresses */
  ready: boolean;
  /** the LoadBalancer IPs it holds now */
  holds: string[];
}

const magic = 'podpath-speaker/v1';
const maxHolds = 4096;

export function encodeHeartbeat(h: Heartbeat): Buffer {
  return Buffer.from(JSON.stringify({ kind: magic, node: h.node, ready: h.ready, holds: h.holds }));
}

export class HeartbeatError extends Error {
  readonly code = 'EBADHEARTBEAT';
}

/** A heartbeat from its datagram; HeartbeatError naming what is wrong. */
export function decodeHeartbeat(buf: Buffer): Heartbeat {
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch {
    throw new HeartbeatError('heartbeat is not JSON');
  }
  const o = v as Record<string, unknown>;
  if (!o || typeof o !== 'object' || o.kind !== magic) throw new HeartbeatError(`heartbeat kind is not ${magic}`);
  if (typeof o.node !== 'string' || !o.node || o.node.length > 253) throw new HeartbeatError('heartbeat node is not a node name');
  if (typeof o.ready !== 'boolean') throw new HeartbeatError('heartbeat ready is not a boolean');
  if (!Array.isArray(o.holds) || o.holds.length > maxHolds || !o.holds.every((ip) => typeof ip === 'string' && parseIP(ip)?.family === 4)) {
    throw new HeartbeatError('heartbeat holds is not a list of IPv4 addresses');
  }
  return { node: o.node, ready: o.ready, holds: o.holds as string[] };
}

interface Member extends Heartbeat {
  heardAt: number;
}

/** What this speaker has heard of the others. */
export class Members {
  private readonly members = new Map<string, Member>();

  constructor(private readonly deadAfter = deadAfterMs) {}

  /** Records a heartbeat; true when it changes what the choice depends on (a member back, readiness, holds). */
  heard(h: Heartbeat, now: number): boolean {
    const was = this.members.get(h.node);
    this.members.set(h.node, { ...h, heardAt: now });
    return !was || now - was.heardAt > this.deadAfter || was.ready !== h.ready || was.holds.join() !== h.holds.join();
  }

  private live(now: number): Member[] {
    return [...this.members.values()].filter((m) => now - m.heardAt <= this.deadAfter);
  }

  /** Members heard within deadAfter that say they are ready. */
  ready(now: number): Set<string> {
    return new Set(this.live(now).filter((m) => m.ready).map((m) => m.node));
  }

  /** Who of the live members holds each address (a dead member's word no longer counts). */
  holders(now: number): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const m of this.live(now)) for (const ip of m.holds) out.set(ip, [...(out.get(ip) ?? []), m.node]);
    return out;
  }
}
