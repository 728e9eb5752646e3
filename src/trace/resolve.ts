// Name resolution as the source would do it. A pod asks the cluster DNS with its resolv.conf as
// the kubelet writes it (search path, ndots:5): each expansion in the order the resolver tries
// them, answered by the same zone function CoreDNS's stand-in serves (src/dns/zone.ts), names
// outside the zone forwarded to the lab's resolver. The client and the nodes ask the lab's
// resolver on the router, which answers the names the cluster publishes (Ingress hosts,
// LoadBalancer hostname annotations, HTTPRoute hostnames: src/dns/publicdns.ts).
import { podResolvConf } from '../agent/dns.ts';
import type { Pod } from '../api/types.ts';
import { lookupPublic, publicNames, type PublicNames } from '../dns/publicdns.ts';
import { Rcode, Type, rcodeName } from '../dns/wire.ts';
import { buildIndex, lookup, type DnsIndex } from '../dns/zone.ts';
import { parseIP } from '../util/ip.ts';
import { parseResolvConf } from '../util/resolvconf.ts';
import type { ClusterIndex } from './cluster.ts';
import type { ObjectRef } from './types.ts';

export interface Attempt {
  name: string;
  /** who answered: "cluster DNS" (zone), "lab resolver" */
  server: string;
  answer: string;
}

export interface Resolution {
  /** the address the client connects to (the first A record), undefined when the name does not resolve */
  ip?: string;
  /** all A records of the answer */
  ips: string[];
  resolver: string;
  attempts: Attempt[];
  /** the record that answered, in words */
  record: string;
  object?: ObjectRef;
}

/** The node's resolv.conf in the lab (the kubelet's --resolv-conf): the lab's resolver. */
const hostResolvConf = (routerIP: string) => `nameserver ${routerIP}\n`;

/** The resolv.conf a pod gets, as text. */
export function podResolvConfText(pod: Pod, ix: ClusterIndex): string {
  return podResolvConf(pod, { clusterDNS: [ix.plan.clusterDNS], clusterDomain: ix.plan.clusterDomain, hostResolvConf: hostResolvConf(ix.plan.routerIP) }).text;
}

export class Resolver {
  constructor(private readonly ix: ClusterIndex) {}

  private zoneIndex(): DnsIndex {
    const o = this.ix.objects;
    return this.ix.memo('dns zone', () => buildIndex({ services: o.services, slices: o.slices, pods: o.pods, namespaces: o.namespaces }, { zone: this.ix.plan.clusterDomain, pods: 'insecure', ttl: 30 }, 0));
  }

  private publicNames(): PublicNames {
    const o = this.ix.objects;
    return this.ix.memo('public names', () => publicNames(o.ingresses, o.services, { routes: o.httpRoutes ?? [], gateways: o.gateways ?? [] }));
  }

  /** The lab resolver's answer for one name. */
  private askLab(name: string): { ips: string[]; answer: string; object?: ObjectRef } {
    const n = name.replace(/\.$/, '').toLowerCase();
    const ips = lookupPublic(this.publicNames(), n);
    if (!ips) return { ips: [], answer: 'REFUSED (not a name the cluster publishes)' };
    const owner = this.publicNames().owners.get(n) ?? this.publicNames().owners.get(`*.${n.slice(n.indexOf('.') + 1)}`);
    const [kind, namespace, objName] = (owner ?? '').split('/');
    const object = owner ? { kind: kind === 'ingress' ? 'Ingress' : kind === 'httproute' ? 'HTTPRoute' : 'Service', namespace: namespace!, name: objName! } : undefined;
    return { ips, answer: `A ${ips.join(', ')}${owner ? ` (published for ${owner})` : ''}`, ...(object ? { object } : {}) };
  }

