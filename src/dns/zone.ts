// The cluster zone as pure functions: an index built from Services, EndpointSlices, Pods and
// Namespaces, and the answer to one question from that index, following the Kubernetes
// DNS-Based Service Discovery specification (schema 1.1.0) and CoreDNS's kubernetes plugin
// where the specification is silent (SRV priority/weight, endpoint names, NODATA vs NXDOMAIN).
import { serviceKey, sliceServiceKey } from '../api/keys.ts';
import type { EndpointSlice, Namespace, Pod, Service } from '../api/types.ts';
import { familyOf, formatIP, parseIP } from '../util/ip.ts';
import { Rcode, Type, type Question, type RR, type Soa } from './wire.ts';

export const dnsSchemaVersion = '1.1.0';
export const podsModes = ['disabled', 'insecure', 'verified'] as const;
export type PodsMode = (typeof podsModes)[number];

export interface ZoneConfig {
  /** the cluster domain, e.g. cluster.local (no trailing dot, lower case) */
  zone: string;
  pods: PodsMode;
  /** TTL of every answer, 0–3600 */
  ttl: number;
}

export interface ClusterState {
  services: Service[];
  slices: EndpointSlice[];
  pods: Pod[];
  namespaces: Namespace[];
}

interface PortInfo {
  name: string;
  protocol: string;
  port: number;
}
interface EndpointInfo {
  /** the endpoint's hostname, or its dashed address */
  hostname: string;
  ip: string;
  ports: PortInfo[];
}
interface ServiceInfo {
  namespace: string;
  name: string;
  kind: 'ClusterIP' | 'Headless' | 'ExternalName';
  clusterIPs: string[];
  ports: PortInfo[];
  externalName?: string;
  /** ready endpoints (all of them when the Service tolerates unready ones) */
  endpoints: EndpointInfo[];
}

export interface DnsIndex {
  config: ZoneConfig;
  /** the SOA serial: when the state last changed (Unix seconds) */
  serial: number;
  namespaces: Set<string>;
  /** by "name.namespace" */
  services: Map<string, ServiceInfo>;
  /** address → PTR targets (one per Service and endpoint) */
  ptr: Map<string, string[]>;
  /** namespace → pod IPs (pods verified) */
  podIPs: Map<string, Set<string>>;
  /** the cluster DNS Service's addresses (the zone's NS) */
  nameserverIPs: string[];
}

/** What to answer; `forward` hands the question to the upstream resolvers instead. */
export interface Answer {
  rcode: number;
  authoritative: boolean;
  answer: RR[];
  authority: RR[];
  additional: RR[];
  forward?: boolean;
  /** an ExternalName target the caller resolves upstream and appends after the CNAME */
  chase?: Question;
}

const tolerateUnready = 'service.alpha.kubernetes.io/tolerate-unready-endpoints';

/** The dashed form of an address used as an endpoint's name: 172-0-0-2, 5678-abcd--1. */
export function dashedIP(ip: string): string {
  return familyOf(ip) === 6 ? ip.replace(/:/g, '-') : ip.replace(/\./g, '-');
}

function undashIP(label: string): string | undefined {
  const v4 = label.replace(/-/g, '.');
  if (familyOf(v4) === 4 && /^\d+\.\d+\.\d+\.\d+$/.test(v4)) return v4;
  const v6 = label.replace(/-/g, ':');
  const p = v6.includes(':') ? parseIP(v6) : undefined;
  return p && p.family === 6 ? formatIP(p.value, 6) : undefined;
}

function canonicalIP(ip: string): string {
  const p = parseIP(ip);
  return p ? formatIP(p.value, p.family) : ip;
}

