// The DaemonSet controller (kube-controller-manager's daemonset controller): one pod per
// eligible node. A node is eligible when the pod template, with the tolerations every daemon pod
// gets, fits it (nodeSelector, required node affinity, taints); each pod is created bound to its
// node by node affinity (matchFields metadata.name) for the scheduler to place, labelled with the
// template's controller-revision-hash and pod-template-generation. A RollingUpdate replaces old
// pods node by node within maxUnavailable (deleting first) or maxSurge (the new pod first);
// OnDelete replaces a pod only once it is deleted. The status counts what `kubectl get ds` shows.
// Each template is kept as a ControllerRevision (daemonsethistory.ts), whose hash the pods carry.
// planDaemonSet and constructHistory are the whole decision, pure; the controller carries it out.
import { sameValue } from '../api/fieldset.ts';
import { controllerOf, isPodReady } from '../api/pod.ts';
import { effectiveTaints, fitsNodeAffinity, targetNodeName, taints, untoleratedTaint, type Toleration } from '../api/scheduling.ts';
import type { ControllerRevision, DaemonSet, DaemonSetStatus, KubeObject, Node, OwnerReference, Pod, PodTemplateSpec } from '../api/types.ts';
import { ApiError } from '../api/errors.ts';
import { objectPath, type Client } from '../client/client.ts';
import { EventRecorder } from '../client/events.ts';
import type { Informer } from '../client/informer.ts';
import { nsName, splitKey, WorkQueue } from '../client/workqueue.ts';
import { wireValue } from '../api/wire.ts';
import { constructHistory, controllerRevisionHashLabel, historyToCleanUp, matchesRevision, revisionHash } from './daemonsethistory.ts';
import { scaled } from './workloads.ts';

/** The labels a daemon pod carries (apps/v1 DefaultDaemonSetUniqueLabelKey, DaemonSetTemplateGenerationKey). */
export { controllerRevisionHashLabel };
export const templateGenerationLabel = 'pod-template-generation';
/** Where apps/v1 keeps the template generation (the API server's DaemonSet strategy maintains it). */
export const templateGenerationAnnotation = 'deprecated.daemonset.template.generation';

/**
 * AddOrUpdateDaemonPodTolerations: a daemon pod runs through node trouble — not ready or
 * unreachable (NoExecute), resource pressure and cordoning (NoSchedule), and with host
 * networking an unready pod network.
 */
export function daemonPodTolerations(spec: PodTemplateSpec['spec']): Toleration[] {
  const out = [...((spec.tolerations ?? []) as Toleration[])];
  const add = (key: string, effect: string) => {
    if (!out.some((t) => t.key === key && t.effect === effect && t.operator === 'Exists')) out.push({ key, operator: 'Exists', effect });
  };
  add(taints.notReady, 'NoExecute');
  add(taints.unreachable, 'NoExecute');
  add(taints.diskPressure, 'NoSchedule');
  add(taints.memoryPressure, 'NoSchedule');
  add(taints.pidPressure, 'NoSchedule');
  add(taints.unschedulable, 'NoSchedule');
  if (spec.hostNetwork) add(taints.networkUnavailable, 'NoSchedule');
  return out;
}

/**
 * NodeShouldRunDaemonPod: whether a daemon pod should be created on `node` (shouldRun) and
 * whether one already there may stay (shouldContinueRunning). A NoSchedule taint the pod does
 * not tolerate keeps new pods off but lets a running one stay; a NoExecute one evicts it.
 */
export function nodeShouldRunDaemonPod(ds: DaemonSet, node: Node): { shouldRun: boolean; shouldContinueRunning: boolean } {
  const spec = ds.spec.template.spec;
  if (!fitsNodeAffinity(spec, node)) return { shouldRun: false, shouldContinueRunning: false };
  const tolerations = daemonPodTolerations(spec);
  const nodeTaints = effectiveTaints(node);
  if (untoleratedTaint(nodeTaints, tolerations, ['NoExecute'])) return { shouldRun: false, shouldContinueRunning: false };
  if (untoleratedTaint(nodeTaints, tolerations, ['NoSchedule'])) return { shouldRun: false, shouldContinueRunning: true };
  return { shouldRun: true, shouldContinueRunning: true };
}

/** The DaemonSet's template generation (from its annotation), or undefined. */
export function templateGeneration(ds: DaemonSet): string | undefined {
  const g = ds.metadata.annotations?.[templateGenerationAnnotation];
  return g && /^\d+$/.test(g) ? g : undefined;
}

