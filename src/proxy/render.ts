// `podpath proxy render`: what a full sync would apply on a node, from a file of Services and
// EndpointSlices, with no cluster and no root. The same renderIptables / renderNftables the
// live proxier runs.
import fs from 'node:fs';
import YAML from 'yaml';
import { familyOf } from '../util/ip.ts';
import type { EndpointSlice, KubeObject, Node, Service } from '../api/types.ts';
import { iptablesConfig, nftablesConfig, nodePortIPs, proxyModes, validateFlags, type ProxyFlags, type ProxyMode } from './config.ts';
import { renderIptables } from './iptables.ts';
import { nodeZone, servicePorts } from './model.ts';
import { renderNftables } from './nftables.ts';

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

/** Services, EndpointSlices and Nodes from a multi-document YAML/JSON text (Lists are unpacked). */
export function parseState(text: string, source: string): { services: Service[]; slices: EndpointSlice[]; nodes: Node[] } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  const nodes: Node[] = [];
  const add = (o: KubeObject, where: string) => {
    if (o.kind === 'List' || /List$/.test(String(o.kind))) {
      for (const [i, it] of ((o as unknown as { items?: KubeObject[] }).items ?? []).entries()) add(it, `${where} item ${i}`);
      return;
    }
    if (!o.metadata?.name) throw new RenderError('BadState', `${where}: ${o.kind ?? 'object'} has no metadata.name`);
    if (o.kind === 'Service' && o.apiVersion === 'v1') services.push({ ...o, metadata: { namespace: 'default', ...o.metadata } } as Service);
    else if (o.kind === 'EndpointSlice' && o.apiVersion === 'discovery.k8s.io/v1') slices.push({ ...o, metadata: { namespace: 'default', ...o.metadata } } as EndpointSlice);
    else if (o.kind === 'Node' && o.apiVersion === 'v1') nodes.push(o as Node);
    else throw new RenderError('BadState', `${where}: expected v1 Service, discovery.k8s.io/v1 EndpointSlice or v1 Node, got ${o.apiVersion ?? '?'} ${o.kind ?? '?'}`);
  };
  for (const [i, doc] of YAML.parseAllDocuments(text).entries()) {
    if (doc.errors.length) throw new RenderError('BadState', `${source} document ${i + 1}: ${doc.errors[0]!.message}`);
    const o = doc.toJS() as KubeObject | null;
    if (o == null) continue;
    if (typeof o !== 'object') throw new RenderError('BadState', `${source} document ${i + 1}: not an object`);
    add(o, `${source} document ${i + 1}`);
  }
  return { services, slices, nodes };
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
  if (mode === 'nftables' && ips !== undefined && ips.length === 0) throw new RenderError('BadFlags', '--node-ip is needed: NodePorts answer on the node\'s primary IP (or give --nodeport-addresses 0.0.0.0/0)');
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  const nodes: Node[] = [];
  for (const f of files) {
    const st = parseState(f === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(f, 'utf8'), f);
    services.push(...st.services);
    slices.push(...st.slices);
    nodes.push(...st.nodes);
  }
  // The rendered node's zone, for topology-aware routing.
  const zone = nodeZone(nodes.find((n) => n.metadata.name === o.nodeName));
  const ports = servicePorts(services, slices, o.nodeName, zone);
  return mode === 'iptables' ? renderIptables(ports, iptablesConfig(o.config, ips)).text : renderNftables(ports, nftablesConfig(o.config, ips, o.nodeIP));
}
