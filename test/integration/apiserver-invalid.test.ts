// Bad input: invalid manifests for every validated field get a 4xx Status naming the field
// with upstream's message; malformed bodies get 400; nothing is stored on a rejection.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request, startApiServer, type TestApiServer } from '../helpers/apiserver.ts';

interface Case {
  what: string;
  path: string;
  obj: Record<string, any>;
  code: number;
  message: string;
}

const svcPath = '/api/v1/namespaces/default/services';
const podPath = '/api/v1/namespaces/default/pods';
const depPath = '/apis/apps/v1/namespaces/default/deployments';
const slicePath = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';
const ingPath = '/apis/networking.k8s.io/v1/namespaces/default/ingresses';
const icPath = '/apis/networking.k8s.io/v1/ingressclasses';
const npPath = '/apis/networking.k8s.io/v1/namespaces/default/networkpolicies';
const cmPath = '/api/v1/namespaces/default/configmaps';
const secretPath = '/api/v1/namespaces/default/secrets';
const leasePath = '/apis/coordination.k8s.io/v1/namespaces/default/leases';

const svc = (name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, ...meta }, spec });
const pod = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec });
const ctr = (extra: Record<string, unknown> = {}) => ({ name: 'c', image: 'nginx', ...extra });
const dep = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: { selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'x' } }, spec: { containers: [ctr()] } }, ...spec },
});
const slice = (name: string, body: Record<string, unknown>) => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name }, addressType: 'IPv4', endpoints: [], ...body });
const ing = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name }, spec });
const rule = (path: Record<string, unknown>, host?: string) => ({ ...(host ? { host } : {}), http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } }, ...path }] } });
const np = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name }, spec: { podSelector: {}, ...spec } });

const dns1035 =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const dns1123Label =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const labelValue =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const portRange = 'must be between 1 and 65535, inclusive';

