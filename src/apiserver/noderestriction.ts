// The NodeRestriction admission plugin (plugin/pkg/admission/noderestriction): what the Node
// authorizer allows a node to write broadly (pods, Nodes, Leases, tokens) is held here to its
// own — its Node (with no taint changes and no labels outside the kubelet's), mirror pods bound
// to it, status of pods bound to it, its Lease, tokens bound to its pods. Refusals are 403s in
// upstream's words.
import { errors, type ApiError } from '../api/errors.ts';
import type { KubeObject, Node, Pod } from '../api/types.ts';
import type { AdmissionAttributes } from './admission.ts';
import { nodeIdentity } from './nodeauthorizer.ts';

/** What the plugin reads besides the request: pods and nodes as they are now. */
export interface NodeRestrictionLookup {
  pod(namespace: string, name: string): Pod | undefined;
  node(name: string): Node | undefined;
}

const mirrorPodAnnotation = 'kubernetes.io/config.mirror';

/** Admit: throws a Forbidden (or the NotFound upstream passes on) when a node may not make this write. */
export function admitNodeRestriction(a: AdmissionAttributes, lookup: NodeRestrictionLookup): void {
  if (!a.user) return;
  const node = nodeIdentity(a.user);
  if (node === undefined) return;
  const forbid = (why: string): ApiError => errors.forbidden({ group: a.group, resource: a.resource }, a.name, why);
  if (node === '') throw forbid(`could not determine node from user ${JSON.stringify(a.user.username)}`);
  const core = a.group === '';
  if (core && a.resource === 'pods') {
    if (a.subresource === '') return admitPod(node, a, lookup, forbid);
    if (a.subresource === 'status') return admitPodStatus(node, a, forbid);
    if (a.subresource === 'eviction') return;
    throw forbid(`unexpected pod subresource ${JSON.stringify(a.subresource)}, only 'status' and 'eviction' are allowed`);
  }
  if (core && a.resource === 'nodes') return admitNode(node, a, forbid);
  if (core && a.resource === 'persistentvolumeclaims' && a.subresource !== 'status') throw forbid('may only update PVC status');
  if (core && a.resource === 'serviceaccounts') return admitServiceAccount(node, a, lookup, forbid);
  if (a.group === 'coordination.k8s.io' && a.resource === 'leases') {
    if (a.namespace !== 'kube-node-lease') throw forbid('can only access leases in the "kube-node-lease" system namespace');
    if (a.name !== node) throw forbid('can only access node lease with the same name as the requesting node');
    return;
  }
  if (a.group === 'storage.k8s.io' && a.resource === 'csinodes' && a.name !== node) throw forbid('can only access CSINode with the same name as the requesting node');
}

type Forbid = (why: string) => ApiError;

