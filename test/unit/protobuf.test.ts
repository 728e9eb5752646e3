// The protobuf codec over the generated field-number table: full objects of every kind a body
// may hold survive encode → decode; bytes laid out by hand (as client-go lays them out) decode
// to what the JSON form says; unknown fields and kinds are refused, never dropped.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { thrownApiError } from '../helpers/errors.ts';
import { decodeMessage, decodeProtobufBody, encodeMessage, encodeProtobufObject, encodeResponseObject, ProtoError, readWatchFrames, unknownTypes, watchEventFrame } from '../../src/apiserver/protobuf.ts';
import { kinds } from '../../src/apiserver/protobuf/messages.ts';

const meta = (name: string, namespace?: string) => ({
  name,
  ...(namespace ? { namespace } : {}),
  uid: '7d3c4a55-0000-4000-8000-000000000001',
  resourceVersion: '42',
  generation: 3,
  creationTimestamp: '2024-05-01T10:00:00Z',
  labels: { app: 'web', tier: 'front' },
  annotations: { note: 'a b', empty: '' },
  ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u-1', controller: true, blockOwnerDeletion: false }],
  finalizers: ['example.com/f'],
  managedFields: [{ manager: 'kubectl', operation: 'Update', apiVersion: 'v1', time: '2024-05-01T10:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': {} } } }],
});

const podSpec = {
  volumes: [
    { name: 'host', hostPath: { path: '/', type: 'Directory' } },
    { name: 'cfg', configMap: { name: 'c', items: [{ key: 'a', path: 'a.txt', mode: 256 }], defaultMode: 420, optional: false } },
    { name: 'tok', projected: { sources: [{ serviceAccountToken: { audience: 'x', expirationSeconds: 3607, path: 'token' } }, { downwardAPI: { items: [{ path: 'ns', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } }] } },
    { name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
  ],
  initContainers: [{ name: 'init', image: 'busybox', command: ['true'], resources: {} }],
  containers: [
    {
      name: 'c',
      image: 'nginx:1.27',
      command: ['nginx'],
      args: ['-g', 'daemon off;'],
      workingDir: '/srv',
      ports: [{ name: 'http', containerPort: 80, protocol: 'TCP', hostPort: 8080, hostIP: '127.0.0.1' }],
      envFrom: [{ prefix: 'P_', configMapRef: { name: 'c', optional: true } }],
      env: [
        { name: 'A', value: '1' },
        { name: 'B', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        { name: 'C', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
        { name: 'D', valueFrom: { resourceFieldRef: { containerName: 'c', resource: 'limits.cpu', divisor: '1m' } } },
      ],
      resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m' } },
      volumeMounts: [{ name: 'host', mountPath: '/host', readOnly: true, subPath: 'x', mountPropagation: 'HostToContainer' }],
      livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP', httpHeaders: [{ name: 'X', value: 'y' }] }, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
      readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 2 },
      startupProbe: { exec: { command: ['cat', '/ready'] }, failureThreshold: 30 },
      lifecycle: { preStop: { sleep: { seconds: 5 } }, postStart: { exec: { command: ['true'] } } },
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      imagePullPolicy: 'IfNotPresent',
      securityContext: { privileged: true, runAsUser: 0, capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, readOnlyRootFilesystem: false },
      stdin: true,
      tty: true,
    },
  ],
  ephemeralContainers: [{ name: 'debugger', image: 'busybox', stdin: true, tty: true, targetContainerName: 'c', resources: {} }],
  restartPolicy: 'Always',
  terminationGracePeriodSeconds: 0,
  activeDeadlineSeconds: 600,
  dnsPolicy: 'ClusterFirstWithHostNet',
  nodeSelector: { 'kubernetes.io/os': 'linux' },
  serviceAccountName: 'default',
  serviceAccount: 'default',
  automountServiceAccountToken: false,
  nodeName: 'node1',
  hostNetwork: true,
  hostPID: true,
  hostIPC: true,
  shareProcessNamespace: false,
  securityContext: { runAsNonRoot: false, fsGroup: 2000, sysctls: [{ name: 'net.ipv4.ip_forward', value: '1' }] },
  imagePullSecrets: [{ name: 'regcred' }],
  hostname: 'h',
  subdomain: 'sub',
  affinity: {
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'k', operator: 'In', values: ['v'] }] }] } },
    podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' } }] },
  },
  schedulerName: 'default-scheduler',
  tolerations: [{ operator: 'Exists' }, { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
  hostAliases: [{ ip: '10.0.0.1', hostnames: ['a', 'b'] }],
  priorityClassName: 'high',
  priority: -5,
  dnsConfig: { nameservers: ['1.1.1.1'], searches: ['svc'], options: [{ name: 'ndots', value: '2' }] },
  readinessGates: [{ conditionType: 'example.com/ready' }],
  runtimeClassName: 'runc',
  enableServiceLinks: false,
  preemptionPolicy: 'Never',
  overhead: { cpu: '10m' },
  topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { a: 'b' } } }],
  setHostnameAsFQDN: true,
  os: { name: 'linux' },
};

