// What the node agent measures of its pods for the Summary API (/stats/summary), as cAdvisor does
// for the kubelet: every metricResolutionSeconds, each running container's CPU time and memory;
// CPU as a rate over the window between the last two measurements, and that window.
//
// podpath has no cgroup per container: a container is the processes in its mount namespace (its
// process, what it forked — daemons too — and what `kubectl exec` ran in it), as a cgroup holds
// them. CPU is utime+stime of each of them plus the cutime+cstime of the children they have
// reaped (/proc/PID/stat), so a short-lived child's time is counted once it is waited for; the
// working set is the sum of their resident set sizes (pages shared between them are counted in
// each). The node's usage is the agent's own process plus its pods' containers — the machine's
// other processes belong to no node, since every node of a lab is the same kernel. (The agent's
// reaped children are left out: a container's first process is one of them, and its whole life's
// CPU time would land in the agent's at once when it exits.) The node's rate is the sum of its
// parts' rates over the window: a container that started within it counts from zero, one that
// ended within it counts no more.
import fs from 'node:fs';
import type { ContainerStats, CPUStats, MemoryStats, PodStats, Summary } from '../api/stats.ts';
import { defaultExecutor } from '../exec/exec.ts';
import { apiTime } from './clock.ts';

/** What is read of one process's /proc/PID/stat. */
export interface ProcStat {
  pid: number;
  /** utime + stime + cutime + cstime, in clock ticks */
  cpuTicks: number;
  /** utime + stime alone (the process itself, without its reaped children) */
  ownTicks: number;
  /** resident set size, in pages */
  rssPages: number;
}

/** /proc/PID/stat: the fields after the command name (which may hold spaces and parentheses). */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf(' ')));
  // f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17, rss 24.
  const f = text.slice(close + 2).trim().split(/\s+/);
  const n = (i: number) => Number(f[i]);
  const [utime, stime, cutime, cstime, rss] = [n(11), n(12), n(13), n(14), n(21)];
  if (![pid, utime, stime, cutime, cstime, rss].every(Number.isFinite)) return undefined;
  return { pid, cpuTicks: utime + stime + cutime + cstime, ownTicks: utime + stime, rssPages: rss };
}

/** A cumulative measurement of one container (or pod, or node) at a time. */
export interface Sample {
  /** when, in ms since the epoch */
  t: number;
  /** CPU time used so far, in nanoseconds */
  cpuNs: number;
  /** working set, in bytes */
  bytes: number;
}

/** The CPU time and memory of a set of processes. */
export function sampleOf(stats: ProcStat[], t: number, clkTck: number, pageSize: number): Sample {
  let ticks = 0;
  let pages = 0;
  for (const s of stats) {
    ticks += s.cpuTicks;
    pages += s.rssPages;
  }
  return { t, cpuNs: Math.round((ticks * 1e9) / clkTck), bytes: pages * pageSize };
}

/** CPU use in nanocores between two measurements; undefined when there is no earlier one, no time passed, or the counter went back (processes gone unreaped). */
export function usageNanoCores(prev: Sample | undefined, cur: Sample): number | undefined {
  if (!prev || cur.t <= prev.t || cur.cpuNs < prev.cpuNs) return undefined;
  return Math.round(((cur.cpuNs - prev.cpuNs) * 1e3) / (cur.t - prev.t));
}

/** Where the agent reads processes (a fake table in unit tests). */
export interface ProcFS {
  pids(): number[];
  /** /proc/PID/stat, or undefined when the process is gone */
  stat(pid: number): string | undefined;
  /** the mount namespace /proc/PID/ns/mnt names, or undefined when the process is gone */
  mountNamespace(pid: number): string | undefined;
}

