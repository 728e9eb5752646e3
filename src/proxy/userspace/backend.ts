// Userspace mode: the node answers for every ClusterIP, external and LoadBalancer IP (bound to
// kube-ipvs0, as IPVS mode binds them) and for NodePorts, accepts each TCP connection or UDP
// session itself and connects onward to an endpoint the virtual server's IPVS scheduler picks
// (ClientIP affinity as IPVS persistence). A failed connect moves on to the next endpoint; a
// virtual server without endpoints is not listened on, so connections are refused at once.
import dgram from 'node:dgram';
import net from 'node:net';
import { cidrContains, parseCIDR, type Cidr } from '../../util/ip.ts';
import { allServicePorts, type Backend, type EndpointConnections, type SyncRequest, type SyncResult } from '../backend.ts';
import type { DummyShell } from '../dummydevice.ts';
import { newScheduler, type Dest, type Scheduler, type SchedulerName } from '../schedulers.ts';
import { dummyAddresses, dummyDevice, ipvsadmConnections, ipvsadmList, ipvsadmStats, virtualServers, vsKey, type ConnectionEntry, type RealServer, type VirtualServer } from '../virtualserver.ts';
import { ignore, Pipe, readAcceptedInto, Relay, upstreamSocket, userBufferFields } from './relay.ts';
import type { TransparentShell } from './transparent.ts';

export interface UserspaceOptions {
  /** client addresses kept for externalTrafficPolicy Local (absent: never kept) */
  transparent?: TransparentShell;
  scheduler: SchedulerName;
  /** --ipvs-strict-arp */
  strictARP: boolean;
  /** idle UDP sessions end after this long (kube-proxy's --udp-timeout, 250 ms upstream) */
  udpTimeoutMs: number;
  connectTimeoutMs: number;
  nodePortIPs: (nodeIP: string | undefined) => string[] | undefined;
  dummy: DummyShell;
  log: (s: string) => void;
}

/** Per real server: what the balancers and `ipvsadm` see. */
interface RealState extends Dest {
  port: number;
  total: number;
  inBytes: number;
  outBytes: number;
}

interface VsState {
  vs: VirtualServer;
  reals: RealState[];
  scheduler: Scheduler;
  /** ClientIP persistence: client → real server key, until */
  affinity: Map<string, { key: string; until: number }>;
  tcp?: net.Server;
  udp?: dgram.Socket;
  sessions: Map<string, { upstream: dgram.Socket; real: RealState; timer: NodeJS.Timeout; until: number; client: string }>;
  conns: Set<Conn>;
}

/** A proxied TCP connection, tagged with its virtual and real server. */
type Conn = Relay<{ st: VsState; real: RealState }>;

/** The client's address, as IPv4 where it is one (asks the kernel once per socket). */
const peer = (s: net.Socket) => (s.remoteAddress ?? '').replace(/^::ffff:/, '');

export class UserspaceBackend implements Backend {
  readonly mode = 'userspace' as const;
  private readonly vss = new Map<string, VsState>();
  /** per real server counts survive syncs (by virtual server and real server) */
  private readonly counts = new Map<string, RealState>();
  /** connects under way, for the connect-timeout sweep */
  private readonly connecting = new Map<net.Socket, { since: number; fail: () => void }>();
  private sweep?: NodeJS.Timeout;
  /** whether transparent sockets work here; set up at the first sync that needs them */
  private transparentReady?: boolean;
  /** this node's pod range: its pods share the endpoints' bridge, so their replies would bypass the proxy */
  private podCIDR?: Cidr;

  constructor(private readonly o: UserspaceOptions) {
    // The relay's one reliance on Node's internals is checked before anything listens.
    userBufferFields();
  }

