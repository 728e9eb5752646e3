// The default ClusterRoles and ClusterRoleBindings kube-apiserver creates at start (kubernetes
// plugin/pkg/auth/authorizer/rbac/bootstrappolicy, as its testdata/cluster-roles.yaml,
// cluster-role-bindings.yaml, controller-roles.yaml and controller-role-bindings.yaml render
// them), kept as data. Roles of components podpath has no
// counterpart of (certificate approvers, volume provisioners, heapster) are left out.
import type { ClusterRole, PolicyRule, RoleBinding } from '../api/types.ts';

const rw = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const read = ['get', 'list', 'watch'];
const rwAll = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
/** every verb but deletecollection */
const rwEach = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const eventsWrite = ['create', 'patch', 'update'];

/** A resource rule: verbs on resources of the API groups (and names, if any). */
function rule(verbs: string[], apiGroups: string[], resources: string[], resourceNames?: string[]): PolicyRule {
  return { verbs, apiGroups, resources, ...(resourceNames ? { resourceNames } : {}) };
}

function urls(verbs: string[], nonResourceURLs: string[]): PolicyRule {
  return { verbs, nonResourceURLs };
}

const bootstrapLabels = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
const autoupdate = { 'rbac.authorization.kubernetes.io/autoupdate': 'true' };

function clusterRole(name: string, rules: PolicyRule[] | null, o: { labels?: Record<string, string>; aggregateFrom?: string } = {}): ClusterRole {
  const role: ClusterRole = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name, annotations: { ...autoupdate }, labels: { ...bootstrapLabels, ...o.labels } },
    rules: rules ?? [],
  };
  if (o.aggregateFrom) role.aggregationRule = { clusterRoleSelectors: [{ matchLabels: { [`rbac.authorization.k8s.io/aggregate-to-${o.aggregateFrom}`]: 'true' } }] };
  return role;
}

const aggregateTo = (role: string) => ({ [`rbac.authorization.k8s.io/aggregate-to-${role}`]: 'true' });

/**
 * NodeRules: what every node may do (the ClusterRole system:node holds them, bound to no one
 * since nodes are authorized by the Node authorizer, which applies them to what it does not
 * subdivide).
 */
export const nodeRules: readonly PolicyRule[] = [
  rule(['create'], ['authentication.k8s.io'], ['tokenreviews']),
  rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews', 'subjectaccessreviews']),
  rule(read, [''], ['services']),
  rule(['create', 'get', 'list', 'watch'], [''], ['nodes']),
  rule(['patch', 'update'], [''], ['nodes/status']),
  rule(['patch', 'update'], [''], ['nodes']),
  rule(eventsWrite, [''], ['events']),
  rule(read, [''], ['pods']),
  rule(['create', 'delete'], [''], ['pods']),
  rule(['patch', 'update'], [''], ['pods/status']),
  rule(['create'], [''], ['pods/eviction']),
  rule(read, [''], ['configmaps', 'secrets']),
  rule(['get'], [''], ['persistentvolumeclaims', 'persistentvolumes']),
  rule(['get'], [''], ['endpoints']),
  rule(['create', 'get', 'list', 'watch'], ['certificates.k8s.io'], ['certificatesigningrequests']),
  rule(['create', 'delete', 'get', 'patch', 'update'], ['coordination.k8s.io'], ['leases']),
  rule(['get'], ['storage.k8s.io'], ['volumeattachments']),
  rule(['create'], [''], ['serviceaccounts/token']),
  rule(['get', 'patch', 'update'], [''], ['persistentvolumeclaims/status']),
  rule(read, ['storage.k8s.io'], ['csidrivers']),
  rule(['create', 'delete', 'get', 'patch', 'update'], ['storage.k8s.io'], ['csinodes']),
  rule(read, ['node.k8s.io'], ['runtimeclasses']),
];

/** What every controller may do with events (eventsRule in controller_policy.go). */
const eventsRule = rule(eventsWrite, ['', 'events.k8s.io'], ['events']);

/**
 * The roles of the controllers kube-controller-manager runs with --use-service-account-credentials
 * (controller_policy.go, as testdata/controller-roles.yaml renders them), by the name of each
 * controller's service account in kube-system: ClusterRole system:controller:NAME, bound to it.
 * Only the controllers podpath runs; its garbage collector and namespace termination run inside
 * the API server.
 */