export const hostProcFS: ProcFS = {
  pids: () => fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number),
  stat: (pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return undefined;
    }
  },
  mountNamespace: (pid) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/ns/mnt`);
    } catch {
      return undefined;
    }
  },
};

/** A sysconf value as getconf(1) prints it, or `fallback`. */
function getconf(name: string, fallback: number): number {
  const r = defaultExecutor.exec(['getconf', name]);
  const v = Number(r.stdout.trim());
  return r.status === 0 && v > 0 ? v : fallback;
}

/** A running container of this node, as the runtime knows it. */
export interface RunningContainer {
  pod: { uid: string; namespace: string; name: string; startTime: string };
  name: string;
  pid: number;
  startTime: string;
}

interface Measured {
  prev?: Sample;
  cur: Sample;
}

/** The node's rate: the agent's own over the window plus each container's (from zero for one new in it). */
export function nodeNanoCores(agent: Measured, containers: Measured[]): number | undefined {
  if (!agent.prev || agent.cur.t <= agent.prev.t) return undefined;
  let ns = Math.max(0, agent.cur.cpuNs - agent.prev.cpuNs);
  for (const c of containers) ns += Math.max(0, c.cur.cpuNs - (c.prev?.cpuNs ?? 0));
  return Math.round((ns * 1e3) / (agent.cur.t - agent.prev.t));
}

export interface StatsOptions {
  nodeName: string;
  /** the agent's own process: the node's share of the machine */
  agentPid: number;
  clkTck?: number;
  pageSize?: number;
}

/** The measurements, the last two of each container and of the node, and the Summary they make. */
export class StatsCollector {
  private readonly clkTck: number;
  private readonly pageSize: number;
  private containers = new Map<string, Measured & { c: RunningContainer }>();
  private agent: Measured | undefined;
  private readonly startTime: string;

  constructor(
    private readonly o: StatsOptions,
    private readonly proc: ProcFS = hostProcFS,
  ) {
    this.clkTck = o.clkTck ?? getconf('CLK_TCK', 100);
    this.pageSize = o.pageSize ?? getconf('PAGESIZE', 4096);
    this.startTime = apiTime(Date.now());
  }

  /** One measurement, at `t` (ms), of `running` (the containers running now; others are forgotten). */
  measure(running: RunningContainer[], t: number): void {
    const hostNs = this.proc.mountNamespace(this.o.agentPid);
    // Each container's mount namespace; one its process has not entered yet (it is still being
    // set up) is the host's, and the container is left out of this measurement.
    const byNs = new Map<string, RunningContainer>();
    for (const c of running) {
      const ns = this.proc.mountNamespace(c.pid);
      if (ns && ns !== hostNs) byNs.set(ns, c);
    }
    const members = new Map<RunningContainer, ProcStat[]>();
    for (const pid of this.proc.pids()) {
      const ns = this.proc.mountNamespace(pid);
      const c = ns === undefined ? undefined : byNs.get(ns);
      if (!c) continue;
      const s = this.proc.stat(pid);
      const st = s === undefined ? undefined : parseStat(s);
      if (st) members.set(c, [...(members.get(c) ?? []), st]);
    }
    const next = new Map<string, Measured & { c: RunningContainer }>();
    for (const [c, stats] of members) {
      // A new instance (another pid) starts its own series.
      const key = `${c.pod.uid}/${c.name}/${c.pid}`;
      next.set(key, { prev: this.containers.get(key)?.cur, cur: sampleOf(stats, t, this.clkTck, this.pageSize), c });
    }
    this.containers = next;
    const own = this.proc.stat(this.o.agentPid);
    const agent = own === undefined ? undefined : parseStat(own);
    if (agent) this.agent = { prev: this.agent?.cur, cur: sampleOf([{ ...agent, cpuTicks: agent.ownTicks }], t, this.clkTck, this.pageSize) };
  }

  /** The node's measurement: the agent's and its containers' together. */
  private nodeStats(): { cpu: CPUStats; memory: MemoryStats } | undefined {
    if (!this.agent) return undefined;
    const parts = [...this.containers.values()];
    const cur: Sample = { t: this.agent.cur.t, cpuNs: this.agent.cur.cpuNs + sum(parts.map((m) => m.cur.cpuNs)), bytes: this.agent.cur.bytes + sum(parts.map((m) => m.cur.bytes)) };
    const rate = nodeNanoCores(this.agent, parts);
    return { cpu: { time: apiTime(cur.t), ...(rate !== undefined ? { usageNanoCores: rate, windowSeconds: windowOf(this.agent) } : {}), usageCoreNanoSeconds: cur.cpuNs }, memory: memoryStats(cur) };
  }

  summary(): Summary {
    const pods = new Map<string, PodStats>();
    for (const m of this.containers.values()) {
      const { c } = m;
      const pod = pods.get(c.pod.uid) ?? { podRef: { name: c.pod.name, namespace: c.pod.namespace, uid: c.pod.uid }, startTime: c.pod.startTime, containers: [] };
      pods.set(c.pod.uid, pod);
      const cs: ContainerStats = { name: c.name, startTime: c.startTime, cpu: cpuStats(m), memory: memoryStats(m.cur) };
      pod.containers.push(cs);
    }
    for (const p of pods.values()) {
      p.containers.sort((a, b) => a.name.localeCompare(b.name));
      const time = p.containers[0]!.cpu!.time;
      const rates = p.containers.map((c) => c.cpu?.usageNanoCores);
      const window = p.containers[0]!.cpu!.windowSeconds;
      p.cpu = { time, usageCoreNanoSeconds: sum(p.containers.map((c) => c.cpu!.usageCoreNanoSeconds)), ...(rates.every((r) => r !== undefined) ? { usageNanoCores: sum(rates as number[]), ...(window !== undefined ? { windowSeconds: window } : {}) } : {}) };
      p.memory = { time, workingSetBytes: sum(p.containers.map((c) => c.memory!.workingSetBytes)), rssBytes: sum(p.containers.map((c) => c.memory!.rssBytes)) };
    }
    return {
      node: { nodeName: this.o.nodeName, startTime: this.startTime, ...this.nodeStats() },
      pods: [...pods.values()].sort((a, b) => a.podRef.namespace.localeCompare(b.podRef.namespace) || a.podRef.name.localeCompare(b.podRef.name)),
    };
  }
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** The seconds between a series' last two measurements. */
function windowOf(m: Measured): number {
  return (m.cur.t - m.prev!.t) / 1000;
}

function cpuStats(m: Measured): CPUStats {
  const rate = usageNanoCores(m.prev, m.cur);
  return { time: apiTime(m.cur.t), ...(rate !== undefined ? { usageNanoCores: rate, windowSeconds: windowOf(m) } : {}), usageCoreNanoSeconds: m.cur.cpuNs };
}

function memoryStats(s: Sample): MemoryStats {
  return { time: apiTime(s.t), workingSetBytes: s.bytes, rssBytes: s.bytes };
}