  sync(req: SyncRequest): SyncResult {
    this.o.dummy.ensure(this.o.strictARP);
    const ports = allServicePorts(req.byService);
    const nodePortIPs = this.o.nodePortIPs(req.nodeIP) ?? ['0.0.0.0'];
    const want = virtualServers(ports, { scheduler: this.o.scheduler, nodePortIPs, mode: 'userspace' });
    this.podCIDR = req.podCIDR ? parseCIDR(req.podCIDR) : undefined;
    if (this.transparentReady === undefined && want.some((v) => v.preserveClient && v.reals.length)) this.setUpTransparent();
    // Addresses first, so that listeners on them can bind.
    const addrs = new Set(dummyAddresses(ports, new Set(this.o.dummy.nodeAddresses())));
    const have = new Set(this.o.dummy.list());
    for (const ip of addrs) if (!have.has(ip)) this.o.dummy.add(ip);
    for (const ip of have) if (!addrs.has(ip)) this.o.dummy.del(ip);
    const seen = new Set<string>();
    let opened = 0;
    let closed = 0;
    for (const vs of want) {
      const key = vsKey(vs);
      seen.add(key);
      let st = this.vss.get(key);
      if (!st) {
        st = { vs, reals: [], scheduler: newScheduler(vs.scheduler), affinity: new Map(), sessions: new Map(), conns: new Set() };
        this.vss.set(key, st);
      }
      if (st.vs.scheduler !== vs.scheduler) st.scheduler = newScheduler(vs.scheduler);
      st.vs = vs;
      st.reals = vs.reals.map((r) => this.realState(key, r));
      const live = st.reals.length > 0;
      if (live && !st.tcp && !st.udp) {
        this.listen(st);
        opened++;
      } else if (!live && (st.tcp || st.udp)) {
        this.unlisten(st);
        closed++;
      }
    }
    for (const [key, st] of this.vss) {
      if (seen.has(key)) continue;
      this.unlisten(st);
      this.vss.delete(key);
      closed++;
    }
    this.prune();
    return { full: true, summary: `${want.length} virtual servers (${opened} listeners opened, ${closed} closed), ${addrs.size} addresses on ${dummyDevice}` };
  }

  private setUpTransparent(): void {
    const t = this.o.transparent;
    let why = t ? t.missing() : 'not enabled';
    if (t && !why) {
      try {
        t.ensureRouting();
      } catch (e) {
        why = (e as Error).message;
      }
    }
    this.transparentReady = !why;
    if (why) this.o.log(`client addresses will not be kept (externalTrafficPolicy Local): ${why}`);
  }

  /**
   * Whether the connection to an endpoint carries the client's address and port: where the Service
   * keeps it and the replies come back through this node (not for this node's own pods, which
   * share the endpoints' bridge); else it carries the node's.
   */
  private clientSource(st: VsState, client: string): boolean {
    return st.vs.preserveClient && this.transparentReady === true && !(this.podCIDR && cidrContains(this.podCIDR, client));
  }

  /** Forgets counts of real servers gone and idle, and expired persistence, so churn does not grow memory. */
  private prune(): void {
    const inUse = new Set<RealState>();
    const now = Date.now();
    for (const st of this.vss.values()) {
      for (const r of st.reals) inUse.add(r);
      for (const [client, a] of st.affinity) if (a.until <= now) st.affinity.delete(client);
    }
    for (const [k, r] of this.counts) if (!inUse.has(r) && r.active === 0 && r.inactive === 0) this.counts.delete(k);
  }

  intact(): boolean {
    return this.o.dummy.exists();
  }

  pendingCleanup(): boolean {
    return false;
  }

  close(): void {
    clearInterval(this.sweep);
    this.sweep = undefined;
    for (const st of this.vss.values()) this.unlisten(st);
    this.vss.clear();
  }

  private realState(vs: string, r: RealServer): RealState {
    const k = `${vs}>${r.key}`;
    let s = this.counts.get(k);
    if (!s) this.counts.set(k, (s = { key: r.key, ip: r.ip, port: r.port, weight: r.weight, active: 0, inactive: 0, total: 0, inBytes: 0, outBytes: 0 }));
    s.weight = r.weight;
    return s;
  }

  /** The real server for a new connection: the client's persistent one if still there, else the scheduler's. */
  private choose(st: VsState, client: string, exclude?: Set<string>): RealState | undefined {
    const now = Date.now();
    const candidates = exclude ? st.reals.filter((r) => !exclude.has(r.key)) : st.reals;
    if (st.vs.persistentSeconds) {
      const a = st.affinity.get(client);
      const r = a && a.until > now ? candidates.find((x) => x.key === a.key && x.weight > 0) : undefined;
      if (r) {
        a!.until = now + st.vs.persistentSeconds * 1000;
        return r;
      }
    }
    const picked = st.scheduler.pick(candidates, client, st.vs.ip) as RealState | undefined;
    if (picked && st.vs.persistentSeconds) st.affinity.set(client, { key: picked.key, until: now + st.vs.persistentSeconds * 1000 });
    return picked;
  }

