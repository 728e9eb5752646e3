// Defaulting, as upstream's SetDefaults_* functions (pkg/apis/*/v1/defaults.go) apply it
// on decode. Pure: each function fills missing fields of the object it is given.
import type {
  Container,
  CronJob,
  DaemonSet,
  Deployment,
  EndpointSlice,
  IngressClass,
  Job,
  JobSpec,
  KubeObject,
  NetworkPolicy,
  Pod,
  PodSpec,
  PodTemplateSpec,
  Probe,
  ReplicaSet,
  Service,
} from './types.ts';
import { isObject } from './types.ts';
import { normalizeInPlace } from './wire.ts';

function defaultProbe(p: Probe | undefined): void {
  if (!p) return;
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
  if (p.httpGet) {
    p.httpGet.path ??= '/';
    p.httpGet.scheme ??= 'HTTP';
  }
}

/** The tag of an image reference, with docker's "latest" when none is given. */
function imageTag(image: string): string | undefined {
  if (image.includes('@')) return undefined;
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  return colon >= 0 ? image.slice(colon + 1) : 'latest';
}

function defaultContainer(c: Container): void {
  if (!c.imagePullPolicy) c.imagePullPolicy = imageTag(c.image ?? '') === 'latest' ? 'Always' : 'IfNotPresent';
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.resources ??= {};
  for (const port of c.ports ?? []) port.protocol ??= 'TCP';
  for (const env of c.env ?? []) {
    const fieldRef = env.valueFrom?.fieldRef;
    if (isObject(fieldRef)) fieldRef.apiVersion ??= 'v1';
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
}

/** The volume sources with a defaultMode (0644 = 420 when unset), as SetDefaults_*VolumeSource give them. */
const modedSources = ['secret', 'configMap', 'downwardAPI', 'projected'] as const;

/** Every volume source upstream's API knows, so a volume that names none of them is an emptyDir (SetDefaults_Volume). */
const volumeSources = ['hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi', 'glusterfs', 'persistentVolumeClaim', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc', 'azureFile', 'configMap', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected', 'portworxVolume', 'scaleIO', 'storageos', 'csi', 'ephemeral', 'image'];

/** A downward API item's fieldRef names apiVersion v1 when it names none (SetDefaults_ObjectFieldSelector). */
function defaultFieldRef(item: unknown): void {
  const fieldRef = isObject(item) ? item.fieldRef : undefined;
  if (isObject(fieldRef)) fieldRef.apiVersion ??= 'v1';
}

function defaultVolume(v: Record<string, unknown>): void {
  if (!volumeSources.some((k) => k in v)) v.emptyDir = {};
  for (const k of modedSources) if (isObject(v[k])) (v[k] as Record<string, unknown>).defaultMode ??= 0o644;
  if (isObject(v.hostPath)) v.hostPath.type ??= '';
  if (isObject(v.downwardAPI) && Array.isArray(v.downwardAPI.items)) v.downwardAPI.items.forEach(defaultFieldRef);
  const sources = isObject(v.projected) && Array.isArray(v.projected.sources) ? v.projected.sources : [];
  for (const src of sources) {
    if (!isObject(src)) continue;
    // SetDefaults_ServiceAccountTokenProjection: an hour
    if (isObject(src.serviceAccountToken)) src.serviceAccountToken.expirationSeconds ??= 3600;
    if (isObject(src.downwardAPI) && Array.isArray(src.downwardAPI.items)) src.downwardAPI.items.forEach(defaultFieldRef);
  }
}

export function defaultPodSpec(spec: PodSpec): void {
  for (const v of spec.volumes ?? []) if (isObject(v)) defaultVolume(v);
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  if (spec.hostNetwork) {
    for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
      for (const p of c.ports ?? []) p.hostPort ??= p.containerPort;
    }
  }
  for (const c of spec.containers ?? []) defaultContainer(c);
  for (const c of spec.initContainers ?? []) defaultContainer(c);
  for (const c of spec.ephemeralContainers ?? []) defaultContainer(c);
}

function defaultTemplate(t: PodTemplateSpec | undefined): void {
  if (t?.spec) defaultPodSpec(t.spec);
}

