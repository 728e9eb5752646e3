// Decoding of Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf), which
// kubectl's typed commands send (`kubectl create namespace|configmap|secret|service|deployment`,
// `kubectl run`). The envelope is "k8s\0" + runtime.Unknown{typeMeta, raw}; `raw` is the
// object's message, decoded here with the field numbers of k8s.io/api's generated.proto into
// the JSON form the rest of the server handles. A field this table does not know is refused
// (415), never dropped.
import { errors } from '../api/errors.ts';

type Scalar = 'string' | 'bytes' | 'int32' | 'int64' | 'bool' | 'time' | 'intstr' | 'quantity';
type FieldType = Scalar | { msg: string } | { map: Scalar | { msg: string } } | 'ignore';

interface FieldDef {
  name: string;
  t: FieldType;
  /** repeated */
  rep?: boolean;
  /** a pointer in Go: a zero value is meaningful and kept */
  ptr?: boolean;
  /** embedded struct whose fields JSON inlines into the parent */
  inline?: boolean;
}

const S = (name: string, ptr = false): FieldDef => ({ name, t: 'string', ...(ptr ? { ptr } : {}) });
const RS = (name: string): FieldDef => ({ name, t: 'string', rep: true });
const I32 = (name: string, ptr = false): FieldDef => ({ name, t: 'int32', ...(ptr ? { ptr } : {}) });
const I64 = (name: string, ptr = false): FieldDef => ({ name, t: 'int64', ...(ptr ? { ptr } : {}) });
const B = (name: string, ptr = false): FieldDef => ({ name, t: 'bool', ...(ptr ? { ptr } : {}) });
const M = (name: string, msg: string, ptr = false): FieldDef => ({ name, t: { msg }, ...(ptr ? { ptr } : {}) });
const RM = (name: string, msg: string): FieldDef => ({ name, t: { msg }, rep: true });
const MAP = (name: string, v: Scalar | { msg: string } = 'string'): FieldDef => ({ name, t: { map: v } });
const IGN = (name: string): FieldDef => ({ name, t: 'ignore' });

