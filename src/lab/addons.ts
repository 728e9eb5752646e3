// The lab's cluster add-ons, applied by `podpath up` like kubeadm applies its own: the cluster
// DNS as CoreDNS is deployed (Deployment `coredns` in kube-system behind the `kube-dns` Service
// at the cluster DNS address), running the built-in image podpath/coredns.
import type { KubeObject, PolicyRule } from '../api/types.ts';
import { netConfJSON } from '../cni/netconf.ts';

const rbacV1 = 'rbac.authorization.k8s.io/v1';

/** A ClusterRole and the ClusterRoleBinding that grants it to a service account (how add-on manifests give their pods rights). */
export function clusterRoleFor(name: string, sa: { namespace: string; name: string }, rules: PolicyRule[], labels?: Record<string, string>, bindingName = name): KubeObject[] {
  const metadata = (n: string) => ({ name: n, ...(labels ? { labels } : {}) });
  return [
    { apiVersion: rbacV1, kind: 'ClusterRole', metadata: metadata(name), rules },
    {
      apiVersion: rbacV1,
      kind: 'ClusterRoleBinding',
      metadata: metadata(bindingName),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name: sa.name, namespace: sa.namespace }],
    },
  ] as KubeObject[];
}

export interface DnsAddonOptions {
  /** the kube-dns Service's ClusterIP (the kubelet's --cluster-dns) */
  clusterIP: string;
  zone: string;
  /** kubeadm deploys two; minikube scales a cluster with one control plane down to one */
  replicas?: number;
  /** resolvers for names outside the zone (default: the node's resolv.conf, dnsPolicy Default) */
  upstream?: string;
}

export function dnsAddon(o: DnsAddonOptions): KubeObject[] {
  const labels = { 'k8s-app': 'kube-dns' };
  const args = ['--zone', o.zone, '--ttl', '5', ...(o.upstream ? ['--upstream', o.upstream] : [])];
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
    // kubeadm's ClusterRole system:coredns: what the kubernetes plugin watches.
    ...clusterRoleFor('system:coredns', { namespace: 'kube-system', name: 'coredns' }, [
      { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    ]),
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'kube-system', labels },
      spec: {
        replicas: o.replicas ?? 2,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            // CoreDNS forwards to the node's resolvers, so it must not use itself.
            dnsPolicy: 'Default',
            containers: [
              {
                name: 'coredns',
                image: 'podpath/coredns',
                args,
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                  { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
                ],
                livenessProbe: { httpGet: { path: '/health', port: 8080 }, initialDelaySeconds: 60, timeoutSeconds: 5, failureThreshold: 5 },
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { ...labels, 'kubernetes.io/name': 'CoreDNS' }, annotations: { 'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true' } },
      spec: {
        selector: labels,
        clusterIP: o.clusterIP,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
          { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
        ],
      },
    },
  ] as KubeObject[];
}

export const ingressNamespace = 'ingress-nginx';
export const ingressControllerName = 'ingress-nginx-controller';

/**
 * The Ingress controller as ingress-nginx's manifests deploy it: namespace ingress-nginx, the
 * Deployment and LoadBalancer Service ingress-nginx-controller (http 80, https 443; Local traffic
 * policy, so nginx sees the client's address), and the IngressClass nginx, marked default.
 */
