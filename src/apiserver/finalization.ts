// Deletion that outlives a request: the garbage collector (owner references, with
// background, foreground and orphan propagation) and namespace termination. They run in
// the API server process and act through the Registry, as a controller acts through the API.
import { apiVersionOf, findKind, resourceOf, resourceTypes, type ResourceType } from '../api/resources.ts';
import type { KubeObject, Namespace, OwnerReference, Pod } from '../api/types.ts';
import type { Registry } from './registry.ts';
import type { StoreEvent } from './storage/store.ts';

type Ref = { rt: ResourceType; namespace: string | undefined; name: string };

/** The field manager of PodGC's status writes (kube-controller-manager's pod garbage collector). */
const podGCManager = 'PodGC';

/** `pod` as PodGC leaves an orphan before deleting it: Failed, with the DisruptionTarget condition saying why. */
function markedFailedByPodGC(pod: Pod, now = new Date()): Pod {
  const next = structuredClone(pod);
  const status = (next.status ??= {});
  status.phase = 'Failed';
  const cond = { type: 'DisruptionTarget', status: 'True', lastTransitionTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'), reason: 'DeletionByPodGC', message: 'PodGC: node no longer exists' };
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== 'DisruptionTarget'), cond];
  return next;
}

const keyOf = (r: Ref) => `${r.rt.group}/${r.rt.resource}/${r.namespace ?? ''}/${r.name}`;

export class Finalization {
  /** owner uid -> dependents that reference it */
  private dependents = new Map<string, Map<string, Ref>>();
  private pending = new Map<string, () => void>();
  private scheduled = false;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  log: (line: string) => void = () => {};

  constructor(private readonly registry: Registry) {}

  /** the resources watched, by store key (custom kinds join as their CRDs are established) */
  private watched = new Set<string>();

  start(): void {
    for (const rt of resourceTypes) this.watch(rt);
    this.watchCustomKinds();
    this.retry = setInterval(() => this.resync(), 2000);
  }

  private watch(rt: ResourceType): void {
    if (rt.storage) return; // another version of a resource watched as itself
    const key = `${rt.group}/${rt.resource}`;
    if (this.watched.has(key)) return;
    this.watched.add(key);
    this.registry.store.addWatcher({ resource: key, deliver: (ev) => this.onEvent(rt, ev) });
    for (const o of this.registry.store.list(key)) this.observe(rt, o, undefined);
  }

  private watchCustomKinds(): void {
    for (const rt of this.registry.kinds?.types() ?? []) this.watch(rt);
  }

  /** The kind an owner reference names: built in, or served by a CustomResourceDefinition. */
  private kindOf(apiVersion: string, kind: string): ResourceType | undefined {
    return findKind(apiVersion, kind) ?? this.registry.kinds?.types().find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearInterval(this.retry);
  }

  /** Number of queued work items (for tests and health). */
  get queued(): number {
    return this.pending.size;
  }

  private onEvent(rt: ResourceType, ev: StoreEvent): void {
    if (ev.type === 'DELETED') {
      this.unindex(rt, ev.object);
      const uid = ev.object.metadata.uid;
      if (uid) for (const dep of this.dependents.get(uid)?.values() ?? []) this.enqueue(`dep:${keyOf(dep)}`, () => this.checkDependent(dep));
      for (const ref of ev.object.metadata.ownerReferences ?? []) this.enqueueOwnerOf(ev.object, ref);
      if (rt.namespaced && ev.object.metadata.namespace) this.enqueueNamespace(ev.object.metadata.namespace);
      return;
    }
    this.observe(rt, ev.object, ev.prev);
  }