export function defaultPod(pod: Pod): void {
  pod.spec ??= { containers: [] };
  defaultPodSpec(pod.spec);
  // SetDefaults_Pod, not SetDefaults_PodSpec: pod templates do not carry it.
  pod.spec.enableServiceLinks ??= true;
  // What admission plugins add to every pod: the default service account, the
  // default priority, and DefaultTolerationSeconds' tolerations.
  if (!pod.spec.serviceAccountName) pod.spec.serviceAccountName = pod.spec.serviceAccount || 'default';
  pod.spec.serviceAccount = pod.spec.serviceAccountName;
  // the Priority admission plugin: the two built-in PriorityClasses, else the default 0
  const builtinPriority: Record<string, number> = { 'system-node-critical': 2000001000, 'system-cluster-critical': 2000000000 };
  pod.spec.priority ??= builtinPriority[String(pod.spec.priorityClassName ?? '')] ?? 0;
  pod.spec.preemptionPolicy ??= 'PreemptLowerPriority';
  const tolerations = (pod.spec.tolerations ?? []) as { key?: string; effect?: string }[];
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    if (!tolerations.some((t) => t.key === key && (t.effect === 'NoExecute' || !t.effect))) {
      tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 } as { key: string });
    }
  }
  pod.spec.tolerations = tolerations as Record<string, unknown>[];
}