export function ingressAddon(): KubeObject[] {
  const labels = { 'app.kubernetes.io/component': 'controller', 'app.kubernetes.io/instance': 'ingress-nginx', 'app.kubernetes.io/name': 'ingress-nginx' };
  const meta = (name: string, namespaced = true) => ({ name, ...(namespaced ? { namespace: ingressNamespace } : {}), labels: { ...labels, 'app.kubernetes.io/part-of': 'ingress-nginx' } });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ingressNamespace, labels: { 'app.kubernetes.io/instance': 'ingress-nginx', 'app.kubernetes.io/name': 'ingress-nginx' } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('ingress-nginx') },
    ...ingressRBAC(meta('ingress-nginx').labels),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { ...meta('nginx', false), annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } },
      spec: { controller: 'k8s.io/ingress-nginx' },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(ingressControllerName),
      spec: {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        ipFamilyPolicy: 'SingleStack',
        ipFamilies: ['IPv4'],
        selector: labels,
        ports: [
          { name: 'http', port: 80, protocol: 'TCP', targetPort: 'http', appProtocol: 'http' },
          { name: 'https', port: 443, protocol: 'TCP', targetPort: 'https', appProtocol: 'https' },
        ],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(ingressControllerName),
      spec: {
        replicas: 1,
        revisionHistoryLimit: 10,
        minReadySeconds: 0,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels: { ...labels, 'app.kubernetes.io/part-of': 'ingress-nginx' } },
          spec: {
            serviceAccountName: 'ingress-nginx',
            dnsPolicy: 'ClusterFirst',
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            terminationGracePeriodSeconds: 300,
            containers: [
              {
                name: 'controller',
                image: 'podpath/ingress-nginx-controller',
                args: [`--publish-service=${ingressNamespace}/${ingressControllerName}`, '--ingress-class=nginx', '--controller-class=k8s.io/ingress-nginx'],
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ],
                ports: [
                  { name: 'http', containerPort: 80, protocol: 'TCP' },
                  { name: 'https', containerPort: 443, protocol: 'TCP' },
                  { name: 'metrics', containerPort: 10254, protocol: 'TCP' },
                ],
                livenessProbe: { httpGet: { path: '/healthz', port: 10254, scheme: 'HTTP' }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 5 },
                readinessProbe: { httpGet: { path: '/healthz', port: 10254, scheme: 'HTTP' }, initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
              },
            ],
          },
        },
      },
    },
  ] as KubeObject[];
}