  private listen(st: VsState): void {
    const host = st.vs.ip;
    const where = `${st.vs.protocol} ${host}:${st.vs.port}`;
    if (st.vs.protocol === 'TCP') {
      // Accepted paused: the connection is taken over by the relay (relay.ts) before it reads.
      // Half-open: a client's FIN is passed on and the endpoint may still answer, as through DNAT.
      const server = net.createServer({ noDelay: true, pauseOnConnect: true, allowHalfOpen: true }, (c) => this.accept(st, c));
      // A listener that could not bind is forgotten, so that the next sync tries again.
      server.on('error', (e) => {
        this.o.log(`listen ${where}: ${e.message}`);
        if (st.tcp === server) st.tcp = undefined;
      });
      server.listen({ host, port: st.vs.port, backlog: 1024 });
      st.tcp = server;
    } else {
      const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      sock.on('error', (e) => {
        this.o.log(`listen ${where}: ${e.message}`);
        if (st.udp === sock) {
          st.udp = undefined;
          try {
            sock.close();
          } catch {
            /* never bound */
          }
        }
      });
      sock.on('message', (msg, rinfo) => this.datagram(st, sock, msg, rinfo));
      sock.bind(st.vs.port, host);
      st.udp = sock;
    }
  }

  private unlisten(st: VsState): void {
    st.tcp?.close();
    st.tcp = undefined;
    try {
      st.udp?.close();
    } catch {
      /* closed */
    }
    st.udp = undefined;
    for (const s of st.sessions.values()) {
      clearTimeout(s.timer);
      s.upstream.close();
      s.real.inactive--;
    }
    st.sessions.clear();
  }

  private accept(st: VsState, client: net.Socket): void {
    // The client's address only where something depends on it (a getpeername saved per connection).
    const from = st.vs.persistentSeconds > 0 || st.vs.scheduler === 'sh' || st.vs.preserveClient ? peer(client) : '';
    const toUpstream = Pipe.take();
    const toClient = Pipe.take();
    readAcceptedInto(client, toUpstream);
    toClient.to = client;
    let tried: Set<string> | undefined;
    let pending: net.Socket | undefined;
    client.on('error', ignore);
    client.once('close', () => {
      // A client gone while its upstream is still connecting takes the attempt with it.
      if (!pending) return;
      this.connecting.delete(pending);
      pending.destroy();
      toUpstream.release();
      toClient.release();
    });
    const attempt = () => {
      const real = this.choose(st, from, tried);
      if (!real) {
        client.destroy();
        return;
      }
      (tried ??= new Set()).add(real.key);
      const up = this.upstreamSocket(st, client, from, toClient);
      up.setNoDelay(true);
      up.connect({ host: real.ip, port: real.port });
      pending = up;
      const fail = () => {
        this.connecting.delete(up);
        up.destroy();
        // The next endpoint, as upstream's userspace proxy retried (a killed pod must not fail a new connection).
        if (!client.destroyed) attempt();
      };
      this.connectTimeout(up, fail);
      up.once('error', fail);
      up.once('connect', () => {
        this.connecting.delete(up);
        up.removeListener('error', fail);
        pending = undefined;
        if (client.destroyed) {
          up.destroy();
          toUpstream.release();
          toClient.release();
          return;
        }
        toUpstream.to = up;
        this.splice(st, client, up, real, toUpstream, toClient);
      });
    };
    attempt();
  }

