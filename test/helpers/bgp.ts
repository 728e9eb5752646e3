// Helpers of the bgp backend's lab tests: pods pinned to nodes, the Nodes' addresses and pod
// CIDRs, a command in a node shell, whether a node's kernel holds a route BIRD installed, and a
// request from one pod to another.
import { eventually } from './apiserver.ts';
import type { TestLab } from './lab.ts';

export const podsYaml = (nodes: string[]) =>
  nodes
    .map(
      (n, i) => `apiVersion: v1
kind: Pod
metadata: {name: web${i + 1}, labels: {app: web${i + 1}}}
spec:
  nodeName: ${n}
  containers:
  - {name: web, image: podpath/echo, ports: [{containerPort: 8080}]}
`,
    )
    .join('---\n');

export interface PodInfo {
  name: string;
  ip: string;
  node: string;
}

export async function runningPods(lab: TestLab, count: number): Promise<PodInfo[]> {
  return (await eventually((): PodInfo[] | undefined => {
    const items = (lab.get('/api/v1/namespaces/default/pods') as { items: any[] }).items.filter((p) => p.status?.podIP && p.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
    return items.length === count ? items.map((p) => ({ name: p.metadata.name, ip: p.status.podIP, node: p.spec.nodeName })) : undefined;
  }, 60_000, `${count} ready pods`))!;
}

export function nodesOf(lab: TestLab): { name: string; ip: string; podCIDR: string }[] {
  return (lab.get('/api/v1/nodes') as { items: any[] }).items.map((n) => ({ name: n.metadata.name, ip: n.status.addresses.find((a: any) => a.type === 'InternalIP').address, podCIDR: n.spec.podCIDR }));
}

export const ssh = (lab: TestLab, node: string, cmd: string) => lab.podpath(['ssh', node, '--', cmd]);

/** Whether `node`'s kernel routes `cidr` via `ip` as BIRD installs it. */
export const birdRoute = (lab: TestLab, node: string, cidr: string, ip: string) => new RegExp(`^${cidr.replace(/\./g, '\\.')} via ${ip.replace(/\./g, '\\.')} dev eth0 proto bird`, 'm').test(ssh(lab, node, 'ip route').stdout);

export const peer = (from: PodInfo, to: PodInfo, lab: TestLab) => lab.curl(`pod/default/${from.name}`, `http://${to.ip}:8080/api/v1/peer`, ['--max-time', '3']);

