// `podpath netpol probe`: the policies' matrix measured in a running lab. Every pod (and the
// client namespace, the user's computer) tries every pod on one port at once — real packets
// through the nodes' nftables — and the table seen is set against what the model says.
import type { Namespace, NetworkPolicy, Pod } from '../api/types.ts';
import { sandboxName } from '../agent/sandbox.ts';
import { runAsync } from '../exec/exec.ts';
import { podKey, PolicyModel, type Endpoint, type Protocol } from '../netpol/policy.ts';
import { formatProbe, probeArgs, probeMismatches, type Outcome, type ProbeResult } from '../netpol/probe.ts';
import { labClient, pickLab } from './access.ts';
import { clientIP } from './defaults.ts';
import { applyDefaults } from '../api/defaults.ts';

export interface ProbeOptions {
  name?: string;
  port: number;
  protocol: Protocol;
  /** how long a probe waits for an answer */
  timeoutMs: number;
  /** the namespaces whose pods are probed (default: all but kube-system) */
  namespaces?: string[];
}

/** At most `n` of the tasks at a time (the machine may have two cores). */
async function limited<T>(tasks: (() => Promise<T>)[], n: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
  return out;
}

export async function probeLab(o: ProbeOptions): Promise<{ text: string; agree: boolean }> {
  const s = pickLab(o.name);
  const client = labClient(s);
  let namespaces: Namespace[], pods: Pod[], policies: NetworkPolicy[];
  try {
    [namespaces, pods, policies] = await Promise.all([
      client.get<{ items: Namespace[] }>('/api/v1/namespaces').then((l) => l.items),
      client.get<{ items: Pod[] }>('/api/v1/pods').then((l) => l.items),
      client.get<{ items: NetworkPolicy[] }>('/apis/networking.k8s.io/v1/networkpolicies').then((l) => l.items),
    ]);
  } finally {
    client.close();
  }
  const m = new PolicyModel({ namespaces, pods, policies }, applyDefaults);
  const wanted = (p: Pod) => (o.namespaces ? o.namespaces.includes(p.metadata.namespace!) : p.metadata.namespace !== 'kube-system');
  const targets = m
    .allPods()
    .filter((p) => wanted(p) && p.status?.phase === 'Running' && p.status.podIP)
    .sort((a, b) => (podKey(a) < podKey(b) ? -1 : 1));
  if (!targets.length) throw new Error(`lab ${s.name} has no running pods to probe${o.namespaces ? ` in ${o.namespaces.join(', ')}` : ''}`);
  const sources: { name: string; netns: string; endpoint: Endpoint }[] = [
    { name: 'client', netns: s.client, endpoint: { ip: clientIP } },
    ...targets.map((p) => ({ name: podKey(p), netns: sandboxName(s.podNetnsPrefix, p.metadata.uid!), endpoint: { pod: p } })),
  ];
  const addrs = targets.map((p) => `${p.status!.podIP}:${o.port}`);
  const observed = await limited(
    sources.map((src) => async (): Promise<Outcome[]> => {
      try {
        const out = await runAsync([process.execPath, ...probeArgs(o.protocol, o.timeoutMs, addrs)], { netns: src.netns, timeoutMs: o.timeoutMs + 10_000 });
        const seen = JSON.parse(out) as Record<string, Outcome>;
        return addrs.map((a) => seen[a] ?? 'error');
      } catch {
        return addrs.map(() => 'error' as const);
      }
    }),
    4,
  );
  const r: ProbeResult = {
    rows: sources.map((x) => x.name),
    cols: targets.map(podKey),
    observed,
    expected: sources.map((src) => targets.map((t) => m.evaluate({ from: src.endpoint, to: { pod: t }, port: o.port, protocol: o.protocol }).allowed)),
  };
  return { text: formatProbe(r, o.port, o.protocol), agree: probeMismatches(r).length === 0 };
}