export const controllerRoleRules: Readonly<Record<string, readonly PolicyRule[]>> = {
  'clusterrole-aggregation-controller': [rule(['escalate', 'get', 'list', 'patch', 'update', 'watch'], ['rbac.authorization.k8s.io'], ['clusterroles'])],
  'cronjob-controller': [
    rule(['get', 'list', 'update', 'watch'], ['batch'], ['cronjobs']),
    rule(rwEach, ['batch'], ['jobs']),
    rule(['update'], ['batch'], ['cronjobs/status']),
    rule(['update'], ['batch'], ['cronjobs/finalizers']),
    rule(['delete', 'list', 'watch'], [''], ['pods']),
    eventsRule,
  ],
  'daemon-set-controller': [
    rule(read, ['apps', 'extensions'], ['daemonsets']),
    rule(['update'], ['apps', 'extensions'], ['daemonsets/status']),
    rule(['update'], ['apps', 'extensions'], ['daemonsets/finalizers']),
    rule(['list', 'watch'], [''], ['nodes']),
    rule(['create', 'delete', 'list', 'patch', 'watch'], [''], ['pods']),
    rule(['create'], [''], ['pods/binding']),
    rule(rwEach, ['apps'], ['controllerrevisions']),
    eventsRule,
  ],
  'deployment-controller': [
    rule(['get', 'list', 'update', 'watch'], ['apps', 'extensions'], ['deployments']),
    rule(['update'], ['apps', 'extensions'], ['deployments/status']),
    rule(['update'], ['apps', 'extensions'], ['deployments/finalizers']),
    rule(rwEach, ['apps', 'extensions'], ['replicasets']),
    rule(['get', 'list', 'update', 'watch'], [''], ['pods']),
    eventsRule,
  ],
  'endpoint-controller': [
    rule(read, [''], ['pods', 'services']),
    rule(['create', 'delete', 'get', 'list', 'update', 'watch'], [''], ['endpoints']),
    rule(['create'], [''], ['endpoints/restricted']),
    eventsRule,
  ],
  'endpointslice-controller': [
    rule(read, [''], ['nodes', 'pods', 'services']),
    rule(['update'], [''], ['services/finalizers']),
    rule(['create', 'delete', 'get', 'list', 'update', 'watch'], ['discovery.k8s.io'], ['endpointslices']),
    eventsRule,
  ],
  // podpath's Ingress certificate issuer (a cert-manager ingress-shim of its own, so upstream has
  // no role for it): what cert-manager's controller role gives that part, and nothing else
  'ingress-certificate-controller': [rule(read, ['networking.k8s.io'], ['ingresses']), rule(['create', 'get', 'update'], [''], ['secrets']), eventsRule],
  'job-controller': [
    rule(['get', 'list', 'patch', 'update', 'watch'], ['batch'], ['jobs']),
    rule(['update'], ['batch'], ['jobs/status']),
    rule(['update'], ['batch'], ['jobs/finalizers']),
    rule(['create', 'delete', 'list', 'patch', 'watch'], [''], ['pods']),
    eventsRule,
  ],
  // the node IPAM controller's too (kube-controller-manager starts it with this one's client)
  'node-controller': [
    rule(['delete', 'get', 'list', 'patch', 'update', 'watch'], [''], ['nodes']),
    rule(['patch', 'update'], [''], ['nodes/status']),
    rule(['patch', 'update'], [''], ['pods/status']),
    rule(['delete', 'get', 'list', 'watch'], [''], ['pods']),
    eventsRule,
  ],
  'replicaset-controller': [
    rule(['get', 'list', 'update', 'watch'], ['apps', 'extensions'], ['replicasets']),
    rule(['update'], ['apps', 'extensions'], ['replicasets/status']),
    rule(['update'], ['apps', 'extensions'], ['replicasets/finalizers']),
    rule(['create', 'delete', 'list', 'patch', 'watch'], [''], ['pods']),
    eventsRule,
  ],
  'service-account-controller': [rule(['create'], [''], ['serviceaccounts']), eventsRule],
  // the LoadBalancer address allocator's, as a cloud provider's service controller writes services/status
  'service-controller': [rule(read, [''], ['services']), rule(['patch', 'update'], [''], ['services/status']), rule(['list', 'watch'], [''], ['nodes']), eventsRule],
  'ttl-after-finished-controller': [rule(['delete', 'get', 'list', 'watch'], ['batch'], ['jobs']), eventsRule],
};

