// `podpath trace --observe`: one real probe of the connection while the kernel reports its path.
// In every network namespace the path may cross, a small table of our own marks the probe's
// packets (`meta nftrace set 1`, matched on what is known of their tuple there, rate-limited) and
// `nft monitor trace` listens; in each node's, `conntrack -E` reports the connection's NAT. The
// observed path is then joined from those reports: the probe's tuple seen in the source, the
// same tuple entering a node, that node's rules in order, its conntrack entry's reply tuple
// giving the tuple after NAT, that tuple seen in the next namespace, until a pod's (a socket on a
// node — a userspace proxy — leads on to the node's own next connection). Every table and
// monitor is removed on the way out, on failure and on SIGINT/SIGTERM too. compare.ts sets the
// result beside the computed path.
import fs from 'node:fs';
import { defaultExecutor, type Executor } from '../exec/exec.ts';
import { killGroup } from '../exec/proc.ts';
import { startInteractive, type Interactive } from '../exec/stream.ts';
import { parseTarget, type TraceRequest } from './engine.ts';
import { compareObserved } from './compare.ts';
import { hookOf, kernelTrace, ruleByHandle, type KernelRules, type KernelTraceContext } from './kernel.ts';
import { conntrackNewGroup, nftraceGroup, parseConntrackEvents, parseTraceEvents, subscribed, traceTableText, translated, traversals, type ConntrackEvent, type TraceEvent, type TraceHook, type TraceMatch, type Traversal } from './nftrace.ts';
import { parseProbe, probeArgv, type ProbeRequest } from './probe.ts';
import { sameTuple, tupleText, TraceError, type Observation, type ObservedHop, type Packet, type ProbeResult, type RuleRef, type Trace } from './types.ts';

/** A namespace to watch: where it is in the cluster, and what marks the probe's packets there. */
export interface WatchedNamespace {
  /** the network namespace's name under /run/netns */
  netns: string;
  /** client, node/NAME or pod/NS/NAME */
  place: string;
  /** a node's name: its rules and its conntrack are read */
  node?: string;
  /** a pod's NS/NAME: a packet seen here is delivered */
  pod?: string;
  /** prerouting: packets coming in; input: those delivered here; output: packets this namespace sends (the source's, a node's own connections) */
  hooks: TraceHook[];
  match: TraceMatch;
}

/** The raw reports of one observation, per namespace. */
export interface Reports {
  events: Map<string, TraceEvent[]>;
  conntrack: Map<string, ConntrackEvent[]>;
  /** what each monitor printed, by "trace NETNS" or "conntrack NETNS" */
  text: Map<string, string>;
  probe: ProbeResult;
  timeMs: number;
}

export interface ObserveRun {
  namespaces: WatchedNamespace[];
  probe: () => Promise<ProbeResult>;
  executor?: Executor;
  /** the marking table's name (one per process, so two traces at once do not collide) */
  table?: string;
}