/** IsPodUpdated: the pod was made from the current template (by hash, or by template generation). */
export function isPodUpdated(pod: Pod, hash: string, generation: string | undefined): boolean {
  const l = pod.metadata.labels ?? {};
  return (hash !== '' && l[controllerRevisionHashLabel] === hash) || (generation !== undefined && l[templateGenerationLabel] === generation);
}

/** IsPodAvailable: Ready for at least minReadySeconds. */
export function isPodAvailable(pod: Pod, minReadySeconds: number, now: number): boolean {
  if (!isPodReady(pod)) return false;
  if (minReadySeconds <= 0) return true;
  const since = Date.parse((pod.status?.conditions ?? []).find((c) => c.type === 'Ready')?.lastTransitionTime ?? '');
  return Number.isFinite(since) && now - since >= minReadySeconds * 1000;
}

const created = (p: Pod) => Date.parse(p.metadata.creationTimestamp ?? '') || 0;
/** podByCreationTimestampAndPhase: the oldest first (a running one before a pending one of the same age). */
const byAge = (a: Pod, b: Pod) => created(a) - created(b) || Number(!a.spec.nodeName) - Number(!b.spec.nodeName) || (a.metadata.name! < b.metadata.name! ? -1 : 1);

export interface DaemonSetPlan {
  /** nodes to create a pod on */
  create: string[];
  /** pods to delete, by name */
  delete: string[];
  status: DaemonSetStatus;
  hash: string;
  /** when a pod will have been Ready for minReadySeconds: look again then (ms from now) */
  recheckAfterMs?: number;
}

/** The daemon pods of each node (by the node they are bound to or aimed at); pods aimed at no node are under ''. */
function podsByNode(pods: Pod[]): Map<string, Pod[]> {
  const m = new Map<string, Pod[]>();
  for (const p of pods) {
    const n = targetNodeName(p.spec) ?? '';
    m.set(n, [...(m.get(n) ?? []), p]);
  }
  return m;
}

/**
 * The controller's sync of one DaemonSet, pure: `pods` are the pods it owns, `now` the time,
 * `hash` that of the current template's ControllerRevision (constructHistory's).
 * manage (a pod where one should run, none where none should, failed and surplus pods deleted),
 * then the update strategy, then the status.
 */