const podStatus = {
  phase: 'Running',
  conditions: [{ type: 'Ready', status: 'True', lastProbeTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T10:00:01Z' }],
  hostIP: '10.0.0.1',
  hostIPs: [{ ip: '10.0.0.1' }],
  podIP: '10.244.0.5',
  podIPs: [{ ip: '10.244.0.5' }],
  startTime: '2024-05-01T10:00:00Z',
  containerStatuses: [
    {
      name: 'c',
      state: { running: { startedAt: '2024-05-01T10:00:02Z' } },
      lastState: { terminated: { exitCode: 137, signal: 9, reason: 'OOMKilled', startedAt: '2024-05-01T09:00:00Z', finishedAt: '2024-05-01T09:59:00Z', containerID: 'podpath://x' } },
      ready: true,
      restartCount: 1,
      image: 'nginx:1.27',
      imageID: 'sha256:abc',
      containerID: 'podpath://y',
      started: true,
    },
  ],
  qosClass: 'Burstable',
};

const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx', resources: {} }] } };
const selector = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] };

/** One full object of every kind the table decodes. */
const objects: Record<string, Record<string, unknown>> = {
  'v1/Namespace': { apiVersion: 'v1', kind: 'Namespace', metadata: meta('ns'), spec: { finalizers: ['kubernetes'] }, status: { phase: 'Terminating', conditions: [{ type: 'NamespaceDeletionContentFailure', status: 'False', lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'R', message: 'm' }] } },
  'v1/Node': {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: meta('node1'),
    spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'], unschedulable: true, taints: [{ key: 'k', value: 'v', effect: 'NoSchedule', timeAdded: '2024-05-01T10:00:00Z' }] },
    status: {
      capacity: { cpu: '2', memory: '4Gi', pods: '110' },
      allocatable: { cpu: '2' },
      conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'KubeletReady', message: 'ok' }],
      addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: { machineID: 'm', systemUUID: 's', bootID: 'b', kernelVersion: '6', osImage: 'Debian', containerRuntimeVersion: 'podpath://1', kubeletVersion: 'v1.33.0', kubeProxyVersion: 'v1.33.0', operatingSystem: 'linux', architecture: 'amd64' },
      images: [{ names: ['busybox'], sizeBytes: 4096 }],
    },
  },
  'v1/Pod': { apiVersion: 'v1', kind: 'Pod', metadata: meta('p', 'default'), spec: podSpec, status: podStatus },
  'v1/Service': {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('svc', 'default'),
    spec: {
      ports: [{ name: 'http', protocol: 'TCP', appProtocol: 'http', port: 80, targetPort: 'http', nodePort: 30080 }, { name: 'n', port: 81, targetPort: 8081 }],
      selector: { app: 'web' },
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      type: 'LoadBalancer',
      externalIPs: ['192.0.2.1'],
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } },
      loadBalancerIP: '192.0.2.2',
      loadBalancerSourceRanges: ['0.0.0.0/0'],
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 31000,
      publishNotReadyAddresses: true,
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      allocateLoadBalancerNodePorts: false,
      loadBalancerClass: 'example.com/lb',
      internalTrafficPolicy: 'Cluster',
      trafficDistribution: 'PreferClose',
    },
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.3', ipMode: 'VIP', ports: [{ port: 80, protocol: 'TCP' }] }] }, conditions: [{ type: 'T', status: 'True', observedGeneration: 2, lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'R', message: 'm' }] },
  },
  'v1/Endpoints': {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: meta('svc', 'default'),
    subsets: [{ addresses: [{ ip: '10.244.0.5', hostname: 'h', nodeName: 'node1', targetRef: { kind: 'Pod', namespace: 'default', name: 'p', uid: 'u' } }], notReadyAddresses: [{ ip: '10.244.0.6' }], ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }] }],
  },
  'v1/Secret': { apiVersion: 'v1', kind: 'Secret', metadata: meta('s', 'default'), immutable: true, data: { k: Buffer.from([0, 1, 2, 255]).toString('base64'), e: '' }, stringData: { plain: 'text' }, type: 'Opaque' },
  'v1/ConfigMap': { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('c', 'default'), immutable: false, data: { a: 'b', 'x.conf': 'line1\nline2\n' }, binaryData: { bin: Buffer.from('\u0000\u0001').toString('base64') } },
  'v1/Event': {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: meta('p.1', 'default'),
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'p', uid: 'u', apiVersion: 'v1', resourceVersion: '1', fieldPath: 'spec.containers{c}' },
    reason: 'Pulled',
    message: 'pulled',
    source: { component: 'kubelet', host: 'node1' },
    firstTimestamp: '2024-05-01T10:00:00Z',
    lastTimestamp: '2024-05-01T10:00:05Z',
    count: 2,
    type: 'Normal',
    eventTime: '2024-05-01T10:00:00.123456Z',
    series: { count: 3, lastObservedTime: '2024-05-01T10:00:04.000001Z' },
    action: 'Pull',
    related: { kind: 'Node', name: 'node1' },
    reportingComponent: 'kubelet',
    reportingInstance: 'node1',
  },
  'v1/ServiceAccount': { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('bot', 'default'), secrets: [{ name: 's' }], imagePullSecrets: [{ name: 'regcred' }], automountServiceAccountToken: false },
  'v1/Binding': { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'p', namespace: 'default' }, target: { kind: 'Node', name: 'node1', apiVersion: 'v1' } },
  'apps/v1/Deployment': {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('web', 'default'),
    spec: { replicas: 0, selector, template, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: 1 } }, minReadySeconds: 5, revisionHistoryLimit: 10, paused: true, progressDeadlineSeconds: 600 },
    status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 1, terminatingReplicas: 0, conditions: [{ type: 'Available', status: 'False', lastUpdateTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'MinimumReplicasUnavailable', message: 'm' }], collisionCount: 1 },
  },
  'apps/v1/ReplicaSet': { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: meta('rs', 'default'), spec: { replicas: 2, minReadySeconds: 1, selector, template }, status: { replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 2, observedGeneration: 1 } },
  'apps/v1/DaemonSet': {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta('ds', 'kube-system'),
    spec: { selector, template, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, minReadySeconds: 1, revisionHistoryLimit: 10 },
    status: { currentNumberScheduled: 1, numberMisscheduled: 0, desiredNumberScheduled: 1, numberReady: 1, observedGeneration: 1, updatedNumberScheduled: 1, numberAvailable: 1 },
  },
  'apps/v1/ControllerRevision': { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: meta('ds-5d8c7b6f9', 'kube-system'), data: { spec: { template: { $patch: 'replace', metadata: { labels: { a: 'b' } } } } }, revision: 2 },
  'batch/v1/Job': {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta('pi', 'default'),
    spec: {
      parallelism: 2,
      completions: 4,
      activeDeadlineSeconds: 600,
      podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [42] } }, { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] },
      backoffLimit: 6,
      selector,
      manualSelector: true,
      template,
      ttlSecondsAfterFinished: 100,
      completionMode: 'NonIndexed',
      suspend: false,
      podReplacementPolicy: 'Failed',
    },
    status: {
      conditions: [{ type: 'Complete', status: 'True', lastProbeTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' }],
      startTime: '2024-05-01T09:59:00Z',
      completionTime: '2024-05-01T10:00:00Z',
      active: 1,
      succeeded: 4,
      failed: 2,
      terminating: 0,
      ready: 0,
      uncountedTerminatedPods: { succeeded: ['u1'], failed: ['u2'] },
    },
  },
  'batch/v1/CronJob': {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: meta('hello', 'default'),
    spec: {
      schedule: '*/1 * * * *',
      timeZone: 'Europe/Paris',
      startingDeadlineSeconds: 30,
      concurrencyPolicy: 'Forbid',
      suspend: true,
      jobTemplate: { metadata: { labels: { app: 'hello' } }, spec: { backoffLimit: 2, template } },
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
    },
    status: { active: [{ kind: 'Job', namespace: 'default', name: 'hello-1', uid: 'u1', apiVersion: 'batch/v1', resourceVersion: '7' }], lastScheduleTime: '2024-05-01T10:00:00Z', lastSuccessfulTime: '2024-05-01T10:00:05Z' },
  },
  'autoscaling/v1/Scale': { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 3 }, status: { replicas: 2, selector: 'app=web' } },
  'discovery.k8s.io/v1/EndpointSlice': {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: meta('svc-abc', 'default'),
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.244.0.5'], conditions: { ready: false, serving: true, terminating: false }, hostname: 'h', targetRef: { kind: 'Pod', name: 'p' }, nodeName: 'node1', zone: 'z', hints: { forZones: [{ name: 'z' }] } }],
    ports: [{ name: 'http', protocol: 'TCP', port: 80, appProtocol: 'http' }],
  },
  'networking.k8s.io/v1/Ingress': {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta('ing', 'default'),
    spec: {
      ingressClassName: 'nginx',
      defaultBackend: { resource: { apiGroup: 'example.com', kind: 'Bucket', name: 'b' } },
      tls: [{ hosts: ['a.example'], secretName: 'tls' }],
      rules: [{ host: 'a.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'svc', port: { number: 80 } } } }, { path: '/n', pathType: 'Exact', backend: { service: { name: 'svc', port: { name: 'http' } } } }] } }],
    },
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.3', hostname: 'lb', ports: [{ port: 443, protocol: 'TCP', error: 'e' }] }] } },
  },
  'networking.k8s.io/v1/IngressClass': { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: meta('nginx'), spec: { controller: 'podpath.dev/ingress', parameters: { apiGroup: 'example.com', kind: 'P', name: 'p', scope: 'Namespace', namespace: 'default' } } },
  'networking.k8s.io/v1/NetworkPolicy': {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta('np', 'default'),
    spec: {
      podSelector: { matchLabels: { app: 'web' } },
      ingress: [{ ports: [{ protocol: 'TCP', port: 80, endPort: 90 }, { port: 'http' }], from: [{ podSelector: {}, namespaceSelector: { matchLabels: { a: 'b' } } }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }] }],
      egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }],
      policyTypes: ['Ingress', 'Egress'],
    },
  },
  'coordination.k8s.io/v1/Lease': {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: meta('node1', 'kube-node-lease'),
    spec: { holderIdentity: 'node1', leaseDurationSeconds: 40, acquireTime: '2024-05-01T10:00:00.000000Z', renewTime: '2024-05-01T10:00:10.500000Z', leaseTransitions: 0 },
  },
  'rbac.authorization.k8s.io/v1/Role': {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: meta('pod-reader', 'default'),
    rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', 'pods/log'], resourceNames: ['web'] }],
  },
  'rbac.authorization.k8s.io/v1/ClusterRole': {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: meta('view'),
    rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/api/*'] }],
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } }] },
  },
  'rbac.authorization.k8s.io/v1/RoleBinding': {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta('read-pods', 'default'),
    subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: 'default' }, { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
  },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: meta('cluster-admin'),
    subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:masters' }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
  },
  'authentication.k8s.io/v1/TokenRequest': { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: { name: 'bot', namespace: 'default' }, spec: { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p', uid: 'u' } }, status: { token: 'a.b.c', expirationTimestamp: '2024-05-01T11:00:00Z' } },
  'authentication.k8s.io/v1/TokenReview': { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: {}, spec: { token: 't', audiences: ['a'] }, status: { authenticated: true, user: { username: 'u', uid: 'i', groups: ['g'], extra: { k: ['v1', 'v2'] } }, audiences: ['a'], error: 'e' } },
  'authentication.k8s.io/v1/SelfSubjectReview': { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview', metadata: {}, status: { userInfo: { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'], extra: { e: [] } } } },
  'authorization.k8s.io/v1/SelfSubjectAccessReview': {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    metadata: {},
    spec: { resourceAttributes: { namespace: 'default', verb: 'get', group: 'apps', version: 'v1', resource: 'deployments', subresource: 'scale', name: 'web', fieldSelector: { rawSelector: 'a=b', requirements: [{ key: 'a', operator: 'In', values: ['b'] }] }, labelSelector: { rawSelector: 'x', requirements: [{ key: 'x', operator: 'Exists' }] } } },
    status: { allowed: true, reason: 'r' },
  },
  'authorization.k8s.io/v1/SelfSubjectRulesReview': {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectRulesReview',
    metadata: {},
    spec: { namespace: 'default' },
    status: { resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], resourceNames: ['n'] }], nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }], incomplete: false, evaluationError: 'e' },
  },
  'authorization.k8s.io/v1/SubjectAccessReview': {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    metadata: {},
    spec: { nonResourceAttributes: { path: '/healthz', verb: 'get' }, user: 'alice', groups: ['dev'], extra: { scopes: ['a', 'b'] }, uid: 'u-1' },
    status: { allowed: false, denied: true, reason: 'no', evaluationError: 'e' },
  },
  'authorization.k8s.io/v1/LocalSubjectAccessReview': { apiVersion: 'authorization.k8s.io/v1', kind: 'LocalSubjectAccessReview', metadata: { namespace: 'n1' }, spec: { resourceAttributes: { namespace: 'n1', verb: 'list', resource: 'pods' }, groups: ['g'] }, status: { allowed: true } },
  'meta.k8s.io/v1/DeleteOptions': { apiVersion: 'meta.k8s.io/v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: 'u', resourceVersion: '5' }, propagationPolicy: 'Foreground', dryRun: ['All'] },
  // What responses hold besides the kinds: Status (every group's, apiVersion v1) and metadata.
  'v1/Status': {
    apiVersion: 'v1',
    kind: 'Status',
    metadata: {},
    status: 'Failure',
    message: 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
    reason: 'Invalid',
    details: { name: 'web', group: 'apps', kind: 'Deployment', uid: 'u-1', causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: -1', field: 'spec.replicas' }], retryAfterSeconds: 2 },
    code: 422,
  },
  'meta.k8s.io/v1/PartialObjectMetadata': { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: meta('web', 'default') },
  'meta.k8s.io/v1/PartialObjectMetadataList': { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadataList', metadata: { resourceVersion: '42' }, items: [{ metadata: meta('a', 'default') }, { metadata: meta('b', 'default') }] },
};

// Every XList: ListMeta (continue, remainingItemCount too) and two items without type meta, as
// a list serializes them.
for (const key of Object.keys(kinds).filter((k) => k.endsWith('List') && !k.startsWith('meta.k8s.io/'))) {
  const { apiVersion, kind: _kind, ...item } = objects[key.slice(0, -'List'.length)]!;
  objects[key] = { apiVersion, kind: key.slice(key.lastIndexOf('/') + 1), metadata: { resourceVersion: '42', continue: 'next-page', remainingItemCount: 7 }, items: [item, item] };
}

/** Minimal protobuf writing, independent of the codec under test. */
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};
const bytesField = (num: number, payload: Buffer | string): Buffer => {
  const p = Buffer.from(payload);
  return Buffer.concat([Buffer.from([...varint((num << 3) | 2), ...varint(p.length)]), p]);
};
const intField = (num: number, v: number): Buffer => Buffer.from([...varint(num << 3), ...varint(v)]);
const envelope = (apiVersion: string, kind: string, raw: Buffer): Buffer =>
  Buffer.concat([Buffer.from('k8s\0', 'latin1'), bytesField(1, Buffer.concat([bytesField(1, apiVersion), bytesField(2, kind)])), bytesField(2, raw), bytesField(3, ''), bytesField(4, '')]);

