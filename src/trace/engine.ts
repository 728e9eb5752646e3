// The computed path of one connection: from a source (the client, a node, a pod) to a URL, a
// host and port or a Service, hop by hop — name resolution, the route in each network namespace,
// each node's netfilter rules in hook order, the conntrack entry NAT leaves, NetworkPolicy at the
// destination, the Ingress controller's choice and its own connection onward, delivery, and the
// reply back through conntrack. Pure: the cluster's objects, the address plan and each node's
// rules (as typed walkers, rendered or read from a kernel) in; the Trace out.
import type { Pod } from '../api/types.ts';
import { defaultControllerClass, type ControllerClass } from '../ingress/classes.ts';
import { buildModel } from '../ingress/model.ts';
import { route as ingressRoute } from '../ingress/route.ts';
import { computeGateways, defaultControllerName as gatewayControllerName } from '../gateway/controller.ts';
import { byAge } from '../ingress/model.ts';
import { routeRequest as gatewayRoute } from '../gateway/route.ts';
import { gatewayAtTargetPort, isGatewayService } from '../gateway/provision.ts';
import { PolicyModel, explain } from '../netpol/policy.ts';
import { podKey, type ClusterIndex, type NodeInfo } from './cluster.ts';
import { isGatewayController, isIngressController, portServer } from './podports.ts';
import { vtepMAC } from '../cni/routes.ts';
import { walkHook, type Branch, type Hook, type PacketState, type RuleWalker } from './netfilter.ts';
import { ObjectFinder } from './objects.ts';
import { Resolver, isIPAddress, type Resolution } from './resolve.ts';
import { rewritten, tupleText, TraceError, type Candidate, type Hop, type HopKind, type ObjectRef, type Packet, type Protocol, type Trace, type Verdict } from './types.ts';
import { applyDefaults } from '../api/defaults.ts';

export interface TraceRequest {
  /** client | node/NAME | pod/NS/NAME */
  from: string;
  /** a URL, HOST:PORT or svc/NS/NAME[:PORT] */
  to: string;
  protocol?: Protocol;
  /** where the kernel or nginx picks at random, take these endpoints (pod NS/NAME or IP) when among the candidates; else the first */
  prefer?: string[];
  /** the client's source port (an ephemeral one; fixed so that traces compare) */
  srcPort?: number;
  /**
   * An Ingress or Gateway controller sends the request on over a connection it holds open
   * already (nginx's upstream keepalive, as `--observe` saw it): that connection's packets are
   * an established one's, which meet no nat chain and pass conntrack's ESTABLISHED rules.
   */
  onwardOpen?: boolean;
}

export interface TraceContext {
  ix: ClusterIndex;
  /** the proxy mode the rules are in, for the report */
  mode: string;
  /** a node's packet rules */
  rules(node: string): RuleWalker[];
  /**
   * A proxy process on the node that accepts connections to local addresses itself and opens its
   * own to an endpoint (kube-proxy's userspace mode): the virtual server a packet reaches, if any.
   */
  localProxy?(node: string, pkt: Packet): LocalProxy | undefined;
}

/** A userspace proxy's virtual server: what it listens on for, and the endpoints its scheduler picks among. */
export interface LocalProxy {
  /** "kube-proxy (userspace)" */
  proxy: string;
  /** the ServicePort, "NS/NAME[:PORT]" */
  service: string;
  scheduler: string;
  reals: { ip: string; port: number; weight: number }[];
}

export const defaultSrcPort = 40000;

type Place = { kind: 'client' } | { kind: 'underlay' } | { kind: 'node'; node: NodeInfo; from: 'local' | 'eth0' | 'cni0' } | { kind: 'pod'; pod: Pod; node: NodeInfo | undefined };

interface Target {
  host: string;
  port: number;
  url?: URL;
  /** svc/NS/NAME: the Service named */
  service?: { namespace: string; name: string };
}

interface NatEntry {
  node: string;
  original: Packet;
  /** the tuple the packet left the node with */
  translated: Packet;
}

interface LegResult {
  verdict: Verdict | 'arrived';
  reason: string;
  /** where it arrived */
  place?: Place;
  pkt: Packet;
  nat: NatEntry[];
  /** a local proxy took the connection: the packet of its own connection onward, from the node */
  onward?: Packet;
}

const placeName = (p: Place) => (p.kind === 'pod' ? `pod/${podKey(p.pod)}` : p.kind === 'node' ? `node/${p.node.name}` : p.kind);

