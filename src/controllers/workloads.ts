// The ReplicaSet and Deployment controllers (kube-controller-manager's replicaset and
// deployment controllers): ReplicaSets keep `replicas` pods from their template; Deployments
// own one ReplicaSet per pod template and move between them by their strategy, honouring
// maxSurge and maxUnavailable.
import { sameValue } from '../api/fieldset.ts';
import { fromLabelSelector, matches } from '../api/labels.ts';
import type { Deployment, IntOrString, KubeObject, OwnerReference, Pod, PodTemplateSpec, ReplicaSet } from '../api/types.ts';
import { objectPath, type Client } from '../client/client.ts';
import { EventRecorder } from '../client/events.ts';
import type { Informer } from '../client/informer.ts';
import { nsName, splitKey, WorkQueue } from '../client/workqueue.ts';
import { controllerOf, isPodReady, isTerminal } from '../api/pod.ts';
import { wireValue } from '../api/wire.ts';
import { computeHash } from './hash.ts';
import {
  maxRevision,
  newReplicaSetAnnotations,
  podTemplateHashLabel,
  replicaSetsToClean,
  replicasAnnotations,
  replicasAnnotationsNeedUpdate,
  revisionAnnotation,
  sameTemplateIgnoringHash,
} from './revisions.ts';

function ownerRef(o: KubeObject): OwnerReference {
  return { apiVersion: o.apiVersion!, kind: o.kind!, name: o.metadata.name!, uid: o.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** The pod-template-hash of a Deployment's template (controller.ComputeHash with the Deployment's collision count). */
export function templateHash(t: PodTemplateSpec, collisionCount?: number): string {
  return computeHash(t, collisionCount);
}

/** intstr.GetScaledValueFromIntOrPercent. */
export function scaled(v: IntOrString | undefined, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v ?? '0');
  const pct = m ? Number(m[1]) : 0;
  return roundUp ? Math.ceil((pct * total) / 100) : Math.floor((pct * total) / 100);
}