export function planDaemonSet(ds: DaemonSet, nodes: Node[], pods: Pod[], now: number, hash = revisionHash(ds)): DaemonSetPlan {
  const generation = templateGeneration(ds);
  const minReady = ds.spec.minReadySeconds ?? 0;
  const byNode = podsByNode(pods);
  const create: string[] = [];
  const del = new Set<string>();
  const eligibility = new Map(nodes.map((n) => [n.metadata.name!, nodeShouldRunDaemonPod(ds, n)]));
  const rolling = ds.spec.updateStrategy?.type === 'RollingUpdate';
  const surgeAllowed = rolling && scaled(ds.spec.updateStrategy?.rollingUpdate?.maxSurge ?? 0, 1, true) > 0;

  // ---- manage: podsShouldBeOnNode for every node ----
  for (const n of nodes) {
    const name = n.metadata.name!;
    const { shouldRun, shouldContinueRunning } = eligibility.get(name)!;
    const here = byNode.get(name) ?? [];
    if (shouldRun && here.length === 0) create.push(name);
    else if (shouldContinueRunning) {
      const running: Pod[] = [];
      for (const p of here) {
        if (p.metadata.deletionTimestamp) continue;
        // a failed or finished daemon pod is deleted; the next sync makes a new one
        if (p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded') del.add(p.metadata.name!);
        else running.push(p);
      }
      if (running.length > 1) {
        running.sort(byAge);
        if (!surgeAllowed) for (const p of running.slice(1)) del.add(p.metadata.name!);
        else {
          // with surge a node may hold one old and one new pod: the oldest of each stays
          let keptNew = false;
          let keptOld = false;
          for (const p of running) {
            const updated = isPodUpdated(p, hash, generation);
            if (updated && !keptNew) keptNew = true;
            else if (!updated && !keptOld) keptOld = true;
            else del.add(p.metadata.name!);
          }
        }
      }
    } else for (const p of here) if (!p.metadata.deletionTimestamp) del.add(p.metadata.name!);
  }
  // pods of nodes that are gone, or aimed at no node
  const known = new Set(nodes.map((n) => n.metadata.name!));
  for (const [n, ps] of byNode) if (!known.has(n)) for (const p of ps) if (!p.metadata.deletionTimestamp) del.add(p.metadata.name!);

  const desired = nodes.filter((n) => eligibility.get(n.metadata.name!)!.shouldRun).length;
  let recheckAfterMs: number | undefined;
  const noteAvailability = (p: Pod) => {
    if (minReady > 0 && isPodReady(p) && !isPodAvailable(p, minReady, now)) {
      const since = Date.parse((p.status?.conditions ?? []).find((c) => c.type === 'Ready')?.lastTransitionTime ?? '') || now;
      const wait = Math.max(0, since + minReady * 1000 - now) + 10;
      recheckAfterMs = Math.min(recheckAfterMs ?? Infinity, wait);
    }
  };
  const available = (p: Pod) => (noteAvailability(p), isPodAvailable(p, minReady, now));

  // ---- the rolling update, when nothing else is under way on a node ----
  if (rolling && create.length === 0 && del.size === 0) {
    const ru = ds.spec.updateStrategy?.rollingUpdate ?? {};
    const maxSurge = scaled(ru.maxSurge ?? 0, desired, true);
    const maxUnavailable = scaled(ru.maxUnavailable ?? (maxSurge > 0 ? 0 : 1), desired, true);
    /** findUpdatedPodsOnNode: the node's one new and one old pod; not ok with two of either */
    const split = (ps: Pod[]) => {
      let newPod: Pod | undefined;
      let oldPod: Pod | undefined;
      for (const p of ps) {
        if (p.metadata.deletionTimestamp) continue;
        if (isPodUpdated(p, hash, generation)) {
          if (newPod) return { ok: false as const };
          newPod = p;
        } else {
          if (oldPod) return { ok: false as const };
          oldPod = p;
        }
      }
      return { ok: true as const, newPod, oldPod };
    };
    if (maxSurge === 0) {
      let numUnavailable = 0;
      const replace: string[] = [];
      const candidates: string[] = [];
      for (const [node, ps] of [...byNode].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (!known.has(node)) continue;
        const s = split(ps);
        if (!s.ok) {
          numUnavailable++;
          continue;
        }
        if ((!s.oldPod && !s.newPod) || (s.oldPod && s.newPod)) numUnavailable++;
        else if (s.newPod) {
          if (!available(s.newPod)) numUnavailable++;
        } else if (s.oldPod) {
          if (!available(s.oldPod)) replace.push(s.oldPod.metadata.name!);
          else if (numUnavailable < maxUnavailable) candidates.push(s.oldPod.metadata.name!);
        }
      }
      const room = Math.min(Math.max(0, maxUnavailable - numUnavailable), candidates.length);
      for (const p of [...replace, ...candidates.slice(0, room)]) del.add(p);
    } else {
      let numSurge = 0;
      const allowedNew: string[] = [];
      const candidateNew: string[] = [];
      for (const [node, ps] of [...byNode].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (!known.has(node)) continue;
        const s = split(ps);
        if (!s.ok) {
          numSurge++;
          continue;
        }
        if (!s.oldPod) continue;
        if (!s.newPod) {
          const shouldRun = eligibility.get(node)?.shouldRun ?? false;
          if (!available(s.oldPod)) {
            if (!shouldRun) del.add(s.oldPod.metadata.name!);
            else allowedNew.push(node);
          } else if (shouldRun && numSurge < maxSurge) candidateNew.push(node);
        } else if (!available(s.newPod)) numSurge++;
        else del.add(s.oldPod.metadata.name!);
      }
      const room = Math.min(Math.max(0, maxSurge - numSurge), candidateNew.length);
      create.push(...allowedNew, ...candidateNew.slice(0, room));
    }
  }

  // ---- status (updateDaemonSetStatus) ----
  let current = 0;
  let misscheduled = 0;
  let ready = 0;
  let availableCount = 0;
  let updated = 0;
  for (const n of nodes) {
    const here = [...(byNode.get(n.metadata.name!) ?? [])].sort(byAge);
    if (eligibility.get(n.metadata.name!)!.shouldRun) {
      if (here.length === 0) continue;
      current++;
      const p = here[0]!;
      if (isPodReady(p)) {
        ready++;
        if (available(p)) availableCount++;
      }
      if (isPodUpdated(p, hash, generation)) updated++;
    } else if (here.length > 0) misscheduled++;
  }
  const status: DaemonSetStatus = {
    currentNumberScheduled: current,
    numberMisscheduled: misscheduled,
    desiredNumberScheduled: desired,
    numberReady: ready,
    observedGeneration: ds.metadata.generation ?? 1,
    updatedNumberScheduled: updated,
    numberAvailable: availableCount,
    ...(desired - availableCount > 0 ? { numberUnavailable: desired - availableCount } : {}),
    ...(ds.status?.collisionCount !== undefined ? { collisionCount: ds.status.collisionCount } : {}),
    ...(ds.status?.conditions ? { conditions: ds.status.conditions } : {}),
  };
  return { create: [...new Set(create)], delete: [...del], status, hash, ...(recheckAfterMs !== undefined ? { recheckAfterMs } : {}) };
}

function ownerRef(ds: DaemonSet): OwnerReference {
  return { apiVersion: 'apps/v1', kind: 'DaemonSet', name: ds.metadata.name!, uid: ds.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/**
 * The pod the DaemonSet runs on `node`: the template with the daemon tolerations and required
 * node affinity replaced by the node's name (ReplaceDaemonSetPodNodeNameNodeAffinity), its
 * name generated as NAME-xxxxx.
 */
export function daemonPod(ds: DaemonSet, node: string, hash: string): KubeObject {
  const t = structuredClone(ds.spec.template);
  const generation = templateGeneration(ds);
  const spec = t.spec;
  spec.tolerations = daemonPodTolerations(spec) as Record<string, unknown>[];
  const term = { matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] };
  const affinity = (spec.affinity ?? {}) as { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: unknown[] } } & Record<string, unknown> } & Record<string, unknown>;
  affinity.nodeAffinity = { ...(affinity.nodeAffinity ?? {}), requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [term] } };
  spec.affinity = affinity;
  const labels = { ...(t.metadata?.labels ?? {}), [controllerRevisionHashLabel]: hash, ...(generation ? { [templateGenerationLabel]: generation } : {}) };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...(t.metadata?.annotations ? { annotations: t.metadata.annotations } : {}), generateName: `${ds.metadata.name}-`, namespace: ds.metadata.namespace, labels, ownerReferences: [ownerRef(ds)] },
    spec,
  };
}