export function defaultService(svc: Service): void {
  svc.spec ??= {};
  const s = svc.spec;
  s.type ??= 'ClusterIP';
  s.sessionAffinity ??= 'None';
  if (s.sessionAffinity === 'ClientIP') {
    s.sessionAffinityConfig ??= {};
    s.sessionAffinityConfig.clientIP ??= {};
    s.sessionAffinityConfig.clientIP.timeoutSeconds ??= 10800;
  }
  for (const p of s.ports ?? []) {
    p.protocol ??= 'TCP';
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  const external = s.type === 'NodePort' || s.type === 'LoadBalancer' || (s.type === 'ClusterIP' && (s.externalIPs?.length ?? 0) > 0);
  if (external && !s.externalTrafficPolicy) s.externalTrafficPolicy = 'Cluster';
  if (s.internalTrafficPolicy === undefined && (s.type === 'NodePort' || s.type === 'LoadBalancer' || s.type === 'ClusterIP')) {
    s.internalTrafficPolicy = 'Cluster';
  }
  if (s.type === 'LoadBalancer') s.allocateLoadBalancerNodePorts ??= true;
  if (s.type === 'LoadBalancer') {
    for (const ing of svc.status?.loadBalancer?.ingress ?? []) if (ing.ip && !ing.ipMode) ing.ipMode = 'VIP';
  }
}

export function defaultDeployment(d: Deployment): void {
  d.spec ??= {} as Deployment['spec'];
  const s = d.spec;
  s.replicas ??= 1;
  s.strategy ??= {};
  s.strategy.type ??= 'RollingUpdate';
  if (s.strategy.type === 'RollingUpdate') {
    s.strategy.rollingUpdate ??= {};
    s.strategy.rollingUpdate.maxUnavailable ??= '25%';
    s.strategy.rollingUpdate.maxSurge ??= '25%';
  }
  s.revisionHistoryLimit ??= 10;
  s.progressDeadlineSeconds ??= 600;
  defaultTemplate(s.template);
}

export function defaultReplicaSet(rs: ReplicaSet): void {
  rs.spec ??= {} as ReplicaSet['spec'];
  rs.spec.replicas ??= 1;
  defaultTemplate(rs.spec.template);
}

/** SetDefaults_DaemonSet: RollingUpdate with maxUnavailable 1 and maxSurge 0, ten revisions kept. */
export function defaultDaemonSet(ds: DaemonSet): void {
  ds.spec ??= {} as DaemonSet['spec'];
  const s = ds.spec;
  s.updateStrategy ??= {};
  s.updateStrategy.type ??= 'RollingUpdate';
  if (s.updateStrategy.type === 'RollingUpdate') {
    s.updateStrategy.rollingUpdate ??= {};
    s.updateStrategy.rollingUpdate.maxUnavailable ??= 1;
    s.updateStrategy.rollingUpdate.maxSurge ??= 0;
  }
  s.revisionHistoryLimit ??= 10;
  defaultTemplate(s.template);
}

/** SetDefaults_Job (batch/v1), with the features 1.32 turns on (podReplacementPolicy). */
export function defaultJobSpec(s: JobSpec): void {
  if (s.completions === undefined && s.parallelism === undefined) {
    s.completions = 1;
    s.parallelism = 1;
  }
  s.parallelism ??= 1;
  if (s.backoffLimit === undefined) s.backoffLimit = s.backoffLimitPerIndex === undefined ? 6 : 2147483647;
  s.completionMode ??= 'NonIndexed';
  s.suspend ??= false;
  s.podReplacementPolicy ??= s.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed';
  for (const r of s.podFailurePolicy?.rules ?? []) for (const c of r.onPodConditions ?? []) c.status ??= 'True';
  defaultTemplate(s.template);
}

export function defaultJob(job: Job): void {
  job.spec ??= {} as JobSpec;
  defaultJobSpec(job.spec);
  // A Job without labels takes its template's.
  if (!Object.keys(job.metadata.labels ?? {}).length && job.spec.template?.metadata?.labels) job.metadata.labels = { ...job.spec.template.metadata.labels };
}

/** SetDefaults_CronJob: Allow, not suspended, three successful and one failed Job kept. */
export function defaultCronJob(cj: CronJob): void {
  cj.spec ??= {} as CronJob['spec'];
  const s = cj.spec;
  s.concurrencyPolicy ??= 'Allow';
  s.suspend ??= false;
  s.successfulJobsHistoryLimit ??= 3;
  s.failedJobsHistoryLimit ??= 1;
  // Only the pod template: the Job's own defaults come when the controller creates the Job.
  defaultTemplate(s.jobTemplate?.spec?.template);
}

export function defaultEndpointSlice(es: EndpointSlice): void {
  for (const p of es.ports ?? []) {
    p.name ??= '';
    p.protocol ??= 'TCP';
  }
}

function defaultEndpoints(ep: KubeObject): void {
  const subsets = Array.isArray(ep.subsets) ? (ep.subsets as { ports?: { protocol?: string }[] }[]) : [];
  for (const ss of subsets) for (const p of ss.ports ?? []) p.protocol ??= 'TCP';
}

function defaultNetworkPolicy(np: NetworkPolicy): void {
  np.spec ??= { podSelector: {} };
  const s = np.spec;
  for (const rule of [...(s.ingress ?? []), ...(s.egress ?? [])]) for (const p of rule.ports ?? []) p.protocol ??= 'TCP';
  if (!s.policyTypes?.length) {
    s.policyTypes = ['Ingress'];
    if (s.egress?.length) s.policyTypes.push('Egress');
  }
}

function defaultIngressClass(ic: IngressClass): void {
  const params = ic.spec?.parameters;
  if (params) params.scope ??= 'Cluster';
}

function defaultNamespace(ns: KubeObject): void {
  // Every namespace carries its own name as an immutable label (NamespaceDefaultLabelName).
  if (ns.metadata.name) ns.metadata.labels = { ...(ns.metadata.labels ?? {}), 'kubernetes.io/metadata.name': ns.metadata.name };
}

function defaultSecret(s: KubeObject): void {
  s.type ??= 'Opaque';
  // stringData is write-only: conversion folds it into data.
  if (isObject(s.stringData)) {
    const data = isObject(s.data) ? { ...s.data } : {};
    for (const [k, v] of Object.entries(s.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
    s.data = data;
    delete s.stringData;
  }
}

/** SetDefaults_Subject and SetDefaults_(Cluster)RoleBinding: Users, Groups and roleRef are of the RBAC group. */
function defaultBinding(o: KubeObject): void {
  const b = o as unknown as { roleRef?: { apiGroup?: string }; subjects?: { kind?: string; apiGroup?: string }[] };
  if (b.roleRef && !b.roleRef.apiGroup) b.roleRef.apiGroup = 'rbac.authorization.k8s.io';
  for (const s of b.subjects ?? []) if (!s.apiGroup && (s.kind === 'User' || s.kind === 'Group')) s.apiGroup = 'rbac.authorization.k8s.io';
}

const defaulters: Record<string, (o: KubeObject) => void> = {
  RoleBinding: defaultBinding,
  ClusterRoleBinding: defaultBinding,
  Pod: (o) => defaultPod(o as Pod),
  Service: (o) => defaultService(o as Service),
  Deployment: (o) => defaultDeployment(o as Deployment),
  ReplicaSet: (o) => defaultReplicaSet(o as ReplicaSet),
  DaemonSet: (o) => defaultDaemonSet(o as DaemonSet),
  Job: (o) => defaultJob(o as Job),
  CronJob: (o) => defaultCronJob(o as CronJob),
  EndpointSlice: (o) => defaultEndpointSlice(o as EndpointSlice),
  Endpoints: defaultEndpoints,
  NetworkPolicy: (o) => defaultNetworkPolicy(o as NetworkPolicy),
  IngressClass: (o) => defaultIngressClass(o as IngressClass),
  Namespace: defaultNamespace,
  Secret: defaultSecret,
};

/**
 * Applies the defaults of `kind` to `obj` in place. The object then holds what its Go struct
 * would: the empty maps and lists omitempty drops are gone, so managedFields, generation and
 * validation see the object as it will be stored.
 */
export function applyDefaults(kind: string, obj: KubeObject): void {
  defaulters[kind]?.(obj);
  normalizeInPlace(obj);
}