/** "https://h/p" → host, port, URL; "h:p"; "svc/NS/NAME[:PORT]". */
export function parseTarget(to: string): Target {
  if (/^[a-z]+:\/\//i.test(to)) {
    let u: URL;
    try {
      u = new URL(to);
    } catch {
      throw new TraceError('BadDestination', `${to} is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TraceError('BadDestination', `${to}: only http and https URLs`);
    const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port, url: u };
  }
  const svc = /^(?:svc|service)\/([^/]+)\/([^/:]+)(?::(.+))?$/.exec(to);
  if (svc) return { host: '', port: 0, service: { namespace: svc[1]!, name: svc[2]! }, ...(svc[3] ? { portSpec: svc[3] } : {}) } as Target & { portSpec?: string };
  const m = /^(.+):(\d+)$/.exec(to);
  if (!m) throw new TraceError('BadDestination', `--to ${to}: expected a URL, HOST:PORT or svc/NAMESPACE/NAME[:PORT]`);
  return { host: m[1]!, port: Number(m[2]) };
}

class Tracer {
  private readonly hops: Hop[] = [];
  private readonly candidates: Candidate[] = [];
  private readonly objects: ObjectFinder;
  private readonly resolver: Resolver;
  private prefer: string[];

  constructor(
    private readonly ctx: TraceContext,
    private readonly req: TraceRequest,
  ) {
    this.objects = new ObjectFinder(ctx.ix);
    this.resolver = new Resolver(ctx.ix);
    this.prefer = [...(req.prefer ?? [])];
  }

  private hop(kind: HopKind, where: Place | { node: string }, before: Packet, after: Packet, note: string, extra: Partial<Pick<Hop, 'rule' | 'object' | 'hook' | 'gateway'>> = {}): void {
    const at = 'node' in where && typeof where.node === 'string' ? { node: where.node } : (where as Place).kind === 'node' ? { node: (where as Extract<Place, { kind: 'node' }>).node.name } : { namespace: placeName(where as Place) };
    this.hops.push({ step: this.hops.length + 1, kind, ...at, ...(extra.hook ? { hook: extra.hook } : {}), packet: { before: { ...before }, after: { ...after }, rewritten: rewritten(before, after) }, ...(extra.rule ? { rule: extra.rule } : {}), ...(extra.object ? { object: extra.object } : {}), ...(extra.gateway ? { gateway: extra.gateway } : {}), note });
  }

  /** Picks among branches: the preferred endpoint if it is one, else the first. */
  private choose(branches: { ip: string; port: number; probability: number }[], by: string): number {
    if (branches.length < 2) return 0; // one endpoint: nothing is left to chance
    let idx = branches.findIndex((b) => this.prefer.some((p) => p === b.ip || p === this.ctx.ix.podName(b.ip) || p === `${b.ip}:${b.port}`));
    if (idx < 0) idx = 0;
    branches.forEach((b, i) => this.candidates.push({ pod: this.ctx.ix.podName(b.ip), ip: b.ip, port: b.port, probability: Number(b.probability.toFixed(6)), by, chosen: i === idx }));
    return idx;
  }

  private source(): { place: Place; ip: string } {
    const f = this.req.from;
    const ix = this.ctx.ix;
    if (f === 'client') return { place: { kind: 'client' }, ip: ix.plan.clientIP };
    const node = /^node\/(.+)$/.exec(f);
    if (node) {
      const n = ix.nodes.get(node[1]!);
      if (!n) throw new TraceError('BadSource', `--from ${f}: no Node ${node[1]} (nodes: ${[...ix.nodes.keys()].join(', ') || 'none'})`);
      return { place: { kind: 'node', node: n, from: 'local' }, ip: n.ip };
    }
    const pod = /^pod\/([^/]+)\/([^/]+)$/.exec(f);
    if (pod) {
      const p = ix.pod(`${pod[1]}/${pod[2]}`);
      if (!p) throw new TraceError('BadSource', `--from ${f}: no Pod ${pod[1]}/${pod[2]}`);
      const n = ix.nodeOfPod(p);
      if (p.spec?.hostNetwork) {
        if (!n) throw new TraceError('BadSource', `--from ${f}: the hostNetwork pod has no node`);
        return { place: { kind: 'node', node: n, from: 'local' }, ip: n.ip };
      }
      if (!p.status?.podIP) throw new TraceError('BadSource', `--from ${f}: the pod has no IP (status.podIP)`);
      return { place: { kind: 'pod', pod: p, node: n }, ip: p.status.podIP };
    }
    throw new TraceError('BadSource', `--from ${f}: expected client, node/NAME or pod/NAMESPACE/NAME`);
  }

  run(): Trace {
    const ix = this.ctx.ix;
    const proto: Protocol = this.req.protocol ?? 'tcp';
    const src = this.source();
    const target = parseTarget(this.req.to);
    const srcPort = this.req.srcPort ?? defaultSrcPort;
    const base = { from: this.req.from, to: this.req.to, mode: this.ctx.mode };
    let dst: string;
    let dstPort = target.port;
    const zero: Packet = { protocol: proto, src: src.ip, srcPort, dst: '', dstPort };
    if (target.service) {
      const { namespace, name } = target.service;
      const svc = ix.objects.services.find((s) => s.metadata.name === name && (s.metadata.namespace ?? 'default') === namespace);
      if (!svc) throw new TraceError('BadDestination', `--to ${this.req.to}: no Service ${namespace}/${name}`);
      const spec = (target as Target & { portSpec?: string }).portSpec;
      const ports = svc.spec?.ports ?? [];
      const sp = spec === undefined ? ports[0] : ports.find((p) => String(p.port) === spec || p.name === spec);
      if (!sp) throw new TraceError('BadDestination', `--to ${this.req.to}: Service ${namespace}/${name} has no port ${spec ?? ''}`);
      const ip = svc.spec?.clusterIP;
      if (!ip || ip === 'None') throw new TraceError('BadDestination', `--to ${this.req.to}: Service ${namespace}/${name} has no ClusterIP`);
      dst = ip;
      dstPort = sp.port;
      this.hop('resolve', src.place, zero, { ...zero, dst, dstPort }, `Service ${namespace}/${name} port ${sp.name ? `${sp.name} ` : ''}${sp.port}/${sp.protocol ?? 'TCP'}: ClusterIP ${ip} (named directly, no DNS)`, { object: { kind: 'Service', namespace, name } });
    } else if (isIPAddress(target.host)) {
      dst = target.host;
    } else {
      const r: Resolution = src.place.kind === 'pod' ? this.resolver.fromPod(src.place.pod, target.host) : this.resolver.fromHost(target.host);
      const tries = r.attempts.map((a) => `${a.name} → ${a.answer}`).join(', ');
      const after = { ...zero, dst: r.ip ?? '', dstPort };
      const answered = r.ip && src.place.kind === 'pod' ? `; answered by ${r.record}` : '';
      this.hop('resolve', src.place, zero, after, `resolver ${r.resolver}: ${tries}${answered}`, r.object ? { object: r.object } : {});
      if (!r.ip) return { verdict: 'dropped', reason: `${target.host} does not resolve from ${this.req.from}`, ...base, hops: this.hops, candidates: this.candidates };
      dst = r.ip;
    }
    const first: Packet = { protocol: proto, src: src.ip, srcPort, dst, dstPort };
    const legs: { start: Place; pkt: Packet; res: LegResult }[] = [];
    let start = src.place;
    let pkt = first;
    let established = false;
    for (let n = 0; n < 4; n++) {
      const res = this.leg(start, pkt, established);
      legs.push({ start, pkt, res });
      if (res.verdict !== 'arrived') {
        return { verdict: res.verdict, reason: res.reason, ...base, hops: this.hops, candidates: this.candidates };
      }
      const at = res.place!;
      // At a node: a userspace proxy took the connection and opens its own onward.
      if (res.onward) {
        start = at;
        pkt = res.onward;
        continue;
      }
      // At a pod: an Ingress or Gateway controller takes the request and opens its own connection onward.
      const proxyHop = at.kind === 'pod' && target.url ? (isIngressController(at.pod) ? this.ingressHop : isGatewayController(at.pod) ? this.gatewayHop : undefined) : undefined;
      if (proxyHop && at.kind === 'pod') {
        const onward = proxyHop.call(this, at, res.pkt, target.url!);
        if (!onward.ok) {
          this.replies(legs);
          return { verdict: 'rejected', reason: onward.reason, ...base, hops: this.hops, candidates: this.candidates };
        }
        start = at;
        pkt = onward.pkt!;
        if (this.req.onwardOpen) {
          established = true;
          const h = this.hops.at(-1)!;
          h.note += '; over a connection it holds open already (upstream keepalive): its packets are an established connection\'s, with no nat chain';
        }
        continue;
      }
      const where = at.kind === 'pod' ? podKey(at.pod) : at.kind === 'node' ? `node/${at.node.name}` : at.kind;
      this.replies(legs);
      return {
        verdict: 'delivered',
        reason: `delivered to ${where} at ${res.pkt.dst}:${res.pkt.dstPort}`,
        ...base,
        hops: this.hops,
        endpoint: { pod: at.kind === 'pod' ? podKey(at.pod) : where, ip: res.pkt.dst, port: res.pkt.dstPort },
        candidates: this.candidates,
      };
    }
    return { verdict: 'dropped', reason: 'the path loops', ...base, hops: this.hops, candidates: this.candidates };
  }

  /** One connection's first packet (or, `established`, a packet of a connection already open) from `start` until it arrives, is dropped or rejected. */
  private leg(start: Place, first: Packet, established = false): LegResult {
    const ix = this.ctx.ix;
    let place: Place = start;
    let pkt = { ...first };
    let mark = 0;
    let dnat = false;
    const nat: NatEntry[] = [];
    const visited = new Set<string>();
    for (let n = 0; n < 12; n++) {
      if (place.kind === 'client') {
        if (n > 0) return { verdict: 'arrived', reason: '', place, pkt, nat };
        if (!ix.inCIDR(ix.plan.underlayCIDR, pkt.dst)) {
          this.hop('route', place, pkt, pkt, `no route to ${pkt.dst}: the client's only route is ${ix.plan.underlayCIDR} dev eth0`, { hook: 'routing decision' });
          return { verdict: 'dropped', reason: `the client has no route to ${pkt.dst}`, pkt, nat };
        }
        this.hop('route', place, pkt, pkt, `${ix.plan.underlayCIDR} dev eth0 src ${ix.plan.clientIP}: out to the underlay`, { hook: 'routing decision' });
        place = { kind: 'underlay' };
        continue;
      }
      if (place.kind === 'underlay') {
        const node = ix.nodeOfIP(pkt.dst) ?? (ix.lbHolder.has(pkt.dst) ? ix.nodes.get(ix.lbHolder.get(pkt.dst)!) : undefined);
        if (pkt.dst === ix.plan.clientIP) {
          this.hop('route', place, pkt, pkt, `br0 forwards to the client (${pkt.dst})`);
          place = { kind: 'client' };
          continue;
        }
        if (!node && ix.inCIDR(ix.plan.serviceCIDR, pkt.dst)) {
          this.hop('route', place, pkt, pkt, `the router ${ix.plan.routerIP} forwards nothing to the Service range ${ix.plan.serviceCIDR}: its filter rejects ${pkt.dst} with ICMP host unreachable`);
          return { verdict: 'rejected', reason: `no rule translated ${pkt.dst}, and the underlay's router rejects the Service range`, pkt, nat };
        }
        if (!node) {
          this.hop('route', place, pkt, pkt, `no host on the underlay answers ARP for ${pkt.dst}: the packet goes nowhere`);
          return { verdict: 'dropped', reason: `nothing on the underlay has ${pkt.dst}`, pkt, nat };
        }
        const why = node.ip === pkt.dst ? 'its InternalIP' : `the LoadBalancer IP it answers for (${lbOwner(ix, pkt.dst)})`;
        this.hop('route', place, pkt, pkt, `br0 forwards to node ${node.name}: it answers ARP for ${pkt.dst}, ${why}`, node.ip === pkt.dst ? {} : { object: lbObject(ix, pkt.dst) });
        place = { kind: 'node', node, from: 'eth0' };
        continue;
      }
      if (place.kind === 'pod') {
        if (n === 0) {
          const gw = place.node?.gateway ?? '?';
          this.hop('route', place, pkt, pkt, `default via ${gw} dev eth0: the veth pair into node ${place.node?.name ?? '?'}, onto its cni0 bridge`, { hook: 'routing decision' });
          if (!place.node) return { verdict: 'dropped', reason: `pod ${podKey(place.pod)} has no node`, pkt, nat };
          place = { kind: 'node', node: place.node, from: 'cni0' };
          continue;
        }
        return { verdict: 'arrived', reason: '', place, pkt, nat };
      }
      // a node's network namespace
      const node = place.node;
      const key = `${node.name} ${pkt.dst}:${pkt.dstPort}`;
      if (visited.has(key)) return { verdict: 'dropped', reason: `routing loop at node ${node.name}`, pkt, nat };
      visited.add(key);
      const walkers = this.ctx.rules(node.name);
      const view = { localIPs: node.localIPs };
      const entered = { ...pkt };
      let state: PacketState = { pkt, mark, ctNew: !established, dnat, ...(place.from !== 'local' ? { iif: place.from } : {}) };
      const run = (hook: Hook): 'accept' | 'drop' | 'reject' => {
        const r = walkHook(walkers, hook, state, view, (branches: Branch[], where) => this.choose(branches, `${where.table} ${where.chain}`));
        let prev = state.pkt;
        // a rule with nothing of its own to name speaks for what led into its chain (reject-chain, KUBE-MARK-MASQ)
        const via = new Map<string, { object?: ObjectRef; comment?: string }>();
        for (const h of r.hits) {
          const object = this.objects.of(h, via.get(h.chain)?.object);
          if (h.target) via.set(h.target, { ...(object ? { object } : {}), ...(h.comment !== undefined ? { comment: h.comment } : {}) });
          this.hop('netfilter', { node: node.name }, prev, h.pkt, `${h.detail}${h.comment ? ` — "${h.comment}"` : ''}`, { hook, rule: { table: h.table, chain: h.chain, text: h.text, action: h.detail }, ...(object ? { object } : {}) });
          prev = h.pkt;
        }
        state = r.state;
        if (r.verdict !== 'accept') {
          const last = r.hits.at(-1);
          let why = last?.comment ?? (last ? via.get(last.chain)?.comment : undefined);
          // nftables keeps kube-proxy's words in the map's name: drop when endpoints are elsewhere, reject when there are none
          const noEp = [...r.hits].reverse().find((h) => /^@no-endpoint-(services|nodeports)\[/.test(h.detail));
          if (why && noEp) why += r.verdict === 'drop' ? ' has no local endpoints' : ' has no endpoints';
          this.lastReason = last ? `${r.verdict === 'reject' ? 'rejected' : 'dropped'} at node ${node.name} by ${last.table} ${last.chain}${why ? `: ${why}` : ''}` : `${r.verdict} at node ${node.name} (${hook})`;
        }
        return r.verdict;
      };
      const fail = (v: 'drop' | 'reject'): LegResult => ({ verdict: v === 'drop' ? 'dropped' : 'rejected', reason: this.lastReason, pkt: state.pkt, nat });
      if (place.from === 'local') {
        const pre = this.routeIn(node, state.pkt.dst);
        state = { ...state, oif: pre.dev, ...(pre.src ? { oifAddress: pre.src } : {}) };
        const v = run('output');
        if (v !== 'accept') return fail(v);
      } else {
        const v = run('prerouting');
        if (v !== 'accept') return fail(v);
      }
      // the routing decision, on the address as prerouting/output left it
      const rt = this.routeIn(node, state.pkt.dst);
      const isLocal = node.localIPs.has(state.pkt.dst) || state.pkt.dst.startsWith('127.');
      if (isLocal && place.from !== 'local') {
        this.hop('route', { node: node.name }, state.pkt, state.pkt, `${state.pkt.dst} is local to node ${node.name}: input`, { hook: 'routing decision' });
        const v = run('input');
        if (v !== 'accept') return fail(v);
        return this.toHost(node, state.pkt, nat);
      }
      this.hop('route', { node: node.name }, state.pkt, state.pkt, rt.text, { hook: 'routing decision' });
      if (!rt.next) return { verdict: 'dropped', reason: `node ${node.name} has no route to ${state.pkt.dst}`, pkt: state.pkt, nat };
      state = { ...state, oif: rt.dev, ...(rt.src ? { oifAddress: rt.src } : {}) };
      if (place.from !== 'local') {
        const v = run('forward');
        if (v !== 'accept') return fail(v);
      }
      const v = run('postrouting');
      if (v !== 'accept') return fail(v);
      pkt = state.pkt;
      mark = state.mark;
      dnat = state.dnat;
      if (rewritten(entered, pkt).length) {
        nat.push({ node: node.name, original: entered, translated: { ...pkt } });
        this.hop('conntrack', { node: node.name }, entered, pkt, conntrackLine(entered, pkt));
      }
      if (rt.next === 'underlay') {
        if (rt.vxlan) this.hop('route', { node: node.name }, pkt, pkt, rt.vxlan);
        place = rt.peer ? { kind: 'node', node: rt.peer, from: 'eth0' } : { kind: 'underlay' };
        if (rt.peer) this.hop('route', { kind: 'underlay' }, pkt, pkt, `br0 forwards to node ${rt.peer.name} (${rt.peer.ip})`);
        continue;
      }
      // onto cni0: the pod behind the veth
      const pod = ix.podByIP(pkt.dst);
      if (!pod || ix.nodeOfPod(pod)?.name !== node.name) {
        this.hop('route', { node: node.name }, pkt, pkt, `no pod on node ${node.name} has ${pkt.dst}: nothing answers ARP on cni0`);
        return { verdict: 'dropped', reason: `no pod has ${pkt.dst} on node ${node.name}`, pkt, nat };
      }
      const dest: Place = { kind: 'pod', pod, node };
      // the node's own connections leave by output, never by forward, where the policies are enforced
      const np = place.from === 'local' ? this.nodeOwn(node, pkt, pod) : this.netpol(node, pkt, pod);
      if (!np.allowed) return { verdict: 'dropped', reason: np.reason, pkt, nat };
      this.deliverHop(dest, pkt);
      return { verdict: 'arrived', reason: '', place: dest, pkt, nat };
    }
    return { verdict: 'dropped', reason: 'too many hops', pkt, nat };
  }

  private lastReason = '';

  /** The route a node takes to dst, in `ip route` words, and where it leads. */
  private routeIn(node: NodeInfo, dst: string): { text: string; dev?: string; src?: string; next?: 'underlay' | 'cni0'; peer?: NodeInfo; vxlan?: string } {
    const ix = this.ctx.ix;
    if (ix.inCIDR(node.podCIDR, dst)) return { text: `${node.podCIDR} dev cni0 proto kernel scope link src ${node.gateway}`, dev: 'cni0', src: node.gateway, next: 'cni0' };
    const peer = ix.nodeOfPodIP(dst);
    if (peer) {
      if (ix.plan.cniBackend === 'vxlan') {
        return {
          text: `${peer.podCIDR} via ${peer.podCIDR.split('/')[0]} dev podpath.1 onlink (VXLAN to node ${peer.name})`,
          dev: 'podpath.1',
          src: node.podCIDR.split('/')[0]!,
          next: 'underlay',
          peer,
          vxlan: `VXLAN: encapsulated in UDP ${node.ip} → ${peer.ip}:8472 (VNI 1) on eth0, by the FDB entry ${vtepMAC(peer.ip)} dst ${peer.ip} the network daemon wrote for node ${peer.name}`,
        };
      }
      if (ix.plan.cniBackend === 'bgp') return { text: `${peer.podCIDR} via ${peer.ip} dev eth0 proto bird (BGP route learned from node ${peer.name}, ${peer.ip})`, dev: 'eth0', src: node.ip, next: 'underlay', peer };
      return { text: `${peer.podCIDR} via ${peer.ip} dev eth0 (host-gw route to node ${peer.name}, written by the network daemon)`, dev: 'eth0', src: node.ip, next: 'underlay', peer };
    }
    if (ix.inCIDR(ix.plan.underlayCIDR, dst)) return { text: `${ix.plan.underlayCIDR} dev eth0 proto kernel scope link src ${node.ip}`, dev: 'eth0', src: node.ip, next: 'underlay' };
    if (ix.inCIDR(ix.plan.serviceCIDR, dst)) return { text: `${ix.plan.serviceCIDR} via ${ix.plan.routerIP} dev eth0: a ClusterIP no rule translated goes to the underlay's router`, dev: 'eth0', src: node.ip, next: 'underlay' };
    return { text: `no route to ${dst} (the lab's nodes have no default route)` };
  }

  /** The packet reached a node's own address after input: a host-network process must listen. */
  private toHost(node: NodeInfo, pkt: Packet, nat: NatEntry[]): LegResult {
    const ix = this.ctx.ix;
    const vs = this.ctx.localProxy?.(node.name, pkt);
    if (vs) return this.proxyHop(node, pkt, nat, vs);
    const hostPod = ix.objects.pods.find((p) => p.spec?.hostNetwork && p.spec.nodeName === node.name && (p.spec.containers ?? []).some((c) => (c.ports ?? []).some((cp) => cp.containerPort === pkt.dstPort && (cp.protocol ?? 'TCP').toLowerCase() === pkt.protocol)));
    if (hostPod) {
      const place: Place = { kind: 'pod', pod: hostPod, node };
      this.hop('deliver', { node: node.name }, pkt, pkt, `hostNetwork pod ${podKey(hostPod)} declares ${pkt.dstPort}/${pkt.protocol.toUpperCase()}`, { object: { kind: 'Pod', namespace: hostPod.metadata.namespace ?? 'default', name: hostPod.metadata.name! } });
      return { verdict: 'arrived', reason: '', place, pkt, nat };
    }
    this.hop('deliver', { node: node.name }, pkt, pkt, `no rule translated ${pkt.dst}:${pkt.dstPort} and no hostNetwork pod on node ${node.name} declares ${pkt.dstPort}/${pkt.protocol.toUpperCase()}: the kernel answers with a reset (connection refused)`);
    return { verdict: 'rejected', reason: `nothing listens on node ${node.name} ${pkt.dst}:${pkt.dstPort}`, pkt, nat };
  }

  /** The proxy accepts the connection on the node and connects to the endpoint its scheduler picks, from the node's address on the route there. */
  private proxyHop(node: NodeInfo, pkt: Packet, nat: NatEntry[], vs: LocalProxy): LegResult {
    const [ns, rest] = vs.service.split('/');
    const object: ObjectRef = { kind: 'Service', namespace: ns!, name: rest!.split(':')[0]! };
    if (!vs.reals.length) {
      this.hop('proxy', { node: node.name }, pkt, pkt, `${vs.proxy} has no endpoints for ${vs.service} and does not listen on ${pkt.dst}:${pkt.dstPort}: the kernel answers with a reset (connection refused)`, { object });
      return { verdict: 'rejected', reason: `${vs.service} has no endpoints: ${vs.proxy} on node ${node.name} does not listen on ${pkt.dst}:${pkt.dstPort}`, pkt, nat };
    }
    const total = vs.reals.reduce((n, r) => n + r.weight, 0) || vs.reals.length;
    const branches = vs.reals.map((r) => ({ ip: r.ip, port: r.port, probability: (r.weight || 1) / total }));
    const chosen = branches[this.choose(branches, `${vs.proxy} ${vs.service} (${vs.scheduler})`)]!;
    const rt = this.routeIn(node, chosen.ip);
    const onward: Packet = { protocol: pkt.protocol, src: rt.src ?? node.ip, srcPort: (this.req.srcPort ?? defaultSrcPort) + 1, dst: chosen.ip, dstPort: chosen.port };
    this.hop('proxy', { node: node.name }, pkt, onward, `${vs.proxy} accepts ${pkt.dst}:${pkt.dstPort} for ${vs.service} (its own socket: the connection ends here) and connects to ${this.ctx.ix.podName(chosen.ip)} (${chosen.ip}:${chosen.port}), picked by its ${vs.scheduler} scheduler among ${branches.length}, from ${onward.src} (the address of the route's device; the port is the kernel's pick)`, { object });
    return { verdict: 'arrived', reason: '', place: { kind: 'node', node, from: 'local' }, pkt, nat, onward };
  }

  private policyModel(): PolicyModel {
    const o = this.ctx.ix.objects;
    return this.ctx.ix.memo('policy model', () => new PolicyModel({ namespaces: o.namespaces, pods: o.pods, policies: o.policies }, applyDefaults));
  }

  /** A connection of the node itself to one of its pods: allowed whatever isolates the pod (said so when something does). */
  private nodeOwn(node: NodeInfo, pkt: Packet, pod: Pod): { allowed: true; reason: string } {
    const isolating = this.policyModel().selecting(pod, 'Ingress');
    if (isolating.length) {
      const p = isolating[0]!;
      this.hop('netpol', { node: node.name }, pkt, pkt, `${podKey(pod)} is isolated for ingress by ${isolating.map((x) => x.key).join(', ')}, but this connection is node ${node.name}'s own: it leaves by the output hook, not forward, and no NetworkPolicy applies to it (as upstream expects of a pod's own node)`, { hook: 'output', object: { kind: 'NetworkPolicy', namespace: p.namespace, name: p.name } });
    }
    return { allowed: true, reason: '' };
  }

  private netpol(node: NodeInfo, pkt: Packet, pod: Pod): { allowed: boolean; reason: string } {
    const m = this.policyModel();
    const from = m.resolve(pkt.src);
    const to = { pod };
    const protocol = pkt.protocol.toUpperCase() as 'TCP';
    const v = m.evaluate({ from, to, port: pkt.dstPort, protocol });
    const lines = explain({ from, to, port: pkt.dstPort, protocol }, v).trim().split('\n').map((l) => l.trim());
    const deciding = !v.ingress.allowed ? v.ingress : !v.egress.allowed ? v.egress : v.ingress.policies.length ? v.ingress : v.egress;
    const policy = deciding.allowedBy[0]?.policy ?? deciding.policies[0];
    const object: ObjectRef | undefined = policy ? { kind: 'NetworkPolicy', namespace: policy.split('/')[0]!, name: policy.split('/')[1]! } : undefined;
    const note = lines.join('; ');
    this.hop('netpol', { node: node.name }, pkt, pkt, note, { hook: 'forward', ...(object ? { object } : {}) });
    if (v.allowed) return { allowed: true, reason: '' };
    const d = !v.ingress.allowed ? v.ingress : v.egress;
    return { allowed: false, reason: `dropped by NetworkPolicy at node ${node.name}: ${d.pod} is isolated for ${d.direction.toLowerCase()} by ${d.policies.join(', ')} and no rule allows ${pkt.src} → ${pkt.dst}:${pkt.dstPort}/${protocol} (default deny)` };
  }

  private deliverHop(dest: Extract<Place, { kind: 'pod' }>, pkt: Packet): void {
    const p = dest.pod;
    const by = portServer(p, pkt.dstPort, pkt.protocol, this.ctx.ix.objects.services);
    const port = `${pkt.dstPort}/${pkt.protocol.toUpperCase()}`;
    const note = by && 'container' in by
      ? `pod ${podKey(p)}: container ${by.container.name} declares containerPort ${port}`
      : by
        ? `pod ${podKey(p)}: the Gateway controller's nginx listens on ${port} for port ${by.listenerPort} of Gateway ${by.gateway} (a port per Gateway listener, opened as Gateways come, so not in the pod's spec)`
        : `pod ${podKey(p)}: no container declares ${port} (whether a socket listens there is not known offline)`;
    this.hop('deliver', dest, pkt, pkt, note, { object: { kind: 'Pod', namespace: p.metadata.namespace ?? 'default', name: p.metadata.name! } });
  }

  /** nginx's choice for the request, and its own connection to the chosen endpoint. */
  private ingressHop(at: Extract<Place, { kind: 'pod' }>, pkt: Packet, url: URL): { ok: boolean; reason: string; pkt?: Packet } {
    const o = this.ctx.ix.objects;
    const cc = controllerClass(o.ingressClasses);
    const model = this.ctx.ix.memo('ingress model', () => buildModel({ ingresses: o.ingresses, classes: o.ingressClasses, services: o.services, slices: o.slices, secrets: o.secrets }, { class: cc }));
    const scheme = url.protocol === 'https:' ? 'https' : 'http';
    const r = ingressRoute(model, { scheme, host: url.host, ...(scheme === 'https' ? { sni: url.hostname } : {}), method: 'GET', target: `${url.pathname}${url.search}`, headers: {}, clientIP: pkt.src });
    const backend = r.backend?.service ? `${r.backend.service.name}:${r.backend.service.port?.number ?? r.backend.service.port?.name}` : undefined;
    const parts = [
      `IngressClass ${cc.ingressClass} (${cc.controller})`,
      r.ingress ? `Ingress ${r.ingress} host ${r.host ?? '*'} path ${r.path ?? '-'}${r.pathType ? ` (${r.pathType})` : ''}` : `server ${r.server}`,
      ...(backend ? [`backend ${backend}`] : []),
      ...(r.certificate ? [`TLS certificate ${r.certificate}`] : []),
      ...(r.upstream ? [`upstream ${r.upstream} → ${r.endpoints?.length ? r.endpoints.join(', ') : '(no endpoints)'}`] : []),
      ...(r.status !== 200 ? [`nginx answers ${r.status}: ${r.reason}`] : []),
    ];
    const object: ObjectRef | undefined = r.ingress ? { kind: 'Ingress', namespace: r.ingress.split('/')[0]!, name: r.ingress.split('/')[1]! } : undefined;
    if (r.status !== 200 || !r.endpoints?.length) {
      this.hop('ingress', at, pkt, pkt, parts.join('; '), object ? { object } : {});
      return { ok: false, reason: `the Ingress controller ${podKey(at.pod)} answers ${r.status}: ${r.reason}` };
    }
    const eps = r.endpoints.map((e) => {
      const i = e.lastIndexOf(':');
      return { ip: e.slice(0, i), port: Number(e.slice(i + 1)), probability: 1 / r.endpoints!.length };
    });
    const chosen = eps[this.choose(eps, `ingress-nginx upstream ${r.upstream}`)]!;
    parts.push(`the balancer picks ${this.ctx.ix.podName(chosen.ip)} (${chosen.ip}:${chosen.port}); nginx connects from the pod's own address (pod IPs from the EndpointSlices, not the Service's ClusterIP)`);
    const next: Packet = { protocol: 'tcp', src: at.pod.status!.podIP!, srcPort: (this.req.srcPort ?? defaultSrcPort) + 1, dst: chosen.ip, dstPort: chosen.port };
    this.hop('ingress', at, pkt, next, parts.join('; '), object ? { object } : {});
    return { ok: true, reason: '', pkt: next };
  }

  /**
   * The Gateway controller's choice (the listener on the port the request reached, the HTTPRoute
   * rule, its filters, the backendRef), computed by `podpath gateway route`'s functions, and its
   * own connection to an endpoint of the chosen backend. Where each Gateway has a Service of its
   * own, the port nginx was reached on (the Service's target port) names the Gateway and its
   * listener port; else (one shared Service) the oldest Gateway with a listener for the port wins.
   */
  private gatewayHop(at: Extract<Place, { kind: 'pod' }>, pkt: Packet, url: URL): { ok: boolean; reason: string; pkt?: Packet } {
    const o = this.ctx.ix.objects;
    const perGateway = o.services.some(isGatewayService);
    const c = this.ctx.ix.memo('gateway model', () =>
      computeGateways(
        { namespaces: o.namespaces, services: o.services, slices: o.slices, secrets: o.secrets, classes: o.gatewayClasses ?? [], gateways: o.gateways ?? [], routes: o.httpRoutes ?? [], grants: o.referenceGrants ?? [] },
        gatewayControllerName,
        undefined,
        perGateway,
      ),
    );
    const own = perGateway ? gatewayAtTargetPort(o.services, pkt.dstPort) : undefined;
    const listenerPort = own?.port ?? pkt.dstPort;
    const scheme = url.protocol === 'https:' ? 'https' : 'http';
    const req = { scheme, port: listenerPort, host: url.host, ...(scheme === 'https' ? { sni: url.hostname } : {}), method: 'GET', path: url.pathname || '/', search: url.search, headers: {} } as const;
    const gws = [...c.model.gateways.values()].filter((g) => !perGateway || g.key === own?.gateway).sort((a, b) => byAge(a.gateway, b.gateway));
    const results = gws.map((g) => gatewayRoute(c.model, g.key, req));
    const r = results.find((x) => x.listener !== null) ?? results[0];
    if (!r) {
      const none = perGateway ? `no Gateway's Service has target port ${pkt.dstPort}` : `no Gateway of a GatewayClass with controllerName ${gatewayControllerName}`;
      this.hop('gateway', at, pkt, pkt, `${none}: nginx answers 404`);
      return { ok: false, reason: `the Gateway controller ${podKey(at.pod)} serves no Gateway${perGateway ? ` on port ${pkt.dstPort}` : ''}` };
    }
    const rule = r.route !== null ? `HTTPRoute ${r.route} rule ${r.rule}${r.match ? ` (${r.match.text}; hostname ${r.match.hostname})` : ''}` : undefined;
    const b = r.backend?.service;
    const upstream = b ? c.plane.upstreams.get(`${b.namespace}-${b.name}-${b.port}`) : undefined;
    const endpoints = upstream?.endpoints.map((e) => `${e.address}:${e.port}`) ?? [];
    const parts = [
      `GatewayClass ${[...new Set((o.gatewayClasses ?? []).filter((g) => g.spec?.controllerName === gatewayControllerName).map((g) => g.metadata.name))].join(', ')} (${gatewayControllerName})`,
      ...(own ? [`nginx's port ${pkt.dstPort} is port ${listenerPort} of Gateway ${own.gateway}'s own Service`] : []),
      `Gateway ${r.gateway}${r.listener ? ` listener ${r.listener} (port ${listenerPort})` : ''}`,
      ...(rule ? [rule] : []),
      ...r.filters.map((f) => `${f.type}: ${f.changes.join(', ')}`),
      ...(r.backends.length > 1 ? [`backendRefs ${r.backends.map((x) => `${x.service.name}:${x.service.port} weight ${x.weight}`).join(', ')} (the largest share shown)`] : []),
      ...(b ? [`backend Service ${b.namespace}/${b.name} port ${b.port}`, `upstream ${upstream?.name ?? '?'} → ${endpoints.length ? endpoints.join(', ') : '(no endpoints)'}`] : []),
      ...(r.status !== 200 ? [`nginx answers ${r.status}: ${r.reason}`] : []),
    ];
    const object: ObjectRef = r.route ? { kind: 'HTTPRoute', namespace: r.route.split('/')[0]!, name: r.route.split('/')[1]! } : { kind: 'Gateway', namespace: r.gateway.split('/')[0]!, name: r.gateway.split('/')[1]! };
    const gateway = { gateway: r.gateway, listener: r.listener, port: listenerPort };
    if (r.status !== 200 || !upstream?.endpoints.length) {
      this.hop('gateway', at, pkt, pkt, parts.join('; '), { object, gateway });
      return { ok: false, reason: `the Gateway controller ${podKey(at.pod)} answers ${r.status !== 200 ? r.status : 503}: ${r.status !== 200 ? r.reason : `Service ${b!.namespace}/${b!.name} has no ready endpoints`}` };
    }
    const eps = upstream.endpoints.map((e) => ({ ip: e.address, port: e.port, probability: 1 / upstream.endpoints.length }));
    const chosen = eps[this.choose(eps, `gateway upstream ${upstream.name}`)]!;
    parts.push(`the balancer picks ${this.ctx.ix.podName(chosen.ip)} (${chosen.ip}:${chosen.port}); nginx connects from the pod's own address`);
    const next: Packet = { protocol: 'tcp', src: at.pod.status!.podIP!, srcPort: (this.req.srcPort ?? defaultSrcPort) + 1, dst: chosen.ip, dstPort: chosen.port };
    this.hop('gateway', at, pkt, next, parts.join('; '), { object, gateway });
    return { ok: true, reason: '', pkt: next };
  }

  /** The replies, last connection first: each back through the conntrack entries its request left. */
  private replies(legs: { start: Place; pkt: Packet; res: LegResult }[]): void {
    for (const leg of [...legs].reverse()) {
      const arrived = leg.res.pkt;
      let pkt: Packet = { protocol: arrived.protocol, src: arrived.dst, srcPort: arrived.dstPort, dst: arrived.src, dstPort: arrived.srcPort };
      for (const e of [...leg.res.nat].reverse()) {
        const before = pkt;
        pkt = { protocol: e.original.protocol, src: e.original.dst, srcPort: e.original.dstPort, dst: e.original.src, dstPort: e.original.srcPort };
        const undo: string[] = [];
        if (e.original.dst !== e.translated.dst || e.original.dstPort !== e.translated.dstPort) undo.push(`source ${e.translated.dst}:${e.translated.dstPort} back to ${e.original.dst}:${e.original.dstPort} (un-DNAT)`);
        if (e.original.src !== e.translated.src || e.original.srcPort !== e.translated.srcPort) undo.push(`destination ${e.translated.src}:${e.translated.srcPort} back to ${e.original.src}:${e.original.srcPort} (un-SNAT)`);
        this.hop('reply', { node: e.node }, before, pkt, `the reply matches the conntrack entry's reply tuple: ${undo.join(', ')}`);
      }
      this.hop('reply', leg.start, pkt, pkt, `${placeName(leg.start)} receives ${tupleText(pkt)}: the tuple it sent, reversed`);
    }
  }
}