describe('protobuf table', () => {
  it('names only messages it holds and types the codec reads', () => {
    assert.deepEqual(unknownTypes(), []);
  });

  it('has a full object in this test for every kind it decodes', () => {
    assert.deepEqual(Object.keys(kinds).sort(), Object.keys(objects).sort());
  });
});

describe('protobuf round trip', () => {
  for (const [key, obj] of Object.entries(objects)) {
    it(`keeps every field of ${key}`, () => {
      const body = encodeProtobufObject(obj);
      assert.ok(body, `no message for ${key}`);
      assert.deepEqual(body.subarray(0, 4), Buffer.from('k8s\0', 'latin1'));
      assert.deepEqual(decodeProtobufBody(body), obj);
    });
  }
});

describe('protobuf bytes as client-go writes them', () => {
  it('decodes kubectl auth can-i create pods: non-pointer strings are always written, empty ones dropped as omitempty', () => {
    const attrs = Buffer.concat([bytesField(1, 'default'), bytesField(2, 'create'), bytesField(3, ''), bytesField(4, ''), bytesField(5, 'pods'), bytesField(6, ''), bytesField(7, '')]);
    const raw = Buffer.concat([bytesField(1, Buffer.alloc(0)), bytesField(2, bytesField(1, attrs)), bytesField(3, Buffer.concat([intField(1, 0), bytesField(3, '')]))]);
    assert.deepEqual(decodeProtobufBody(envelope('authorization.k8s.io/v1', 'SelfSubjectAccessReview', raw)), {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: {},
      spec: { resourceAttributes: { namespace: 'default', verb: 'create', resource: 'pods' } },
      // allowed has no omitempty: a false written on the wire is kept
      status: { allowed: false },
    });
  });

  it('keeps zero values of pointers (replicas: 0) and drops those of plain fields (paused: false)', () => {
    const spec = Buffer.concat([intField(1, 0), intField(7, 0), intField(5, 0)]);
    const raw = Buffer.concat([bytesField(1, bytesField(1, 'web')), bytesField(2, spec)]);
    assert.deepEqual(decodeProtobufBody(envelope('apps/v1', 'Deployment', raw)), { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 0 } });
  });

  it('reads a negative int32 written as a ten-byte varint, and an empty Time as unset', () => {
    const neg = Buffer.from([...varint(25 << 3), 0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const raw = Buffer.concat([bytesField(1, Buffer.concat([bytesField(1, 'p'), bytesField(8, Buffer.alloc(0))])), bytesField(2, neg)]);
    assert.deepEqual(decodeProtobufBody(envelope('v1', 'Pod', raw)), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { priority: -5 } });
  });

  it('reads IntOrString, Quantity and embedded structs (Probe handler, Volume source)', () => {
    const port = Buffer.concat([intField(1, 1), intField(2, 0), bytesField(3, 'http')]);
    const probe = Buffer.concat([bytesField(1, bytesField(2, Buffer.concat([bytesField(1, '/'), bytesField(2, port)]))), intField(4, 3)]);
    const qty = bytesField(1, '250m');
    const resources = bytesField(1, Buffer.concat([bytesField(1, 'cpu'), bytesField(2, qty)]));
    const container = Buffer.concat([bytesField(1, 'c'), bytesField(2, 'busybox'), bytesField(8, resources), bytesField(11, probe)]);
    const volume = Buffer.concat([bytesField(1, 'root'), bytesField(2, bytesField(1, bytesField(1, '/')))]);
    const raw = Buffer.concat([bytesField(1, Buffer.alloc(0)), bytesField(2, Buffer.concat([bytesField(1, volume), bytesField(2, container)]))]);
    assert.deepEqual(decodeProtobufBody(envelope('v1', 'Pod', raw)).spec, {
      volumes: [{ name: 'root', hostPath: { path: '/' } }],
      containers: [{ name: 'c', image: 'busybox', resources: { limits: { cpu: '250m' } }, readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 3 } }],
    });
  });
});