const cases: Case[] = [
  // Service
  { what: 'service name', path: svcPath, obj: svc('1svc', { ports: [{ port: 80 }] }), code: 422, message: `Service "1svc" is invalid: metadata.name: Invalid value: "1svc": ${dns1035}` },
  { what: 'service ports required', path: svcPath, obj: svc('s1', {}), code: 422, message: 'Service "s1" is invalid: spec.ports: Required value' },
  { what: 'service port range', path: svcPath, obj: svc('s2', { ports: [{ port: 0 }] }), code: 422, message: `Service "s2" is invalid: [spec.ports[0].port: Invalid value: 0: ${portRange}, spec.ports[0].targetPort: Invalid value: 0: ${portRange}]` },
  { what: 'service protocol', path: svcPath, obj: svc('s3', { ports: [{ port: 80, protocol: 'HTTP' }] }), code: 422, message: 'Service "s3" is invalid: spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"' },
  {
    what: 'service type',
    path: svcPath,
    obj: svc('s4', { type: 'Foo', ports: [{ port: 80 }] }),
    code: 422,
    message: 'Service "s4" is invalid: spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
  },
  {
    what: 'service port names required when several',
    path: svcPath,
    obj: svc('s5', { ports: [{ port: 80 }, { port: 81 }] }),
    code: 422,
    message: 'Service "s5" is invalid: [spec.ports[0].name: Required value, spec.ports[1].name: Required value]',
  },
  {
    what: 'service nodePort on ClusterIP',
    path: svcPath,
    obj: svc('s6', { ports: [{ port: 80, nodePort: 30001 }] }),
    code: 422,
    message: "Service \"s6\" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
  },
  {
    what: 'service nodePort out of range',
    path: svcPath,
    obj: svc('s7', { type: 'NodePort', ports: [{ port: 80, nodePort: 40000 }] }),
    code: 422,
    message: 'Service "s7" is invalid: spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid ports is 30000-32767',
  },
  {
    what: 'service nodePort taken',
    path: svcPath,
    obj: svc('s8', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }),
    code: 422,
    message: 'Service "s8" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated',
  },
  {
    what: 'service clusterIP taken',
    path: svcPath,
    obj: svc('s9', { clusterIP: '10.96.0.1', ports: [{ port: 80 }] }),
    code: 422,
    message: 'Service "s9" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: provided IP is already allocated',
  },
  {
    what: 'service clusterIP outside the range',
    path: svcPath,
    obj: svc('s10', { clusterIP: '10.0.0.5', ports: [{ port: 80 }] }),
    code: 422,
    message: 'Service "s10" is invalid: spec.clusterIPs: Invalid value: []string{"10.0.0.5"}: failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/12',
  },
  {
    what: 'service clusterIP not an IP',
    path: svcPath,
    obj: svc('s11', { clusterIP: 'abc', ports: [{ port: 80 }] }),
    code: 422,
    message: 'Service "s11" is invalid: spec.clusterIPs[0]: Invalid value: "abc": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  },
  {
    what: 'service sessionAffinity',
    path: svcPath,
    obj: svc('s12', { sessionAffinity: 'Sticky', ports: [{ port: 80 }] }),
    code: 422,
    message: 'Service "s12" is invalid: spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"',
  },
  {
    what: 'service affinity timeout',
    path: svcPath,
    obj: svc('s13', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } }, ports: [{ port: 80 }] }),
    code: 422,
    message: 'Service "s13" is invalid: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400',
  },
  {
    what: 'service externalTrafficPolicy on ClusterIP',
    path: svcPath,
    obj: svc('s14', { externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }),
    code: 422,
    message: 'Service "s14" is invalid: spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services',
  },
  { what: 'service externalName required', path: svcPath, obj: svc('s15', { type: 'ExternalName' }), code: 422, message: 'Service "s15" is invalid: spec.externalName: Required value' },
  {
    what: 'service selector value',
    path: svcPath,
    obj: svc('s16', { selector: { app: 'bad value' }, ports: [{ port: 80 }] }),
    code: 422,
    message: `Service "s16" is invalid: spec.selector: Invalid value: "bad value": ${labelValue}`,
  },
  {
    what: 'service targetPort name',
    path: svcPath,
    obj: svc('s17', { ports: [{ port: 80, targetPort: 'HTTP_PORT' }] }),
    code: 422,
    message:
      'Service "s17" is invalid: [spec.ports[0].targetPort: Invalid value: "HTTP_PORT": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-), spec.ports[0].targetPort: Invalid value: "HTTP_PORT": must contain at least one letter (a-z)]',
  },
  {
    what: 'service loadBalancerSourceRanges on NodePort',
    path: svcPath,
    obj: svc('s18', { type: 'NodePort', loadBalancerSourceRanges: ['10.0.0.0/8'], ports: [{ port: 80 }] }),
    code: 422,
    message: "Service \"s18\" is invalid: spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
  },
  // Pod
  { what: 'pod containers required', path: podPath, obj: pod('p1', { containers: [] }), code: 422, message: 'Pod "p1" is invalid: spec.containers: Required value' },
  { what: 'pod image required', path: podPath, obj: pod('p2', { containers: [{ name: 'c' }] }), code: 422, message: 'Pod "p2" is invalid: spec.containers[0].image: Required value' },
  { what: 'pod container name', path: podPath, obj: pod('p3', { containers: [ctr({ name: 'Web_1' })] }), code: 422, message: `Pod "p3" is invalid: spec.containers[0].name: Invalid value: "Web_1": ${dns1123Label}` },
  {
    what: 'pod containerPort',
    path: podPath,
    obj: pod('p4', { containers: [ctr({ ports: [{ containerPort: 70000 }] })] }),
    code: 422,
    message: `Pod "p4" is invalid: spec.containers[0].ports[0].containerPort: Invalid value: 70000: ${portRange}`,
  },
  {
    what: 'pod restartPolicy',
    path: podPath,
    obj: pod('p5', { restartPolicy: 'Sometimes', containers: [ctr()] }),
    code: 422,
    message: 'Pod "p5" is invalid: spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
  },
  {
    what: 'pod probe handler',
    path: podPath,
    obj: pod('p6', { containers: [ctr({ readinessProbe: { periodSeconds: 5 } })] }),
    code: 422,
    message: 'Pod "p6" is invalid: spec.containers[0].readinessProbe: Required value: must specify a handler type',
  },
  {
    what: 'pod dnsConfig with dnsPolicy None',
    path: podPath,
    obj: pod('p7', { dnsPolicy: 'None', containers: [ctr()] }),
    code: 422,
    message: 'Pod "p7" is invalid: spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None',
  },
  { what: 'pod duplicate container', path: podPath, obj: pod('p8', { containers: [ctr(), ctr()] }), code: 422, message: 'Pod "p8" is invalid: spec.containers[1].name: Duplicate value: "c"' },
  // Deployment
  {
    what: 'deployment selector/template mismatch',
    path: depPath,
    obj: dep('d1', { template: { metadata: { labels: { app: 'y' } }, spec: { containers: [ctr()] } } }),
    code: 422,
    message: 'Deployment.apps "d1" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"y"}: `selector` does not match template `labels`',
  },
  { what: 'deployment replicas', path: depPath, obj: dep('d2', { replicas: -1 }), code: 422, message: 'Deployment.apps "d2" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0' },
  {
    what: 'deployment rolling update zero',
    path: depPath,
    obj: dep('d3', { strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 0 } } }),
    code: 422,
    message: 'Deployment.apps "d3" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0',
  },
  {
    what: 'deployment template restartPolicy',
    path: depPath,
    obj: dep('d4', { template: { metadata: { labels: { app: 'x' } }, spec: { restartPolicy: 'Never', containers: [ctr()] } } }),
    code: 422,
    message: 'Deployment.apps "d4" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
  },
  {
    what: 'deployment selector required',
    path: depPath,
    obj: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd5' }, spec: { template: { metadata: { labels: { app: 'x' } }, spec: { containers: [ctr()] } } } },
    code: 422,
    message: 'Deployment.apps "d5" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`]',
  },
  {
    what: 'deployment maxSurge percent',
    path: depPath,
    obj: dep('d6', { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 'ten', maxUnavailable: 1 } } }),
    code: 422,
    message:
      "Deployment.apps \"d6\" is invalid: spec.strategy.rollingUpdate.maxSurge: Invalid value: ten: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
  },
  // EndpointSlice
  {
    what: 'endpointslice addressType',
    path: slicePath,
    obj: slice('e1', { addressType: 'IPv5' }),
    code: 422,
    message: 'EndpointSlice.discovery.k8s.io "e1" is invalid: addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"',
  },
  {
    what: 'endpointslice address',
    path: slicePath,
    obj: slice('e2', { endpoints: [{ addresses: ['1.2.3'] }] }),
    code: 422,
    message: 'EndpointSlice.discovery.k8s.io "e2" is invalid: endpoints[0].addresses[0]: Invalid value: "1.2.3": must be a valid IPv4 address',
  },
  {
    what: 'endpointslice loopback',
    path: slicePath,
    obj: slice('e3', { endpoints: [{ addresses: ['127.0.0.1'] }] }),
    code: 422,
    message: 'EndpointSlice.discovery.k8s.io "e3" is invalid: endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
  },
  {
    what: 'endpointslice port protocol',
    path: slicePath,
    obj: slice('e4', { ports: [{ port: 80, protocol: 'ICMP' }] }),
    code: 422,
    message: 'EndpointSlice.discovery.k8s.io "e4" is invalid: ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
  },
  // Ingress
  {
    what: 'ingress pathType required',
    path: ingPath,
    obj: ing('i1', { rules: [rule({ pathType: undefined })] }),
    code: 422,
    message: 'Ingress.networking.k8s.io "i1" is invalid: spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified',
  },
  {
    what: 'ingress absolute path',
    path: ingPath,
    obj: ing('i2', { rules: [rule({ path: 'foo' })] }),
    code: 422,
    message: 'Ingress.networking.k8s.io "i2" is invalid: spec.rules[0].http.paths[0].path: Invalid value: "foo": must be an absolute path',
  },
  {
    what: 'ingress host is an IP',
    path: ingPath,
    obj: ing('i3', { rules: [rule({}, '1.2.3.4')] }),
    code: 422,
    message: 'Ingress.networking.k8s.io "i3" is invalid: spec.rules[0].host: Invalid value: "1.2.3.4": must be a DNS name, not an IP address',
  },
  {
    what: 'ingress backend port',
    path: ingPath,
    obj: ing('i4', { rules: [rule({ backend: { service: { name: 'web' } } })] }),
    code: 422,
    message: 'Ingress.networking.k8s.io "i4" is invalid: spec.rules[0].http.paths[0].backend: Required value: port name or number is required',
  },
  {
    what: 'ingress path sequence',
    path: ingPath,
    obj: ing('i5', { rules: [rule({ path: '/a//b' })] }),
    code: 422,
    message: "Ingress.networking.k8s.io \"i5\" is invalid: spec.rules[0].http.paths[0].path: Invalid value: \"/a//b\": must not contain '//'",
  },
  // IngressClass
  {
    what: 'ingressclass controller required',
    path: icPath,
    obj: { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'ic1' }, spec: {} },
    code: 422,
    message: 'IngressClass.networking.k8s.io "ic1" is invalid: spec.controller: Required value',
  },
  {
    what: 'ingressclass controller format',
    path: icPath,
    obj: { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'ic2' }, spec: { controller: 'nginx' } },
    code: 422,
    message: 'IngressClass.networking.k8s.io "ic2" is invalid: spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")',
  },
  {
    what: 'ingressclass parameters namespace',
    path: icPath,
    obj: { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'ic3' }, spec: { controller: 'acme.io/ing', parameters: { kind: 'Cfg', name: 'x', scope: 'Namespace' } } },
    code: 422,
    message: "IngressClass.networking.k8s.io \"ic3\" is invalid: spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'",
  },
  // NetworkPolicy
  {
    what: 'networkpolicy port',
    path: npPath,
    obj: np('n1', { ingress: [{ ports: [{ port: 0 }] }] }),
    code: 422,
    message: `NetworkPolicy.networking.k8s.io "n1" is invalid: spec.ingress[0].ports[0].port: Invalid value: 0: ${portRange}`,
  },
  {
    what: 'networkpolicy endPort with a named port',
    path: npPath,
    obj: np('n2', { ingress: [{ ports: [{ port: 'http', endPort: 90 }] }] }),
    code: 422,
    message: 'NetworkPolicy.networking.k8s.io "n2" is invalid: spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric',
  },
  {
    what: 'networkpolicy except subset',
    path: npPath,
    obj: np('n3', { ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/16'] } }] }] }),
    code: 422,
    message: 'NetworkPolicy.networking.k8s.io "n3" is invalid: spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/16": must be a strict subset of `cidr`',
  },
  {
    what: 'networkpolicy policyTypes',
    path: npPath,
    obj: np('n4', { policyTypes: ['Both'] }),
    code: 422,
    message: 'NetworkPolicy.networking.k8s.io "n4" is invalid: spec.policyTypes[0]: Unsupported value: "Both": supported values: "Ingress", "Egress"',
  },
  {
    what: 'networkpolicy protocol',
    path: npPath,
    obj: np('n5', { egress: [{ ports: [{ protocol: 'ICMP' }] }] }),
    code: 422,
    message: 'NetworkPolicy.networking.k8s.io "n5" is invalid: spec.egress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
  },
  {
    what: 'networkpolicy peer with ipBlock and selector',
    path: npPath,
    obj: np('n6', { ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }),
    code: 422,
    message: 'NetworkPolicy.networking.k8s.io "n6" is invalid: spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer',
  },
  // metadata and decoding
  {
    what: 'label value',
    path: '/api/v1/namespaces/default/configmaps',
    obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm1', labels: { tier: '-front' } } },
    code: 422,
    message: `ConfigMap "cm1" is invalid: metadata.labels: Invalid value: "-front": ${labelValue}`,
  },
  {
    what: 'configmap key',
    path: '/api/v1/namespaces/default/configmaps',
    obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm2' }, data: { 'a b': 'x' } },
    code: 422,
    message:
      "ConfigMap \"cm2\" is invalid: data: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
  },
  { what: 'missing namespace', path: '/api/v1/namespaces/nope/configmaps', obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm3' } }, code: 404, message: 'namespaces "nope" not found' },
  {
    what: 'type mismatch',
    path: svcPath,
    obj: svc('s19', { ports: [{ port: 'eighty' }] }),
    code: 400,
    message: 'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32',
  },
  {
    what: 'unknown field (strict)',
    path: svcPath,
    obj: svc('s20', { ports: [{ port: 80, portt: 81 }] }),
    code: 400,
    message: 'Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.ports[0].portt"',
  },
  // Size limits of data (core.MaxSecretSize) and the positive fields of a Lease.
  {
    what: 'configmap over 1 MiB of data',
    path: cmPath,
    obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-big' }, data: { a: 'x'.repeat(600_000) }, binaryData: { b: Buffer.alloc(500_000).toString('base64') } },
    code: 422,
    message: 'ConfigMap "cm-big" is invalid: []: Too long: must have at most 1048576 bytes',
  },
  {
    what: 'secret over 1 MiB of data',
    path: secretPath,
    obj: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'secret-big' }, data: { a: Buffer.alloc(1024 * 1024 + 1).toString('base64') } },
    code: 422,
    message: 'Secret "secret-big" is invalid: data: Too long: must have at most 1048576 bytes',
  },
  {
    what: 'secret over 1 MiB of stringData',
    path: secretPath,
    obj: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'secret-big2' }, stringData: { a: 'x'.repeat(1024 * 1024 + 1) } },
    code: 422,
    message: 'Secret "secret-big2" is invalid: data: Too long: must have at most 1048576 bytes',
  },
  {
    what: 'lease duration not positive',
    path: leasePath,
    obj: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'lease-neg' }, spec: { leaseDurationSeconds: -5, leaseTransitions: -1 } },
    code: 422,
    message: 'Lease.coordination.k8s.io "lease-neg" is invalid: [spec.leaseDurationSeconds: Invalid value: -5: must be greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]',
  },
];

