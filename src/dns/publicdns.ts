// The lab's public DNS names: what external-dns would publish for the cluster, with the lab's
// router as the DNS provider. Every host of an Ingress (spec.rules[].host, spec.tls[].hosts and
// its external-dns.alpha.kubernetes.io/hostname annotation) points at the Ingress's
// status.loadBalancer IPs; every name in a LoadBalancer Service's hostname annotation at the
// Service's. Pure: objects in, names out.
import type { Ingress, Service } from '../api/types.ts';
import { parseIP } from '../util/ip.ts';

/** external-dns's annotation: comma-separated names for the object's addresses */
export const hostnameAnnotation = 'external-dns.alpha.kubernetes.io/hostname';

export interface PublicNames {
  /** a name (lower case, no trailing dot) → its IPv4 addresses */
  exact: Map<string, string[]>;
  /** a wildcard `*.example.com`, keyed by `example.com` → its IPv4 addresses (one label under it) */
  wildcard: Map<string, string[]>;
  /** each published name (wildcards as `*.example.com`) → the object it came from, as `ingress/NS/NAME` or `service/NS/NAME` */
  owners: Map<string, string>;
}

export const noPublicNames = (): PublicNames => ({ exact: new Map(), wildcard: new Map(), owners: new Map() });

/** A name as DNS compares it: trimmed, lower case, without the root's trailing dot; '' when empty. */
export function normalizeName(n: string): string {
  return n.trim().toLowerCase().replace(/\.$/, '');
}

const annotatedNames = (o: { metadata: { annotations?: Record<string, string> } }): string[] => (o.metadata.annotations?.[hostnameAnnotation] ?? '').split(',');

/** The IPv4 addresses of a status.loadBalancer.ingress list, sorted and without duplicates (hostnames have no A record to give). */
function ipv4Targets(list: { ip?: string }[] | undefined): string[] {
  return [...new Set((list ?? []).map((i) => i.ip ?? '').filter((ip) => parseIP(ip)?.family === 4))].sort();
}

interface Claim {
  name: string;
  owner: string;
  targets: string[];
}

function ingressClaims(ing: Ingress): Claim[] {
  const targets = ipv4Targets(ing.status?.loadBalancer?.ingress);
  if (!targets.length) return [];
  const owner = `ingress/${ing.metadata.namespace ?? 'default'}/${ing.metadata.name}`;
  const hosts = [...(ing.spec?.rules ?? []).map((r) => r.host ?? ''), ...(ing.spec?.tls ?? []).flatMap((t) => t.hosts ?? []), ...annotatedNames(ing)];
  return hosts.map((h) => ({ name: normalizeName(h), owner, targets }));
}

function serviceClaims(svc: Service): Claim[] {
  if (svc.spec?.type !== 'LoadBalancer') return [];
  const targets = ipv4Targets(svc.status?.loadBalancer?.ingress);
  if (!targets.length) return [];
  const owner = `service/${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;
  return annotatedNames(svc).map((h) => ({ name: normalizeName(h), owner, targets }));
}

/** The fields of a Gateway API HTTPRoute and Gateway that name what to publish (gateway/types.ts, read structurally). */
export interface RouteForDNS {
  metadata: { namespace?: string; name?: string };
  spec?: { hostnames?: string[]; parentRefs?: { group?: string; kind?: string; namespace?: string; name: string }[] };
}
export interface GatewayForDNS {
  metadata: { namespace?: string; name?: string };
  status?: { addresses?: { type?: string; value: string }[] };
}

/** external-dns's gateway-httproute source: an HTTPRoute's hostnames at its parent Gateways' status.addresses. */
function httpRouteClaims(r: RouteForDNS, gateways: GatewayForDNS[]): Claim[] {
  const ns = r.metadata.namespace ?? 'default';
  const addrs = (r.spec?.parentRefs ?? [])
    .filter((p) => (p.group ?? 'gateway.networking.k8s.io') === 'gateway.networking.k8s.io' && (p.kind ?? 'Gateway') === 'Gateway')
    .flatMap((p) => gateways.find((g) => (g.metadata.namespace ?? 'default') === (p.namespace ?? ns) && g.metadata.name === p.name)?.status?.addresses ?? [])
    .filter((a) => (a.type ?? 'IPAddress') === 'IPAddress')
    .map((a) => ({ ip: a.value }));
  const targets = ipv4Targets(addrs);
  if (!targets.length) return [];
  const owner = `httproute/${ns}/${r.metadata.name}`;
  return (r.spec?.hostnames ?? []).map((h) => ({ name: normalizeName(h), owner, targets }));
}

/** A name an Ingress host or annotation can publish: DNS labels, optionally under a leading `*.`. */
const publishable = (n: string): boolean => /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(n) && n.length <= 253 && parseIP(n) === undefined;

/**
 * The names the lab publishes for these objects. When several objects claim a name, one owns it
 * (external-dns's per-resource conflict resolution picks the candidate with the least targets):
 * here the one whose sorted addresses compare lowest, then by its kind/namespace/name.
 */
export function publicNames(ingresses: Ingress[], services: Service[], gw: { routes: RouteForDNS[]; gateways: GatewayForDNS[] } = { routes: [], gateways: [] }): PublicNames {
  const best = new Map<string, Claim>();
  const rank = (c: Claim) => `${c.targets.join(',')}\u0000${c.owner}`;
  for (const c of [...ingresses.flatMap(ingressClaims), ...services.flatMap(serviceClaims), ...gw.routes.flatMap((r) => httpRouteClaims(r, gw.gateways))]) {
    if (!publishable(c.name)) continue;
    const cur = best.get(c.name);
    if (!cur || rank(c) < rank(cur)) best.set(c.name, c);
  }
  const out = noPublicNames();
  for (const [name, c] of [...best].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (name.startsWith('*.')) out.wildcard.set(name.slice(2), c.targets);
    else out.exact.set(name, c.targets);
    out.owners.set(name, c.owner);
  }
  return out;
}

/**
 * The addresses of a queried name, or undefined when the lab publishes no such name. A
 * wildcard `*.example.com` answers exactly one label under example.com (`a.example.com`, not
 * `a.b.example.com` nor `example.com`), as an Ingress wildcard host matches; a name published
 * exactly wins over a wildcard.
 */
export function lookupPublic(names: PublicNames, qname: string): string[] | undefined {
  const n = normalizeName(qname);
  const exact = names.exact.get(n);
  if (exact) return exact;
  const dot = n.indexOf('.');
  if (dot <= 0) return undefined;
  return names.wildcard.get(n.slice(dot + 1));
}

/** The published names as "NAME IP,IP (OWNER)" lines, sorted, for the resolver's log. */
export function describePublicNames(names: PublicNames): string[] {
  const targets = (name: string) => (name.startsWith('*.') ? names.wildcard.get(name.slice(2)) : names.exact.get(name)) ?? [];
  return [...names.owners].map(([name, owner]) => `${name} ${targets(name).join(',')} (${owner})`).sort();
}
