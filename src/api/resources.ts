// The API resources podpath serves, with the metadata discovery publishes for them.
import type { Printer } from './printers.ts';

export interface SubresourceInfo {
  name: string;
  group: string;
  version: string;
  kind: string;
  verbs: string[];
}

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  resource: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  subresources: SubresourceInfo[];
  /** client-node model holding the schema of this kind */
  model: string;
  /** created to ask a question and answered at once, never stored (the reviews) */
  notStored?: true;
  /** defined by a CustomResourceDefinition: stored at storageVersion, printed by its columns */
  custom?: { storageVersion: string; printer: Printer };
  /** another version of a stored resource: its objects are that resource's, converted on the way in and out */
  storage?: { group: string; resource: string };
}

const allVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const subVerbs = ['get', 'patch', 'update'];

function status(group: string, version: string, kind: string): SubresourceInfo {
  return { name: 'status', group, version, kind, verbs: subVerbs };
}

function scale(): SubresourceInfo {
  return { name: 'scale', group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: subVerbs };
}

function def(r: Omit<ResourceType, 'listKind' | 'verbs'> & { verbs?: string[] }): ResourceType {
  return { ...r, listKind: `${r.kind}List`, verbs: r.verbs ?? allVerbs };
}

export const resourceTypes: readonly ResourceType[] = [
  def({ group: '', version: 'v1', kind: 'Namespace', resource: 'namespaces', singular: 'namespace', namespaced: false, shortNames: ['ns'], categories: [], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], subresources: [status('', 'v1', 'Namespace'), { name: 'finalize', group: '', version: 'v1', kind: 'Namespace', verbs: ['update'] }], model: 'V1Namespace' }),
  def({ group: '', version: 'v1', kind: 'Node', resource: 'nodes', singular: 'node', namespaced: false, shortNames: ['no'], categories: [], subresources: [status('', 'v1', 'Node')], model: 'V1Node' }),
  def({
    group: '', version: 'v1', kind: 'Pod', resource: 'pods', singular: 'pod', namespaced: true, shortNames: ['po'], categories: ['all'],
    subresources: [
      status('', 'v1', 'Pod'),
      { name: 'binding', group: '', version: 'v1', kind: 'Binding', verbs: ['create'] },
      { name: 'log', group: '', version: 'v1', kind: 'Pod', verbs: ['get'] },
      { name: 'exec', group: '', version: 'v1', kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'attach', group: '', version: 'v1', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
      { name: 'portforward', group: '', version: 'v1', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
      { name: 'ephemeralcontainers', group: '', version: 'v1', kind: 'Pod', verbs: subVerbs },
    ],
    model: 'V1Pod',
  }),
  def({ group: '', version: 'v1', kind: 'Service', resource: 'services', singular: 'service', namespaced: true, shortNames: ['svc'], categories: ['all'], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], subresources: [status('', 'v1', 'Service')], model: 'V1Service' }),
  def({ group: '', version: 'v1', kind: 'Endpoints', resource: 'endpoints', singular: 'endpoints', namespaced: true, shortNames: ['ep'], categories: [], subresources: [], model: 'V1Endpoints' }),
  def({ group: '', version: 'v1', kind: 'Secret', resource: 'secrets', singular: 'secret', namespaced: true, shortNames: [], categories: [], subresources: [], model: 'V1Secret' }),
  def({ group: '', version: 'v1', kind: 'ConfigMap', resource: 'configmaps', singular: 'configmap', namespaced: true, shortNames: ['cm'], categories: [], subresources: [], model: 'V1ConfigMap' }),
  def({ group: '', version: 'v1', kind: 'Event', resource: 'events', singular: 'event', namespaced: true, shortNames: ['ev'], categories: [], subresources: [], model: 'CoreV1Event' }),
  def({ group: '', version: 'v1', kind: 'ServiceAccount', resource: 'serviceaccounts', singular: 'serviceaccount', namespaced: true, shortNames: ['sa'], categories: [], subresources: [{ name: 'token', group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] }], model: 'V1ServiceAccount' }),
  def({ group: 'apps', version: 'v1', kind: 'ControllerRevision', resource: 'controllerrevisions', singular: 'controllerrevision', namespaced: true, shortNames: [], categories: [], subresources: [], model: 'V1ControllerRevision' }),
  def({ group: 'apps', version: 'v1', kind: 'Deployment', resource: 'deployments', singular: 'deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'], subresources: [scale(), status('apps', 'v1', 'Deployment')], model: 'V1Deployment' }),
  def({ group: 'apps', version: 'v1', kind: 'ReplicaSet', resource: 'replicasets', singular: 'replicaset', namespaced: true, shortNames: ['rs'], categories: ['all'], subresources: [scale(), status('apps', 'v1', 'ReplicaSet')], model: 'V1ReplicaSet' }),
  def({ group: 'apps', version: 'v1', kind: 'DaemonSet', resource: 'daemonsets', singular: 'daemonset', namespaced: true, shortNames: ['ds'], categories: ['all'], subresources: [status('apps', 'v1', 'DaemonSet')], model: 'V1DaemonSet' }),
  def({ group: 'events.k8s.io', version: 'v1', kind: 'Event', resource: 'events', singular: 'event', namespaced: true, shortNames: ['ev'], categories: [], subresources: [], model: 'EventsV1Event', storage: { group: '', resource: 'events' } }),
  def({ group: 'batch', version: 'v1', kind: 'CronJob', resource: 'cronjobs', singular: 'cronjob', namespaced: true, shortNames: ['cj'], categories: ['all'], subresources: [status('batch', 'v1', 'CronJob')], model: 'V1CronJob' }),
  def({ group: 'batch', version: 'v1', kind: 'Job', resource: 'jobs', singular: 'job', namespaced: true, shortNames: [], categories: ['all'], subresources: [status('batch', 'v1', 'Job')], model: 'V1Job' }),
  def({ group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', resource: 'endpointslices', singular: 'endpointslice', namespaced: true, shortNames: [], categories: [], subresources: [], model: 'V1EndpointSlice' }),
  def({ group: 'networking.k8s.io', version: 'v1', kind: 'Ingress', resource: 'ingresses', singular: 'ingress', namespaced: true, shortNames: ['ing'], categories: [], subresources: [status('networking.k8s.io', 'v1', 'Ingress')], model: 'V1Ingress' }),
  def({ group: 'networking.k8s.io', version: 'v1', kind: 'IngressClass', resource: 'ingressclasses', singular: 'ingressclass', namespaced: false, shortNames: [], categories: [], subresources: [], model: 'V1IngressClass' }),
  def({ group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy', resource: 'networkpolicies', singular: 'networkpolicy', namespaced: true, shortNames: ['netpol'], categories: [], subresources: [], model: 'V1NetworkPolicy' }),
  def({ group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition', resource: 'customresourcedefinitions', singular: 'customresourcedefinition', namespaced: false, shortNames: ['crd', 'crds'], categories: ['api-extensions'], subresources: [status('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition')], model: 'V1CustomResourceDefinition' }),
  def({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRoleBinding', resource: 'clusterrolebindings', singular: 'clusterrolebinding', namespaced: false, shortNames: [], categories: [], subresources: [], model: 'V1ClusterRoleBinding' }),
  def({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRole', resource: 'clusterroles', singular: 'clusterrole', namespaced: false, shortNames: [], categories: [], subresources: [], model: 'V1ClusterRole' }),
  def({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'RoleBinding', resource: 'rolebindings', singular: 'rolebinding', namespaced: true, shortNames: [], categories: [], subresources: [], model: 'V1RoleBinding' }),
  def({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'Role', resource: 'roles', singular: 'role', namespaced: true, shortNames: [], categories: [], subresources: [], model: 'V1Role' }),
  def({ group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', resource: 'leases', singular: 'lease', namespaced: true, shortNames: [], categories: [], subresources: [], model: 'V1Lease' }),
];

const create = ['create'];

/**
 * The reviews: kinds a client creates to ask who it is or what it may do. The server answers
 * in the response (201, status filled) and keeps nothing, so they have no other verb.
 */
export const reviewTypes: readonly ResourceType[] = [
  def({ group: 'authentication.k8s.io', version: 'v1', kind: 'SelfSubjectReview', resource: 'selfsubjectreviews', singular: 'selfsubjectreview', namespaced: false, shortNames: [], categories: [], verbs: create, subresources: [], model: 'V1SelfSubjectReview', notStored: true }),
  def({ group: 'authentication.k8s.io', version: 'v1', kind: 'TokenReview', resource: 'tokenreviews', singular: 'tokenreview', namespaced: false, shortNames: [], categories: [], verbs: create, subresources: [], model: 'V1TokenReview', notStored: true }),
  def({ group: 'authorization.k8s.io', version: 'v1', kind: 'LocalSubjectAccessReview', resource: 'localsubjectaccessreviews', singular: 'localsubjectaccessreview', namespaced: true, shortNames: [], categories: [], verbs: create, subresources: [], model: 'V1LocalSubjectAccessReview', notStored: true }),
  def({ group: 'authorization.k8s.io', version: 'v1', kind: 'SelfSubjectAccessReview', resource: 'selfsubjectaccessreviews', singular: 'selfsubjectaccessreview', namespaced: false, shortNames: [], categories: [], verbs: create, subresources: [], model: 'V1SelfSubjectAccessReview', notStored: true }),
  def({ group: 'authorization.k8s.io', version: 'v1', kind: 'SelfSubjectRulesReview', resource: 'selfsubjectrulesreviews', singular: 'selfsubjectrulesreview', namespaced: false, shortNames: [], categories: [], verbs: create, subresources: [], model: 'V1SelfSubjectRulesReview', notStored: true }),
  def({ group: 'authorization.k8s.io', version: 'v1', kind: 'SubjectAccessReview', resource: 'subjectaccessreviews', singular: 'subjectaccessreview', namespaced: false, shortNames: [], categories: [], verbs: create, subresources: [], model: 'V1SubjectAccessReview', notStored: true }),
];

/**
 * The Metrics API, served as metrics-server serves it behind the aggregation layer: read-only
 * kinds made from the node agents' measurements, never stored.
 */
export const metricsTypes: readonly ResourceType[] = [
  def({ group: 'metrics.k8s.io', version: 'v1beta1', kind: 'NodeMetrics', resource: 'nodes', singular: '', namespaced: false, shortNames: [], categories: [], verbs: ['get', 'list'], subresources: [], model: '', notStored: true }),
  def({ group: 'metrics.k8s.io', version: 'v1beta1', kind: 'PodMetrics', resource: 'pods', singular: '', namespaced: true, shortNames: [], categories: [], verbs: ['get', 'list'], subresources: [], model: '', notStored: true }),
];

/** The kind of the serviceaccounts/token subresource's body. */
export const tokenRequestType: ResourceType = def({ group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', resource: 'tokenrequests', singular: 'tokenrequest', namespaced: true, shortNames: [], categories: [], verbs: create, subresources: [], model: 'AuthenticationV1TokenRequest', notStored: true });

/** Every resource discovery lists: the stored ones, then the reviews after the apps and events.k8s.io groups, as kube-apiserver orders groups; the aggregated Metrics API last. */
export const servedTypes: readonly ResourceType[] = (() => {
  let afterApps = 0;
  resourceTypes.forEach((r, i) => {
    if (r.group === 'apps' || r.group === 'events.k8s.io') afterApps = i + 1;
  });
  return [...resourceTypes.slice(0, afterApps), ...reviewTypes, ...resourceTypes.slice(afterApps), ...metricsTypes];
})();

export function apiVersionOf(r: { group: string; version: string }): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

const byPath = new Map<string, ResourceType>();
const byKind = new Map<string, ResourceType>();
for (const r of servedTypes) {
  byPath.set(`${r.group}/${r.version}/${r.resource}`, r);
  byKind.set(`${apiVersionOf(r)}/${r.kind}`, r);
}

export function findResource(group: string, version: string, resource: string): ResourceType | undefined {
  return byPath.get(`${group}/${version}/${resource}`);
}

/** A stored custom object as read at `rt`'s version (conversion strategy None: only apiVersion changes). */
export function asServed(rt: ResourceType, o: KubeObjectLike): KubeObjectLike {
  if (!rt.custom) return o;
  const want = apiVersionOf(rt);
  return o.apiVersion === want ? o : { ...o, apiVersion: want };
}

/** A custom object as stored, at its CRD's storage version. */
export function asStored(rt: ResourceType, o: KubeObjectLike): KubeObjectLike {
  if (!rt.custom) return o;
  const want = rt.group ? `${rt.group}/${rt.custom.storageVersion}` : rt.custom.storageVersion;
  return o.apiVersion === want ? o : { ...o, apiVersion: want };
}

type KubeObjectLike = { apiVersion?: string } & Record<string, unknown>;

export function findKind(apiVersion: string, kind: string): ResourceType | undefined {
  return byKind.get(`${apiVersion}/${kind}`);
}

/** The key a resource's objects are stored under (the stored resource's, for another version of it). */
export function storeKey(rt: Pick<ResourceType, 'group' | 'resource' | 'storage'>): string {
  return rt.storage ? `${rt.storage.group}/${rt.storage.resource}` : `${rt.group}/${rt.resource}`;
}

export function resourceOf(group: string, resource: string): ResourceType {
  const r = resourceTypes.find((t) => t.group === group && t.resource === resource);
  if (!r) throw new Error(`unknown resource ${resource}.${group}`);
  return r;
}

/** Group versions of `types` (by default the stored resources), in discovery order. */
export function groupVersions(types: readonly ResourceType[] = resourceTypes): { group: string; version: string }[] {
  const seen = new Set<string>();
  const out: { group: string; version: string }[] = [];
  for (const r of types) {
    const k = `${r.group}/${r.version}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push({ group: r.group, version: r.version });
    }
  }
  return out;
}