export const clusterRoles: readonly ClusterRole[] = [
  clusterRole('admin', null, { aggregateFrom: 'admin' }),
  clusterRole('cluster-admin', [rule(['*'], ['*'], ['*']), urls(['*'], ['*'])]),
  clusterRole('edit', null, { aggregateFrom: 'edit', labels: aggregateTo('admin') }),
  clusterRole(
    'system:aggregate-to-admin',
    [rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews']), rule(rwAll, ['rbac.authorization.k8s.io'], ['rolebindings', 'roles'])],
    { labels: aggregateTo('admin') },
  ),
  clusterRole(
    'system:aggregate-to-edit',
    [
      rule(read, [''], ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy']),
      rule(['impersonate'], [''], ['serviceaccounts']),
      rule(rw, [''], ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy']),
      rule(['create'], [''], ['pods/eviction']),
      rule(rw, [''], ['configmaps', 'events', 'persistentvolumeclaims', 'replicationcontrollers', 'replicationcontrollers/scale', 'secrets', 'serviceaccounts', 'services', 'services/proxy']),
      rule(['create'], [''], ['serviceaccounts/token']),
      rule(rw, ['apps'], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'replicasets', 'replicasets/scale', 'statefulsets', 'statefulsets/scale']),
      rule(rw, ['autoscaling'], ['horizontalpodautoscalers']),
      rule(rw, ['batch'], ['cronjobs', 'jobs']),
      rule(rw, ['extensions'], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'ingresses', 'networkpolicies', 'replicasets', 'replicasets/scale', 'replicationcontrollers/scale']),
      rule(rw, ['policy'], ['poddisruptionbudgets']),
      rule(rw, ['networking.k8s.io'], ['ingresses', 'networkpolicies']),
      rule(rwAll, ['coordination.k8s.io'], ['leases']),
    ],
    { labels: aggregateTo('edit') },
  ),
  clusterRole(
    'system:aggregate-to-view',
    [
      rule(read, [''], ['configmaps', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status']),
      rule(read, [''], ['bindings', 'events', 'limitranges', 'namespaces/status', 'pods/log', 'pods/status', 'replicationcontrollers/status', 'resourcequotas', 'resourcequotas/status']),
      rule(read, [''], ['namespaces']),
      rule(read, ['discovery.k8s.io'], ['endpointslices']),
      rule(read, ['apps'], ['controllerrevisions', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'replicasets', 'replicasets/scale', 'replicasets/status', 'statefulsets', 'statefulsets/scale', 'statefulsets/status']),
      rule(read, ['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
      rule(read, ['batch'], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status']),
      rule(read, ['extensions'], ['daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'ingresses', 'ingresses/status', 'networkpolicies', 'replicasets', 'replicasets/scale', 'replicasets/status', 'replicationcontrollers/scale']),
      rule(read, ['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
      rule(read, ['networking.k8s.io'], ['ingresses', 'ingresses/status', 'networkpolicies']),
    ],
    { labels: aggregateTo('view') },
  ),
  clusterRole('system:auth-delegator', [rule(['create'], ['authentication.k8s.io'], ['tokenreviews']), rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews'])]),
  clusterRole('system:basic-user', [rule(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']), rule(['create'], ['authentication.k8s.io'], ['selfsubjectreviews'])]),
  clusterRole('system:discovery', [urls(['get'], ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'])]),
  clusterRole('system:kube-controller-manager', [
    rule(eventsWrite, ['', 'events.k8s.io'], ['events']),
    rule(['create'], ['coordination.k8s.io'], ['leases']),
    rule(['get', 'update'], ['coordination.k8s.io'], ['leases'], ['kube-controller-manager']),
    rule(['create'], [''], ['secrets', 'serviceaccounts']),
    rule(['delete'], [''], ['secrets']),
    rule(['get'], [''], ['configmaps', 'namespaces', 'secrets', 'serviceaccounts']),
    rule(['update'], [''], ['secrets', 'serviceaccounts']),
    rule(['create'], ['authentication.k8s.io'], ['tokenreviews']),
    rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
    rule(['list', 'watch'], ['*'], ['*']),
    rule(['create'], [''], ['serviceaccounts/token']),
  ]),
  clusterRole('system:kube-dns', [rule(['list', 'watch'], [''], ['endpoints', 'services'])]),
  clusterRole('system:kube-scheduler', [
    rule(eventsWrite, ['', 'events.k8s.io'], ['events']),
    rule(['create'], ['coordination.k8s.io'], ['leases']),
    rule(['get', 'update'], ['coordination.k8s.io'], ['leases'], ['kube-scheduler']),
    rule(read, [''], ['nodes']),
    rule(['delete', 'get', 'list', 'watch'], [''], ['pods']),
    rule(['create'], [''], ['bindings', 'pods/binding']),
    rule(['patch', 'update'], [''], ['pods/status']),
    rule(read, [''], ['replicationcontrollers', 'services']),
    rule(read, ['apps', 'extensions'], ['replicasets']),
    rule(read, ['apps'], ['statefulsets']),
    rule(read, ['policy'], ['poddisruptionbudgets']),
    rule(read, [''], ['persistentvolumeclaims', 'persistentvolumes']),
    rule(['create'], ['authentication.k8s.io'], ['tokenreviews']),
    rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
    rule(read, ['storage.k8s.io'], ['csinodes']),
    rule(read, [''], ['namespaces']),
    rule(read, ['storage.k8s.io'], ['csidrivers']),
    rule(read, ['storage.k8s.io'], ['csistoragecapacities']),
  ]),
  clusterRole('system:monitoring', [urls(['get'], ['/healthz', '/healthz/*', '/livez', '/livez/*', '/metrics', '/metrics/slis', '/readyz', '/readyz/*'])]),
  clusterRole('system:node', [...nodeRules]),
  clusterRole('system:node-proxier', [
    rule(['list', 'watch'], [''], ['endpoints', 'services']),
    rule(read, [''], ['nodes']),
    rule(eventsWrite, ['', 'events.k8s.io'], ['events']),
    rule(['list', 'watch'], ['discovery.k8s.io'], ['endpointslices']),
  ]),
  clusterRole('system:public-info-viewer', [urls(['get'], ['/healthz', '/livez', '/readyz', '/version', '/version/'])]),
  clusterRole('system:service-account-issuer-discovery', [urls(['get'], ['/.well-known/openid-configuration', '/openid/v1/jwks'])]),
  clusterRole('view', null, { aggregateFrom: 'view', labels: aggregateTo('edit') }),
  // metrics-server's own manifest's role: podpath serves metrics.k8s.io itself, as a cluster with
  // metrics-server installed does, so `kubectl top` works for whoever may view.
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'system:aggregated-metrics-reader', labels: { 'k8s-app': 'metrics-server', ...aggregateTo('admin'), ...aggregateTo('edit'), ...aggregateTo('view') } },
    rules: [rule(read, ['metrics.k8s.io'], ['pods', 'nodes'])],
  },
  ...Object.entries(controllerRoleRules).map(([name, rules]) => clusterRole(`system:controller:${name}`, [...rules])),
];

type SubjectSpec = ['User' | 'Group', string] | ['ServiceAccount', string, string];

function clusterRoleBinding(name: string, role: string, subjects: SubjectSpec[]): RoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name, annotations: { ...autoupdate }, labels: { ...bootstrapLabels } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: subjects.map((s) => (s[0] === 'ServiceAccount' ? { kind: s[0], name: s[2], namespace: s[1] } : { kind: s[0], apiGroup: 'rbac.authorization.k8s.io', name: s[1] })),
  };
}

export const clusterRoleBindings: readonly RoleBinding[] = [
  clusterRoleBinding('cluster-admin', 'cluster-admin', [['Group', 'system:masters']]),
  clusterRoleBinding('system:basic-user', 'system:basic-user', [['Group', 'system:authenticated']]),
  clusterRoleBinding('system:discovery', 'system:discovery', [['Group', 'system:authenticated']]),
  clusterRoleBinding('system:kube-controller-manager', 'system:kube-controller-manager', [['User', 'system:kube-controller-manager']]),
  clusterRoleBinding('system:kube-dns', 'system:kube-dns', [['ServiceAccount', 'kube-system', 'kube-dns']]),
  clusterRoleBinding('system:kube-scheduler', 'system:kube-scheduler', [['User', 'system:kube-scheduler']]),
  clusterRoleBinding('system:monitoring', 'system:monitoring', [['Group', 'system:monitoring']]),
  clusterRoleBinding('system:node', 'system:node', []),
  clusterRoleBinding('system:node-proxier', 'system:node-proxier', [['User', 'system:kube-proxy']]),
  clusterRoleBinding('system:public-info-viewer', 'system:public-info-viewer', [['Group', 'system:authenticated'], ['Group', 'system:unauthenticated']]),
  clusterRoleBinding('system:service-account-issuer-discovery', 'system:service-account-issuer-discovery', [['Group', 'system:serviceaccounts']]),
  ...Object.keys(controllerRoleRules).map((name) => clusterRoleBinding(`system:controller:${name}`, `system:controller:${name}`, [['ServiceAccount', 'kube-system', name]])),
];
