// The Services and EndpointSlices the kube-proxy benchmarks use: n Services in namespace
// "bench" (every tenth a NodePort), each with one EndpointSlice of 10 ready endpoints.
import type { EndpointSlice, Service } from '../src/api/types.ts';

export function benchService(i: number): Service {
  const nodePort = i % 10 === 0 ? { nodePort: 30000 + ((i / 10) % 2768) } : {};
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'bench', name: `svc-${i}` }, spec: { type: nodePort.nodePort ? 'NodePort' : 'ClusterIP', clusterIP: `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, ports: [{ name: 'http', port: 80, ...nodePort }] } } as unknown as Service;
}

export function benchSlice(i: number, endpoints: number): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: 'bench', name: `svc-${i}-x`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: endpoints }, (_, j) => ({ addresses: [`10.${244 + (j >> 2)}.${(i >> 6) & 255}.${((i & 63) << 2) + (j & 3)}`], conditions: { ready: true }, nodeName: 'n1' })),
  } as unknown as EndpointSlice;
}

export function benchState(n: number): { services: Service[]; slices: EndpointSlice[] } {
  return { services: Array.from({ length: n }, (_, i) => benchService(i)), slices: Array.from({ length: n }, (_, i) => benchSlice(i, 10)) };
}