  /**
   * A connect still pending after the connect timeout fails (onto the next endpoint). One sweep
   * for them all, rather than a timer per connection.
   */
  private connectTimeout(up: net.Socket, fail: () => void): void {
    this.connecting.set(up, { since: Date.now(), fail });
    if (this.sweep) return;
    const every = Math.max(10, Math.min(250, this.o.connectTimeoutMs / 4));
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [, c] of this.connecting) if (now - c.since >= this.o.connectTimeoutMs) c.fail();
      if (this.connecting.size === 0) {
        clearInterval(this.sweep);
        this.sweep = undefined;
      }
    }, every);
    this.sweep.unref();
  }

  /**
   * A transparent socket bound to the client's address and port, as an fd, where the Service keeps
   * them and one can be had; else undefined (the node's own address is used, and why is logged).
   */
  private clientBoundFd(st: VsState, udp: boolean, ip: string, port: () => number): number | undefined {
    if (!this.clientSource(st, ip)) return undefined;
    try {
      return this.o.transparent!.open(udp, ip, port());
    } catch (e) {
      this.o.log(`keeping client address ${ip}: ${(e as Error).message}; ${udp ? 'sending' : 'connecting'} from the node instead`);
      return undefined;
    }
  }

  /** A socket to connect to an endpoint from: bound to the client's address and port where that is kept. */
  private upstreamSocket(st: VsState, client: net.Socket, from: string, pipe: Pipe): net.Socket {
    return upstreamSocket(pipe, this.clientBoundFd(st, false, from, () => client.remotePort ?? 0));
  }

  /** Relays both ways (relay.ts); bytes are counted from the sockets' own counters when it ends. */
  private splice(st: VsState, client: net.Socket, up: net.Socket, real: RealState, toUpstream: Pipe, toClient: Pipe): void {
    real.active++;
    real.total++;
    st.conns.add(new Relay(client, up, [toUpstream, toClient], { st, real }, this.relayDone));
  }

  private readonly relayDone = (c: Conn): void => {
    const { st, real } = c.tag;
    real.active--;
    real.inBytes += c.client.bytesRead;
    real.outBytes += c.upstream.bytesRead;
    st.conns.delete(c);
  };

  private datagram(st: VsState, sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    let s = st.sessions.get(key);
    if (!s) {
      const real = this.choose(st, rinfo.address);
      if (!real) return;
      const upstream = dgram.createSocket('udp4');
      const fd = this.clientBoundFd(st, true, rinfo.address, () => rinfo.port);
      if (fd !== undefined) upstream.bind({ fd });
      upstream.on('message', (m) => {
        real.outBytes += m.length;
        if (st.udp === sock) sock.send(m, rinfo.port, rinfo.address);
        this.touch(st, key);
      });
      upstream.on('error', () => this.expire(st, key));
      upstream.connect(real.port, real.ip);
      real.inactive++; // IPVS counts UDP connections as inactive
      real.total++;
      s = { upstream, real, timer: setTimeout(() => this.expire(st, key), this.o.udpTimeoutMs), until: Date.now() + this.o.udpTimeoutMs, client: key };
      st.sessions.set(key, s);
    } else this.touch(st, key);
    s.real.inBytes += msg.length;
    const session = s;
    const send = () => session.upstream.send(msg, (e) => e && this.expire(st, key));
    // connect() completes asynchronously; a send before it would have no destination.
    try {
      session.upstream.remoteAddress();
      send();
    } catch {
      session.upstream.once('connect', send);
    }
  }

  private touch(st: VsState, key: string): void {
    const s = st.sessions.get(key);
    if (!s) return;
    clearTimeout(s.timer);
    s.until = Date.now() + this.o.udpTimeoutMs;
    s.timer = setTimeout(() => this.expire(st, key), this.o.udpTimeoutMs);
  }

  private expire(st: VsState, key: string): void {
    const s = st.sessions.get(key);
    if (!s) return;
    clearTimeout(s.timer);
    st.sessions.delete(key);
    s.real.inactive--;
    try {
      s.upstream.close();
    } catch {
      /* closed */
    }
  }

  // What `podpath proxy ipvsadm` shows of the live table.
  list(): string {
    return ipvsadmList([...this.vss.values()].map((s) => s.vs), (v, r) => this.counts.get(`${vsKey(v)}>${r.key}`) ?? { active: 0, inactive: 0 });
  }

  stats(): string {
    // Bytes of connections still open are read from their sockets; packets are not visible to a userspace proxy.
    const open = new Map<RealState, [number, number]>();
    for (const st of this.vss.values()) {
      for (const c of st.conns) {
        const [i, o] = open.get(c.tag.real) ?? [0, 0];
        open.set(c.tag.real, [i + c.client.bytesRead, o + c.upstream.bytesRead]);
      }
    }
    return ipvsadmStats([...this.vss.values()].map((s) => s.vs), (v, r) => {
      const c = this.counts.get(`${vsKey(v)}>${r.key}`);
      const [i, o] = (c && open.get(c)) ?? [0, 0];
      return { conns: c?.total ?? 0, inPkts: 0, outPkts: 0, inBytes: (c?.inBytes ?? 0) + i, outBytes: (c?.outBytes ?? 0) + o };
    });
  }

  connections(): string {
    const now = Date.now();
    const out: ConnectionEntry[] = [];
    for (const st of this.vss.values()) {
      const virtual = `${st.vs.ip}:${st.vs.port}`;
      for (const c of st.conns) out.push({ protocol: 'TCP', expiresInSeconds: 900, state: 'ESTABLISHED', source: `${peer(c.client)}:${c.client.remotePort}`, virtual, destination: c.tag.real.key });
      for (const s of st.sessions.values()) out.push({ protocol: 'UDP', expiresInSeconds: Math.max(0, (s.until - now) / 1000), state: 'UDP', source: s.client, virtual, destination: s.real.key });
    }
    return ipvsadmConnections(out);
  }

  /** `podpath proxy ipvsadm` (/ipvsadm on the metrics port): the live table, its totals or its connections. */
  debugInfo(q: URLSearchParams): string {
    return q.has('stats') ? this.stats() : q.has('connections') ? this.connections() : this.list();
  }

  /** Per real server counts, for /metrics. */
  connectionCounts(): EndpointConnections[] {
    const out: EndpointConnections[] = [];
    for (const st of this.vss.values()) for (const r of st.reals) out.push({ service: `${st.vs.service} ${st.vs.protocol} ${st.vs.ip}:${st.vs.port}`, endpoint: r.key, active: r.active + r.inactive, total: r.total });
    return out;
  }
}