export function buildIndex(state: ClusterState, config: ZoneConfig, serial: number): DnsIndex {
  const ix: DnsIndex = { config, serial, namespaces: new Set(), services: new Map(), ptr: new Map(), podIPs: new Map(), nameserverIPs: [] };
  for (const n of state.namespaces) if (n.metadata.name && !n.metadata.deletionTimestamp) ix.namespaces.add(n.metadata.name.toLowerCase());
  const slicesBySvc = new Map<string, EndpointSlice[]>();
  for (const s of state.slices) {
    const key = sliceServiceKey(s);
    if (!key) continue;
    const list = slicesBySvc.get(key) ?? [];
    list.push(s);
    slicesBySvc.set(key, list);
  }
  const addPtr = (ip: string, name: string) => {
    const list = ix.ptr.get(ip) ?? [];
    if (!list.includes(name)) list.push(name);
    ix.ptr.set(ip, list);
  };
  for (const svc of state.services) {
    const ns = svc.metadata.namespace ?? 'default';
    const name = svc.metadata.name!;
    ix.namespaces.add(ns.toLowerCase());
    const spec = svc.spec;
    const kind: ServiceInfo['kind'] = spec.type === 'ExternalName' ? 'ExternalName' : spec.clusterIP === 'None' ? 'Headless' : 'ClusterIP';
    const info: ServiceInfo = {
      namespace: ns.toLowerCase(),
      name: name.toLowerCase(),
      kind,
      clusterIPs: kind === 'ClusterIP' ? (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []).map(canonicalIP) : [],
      ports: (spec.ports ?? []).map((p) => ({ name: (p.name ?? '').toLowerCase(), protocol: (p.protocol ?? 'TCP').toLowerCase(), port: p.port })),
      endpoints: [],
    };
    if (kind === 'ExternalName' && spec.externalName) info.externalName = spec.externalName.replace(/\.$/, '').toLowerCase();
    const fqdn = `${info.name}.${info.namespace}.svc.${config.zone}`;
    const tolerate = svc.metadata.annotations?.[tolerateUnready] === 'true' || spec.publishNotReadyAddresses === true;
    const seen = new Set<string>();
    for (const slice of slicesBySvc.get(serviceKey(ns, name)) ?? []) {
      if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
      const ports = (slice.ports ?? []).filter((p) => p.port !== undefined && p.port !== null).map((p) => ({ name: (p.name ?? '').toLowerCase(), protocol: (p.protocol ?? 'TCP').toLowerCase(), port: p.port! }));
      for (const ep of slice.endpoints ?? []) {
        if (!tolerate && ep.conditions?.ready === false) continue;
        for (const raw of ep.addresses ?? []) {
          const ip = canonicalIP(raw);
          const hostname = (ep.hostname ?? dashedIP(ip)).toLowerCase();
          // The same address in two slices of one Service is one endpoint.
          if (seen.has(`${hostname}/${ip}`)) continue;
          seen.add(`${hostname}/${ip}`);
          info.endpoints.push({ hostname, ip, ports });
        }
      }
    }
    ix.services.set(`${info.name}.${info.namespace}`, info);
    if (kind === 'ExternalName') continue;
    for (const ip of info.clusterIPs) addPtr(ip, fqdn);
    for (const ep of info.endpoints) addPtr(ep.ip, `${ep.hostname}.${fqdn}`);
    if (info.namespace === 'kube-system' && info.name === 'kube-dns') ix.nameserverIPs = info.clusterIPs;
  }
  if (config.pods === 'verified') {
    for (const p of state.pods) {
      if (p.metadata.deletionTimestamp) continue;
      const ns = (p.metadata.namespace ?? 'default').toLowerCase();
      ix.namespaces.add(ns);
      const ips = p.status?.podIPs?.map((x) => x.ip) ?? (p.status?.podIP ? [p.status.podIP] : []);
      const set = ix.podIPs.get(ns) ?? new Set<string>();
      for (const ip of ips) set.add(canonicalIP(ip));
      ix.podIPs.set(ns, set);
    }
  }
  return ix;
}

const empty = (rcode: number, authoritative = true): Answer => ({ rcode, authoritative, answer: [], authority: [], additional: [] });

/** The question's name relative to `zone` (lower case), or undefined when outside it. */
function relative(lower: string, zone: string): string | undefined {
  if (lower === zone) return '';
  if (lower.length > zone.length && lower.endsWith(zone) && lower[lower.length - zone.length - 1] === '.') return lower.slice(0, lower.length - zone.length - 1);
  return undefined;
}

export function soaRecord(ix: DnsIndex, zone: string): RR & { type: 6 } {
  const data: Soa = { mname: `ns.dns.${zone}`, rname: `hostmaster.${zone}`, serial: ix.serial >>> 0, refresh: 7200, retry: 1800, expire: 86400, minimum: ix.config.ttl };
  return { name: zone, type: Type.SOA, ttl: Math.min(ix.config.ttl, 300), data };
}

/** Reverse names: 4.3.2.1.in-addr.arpa or 32 nibbles of ip6.arpa → the address. */
export function reverseToIP(lower: string): string | undefined {
  let m = /^((?:\d{1,3}\.){4})in-addr\.arpa$/.exec(lower);
  if (m) {
    const parts = m[1]!.split('.').slice(0, 4).reverse();
    if (parts.some((x) => Number(x) > 255 || (x.length > 1 && x.startsWith('0')))) return undefined;
    return parts.join('.');
  }
  m = /^((?:[0-9a-f]\.){32})ip6\.arpa$/.exec(lower);
  if (m) {
    const hex = m[1]!.split('.').slice(0, 32).reverse().join('');
    return canonicalIP(hex.match(/.{4}/g)!.join(':'));
  }
  return undefined;
}