/** ingress-nginx's ClusterRole and Role (deploy/static/provider/cloud/deploy.yaml), bound to its service account. */
function ingressRBAC(labels: Record<string, string>): KubeObject[] {
  const sa = { namespace: ingressNamespace, name: 'ingress-nginx' };
  const role: PolicyRule[] = [
    { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
    { apiGroups: [''], resources: ['configmaps', 'pods', 'secrets', 'endpoints'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['networking.k8s.io'], resources: ['ingresses/status'], verbs: ['update'] },
    { apiGroups: ['networking.k8s.io'], resources: ['ingressclasses'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['ingress-nginx-leader'], verbs: ['get', 'update'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch', 'get'] },
  ];
  return [
    ...clusterRoleFor(
      'ingress-nginx',
      sa,
      [
        { apiGroups: [''], resources: ['configmaps', 'endpoints', 'nodes', 'pods', 'secrets', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['list', 'watch'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
        { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
        { apiGroups: ['networking.k8s.io'], resources: ['ingresses/status'], verbs: ['update'] },
        { apiGroups: ['networking.k8s.io'], resources: ['ingressclasses'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch', 'get'] },
      ],
      labels,
    ),
    { apiVersion: rbacV1, kind: 'Role', metadata: { name: 'ingress-nginx', namespace: ingressNamespace, labels }, rules: role },
    {
      apiVersion: rbacV1,
      kind: 'RoleBinding',
      metadata: { name: 'ingress-nginx', namespace: ingressNamespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ingress-nginx' },
      subjects: [{ kind: 'ServiceAccount', name: sa.name, namespace: sa.namespace }],
    },
  ] as KubeObject[];
}

export const netpolName = 'podpath-netpol';
export const netpolLabels = { 'k8s-app': netpolName };

/**
 * The NetworkPolicy agent as network policy agents deploy themselves (kube-network-policies,
 * Calico's node agent): the DaemonSet kube-system/podpath-netpol, host network, privileged,
 * every taint tolerated, one pod per node running `podpath netpol agent` for its node. Like
 * Calico it reaches the API server at its address (KUBERNETES_SERVICE_HOST/PORT over the
 * service links), so it does not depend on the `kubernetes` Service.
 */
export function netpolAddon(o: { apiHost: string; apiPort: number }): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: netpolName, namespace: 'kube-system' } },
    // As kube-network-policies grants its agent: reading what the policies select.
    ...clusterRoleFor(netpolName, { namespace: 'kube-system', name: netpolName }, [
      { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['list', 'watch'] },
      { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list', 'watch'] },
    ]),
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: netpolName, namespace: 'kube-system', labels: netpolLabels },
      spec: {
        selector: { matchLabels: netpolLabels },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
        template: {
          metadata: { labels: netpolLabels },
          spec: {
            hostNetwork: true,
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            priorityClassName: 'system-node-critical',
            serviceAccountName: netpolName,
            tolerations: [{ operator: 'Exists' }],
            containers: [
              {
                name: 'netpol',
                image: 'podpath/netpol',
                args: ['--node-name=$(NODE_NAME)'],
                env: [
                  { name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } },
                  { name: 'KUBERNETES_SERVICE_HOST', value: o.apiHost },
                  { name: 'KUBERNETES_SERVICE_PORT', value: String(o.apiPort) },
                ],
                securityContext: { privileged: true },
              },
            ],
          },
        },
      },
    },
  ] as KubeObject[];
}

export const flannelName = 'kube-flannel-ds';
export const flannelLabels = { app: 'flannel', 'k8s-app': 'flannel', tier: 'node' };
const flannelConfigDir = '/etc/kube-flannel';

/**
 * The node's network daemon as flannel deploys itself (kube-flannel.yml, in kube-system as
 * kubeadm-era clusters had it): the ConfigMap kube-flannel-cfg (net-conf.json: the pod network
 * and the backend; cni-conf.json: the CNI configuration flannel's install step copies to the
 * node), the ServiceAccount flannel and the DaemonSet kube-flannel-ds — host network,
 * privileged, every taint tolerated, `flanneld --ip-masq --kube-subnet-mgr` on each node. Like
 * the NetworkPolicy agent it reaches the API server at its address, not through the
 * `kubernetes` Service (kube-proxy may not have programmed it yet).
 */
export function flannelAddon(o: { apiHost: string; apiPort: number; network: string; backend: 'host-gw' | 'vxlan' }): KubeObject[] {
  const cniConf = {
    name: 'cbr0',
    cniVersion: '0.3.1',
    plugins: [
      { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'flannel', namespace: 'kube-system' } },
    // kube-flannel.yml's ClusterRole flannel, but for patching the Node itself: podpath's
    // flanneld writes its annotations with a merge patch of the Node, not of nodes/status.
    ...clusterRoleFor('flannel', { namespace: 'kube-system', name: 'flannel' }, [
      { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['patch'] },
    ]),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-flannel-cfg', namespace: 'kube-system', labels: { app: 'flannel', tier: 'node' } },
      data: { 'cni-conf.json': `${JSON.stringify(cniConf, null, 2)}\n`, 'net-conf.json': netConfJSON(o.network, o.backend) },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: flannelName, namespace: 'kube-system', labels: flannelLabels },
      spec: {
        selector: { matchLabels: { app: 'flannel' } },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
        template: {
          metadata: { labels: flannelLabels },
          spec: {
            hostNetwork: true,
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            priorityClassName: 'system-node-critical',
            serviceAccountName: 'flannel',
            tolerations: [{ effect: 'NoSchedule', operator: 'Exists' }],
            containers: [
              {
                name: 'kube-flannel',
                image: 'podpath/flannel',
                command: ['/opt/bin/flanneld'],
                args: ['--ip-masq', '--kube-subnet-mgr'],
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
                  { name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } },
                  { name: 'KUBERNETES_SERVICE_HOST', value: o.apiHost },
                  { name: 'KUBERNETES_SERVICE_PORT', value: String(o.apiPort) },
                ],
                securityContext: { privileged: true },
                volumeMounts: [{ name: 'flannel-cfg', mountPath: flannelConfigDir }],
              },
            ],
            volumes: [{ name: 'flannel-cfg', configMap: { name: 'kube-flannel-cfg', defaultMode: 420 } }],
          },
        },
      },
    },
  ] as KubeObject[];
}

/**
 * The node agents' LoadBalancer announcer (MetalLB's speaker in layer-2 mode) watches Services,
 * EndpointSlices and every Node; the Node authorizer lets a node read only its own Node, so the
 * lab grants the announcer's reads to the group system:nodes, as MetalLB's manifest grants them
 * to its speaker's service account.
 */
export function announcerRBAC(): KubeObject[] {
  const name = 'podpath:loadbalancer-announcer';
  return [
    { apiVersion: rbacV1, kind: 'ClusterRole', metadata: { name }, rules: [{ apiGroups: [''], resources: ['nodes', 'services'], verbs: ['get', 'list', 'watch'] }, { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] }] },
    { apiVersion: rbacV1, kind: 'ClusterRoleBinding', metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:nodes' }] },
  ] as KubeObject[];
}

/**
 * The lab resolver publishes Ingress hosts and Services' hostname annotations as external-dns
 * does, so its user gets what external-dns's ClusterRole gives it: reads of Services, Endpoints,
 * Pods, Nodes, Namespaces, Ingresses and the Gateway API's routes, nothing else.
 */
export function resolverRBAC(user: string): KubeObject[] {
  const name = user;
  const read = ['get', 'list', 'watch'];
  return [
    {
      apiVersion: rbacV1,
      kind: 'ClusterRole',
      metadata: { name },
      rules: [
        { apiGroups: [''], resources: ['services', 'endpoints', 'pods', 'nodes', 'namespaces'], verbs: read },
        { apiGroups: ['extensions', 'networking.k8s.io'], resources: ['ingresses'], verbs: read },
        { apiGroups: ['gateway.networking.k8s.io'], resources: ['gateways', 'httproutes', 'grpcroutes', 'tlsroutes', 'tcproutes', 'udproutes'], verbs: read },
      ],
    },
    { apiVersion: rbacV1, kind: 'ClusterRoleBinding', metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: user }] },
  ] as KubeObject[];
}