export class DaemonSetController {
  readonly queue: WorkQueue;
  private readonly recorder: EventRecorder;
  /** creations and deletions not yet seen in the pod informer, per DaemonSet (upstream's expectations) */
  private expectations = new Map<string, { pods: Set<string>; gone: Set<string>; at: number }>();

  constructor(
    private readonly client: Client,
    private readonly dsInformer: Informer<DaemonSet>,
    private readonly podInformer: Informer<Pod>,
    private readonly nodeInformer: Informer<Node>,
    private readonly revisionInformer: Informer<ControllerRevision>,
    private readonly log: (s: string) => void,
  ) {
    this.queue = new WorkQueue((k) => this.sync(k), (k, e) => log(`daemonset ${k}: ${e.message}`));
    this.recorder = new EventRecorder(client, 'daemonset-controller');
    dsInformer.on({ add: (o) => this.queue.add(nsName(o)), update: (_, o) => this.queue.add(nsName(o)), delete: (o) => this.expectations.delete(nsName(o)) });
    const podChanged = (p: Pod) => {
      const ref = controllerOf(p);
      if (ref?.kind === 'DaemonSet') this.queue.add(`${p.metadata.namespace}/${ref.name}`);
    };
    podInformer.on({ add: podChanged, update: (old, p) => (podChanged(old), podChanged(p)), delete: podChanged });
    const all = () => {
      for (const ds of this.dsInformer.list()) this.queue.add(nsName(ds));
    };
    nodeInformer.on({ add: all, update: all, delete: all });
    const revisionChanged = (cr: ControllerRevision) => {
      const ref = controllerOf(cr);
      if (ref?.kind === 'DaemonSet') this.queue.add(`${cr.metadata.namespace}/${ref.name}`);
    };
    revisionInformer.on({ add: revisionChanged, update: (_, cr) => revisionChanged(cr), delete: revisionChanged });
  }

  private ownedRevisions(ds: DaemonSet): ControllerRevision[] {
    return this.revisionInformer.list().filter((cr) => cr.metadata.namespace === ds.metadata.namespace && controllerOf(cr)?.uid === ds.metadata.uid && !cr.metadata.deletionTimestamp);
  }

