// The LoadBalancer IPs this node answers for on the underlay, as MetalLB's layer-2 speaker holds
// them: which node is chosen is announce.ts's plan over the speakers alive now (memberlist.ts's
// heartbeats); this shell listens and sends the heartbeats, watches the underlay link, and adds,
// renews and removes the addresses (underlay.ts: rtnetlink, or `ip` through the executor), in the
// namespace the agent runs in (the node's), announcing a new one with gratuitous ARP so clients
// move to this node at once. (The routes to other nodes' pod CIDRs are the network daemon's:
// src/cni.)
import dgram from 'node:dgram';
import type { EndpointSlice, Node, Service } from '../api/types.ts';
import type { Executor } from '../exec/exec.ts';
import { announcements, speakerPlan } from './announce.ts';
import { addressLifetimeSeconds, deadAfterMs, decodeHeartbeat, encodeHeartbeat, heartbeatIntervalMs, Members, memberlistPort } from './memberlist.ts';
import { ipUnderlay, type Underlay } from './underlay.ts';

export interface AnnouncerOptions {
  nodeName: string;
  /** the node's address on the underlay: where the speaker listens */
  nodeIP: string;
  /** the interface LoadBalancer IPs are held on (the node's underlay link) */
  underlayDevice: string;
  log: (s: string) => void;
}

/** The speaker's UDP socket (one fake in the unit tests). */
export interface HeartbeatSocket {
  /** settles once the datagram is handed to the kernel (or could not be) */
  send(buf: Buffer, ip: string, port: number): Promise<void>;
  close(): void;
}

export type OpenHeartbeatSocket = (address: string, port: number, onMessage: (buf: Buffer, from: string) => void) => Promise<HeartbeatSocket>;

/** A real UDP socket bound to address:port; send errors (a link that is down) are dropped, as lost heartbeats are. */
export const udpHeartbeatSocket: OpenHeartbeatSocket = (address, port, onMessage) =>
  new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.on('message', (buf, rinfo) => onMessage(buf, rinfo.address));
    s.bind({ address, port }, () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve({ send: (buf, ip, p) => new Promise((done) => s.send(buf, p, ip, () => done())), close: () => s.close() });
    });
  });

export interface AnnouncerDeps {
  openSocket: OpenHeartbeatSocket;
  now: () => number;
  /** the addresses and the link (default: `ip` through the executor) */
  underlay: Underlay;
}

const internalIP = (n: Node) => n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;

export class LoadBalancerAnnouncer {
  /** LoadBalancer IPs this node holds on its underlay interface */
  private readonly held = new Set<string>();
  private readonly members = new Members();
  private objects: { services: Service[]; slices: EndpointSlice[]; nodes: Node[] } | undefined;
  /** when the underlay link was last seen coming up; undefined while it is down or not yet checked */
  private linkUpSince: number | undefined;
  private socket: HeartbeatSocket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private reconciling: Promise<void> | undefined;
  /** the address changes (renewals, claims, releases) one after another: a renewal running beside a release would add the address back */
  private lock: Promise<unknown> = Promise.resolve();
  private again = false;
  private stopped = false;
  private lastLive = '';
  private readonly complained = new Set<string>();
  private readonly deps: AnnouncerDeps;

  constructor(
    private readonly o: AnnouncerOptions,
    private readonly ex: Executor,
    deps: Partial<AnnouncerDeps> = {},
  ) {
    this.deps = { openSocket: deps.openSocket ?? udpHeartbeatSocket, now: deps.now ?? Date.now, underlay: deps.underlay ?? ipUnderlay(ex, o.underlayDevice, addressLifetimeSeconds) };
  }

  /**
   * Listens for the other speakers and starts the heartbeat. Without its socket the speaker holds
   * nothing: deaf to its peers, it would take every address for itself.
   */
  async start(withTimer = true): Promise<void> {
    try {
      this.socket = await this.deps.openSocket(this.o.nodeIP, memberlistPort, (buf, from) => this.received(buf, from));
    } catch (e) {
      this.o.log(`LoadBalancer speaker off, this node answers for no LoadBalancer IP: cannot listen on ${this.o.nodeIP}:${memberlistPort}/udp: ${(e as Error).message}`);
      return;
    }
    if (withTimer) this.timer = setInterval(() => void this.tick(), heartbeatIntervalMs);
    await this.tick();
  }

  /** Lets go of every address and tells the peers, so they take over now rather than after deadAfter. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.reconciling;
    await this.exclusive(async () => {
      for (const ip of [...this.held]) await this.release(ip);
    });
    await this.heartbeat();
    this.socket?.close();
    this.socket = undefined;
  }

  /** The objects the choice is made from changed. */
  announce(services: Service[], slices: EndpointSlice[], nodes: Node[]): Promise<void> {
    this.objects = { services, slices, nodes };
    return this.reconcile();
  }

  /** Renews the held addresses and checks the underlay link (while the cluster has LoadBalancer IPs), re-chooses with the members alive now, and sends a heartbeat. */
  async tick(): Promise<void> {
    if (this.ticking || this.stopped || !this.socket) return;
    this.ticking = true;
    try {
      // With no LoadBalancer IP in the cluster there is nothing to renew, and the link's state
      // matters only once there is one: the check (an `ip` run every tick, on every node) waits
      // until then, the link counted as it was last seen.
      const idle = this.held.size === 0 && this.linkUpSince !== undefined && !this.objects?.services.some((svc) => svc.status?.loadBalancer?.ingress?.some((i) => i.ip));
      if (!idle) await this.checkLink();
      await this.reconcile();
      await this.heartbeat();
    } finally {
      this.ticking = false;
    }
  }

