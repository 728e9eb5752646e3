// The scheduler (kube-scheduler's job, reduced to what a small cluster needs): binds each
// pending pod to a node it fits — a pod network (a pod CIDR, unless the pod uses the host's),
// every NoSchedule/NoExecute taint tolerated (not Ready and cordoned nodes count as tainted, as
// TaintNodesByCondition makes them), nodeSelector and required node affinity — preferring the
// node with the fewest pods of the same owner, then the fewest pods.
import { effectiveTaints, fitsNodeAffinity, untoleratedTaint } from '../api/scheduling.ts';
import type { Node, Pod } from '../api/types.ts';
import { objectPath, type Client } from '../client/client.ts';
import type { Informer } from '../client/informer.ts';
import { nsName, splitKey, WorkQueue } from '../client/workqueue.ts';
import { controllerOf } from '../api/pod.ts';

/**
 * The filters: whether `pod` may run on `n`. (The control-plane taint is passed over: a lab's
 * first node is control plane and worker at once, as minikube's is.)
 */
export function podFitsNode(pod: Pod, n: Node): boolean {
  if (!n.spec?.podCIDR && !pod.spec.hostNetwork) return false;
  const nodeTaints = effectiveTaints(n).filter((t) => t.key !== 'node-role.kubernetes.io/control-plane');
  if (untoleratedTaint(nodeTaints, pod.spec.tolerations)) return false;
  return fitsNodeAffinity(pod.spec, n);
}

/** Picks a node for `pod`: a pure function of the pod, the nodes and the pods already placed. */
export function pickNode(pod: Pod, nodes: Node[], pods: Pod[]): Node | undefined {
  const owner = controllerOf(pod)?.uid;
  const candidates = nodes.filter((n) => podFitsNode(pod, n));
  let best: Node | undefined;
  let bestScore: [number, number, string] | undefined;
  for (const n of candidates) {
    const on = pods.filter((p) => p.spec.nodeName === n.metadata.name && !p.metadata.deletionTimestamp);
    const siblings = owner ? on.filter((p) => controllerOf(p)?.uid === owner).length : 0;
    const score: [number, number, string] = [siblings, on.length, n.metadata.name!];
    if (!bestScore || score[0] < bestScore[0] || (score[0] === bestScore[0] && (score[1] < bestScore[1] || (score[1] === bestScore[1] && score[2] < bestScore[2])))) {
      best = n;
      bestScore = score;
    }
  }
  return best;
}

export class Scheduler {
  readonly queue: WorkQueue;
  /** pods bound by this scheduler not yet seen bound in the informer */
  private assumed = new Map<string, string>();

  constructor(
    private readonly client: Client,
    private readonly pods: Informer<Pod>,
    private readonly nodes: Informer<Node>,
    private readonly log: (s: string) => void,
  ) {
    this.queue = new WorkQueue((k) => this.schedule(k), (k, e) => log(`scheduler ${k}: ${e.message}`));
    const consider = (p: Pod) => {
      if (!p.spec.nodeName && (p.spec.schedulerName ?? 'default-scheduler') === 'default-scheduler' && !p.metadata.deletionTimestamp) this.queue.add(nsName(p));
      else this.assumed.delete(nsName(p));
    };
    pods.on({ add: consider, update: (_, p) => consider(p), delete: (p) => this.assumed.delete(nsName(p)) });
    nodes.on({ add: () => this.retryPending(), update: () => this.retryPending() });
  }

  private retryPending(): void {
    for (const p of this.pods.list()) if (!p.spec.nodeName && !p.metadata.deletionTimestamp) this.queue.add(nsName(p));
  }

  private async schedule(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const pod = this.pods.get(ns, name);
    if (!pod || pod.spec.nodeName || pod.metadata.deletionTimestamp || this.assumed.has(key)) return;
    const placed = this.pods.list().map((p) => (this.assumed.has(nsName(p)) ? { ...p, spec: { ...p.spec, nodeName: this.assumed.get(nsName(p)) } } : p));
    const node = pickNode(pod, this.nodes.list(), placed);
    if (!node) {
      this.queue.addAfter(key, 1000);
      return;
    }
    this.assumed.set(key, node.metadata.name!);
    try {
      await this.client.request('POST', objectPath('v1', 'pods', ns, name, 'binding'), {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name, namespace: ns },
        target: { apiVersion: 'v1', kind: 'Node', name: node.metadata.name },
      });
      this.log(`bound ${key} to ${node.metadata.name}`);
    } catch (e) {
      this.assumed.delete(key);
      throw e;
    }
  }
}
