// Per-kind write rules, as upstream's registry strategies define them: what a create resets,
// what an update keeps from the old object, when generation moves, and which validation runs.
import type { FieldError } from '../api/errors.ts';
import type { ClusterRole, Container, ControllerRevision, CronJob, DaemonSet, Deployment, EndpointSlice, Job, KubeObject, Namespace, Pod, ReplicaSet, Role, RoleBinding, Service } from '../api/types.ts';
import * as apps from '../api/validation/apps.ts';
import * as batch from '../api/validation/batch.ts';
import * as core from '../api/validation/core.ts';
import * as net from '../api/validation/networking.ts';
import * as rbac from '../api/validation/rbac.ts';
import { validateObjectMetaUpdate } from '../api/validation/meta.ts';
import { sameValue } from '../api/fieldset.ts';
import { wireObject } from '../api/wire.ts';
import * as apiextensions from '../api/apiextensions/validation.ts';
import { storageVersionOf, type CustomResourceDefinition } from '../api/apiextensions/types.ts';

export interface Strategy {
  /** validation of a new object */
  validate(obj: KubeObject): FieldError[];
  validateUpdate(obj: KubeObject, old: KubeObject): FieldError[];
  validateStatusUpdate?(obj: KubeObject, old: KubeObject): FieldError[];
  /** resets what a client may not set on create (status, mostly) */
  prepareForCreate?(obj: KubeObject): void;
  /** what a main-resource update keeps from the stored object */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /** the parts of an object whose change moves metadata.generation; undefined = no generation */
  generationOf?(obj: KubeObject): unknown;
  /** PUT of a missing object creates it */
  allowCreateOnUpdate?: boolean;
}

function keepStatus(obj: KubeObject, old: KubeObject): void {
  if (old.status === undefined) delete obj.status;
  else obj.status = structuredClone(old.status);
}

/** The spec as it is stored: an empty map and a missing one are the same spec (upstream's Semantic.DeepEqual). */
const spec = (o: KubeObject) => wireObject(o).spec;

function qosClass(pod: Pod): string {
  const containers: Container[] = [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])];
  let anySet = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) anySet = true;
    for (const r of ['cpu', 'memory']) {
      if (!lim[r]) guaranteed = false;
      else if (req[r] !== undefined && req[r] !== lim[r]) guaranteed = false;
    }
  }
  if (!anySet) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