/** ExternalName CNAMEs followed inside the zone at most this deep (a loop ends there). */
const maxChase = 8;

/** The answer to `q` from the index. Owner names echo the question's case. */
export function lookup(ix: DnsIndex, q: Question, depth = 0): Answer {
  const lower = q.name.toLowerCase();
  const zone = ix.config.zone;
  const rel = relative(lower, zone);
  if (rel === undefined) {
    if (q.type === Type.PTR && (lower.endsWith('.in-addr.arpa') || lower.endsWith('.ip6.arpa'))) {
      const ip = reverseToIP(lower);
      const names = ip !== undefined ? ix.ptr.get(ip) : undefined;
      if (names) return { ...empty(Rcode.NOERROR), answer: names.map((n) => ({ name: q.name, type: Type.PTR, ttl: ix.config.ttl, data: n })) };
    }
    // Everything else (reverse names included: fallthrough in-addr.arpa ip6.arpa) goes upstream.
    return { ...empty(Rcode.NOERROR, false), forward: true };
  }
  if (q.class !== 1 && q.class !== 255) return empty(Rcode.REFUSED, false);
  const nodata = (): Answer => ({ ...empty(Rcode.NOERROR), authority: [soaRecord(ix, zone)] });
  const nxdomain = (): Answer => ({ ...empty(Rcode.NXDOMAIN), authority: [soaRecord(ix, zone)] });
  const labels = rel === '' ? [] : rel.split('.');
  const n = labels.length;
  if (n === 0) {
    if (q.type === Type.SOA) return { ...empty(Rcode.NOERROR), answer: [{ ...soaRecord(ix, zone), name: q.name }] };
    if (q.type === Type.NS) {
      const ns = `ns.dns.${zone}`;
      return { ...empty(Rcode.NOERROR), answer: [{ name: q.name, type: Type.NS, ttl: ix.config.ttl, data: ns }], additional: addressRecords(ns, ix.nameserverIPs, ix.config.ttl) };
    }
    return nodata();
  }
  // CoreDNS answers NS only at the apex; anywhere else in the zone it looks the name up as A to
  // tell a name that exists (NODATA) from one that does not (NXDOMAIN), and answers no records.
  if (q.type === Type.NS) return lookup(ix, { ...q, type: Type.A }, depth).rcode === Rcode.NXDOMAIN ? nxdomain() : nodata();
  if (n === 1 && labels[0] === 'dns-version') {
    if (q.type === Type.TXT) return { ...empty(Rcode.NOERROR), answer: [{ name: q.name, type: Type.TXT, ttl: 28800, data: [dnsSchemaVersion] }] };
    return nodata();
  }
  if (n === 2 && labels[0] === 'ns' && labels[1] === 'dns') {
    const recs = addressRecords(q.name, ix.nameserverIPs, ix.config.ttl).filter((r) => r.type === q.type);
    return recs.length ? { ...empty(Rcode.NOERROR), answer: recs } : nodata();
  }
  const kind = labels[n - 1];
  if (kind === 'svc') {
    if (n === 1) return nodata();
    const ns = labels[n - 2]!;
    if (n === 2) return ix.namespaces.has(ns) ? nodata() : nxdomain();
    if (n > 5) return nxdomain();
    const svc = ix.services.get(`${labels[n - 3]}.${ns}`);
    if (!svc) return nxdomain();
    const records = serviceRecords(ix, svc, labels.slice(0, n - 3));
    if (records === undefined) return nxdomain();
    return answerFor(ix, q, svc, records, nodata, depth);
  }
  if (kind === 'pod') {
    if (n === 1) return nodata();
    const ns = labels[n - 2]!;
    if (n === 2) return ix.namespaces.has(ns) || ix.config.pods === 'insecure' ? nodata() : nxdomain();
    if (n !== 3 || ix.config.pods === 'disabled') return nxdomain();
    const ip = undashIP(labels[0]!);
    if (ip === undefined) return nxdomain();
    if (ix.config.pods === 'verified' && !ix.podIPs.get(ns)?.has(ip)) return nxdomain();
    const recs = addressRecords(q.name, [ip], ix.config.ttl).filter((r) => r.type === q.type);
    return recs.length ? { ...empty(Rcode.NOERROR), answer: recs } : nodata();
  }
  return nxdomain();
}

interface ServiceRecord {
  /** an address or, for ExternalName, the target name */
  host: string;
  port?: number;
  /** the SRV target */
  target: string;
}