/** MaxSurge: what a rolling update may add over `replicas`; nothing for Recreate. */
function maxSurgeOf(d: Deployment, replicas: number): number {
  if ((d.spec.strategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return 0;
  return scaled(d.spec.strategy?.rollingUpdate?.maxSurge ?? '25%', replicas, true);
}

export class ReplicaSetController {
  readonly queue: WorkQueue;
  /** pods created or deleted but not yet seen in the pod informer, per ReplicaSet (upstream's expectations) */
  private expectations = new Map<string, { add: number; del: number; at: number }>();
  private readonly recorder: EventRecorder;

  constructor(
    private readonly client: Client,
    private readonly rsInformer: Informer<ReplicaSet>,
    private readonly podInformer: Informer<Pod>,
    log: (s: string) => void,
  ) {
    this.queue = new WorkQueue((k) => this.sync(k), (k, e) => log(`replicaset ${k}: ${e.message}`));
    this.recorder = new EventRecorder(client, 'replicaset-controller');
    rsInformer.on({ add: (o) => this.queue.add(nsName(o)), update: (_, o) => this.queue.add(nsName(o)), delete: (o) => this.expectations.delete(nsName(o)) });
    const podChanged = (p: Pod) => {
      const ref = controllerOf(p);
      if (ref?.kind === 'ReplicaSet') this.queue.add(`${p.metadata.namespace}/${ref.name}`);
    };
    podInformer.on({ add: podChanged, update: (old, p) => (podChanged(old), podChanged(p)), delete: podChanged });
  }

  private ownedPods(rs: ReplicaSet): Pod[] {
    return this.podInformer.list().filter((p) => p.metadata.namespace === rs.metadata.namespace && controllerOf(p)?.uid === rs.metadata.uid);
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const rs = this.rsInformer.get(ns, name);
    if (!rs || rs.metadata.deletionTimestamp) return;
    const pods = this.ownedPods(rs);
    const active = pods.filter((p) => !p.metadata.deletionTimestamp && !isTerminal(p));
    const exp = this.expectations.get(key);
    const want = rs.spec.replicas ?? 1;
    // Until the informer has seen our last creations/deletions, acting again would overshoot.
    const settled = !exp || Date.now() - exp.at > 5000 || (active.length >= exp.add && exp.del === 0);
    if (settled) this.expectations.delete(key);
    if (!settled) this.queue.addAfter(key, Math.max(0, exp!.at + 5000 - Date.now()) + 10);
    if (settled && active.length < want) {
      const n = want - active.length;
      const e = { add: want, del: 0, at: Date.now() };
      this.expectations.set(key, e);
      const created = await Promise.allSettled(Array.from({ length: n }, () => this.createPod(rs)));
      const failed = created.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      // The informer will never see the pods that were refused: expect only the others (upstream's
      // CreationObserved per failed create), so the retry creates them rather than waiting.
      if (failed.length) {
        e.add -= failed.length;
        throw failed[0]!.reason;
      }
    } else if (settled && active.length > want) {
      const rank = (p: Pod) => (p.spec.nodeName ? 1 : 0) + (isPodReady(p) ? 2 : 0);
      const victims = [...active].sort((a, b) => rank(a) - rank(b) || Date.parse(b.metadata.creationTimestamp ?? '') - Date.parse(a.metadata.creationTimestamp ?? '')).slice(0, active.length - want);
      await Promise.all(
        victims.map((p) =>
          this.client
            .request('DELETE', objectPath('v1', 'pods', ns, p.metadata.name!))
            .then(() => void this.recorder.record({ ...rs, apiVersion: 'apps/v1', kind: 'ReplicaSet' }, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`))
            .catch(() => {}),
        ),
      );
    }
    const ready = active.filter(isPodReady).length;
    const minReady = rs.spec.minReadySeconds ?? 0;
    const available = active.filter((p) => {
      if (!isPodReady(p)) return false;
      const since = Date.parse((p.status?.conditions ?? []).find((c) => c.type === 'Ready')?.lastTransitionTime ?? '') || 0;
      return Date.now() - since >= minReady * 1000;
    }).length;
    const selector = fromLabelSelector(rs.spec.selector);
    const status = {
      replicas: active.length,
      fullyLabeledReplicas: active.filter((p) => matches(selector, p.metadata.labels)).length,
      readyReplicas: ready,
      availableReplicas: available,
      observedGeneration: rs.metadata.generation ?? 1,
      ...(pods.length - active.length > 0 ? { terminatingReplicas: pods.length - active.length } : {}),
    };
    // Compared as stored: the zero counts omitempty drops are not a change.
    if (!sameValue(wireValue('V1ReplicaSetStatus', status), rs.status ?? {})) {
      await this.client.request('PUT', objectPath('apps/v1', 'replicasets', ns, name, 'status'), { ...rs, status });
    }
    if (available < ready && minReady > 0) this.queue.addAfter(key, minReady * 1000);
  }

  private async createPod(rs: ReplicaSet): Promise<void> {
    const t = structuredClone(rs.spec.template ?? { spec: { containers: [] } });
    delete t.metadata?.name;
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      // The API server completes the name with five characters of the same alphabet (NAME-x2k4q).
      metadata: { ...(t.metadata ?? {}), generateName: `${rs.metadata.name}-`, namespace: rs.metadata.namespace, ownerReferences: [ownerRef(rs)] },
      spec: t.spec,
    };
    const created = await this.client.request<Pod>('POST', `/api/v1/namespaces/${rs.metadata.namespace}/pods`, pod);
    void this.recorder.record({ ...rs, apiVersion: 'apps/v1', kind: 'ReplicaSet' }, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
  }
}

export class DeploymentController {
  readonly queue: WorkQueue;

  private readonly recorder: EventRecorder;

  constructor(
    private readonly client: Client,
    private readonly depInformer: Informer<Deployment>,
    private readonly rsInformer: Informer<ReplicaSet>,
    log: (s: string) => void,
  ) {
    this.queue = new WorkQueue((k) => this.sync(k), (k, e) => log(`deployment ${k}: ${e.message}`));
    this.recorder = new EventRecorder(client, 'deployment-controller');
    depInformer.on({ add: (o) => this.queue.add(nsName(o)), update: (_, o) => this.queue.add(nsName(o)) });
    const rsChanged = (rs: ReplicaSet) => {
      const ref = controllerOf(rs);
      if (ref?.kind === 'Deployment') this.queue.add(`${rs.metadata.namespace}/${ref.name}`);
    };
    rsInformer.on({ add: rsChanged, update: (_, rs) => rsChanged(rs), delete: rsChanged });
  }

  private async event(d: Deployment, reason: string, message: string): Promise<void> {
    void this.recorder.record({ ...d, apiVersion: 'apps/v1', kind: 'Deployment' }, 'Normal', reason, message);
  }

  /** scaleReplicaSet: the new size, with the replicas annotations of the Deployment as it now is. */
  private async scale(d: Deployment, rs: ReplicaSet, to: number): Promise<void> {
    const from = rs.spec.replicas ?? 0;
    const want = d.spec.replicas ?? 1;
    const annotations = replicasAnnotations(want, maxSurgeOf(d, want));
    if (from === to) return;
    const patch = { metadata: replicasAnnotationsNeedUpdate(rs, annotations) ? { annotations } : {}, spec: { replicas: to } };
    await this.client.request('PATCH', objectPath('apps/v1', 'replicasets', rs.metadata.namespace, rs.metadata.name!), patch, 'application/merge-patch+json');
    await this.event(d, 'ScalingReplicaSet', `Scaled ${to > from ? 'up' : 'down'} replica set ${rs.metadata.name} from ${from} to ${to}`);
  }

  /**
   * getNewReplicaSet for a ReplicaSet that exists: the Deployment's annotations copied to it,
   * its revision raised (a rollback), its minReadySeconds the Deployment's.
   */
  private async syncNewReplicaSet(d: Deployment, rs: ReplicaSet, newRevision: number): Promise<ReplicaSet> {
    const annotations = newReplicaSetAnnotations(d, rs.metadata.annotations, newRevision, undefined);
    const minReadySeconds = d.spec.minReadySeconds ?? 0;
    if (!annotations && (rs.spec.minReadySeconds ?? 0) === minReadySeconds) return rs;
    const patch = { metadata: annotations ? { annotations } : {}, spec: { minReadySeconds } };
    return this.client.request<ReplicaSet>('PATCH', objectPath('apps/v1', 'replicasets', rs.metadata.namespace, rs.metadata.name!), patch, 'application/merge-patch+json');
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const d = this.depInformer.get(ns, name);
    if (!d || d.metadata.deletionTimestamp) return;
    const want = d.spec.replicas ?? 1;
    const owned = this.rsInformer.list().filter((rs) => rs.metadata.namespace === ns && controllerOf(rs)?.uid === d.metadata.uid);
    const found = owned.find((rs) => sameTemplateIgnoringHash(rs.spec.template, d.spec.template));
    let newRS: ReplicaSet;
    const old = owned.filter((rs) => rs !== found);
    const strategy = d.spec.strategy?.type ?? 'RollingUpdate';
    const oldActive = old.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0);
    const newRevision = maxRevision(old) + 1;

    if (!found) {
      const hash = templateHash(d.spec.template, d.status?.collisionCount);
      const template = structuredClone(d.spec.template);
      template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [podTemplateHashLabel]: hash } };
      const maxSurge = maxSurgeOf(d, want);
      const initial = strategy === 'Recreate' ? (oldActive > 0 ? 0 : want) : Math.max(0, Math.min(want, want + maxSurge - oldActive));
      const body = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${d.metadata.name}-${hash}`,
          namespace: ns,
          labels: template.metadata.labels,
          annotations: newReplicaSetAnnotations(d, undefined, newRevision, replicasAnnotations(want, maxSurge)),
          ownerReferences: [ownerRef(d)],
        },
        spec: { replicas: initial, minReadySeconds: d.spec.minReadySeconds ?? 0, selector: { ...d.spec.selector, matchLabels: { ...(d.spec.selector.matchLabels ?? {}), [podTemplateHashLabel]: hash } }, template },
      };
      newRS = await this.client.request<ReplicaSet>('POST', `/apis/apps/v1/namespaces/${ns}/replicasets`, body);
      if (initial > 0) await this.event(d, 'ScalingReplicaSet', `Scaled up replica set ${newRS.metadata.name} from 0 to ${initial}`);
    } else {
      newRS = await this.syncNewReplicaSet(d, found, newRevision);
    }
    // The Deployment's revision is its new ReplicaSet's (SetDeploymentRevision).
    const revision = newRS.metadata.annotations?.[revisionAnnotation];
    let resourceVersion = d.metadata.resourceVersion;
    if (revision !== undefined && d.metadata.annotations?.[revisionAnnotation] !== revision) {
      // an update, not a patch: the deployment controller's role may only update Deployments
      const updated = { ...d, apiVersion: 'apps/v1', kind: 'Deployment', metadata: { ...d.metadata, annotations: { ...d.metadata.annotations, [revisionAnnotation]: revision } } };
      resourceVersion = (await this.client.request<Deployment>('PUT', objectPath('apps/v1', 'deployments', ns, name), updated)).metadata.resourceVersion;
    }

    if (!found) {
      // Just created at its initial size: the informer brings it back, and the next sync goes on.
    } else if (strategy === 'Recreate') {
      for (const rs of old) await this.scale(d, rs, 0);
      const oldPods = old.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0);
      if (oldPods === 0) await this.scale(d, newRS, want);
    } else if (!d.spec.paused) {
      const maxSurge = scaled(d.spec.strategy?.rollingUpdate?.maxSurge ?? '25%', want, true);
      let maxUnavailable = scaled(d.spec.strategy?.rollingUpdate?.maxUnavailable ?? '25%', want, false);
      if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
      // Scale up the new ReplicaSet within the surge.
      const total = owned.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0);
      const newReplicas = newRS.spec.replicas ?? 0;
      if (newReplicas > want) await this.scale(d, newRS, want);
      else if (newReplicas < want) {
        const room = want + maxSurge - total;
        if (room > 0) await this.scale(d, newRS, Math.min(want, newReplicas + room));
      }
      // Scale down old ReplicaSets as far as availability allows. The budget counts replicas by
      // spec (never stale) less the new ReplicaSet's unavailable ones, so a status the informer
      // has not refreshed yet cannot make the rollout dip below want - maxUnavailable.
      const allReplicas = owned.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0);
      const minAvailable = want - maxUnavailable;
      const newUnavailable = (newRS.spec.replicas ?? 0) - (newRS.status?.availableReplicas ?? 0);
      let budget = allReplicas - minAvailable - Math.max(0, newUnavailable);
      const replicas = new Map(owned.map((rs) => [rs, rs.spec.replicas ?? 0]));
      const scaleTo = async (rs: ReplicaSet, to: number) => {
        await this.scale(d, rs, to);
        replicas.set(rs, to);
      };
      // Old replicas that are not even available go first.
      for (const rs of old) {
        if (budget <= 0) break;
        const cur = replicas.get(rs)!;
        const drop = Math.min(budget, Math.max(0, cur - (rs.status?.availableReplicas ?? 0)));
        if (drop > 0) {
          await scaleTo(rs, cur - drop);
          budget -= drop;
        }
      }
      const available = owned.reduce((n, rs) => n + Math.min(replicas.get(rs)!, rs.status?.availableReplicas ?? 0), 0);
      let canRemove = Math.min(budget, available - minAvailable);
      for (const rs of old.sort((a, b) => Date.parse(a.metadata.creationTimestamp ?? '') - Date.parse(b.metadata.creationTimestamp ?? ''))) {
        if (canRemove <= 0) break;
        const cur = replicas.get(rs)!;
        const drop = Math.min(cur, canRemove);
        if (drop > 0) {
          await scaleTo(rs, cur - drop);
          canRemove -= drop;
        }
      }
    }

    const all = [newRS, ...old];
    const sum = (f: (rs: ReplicaSet) => number) => all.reduce((n, rs) => n + f(rs), 0);
    const replicas = sum((rs) => rs.status?.replicas ?? 0);
    const available = sum((rs) => rs.status?.availableReplicas ?? 0);
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const prevConds = d.status?.conditions ?? [];
    const cond = (type: string, status: string, reason: string, message: string) => {
      const prev = prevConds.find((c) => c.type === type);
      return { type, status, lastUpdateTime: prev && prev.status === status && prev.reason === reason ? prev.lastUpdateTime : now, lastTransitionTime: prev?.status === status ? prev.lastTransitionTime : now, reason, message };
    };
    const maxUnavailable = scaled(d.spec.strategy?.rollingUpdate?.maxUnavailable ?? '25%', want, false);
    const complete = (newRS.status?.replicas ?? 0) === want && replicas === want && available >= want;

    // Old ReplicaSets beyond revisionHistoryLimit go once the rollout is complete (or paused).
    if (complete || d.spec.paused) {
      for (const rs of replicaSetsToClean(old, d.spec.revisionHistoryLimit ?? 10)) {
        await this.client.request('DELETE', objectPath('apps/v1', 'replicasets', ns, rs.metadata.name!)).catch(() => {});
      }
    }
    const status = {
      observedGeneration: d.metadata.generation ?? 1,
      ...(d.status?.collisionCount !== undefined ? { collisionCount: d.status.collisionCount } : {}),
      replicas,
      updatedReplicas: newRS.status?.replicas ?? 0,
      readyReplicas: sum((rs) => rs.status?.readyReplicas ?? 0),
      availableReplicas: available,
      ...(want - available > 0 ? { unavailableReplicas: want - available } : {}),
      conditions: [
        available >= want - (strategy === 'Recreate' ? 0 : maxUnavailable)
          ? cond('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
          : cond('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'),
        complete
          ? cond('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${newRS.metadata.name}" has successfully progressed.`)
          : cond('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${newRS.metadata.name}" is progressing.`),
      ],
    };
    // Compared as stored (omitempty drops zero counts), condition times aside.
    const strip = (s: unknown) => JSON.parse(JSON.stringify(wireValue('V1DeploymentStatus', s), (k, v) => (k === 'lastUpdateTime' || k === 'lastTransitionTime' ? undefined : v)));
    if (!sameValue(strip(status), strip(d.status ?? {}))) {
      await this.client.request('PUT', objectPath('apps/v1', 'deployments', ns, name, 'status'), { ...d, metadata: { ...d.metadata, resourceVersion }, status });
    }
  }
}
