// Objects as kube-apiserver prints them: Go's encoding/json over the versioned structs.
// The schema (schema.ts) gives each field's type; what it does not carry — `omitempty`,
// pointer or value — follows upstream's norm (almost every optional field is omitempty), and
// the few fields that depart from it are listed below by Go type and field (k8s.io/api
// v0.33 core/v1, apps/v1, discovery/v1, networking/v1; apimachinery meta/v1).
//
// - A map or list that is empty (or null) is dropped (omitempty), unless listed in `noOmitEmpty`.
// - A struct is never dropped, even when `{}` (Go never omits a value struct; a set pointer prints `{}`).
// - A metav1.Time/MicroTime that is unset prints `null` (a zero value struct), unless it is a pointer.
// - Value structs and fields without omitempty that are unset print their zero value.
// - A zero string, number or bool is kept: most optional scalars are pointers, whose zero Go
//   prints. Only the value-typed counters podpath's controllers write as 0 are dropped.
import { findKind } from './resources.ts';
import { hasModel, modelFields, type FieldType } from './schema.ts';
import { objectMetaFields, type KubeObject } from './types.ts';

/** Lists without omitempty: printed as written (`[]`), `null` when unset. */
const noOmitEmpty: Record<string, string[]> = {
  V1PodSpec: ['containers'], // core/v1 PodSpec.Containers
  V1EndpointSlice: ['endpoints', 'ports'], // discovery/v1 EndpointSlice.Endpoints, .Ports
  V1Endpoint: ['addresses'], // discovery/v1 Endpoint.Addresses
  V1HTTPIngressRuleValue: ['paths'], // networking/v1 HTTPIngressRuleValue.Paths
  V1NodeSelector: ['nodeSelectorTerms'], // core/v1 NodeSelector.NodeSelectorTerms
  V1ProjectedVolumeSource: ['sources'], // core/v1 ProjectedVolumeSource.Sources
  V1Role: ['rules'], // rbac/v1 Role.Rules
  V1ClusterRole: ['rules'], // rbac/v1 ClusterRole.Rules
  V1PolicyRule: ['verbs'], // rbac/v1 PolicyRule.Verbs
};

/**
 * Value (non-pointer) struct fields, printed as `{…}` when unset. Besides these, every kind's
 * `metadata`, `spec` and `status` are value structs.
 */
const valueStructs: Record<string, string[]> = {
  V1PodTemplateSpec: ['metadata', 'spec'], // core/v1 PodTemplateSpec.ObjectMeta, .Spec
  V1DeploymentSpec: ['template', 'strategy'], // apps/v1 DeploymentSpec.Template, .Strategy
  V1ReplicaSetSpec: ['template'], // apps/v1 ReplicaSetSpec.Template
  V1DaemonSetSpec: ['template', 'updateStrategy'], // apps/v1 DaemonSetSpec.Template, .UpdateStrategy
  V1Container: ['resources'], // core/v1 Container.Resources
  V1EphemeralContainer: ['resources'], // core/v1 EphemeralContainerCommon.Resources
  V1ContainerStatus: ['state', 'lastState'], // core/v1 ContainerStatus.State, .LastTerminationState
  V1ServiceStatus: ['loadBalancer'], // core/v1 ServiceStatus.LoadBalancer
  V1IngressStatus: ['loadBalancer'], // networking/v1 IngressStatus.LoadBalancer
  V1HTTPIngressPath: ['backend'], // networking/v1 HTTPIngressPath.Backend
  V1IngressServiceBackend: ['port'], // networking/v1 IngressServiceBackend.Port
  V1NetworkPolicySpec: ['podSelector'], // networking/v1 NetworkPolicySpec.PodSelector
  V1Endpoint: ['conditions'], // discovery/v1 Endpoint.Conditions
  CoreV1Event: ['involvedObject', 'source'], // core/v1 Event.InvolvedObject, .Source
  V1RoleBinding: ['roleRef'], // rbac/v1 RoleBinding.RoleRef
  V1ClusterRoleBinding: ['roleRef'], // rbac/v1 ClusterRoleBinding.RoleRef
};