function admitPod(node: string, a: AdmissionAttributes, lookup: NodeRestrictionLookup, forbid: Forbid): void {
  if (a.operation === 'DELETE') {
    const existing = lookup.pod(a.namespace, a.name);
    if (!existing) throw errors.notFound({ group: '', resource: 'pods' }, a.name);
    if (existing.spec?.nodeName !== node) throw forbid(`node ${JSON.stringify(node)} can only delete pods with spec.nodeName set to itself`);
    return;
  }
  if (a.operation !== 'CREATE') throw forbid(`unexpected operation ${JSON.stringify(a.operation)}, node ${JSON.stringify(node)} can only create and delete mirror pods`);
  const pod = a.object as Pod;
  if (pod.metadata.annotations?.[mirrorPodAnnotation] === undefined) throw forbid(`pod does not have ${JSON.stringify(mirrorPodAnnotation)} annotation, node ${JSON.stringify(node)} can only create mirror pods`);
  if (pod.spec?.nodeName !== node) throw forbid(`node ${JSON.stringify(node)} can only create pods with spec.nodeName set to itself`);
  const owners = pod.metadata.ownerReferences ?? [];
  if (owners.length > 1) throw forbid(`node ${JSON.stringify(node)} can only create pods with a single owner reference set to itself`);
  if (owners.length === 0) throw forbid(`node ${JSON.stringify(node)} can only create pods with an owner reference set to itself`);
  const owner = owners[0]!;
  if (owner.apiVersion !== 'v1' || owner.kind !== 'Node' || owner.name !== node) throw forbid(`node ${JSON.stringify(node)} can only create pods with an owner reference set to itself`);
  if (!owner.controller) throw forbid(`node ${JSON.stringify(node)} can only create pods with a controller owner reference set to itself`);
  if (owner.blockOwnerDeletion) throw forbid(`node ${JSON.stringify(node)} must not set blockOwnerDeletion on an owner reference`);
  const self = lookup.node(node);
  if (!self) throw errors.notFound({ group: '', resource: 'nodes' }, node);
  if (owner.uid !== self.metadata.uid) throw forbid(`node ${node} UID mismatch: expected ${owner.uid} got ${self.metadata.uid}`);
  // a mirror pod refers to no other API object
  const refs = references(pod);
  if (pod.spec.serviceAccountName) throw forbid(`node ${JSON.stringify(node)} can not create pods that reference a service account`);
  if (refs.secrets) throw forbid(`node ${JSON.stringify(node)} can not create pods that reference secrets`);
  if (refs.configMaps) throw forbid(`node ${JSON.stringify(node)} can not create pods that reference configmaps`);
  if (refs.clusterTrustBundles) throw forbid(`node ${JSON.stringify(node)} can not create pods that reference clustertrustbundles`);
  if (refs.claims) throw forbid(`node ${JSON.stringify(node)} can not create pods that reference persistentvolumeclaims`);
}

type Obj = Record<string, unknown>;

function references(pod: Pod): { secrets: boolean; configMaps: boolean; clusterTrustBundles: boolean; claims: boolean } {
  const spec = pod.spec as unknown as Obj;
  const out = { secrets: ((spec.imagePullSecrets as unknown[]) ?? []).length > 0, configMaps: false, clusterTrustBundles: false, claims: false };
  const containers = [...((spec.initContainers as Obj[]) ?? []), ...((spec.containers as Obj[]) ?? []), ...((spec.ephemeralContainers as Obj[]) ?? [])];
  for (const c of containers) {
    for (const e of (c.envFrom as Obj[] | undefined) ?? []) {
      if (e.secretRef) out.secrets = true;
      if (e.configMapRef) out.configMaps = true;
    }
    for (const e of (c.env as Obj[] | undefined) ?? []) {
      const from = e.valueFrom as Obj | undefined;
      if (from?.secretKeyRef) out.secrets = true;
      if (from?.configMapKeyRef) out.configMaps = true;
    }
  }
  for (const v of (spec.volumes as Obj[] | undefined) ?? []) {
    if (v.secret || (v.csi as Obj | undefined)?.nodePublishSecretRef) out.secrets = true;
    if (v.configMap) out.configMaps = true;
    if (v.persistentVolumeClaim) out.claims = true;
    for (const src of ((v.projected as Obj | undefined)?.sources as Obj[] | undefined) ?? []) {
      if (src.secret) out.secrets = true;
      if (src.configMap) out.configMaps = true;
      if (src.clusterTrustBundle) out.clusterTrustBundles = true;
    }
  }
  return out;
}

function admitPodStatus(node: string, a: AdmissionAttributes, forbid: Forbid): void {
  if (a.operation !== 'UPDATE') throw forbid(`unexpected operation ${JSON.stringify(a.operation)}`);
  const old = a.old as Pod;
  if (old.spec?.nodeName !== node) throw forbid(`node ${JSON.stringify(node)} can only update pod status for pods with spec.nodeName set to itself`);
  if (!sameMap(old.metadata.labels, a.object?.metadata.labels)) throw forbid(`node ${JSON.stringify(node)} cannot update labels through pod status`);
}

function sameMap(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {});
  if (ka.length !== Object.keys(b ?? {}).length) return false;
  return ka.every((k) => b?.[k] === a?.[k]);
}

