// The Kubernetes object behind a rule, found the ways an engineer finds it by hand: a DNAT's
// target address is a pod's; kube-proxy's rule comments name the Service port ("ns/svc:port …");
// nftables chain names carry it (service-HASH-ns/svc/tcp/port, endpoint-…__ip/port); iptables
// chain names carry only a hash (KUBE-SVC-…, KUBE-SEP-…), matched against the names kube-proxy
// would give each Service port (src/proxy/iptables/render.ts); a pod's chain in podpath's
// NetworkPolicy table (src/netpol/rules.ts) stands for the policies isolating that pod.
import { podKey, PolicyModel } from '../netpol/policy.ts';
import { podChainName, tableFamily, tableName } from '../netpol/rules.ts';
import { servicePorts } from '../proxy/model.ts';
import { extChain, fwChain, sepChain, svcChain, svlChain } from '../proxy/iptables/render.ts';
import type { ClusterIndex } from './cluster.ts';
import type { RuleHit } from './netfilter.ts';
import type { ObjectRef } from './types.ts';
import { applyDefaults } from '../api/defaults.ts';

const dns1123 = '[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?';
const servicePortRef = new RegExp(`(?:^|\\s)(${dns1123})/(${dns1123})(?::([-a-z0-9]+))?(?=\\s|$)`);
const nftServiceChain = /^(?:service|external|local|firewall|endpoint)-[A-Z0-9]{8}-([^/]+)\/([^/]+)\//;
const iptServiceChain = /^KUBE-(?:SVC|SVL|EXT|FW|SEP)-[A-Z0-9]{16}$/;

export class ObjectFinder {
  constructor(private readonly ix: ClusterIndex) {}

  /** Every iptables per-service chain name → its Service (computed once, when a chain without a comment asks). */
  private chainHashes(): Map<string, ObjectRef> {
    return this.ix.memo('iptables chain hashes', () => {
      const hashes = new Map<string, ObjectRef>();
      for (const sp of servicePorts(this.ix.objects.services, this.ix.objects.slices, '')) {
        const ref = { kind: 'Service', namespace: sp.namespace, name: sp.serviceName };
        for (const c of [svcChain(sp), svlChain(sp), extChain(sp), fwChain(sp)]) hashes.set(c, ref);
        for (const e of sp.endpoints) hashes.set(sepChain(sp, e.key), ref);
      }
      return hashes;
    });
  }

  private byComment(comment: string | undefined): ObjectRef | undefined {
    const c = comment !== undefined ? servicePortRef.exec(comment) : null;
    return c ? { kind: 'Service', namespace: c[1]!, name: c[2]! } : undefined;
  }

  /** A Service named by a chain: in the name itself (nftables), or — when hashes are allowed — by its iptables hash. */
  private byChain(name: string, hashes = true): ObjectRef | undefined {
    const m = nftServiceChain.exec(name);
    if (m) return { kind: 'Service', namespace: m[1]!, name: m[2]! };
    if (hashes && iptServiceChain.test(name)) return this.chainHashes().get(name);
    return undefined;
  }

  /** The EndpointSlice of a Service that lists this address. */
  private slice(svc: ObjectRef, ip: string): ObjectRef | undefined {
    const s = this.ix.memo(`slices of ${svc.namespace}/${svc.name}`, () => this.ix.objects.slices.filter((x) => (x.metadata.namespace ?? 'default') === svc.namespace && x.metadata.labels?.['kubernetes.io/service-name'] === svc.name)).find((x) => (x.metadata.namespace ?? 'default') === svc.namespace && x.metadata.labels?.['kubernetes.io/service-name'] === svc.name && (x.endpoints ?? []).some((e) => e.addresses?.includes(ip)));
    return s ? { kind: 'EndpointSlice', namespace: svc.namespace!, name: s.metadata.name! } : undefined;
  }

  /** A rule in a pod's chain of the NetworkPolicy table: the first policy isolating that pod in the chain's direction. */
  private policy(hit: RuleHit): ObjectRef | undefined {
    if (hit.table !== `${tableFamily} ${tableName}`) return undefined;
    const o = this.ix.objects;
    const chains = this.ix.memo('netpol pod chains', () => new Map(o.pods.flatMap((p) => (['Ingress', 'Egress'] as const).map((dir) => [podChainName(dir, podKey(p)), { pod: p, dir }] as const))));
    const owner = chains.get(hit.chain);
    if (!owner) return undefined;
    const model = this.ix.memo('policy model', () => new PolicyModel({ namespaces: o.namespaces, pods: o.pods, policies: o.policies }, applyDefaults));
    const p = model.selecting(owner.pod, owner.dir)[0];
    return p ? { kind: 'NetworkPolicy', namespace: p.namespace, name: p.name } : undefined;
  }

  /** The object behind a rule that acted, if any names one. */
  of(hit: RuleHit, inherited?: ObjectRef): ObjectRef | undefined {
    const policy = this.policy(hit);
    if (policy) return policy;
    // a jump to one endpoint's chain: the EndpointSlice that lists it
    const ep = (hit.comment !== undefined ? /-> ([0-9.]+):\d+$/.exec(hit.comment)?.[1] : undefined) ?? (hit.target !== undefined ? /__([0-9.]+)\/\d+$/.exec(hit.target)?.[1] : undefined);
    if (ep !== undefined) {
      const svc = (hit.target ? this.byChain(hit.target) : undefined) ?? this.byComment(hit.comment);
      const slice = svc ? this.slice(svc, ep) : undefined;
      if (slice) return slice;
    }
    if (hit.action === 'dnat') {
      const p = this.ix.podByIP(hit.pkt.dst);
      if (p) return { kind: 'Pod', namespace: p.metadata.namespace ?? 'default', name: p.metadata.name! };
    }
    return this.byComment(hit.comment) ?? (hit.target ? this.byChain(hit.target, false) : undefined) ?? this.byChain(hit.chain, false) ?? inherited ?? (hit.target ? this.byChain(hit.target) : undefined) ?? this.byChain(hit.chain);
  }
}

export const objectText = (o: ObjectRef) => `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