export const gatewayNamespace = 'podpath-gateway';
export const gatewayControllerName = 'podpath-gateway';
/** The lab's GatewayClass and the controllerName its controller answers to (domain-prefixed, as the spec asks). */
export const gatewayClassName = 'podpath';
export const gatewayController = 'podpath.dev/gateway-controller';
/** The GatewayClass `podpath`, served by the lab's Gateway controller. */
export function gatewayClass(): KubeObject {
  return { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: gatewayClassName }, spec: { controllerName: gatewayController, description: 'nginx in namespace podpath-gateway (podpath gateway-controller)' } } as KubeObject;
}

/**
 * The Gateway controller: namespace podpath-gateway, the Deployment podpath-gateway running the
 * controller and its nginx. Each Gateway of the class `podpath` gets from it a LoadBalancer Service
 * of its own (GATEWAY-podpath in the Gateway's namespace, owned by the Gateway; Local traffic
 * policy, so nginx sees the client's address) whose endpoints are these pods, as NGINX Gateway
 * Fabric and Envoy Gateway provision one per Gateway.
 */
export function gatewayAddon(): KubeObject[] {
  const labels = { 'app.kubernetes.io/name': gatewayControllerName, 'app.kubernetes.io/component': 'controller' };
  const meta = (name: string) => ({ name, namespace: gatewayNamespace, labels });
  const selector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: gatewayNamespace, labels: { 'app.kubernetes.io/name': gatewayControllerName } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(gatewayControllerName) },
    ...clusterRoleFor(
      gatewayControllerName,
      { namespace: gatewayNamespace, name: gatewayControllerName },
      [
        { apiGroups: [''], resources: ['secrets', 'namespaces', 'pods'], verbs: ['get', 'list', 'watch'] },
        // each Gateway's Service and its EndpointSlice
        { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
        { apiGroups: ['gateway.networking.k8s.io'], resources: ['gatewayclasses', 'gateways', 'httproutes', 'referencegrants'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['gateway.networking.k8s.io'], resources: ['gatewayclasses/status', 'gateways/status', 'httproutes/status'], verbs: ['update', 'patch'] },
      ],
      labels,
    ),
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(gatewayControllerName),
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: gatewayControllerName,
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: 'controller',
                image: 'podpath/gateway-controller',
                args: [`--data-plane-selector=${selector}`, `--controller-name=${gatewayController}`],
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ],
                ports: [{ name: 'metrics', containerPort: 10254, protocol: 'TCP' }],
                readinessProbe: { httpGet: { path: '/healthz', port: 10254, scheme: 'HTTP' }, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 3 },
              },
            ],
          },
        },
      },
    },
  ] as KubeObject[];
}