function admitNode(node: string, a: AdmissionAttributes, forbid: Forbid): void {
  if (a.name !== node) throw forbid(`node ${JSON.stringify(node)} is not allowed to modify node ${JSON.stringify(a.name)}`);
  const obj = a.object as Node | undefined;
  if (a.operation === 'CREATE' && obj) {
    if ((obj.spec as Obj | undefined)?.configSource) throw forbid(`node ${JSON.stringify(node)} is not allowed to create pods with a non-nil configSource`);
    const bad = forbiddenLabels(modifiedLabels(obj.metadata.labels, undefined));
    if (bad.length) throw forbid(`node ${JSON.stringify(node)} is not allowed to set the following labels: ${bad.join(', ')}`);
  }
  if (a.operation === 'UPDATE' && obj && a.old) {
    const old = a.old as Node;
    const source = (obj.spec as Obj | undefined)?.configSource;
    if (source && JSON.stringify(source) !== JSON.stringify((old.spec as Obj | undefined)?.configSource)) throw forbid(`node ${JSON.stringify(node)} is not allowed to update configSource to a new non-nil configSource`);
    if (JSON.stringify(obj.spec?.taints ?? []) !== JSON.stringify(old.spec?.taints ?? [])) throw forbid(`node ${JSON.stringify(node)} is not allowed to modify taints`);
    const bad = forbiddenLabels(modifiedLabels(obj.metadata.labels, old.metadata.labels));
    if (bad.length) throw forbid(`is not allowed to modify labels: ${bad.join(', ')}`);
  }
}

/** getModifiedLabels: the keys added, removed or changed. */
export function modifiedLabels(a: Record<string, string> | undefined, b: Record<string, string> | undefined): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(a ?? {})) if (b?.[k] !== v) out.add(k);
  for (const [k, v] of Object.entries(b ?? {})) if (a?.[k] !== v) out.add(k);
  return [...out];
}

const labelNamespace = (key: string) => (key.includes('/') ? key.slice(0, key.indexOf('/')) : '');
const inNamespace = (ns: string, root: string) => ns === root || ns.endsWith(`.${root}`);

/** k8s.io/kubelet's labels a kubelet may set on its Node. */
const kubeletLabels = new Set([
  'kubernetes.io/hostname',
  'topology.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'kubernetes.io/os',
  'kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/arch',
]);

/** IsKubeletLabel */
export function isKubeletLabel(key: string): boolean {
  if (kubeletLabels.has(key)) return true;
  const ns = labelNamespace(key);
  return inNamespace(ns, 'kubelet.kubernetes.io') || inNamespace(ns, 'node.kubernetes.io');
}

/** getForbiddenLabels: node-restriction.kubernetes.io/ labels, and kubernetes.io / k8s.io labels that are not the kubelet's; sorted. */
export function forbiddenLabels(modified: string[]): string[] {
  const out = new Set<string>();
  for (const key of modified) {
    const ns = labelNamespace(key);
    if (inNamespace(ns, 'node-restriction.kubernetes.io')) out.add(key);
    const kubernetes = inNamespace(ns, 'kubernetes.io') || inNamespace(ns, 'k8s.io');
    if (kubernetes && !isKubeletLabel(key)) out.add(key);
  }
  return [...out].sort();
}

function admitServiceAccount(node: string, a: AdmissionAttributes, lookup: NodeRestrictionLookup, forbid: Forbid): void {
  if (a.operation !== 'CREATE' || a.subresource !== 'token') return;
  const ref = (a.object?.spec as Obj | undefined)?.boundObjectRef as Obj | undefined;
  if (!ref || ref.apiVersion !== 'v1' || ref.kind !== 'Pod' || !ref.name) throw forbid('node requested token not bound to a pod');
  if (!ref.uid) throw forbid('node requested token with a pod binding without a uid');
  const pod = lookup.pod(a.namespace, String(ref.name));
  if (!pod) throw errors.notFound({ group: '', resource: 'pods' }, String(ref.name));
  if (ref.uid !== pod.metadata.uid) throw forbid(`the UID in the bound object reference (${String(ref.uid)}) does not match the UID in record. The object might have been deleted and then recreated`);
  if (pod.spec?.nodeName !== node) throw forbid('node requested token bound to a pod scheduled on a different node');
}