  private observe(rt: ResourceType, o: KubeObject, prev: KubeObject | undefined): void {
    if (prev) this.unindex(rt, prev);
    const ref: Ref = { rt, namespace: o.metadata.namespace, name: o.metadata.name! };
    for (const owner of o.metadata.ownerReferences ?? []) {
      let deps = this.dependents.get(owner.uid);
      if (!deps) this.dependents.set(owner.uid, (deps = new Map()));
      deps.set(keyOf(ref), ref);
    }
    if (o.metadata.ownerReferences?.length) this.enqueue(`dep:${keyOf(ref)}`, () => this.checkDependent(ref));
    if (o.metadata.deletionTimestamp) {
      const fins = o.metadata.finalizers ?? [];
      if (fins.includes('orphan') || fins.includes('foregroundDeletion')) this.enqueue(`owner:${keyOf(ref)}`, () => this.processOwner(ref));
      if (rt.kind === 'Namespace') this.enqueueNamespace(o.metadata.name!);
      if (rt.kind === 'Pod') this.enqueue(`pod:${keyOf(ref)}`, () => this.checkOrphanedPod(ref));
    }
  }

  private unindex(rt: ResourceType, o: KubeObject): void {
    const key = keyOf({ rt, namespace: o.metadata.namespace, name: o.metadata.name! });
    for (const owner of o.metadata.ownerReferences ?? []) {
      const deps = this.dependents.get(owner.uid);
      deps?.delete(key);
      if (deps && deps.size === 0) this.dependents.delete(owner.uid);
    }
  }

  private enqueueOwnerOf(o: KubeObject, ref: OwnerReference): void {
    const rt = this.kindOf(ref.apiVersion, ref.kind);
    if (!rt) return;
    const owner: Ref = { rt, namespace: rt.namespaced ? o.metadata.namespace : undefined, name: ref.name };
    this.enqueue(`owner:${keyOf(owner)}`, () => this.processOwner(owner));
  }

  private enqueueNamespace(name: string): void {
    this.enqueue(`ns:${name}`, () => this.processNamespace(name));
  }

  private enqueue(key: string, fn: () => void): void {
    if (this.stopped) return;
    this.pending.set(key, fn);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    const work = [...this.pending.values()];
    this.pending.clear();
    for (const fn of work) {
      try {
        fn();
      } catch (e) {
        this.log(`finalization: ${(e as Error).message}`);
      }
    }
  }

  /** Re-examines what may be waiting on something without an event (e.g. grace periods). */
  private resync(): void {
    this.watchCustomKinds();
    for (const ns of this.registry.store.list('/namespaces')) if (ns.metadata.deletionTimestamp) this.enqueueNamespace(ns.metadata.name!);
    for (const p of this.registry.store.list('/pods')) {
      if (p.metadata.deletionTimestamp) {
        const ref: Ref = { rt: resourceOf('', 'pods'), namespace: p.metadata.namespace, name: p.metadata.name! };
        this.enqueue(`pod:${keyOf(ref)}`, () => this.checkOrphanedPod(ref));
      }
    }
  }

  private get(ref: Ref): KubeObject | undefined {
    return this.registry.tryGet(ref.rt, ref.namespace, ref.name);
  }

