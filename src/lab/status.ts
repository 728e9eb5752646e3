// What `podpath status` reports of a lab: its processes (alive or not) and its Nodes as the API
// server has them, or why the API server did not answer.
import { hasTrueCondition } from '../api/conditions.ts';
import type { Node } from '../api/types.ts';
import { alive } from '../exec/proc.ts';
import { labClient } from './access.ts';
import { tunnelHost } from './defaults.ts';
import { labPaths, readState } from './lab.ts';
import { birdFiles } from '../cni/bgp.ts';
import { parseShowProtocols, type BgpSession } from '../cni/bird.ts';
import { defaultExecutor, type Executor } from '../exec/exec.ts';

export interface LabStatus {
  name: string;
  createdAt: string;
  /** the API server through the host's tunnel */
  apiURL: string;
  processes: { component: string; alive: boolean }[];
  nodes?: { name: string; address: string; ready: boolean; podCIDR?: string; bgp?: NodeBgp }[];
  /** why the nodes could not be listed */
  apiError?: string;
}

/** A node's BGP sessions as its BIRD reports them (`birdc show protocols`), or why it did not answer. */
export type NodeBgp = { sessions: BgpSession[] } | { error: string };

/** Node `node`'s BGP sessions, from BIRD's control socket in the lab's directory. */
export function nodeBgp(lab: string, node: string, ex: Executor = defaultExecutor): NodeBgp {
  const { socket } = birdFiles(labPaths(lab).nodeBird(node));
  const r = ex.exec(['birdc', '-s', socket, 'show', 'protocols'], {});
  if (r.status !== 0) return { error: (r.stdout + r.stderr).trim().split('\n').pop() || `birdc exited ${r.status}` };
  return { sessions: parseShowProtocols(r.stdout) };
}

export async function labStatus(name: string): Promise<LabStatus> {
  const s = readState(name)!;
  const st: LabStatus = { name, createdAt: s.createdAt, apiURL: `https://${tunnelHost}:${s.apiPort}`, processes: Object.entries(s.pids).map(([component, pid]) => ({ component, alive: alive(pid) })) };
  const client = labClient(s);
  try {
    const nodes = (await client.get<{ items: Node[] }>('/api/v1/nodes')).items;
    st.nodes = nodes.map((n) => ({ name: n.metadata.name!, address: n.status?.addresses?.[0]?.address ?? '', ready: hasTrueCondition(n), ...(n.spec?.podCIDR ? { podCIDR: n.spec.podCIDR } : {}), ...(s.cniBackend === 'bgp' ? { bgp: nodeBgp(name, n.metadata.name!) } : {}) }));
  } catch (e) {
    st.apiError = (e as Error).message;
  } finally {
    client.close();
  }
  return st;
}
