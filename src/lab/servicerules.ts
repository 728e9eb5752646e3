// Whether a lab node's kernel holds kube-proxy's rules for a Service, read the way an engineer
// checks by hand (seed 003: `iptables-save | grep <service-name>`, `ipvsadm -Ln | grep
// <cluster-ip>`): kube-proxy names the Service in its rule comments and nftables chain names and
// map-element comments ("ns/name:port"), and IPVS holds a virtual server at its ClusterIP. One
// listing per node, read once; only presence, not what the rules do (the trace walks those).
import type { Service } from '../api/types.ts';
import { defaultExecutor, type Executor } from '../exec/exec.ts';

export interface RulesPresence {
  proxyRules: boolean;
  service: boolean;
  detail: string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A line of kube-proxy's naming the Service: "ns/name" in a comment or a chain name. */
export const namesService = (listing: string, svc: Service): boolean =>
  new RegExp(`(^|[\\s"-])${escape(svc.metadata.namespace ?? 'default')}/${escape(svc.metadata.name!)}([:\\s"/]|$)`, 'm').test(listing);

interface Listing {
  /** kube-proxy's rules at all */
  present: boolean;
  /** what was read, for the detail line */
  what: string;
  text: string;
}

function read(netns: string, mode: string, ex: Executor): Listing | undefined {
  if (mode === 'iptables') {
    const r = ex.exec(['iptables-save'], { netns });
    if (r.status !== 0) return { present: false, what: `iptables-save failed: ${(r.stderr || r.error || '').trim()}`, text: '' };
    const text = r.stdout.split('\n').filter((l) => l.startsWith('-A KUBE-') || l.startsWith(':KUBE-')).join('\n');
    return { present: /^:KUBE-SERVICES /m.test(text), what: 'iptables-save', text };
  }
  if (mode === 'nftables') {
    const r = ex.exec(['nft', 'list', 'table', 'ip', 'kube-proxy'], { netns });
    return { present: r.status === 0, what: 'nft list table ip kube-proxy', text: r.status === 0 ? r.stdout : '' };
  }
  if (mode === 'ipvs') {
    const r = ex.exec(['ipvsadm', '-Ln'], { netns });
    return { present: r.status === 0 && /^(TCP|UDP|SCTP)\s/m.test(r.stdout), what: 'ipvsadm -Ln', text: r.status === 0 ? r.stdout : '' };
  }
  return undefined;
}

/** The presence check for one node: `check(svc)` reads the node's listing on its first call. */
export function nodeRulesPresence(netns: string, mode: string, ex: Executor = defaultExecutor): (svc: Service) => RulesPresence {
  let listing: Listing | undefined | null = null;
  return (svc) => {
    if (listing === null) listing = read(netns, mode, ex);
    if (!listing) return { proxyRules: true, service: true, detail: `not read: ${mode} mode's rules are not kernel rules this check reads` };
    if (!listing.present) return { proxyRules: false, service: false, detail: `${listing.what}: no kube-proxy rules at all (${mode === 'iptables' ? 'no KUBE-SERVICES chain' : mode === 'nftables' ? 'no table ip kube-proxy' : 'no virtual servers'})` };
    const ip = svc.spec?.clusterIP ?? '';
    const found = mode === 'ipvs' ? new RegExp(`^\\w+\\s+${escape(ip)}:`, 'm').test(listing.text) : namesService(listing.text, svc);
    const lines = listing.text.split('\n').filter((l) => (mode === 'ipvs' ? l.includes(`${ip}:`) : namesService(l, svc))).length;
    return { proxyRules: true, service: found, detail: found ? `${listing.what}: ${lines} line${lines === 1 ? '' : 's'} for ${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}` : `${listing.what}: kube-proxy's rules are there, none for ${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}` };
  };
}