const messages: Record<string, Record<number, FieldDef>> = {
  TypeMeta: { 1: S('apiVersion'), 2: S('kind') },
  Unknown: { 1: M('typeMeta', 'TypeMeta'), 2: { name: 'raw', t: 'bytes' }, 3: S('contentEncoding'), 4: S('contentType') },
  ObjectMeta: {
    1: S('name'),
    2: S('generateName'),
    3: S('namespace'),
    4: S('selfLink'),
    5: S('uid'),
    6: S('resourceVersion'),
    7: I64('generation'),
    8: { name: 'creationTimestamp', t: 'time' },
    9: { name: 'deletionTimestamp', t: 'time' },
    10: I64('deletionGracePeriodSeconds', true),
    11: MAP('labels'),
    12: MAP('annotations'),
    13: RM('ownerReferences', 'OwnerReference'),
    14: RS('finalizers'),
    17: IGN('managedFields'),
  },
  OwnerReference: { 1: S('kind'), 3: S('name'), 4: S('uid'), 5: S('apiVersion'), 6: B('controller', true), 7: B('blockOwnerDeletion', true) },
  LabelSelector: { 1: MAP('matchLabels'), 2: RM('matchExpressions', 'LabelSelectorRequirement') },
  LabelSelectorRequirement: { 1: S('key'), 2: S('operator'), 3: RS('values') },
  LocalObjectReference: { 1: S('name') },
  ObjectReference: { 1: S('kind'), 2: S('namespace'), 3: S('name'), 4: S('uid'), 5: S('apiVersion'), 6: S('resourceVersion'), 7: S('fieldPath') },

  Namespace: { 1: M('metadata', 'ObjectMeta'), 2: M('spec', 'NamespaceSpec'), 3: IGN('status') },
  NamespaceSpec: { 1: RS('finalizers') },
  ConfigMap: { 1: M('metadata', 'ObjectMeta'), 2: MAP('data'), 3: MAP('binaryData', 'bytes'), 4: B('immutable', true) },
  Secret: { 1: M('metadata', 'ObjectMeta'), 2: MAP('data', 'bytes'), 3: S('type'), 4: MAP('stringData'), 5: B('immutable', true) },
  ServiceAccount: { 1: M('metadata', 'ObjectMeta'), 2: RM('secrets', 'ObjectReference'), 3: RM('imagePullSecrets', 'LocalObjectReference'), 4: B('automountServiceAccountToken', true) },

  Service: { 1: M('metadata', 'ObjectMeta'), 2: M('spec', 'ServiceSpec'), 3: IGN('status') },
  ServiceSpec: {
    1: RM('ports', 'ServicePort'),
    2: MAP('selector'),
    3: S('clusterIP'),
    4: S('type'),
    5: RS('externalIPs'),
    7: S('sessionAffinity'),
    8: S('loadBalancerIP'),
    9: RS('loadBalancerSourceRanges'),
    10: S('externalName'),
    11: S('externalTrafficPolicy'),
    12: I32('healthCheckNodePort'),
    13: B('publishNotReadyAddresses'),
    14: M('sessionAffinityConfig', 'SessionAffinityConfig', true),
    17: S('ipFamilyPolicy', true),
    18: RS('clusterIPs'),
    19: RS('ipFamilies'),
    20: B('allocateLoadBalancerNodePorts', true),
    21: S('loadBalancerClass', true),
    22: S('internalTrafficPolicy', true),
    23: S('trafficDistribution', true),
  },
  SessionAffinityConfig: { 1: M('clientIP', 'ClientIPConfig', true) },
  ClientIPConfig: { 1: I32('timeoutSeconds', true) },
  ServicePort: { 1: S('name'), 2: S('protocol'), 3: I32('port'), 4: { name: 'targetPort', t: 'intstr' }, 5: I32('nodePort'), 6: S('appProtocol', true) },

  Deployment: { 1: M('metadata', 'ObjectMeta'), 2: M('spec', 'DeploymentSpec'), 3: IGN('status') },
  DeploymentSpec: {
    1: I32('replicas', true),
    2: M('selector', 'LabelSelector', true),
    3: M('template', 'PodTemplateSpec'),
    4: M('strategy', 'DeploymentStrategy'),
    5: I32('minReadySeconds'),
    6: I32('revisionHistoryLimit', true),
    7: B('paused'),
    9: I32('progressDeadlineSeconds', true),
  },
  DeploymentStrategy: { 1: S('type'), 2: M('rollingUpdate', 'RollingUpdateDeployment', true) },
  RollingUpdateDeployment: { 1: { name: 'maxUnavailable', t: 'intstr', ptr: true }, 2: { name: 'maxSurge', t: 'intstr', ptr: true } },
  PodTemplateSpec: { 1: M('metadata', 'ObjectMeta'), 2: M('spec', 'PodSpec') },
  Pod: { 1: M('metadata', 'ObjectMeta'), 2: M('spec', 'PodSpec'), 3: IGN('status') },
  PodSpec: {
    2: RM('containers', 'Container'),
    3: S('restartPolicy'),
    4: I64('terminationGracePeriodSeconds', true),
    5: I64('activeDeadlineSeconds', true),
    6: S('dnsPolicy'),
    7: MAP('nodeSelector'),
    8: S('serviceAccountName'),
    9: S('serviceAccount'),
    10: S('nodeName'),
    11: B('hostNetwork'),
    12: B('hostPID'),
    13: B('hostIPC'),
    14: M('securityContext', 'PodSecurityContext', true),
    15: RM('imagePullSecrets', 'LocalObjectReference'),
    16: S('hostname'),
    17: S('subdomain'),
    19: S('schedulerName'),
    20: RM('initContainers', 'Container'),
    21: B('automountServiceAccountToken', true),
    22: RM('tolerations', 'Toleration'),
    24: S('priorityClassName'),
    25: I32('priority', true),
    27: B('shareProcessNamespace', true),
    29: S('runtimeClassName', true),
    30: B('enableServiceLinks', true),
    31: S('preemptionPolicy', true),
    35: B('setHostnameAsFQDN', true),
  },
  PodSecurityContext: {},
  Toleration: { 1: S('key'), 2: S('operator'), 3: S('value'), 4: S('effect'), 5: I64('tolerationSeconds', true) },
  Container: {
    1: S('name'),
    2: S('image'),
    3: RS('command'),
    4: RS('args'),
    5: S('workingDir'),
    6: RM('ports', 'ContainerPort'),
    7: RM('env', 'EnvVar'),
    8: M('resources', 'ResourceRequirements'),
    10: M('livenessProbe', 'Probe', true),
    11: M('readinessProbe', 'Probe', true),
    13: S('terminationMessagePath'),
    14: S('imagePullPolicy'),
    16: B('stdin'),
    17: B('stdinOnce'),
    18: B('tty'),
    20: S('terminationMessagePolicy'),
    22: M('startupProbe', 'Probe', true),
    24: S('restartPolicy', true),
  },
  ContainerPort: { 1: S('name'), 2: I32('hostPort'), 3: I32('containerPort'), 4: S('protocol'), 5: S('hostIP') },
  EnvVar: { 1: S('name'), 2: S('value') },
  ResourceRequirements: { 1: MAP('limits', 'quantity'), 2: MAP('requests', 'quantity') },
  Probe: {
    1: { name: 'handler', t: { msg: 'ProbeHandler' }, inline: true },
    2: I32('initialDelaySeconds'),
    3: I32('timeoutSeconds'),
    4: I32('periodSeconds'),
    5: I32('successThreshold'),
    6: I32('failureThreshold'),
    7: I64('terminationGracePeriodSeconds', true),
  },
  ProbeHandler: { 1: M('exec', 'ExecAction', true), 2: M('httpGet', 'HTTPGetAction', true), 3: M('tcpSocket', 'TCPSocketAction', true), 4: M('grpc', 'GRPCAction', true) },
  ExecAction: { 1: RS('command') },
  HTTPGetAction: { 1: S('path'), 2: { name: 'port', t: 'intstr' }, 3: S('host'), 4: S('scheme'), 5: RM('httpHeaders', 'HTTPHeader') },
  HTTPHeader: { 1: S('name'), 2: S('value') },
  TCPSocketAction: { 1: { name: 'port', t: 'intstr' }, 2: S('host') },
  GRPCAction: { 1: I32('port'), 2: S('service', true) },

  Ingress: { 1: M('metadata', 'ObjectMeta'), 2: M('spec', 'IngressSpec'), 3: IGN('status') },
  IngressSpec: { 1: M('defaultBackend', 'IngressBackend', true), 2: RM('tls', 'IngressTLS'), 3: RM('rules', 'IngressRule'), 4: S('ingressClassName', true) },
  IngressTLS: { 1: RS('hosts'), 2: S('secretName') },
  IngressRule: { 1: S('host'), 2: { name: 'value', t: { msg: 'IngressRuleValue' }, inline: true } },
  IngressRuleValue: { 1: M('http', 'HTTPIngressRuleValue', true) },
  HTTPIngressRuleValue: { 1: RM('paths', 'HTTPIngressPath') },
  HTTPIngressPath: { 1: S('path'), 2: M('backend', 'IngressBackend'), 3: S('pathType', true) },
  IngressBackend: { 3: M('resource', 'TypedLocalObjectReference', true), 4: M('service', 'IngressServiceBackend', true) },
  IngressServiceBackend: { 1: S('name'), 2: M('port', 'ServiceBackendPort') },
  ServiceBackendPort: { 1: S('name'), 2: I32('number') },
  TypedLocalObjectReference: { 1: S('apiGroup', true), 2: S('kind'), 3: S('name') },
};

