// A LoadBalancer IP's holder in a lab, made to die and brought back: which node's underlay
// interface holds the address, what MAC the client's ARP entry names, the client's connections to
// it, and the two ways a node dies (its agent killed by the PID the lab recorded; its underlay
// link cut at the bridge). Shared by test/integration/lab-lbfailover.test.ts and bench/lbfailover.ts.
import { heartbeatIntervalMs } from '../../src/agent/memberlist.ts';
import { realExecutor } from '../../src/exec/exec.ts';
import { ipIn } from '../../src/exec/netns.ts';
import { readState, type LabState } from '../../src/lab/lab.ts';
import { eventually } from './apiserver.ts';
import type { TestLab } from './lab.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The nodes whose underlay interface holds `ip` now (read one node after another, in `order`). */
export function lbHolders(s: LabState, ip: string, order = s.nodes): string[] {
  return order.filter((n) => ipIn(n.netns, '-o', 'addr', 'show', 'dev', 'eth0').includes(` ${ip}/32 `)).map((n) => n.name);
}

export function underlayMAC(s: LabState, node: string): string {
  const n = s.nodes.find((x) => x.name === node)!;
  return (JSON.parse(ipIn(n.netns, '-j', 'link', 'show', 'dev', 'eth0')) as { address: string }[])[0]!.address;
}

/** The MAC the client's ARP entry for `ip` names ('' without one). */
export function clientNeighMAC(s: LabState, ip: string): string {
  return /lladdr (\S+)/.exec(ipIn(s.client, 'neigh', 'show', ip))?.[1] ?? '';
}

/** One HTTP GET from the client namespace; whether it was answered (with any status). */
export function clientGet(s: LabState, url: string, maxTimeSeconds = 1): boolean {
  return realExecutor.exec(['curl', '-s', '-o', '/dev/null', '--max-time', String(maxTimeSeconds), url], { netns: s.client, timeoutMs: (maxTimeSeconds + 2) * 1000 }).status === 0;
}

/** The lab's bridge port of a node (buildNetwork names them node1, node2, …). */
const bridgePort = (s: LabState, node: string) => `node${s.nodes.findIndex((n) => n.name === node) + 1}`;

/** kill: the agent killed (SIGKILL); term: the agent stopped (SIGTERM: it lets go and tells its peers); link: the node's underlay link cut */
export type Death = 'kill' | 'term' | 'link';

/** Signals the node's agent by the PID the lab recorded (nothing else), or cuts its underlay link. */
export function killNode(s: LabState, node: string, how: Death): void {
  if (how === 'link') ipIn(s.underlay, 'link', 'set', bridgePort(s, node), 'down');
  else process.kill(s.pids[`agent-${node}`]!, how === 'kill' ? 'SIGKILL' : 'SIGTERM');
}

/** Brings the node back: its agent started again as the lab started it, or its link up. */
export function reviveNode(lab: TestLab, s: LabState, node: string, how: Death): void {
  if (how !== 'link') {
    const r = lab.podpath(['restart', `agent-${node}`]);
    if (r.code !== 0) throw new Error(`podpath restart agent-${node}: ${r.stderr}`);
  } else ipIn(s.underlay, 'link', 'set', bridgePort(s, node), 'up');
}

export interface Failover {
  /** when the node was made to die (epoch ms) */
  at: number;
  /** kill → the first connection answered through the new holder (its address held, the client's ARP entry naming its MAC) */
  ms: number;
  from: string;
  to: string;
  tries: number;
}

export interface Polling {
  /** at most this many connections… */
  tries: number;
  /** …within this long */
  withinMs: number;
  /** the pause between two */
  pauseMs: number;
  /** each connection's curl --max-time */
  maxTimeSeconds: number;
}

/**
 * Makes `from` (the holder of `ip`) die and has the client connect to `url` until a connection is
 * answered through another node; what was last seen when none was.
 */
export async function failOver(s: LabState, ip: string, url: string, from: string, how: Death, p: Polling = { tries: 15, withinMs: 10_000, pauseMs: 300, maxTimeSeconds: 1 }): Promise<Failover | { last: string }> {
  const macs = new Map(s.nodes.map((n) => [underlayMAC(s, n.name), n.name]));
  const t0 = Date.now();
  killNode(s, from, how);
  let last = '';
  for (let i = 1; i <= p.tries && Date.now() - t0 < p.withinMs; i++) {
    // Only a connection answered is looked into further: one command per try otherwise.
    if (clientGet(s, url, p.maxTimeSeconds)) {
      const ms = Date.now() - t0;
      const holders = lbHolders(s, ip);
      const via = macs.get(clientNeighMAC(s, ip)) ?? '';
      last = `connection answered, holders [${holders}], client ARP entry names ${via || 'no node'}`;
      if (holders.length === 1 && holders[0] !== from && via === holders[0]) return { at: t0, ms, from, to: via, tries: i };
    } else last = 'connection failed';
    await sleep(p.pauseMs);
  }
  return { last };
}

/** The holders of `ip`, sampled every 100 ms until `until` holds it alone (at most `withinMs`); every sample seen. */
export async function watchHolders(s: LabState, ip: string, until: string, withinMs = 20_000): Promise<string[][]> {
  const seen: string[][] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < withinMs) {
    let h = lbHolders(s, ip);
    // The nodes are read one after another: a hand-over between two reads looks like two holders.
    // Read again the other way round; a node counts only if it held in both reads.
    if (h.length > 1) {
      const again = lbHolders(s, ip, [...s.nodes].reverse());
      h = h.filter((n) => again.includes(n));
    }
    seen.push(h);
    if (h.length === 1 && h[0] === until) break;
    await sleep(100);
  }
  return seen;
}

export const labState = (lab: TestLab): LabState => readState(lab.name)!;

const service = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`;

/** Two echo pods on the nodes other than `holder`: a dead holder takes no endpoint with it, so what is measured is the address moving. */
const backends = (holder: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchFields: [{key: metadata.name, operator: NotIn, values: [${holder}]}]
      containers:
      - {name: web, image: podpath/echo, ports: [{containerPort: 8080}]}
`;

export interface LoadBalancedApp {
  s: LabState;
  ip: string;
  url: string;
  /** the node answering for ip */
  holder: string;
}

/** A LoadBalancer Service, its holder, and its pods on the other nodes, answering the client. */
export async function loadBalancedApp(lab: TestLab): Promise<LoadBalancedApp> {
  lab.ok(['apply', '-f', '-'], service);
  const ip: string = await eventually(() => lab.get('/api/v1/namespaces/default/services/web').status?.loadBalancer?.ingress?.[0]?.ip, 20_000, 'an EXTERNAL-IP');
  const s = labState(lab);
  // One holder, the same for three heartbeats: just after the Service gets its address a speaker
  // may claim it before it hears a peer of better rank, which then takes it over.
  let seen: { node: string; since: number } | undefined;
  const holder = (await eventually(
    () => {
      const h = lbHolders(s, ip);
      const one = h.length === 1 ? h[0]! : undefined;
      if (one !== seen?.node) seen = one ? { node: one, since: Date.now() } : undefined;
      return seen && Date.now() - seen.since >= 3 * heartbeatIntervalMs ? seen.node : undefined;
    },
    20_000,
    'one node to hold the LoadBalancer IP, the same for three heartbeats',
  ))!;
  lab.ok(['apply', '-f', '-'], backends(holder));
  const url = `http://${ip}/`;
  await eventually(() => clientGet(s, url), 60_000, 'the LoadBalancer IP to answer');
  return { s, ip, url, holder };
}