export const strategies: Record<string, Strategy> = {
  Service: {
    validate: (o) => core.validateService(o as Service),
    validateUpdate: (o, old) => core.validateServiceUpdate(o as Service, old as Service),
    validateStatusUpdate: (o, old) => core.validateServiceStatusUpdate(o as Service, old as Service),
    prepareForCreate: (o) => {
      o.status = { loadBalancer: {} };
    },
    prepareForUpdate: keepStatus,
  },
  Pod: {
    validate: (o) => core.validatePod(o as Pod),
    validateUpdate: (o, old) => core.validatePodUpdate(o as Pod, old as Pod),
    validateStatusUpdate: (o, old) => core.validatePodStatusUpdate(o as Pod, old as Pod),
    prepareForCreate: (o) => {
      const pod = o as Pod;
      pod.status = { phase: 'Pending', qosClass: qosClass(pod) };
    },
    prepareForUpdate: keepStatus,
  },
  Namespace: {
    validate: (o) => core.validateNamespace(o as Namespace),
    validateUpdate: (o, old) => core.validateNamespaceUpdate(o as Namespace, old as Namespace),
    validateStatusUpdate: (o, old) => core.validateNamespaceUpdate(o as Namespace, old as Namespace),
    prepareForCreate: (o) => {
      const ns = o as Namespace;
      ns.spec = { finalizers: ['kubernetes'] };
      ns.status = { phase: 'Active' };
    },
    prepareForUpdate: (o, old) => {
      (o as Namespace).spec = structuredClone((old as Namespace).spec);
      keepStatus(o, old);
    },
  },
  Node: {
    validate: (o) => core.validateNode(o),
    validateUpdate: (o, old) => core.validateNodeUpdate(o, old),
    validateStatusUpdate: (o, old) => core.validateNodeUpdate(o, old),
    prepareForUpdate: keepStatus,
  },
  Endpoints: {
    validate: core.validateEndpoints,
    validateUpdate: (o, old) => [...core.validateEndpoints(o).filter((e) => !e.field.startsWith('metadata.name')), ...validateMetaUpdateOnly(o, old)],
    allowCreateOnUpdate: true,
  },
  Secret: { validate: core.validateSecret, validateUpdate: core.validateSecretUpdate },
  ConfigMap: { validate: core.validateConfigMap, validateUpdate: core.validateConfigMapUpdate },
  Event: {
    validate: core.validateEvent,
    validateUpdate: (o, old) => [...validateMetaUpdateOnly(o, old), ...core.validateEvent(o).filter((e) => !e.field.startsWith('metadata.name'))],
    allowCreateOnUpdate: true,
  },
  ServiceAccount: {
    validate: core.validateServiceAccount,
    validateUpdate: (o, old) => validateMetaUpdateOnly(o, old),
  },
  Deployment: {
    validate: (o) => apps.validateDeployment(o as Deployment),
    validateUpdate: (o, old) => apps.validateDeploymentUpdate(o as Deployment, old as Deployment),
    validateStatusUpdate: (o, old) => apps.validateDeploymentStatusUpdate(o as Deployment, old as Deployment),
    prepareForCreate: (o) => {
      o.status = {};
    },
    prepareForUpdate: keepStatus,
    generationOf: spec,
  },
  ReplicaSet: {
    validate: (o) => apps.validateReplicaSet(o as ReplicaSet),
    validateUpdate: (o, old) => apps.validateReplicaSetUpdate(o as ReplicaSet, old as ReplicaSet),
    validateStatusUpdate: (o, old) => apps.validateReplicaSetStatusUpdate(o as ReplicaSet, old as ReplicaSet),
    prepareForCreate: (o) => {
      o.status = { replicas: 0 };
    },
    prepareForUpdate: keepStatus,
    generationOf: spec,
  },
  ControllerRevision: {
    validate: (o) => apps.validateControllerRevision(o as ControllerRevision),
    validateUpdate: (o, old) => apps.validateControllerRevisionUpdate(o as ControllerRevision, old as ControllerRevision),
  },
  DaemonSet: {
    validate: (o) => apps.validateDaemonSet(o as DaemonSet),
    validateUpdate: (o, old) => apps.validateDaemonSetUpdate(o as DaemonSet, old as DaemonSet),
    validateStatusUpdate: (o, old) => apps.validateDaemonSetStatusUpdate(o as DaemonSet, old as DaemonSet),
    // apps/v1 carries the template generation in an annotation: 1 on create, one more each time the template changes.
    prepareForCreate: (o) => {
      o.status = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };
      o.metadata.annotations = { ...(o.metadata.annotations ?? {}), [templateGenerationAnnotation]: '1' };
    },
    prepareForUpdate: (o, old) => {
      keepStatus(o, old);
      const prev = Number(old.metadata.annotations?.[templateGenerationAnnotation] ?? '1') || 1;
      const changed = !sameValue(wireObject(o as DaemonSet).spec?.template, wireObject(old as DaemonSet).spec?.template);
      o.metadata.annotations = { ...(o.metadata.annotations ?? {}), [templateGenerationAnnotation]: String(changed ? prev + 1 : prev) };
    },
    generationOf: spec,
  },
  Job: {
    validate: (o) => batch.validateJob(o as Job),
    validateUpdate: (o, old) => batch.validateJobUpdate(o as Job, old as Job),
    validateStatusUpdate: (o, old) => batch.validateJobStatusUpdate(o as Job, old as Job),
    // The selector and the pods' labels come from the Job's uid unless the client chose them.
    prepareForCreate: (o) => {
      const job = o as Job;
      job.status = {};
      if (!job.spec.manualSelector) batch.generateJobSelector(job);
      // SetDefaults_Job gives a Job without labels its template's; upstream's defaulting runs
      // again on every read from storage, so the generated ones show there too.
      if (!Object.keys(job.metadata.labels ?? {}).length && job.spec.template.metadata?.labels) job.metadata.labels = { ...job.spec.template.metadata.labels };
    },
    prepareForUpdate: keepStatus,
    generationOf: spec,
  },
  CronJob: {
    validate: (o) => batch.validateCronJob(o as CronJob),
    validateUpdate: (o, old) => batch.validateCronJobUpdate(o as CronJob, old as CronJob),
    validateStatusUpdate: (o, old) => batch.validateCronJobStatusUpdate(o as CronJob, old as CronJob),
    prepareForCreate: (o) => {
      o.status = {};
    },
    prepareForUpdate: keepStatus,
    generationOf: spec,
  },
  EndpointSlice: {
    validate: (o) => net.validateEndpointSlice(o as EndpointSlice),
    validateUpdate: (o, old) => net.validateEndpointSliceUpdate(o as EndpointSlice, old as EndpointSlice),
    generationOf: (o) => {
      const w = wireObject(o);
      return [w.addressType, w.endpoints, w.ports];
    },
  },
  Ingress: {
    validate: (o) => net.validateIngress(o),
    validateUpdate: (o, old) => net.validateIngressUpdate(o, old),
    validateStatusUpdate: (o, old) => net.validateIngressStatusUpdate(o, old),
    prepareForCreate: (o) => {
      o.status = {};
    },
    prepareForUpdate: keepStatus,
    generationOf: spec,
  },
  IngressClass: {
    validate: (o) => net.validateIngressClass(o),
    validateUpdate: (o, old) => net.validateIngressClassUpdate(o, old),
    generationOf: spec,
  },
  NetworkPolicy: {
    validate: (o) => net.validateNetworkPolicy(o as never),
    validateUpdate: (o, old) => net.validateNetworkPolicyUpdate(o as never, old as never),
    generationOf: spec,
  },
  CustomResourceDefinition: {
    validate: apiextensions.validateCustomResourceDefinition,
    validateUpdate: apiextensions.validateCustomResourceDefinitionUpdate,
    validateStatusUpdate: apiextensions.validateCustomResourceDefinitionStatusUpdate,
    // The status is the controllers'; the storage version is recorded as stored from the start.
    prepareForCreate: (o) => {
      apiextensions.defaultCustomResourceDefinition(o);
      const v = storageVersionOf(o as CustomResourceDefinition);
      o.status = { acceptedNames: { plural: '', kind: '' }, storedVersions: v ? [v] : [] };
    },
    prepareForUpdate: (o, old) => {
      apiextensions.defaultCustomResourceDefinition(o);
      keepStatus(o, old);
      const v = storageVersionOf(o as CustomResourceDefinition);
      const st = (o as CustomResourceDefinition).status;
      if (v && st && !(st.storedVersions ?? []).includes(v)) st.storedVersions = [...(st.storedVersions ?? []), v];
    },
    generationOf: spec,
  },
  Role: {
    validate: (o) => rbac.validateRole(o as Role),
    validateUpdate: (o, old) => rbac.validateRoleUpdate(o as Role, old as Role),
    allowCreateOnUpdate: true,
  },
  ClusterRole: {
    validate: (o) => rbac.validateClusterRole(o as ClusterRole),
    validateUpdate: (o, old) => rbac.validateClusterRoleUpdate(o as ClusterRole, old as ClusterRole),
    allowCreateOnUpdate: true,
  },
  RoleBinding: {
    validate: (o) => rbac.validateRoleBinding(o as RoleBinding),
    validateUpdate: (o, old) => rbac.validateRoleBindingUpdate(o as RoleBinding, old as RoleBinding),
    allowCreateOnUpdate: true,
  },
  ClusterRoleBinding: {
    validate: (o) => rbac.validateClusterRoleBinding(o as RoleBinding),
    validateUpdate: (o, old) => rbac.validateClusterRoleBindingUpdate(o as RoleBinding, old as RoleBinding),
    allowCreateOnUpdate: true,
  },
  Lease: {
    validate: net.validateLease,
    validateUpdate: (o, old) => [...validateMetaUpdateOnly(o, old), ...net.validateLeaseSpec(o)],
    allowCreateOnUpdate: true,
  },
};


/** The annotation apps/v1 DaemonSets keep their template generation in (the pods' pod-template-generation label). */
export const templateGenerationAnnotation = 'deprecated.daemonset.template.generation';

function validateMetaUpdateOnly(o: KubeObject, old: KubeObject): FieldError[] {
  return validateObjectMetaUpdate(o.metadata, old.metadata);
}

export function strategyFor(kind: string): Strategy {
  const s = strategies[kind];
  if (!s) throw new Error(`no strategy for ${kind}`);
  return s;
}
