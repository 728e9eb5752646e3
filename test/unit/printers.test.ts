// Server-side Table cells for every kind, compared with a golden file written from upstream's
// printers (pkg/printers/internalversion). PODPATH_UPDATE_GOLDEN=1 rewrites the file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { humanDuration } from '../../src/api/duration.ts';
import { printerFor } from '../../src/api/printers.ts';
import type { KubeObject } from '../../src/api/types.ts';
import { repoRoot } from '../helpers/apiserver.ts';

const now = Date.parse('2026-01-10T12:00:00Z');
const created = (secondsAgo: number) => new Date(now - secondsAgo * 1000).toISOString().replace('.000Z', 'Z');
const meta = (name: string, age: number, extra: Record<string, unknown> = {}) => ({ name, namespace: 'default', creationTimestamp: created(age), ...extra });

const objects: KubeObject[] = [
  { kind: 'Service', metadata: meta('api-service', 3600), spec: { type: 'NodePort', clusterIPs: ['10.96.123.45'], selector: { app: 'api' }, ports: [{ port: 8080, nodePort: 30080, protocol: 'TCP' }] } },
  { kind: 'Service', metadata: meta('headless', 30), spec: { type: 'ClusterIP', clusterIPs: ['None'], ports: [] } },
  {
    kind: 'Service',
    metadata: meta('lb', 90000),
    spec: { type: 'LoadBalancer', clusterIPs: ['10.96.0.20'], externalIPs: ['1.2.3.4'], ports: [{ port: 80, nodePort: 31000, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }] },
    status: { loadBalancer: { ingress: [{ ip: '192.168.49.200' }] } },
  },
  { kind: 'Service', metadata: meta('pending-lb', 10), spec: { type: 'LoadBalancer', clusterIPs: ['10.96.0.21'], ports: [{ port: 80, nodePort: 31001, protocol: 'TCP' }] } },
  { kind: 'Service', metadata: meta('ext', 700), spec: { type: 'ExternalName', externalName: 'example.com' } },
  {
    kind: 'Pod',
    metadata: meta('api-server-xxx', 330),
    spec: { nodeName: 'minikube', containers: [{ name: 'api' }] },
    status: { phase: 'Running', podIPs: [{ ip: '10.244.0.5' }], conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'api', ready: true, restartCount: 0, state: { running: {} } }] },
  },
  {
    kind: 'Pod',
    metadata: meta('crashy', 4000),
    spec: { nodeName: 'minikube', containers: [{ name: 'a' }, { name: 'b' }] },
    status: {
      phase: 'Running',
      containerStatuses: [
        { name: 'a', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, finishedAt: created(120) } } },
        { name: 'b', ready: true, restartCount: 0, state: { running: {} } },
      ],
    },
  },
  { kind: 'Pod', metadata: meta('pending', 5), spec: { containers: [{ name: 'a' }] }, status: { phase: 'Pending' } },
  { kind: 'Pod', metadata: meta('going', 50, { deletionTimestamp: created(1) }), spec: { nodeName: 'n1', containers: [{ name: 'a' }] }, status: { phase: 'Running' } },
  { kind: 'Pod', metadata: meta('done', 50), spec: { containers: [{ name: 'a' }] }, status: { phase: 'Succeeded', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] } },
  {
    kind: 'Pod',
    metadata: meta('init', 5),
    spec: { initContainers: [{ name: 'i1' }, { name: 'i2' }], containers: [{ name: 'a' }] },
    status: { phase: 'Pending', initContainerStatuses: [{ name: 'i1', ready: false, restartCount: 0, state: { terminated: { exitCode: 0 } } }, { name: 'i2', ready: false, restartCount: 0, state: { running: {} } }] },
  },
  { kind: 'Endpoints', metadata: meta('api-service', 60), subsets: [{ addresses: [{ ip: '10.244.0.5' }, { ip: '10.244.0.6' }], ports: [{ port: 8080 }] }] },
  { kind: 'Endpoints', metadata: meta('many', 60), subsets: [{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }, { ip: '10.0.0.4' }], ports: [{ port: 80 }, { port: 443 }] }] },
  { kind: 'Endpoints', metadata: meta('none', 60) },
  { kind: 'EndpointSlice', metadata: meta('api-service-abcde', 60), addressType: 'IPv4', endpoints: [{ addresses: ['10.244.0.5'] }, { addresses: ['10.244.0.6'] }], ports: [{ port: 8080, name: '' }] },
  { kind: 'EndpointSlice', metadata: meta('empty', 60), addressType: 'IPv4', endpoints: [] },
  {
    kind: 'Deployment',
    metadata: meta('api-server', 86400 * 3),
    spec: { replicas: 2, selector: { matchLabels: { app: 'api' } }, template: { spec: { containers: [{ name: 'api', image: 'podpath/echo' }, { name: 's', image: 'side:1' }] } } },
    status: { readyReplicas: 1, updatedReplicas: 2, availableReplicas: 1 },
  },
  {
    kind: 'ReplicaSet',
    metadata: meta('api-server-5d8f', 7200),
    spec: { replicas: 2, selector: { matchLabels: { app: 'api', 'pod-template-hash': '5d8f' } }, template: { spec: { containers: [{ name: 'api', image: 'podpath/echo' }] } } },
    status: { replicas: 2, readyReplicas: 2 },
  },
  {
    kind: 'DaemonSet',
    metadata: meta('kube-proxy', 86400),
    spec: {
      selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
      template: { spec: { nodeSelector: { 'kubernetes.io/os': 'linux' }, containers: [{ name: 'kube-proxy', image: 'podpath/kube-proxy' }] } },
    },
    status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 1, numberAvailable: 2 },
  },
  {
    kind: 'ControllerRevision',
    metadata: { ...meta('kube-proxy-7c9d8b6f4d', 86400), ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'kube-proxy', uid: 'u', controller: true }] },
    data: { spec: { template: { $patch: 'replace' } } },
    revision: 3,
  },
  { kind: 'ControllerRevision', metadata: { ...meta('orphan', 5), ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u' }] }, data: {}, revision: 0 },
  { kind: 'DaemonSet', metadata: meta('fresh', 5), spec: { selector: { matchLabels: { app: 'x' } }, template: { spec: { containers: [{ name: 'x', image: 'busybox' }] } } } },
  {
    kind: 'Node',
    metadata: { name: 'minikube', creationTimestamp: created(86400), labels: { 'node-role.kubernetes.io/control-plane': '' } },
    spec: { unschedulable: true },
    status: {
      conditions: [{ type: 'Ready', status: 'True' }],
      addresses: [{ type: 'InternalIP', address: '192.168.49.2' }],
      nodeInfo: { kubeletVersion: 'v1.33.0', osImage: 'Debian GNU/Linux 12', kernelVersion: '6.1.0', containerRuntimeVersion: 'podpath://0.1.0' },
    },
  },
  { kind: 'Node', metadata: { name: 'bare', creationTimestamp: created(1) } },
  { kind: 'Namespace', metadata: { name: 'default', creationTimestamp: created(120) }, status: { phase: 'Active' } },
  { kind: 'Secret', metadata: meta('s', 10), type: 'Opaque', data: { a: 'YQ==', b: 'Yg==' } },
  { kind: 'ConfigMap', metadata: meta('c', 10), data: { a: '1' }, binaryData: { b: 'Yg==' } },
  { kind: 'ServiceAccount', metadata: meta('default', 10) },
  {
    kind: 'Event',
    metadata: meta('api-server.1', 10),
    involvedObject: { kind: 'Deployment', name: 'api-server' },
    reason: 'ScalingReplicaSet',
    message: 'Scaled up replica set api-server-5d8f to 2 ',
    type: 'Normal',
    source: { component: 'deployment-controller' },
    firstTimestamp: created(300),
    lastTimestamp: created(60),
    count: 3,
  },
  {
    kind: 'Job',
    metadata: meta('pi', 300),
    spec: { completions: 3, parallelism: 1, selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u1' } }, template: { spec: { containers: [{ name: 'pi', image: 'perl:5.34.0' }] } } },
    status: { succeeded: 3, startTime: created(300), completionTime: created(235), conditions: [{ type: 'SuccessCriteriaMet', status: 'True' }, { type: 'Complete', status: 'True' }] },
  },
  { kind: 'Job', metadata: meta('running', 90), spec: { parallelism: 2, template: { spec: { containers: [{ name: 'w', image: 'busybox' }] } } }, status: { active: 2, succeeded: 0, startTime: created(80) } },
  { kind: 'Job', metadata: meta('new', 1), spec: { parallelism: 1, template: { spec: { containers: [{ name: 'w', image: 'busybox' }] } } } },
  {
    kind: 'Job',
    metadata: meta('broken', 700),
    spec: { completions: 1, template: { spec: { containers: [{ name: 'w', image: 'busybox' }] } } },
    status: { failed: 7, startTime: created(690), conditions: [{ type: 'FailureTarget', status: 'True' }, { type: 'Failed', status: 'True' }] },
  },
  { kind: 'Job', metadata: meta('held', 30), spec: { completions: 2, suspend: true, template: { spec: { containers: [{ name: 'w', image: 'busybox' }] } } }, status: { conditions: [{ type: 'Suspended', status: 'True' }] } },
  {
    kind: 'CronJob',
    metadata: meta('hello', 3600),
    spec: { schedule: '*/1 * * * *', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'hello', image: 'busybox:1.28' }] } } } } },
    status: { active: [{ name: 'hello-29000000' }], lastScheduleTime: created(45) },
  },
  { kind: 'CronJob', metadata: meta('nightly', 60), spec: { schedule: '0 3 * * *', timeZone: 'Europe/Paris', suspend: true, jobTemplate: { spec: { template: { spec: { containers: [{ name: 'b', image: 'backup' }] } } } } } },
  {
    kind: 'Ingress',
    metadata: meta('ing', 10),
    spec: { ingressClassName: 'nginx', rules: [{ host: 'a.example.com' }, { host: 'b.example.com' }, { host: 'c.example.com' }, { host: 'd.example.com' }], tls: [{ hosts: ['a.example.com'] }] },
    status: { loadBalancer: { ingress: [{ ip: '192.168.49.200' }] } },
  },
  { kind: 'Ingress', metadata: meta('catchall', 10), spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } } } },
  { kind: 'IngressClass', metadata: { name: 'nginx', creationTimestamp: created(10) }, spec: { controller: 'k8s.io/ingress-nginx', parameters: { apiGroup: 'k8s.example.com', kind: 'IngressParameters', name: 'external-lb' } } },
  { kind: 'NetworkPolicy', metadata: meta('deny', 10), spec: { podSelector: { matchLabels: { app: 'db' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }] } } },
  { kind: 'NetworkPolicy', metadata: meta('all', 10), spec: { podSelector: {} } },
];

