// The scheduler (kube-scheduler's job, reduced to what a small cluster needs): binds each
// pending pod to a node it fits — a pod network (a pod CIDR, unless the pod uses the host's),
// every NoSchedule/NoExecute taint tolerated (not Ready and cordoned nodes count as tainted, as
// TaintNodesByCondition makes them), nodeSelector and required node affinity — preferring the
// node with the fewest pods of the same owner, then the fewest pods.
import { effectiveTaints, fitsNodeAffinity, untoleratedTaint } from '../api/scheduling.ts';
import type { Node, Pod } from '../api/types.ts';
import { objectPath, type Client } from '../client/client.ts';
import { EventRecorder } from '../client/events.ts';
import type { Informer } from '../client/informer.ts';
import { nsName, splitKey, WorkQueue } from '../client/workqueue.ts';
import { controllerOf } from '../api/pod.ts';

/**
 * The filters: why `pod` may not run on `n`, in kube-scheduler's words, or undefined when it
 * may. (The control-plane taint is passed over: a lab's first node is control plane and worker
 * at once, as minikube's is. A node without a pod network is one the network plugin has not
 * made ready: upstream's network-unavailable taint.)
 */
export function unfitReason(pod: Pod, n: Node): string | undefined {
  if (!n.spec?.podCIDR && !pod.spec.hostNetwork) return 'node(s) had untolerated taint {node.kubernetes.io/network-unavailable: }';
  const nodeTaints = effectiveTaints(n).filter((t) => t.key !== 'node-role.kubernetes.io/control-plane');
  const taint = untoleratedTaint(nodeTaints, pod.spec.tolerations);
  if (taint) return `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`;
  return fitsNodeAffinity(pod.spec, n) ? undefined : "node(s) didn't match Pod's node affinity/selector";
}

export function podFitsNode(pod: Pod, n: Node): boolean {
  return unfitReason(pod, n) === undefined;
}

/** The FailedScheduling message (framework.FitError), with the preemption postfilter's verdict. */
export function fitErrorMessage(pod: Pod, nodes: Node[]): string {
  if (!nodes.length) return 'no nodes available to schedule pods';
  const counts = new Map<string, number>();
  for (const n of nodes) {
    const r = unfitReason(pod, n);
    if (r) counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  const reasons = [...counts].map(([r, c]) => `${c} ${r}`).sort();
  return `0/${nodes.length} nodes are available: ${reasons.join(', ')}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} Preemption is not helpful for scheduling.`;
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
  /** failed attempts per pending pod: the retry backs off from 1 s to 10 s, as the scheduling queue's backoff */
  private attempts = new Map<string, number>();
  private readonly recorder: EventRecorder;

  constructor(
    private readonly client: Client,
    private readonly pods: Informer<Pod>,
    private readonly nodes: Informer<Node>,
    private readonly log: (s: string) => void,
  ) {
    this.queue = new WorkQueue((k) => this.schedule(k), (k, e) => log(`scheduler ${k}: ${e.message}`));
    this.recorder = new EventRecorder(client, 'default-scheduler');
    const consider = (p: Pod) => {
      if (!p.spec.nodeName && (p.spec.schedulerName ?? 'default-scheduler') === 'default-scheduler' && !p.metadata.deletionTimestamp) this.queue.add(nsName(p));
      else this.assumed.delete(nsName(p));
    };
    pods.on({ add: consider, update: (_, p) => consider(p), delete: (p) => (this.assumed.delete(nsName(p)), this.attempts.delete(nsName(p))) });
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
    const podObj = { ...pod, apiVersion: 'v1', kind: 'Pod' };
    if (!node) {
      const n = (this.attempts.get(key) ?? 0) + 1;
      this.attempts.set(key, n);
      void this.recorder.record(podObj, 'Warning', 'FailedScheduling', fitErrorMessage(pod, this.nodes.list()));
      this.queue.addAfter(key, Math.min(1000 * 2 ** (n - 1), 10_000));
      return;
    }
    this.attempts.delete(key);
    this.assumed.set(key, node.metadata.name!);
    try {
      await this.client.request('POST', objectPath('v1', 'pods', ns, name, 'binding'), {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name, namespace: ns },
        target: { apiVersion: 'v1', kind: 'Node', name: node.metadata.name },
      });
      this.log(`bound ${key} to ${node.metadata.name}`);
      void this.recorder.record(podObj, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${node.metadata.name}`);
    } catch (e) {
      this.assumed.delete(key);
      throw e;
    }
  }
}
