// `podpath node add|delete`: nodes joining and leaving a running lab, as `minikube node add` and
// `minikube node delete` do. A new node gets its namespace on the underlay, its serving
// certificate and a node agent; the DaemonSets (the network daemon, kube-proxy, the
// NetworkPolicy agent) then put their pods on it, and the other nodes' network daemons route to
// its pod CIDR. A deleted node's processes, pods and namespaces go, and so does its Node: the
// other nodes' daemons withdraw its routes.
import type { Node, Pod } from '../api/types.ts';
import { objectPath } from '../client/client.ts';
import { sandboxName } from '../agent/sandbox.ts';
import { run } from '../exec/exec.ts';
import { netnsDel, pidsIn } from '../exec/netns.ts';
import { loadOrCreateCA } from '../util/pki.ts';
import { labClient, labNode, pickLab } from './access.ts';
import { issueKubeletCerts } from './kubeletcerts.ts';
import { addNodeNetwork, labPaths, stopPids, writeState, type LabNode } from './lab.ts';
import { routeToPods, startAgent, writeComponentCredentials } from './up.ts';
import { waitFor } from './wait.ts';
import { hasTrueCondition } from '../api/conditions.ts';

/** The lab's next node number (from 0): one past the highest namespace number in use. */
function nextNodeIndex(nodes: LabNode[]): number {
  return Math.max(-1, ...nodes.map((n) => Number(/n(\d+)$/.exec(n.netns)?.[1] ?? 0) - 1)) + 1;
}

/** Adds a node to lab `name`; resolves once its Node is Ready with a pod CIDR. */
export async function addNode(name: string | undefined, timeoutMs = 60_000): Promise<{ node: LabNode; readyAt: number }> {
  const s = pickLab(name);
  if (s.nodes.length >= 20) throw new Error(`lab ${s.name} has 20 nodes already (the most a lab has)`);
  const p = labPaths(s.name);
  const n = addNodeNetwork(s, nextNodeIndex(s.nodes));
  const { ca } = await loadOrCreateCA(p.labCA, `CN=podpath lab ${s.name} CA`);
  await issueKubeletCerts(ca, [n], p, false);
  await writeComponentCredentials(s, ca, [n], false);
  startAgent(s, n);
  const client = labClient(s);
  try {
    const node = await waitFor(
      async () => {
        const x = await client.get<Node>(objectPath('v1', 'nodes', undefined, n.name)).catch(() => undefined);
        return x?.spec?.podCIDR && hasTrueCondition(x) ? x : undefined;
      },
      timeoutMs,
      `node ${n.name} to be Ready`,
    );
    const readyAt = Date.now();
    routeToPods(s, [node]);
    return { node: n, readyAt };
  } finally {
    client.close();
  }
}

/** Removes node `nodeName` (not the first: it is the control plane) from lab `name`. */
export async function deleteNode(name: string | undefined, nodeName: string): Promise<string[]> {
  const s = pickLab(name);
  const n = labNode(s, nodeName);
  if (n === s.nodes[0]) throw new Error(`node ${n.name} is the control plane of lab ${s.name}; podpath down --name ${s.name} removes the lab`);
  const done: string[] = [];
  const agent = `agent-${n.name}`;
  if (s.pids[agent]) await stopPids([s.pids[agent]!]);
  const client = labClient(s);
  try {
    const pods = (await client.get<{ items: Pod[] }>(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${n.name}`)}`)).items;
    const node = await client.get<Node>(objectPath('v1', 'nodes', undefined, n.name)).catch(() => undefined);
    // Its pods' processes (in their namespaces, and host-network ones in the node's) go with it.
    const namespaces = [...pods.filter((x) => !x.spec.hostNetwork).map((x) => sandboxName(s.podNetnsPrefix, x.metadata.uid!)), n.netns];
    await stopPids(namespaces.flatMap((ns) => pidsIn(ns)));
    for (const ns of namespaces) netnsDel(ns);
    done.push(`stopped node ${n.name}'s agent and ${pods.length} pods; deleted its namespaces`);
    for (const x of pods) await client.request('DELETE', objectPath('v1', 'pods', x.metadata.namespace, x.metadata.name!), { gracePeriodSeconds: 0 }).catch(() => undefined);
    await client.request('DELETE', objectPath('v1', 'nodes', undefined, n.name)).catch(() => undefined);
    done.push(`deleted Node ${n.name}`);
    if (node?.spec?.podCIDR) {
      for (const ns of [s.client, s.underlay]) run(['ip', '-n', ns, 'route', 'del', node.spec.podCIDR], { allowFail: true });
    }
  } finally {
    client.close();
  }
  // Its port on the underlay went with its namespace (the veth pair).
  s.nodes = s.nodes.filter((x) => x !== n);
  delete s.pids[agent];
  if (s.daemons) delete s.daemons[agent];
  writeState(s);
  return done;
}
