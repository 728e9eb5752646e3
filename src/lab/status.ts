// What `podpath status` reports of a lab: its processes (alive or not) and its Nodes as the API
// server has them, or why the API server did not answer.
import { hasTrueCondition } from '../api/conditions.ts';
import type { Node } from '../api/types.ts';
import { alive } from '../exec/proc.ts';
import { labClient } from './access.ts';
import { tunnelHost } from './defaults.ts';
import { readState } from './lab.ts';

export interface LabStatus {
  name: string;
  createdAt: string;
  /** the API server through the host's tunnel */
  apiURL: string;
  processes: { component: string; alive: boolean }[];
  nodes?: { name: string; address: string; ready: boolean; podCIDR?: string }[];
  /** why the nodes could not be listed */
  apiError?: string;
}

export async function labStatus(name: string): Promise<LabStatus> {
  const s = readState(name)!;
  const st: LabStatus = { name, createdAt: s.createdAt, apiURL: `https://${tunnelHost}:${s.apiPort}`, processes: Object.entries(s.pids).map(([component, pid]) => ({ component, alive: alive(pid) })) };
  const client = labClient(s);
  try {
    const nodes = (await client.get<{ items: Node[] }>('/api/v1/nodes')).items;
    st.nodes = nodes.map((n) => ({ name: n.metadata.name!, address: n.status?.addresses?.[0]?.address ?? '', ready: hasTrueCondition(n), ...(n.spec?.podCIDR ? { podCIDR: n.spec.podCIDR } : {}) }));
  } catch (e) {
    st.apiError = (e as Error).message;
  } finally {
    client.close();
  }
  return st;
}
