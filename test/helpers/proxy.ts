// ServicePorts, endpoints and a kube-ipvs0 stand-in for the userspace and IPVS mode tests.
import type { DummyShell } from '../../src/proxy/dummydevice.ts';
import type { ServicePortInfo } from '../../src/proxy/model.ts';

export function sp(o: Partial<ServicePortInfo> & Pick<ServicePortInfo, 'clusterIP' | 'port' | 'endpoints'>): ServicePortInfo {
  return { name: 'default/svc', namespace: 'default', serviceName: 'svc', portName: '', protocol: 'TCP', nodePort: 0, externalIPs: [], loadBalancerVIPs: [], loadBalancerSourceRanges: [], externalPolicyLocal: false, internalPolicyLocal: false, stickyMaxAgeSeconds: 0, healthCheckNodePort: 0, topology: { nodeName: 'n' }, ...o };
}
export const ep = (ip: string, port: number, isLocal = true) => ({ ip, port, key: `${ip}:${port}`, ready: true, serving: true, terminating: false, isLocal, zoneHints: [], nodeHints: [] });

export const fakeDummy = (): DummyShell & { addrs: Set<string> } => {
  const addrs = new Set<string>();
  return { addrs, ensure() {}, exists: () => true, list: () => [...addrs], nodeAddresses: () => ['192.168.49.2'], add: (ip) => void addrs.add(ip), del: (ip) => void addrs.delete(ip) };
};
