// `podpath proxy render`: what a full sync would apply on a node, from a file of Services and
// EndpointSlices, with no cluster and no root. The same renderIptables the live proxier runs.
import fs from 'node:fs';
import YAML from 'yaml';
import type { EndpointSlice, KubeObject, Service } from '../api/types.ts';
import { renderIptables, type IptablesConfig } from './iptables.ts';
import { servicePorts } from './model.ts';

export class RenderError extends Error {
  constructor(
    readonly code: 'BadState' | 'UnsupportedMode',
    message: string,
  ) {
    super(message);
  }
}

export interface RenderOptions {
  mode: string;
  nodeName: string;
  config: IptablesConfig;
}

/** Services and EndpointSlices from a multi-document YAML/JSON text (Lists are unpacked; Nodes are accepted and ignored). */
export function parseState(text: string, source: string): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  const add = (o: KubeObject, where: string) => {
    if (o.kind === 'List' || /List$/.test(String(o.kind))) {
      for (const [i, it] of ((o as unknown as { items?: KubeObject[] }).items ?? []).entries()) add(it, `${where} item ${i}`);
      return;
    }
    if (!o.metadata?.name) throw new RenderError('BadState', `${where}: ${o.kind ?? 'object'} has no metadata.name`);
    if (o.kind === 'Service' && o.apiVersion === 'v1') services.push({ ...o, metadata: { namespace: 'default', ...o.metadata } } as Service);
    else if (o.kind === 'EndpointSlice' && o.apiVersion === 'discovery.k8s.io/v1') slices.push({ ...o, metadata: { namespace: 'default', ...o.metadata } } as EndpointSlice);
    else if (o.kind === 'Node' && o.apiVersion === 'v1') return;
    else throw new RenderError('BadState', `${where}: expected v1 Service, discovery.k8s.io/v1 EndpointSlice or v1 Node, got ${o.apiVersion ?? '?'} ${o.kind ?? '?'}`);
  };
  for (const [i, doc] of YAML.parseAllDocuments(text).entries()) {
    if (doc.errors.length) throw new RenderError('BadState', `${source} document ${i + 1}: ${doc.errors[0]!.message}`);
    const o = doc.toJS() as KubeObject | null;
    if (o == null) continue;
    if (typeof o !== 'object') throw new RenderError('BadState', `${source} document ${i + 1}: not an object`);
    add(o, `${source} document ${i + 1}`);
  }
  return { services, slices };
}

export function render(files: string[], o: RenderOptions): string {
  if (o.mode !== 'iptables') throw new RenderError('UnsupportedMode', `--mode ${o.mode}: only iptables is implemented so far`);
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (const f of files) {
    const st = parseState(f === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(f, 'utf8'), f);
    services.push(...st.services);
    slices.push(...st.slices);
  }
  return renderIptables(servicePorts(services, slices, o.nodeName), o.config).text;
}
