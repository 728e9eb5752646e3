// `podpath proxy render`: what a full sync would apply on a node, from a file of Services and
// EndpointSlices, with no cluster and no root. Each mode's render (modes.ts) is the same pure
// function its live backend runs.
import { readStateFiles } from '../../api/state.ts';
import { familyOf } from '../../util/ip.ts';
import type { EndpointSlice, KubeObject, Node, Service } from '../../api/types.ts';
import { nodePortIPs, proxyModes, validateFlags, type ProxyFlags, type ProxyMode } from '../config.ts';
import { nodeZone, servicePorts } from '../model.ts';
import { modes, type OfflineNode } from './modes.ts';

export class RenderError extends Error {
  constructor(
    readonly code: 'BadState' | 'UnsupportedMode' | 'BadFlags',
    message: string,
  ) {
    super(message);
  }
}

export interface RenderOptions {
  mode: string;
  nodeName: string;
  /** the node's primary IP (NodePort addresses, LoadBalancer source ranges) */
  nodeIP?: string;
  config: ProxyFlags;
}

/** Services, EndpointSlices and Nodes from state files or directories (multi-document YAML/JSON, Lists unpacked; "-" is stdin). */
export function readState(files: string[]): { services: Service[]; slices: EndpointSlice[]; nodes: Node[] } {
  let objs: KubeObject[];
  try {
    objs = readStateFiles(files, [
      { apiVersion: 'v1', kind: 'Service', namespaced: true },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespaced: true },
      { apiVersion: 'v1', kind: 'Node', namespaced: false },
    ]);
  } catch (e) {
    throw new RenderError('BadState', (e as Error).message);
  }
  return {
    services: objs.filter((o): o is Service => o.kind === 'Service'),
    slices: objs.filter((o): o is EndpointSlice => o.kind === 'EndpointSlice'),
    nodes: objs.filter((o): o is Node => o.kind === 'Node'),
  };
}

export function render(files: string[], o: RenderOptions): string {
  if (!proxyModes.includes(o.mode as ProxyMode)) throw new RenderError('UnsupportedMode', `--mode ${o.mode}: expected one of ${proxyModes.join(', ')}`);
  const mode = o.mode as ProxyMode;
  try {
    validateFlags(o.config);
  } catch (e) {
    throw new RenderError('BadFlags', (e as Error).message);
  }
  if (o.nodeIP !== undefined && familyOf(o.nodeIP) !== 4) throw new RenderError('BadFlags', `--node-ip: ${JSON.stringify(o.nodeIP)} is not an IPv4 address`);
  // Offline, the node's only address is the one given.
  const ips = nodePortIPs(mode, o.config.nodePortAddresses, o.nodeIP, o.nodeIP ? [o.nodeIP] : [], o.config.localhostNodePorts);
  const node: OfflineNode = { flags: o.config, ...(o.nodeIP ? { nodeIP: o.nodeIP } : {}), ...(ips ? { nodePortIPs: ips } : {}) };
  const problem = modes[mode].offlineProblem?.(node);
  if (problem) throw new RenderError('BadFlags', problem);
  const { services, slices, nodes } = readState(files);
  // The rendered node's zone, for topology-aware routing.
  const zone = nodeZone(nodes.find((n) => n.metadata.name === o.nodeName));
  return modes[mode].render(servicePorts(services, slices, o.nodeName, zone), node);
}
