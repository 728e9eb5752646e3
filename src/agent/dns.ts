// A pod's /etc/resolv.conf, as the kubelet forms it from dnsPolicy and dnsConfig
// (pkg/kubelet/network/dns): ClusterFirst → the cluster DNS with the namespace's search path
// and ndots:5; Default → the node's resolv.conf; None → dnsConfig alone; hostNetwork pods get
// the cluster DNS only with ClusterFirstWithHostNet. Pure: the agent writes the text.
import type { Pod } from '../api/types.ts';
import { parseResolvConf, type ResolvConf } from '../util/resolvconf.ts';

export const maxNameservers = 3;
export const maxSearchDomains = 32;
export const maxSearchChars = 2048;

export interface PodDnsInputs {
  /** the kubelet's --cluster-dns addresses (empty: ClusterFirst falls back to Default) */
  clusterDNS: string[];
  clusterDomain: string;
  /** the node's resolv.conf text */
  hostResolvConf: string;
}

export interface PodDns {
  text: string;
  /** events the kubelet would record: MissingClusterDNS, DNSConfigForming */
  warnings: { reason: string; message: string }[];
}

const dedupe = (xs: string[]) => [...new Set(xs)];

/** Drops domains over 253 characters, then cuts from the end until the list fits the limits. */
export function fitSearch(search: string[], warnings: PodDns['warnings']): string[] {
  let out = search.filter((d) => d.length <= 253);
  if (out.length !== search.length) warnings.push({ reason: 'DNSConfigForming', message: `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${out.join(' ')}` });
  let cut = false;
  while (out.length > maxSearchDomains || out.join(' ').length > maxSearchChars) {
    out = out.slice(0, -1);
    cut = true;
  }
  if (cut) warnings.push({ reason: 'DNSConfigForming', message: `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${out.join(' ')}` });
  return out;
}

/** Options by name: later ones (the pod's) replace earlier ones of the same name. */
function mergeOptions(base: string[], pod: string[]): string[] {
  const name = (o: string) => o.split(':')[0]!;
  const out = base.filter((o) => !pod.some((p) => name(p) === name(o)));
  for (const p of pod) if (!out.some((o) => name(o) === name(p))) out.push(p);
  return out;
}

export function podResolvConf(pod: Pod, inputs: PodDnsInputs): PodDns {
  const warnings: PodDns['warnings'] = [];
  const host = parseResolvConf(inputs.hostResolvConf);
  const ns = pod.metadata.namespace ?? 'default';
  const zone = inputs.clusterDomain;
  let policy = pod.spec.dnsPolicy ?? 'ClusterFirst';
  if (policy === 'ClusterFirst' && pod.spec.hostNetwork) policy = 'Default';
  if ((policy === 'ClusterFirst' || policy === 'ClusterFirstWithHostNet') && !inputs.clusterDNS.length) {
    warnings.push({ reason: 'MissingClusterDNS', message: `pod: "${pod.metadata.name}_${ns}(${pod.metadata.uid ?? ''})". kubelet does not have ClusterDNS IP configured and cannot create Pod using "${policy}" policy. Falling back to "Default" policy.` });
    policy = 'Default';
  }
  let conf: ResolvConf;
  if (policy === 'None') conf = { nameservers: [], search: [], options: [] };
  else if (policy === 'Default') conf = host;
  else conf = { nameservers: inputs.clusterDNS, search: dedupe([`${ns}.svc.${zone}`, `svc.${zone}`, zone, ...host.search]), options: ['ndots:5'] };
  const dc = pod.spec.dnsConfig;
  if (dc) {
    conf = {
      nameservers: dedupe([...conf.nameservers, ...(dc.nameservers ?? [])]),
      search: dedupe([...conf.search, ...(dc.searches ?? [])]),
      options: mergeOptions(conf.options, (dc.options ?? []).map((o) => (o.value !== undefined ? `${o.name}:${o.value}` : o.name))),
    };
  }
  if (conf.nameservers.length > maxNameservers) {
    warnings.push({ reason: 'DNSConfigForming', message: `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${conf.nameservers.slice(0, maxNameservers).join(' ')}` });
  }
  const lines = conf.nameservers.slice(0, maxNameservers).map((n) => `nameserver ${n}`);
  const search = fitSearch(conf.search, warnings);
  if (search.length) lines.push(`search ${search.join(' ')}`);
  if (conf.options.length) lines.push(`options ${conf.options.join(' ')}`);
  return { text: lines.join('\n') + '\n', warnings };
}