/** Time fields that are pointers (*metav1.Time, *MicroTime): unset, they are omitted. */
const pointerTimes: Record<string, string[]> = {
  V1ObjectMeta: ['deletionTimestamp'], // meta/v1 ObjectMeta.DeletionTimestamp
  V1ManagedFieldsEntry: ['time'], // meta/v1 ManagedFieldsEntry.Time
  V1PodStatus: ['startTime'], // core/v1 PodStatus.StartTime
  V1Taint: ['timeAdded'], // core/v1 Taint.TimeAdded
  V1LeaseSpec: ['acquireTime', 'renewTime'], // coordination/v1 LeaseSpec.AcquireTime, .RenewTime
  V1JobStatus: ['startTime', 'completionTime'], // batch/v1 JobStatus.StartTime, .CompletionTime
  V1CronJobStatus: ['lastScheduleTime', 'lastSuccessfulTime'], // batch/v1 CronJobStatus.LastScheduleTime, .LastSuccessfulTime
};

/** Scalars without omitempty that podpath may leave unset: printed as their zero value. */
const noOmitEmptyScalars: Record<string, Record<string, string | number | boolean>> = {
  CoreV1Event: { reportingComponent: '', reportingInstance: '' }, // core/v1 Event.ReportingController, .ReportingInstance
  V1ContainerStatus: { ready: false, restartCount: 0 }, // core/v1 ContainerStatus.Ready, .RestartCount
  V1ContainerStateTerminated: { exitCode: 0 }, // core/v1 ContainerStateTerminated.ExitCode
  V1ReplicaSetStatus: { replicas: 0 }, // apps/v1 ReplicaSetStatus.Replicas
  // apps/v1 DaemonSetStatus.CurrentNumberScheduled, .NumberMisscheduled, .DesiredNumberScheduled, .NumberReady
  V1DaemonSetStatus: { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 },
};

/** Value-typed omitempty scalars (int32/int64, not pointers): a 0 is omitted. */
const zeroOmitted: Record<string, string[]> = {
  V1JobStatus: ['active', 'succeeded', 'failed'], // batch/v1 JobStatus.Active, .Succeeded, .Failed
  // apps/v1 DeploymentStatus.ObservedGeneration, .Replicas, .UpdatedReplicas, .ReadyReplicas, .AvailableReplicas, .UnavailableReplicas
  V1DeploymentStatus: ['observedGeneration', 'replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas'],
  // apps/v1 ReplicaSetStatus.FullyLabeledReplicas, .ReadyReplicas, .AvailableReplicas, .ObservedGeneration
  V1ReplicaSetStatus: ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration'],
  // apps/v1 DaemonSetStatus.ObservedGeneration, .UpdatedNumberScheduled, .NumberAvailable, .NumberUnavailable
  V1DaemonSetStatus: ['observedGeneration', 'updatedNumberScheduled', 'numberAvailable', 'numberUnavailable'],
  V1DeploymentSpec: ['minReadySeconds'], // apps/v1 DeploymentSpec.MinReadySeconds
  V1ReplicaSetSpec: ['minReadySeconds'], // apps/v1 ReplicaSetSpec.MinReadySeconds
  V1DaemonSetSpec: ['minReadySeconds'], // apps/v1 DaemonSetSpec.MinReadySeconds
};

const rootStructs = ['metadata', 'spec', 'status'];

const listed = (table: Record<string, readonly string[]>, model: string, field: string) => table[model]?.includes(field) ?? false;

const omit = Symbol('omit');
type Encoded = unknown | typeof omit;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isValueStruct(model: string, field: string, root: boolean): boolean {
  return (root && rootStructs.includes(field)) || listed(valueStructs, model, field);
}

/** What Go prints for a field the object does not set (omit: nothing). */
function unsetValue(model: string, field: string, t: FieldType, root: boolean): Encoded {
  if (t.t === 'time') return listed(pointerTimes, model, field) ? omit : null;
  if (t.t === 'object' && isValueStruct(model, field, root)) return encodeModel(t.model, {}, false);
  if (listed(noOmitEmpty, model, field)) return null;
  const scalar = noOmitEmptyScalars[model]?.[field];
  return scalar === undefined ? omit : scalar;
}