  /**
   * constructHistory carried out: the hash of the current template's revision, and the old
   * revisions. A snapshot whose name is taken by another template bumps status.collisionCount
   * (so the next sync names it anew) and fails this one, as upstream's snapshot does.
   */
  private async syncHistory(ds: DaemonSet, pods: Pod[]): Promise<{ hash: string; old: ControllerRevision[] }> {
    const ns = ds.metadata.namespace!;
    const plan = constructHistory(ds, this.ownedRevisions(ds), pods);
    const revPath = (name: string) => objectPath('apps/v1', 'controllerrevisions', ns, name);
    const mergePatch = (path: string, body: unknown) => this.client.request('PATCH', path, body, 'application/merge-patch+json');
    for (const name of plan.label) await mergePatch(revPath(name), { metadata: { labels: { [controllerRevisionHashLabel]: name } } });
    if (plan.create) {
      try {
        await this.client.request('POST', `/apis/apps/v1/namespaces/${ns}/controllerrevisions`, plan.current);
      } catch (e) {
        if (!(e instanceof ApiError) || e.status.reason !== 'AlreadyExists') throw e;
        const existing = await this.client.request<ControllerRevision>('GET', revPath(plan.current.metadata.name!));
        // The name is taken: by this template (an earlier sync the informer has not shown yet),
        // which is then the current revision, or by another (a hash collision).
        if (!matchesRevision(ds, existing)) {
          const fresh = await this.client.request<DaemonSet>('GET', objectPath('apps/v1', 'daemonsets', ns, ds.metadata.name!));
          if (fresh.status?.collisionCount !== ds.status?.collisionCount) {
            throw new Error(`found a stale collision count (${ds.status?.collisionCount ?? 0}, expected ${fresh.status?.collisionCount ?? 0}) of DaemonSet "${ds.metadata.name}" while processing; will retry until it is updated`);
          }
          fresh.status = { ...(fresh.status ?? {}), collisionCount: (fresh.status?.collisionCount ?? 0) + 1 };
          await this.client.request('PUT', objectPath('apps/v1', 'daemonsets', ns, ds.metadata.name!, 'status'), fresh);
          throw e;
        }
      }
    }
    if (plan.renumber !== undefined) await mergePatch(revPath(plan.current.metadata.name!), { revision: plan.renumber });
    for (const pod of plan.relabel) await mergePatch(objectPath('v1', 'pods', ns, pod), { metadata: { labels: { [controllerRevisionHashLabel]: plan.hash } } });
    for (const name of plan.duplicates) await this.client.request('DELETE', revPath(name)).catch(() => {});
    return { hash: plan.hash, old: plan.old };
  }

  private ownedPods(ds: DaemonSet): Pod[] {
    return this.podInformer.list().filter((p) => p.metadata.namespace === ds.metadata.namespace && controllerOf(p)?.uid === ds.metadata.uid);
  }

  /** Whether the informer has caught up with what this controller did last (or 10 s passed). */
  private settled(key: string, pods: Pod[]): boolean {
    const e = this.expectations.get(key);
    if (!e) return true;
    const names = new Set(pods.map((p) => p.metadata.name!));
    const seen = [...e.pods].every((n) => names.has(n));
    const goneSeen = [...e.gone].every((n) => !pods.some((p) => p.metadata.name === n && !p.metadata.deletionTimestamp));
    if ((seen && goneSeen) || Date.now() - e.at > 10_000) {
      this.expectations.delete(key);
      return true;
    }
    return false;
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const ds = this.dsInformer.get(ns, name);
    if (!ds || ds.metadata.deletionTimestamp) return;
    const pods = this.ownedPods(ds);
    const history = await this.syncHistory(ds, pods);
    const plan = planDaemonSet(ds, this.nodeInformer.list(), pods, Date.now(), history.hash);
    const settled = this.settled(key, pods);
    if (settled && (plan.create.length || plan.delete.length)) {
      const exp = { pods: new Set<string>(), gone: new Set(plan.delete), at: Date.now() };
      this.expectations.set(key, exp);
      const dsObj = { ...ds, apiVersion: 'apps/v1', kind: 'DaemonSet' };
      await Promise.all([
        ...plan.create.map(async (node) => {
          const pod = await this.client.request<Pod>('POST', `/api/v1/namespaces/${ns}/pods`, daemonPod(ds, node, plan.hash));
          exp.pods.add(pod.metadata.name!);
          void this.recorder.record(dsObj, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`);
        }),
        ...plan.delete.map(async (pod) => {
          await this.client.request('DELETE', objectPath('v1', 'pods', ns, pod)).catch(() => {});
          void this.recorder.record(dsObj, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod}`);
        }),
      ]);
    }
    if (settled) {
      for (const name of historyToCleanUp(ds, history.old, pods)) {
        await this.client.request('DELETE', objectPath('apps/v1', 'controllerrevisions', ns, name)).catch(() => {});
      }
    }
    // Compared as stored (field order, and omitempty's dropped zeros), so an unchanged status is not rewritten.
    if (!sameValue(wireValue('V1DaemonSetStatus', plan.status), ds.status ?? {})) {
      await this.client.request('PUT', objectPath('apps/v1', 'daemonsets', ns, name, 'status'), { ...ds, status: plan.status });
    }
    if (plan.recheckAfterMs !== undefined) this.queue.addAfter(key, plan.recheckAfterMs);
  }
}