  /** Renews the held addresses and reads the underlay link's state. */
  private async checkLink(): Promise<void> {
    const dev = this.o.underlayDevice;
    const up = await this.exclusive(() => this.deps.underlay.renew([...this.held]));
    if (up && this.linkUpSince === undefined) this.linkUpSince = this.deps.now();
    if (!up && this.linkUpSince !== undefined) {
      this.linkUpSince = undefined;
      this.o.log(`underlay link ${dev} is down: answering for no LoadBalancer IP until it is up again`);
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }

  /**
   * Ready to hold addresses: the link is up and has been for deadAfter, so every live peer has
   * been heard (a node back from the dead must not take addresses before it knows who holds them).
   */
  private ready(now: number): boolean {
    return !this.stopped && this.linkUpSince !== undefined && now - this.linkUpSince >= deadAfterMs;
  }

  private received(buf: Buffer, from: string): void {
    let h;
    try {
      h = decodeHeartbeat(buf);
    } catch (e) {
      this.complainOnce(`from ${from}`, `ignoring a heartbeat from ${from}: ${(e as Error).message}`);
      return;
    }
    const node = this.objects?.nodes.find((n) => n.metadata.name === h.node);
    if (h.node === this.o.nodeName || !node || internalIP(node) !== from) {
      this.complainOnce(`node ${h.node} ${from}`, `ignoring a heartbeat of ${JSON.stringify(h.node)} from ${from}: not the InternalIP of a Node of that name`);
      return;
    }
    if (this.members.heard(h, this.deps.now())) void this.reconcile();
  }

  private complainOnce(key: string, message: string): void {
    if (this.complained.has(key)) return;
    this.complained.add(key);
    this.o.log(message);
  }

  private async heartbeat(): Promise<void> {
    const socket = this.socket;
    if (!socket || !this.objects) return;
    const buf = encodeHeartbeat({ node: this.o.nodeName, ready: this.ready(this.deps.now()), holds: [...this.held].sort() });
    const peers = this.objects.nodes.filter((n) => n.metadata.name !== this.o.nodeName).map(internalIP);
    await Promise.all(peers.map((ip) => (ip ? socket.send(buf, ip, memberlistPort) : undefined)));
  }

  /** One reconcile at a time; a change meanwhile runs it once more. */
  private reconcile(): Promise<void> {
    if (this.reconciling) {
      this.again = true;
      return this.reconciling;
    }
    this.reconciling = (async () => {
      try {
        do {
          this.again = false;
          await this.exclusive(() => this.reconcileOnce());
        } while (this.again && !this.stopped);
      } finally {
        this.reconciling = undefined;
      }
    })();
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    if (!this.objects || !this.socket || this.stopped) return;
    const now = this.deps.now();
    const live = this.members.ready(now);
    if (this.ready(now)) live.add(this.o.nodeName);
    const liveKey = [...live].sort().join(', ') || 'none';
    if (liveKey !== this.lastLive) {
      this.o.log(`LoadBalancer speakers ready: ${liveKey}`);
      this.lastLive = liveKey;
    }
    const chosen = announcements(this.objects.services, this.objects.slices, this.objects.nodes, live);
    const plan = speakerPlan(this.o.nodeName, chosen, this.held, this.members.holders(now));
    for (const ip of plan.release) await this.release(ip);
    for (const ip of plan.claim) await this.claim(ip);
    // The peers waiting for these addresses hear at once that they are free (or taken).
    if (plan.release.length || plan.claim.length) void this.heartbeat();
  }

  private async claim(ip: string): Promise<void> {
    const dev = this.o.underlayDevice;
    const error = await this.deps.underlay.claim(ip);
    if (error !== undefined) {
      this.o.log(`cannot hold LoadBalancer IP ${ip} on ${dev}: ${error}`);
      return;
    }
    this.held.add(ip);
    this.o.log(`answering for LoadBalancer IP ${ip}`);
    // Gratuitous ARP (unsolicited requests, sender = target = the address): the neighbours'
    // caches that still name the previous holder's MAC take this node's. Three, a second apart,
    // as one can be lost; not awaited.
    void this.ex.execAsync(['arping', '-U', '-c', '3', '-I', dev, ip], { allowFail: true, timeoutMs: 10_000 }).then((a) => {
      if (a.status !== 0 && a.status !== 1) this.complainOnce(`arping ${a.error ?? a.status}`, `gratuitous ARP for ${ip} failed (clients keep the previous holder's MAC until their ARP entry expires): ${(a.error ?? a.stderr).trim() || `exit ${a.status}`}${a.error?.includes('ENOENT') ? ': apt-get install -y iputils-arping' : ''}`);
    });
  }

  private async release(ip: string): Promise<void> {
    await this.deps.underlay.release(ip);
    this.held.delete(ip);
    this.o.log(`no longer answering for LoadBalancer IP ${ip}`);
  }
}