  /** What a pod's resolver does for `name`: its search expansions in order, each answered by the cluster DNS. */
  fromPod(pod: Pod, name: string): Resolution {
    const conf = parseResolvConf(podResolvConfText(pod, this.ix));
    const ndotsOpt = conf.options.find((o) => o.startsWith('ndots:'));
    const ndots = ndotsOpt ? Number(ndotsOpt.slice(6)) : 1;
    const absolute = name.endsWith('.');
    const bare = name.replace(/\.$/, '');
    const dots = bare.split('.').length - 1;
    const expansions = conf.search.map((d) => `${bare}.${d}`);
    const order = absolute ? [bare] : dots >= ndots ? [bare, ...expansions] : [...expansions, bare];
    const resolver = `${conf.nameservers[0] ?? '(none)'} (resolv.conf: search ${conf.search.join(' ')}; ndots:${ndots})`;
    const attempts: Attempt[] = [];
    const zone = this.ix.plan.clusterDomain;
    for (const q of order) {
      const inZone = q === zone || q.endsWith(`.${zone}`);
      if (!inZone) {
        const r = this.askLab(q);
        attempts.push({ name: q, server: 'cluster DNS → lab resolver (forwarded)', answer: r.answer });
        if (r.ips.length) return { ip: r.ips[0]!, ips: r.ips, resolver, attempts, record: `${q} ${r.answer}`, ...(r.object ? { object: r.object } : {}) };
        continue;
      }
      const a = lookup(this.zoneIndex(), { name: q, type: Type.A, class: 1 });
      const recs = a.answer.filter((rr) => rr.type === Type.A).map((rr) => String(rr.data));
      const cname = a.answer.find((rr) => rr.type === Type.CNAME);
      let ips = recs;
      let chased = '';
      if (!ips.length && a.chase) {
        const r = this.askLab(a.chase.name);
        ips = r.ips;
        chased = ` → ${a.chase.name} ${r.answer}`;
      }
      const answer = a.rcode !== Rcode.NOERROR ? rcodeName(a.rcode) : ips.length ? `${cname ? `CNAME ${String(cname.data)}${chased ? '' : ', '}` : ''}${chased || `A ${ips.join(', ')}`}` : cname ? `CNAME ${String(cname.data)}${chased}` : 'NOERROR, no A record';
      attempts.push({ name: q, server: 'cluster DNS', answer });
      if (!ips.length) continue;
      return { ip: ips[0]!, ips, resolver, attempts, ...this.describe(q, ips, Boolean(cname)) };
    }
    return { ips: [], resolver, attempts, record: `${name} does not resolve` };
  }

  /** The client and the nodes ask the lab's resolver on the router. */
  fromHost(name: string): Resolution {
    const r = this.askLab(name);
    const resolver = `${this.ix.plan.routerIP} (the lab's resolver)`;
    const attempts = [{ name: name.replace(/\.$/, ''), server: 'lab resolver', answer: r.answer }];
    if (!r.ips.length) return { ips: [], resolver, attempts, record: `${name} does not resolve` };
    return { ip: r.ips[0]!, ips: r.ips, resolver, attempts, record: `${name} ${r.answer}`, ...(r.object ? { object: r.object } : {}) };
  }

  /** Which record a cluster name's answer came from: a Service's ClusterIP, headless endpoints, an ExternalName. */
  private describe(q: string, ips: string[], cname: boolean): { record: string; object?: ObjectRef } {
    const rel = q.slice(0, -(this.ix.plan.clusterDomain.length + 1)).split('.');
    if (rel.at(-1) === 'svc' && rel.length >= 3) {
      const [name, namespace] = [rel.at(-3)!, rel.at(-2)!];
      const svc = this.ix.objects.services.find((s) => s.metadata.name === name && (s.metadata.namespace ?? 'default') === namespace);
      const object = { kind: 'Service', namespace, name };
      if (svc?.spec?.type === 'ExternalName' || cname) return { record: `ExternalName Service ${namespace}/${name} → ${svc?.spec?.externalName ?? '?'}`, object };
      if (svc?.spec?.clusterIP === 'None') return { record: `headless Service ${namespace}/${name}: the ready endpoints' addresses (${ips.join(', ')}); the client takes the first`, object };
      return { record: `Service ${namespace}/${name} ClusterIP ${ips[0]}`, object };
    }
    if (rel.at(-1) === 'pod') return { record: `pod record ${q}` };
    return { record: `${q} A ${ips.join(', ')}` };
  }
}

export const isIPAddress = (s: string) => parseIP(s) !== undefined;