describe('protobuf refusals', () => {
  it('refuses a field number the table does not know with 415, naming it', () => {
    const raw = Buffer.concat([bytesField(1, bytesField(1, 'c')), bytesField(99, 'x')]);
    const e = thrownApiError(() => decodeProtobufBody(envelope('v1', 'ConfigMap', raw)));
    assert.equal(e.code, 415);
    assert.equal(e.reason, 'UnsupportedMediaType');
    assert.match(e.message, /ConfigMap field 99 is not known/);
  });

  it('refuses a kind it has no message for with 415', () => {
    const e = thrownApiError(() => decodeProtobufBody(envelope('policy/v1', 'PodDisruptionBudget', Buffer.alloc(0))));
    assert.equal(e.code, 415);
  });

  it('answers 400 for a wrong wire type, a truncated body and a missing magic number', () => {
    assert.equal(thrownApiError(() => decodeProtobufBody(envelope('v1', 'ConfigMap', intField(1, 3)))).code, 400);
    assert.match(thrownApiError(() => decodeProtobufBody(envelope('v1', 'ConfigMap', Buffer.from([0x0a, 0x10, 0x01])))).message, /truncated/);
    assert.equal(thrownApiError(() => decodeProtobufBody(Buffer.from('{"kind":"Pod"}'))).code, 400);
  });

  it('will not encode a field it has no number for', () => {
    assert.throws(() => encodeMessage('ConfigMap', { metadata: {}, notAField: 1 }), /notAField/);
    assert.deepEqual(decodeMessage('ConfigMap', encodeMessage('ConfigMap', { data: { a: 'b' } })), { data: { a: 'b' } });
  });
});