export const calicoName = 'calico-node';
export const calicoLabels = { 'k8s-app': 'calico-node' };
/** Where calico-node's container finds BIRD's directory (a hostPath: the lab's, one subdirectory per node). */
export const calicoBirdMount = '/var/run/calico/bird';

/**
 * The node's BGP daemon as Calico deploys itself (calico.yaml, BGP mode): the ServiceAccount
 * calico-node and the DaemonSet calico-node — host network, privileged, every taint tolerated —
 * whose pods run a real BIRD in their node's namespace, configured from the Nodes. BIRD's
 * configuration and control socket live in `birdDir` on the host (`podpath ssh NODE -- birdc
 * show protocols` finds them there), one subdirectory per node. Like flannel's it reaches the
 * API server at its address.
 */
export function calicoAddon(o: { apiHost: string; apiPort: number; network: string; birdDir: string; routeReflector: boolean; holdSeconds: number; keepaliveSeconds: number }): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: calicoName, namespace: 'kube-system' } },
    ...clusterRoleFor(calicoName, { namespace: 'kube-system', name: calicoName }, [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }]),
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: calicoName, namespace: 'kube-system', labels: calicoLabels },
      spec: {
        selector: { matchLabels: calicoLabels },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels: calicoLabels },
          spec: {
            hostNetwork: true,
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            priorityClassName: 'system-node-critical',
            serviceAccountName: calicoName,
            tolerations: [{ effect: 'NoSchedule', operator: 'Exists' }, { key: 'CriticalAddonsOnly', operator: 'Exists' }, { effect: 'NoExecute', operator: 'Exists' }],
            containers: [
              {
                name: 'calico-node',
                image: 'podpath/calico-node',
                args: ['--ip-masq', `--cluster-cidr=${o.network}`, `--bird-dir=${calicoBirdMount}`, `--hold-time=${o.holdSeconds}`, `--keepalive-time=${o.keepaliveSeconds}`, ...(o.routeReflector ? ['--route-reflector'] : [])],
                env: [
                  { name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } },
                  { name: 'CALICO_NETWORKING_BACKEND', value: 'bird' },
                  { name: 'CALICO_IPV4POOL_CIDR', value: o.network },
                  { name: 'KUBERNETES_SERVICE_HOST', value: o.apiHost },
                  { name: 'KUBERNETES_SERVICE_PORT', value: String(o.apiPort) },
                ],
                securityContext: { privileged: true },
                volumeMounts: [{ name: 'var-run-calico-bird', mountPath: calicoBirdMount }],
              },
            ],
            volumes: [{ name: 'var-run-calico-bird', hostPath: { path: o.birdDir, type: 'DirectoryOrCreate' } }],
          },
        },
      },
    },
  ] as KubeObject[];
}
