// Stale UDP conntrack entries, as upstream's reconciler finds them after every sync: a UDP
// flow to a Service address (or NodePort) whose reply comes from an address that is no longer
// a serving endpoint of that Service port keeps being NATed to the old endpoint until it is
// deleted. TCP flows are never touched (they end gracefully).
import { defaultExecutor, run, type Executor } from '../exec/exec.ts';
import type { ServicePortInfo } from './model.ts';

export interface ConntrackEntry {
  origDst: string;
  origDport: number;
  replySrc: string;
}

/** Entries of `conntrack -L -p udp` output (the first src/dst/sport/dport are the original direction, the second the reply). */
export function parseConntrack(text: string): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const line of text.split('\n')) {
    if (!/^\s*(ipv4\s+\d+\s+)?udp\s/.test(line)) continue;
    const dst = [...line.matchAll(/\bdst=(\S+)/g)].map((m) => m[1]!);
    const src = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1]!);
    const dport = /\bdport=(\d+)/.exec(line);
    if (dst.length < 2 || src.length < 2 || !dport) continue;
    out.push({ origDst: dst[0]!, origDport: Number(dport[1]), replySrc: src[1]! });
  }
  return out;
}

/** conntrack -D arguments for each stale entry (deduplicated). */
export function staleConntrackDeletes(entries: ConntrackEntry[], udpPorts: ServicePortInfo[]): string[][] {
  const byFrontend = new Map<string, Set<string>>();
  const byNodePort = new Map<number, Set<string>>();
  for (const sp of udpPorts) {
    const serving = new Set(sp.endpoints.filter((e) => e.serving).map((e) => e.ip));
    for (const ip of [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerVIPs]) byFrontend.set(`${ip}:${sp.port}`, serving);
    if (sp.nodePort) byNodePort.set(sp.nodePort, serving);
  }
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const e of entries) {
    const front = byFrontend.get(`${e.origDst}:${e.origDport}`);
    let args: string[] | undefined;
    if (front && !front.has(e.replySrc)) args = ['--orig-dst', e.origDst, '--orig-port-dst', String(e.origDport), '--reply-src', e.replySrc];
    else if (!front) {
      const np = byNodePort.get(e.origDport);
      if (np && !np.has(e.replySrc) && e.replySrc !== e.origDst) args = ['--orig-port-dst', String(e.origDport), '--reply-src', e.replySrc];
    }
    if (!args) continue;
    const k = args.join(' ');
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(args);
  }
  return out;
}

/** Lists UDP flows, deletes the stale ones; returns how many delete calls succeeded. */
export function reconcileConntrack(udpPorts: ServicePortInfo[], ex: Executor = defaultExecutor): number {
  const entries = parseConntrack(run(['conntrack', '-L', '-f', 'ipv4', '-p', 'udp'], { allowFail: true }, ex));
  let n = 0;
  for (const args of staleConntrackDeletes(entries, udpPorts)) {
    run(['conntrack', '-D', '-f', 'ipv4', '-p', 'udp', ...args], { allowFail: true }, ex);
    n++;
  }
  return n;
}