function encodeField(model: string, field: string, t: FieldType, v: unknown, root: boolean): Encoded {
  if (v === undefined || v === null) return unsetValue(model, field, t, root);
  switch (t.t) {
    case 'array':
      if (!Array.isArray(v)) return v;
      if (v.length === 0) return listed(noOmitEmpty, model, field) ? v : omit;
      return t.of.t === 'object' ? v.map((item) => (isRecord(item) ? encodeModel((t.of as { model: string }).model, item, false) : item)) : v;
    case 'map': {
      if (!isRecord(v)) return v;
      const entries = Object.entries(v);
      if (entries.length === 0) return listed(noOmitEmpty, model, field) ? v : omit;
      if (t.of.t !== 'object') return v;
      const of = t.of.model;
      return Object.fromEntries(entries.map(([k, x]) => [k, isRecord(x) ? encodeModel(of, x, false) : x]));
    }
    case 'object':
      return isRecord(v) ? encodeModel(t.model, v, false) : v;
    case 'int32':
    case 'int64':
      return v === 0 && listed(zeroOmitted, model, field) ? omit : v;
    default:
      return v;
  }
}

function encodeModel(model: string, input: Record<string, unknown>, root: boolean): Record<string, unknown> {
  if (!hasModel(model)) return input;
  const fields = modelFields(model);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    const f = fields.get(k);
    if (!f) {
      if (v !== undefined) out[k] = v; // not in the schema: as stored
      continue;
    }
    const e = encodeField(model, k, f.type, v, root);
    if (e !== omit) out[k] = e;
  }
  for (const [k, f] of fields) {
    if (k in input) continue;
    const e = unsetValue(model, k, f.type, root);
    if (e !== omit) out[k] = e;
  }
  return model === 'V1ObjectMeta' ? inOrder(out, objectMetaFields) : out;
}

/** `obj` with `order`'s keys first, in that order (a Go struct's field order). */
function inOrder(obj: Record<string, unknown>, order: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of order) if (k in obj) out[k] = obj[k];
  for (const [k, v] of Object.entries(obj)) if (!(k in out)) out[k] = v;
  return out;
}

/** A value of `model` (a spec, a status, a template) as the API server prints it. */
export function wireValue<T>(model: string, value: T): T {
  return (isRecord(value) ? encodeModel(model, value, false) : value) as T;
}

/** A whole object of a served kind as the API server prints it; other objects unchanged. */
export function wireObject<T extends KubeObject>(obj: T): T {
  const rt = findKind(String(obj.apiVersion), String(obj.kind));
  if (!rt) return obj;
  return encodeModel(rt.model, obj, true) as T;
}

/** Makes `target` equal to `source`, keeping the identity of the objects and lists both have. */
function syncInto(target: Record<string, unknown> | unknown[], source: Record<string, unknown> | unknown[]): void {
  if (Array.isArray(target) && Array.isArray(source)) {
    source.forEach((v, i) => {
      const t = target[i];
      if ((isRecord(t) && isRecord(v)) || (Array.isArray(t) && Array.isArray(v))) syncInto(t, v);
      else target[i] = v;
    });
    target.length = source.length;
    return;
  }
  const t = target as Record<string, unknown>;
  const s = source as Record<string, unknown>;
  for (const k of Object.keys(t)) if (!(k in s)) delete t[k];
  for (const [k, v] of Object.entries(s)) {
    const cur = t[k];
    if ((isRecord(cur) && isRecord(v)) || (Array.isArray(cur) && Array.isArray(v))) syncInto(cur, v);
    else t[k] = v;
  }
}

/**
 * Makes `obj` hold what wireObject prints, in place: the write path keeps working on the
 * object (and the metadata) it was given.
 */
export function normalizeInPlace(obj: KubeObject): void {
  syncInto(obj as Record<string, unknown>, wireObject(obj) as Record<string, unknown>);
}