const monitorReady = (pid: number, groups: number): boolean => {
  try {
    const inodes = new Set(
      fs
        .readdirSync(`/proc/${pid}/fd`)
        .map((f) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${f}`))?.[1];
          } catch {
            return undefined;
          }
        })
        .filter((x): x is string => x !== undefined),
    );
    return subscribed(fs.readFileSync(`/proc/${pid}/net/netlink`, 'utf8'), inodes, groups);
  } catch {
    return false;
  }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const defaultTraceTable = () => `podpath-trace-${process.pid}`;

/**
 * Installs the marking tables, starts the monitors, waits until each listens, runs the probe,
 * waits for the reports to stop coming, and removes everything (the tables by name, the monitors
 * by process group) — whatever happens, SIGINT and SIGTERM included.
 */
export async function watchProbe(run: ObserveRun): Promise<Reports> {
  const ex = run.executor ?? defaultExecutor;
  const table = run.table ?? defaultTraceTable();
  const t0 = process.hrtime.bigint();
  const installed: string[] = [];
  const monitors: { ns: WatchedNamespace; kind: 'trace' | 'conntrack'; proc: Interactive; out: string[] }[] = [];
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    for (const m of monitors) m.proc.kill('SIGTERM');
    for (const ns of installed) ex.exec(['nft', 'delete', 'table', 'ip', table], { netns: ns, allowFail: true, timeoutMs: 10_000 });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    cleanup();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // one transaction per namespace: a leftover of a killed trace of this process id is replaced
    installed.push(...run.namespaces.map((ns) => ns.netns));
    const added = await Promise.all(run.namespaces.map((ns) => ex.execAsync(['nft', '-f', '-'], { netns: ns.netns, input: `table ip ${table}\ndelete table ip ${table}\n${traceTableText(table, ns.hooks, ns.match)}`, timeoutMs: 10_000 })));
    added.forEach((r, i) => {
      const ns = run.namespaces[i]!;
      if (r.status !== 0) throw new TraceError('BadState', `cannot add the trace table in ${ns.place} (${ns.netns}): ${(r.error ?? r.stderr).trim()}`);
    });
    for (const ns of run.namespaces) {
      const start = (kind: 'trace' | 'conntrack', argv: string[]) => {
        const proc = startInteractive(argv, { netns: ns.netns, env, tty: false });
        const m = { ns, kind, proc, out: [] as string[] };
        proc.stdout.on('data', (d: Buffer) => m.out.push(d.toString()));
        proc.stderr?.on('data', (d: Buffer) => m.out.push(d.toString()));
        monitors.push(m);
      };
      start('trace', ['nft', '-a', 'monitor', 'trace']);
      if (ns.node) start('conntrack', ['conntrack', '-E', '-e', 'NEW']);
    }
    // listening once subscribed to their netlink groups; the probe must not start before
    const deadline = Date.now() + 5_000;
    for (const m of monitors) {
      while (!monitorReady(m.proc.pid, m.kind === 'trace' ? nftraceGroup : conntrackNewGroup)) {
        const exited = await Promise.race([m.proc.exited.then(() => true), sleep(10).then(() => false)]);
        if (exited) throw new TraceError('BadState', `${m.kind === 'trace' ? 'nft monitor trace' : 'conntrack -E'} in ${m.ns.place} exited: ${m.out.join('').trim() || 'no output'}`);
        if (Date.now() > deadline) throw new TraceError('BadState', `${m.kind === 'trace' ? 'nft monitor trace' : 'conntrack -E'} in ${m.ns.place} did not start listening within 5 s`);
      }
    }
    const probe = await run.probe();
    // the reports come as the packets pass; once nothing new has come for a while, all have
    let size = -1;
    for (let i = 0; i < 50; i++) {
      await sleep(20);
      const now = monitors.reduce((n, m) => n + m.out.length, 0);
      if (now === size && i >= 3) break;
      size = now;
    }
    const events = new Map<string, TraceEvent[]>();
    const conntrack = new Map<string, ConntrackEvent[]>();
    const text = new Map<string, string>();
    for (const m of monitors) {
      const out = m.out.join('');
      text.set(`${m.kind} ${m.ns.netns}`, out);
      if (m.kind === 'trace') events.set(m.ns.netns, parseTraceEvents(out));
      else conntrack.set(m.ns.netns, parseConntrackEvents(out));
    }
    // the tables go in parallel here; on a failure or a signal cleanup() does it synchronously
    for (const m of monitors) m.proc.kill('SIGTERM');
    const deleted = await Promise.all(installed.map((ns) => ex.execAsync(['nft', 'delete', 'table', 'ip', table], { netns: ns, timeoutMs: 10_000 })));
    cleaned = deleted.every((r) => r.status === 0);
    await Promise.all(monitors.map((m) => Promise.race([m.proc.exited, sleep(2_000).then(() => killGroup(m.proc.pid, 'SIGKILL'))])));
    return { events, conntrack, text, probe, timeMs: Number(process.hrtime.bigint() - t0) / 1e6 };
  } finally {
    cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** Jumps into chains where nothing matched are left out, as the walkers leave them out. */
function actedRules(events: TraceEvent[]): TraceEvent[] {
  let rules = events.filter((e) => e.type === 'rule');
  for (let changed = true; changed; ) {
    changed = false;
    rules = rules.filter((e, i) => {
      const j = /^(?:jump|goto) (\S+)$/.exec(e.verdict ?? '');
      if (!j) return true;
      const next = rules[i + 1];
      if (next && next.chain === j[1] && next.table === e.table && next.family === e.family) return true;
      changed = true;
      return false;
    });
  }
  return rules;
}

/** Each node's rules by handle: as read before the probe, else as read after it (nft never reuses a handle in a table). */
function ruleLookups(kernel: Map<string, KernelRules>, after: Map<string, KernelRules>) {
  return new Map(
    [...kernel].map(([node, k]) => {
      const before = ruleByHandle(k);
      const again = after.has(node) ? ruleByHandle(after.get(node)!) : undefined;
      const rule: typeof before = (family, table, chain, handle) => before(family, table, chain, handle) ?? again?.(family, table, chain, handle);
      return [node, { rule, k }];
    }),
  );
}

/** The nodes where a rule acted in the probe that their rules as read before it do not hold. */
export function nodesWithUnknownRules(namespaces: WatchedNamespace[], reports: Reports, kernel: Map<string, KernelRules>, table: string): string[] {
  const out = new Set<string>();
  for (const ns of namespaces) {
    const k = ns.node ? kernel.get(ns.node) : undefined;
    if (!k) continue;
    const rule = ruleByHandle(k);
    const unknown = (reports.events.get(ns.netns) ?? []).some((e) => e.type === 'rule' && e.handle !== undefined && !(e.family === 'ip' && e.table === table) && !rule(e.family, e.table, e.chain, e.handle));
    if (unknown) out.add(ns.node!);
  }
  return [...out];
}

/**
 * The observed path: the probe's tuple followed from the source through each namespace's
 * reports. `kernel` holds the rules of each node as read before the probe (for the rules' text);
 * `podName` names the pod an address belongs to (when the packet is seen in no pod's namespace,
 * the address NAT sent it to still names the endpoint).
 */
export function joinReports(namespaces: WatchedNamespace[], reports: Reports, tuple: Packet, kernel: Map<string, KernelRules>, table: string, podName: (ip: string) => string, after = new Map<string, KernelRules>()): Omit<Observation, 'differences' | 'timeMs' | 'watched'> {
  const hops: ObservedHop[] = [];
  const add = (h: Omit<ObservedHop, 'step'>) => hops.push({ step: hops.length + 1, ...h });
  const at = (ns: WatchedNamespace) => (ns.node ? { node: ns.node } : { namespace: ns.place });
  const probe = { ...reports.probe, tuple };
  const marker = { family: 'ip', table };
  const walks = new Map(namespaces.map((ns) => [ns.netns, traversals(reports.events.get(ns.netns) ?? [], marker)]));
  const lookups = ruleLookups(kernel, after);
  let cur = namespaces[0]!;
  let t = tuple;
  // each walk is one packet's pass through a namespace: a namespace may be crossed twice (a node bridging an Ingress controller's connection onward), a walk once
  const used = new Set<Traversal>();
  for (let n = 0; n < 12; n++) {
    // coming in (prerouting), or sent from here: the source's probe, a proxy's or controller's connection onward
    const walk = walks.get(cur.netns)?.find((w) => !used.has(w) && sameTuple(w.pkt, t) && (n === 0 || w.chain === 'prerouting' || hops.at(-1)?.kind === 'proxy' || hops.at(-1)?.kind === 'ingress'));
    if (walk) used.add(walk);
    if (!walk) {
      if (n === 0) return { verdict: 'unknown', reason: `the probe's first packet (${tupleText(t)}) was not seen in ${cur.place}: ${probe.ok ? 'the kernel reported nothing' : probe.error ?? 'the probe failed'}`, probe, hops };
      break;
    }
    if (cur.pod && n > 0 && walk.chain !== 'output') {
      // a pod watched on its way out too (an Ingress controller) goes on with its own connection: the next packet it sends toward a watched address
      const here = walks.get(cur.netns) ?? [];
      const onward = cur.hooks.includes('output') ? here.slice(here.indexOf(walk) + 1).find((w) => w.chain === 'output' && w.pkt.dst !== t.src && w.pkt.dstPort !== t.srcPort) : undefined;
      if (onward) {
        const reused = onward.first ? '' : ' (not a new connection: one the pod had open already, so no nat chain and no conntrack event is met again)';
        add({ kind: 'ingress', ...at(cur), packet: { before: t, after: onward.pkt }, ...(onward.first ? {} : { reused: true as const }), note: `the request arrives in pod ${cur.pod}, which sends on ${tupleText(onward.pkt)}${reused}` });
        t = onward.pkt;
        continue;
      }
      add({ kind: 'deliver', ...at(cur), packet: { before: t, after: t }, note: `the packet arrives in pod ${cur.pod}'s network namespace (${cur.netns})` });
      return { verdict: 'delivered', reason: `delivered to ${cur.pod} at ${t.dst}:${t.dstPort}`, probe, hops, endpoint: { pod: cur.pod, ip: t.dst, port: t.dstPort } };
    }
    const look = cur.node ? lookups.get(cur.node) : undefined;
    // the rules that acted, each with the packet as the kernel showed it entering that base chain
    let pkt = walk.pkt;
    let last = walk.pkt;
    let hook: string | undefined = walk.chain;
    let local = false;
    let oif: string | undefined;
    const acted = new Set(actedRules(walk.events));
    for (const e of walk.events) {
      if (e.type === 'packet') {
        if (e.pkt) pkt = e.pkt;
        if (e.oif) oif = e.oif;
        const ours = e.family === 'ip' && e.table === table;
        const h = ours ? e.chain : look ? hookOf(look.k, e.family, e.table, e.chain) : undefined;
        if (h) hook = h;
        if (h === 'input') local = true;
        continue;
      }
      if (!acted.has(e) || (e.family === 'ip' && e.table === table)) continue;
      const known = e.handle !== undefined ? look?.rule(e.family, e.table, e.chain, e.handle) : undefined;
      const rule: RuleRef = { ...(known ?? { table: `${e.family} ${e.table}`, chain: e.chain, text: e.text }), action: `verdict ${e.verdict ?? 'continue'}` };
      add({ kind: 'netfilter', ...at(cur), ...(hook ? { hook } : {}), packet: { before: last, after: pkt }, rule, note: `nft monitor trace: ${e.family} ${e.table} ${e.chain} rule${e.handle !== undefined ? ` handle ${e.handle}` : ''} (verdict ${e.verdict ?? 'continue'})` });
      last = pkt;
      if (/^drop\b/.test(e.verdict ?? '')) {
        const rejected = /\breject\b/i.test(e.text) || /-j REJECT\b/.test(rule.text);
        return { verdict: rejected ? 'rejected' : 'dropped', reason: `${rejected ? 'rejected' : 'dropped'} in ${cur.place} by ${rule.table} ${rule.chain}: ${rule.text}`, probe, hops };
      }
    }
    const policyDrop = walk.events.find((e) => e.type === 'policy' && /^drop/.test(e.verdict ?? ''));
    if (policyDrop) return { verdict: 'dropped', reason: `dropped in ${cur.place} by the policy of ${policyDrop.family} ${policyDrop.table} ${policyDrop.chain}`, probe, hops };
    if (cur.node) {
      const ct = reports.conntrack.get(cur.netns)?.find((c) => sameTuple(c.original, t));
      const out = ct && translated(ct);
      if (ct && out && !sameTuple(out, t)) {
        const r = ct.reply;
        add({ kind: 'conntrack', ...at(cur), packet: { before: t, after: out }, note: `conntrack -E: [NEW] ${t.protocol} src=${t.src} dst=${t.dst} sport=${t.srcPort} dport=${t.dstPort} src=${r.src} dst=${r.dst} sport=${r.srcPort} dport=${r.dstPort}` });
        t = out;
      }
      // taken by a socket on the node (a userspace proxy): its own connection is the next one the node sends toward a watched address
      const walksHere = walks.get(cur.netns) ?? [];
      const onward = local ? walksHere.slice(walksHere.indexOf(walk) + 1).find((w) => w.chain === 'output' && w.first && !sameTuple(w.pkt, t)) : undefined;
      if (local && onward) {
        add({ kind: 'proxy', ...at(cur), packet: { before: t, after: onward.pkt }, note: `a socket on node ${cur.node} accepted ${t.dst}:${t.dstPort} (input hook); the node's next new connection toward a watched address follows: ${tupleText(onward.pkt)}` });
        t = onward.pkt;
        continue;
      }
      if (local) return { verdict: 'unknown', reason: `a socket on node ${cur.node} accepted ${t.dst}:${t.dstPort}; no connection onward from the node was seen`, probe, hops };
    }
    // where the packet comes in next (a namespace's output walks are its own sending); nodes come before pods in the list: a packet crosses a node before it reaches a pod
    const next = namespaces.find((ns) => ns !== cur && walks.get(ns.netns)?.some((w) => !used.has(w) && w.chain === 'prerouting' && sameTuple(w.pkt, t)));
    if (!next) {
      const where = oif ? ` out of ${oif}` : '';
      return { verdict: 'unknown', reason: `the packet (${tupleText(t)}) left ${cur.place}${where} and was seen in no other namespace watched`, probe, hops, ...(podName(t.dst) !== t.dst ? { endpoint: { pod: podName(t.dst), ip: t.dst, port: t.dstPort } } : {}) };
    }
    add({ kind: 'route', ...at(cur), packet: { before: t, after: t }, note: `${oif ? `out of ${oif}; ` : ''}seen next in ${next.place}` });
    cur = next;
  }
  return { verdict: 'unknown', reason: 'the observed path does not end', probe, hops };
}

export interface ObserveContext extends KernelTraceContext {
  /** the network namespace of a place (client, node/NAME, pod/NS/NAME), if it has one here */
  netnsOf(place: string): string | undefined;
  /** a CA file an https URL's certificate is checked against */
  ca?: string;
  executor?: Executor;
  /** the marking table's name */
  table?: string;
  /**
   * A node's rules read again: a rule that acted in the probe but was not there when they were
   * read before (kube-proxy rewrote its chain meanwhile, under new handles) is named from these.
   */
  readKernel?: (node: string) => Promise<KernelRules>;
}

/** The request's first packet as its source sends it (after name resolution). */
function firstPacket(t: Trace): Packet | undefined {
  return t.hops.find((h) => h.kind !== 'resolve')?.packet.before;
}

/**
 * The namespaces to watch for a computed trace: the source (its output hook, matched on the full
 * tuple: the probe's source port is fixed), then every node (the path's, and those of every
 * candidate endpoint) and every pod the path or a candidate reaches (their prerouting hook,
 * matched on the addresses and ports the path may have there, every node's addresses among the
 * sources: after NAT the source port is the kernel's pick).
 */
export function watchedNamespaces(t: Trace, c: ObserveContext, tuple: Packet): WatchedNamespace[] {
  const firstReply = t.hops.findIndex((h) => h.kind === 'reply');
  const request = firstReply < 0 ? t.hops : t.hops.slice(0, firstReply);
  const packets = request.filter((h) => h.kind !== 'resolve').flatMap((h) => [h.packet.before, h.packet.after]);
  const uniq = <T>(xs: T[]) => [...new Set(xs)].sort();
  const podOf = (p: string) => (p.includes('/') ? c.ix.pod(p) : undefined);
  const candidatePods = [...t.candidates.map((x) => x.pod), ...(t.endpoint ? [t.endpoint.pod] : [])].filter((p) => podOf(p));
  // after a MASQUERADE the source is a node's address on the way out (its underlay address, its cni0 gateway): any node's, as the kernel may have taken another path than the one computed
  const nodeAddresses = [...c.ix.nodes.values()].flatMap((n) => [n.ip, n.gateway]);
  const match: TraceMatch = {
    protocol: tuple.protocol,
    src: uniq([...packets.map((p) => p.src), ...nodeAddresses]),
    dst: uniq([...packets.map((p) => p.dst), ...t.candidates.map((x) => x.ip)]),
    dstPort: uniq([...packets.map((p) => p.dstPort), ...t.candidates.map((x) => x.port)]),
  };
  const places = [
    ...request.flatMap((h) => (h.node ? [`node/${h.node}`] : h.namespace?.startsWith('pod/') ? [h.namespace] : [])),
    ...candidatePods.flatMap((p) => {
      const n = c.ix.nodeOfPod(podOf(p)!);
      return [...(n ? [`node/${n.name}`] : []), `pod/${p}`];
    }),
  ];
  const src = c.netnsOf(t.from);
  if (!src) throw new TraceError('BadSource', `--from ${t.from}: no network namespace to send the probe from`);
  const out: WatchedNamespace[] = [{ netns: src, place: t.from, ...placeOf(t.from), hooks: ['output'], match: { protocol: tuple.protocol, src: [tuple.src], srcPort: tuple.srcPort, dst: [tuple.dst], dstPort: [tuple.dstPort] } }];
  // nodes before pods: the join looks for a packet's next namespace in this order, and a packet crosses a node before it reaches a pod
  const ordered = [...new Set(places)].sort((a, b) => Number(b.startsWith('node/')) - Number(a.startsWith('node/')));
  for (const p of ordered) {
    const netns = c.netnsOf(p);
    if (!netns || out.some((w) => w.netns === netns)) continue;
    // nodes (a userspace proxy's connection) and pods that connect onward (an Ingress controller) are watched on their way out too
    const onward = request.some((h) => h.kind === 'ingress' && h.namespace === p);
    out.push({ netns, place: p, ...placeOf(p), hooks: p.startsWith('node/') ? ['prerouting', 'input', 'output'] : onward ? ['prerouting', 'output'] : ['prerouting'], match });
  }
  return out;
}

function placeOf(p: string): { node?: string; pod?: string } {
  if (p.startsWith('node/')) return { node: p.slice(5) };
  if (p.startsWith('pod/')) return { pod: p.slice(4) };
  return {};
}

/**
 * `--observe`: the computed trace, one probe watched in every namespace it may cross, the
 * computed trace again along the endpoint the kernel chose (so a random choice is not a
 * difference), and the two side by side.
 */
export async function observeTrace(c: ObserveContext, req: TraceRequest): Promise<Trace> {
  const ex = c.executor ?? defaultExecutor;
  const srcPort = req.srcPort ?? 40000 + Math.floor(Math.random() * 20000);
  const first = kernelTrace(c, { ...req, srcPort });
  const tuple = firstPacket(first);
  if (!tuple?.dst) throw new TraceError('BadDestination', `--to ${req.to}: ${first.reason}; nothing to probe`);
  const target = parseTarget(req.to);
  const namespaces = watchedNamespaces(first, c, tuple);
  const source = namespaces[0]!;
  const probeReq: ProbeRequest = {
    protocol: tuple.protocol,
    // a Service named as svc/NS/NAME is connected to at its ClusterIP, as the trace resolved it
    host: target.service ? tuple.dst : target.host,
    port: tuple.dstPort,
    srcPort,
    ...(target.url ? { url: target.url.href } : {}),
    ...(c.ca && target.url?.protocol === 'https:' ? { ca: c.ca } : {}),
  };
  // with the namespace's own /etc (resolv.conf, hosts), as its processes resolve names
  const probe = async () => {
    const r = await ex.execAsync(probeArgv(probeReq), { netns: source.netns, netnsEtc: true, timeoutMs: 15_000 });
    return parseProbe(r.stdout, r.error ?? r.stderr);
  };
  const table = c.table ?? defaultTraceTable();
  const reports = await watchProbe({ namespaces, probe, executor: ex, table });
  const reread = c.readKernel ? nodesWithUnknownRules(namespaces, reports, c.kernel, table) : [];
  const after = new Map(await Promise.all(reread.map(async (n) => [n, await c.readKernel!(n)] as const)));
  const joined = joinReports(namespaces, reports, tuple, c.kernel, table, (ip) => c.ix.podName(ip), after);
  const prefer = joined.endpoint ? [joined.endpoint.pod, joined.endpoint.ip] : [];
  // computed again as the kernel saw it: along the endpoint it chose, and over the connection onward the controller already had open, if it had one
  const onwardOpen = joined.hops.some((h) => h.reused);
  const computed = kernelTrace(c, { ...req, srcPort, prefer: [...prefer, ...(req.prefer ?? [])], ...(onwardOpen ? { onwardOpen } : {}) });
  const remote = reports.probe.remote;
  const out = compareObserved(computed, { ...joined, watched: namespaces.map((n) => n.place), timeMs: reports.timeMs });
  if (remote && remote !== `${tuple.dst}:${tuple.dstPort}`) out.observed!.differences.unshift(`the probe connected to ${remote}; the computed path goes to ${tuple.dst}:${tuple.dstPort}`);
  return out;
}
