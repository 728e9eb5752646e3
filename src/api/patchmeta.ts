// How lists, maps and structs of the served kinds merge: the patchStrategy/patchMergeKey
// tags strategic merge patch reads, and the listType/listMapKeys/mapType/structType markers
// server-side apply reads (k8s.io/api types.go). Anything not listed here is a plain struct,
// a granular map, or an atomic list, which is upstream's default.
import { modelFields, type FieldType } from './schema.ts';

export interface ListMeta {
  /** strategic merge patch: merge (by mergeKey, or as a set of primitives) or replace */
  strategy: 'merge' | 'replace';
  mergeKey?: string;
  /** strategic merge patch: list items' unknown keys are cleared ($retainKeys) */
  retainKeys?: boolean;
  /** server-side apply: list type and, for maps, the keys */
  ssa: 'atomic' | 'set' | 'map';
  keys?: string[];
}

const replaceList: ListMeta = { strategy: 'replace', ssa: 'atomic' };

const m = (mergeKey: string, keys: string[] = [mergeKey], retainKeys = false): ListMeta => ({
  strategy: 'merge',
  mergeKey,
  ssa: 'map',
  keys,
  ...(retainKeys ? { retainKeys } : {}),
});
const set = (strategy: 'merge' | 'replace' = 'merge'): ListMeta => ({ strategy, ssa: 'set' });

const lists: Record<string, ListMeta> = {
  'V1ObjectMeta.finalizers': set(),
  'V1ObjectMeta.ownerReferences': m('uid'),
  'V1PodSpec.containers': m('name'),
  'V1PodSpec.initContainers': m('name'),
  'V1PodSpec.ephemeralContainers': m('name'),
  'V1PodSpec.volumes': m('name', ['name'], true),
  'V1PodSpec.imagePullSecrets': m('name'),
  'V1PodSpec.hostAliases': m('ip'),
  'V1PodSpec.topologySpreadConstraints': m('topologyKey', ['topologyKey', 'whenUnsatisfiable']),
  'V1PodSpec.resourceClaims': m('name', ['name'], true),
  'V1PodSpec.schedulingGates': m('name'),
  'V1PodSpec.readinessGates': replaceList,
  'V1PodSpec.tolerations': replaceList,
  'V1Container.ports': m('containerPort', ['containerPort', 'protocol']),
  'V1Container.env': m('name'),
  'V1Container.volumeMounts': m('mountPath'),
  'V1Container.volumeDevices': m('devicePath'),
  'V1Container.resizePolicy': replaceList,
  'V1EphemeralContainer.ports': m('containerPort', ['containerPort', 'protocol']),
  'V1EphemeralContainer.env': m('name'),
  'V1EphemeralContainer.volumeMounts': m('mountPath'),
  'V1EphemeralContainer.volumeDevices': m('devicePath'),
  'V1PodStatus.conditions': m('type'),
  'V1PodStatus.podIPs': m('ip'),
  'V1PodStatus.hostIPs': m('ip'),
  'V1PodStatus.resourceClaimStatuses': m('name', ['name'], true),
  'V1NodeSpec.podCIDRs': set(),
  'V1NodeStatus.conditions': m('type'),
  'V1NodeStatus.addresses': m('type'),
  'V1NamespaceStatus.conditions': m('type'),
  'V1ServiceSpec.ports': m('port', ['port', 'protocol']),
  'V1ServiceStatus.conditions': m('type'),
  'V1ServiceAccount.secrets': m('name'),
  'V1DeploymentStatus.conditions': m('type'),
  'V1ReplicaSetStatus.conditions': m('type'),
  'V1DaemonSetStatus.conditions': m('type'),
  'V1IngressLoadBalancerIngress.ports': replaceList,
  'V1LoadBalancerIngress.ports': replaceList,
  // SSA-only associative lists (no strategic merge tags upstream)
  'V1PodSecurityContext.supplementalGroups': set('replace'),
};

/** Maps that server-side apply treats as one value (+mapType=atomic). */
const atomicMaps = new Set(['V1ServiceSpec.selector', 'V1PodSpec.nodeSelector']);

/** Structs that server-side apply treats as one value (+structType=atomic). */
const atomicStructs = new Set([
  'V1LabelSelector',
  'V1ObjectReference',
  'V1LocalObjectReference',
  'V1TypedLocalObjectReference',
  'V1OwnerReference',
  'V1NodeSelector',
  'V1NodeSelectorTerm',
  'V1SecretKeySelector',
  'V1ConfigMapKeySelector',
  'V1ObjectFieldSelector',
  'V1ResourceFieldSelector',
  'V1SecretReference',
]);

/** Struct fields whose strategic merge patches carry $retainKeys (patchStrategy:"retainKeys"). */
const retainKeysFields = new Set(['V1DeploymentSpec.strategy']);

export function listMeta(model: string | undefined, field: string): ListMeta {
  if (!model) return replaceList;
  return lists[`${model}.${field}`] ?? replaceList;
}

/** The merge metadata declared for a list field, or undefined where upstream's default applies. */
export function declaredListMeta(model: string, field: string): ListMeta | undefined {
  return lists[`${model}.${field}`];
}

export function isAtomicMap(model: string | undefined, field: string): boolean {
  return model !== undefined && atomicMaps.has(`${model}.${field}`);
}

export function isAtomicStruct(model: string): boolean {
  return atomicStructs.has(model);
}

export function hasRetainKeys(model: string | undefined, field: string): boolean {
  return model !== undefined && retainKeysFields.has(`${model}.${field}`);
}

/** The schema type of `field` inside `model`, or undefined when unknown. */
export function childType(model: string | undefined, field: string): FieldType | undefined {
  if (!model) return undefined;
  try {
    return modelFields(model).get(field)?.type;
  } catch {
    return undefined;
  }
}

/** The model an object-typed (or list-of-object) field refers to. */
export function modelOf(t: FieldType | undefined): string | undefined {
  if (!t) return undefined;
  if (t.t === 'object') return t.model;
  if (t.t === 'array' || t.t === 'map') return modelOf(t.of);
  return undefined;
}
