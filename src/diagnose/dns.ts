// "Does the name resolve from the source": a pod asks the cluster DNS (the kube-dns Service in
// kube-system, CoreDNS's pods behind it), so those must exist, be Ready and be listed as its
// endpoints, and the query itself must get through (traced like any other connection, UDP to the
// kube-dns ClusterIP); the name must then be in the zone. The client and the nodes ask the lab's
// resolver, which knows only the names the cluster publishes.
import type { Event, Pod } from '../api/types.ts';
import type { ClusterIndex } from '../trace/cluster.ts';
import type { TraceRequest } from '../trace/engine.ts';
import { Resolver } from '../trace/resolve.ts';
import type { Trace } from '../trace/types.ts';
import { isLive, isReady, notReadyEvidence } from './pods.ts';
import { findService, serviceSlices } from './service.ts';
import type { Finding, LiveFacts } from './types.ts';

export type Source = { kind: 'pod'; pod: Pod; spec: string } | { kind: 'node' | 'client'; spec: string };

const dnsService = { kind: 'Service', namespace: 'kube-system', name: 'kube-dns' };

/**
 * `name`: what the source resolves (absent when the destination is an address); `clusterName`:
 * it is a Service's name, which pods resolve (a node stands in for a pod of `namespace` then).
 */
export function dnsFinding(ix: ClusterIndex, events: Event[], src: Source, name: string | undefined, clusterName: boolean, namespace: string, traceFn: (r: TraceRequest) => Trace | undefined, facts: LiveFacts | undefined): Finding {
  if (name === undefined) return { check: 'dns', status: 'skipped', summary: 'the destination is an address: there is no name to resolve', evidence: [] };
  const resolver = new Resolver(ix);
  if (src.kind !== 'pod' && !clusterName) {
    const r = resolver.fromHost(name);
    const evidence = r.attempts.map((a) => `${a.name} → ${a.answer} (${a.server})`);
    if (r.ip) return { check: 'dns', status: 'ok', summary: `${name} resolves from ${src.spec} to ${r.ips.join(', ')}`, evidence, ...(r.object ? { object: r.object } : {}) };
    return { check: 'dns', status: 'fail', summary: `${name} does not resolve from ${src.spec}`, evidence, fix: `the lab's resolver answers only the hosts of Ingresses and the hostnames of LoadBalancer Services; add the host to an Ingress rule, or use an address` };
  }
  if (src.kind === 'client') return { check: 'dns', status: 'skipped', summary: `${name} is a cluster name: the client outside the cluster does not ask the cluster DNS (use an Ingress host, a NodePort or a LoadBalancer address)`, evidence: [] };
  const o = ix.objects;
  const evidence: string[] = [];
  const fails: string[] = [];
  // live, the pod itself asks: its answer is evidence, and no answer where one is due is a failure
  const asked = facts && src.kind === 'pod' ? facts.resolve(src.pod, name) : undefined;
  if (asked) evidence.push(`in pod ${src.spec.slice(4)}: ${asked.detail}`);
  const svc = findService(o, 'kube-system', 'kube-dns');
  const pods = o.pods.filter((p) => (p.metadata.namespace ?? 'default') === 'kube-system' && p.metadata.labels?.['k8s-app'] === 'kube-dns' && isLive(p));
  const ready = pods.filter(isReady);
  evidence.push(`cluster DNS pods (kube-system, k8s-app=kube-dns): ${pods.length ? pods.map((p) => `${p.metadata.name}${isReady(p) ? ' Ready' : ' not Ready'}`).join(', ') : 'none'}`);
  for (const p of pods.filter((x) => !isReady(x))) evidence.push(...notReadyEvidence(p, events));
  if (!pods.length) fails.push('no cluster DNS pod runs (the coredns Deployment in kube-system is scaled to zero or gone)');
  else if (!ready.length) fails.push('no cluster DNS pod is Ready');
  if (!svc) fails.push(`there is no Service kube-system/kube-dns at ${ix.plan.clusterDNS}, the address in every pod's resolv.conf`);
  else {
    const eps = serviceSlices(o, svc).flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses ?? []));
    evidence.push(`Service kube-system/kube-dns ${svc.spec?.clusterIP ?? ''}: ready endpoints ${eps.join(', ') || 'none'}`);
    if (!eps.length && pods.length && ready.length) fails.push('Service kube-system/kube-dns has no ready endpoints');
    // the query itself, as the source sends it: what the kernel does with it says the same
    const t = traceFn({ from: src.spec, to: 'svc/kube-system/kube-dns:dns', protocol: 'udp' });
    if (t) evidence.push(`a query from ${src.spec} to ${svc.spec?.clusterIP ?? ''}:53/UDP: ${t.verdict} (${t.reason})`);
    if (t && t.verdict !== 'delivered') fails.push(`the query from ${src.spec} to the cluster DNS is ${t.verdict}: ${t.reason}`);
  }
  if (fails.length)
    return {
      check: 'dns',
      status: 'fail',
      summary: `${name} cannot be resolved from ${src.kind === 'pod' ? src.spec : 'pods'}: ${fails[0]}`,
      evidence: [...fails.slice(1), ...evidence],
      fix: fails[0]!.startsWith('the query')
        ? `the cluster DNS is up but the query does not reach it: see the checks above, and podpath trace --from ${src.spec} --to svc/kube-system/kube-dns:dns --protocol udp`
        : 'bring the cluster DNS back: kubectl -n kube-system get deploy coredns (kubectl -n kube-system scale deploy coredns --replicas=2), kubectl -n kube-system get pods -l k8s-app=kube-dns, kubectl -n kube-system logs -l k8s-app=kube-dns',
      object: dnsService,
    };
  const asker: Pod = src.kind === 'pod' ? src.pod : ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: '-', namespace }, spec: { containers: [] } } as Pod);
  const r = resolver.fromPod(asker, name);
  evidence.push(...r.attempts.map((a) => `${a.name} → ${a.answer}`));
  if (asked && !asked.addresses.length) return { check: 'dns', status: 'fail', summary: `${name} does not resolve in ${src.spec}, though the cluster DNS should answer ${r.ip ?? 'nothing'}`, evidence, fix: `compare the pod's /etc/resolv.conf (podpath exec --from ${src.spec} -- cat /etc/resolv.conf) with the cluster DNS address ${ix.plan.clusterDNS}; kubectl -n kube-system logs -l k8s-app=kube-dns`, object: dnsService };
  if (!r.ip) return { check: 'dns', status: 'fail', summary: `${name} does not resolve from ${src.kind === 'pod' ? src.spec : `a pod in ${namespace}`}`, evidence, fix: `check the name and namespace (kubectl get svc -A); a name from another namespace needs NAME.NAMESPACE`, object: dnsService };
  return { check: 'dns', status: 'ok', summary: `${name} resolves from ${src.kind === 'pod' ? src.spec : `a pod in ${namespace}`}: ${r.record}`, evidence, ...(r.object ? { object: r.object } : {}) };
}
