// The Node authorizer's graph (plugin/pkg/auth/authorizer/node/graph.go and graph_populator.go),
// reduced to what its decisions read: for each object a pod bound to a node refers to (its
// secrets, configmaps, persistent volume claims and service account, and the pod itself), the
// nodes it leads to. Upstream walks node <- pod <- secret paths; every such path here is one
// edge deep, so the walk is a lookup in a destination index kept up to date from the pods' watch.
import type { KubeObject, Pod } from '../api/types.ts';

export type VertexType = 'pod' | 'secret' | 'configmap' | 'pvc' | 'serviceAccount';

type Obj = Record<string, unknown>;

const vertexKey = (type: VertexType, namespace: string, name: string) => `${type}/${namespace}/${name}`;

/** The objects a pod refers to (podutil.VisitPodSecretNames, VisitPodConfigmapNames, its PVCs and service account), as vertex keys. */
export function podReferences(pod: Pod): string[] {
  const ns = pod.metadata.namespace ?? '';
  const out = new Set<string>([vertexKey('pod', ns, pod.metadata.name ?? '')]);
  const add = (type: VertexType, name: unknown) => {
    if (typeof name === 'string' && name) out.add(vertexKey(type, ns, name));
  };
  const spec = pod.spec as unknown as Obj;
  for (const s of (spec.imagePullSecrets as Obj[] | undefined) ?? []) add('secret', s.name);
  const containers = [...((spec.initContainers as Obj[]) ?? []), ...((spec.containers as Obj[]) ?? []), ...((spec.ephemeralContainers as Obj[]) ?? [])];
  for (const c of containers) {
    for (const e of (c.envFrom as Obj[] | undefined) ?? []) {
      add('secret', (e.secretRef as Obj | undefined)?.name);
      add('configmap', (e.configMapRef as Obj | undefined)?.name);
    }
    for (const e of (c.env as Obj[] | undefined) ?? []) {
      const from = e.valueFrom as Obj | undefined;
      add('secret', (from?.secretKeyRef as Obj | undefined)?.name);
      add('configmap', (from?.configMapKeyRef as Obj | undefined)?.name);
    }
  }
  for (const v of (spec.volumes as Obj[] | undefined) ?? []) {
    add('secret', (v.secret as Obj | undefined)?.secretName);
    add('configmap', (v.configMap as Obj | undefined)?.name);
    add('pvc', (v.persistentVolumeClaim as Obj | undefined)?.claimName);
    // a generic ephemeral volume's claim is named <pod>-<volume>
    if (v.ephemeral) add('pvc', `${pod.metadata.name}-${String(v.name)}`);
    add('secret', ((v.csi as Obj | undefined)?.nodePublishSecretRef as Obj | undefined)?.name);
    for (const src of ((v.projected as Obj | undefined)?.sources as Obj[] | undefined) ?? []) {
      add('secret', (src.secret as Obj | undefined)?.name);
      add('configmap', (src.configMap as Obj | undefined)?.name);
    }
  }
  add('serviceAccount', spec.serviceAccountName);
  return [...out];
}

/** Which nodes each object leads to, kept from the pods bound to nodes. */
export class NodeGraph {
  /** vertex key → node name → how many pods lead there */
  private readonly destinations = new Map<string, Map<string, number>>();
  /** pod (namespace/name) → its node and the vertices it put in */
  private readonly pods = new Map<string, { node: string; refs: string[] }>();
  /** nodes some pod is bound to (upstream's node vertices) */
  private readonly nodes = new Map<string, number>();

  /** AddPod / DeletePod: a pod's edges replace what it had before; unbound pods have none. */
  setPod(pod: Pod): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    this.deletePod(pod.metadata.namespace ?? '', pod.metadata.name ?? '');
    const node = pod.spec?.nodeName;
    if (!node) return;
    const refs = podReferences(pod);
    this.pods.set(key, { node, refs });
    this.nodes.set(node, (this.nodes.get(node) ?? 0) + 1);
    for (const r of refs) {
      let m = this.destinations.get(r);
      if (!m) this.destinations.set(r, (m = new Map()));
      m.set(node, (m.get(node) ?? 0) + 1);
    }
  }

  deletePod(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const had = this.pods.get(key);
    if (!had) return;
    this.pods.delete(key);
    const left = (this.nodes.get(had.node) ?? 1) - 1;
    if (left > 0) this.nodes.set(had.node, left);
    else this.nodes.delete(had.node);
    for (const r of had.refs) {
      const m = this.destinations.get(r)!;
      const n = (m.get(had.node) ?? 1) - 1;
      if (n > 0) m.set(had.node, n);
      else m.delete(had.node);
      if (m.size === 0) this.destinations.delete(r);
    }
  }

  /** hasPathFrom: whether the object leads to the node; the error says why not, as upstream's does. */
  hasPathFrom(node: string, type: VertexType, namespace: string, name: string): { ok: true } | { ok: false; error: string } {
    const typeName = { pod: 'pod', secret: 'secret', configmap: 'configmap', pvc: 'pvc', serviceAccount: 'serviceAccount' }[type];
    if (!this.nodes.has(node)) return { ok: false, error: `unknown node '${node}' cannot get ${typeName} ${namespace}/${name}` };
    const dest = this.destinations.get(vertexKey(type, namespace, name));
    if (!dest) return { ok: false, error: `node '${node}' cannot get unknown ${typeName} ${namespace}/${name}` };
    if (dest.has(node)) return { ok: true };
    return { ok: false, error: `node '${node}' cannot get ${typeName} ${namespace}/${name}, no relationship to this object was found in the node authorizer graph` };
  }

  /** the number of pods with edges (for tests and figures) */
  get size(): number {
    return this.pods.size;
  }
}

/** The graph over a set of pods (built once; the server keeps it current from the pods' watch). */
export function graphOf(pods: readonly KubeObject[]): NodeGraph {
  const g = new NodeGraph();
  for (const p of pods) g.setPod(p as Pod);
  return g;
}