describe('protobuf responses', () => {
  it('writes a list as ListMeta (field 1) and each item as a repeated field 2 of the kind\'s message', () => {
    const pod = objects['v1/Pod']!;
    const { apiVersion: _a, kind: _k, ...item } = pod;
    const list = { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '9' }, items: [item, item] };
    const body = encodeResponseObject(list);
    // The envelope's raw (field 2 of Unknown), read by hand: 0x0a ListMeta, then 0x12 per item.
    const raw = decodeMessage('PodList', Buffer.from(String((decodeEnvelope(body) as { raw: string }).raw), 'base64'));
    assert.deepEqual(raw, { metadata: { resourceVersion: '9' }, items: [item, item] });
    assert.deepEqual(decodeProtobufBody(body), list);
    // An empty list has no items on the wire (JSON's `items: []` is a nil slice to a Go client).
    assert.deepEqual(decodeProtobufBody(encodeResponseObject({ apiVersion: 'apps/v1', kind: 'DeploymentList', metadata: { resourceVersion: '1' }, items: [] })), {
      apiVersion: 'apps/v1',
      kind: 'DeploymentList',
      metadata: { resourceVersion: '1' },
    });
  });

  it('frames a watch event as a 4-byte big-endian length and a raw WatchEvent whose object holds the envelope', () => {
    const env = encodeResponseObject(objects['v1/ConfigMap']!);
    const frame = watchEventFrame('MODIFIED', env);
    assert.equal(frame.readUInt32BE(0), frame.length - 4);
    // WatchEvent {1: type, 2: RawExtension {1: raw}}, laid out by hand; no magic before it.
    const expected = Buffer.concat([bytesField(1, 'MODIFIED'), bytesField(2, bytesField(1, env))]);
    assert.deepEqual(frame.subarray(4), expected);
    assert.deepEqual(env.subarray(0, 4), Buffer.from('k8s\0', 'latin1'));
  });

  it('splits a stream of frames, keeping an incomplete last frame for later', () => {
    const cm = objects['v1/ConfigMap']!;
    const st = objects['v1/Status']!;
    const stream = Buffer.concat([watchEventFrame('ADDED', encodeResponseObject(cm)), watchEventFrame('ERROR', encodeResponseObject(st))]);
    const cut = stream.length - 3;
    const first = readWatchFrames(stream.subarray(0, cut));
    assert.deepEqual(
      first.frames.map((f) => [f.type, decodeProtobufBody(f.object)]),
      [['ADDED', cm]],
    );
    const second = readWatchFrames(Buffer.concat([first.rest, stream.subarray(cut)]));
    assert.deepEqual(
      second.frames.map((f) => [f.type, decodeProtobufBody(f.object)]),
      [['ERROR', st]],
    );
    assert.equal(second.rest.length, 0);
  });

  it('will not answer a kind it has no message for, nor a field it has no number for', () => {
    assert.throws(() => encodeResponseObject({ apiVersion: 'meta.k8s.io/v1', kind: 'Table', rows: [] }), ProtoError);
    assert.throws(() => encodeResponseObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {}, extra: 1 }), ProtoError);
  });
});

/** runtime.Unknown's fields, for reading an envelope by hand. */
function decodeEnvelope(body: Buffer): Record<string, unknown> {
  assert.deepEqual(body.subarray(0, 4), Buffer.from('k8s\0', 'latin1'));
  let pos = 4;
  const out: Record<string, unknown> = {};
  const names: Record<number, string> = { 1: 'typeMeta', 2: 'raw', 3: 'contentEncoding', 4: 'contentType' };
  while (pos < body.length) {
    const key = body[pos++]!;
    let len = 0;
    for (let shift = 0; ; shift += 7) {
      const b = body[pos++]!;
      len += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) break;
    }
    out[names[key >> 3]!] = body.subarray(pos, pos + len).toString('base64');
    pos += len;
  }
  return out;
}