function render(): string {
  const lines: string[] = [];
  for (const o of objects) {
    const p = printerFor(o.kind!);
    const row = p.row(o, now);
    lines.push(`${o.kind} ${p.columns.map((c) => `${c.name}${c.priority ? '*' : ''}`).join(' | ')}`);
    lines.push(`  ${row.cells.map((c) => JSON.stringify(c)).join(' | ')}`);
  }
  return lines.join('\n') + '\n';
}

describe('Table printers', () => {
  it('match the golden file', () => {
    const golden = path.join(repoRoot, 'test/golden/printers.txt');
    const got = render();
    if (process.env.PODPATH_UPDATE_GOLDEN) fs.writeFileSync(golden, got);
    assert.equal(got, fs.readFileSync(golden, 'utf8'));
  });

  it('age follows duration.HumanDuration', () => {
    const cases: [number, string][] = [
      [-1500, '0s'],
      [-3000, '<invalid>'],
      [0, '0s'],
      [119_000, '119s'],
      [120_000, '2m'],
      [200_000, '3m20s'],
      [600_000, '10m'],
      [3 * 3600_000 + 5 * 60_000, '3h5m'],
      [8 * 3600_000, '8h'],
      [50 * 3600_000, '2d2h'],
      [10 * 86400_000, '10d'],
      [(365 * 3 + 12) * 86400_000, '3y12d'],
      [365 * 9 * 86400_000, '9y'],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
  });
});