const kindMessages = new Set(['Namespace', 'ConfigMap', 'Secret', 'ServiceAccount', 'Service', 'Deployment', 'Pod', 'Ingress']);

export class ProtoError extends Error {}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new ProtoError('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 70n) throw new ProtoError('varint too long');
    }
  }
  bytes(): Uint8Array {
    const len = Number(this.varint());
    if (len < 0 || this.pos + len > this.buf.length) throw new ProtoError('truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new ProtoError(`unsupported wire type ${wire}`);
    if (this.pos > this.buf.length) throw new ProtoError('truncated field');
  }
}

const text = new TextDecoder('utf-8', { fatal: false });

function toInt32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

function decodeScalar(t: Scalar, r: Reader, wire: number): unknown {
  switch (t) {
    case 'string':
      return text.decode(r.bytes());
    case 'bytes':
      return Buffer.from(r.bytes()).toString('base64');
    case 'int32':
      return toInt32(r.varint());
    case 'int64':
      return Number(BigInt.asIntN(64, r.varint()));
    case 'bool':
      return r.varint() !== 0n;
    case 'time': {
      const m = decodeMessage('Time', r.bytes(), { 1: I64('seconds'), 2: I32('nanos') }) as { seconds?: number; nanos?: number };
      if (!m.seconds) return undefined;
      return new Date(m.seconds * 1000).toISOString().replace('.000Z', 'Z');
    }
    case 'intstr': {
      const m = decodeMessage('IntOrString', r.bytes(), { 1: I64('type'), 2: I32('intVal'), 3: S('strVal') }) as { type?: number; intVal?: number; strVal?: string };
      return m.type === 1 ? (m.strVal ?? '') : (m.intVal ?? 0);
    }
    case 'quantity': {
      const m = decodeMessage('Quantity', r.bytes(), { 1: S('string') }) as { string?: string };
      return m.string ?? '0';
    }
  }
  void wire;
}