  /**
   * The owner an owner reference names, if it exists with that uid. An owner of a kind this
   * server does not serve counts as present: as upstream's collector, nothing is deleted on a
   * reference it cannot resolve.
   */
  private ownerOf(o: KubeObject, ref: OwnerReference): KubeObject | undefined {
    const rt = this.kindOf(ref.apiVersion, ref.kind);
    if (!rt) return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, uid: ref.uid } };
    const owner = this.registry.tryGet(rt, rt.namespaced ? o.metadata.namespace : undefined, ref.name);
    return owner?.metadata.uid === ref.uid ? owner : undefined;
  }

  private checkDependent(ref: Ref): void {
    const o = this.get(ref);
    if (!o || !o.metadata.ownerReferences?.length) return;
    const refs = o.metadata.ownerReferences;
    const owners = refs.map((r) => this.ownerOf(o, r));
    const present = refs.filter((_, i) => owners[i] !== undefined);
    if (present.length === 0) {
      // Every owner is gone: the dependent goes too (background propagation).
      if (!o.metadata.deletionTimestamp) this.remove(ref, 'Background');
      return;
    }
    if (present.length < refs.length) {
      const next = structuredClone(o);
      next.metadata.ownerReferences = present;
      this.registry.writeInternal(ref.rt, next, 'generic-garbage-collector');
      return;
    }
    // An owner being deleted in the foreground takes its dependents with it.
    owners.forEach((owner, i) => {
      if (owner?.metadata.deletionTimestamp && (owner.metadata.finalizers ?? []).includes('foregroundDeletion') && !o.metadata.deletionTimestamp) {
        this.remove(ref, refs[i]!.blockOwnerDeletion ? 'Foreground' : 'Background');
      }
    });
  }

  private remove(ref: Ref, propagationPolicy: 'Background' | 'Foreground'): void {
    try {
      this.registry.deleteObject(ref.rt, ref.namespace, ref.name, { propagationPolicy });
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
    }
  }

  private processOwner(ref: Ref): void {
    const o = this.get(ref);
    if (!o || !o.metadata.deletionTimestamp) return;
    const uid = o.metadata.uid!;
    const deps = [...(this.dependents.get(uid)?.values() ?? [])];
    const fins = o.metadata.finalizers ?? [];
    if (fins.includes('orphan')) {
      for (const d of deps) {
        const dep = this.get(d);
        if (!dep) continue;
        const next = structuredClone(dep);
        next.metadata.ownerReferences = (next.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
        if (!next.metadata.ownerReferences.length) delete next.metadata.ownerReferences;
        this.registry.writeInternal(d.rt, next, 'generic-garbage-collector');
      }
      this.registry.removeFinalizer(ref.rt, o, 'orphan');
      return;
    }
    if (fins.includes('foregroundDeletion')) {
      let blocking = 0;
      for (const d of deps) {
        const dep = this.get(d);
        if (!dep) continue;
        const r = dep.metadata.ownerReferences?.find((x) => x.uid === uid);
        if (!r) continue;
        if (r.blockOwnerDeletion) blocking++;
        if (!dep.metadata.deletionTimestamp) this.remove(d, r.blockOwnerDeletion ? 'Foreground' : 'Background');
      }
      if (blocking === 0) this.registry.removeFinalizer(ref.rt, o, 'foregroundDeletion');
    }
  }

  /**
   * A deleted pod whose node is gone has no kubelet to confirm its end. As upstream's PodGC, it
   * is first marked Failed (DisruptionTarget, DeletionByPodGC), so a finalizer's holder (the Job
   * controller under podReplacementPolicy: Failed) sees it finished and lets go; then it goes.
   */
  private checkOrphanedPod(ref: Ref): void {
    let pod = this.get(ref) as Pod | undefined;
    if (!pod?.metadata.deletionTimestamp) return;
    const node = pod.spec.nodeName ? this.registry.tryGet(resourceOf('', 'nodes'), undefined, pod.spec.nodeName) : undefined;
    if (node) return;
    if (pod.spec.nodeName && pod.status?.phase !== 'Failed' && pod.status?.phase !== 'Succeeded') pod = this.registry.writeInternal(ref.rt, markedFailedByPodGC(pod), podGCManager) as Pod;
    if (!(pod.metadata.finalizers ?? []).length) this.registry.removeNow(ref.rt, pod);
  }

  private processNamespace(name: string): void {
    const nsRt = resourceOf('', 'namespaces');
    const ns = this.registry.tryGet(nsRt, undefined, name) as Namespace | undefined;
    if (!ns?.metadata.deletionTimestamp) return;
    let remaining = 0;
    // Custom kinds too, one version of each (they share their storage).
    const custom = new Map((this.registry.kinds?.types() ?? []).map((rt) => [`${rt.group}/${rt.resource}`, rt]));
    for (const rt of [...resourceTypes, ...custom.values()]) {
      if (!rt.namespaced || rt.storage) continue;
      for (const o of this.registry.store.list(`${rt.group}/${rt.resource}`, name)) {
        remaining++;
        if (!o.metadata.deletionTimestamp) this.remove({ rt, namespace: name, name: o.metadata.name! }, 'Background');
      }
    }
    if (remaining > 0) return;
    const fins = ns.spec?.finalizers ?? [];
    if (fins.includes('kubernetes')) {
      this.registry.setNamespaceFinalizers(name, fins.filter((f) => f !== 'kubernetes'));
    }
  }
}