function controllerClass(classes: { metadata: { name?: string }; spec?: { controller?: string } }[]): ControllerClass {
  const ours = classes.find((c) => c.spec?.controller === defaultControllerClass.controller);
  return { ...defaultControllerClass, ...(ours?.metadata.name ? { ingressClass: ours.metadata.name } : {}) };
}

function lbOwner(ix: ClusterIndex, ip: string): string {
  const svc = ix.objects.services.find((s) => s.status?.loadBalancer?.ingress?.some((i) => i.ip === ip));
  return svc ? `Service ${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}` : 'a LoadBalancer Service';
}

function lbObject(ix: ClusterIndex, ip: string): ObjectRef | undefined {
  const svc = ix.objects.services.find((s) => s.status?.loadBalancer?.ingress?.some((i) => i.ip === ip));
  return svc ? { kind: 'Service', namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name! } : undefined;
}

/** The entry as `conntrack -L` prints a new connection: original tuple, then the reply tuple it expects. */
export function conntrackLine(orig: Packet, out: Packet): string {
  const t = (p: Packet) => `src=${p.src} dst=${p.dst} sport=${p.srcPort} dport=${p.dstPort}`;
  const reply: Packet = { protocol: out.protocol, src: out.dst, srcPort: out.dstPort, dst: out.src, dstPort: out.srcPort };
  const num = orig.protocol === 'tcp' ? 6 : orig.protocol === 'udp' ? 17 : 132;
  return `${orig.protocol} ${num} ${orig.protocol === 'tcp' ? 'SYN_SENT ' : ''}${t(orig)} [UNREPLIED] ${t(reply)}`;
}

export function trace(ctx: TraceContext, req: TraceRequest): Trace {
  return new Tracer(ctx, req).run();
}