describe('invalid input to podpath apiserver', () => {
  let s: TestApiServer;
  before(async () => {
    s = await startApiServer();
    const taken = svc('taken', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] });
    const r = await request(s, 'POST', svcPath, JSON.stringify(taken));
    assert.equal(r.status, 201, r.body);
  });
  after(async () => {
    await s?.dispose();
  });

  for (const c of cases) {
    it(`rejects ${c.what}`, async () => {
      const r = await request(s, 'POST', `${c.path}?fieldValidation=Strict`, JSON.stringify(c.obj));
      const st = r.json();
      assert.equal(r.status, c.code, r.body);
      assert.equal(st.kind, 'Status');
      assert.equal(st.code, c.code);
      assert.equal(st.message, c.message);
      if (c.code === 422) {
        for (const cause of st.details.causes) assert.ok(c.message.includes(cause.field), `cause field ${cause.field} named in the message`);
      }
      const name = c.obj.metadata.name;
      const got = await request(s, 'GET', `${c.path}/${name}`);
      assert.equal(got.status, 404, `${name} was not stored`);
    });
  }

  it('stored nothing for any rejected object, under any name', async () => {
    const before = new Map<string, string[]>();
    for (const p of new Set(cases.map((c) => c.path))) {
      const r = await request(s, 'GET', p);
      if (r.status !== 200) continue;
      before.set(p, (r.json().items as { metadata: { name: string } }[]).map((o) => o.metadata.name).sort());
    }
    for (const c of cases) await request(s, 'POST', `${c.path}?fieldValidation=Strict`, JSON.stringify(c.obj));
    for (const [p, names] of before) {
      const r = await request(s, 'GET', p);
      assert.deepEqual((r.json().items as { metadata: { name: string } }[]).map((o) => o.metadata.name).sort(), names, p);
    }
    assert.deepEqual(before.get(svcPath), ['kubernetes', 'taken'], 'only the kubernetes Service and the one the test created are there');
  });

  it('rejects a lease update to a non-positive duration', async () => {
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'lease-upd' }, spec: { leaseDurationSeconds: 15 } };
    const c = await request(s, 'POST', leasePath, JSON.stringify(lease));
    assert.equal(c.status, 201, c.body);
    const u = await request(s, 'PUT', `${leasePath}/lease-upd`, JSON.stringify({ ...lease, spec: { leaseDurationSeconds: 0 } }));
    assert.equal(u.status, 422, u.body);
    assert.equal(u.json().message, 'Lease.coordination.k8s.io "lease-upd" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0');
  });

  it('answers malformed JSON and YAML with 400', async () => {
    const j = await request(s, 'POST', svcPath, '{"apiVersion": "v1", "kind": ');
    assert.equal(j.status, 400);
    assert.equal(j.json().reason, 'BadRequest');
    const y = await request(s, 'POST', svcPath, 'apiVersion: v1\nkind: Service\nmetadata: {name: x\n', { contentType: 'application/yaml' });
    assert.equal(y.status, 400);
    assert.match(y.json().message, /^error converting YAML to JSON/);
  });

  it('answers 401 without the token, 404 for unknown paths and 415 for unknown patch types', async () => {
    const u = await request(s, 'GET', '/api/v1/namespaces', undefined, { auth: false });
    assert.equal(u.status, 401);
    assert.deepEqual(u.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    assert.equal((await request(s, 'GET', '/healthz', undefined, { auth: false })).status, 200);
    assert.equal((await request(s, 'GET', '/api/v1/widgets')).status, 404);
    const p = await request(s, 'PATCH', `${svcPath}/taken`, '{}', { contentType: 'text/plain' });
    assert.equal(p.status, 415);
  });

  it('answers a stale update with 409 Conflict and a duplicate create with 409 AlreadyExists', async () => {
    const cur = (await request(s, 'GET', `${svcPath}/taken`)).json();
    const stale = { ...cur, metadata: { ...cur.metadata, resourceVersion: '1' } };
    const c = await request(s, 'PUT', `${svcPath}/taken`, JSON.stringify(stale));
    assert.equal(c.status, 409);
    assert.equal(c.json().message, 'Operation cannot be fulfilled on services "taken": the object has been modified; please apply your changes to the latest version and try again');
    const dup = await request(s, 'POST', svcPath, JSON.stringify(svc('taken', { type: 'NodePort', ports: [{ port: 80 }] })));
    assert.equal(dup.status, 409);
    assert.equal(dup.json().reason, 'AlreadyExists');
    assert.equal(dup.json().message, 'services "taken" already exists');
  });
});