function isZero(v: unknown): boolean {
  return v === '' || v === 0 || v === false || v === undefined;
}

function decodeMessage(name: string, buf: Uint8Array, fields: Record<number, FieldDef> | undefined = messages[name]): Record<string, unknown> {
  if (!fields) throw new ProtoError(`no protobuf schema for ${name}`);
  const r = new Reader(buf);
  const out: Record<string, unknown> = {};
  while (!r.done) {
    const key = Number(r.varint());
    const num = key >>> 3;
    const wire = key & 7;
    const f = fields[num];
    if (!f) throw new ProtoError(`${name} field ${num} is not supported in protobuf bodies`);
    if (f.t === 'ignore') {
      r.skip(wire);
      continue;
    }
    let v: unknown;
    if (typeof f.t === 'string') {
      v = decodeScalar(f.t, r, wire);
    } else if ('msg' in f.t) {
      v = decodeMessage(f.t.msg, r.bytes());
    } else {
      const entry = decodeMessage('MapEntry', r.bytes(), {
        1: S('key'),
        2: typeof f.t.map === 'string' ? { name: 'value', t: f.t.map } : { name: 'value', t: f.t.map },
      });
      const map = (out[f.name] as Record<string, unknown> | undefined) ?? {};
      map[String(entry.key ?? '')] = entry.value ?? (f.t.map === 'string' || f.t.map === 'bytes' ? '' : {});
      out[f.name] = map;
      continue;
    }
    if (f.inline && v && typeof v === 'object') {
      Object.assign(out, v);
      continue;
    }
    if (f.rep) {
      const list = (out[f.name] as unknown[] | undefined) ?? [];
      list.push(v);
      out[f.name] = list;
      continue;
    }
    if (v === undefined) continue;
    if (!f.ptr && typeof f.t === 'string' && isZero(v)) continue;
    out[f.name] = v;
  }
  return out;
}

/** Decodes a protobuf request body into a JSON object with apiVersion and kind set. */
export function decodeProtobufBody(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || body[0] !== 0x6b || body[1] !== 0x38 || body[2] !== 0x73 || body[3] !== 0x00) {
    throw errors.badRequest('provided protobuf body does not begin with the Kubernetes magic number');
  }
  try {
    const unknown = decodeMessage('Unknown', body.subarray(4));
    const tm = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
    const kind = tm.kind ?? '';
    if (!kindMessages.has(kind)) {
      throw errors.unsupportedMediaType(['application/json', 'application/yaml']);
    }
    const raw = Buffer.from(String(unknown.raw ?? ''), 'base64');
    const obj = decodeMessage(kind, raw);
    return { apiVersion: tm.apiVersion, kind, ...obj };
  } catch (e) {
    if (e instanceof ProtoError) throw errors.badRequest(`unable to decode protobuf body: ${e.message}`);
    throw e;
  }
}