/**
 * The records behind a service-level name: `rest` is what precedes <svc>.<ns>.svc — nothing, an
 * endpoint name, or a port and protocol. Undefined means the name does not exist.
 */
function serviceRecords(ix: DnsIndex, svc: ServiceInfo, rest: string[]): ServiceRecord[] | undefined {
  const fqdn = `${svc.name}.${svc.namespace}.svc.${ix.config.zone}`;
  if (svc.kind === 'ExternalName') return rest.length === 0 && svc.externalName ? [{ host: svc.externalName, target: svc.externalName }] : undefined;
  const strip = (s: string) => (s.startsWith('_') ? s.slice(1) : s);
  const [portName, protocol] = rest.length === 2 ? [strip(rest[0]!), strip(rest[1]!)] : [undefined, undefined];
  const portMatches = (p: PortInfo) => portName === undefined || (p.name === portName && p.protocol === protocol);
  const out: ServiceRecord[] = [];
  if (svc.kind === 'ClusterIP' && rest.length !== 1) {
    const ports = svc.ports.filter(portMatches);
    if (portName !== undefined && ports.length === 0) return undefined;
    for (const ip of svc.clusterIPs) {
      if (ports.length === 0) out.push({ host: ip, target: fqdn });
      for (const p of ports) out.push({ host: ip, port: p.port, target: fqdn });
    }
    return out;
  }
  // Headless Services and endpoint names (CoreDNS answers those for any Service).
  const endpoint = rest.length === 1 ? rest[0] : undefined;
  for (const ep of svc.endpoints) {
    if (endpoint !== undefined && ep.hostname !== endpoint) continue;
    const target = `${ep.hostname}.${fqdn}`;
    const ports = ep.ports.filter(portMatches);
    if (ports.length === 0 && portName === undefined) out.push({ host: ep.ip, target });
    for (const p of ports) out.push({ host: ep.ip, port: p.port, target });
  }
  return out.length ? out : undefined;
}

function addressRecords(name: string, ips: string[], ttl: number): RR[] {
  return ips.map((ip) => (familyOf(ip) === 6 ? { name, type: Type.AAAA, ttl, data: ip } : { name, type: Type.A, ttl, data: ip }));
}

function answerFor(ix: DnsIndex, q: Question, svc: ServiceInfo, records: ServiceRecord[], nodata: () => Answer, depth: number): Answer {
  const ttl = ix.config.ttl;
  if (svc.kind === 'ExternalName') {
    const target = records[0]!.host;
    const a: Answer = { ...empty(Rcode.NOERROR), answer: [{ name: q.name, type: Type.CNAME, ttl, data: target }] };
    if (q.type !== Type.A && q.type !== Type.AAAA) return a;
    // An in-cluster target is chased here; anything else is left to the caller's upstream.
    if (relative(target, ix.config.zone) !== undefined) {
      if (depth >= maxChase) return a;
      const inner = lookup(ix, { name: target, type: q.type, class: q.class }, depth + 1);
      a.answer.push(...inner.answer);
      return a;
    }
    a.chase = { name: target, type: q.type, class: 1 };
    return a;
  }
  const uniq = <T>(xs: T[], key: (x: T) => string) => {
    const seen = new Set<string>();
    return xs.filter((x) => !seen.has(key(x)) && Boolean(seen.add(key(x))));
  };
  if (q.type === Type.A || q.type === Type.AAAA || q.type === Type.ANY) {
    const ips = uniq(
      records.map((r) => r.host).filter((ip) => q.type === Type.ANY || familyOf(ip) === (q.type === Type.A ? 4 : 6)),
      (x) => x,
    );
    return ips.length ? { ...empty(Rcode.NOERROR), answer: addressRecords(q.name, ips, ttl) } : nodata();
  }
  if (q.type === Type.SRV) {
    const withPort = records.filter((r) => r.port !== undefined);
    if (!withPort.length) return nodata();
    // CoreDNS: one priority; weight 100 split over the records, at least 1.
    const weight = Math.max(1, Math.floor(100 / withPort.length));
    const srv = uniq(withPort, (r) => `${r.target}/${r.port}`).map((r): RR => ({ name: q.name, type: Type.SRV, ttl, data: { priority: 0, weight, port: r.port!, target: r.target } }));
    const extra = uniq(withPort, (r) => `${r.target}/${r.host}`).flatMap((r) => addressRecords(r.target, [r.host], ttl));
    return { ...empty(Rcode.NOERROR), answer: srv, additional: extra };
  }
  return nodata();
}
