// The nodes' part of the checklist: kube-proxy runs on every node and has synced (its DaemonSet
// pod, and live its /healthz answer), and each node's kernel holds its rules for the Service —
// seed 003's "check kube-proxy" and "iptables-save | grep <service-name>".
import type { Pod, Service } from '../api/types.ts';
import type { ClusterObjects } from '../trace/cluster.ts';
import { isReady, podName } from './pods.ts';
import { svcName, svcRef } from './service.ts';
import type { Finding, LiveFacts } from './types.ts';

const kubeProxyPods = (o: ClusterObjects): Pod[] => o.pods.filter((p) => (p.metadata.namespace ?? 'default') === 'kube-system' && p.metadata.labels?.['k8s-app'] === 'kube-proxy' && !p.metadata.deletionTimestamp);

const restartFix = (node: string) => `kube-proxy must run on every node: kubectl -n kube-system get ds kube-proxy (its nodeSelector, tolerations), kubectl -n kube-system logs -l k8s-app=kube-proxy; restart it: podpath restart proxy-${node}`;

export function kubeProxyFinding(o: ClusterObjects, facts: LiveFacts | undefined, mode: string): Finding {
  if (mode === 'none') return { check: 'kube-proxy', status: 'skipped', summary: 'the cluster runs no kube-proxy (proxy mode none): Services have no rules', evidence: [] };
  const pods = kubeProxyPods(o);
  const nodes = o.nodes.map((n) => n.metadata.name!);
  if (!facts && !pods.length) return { check: 'kube-proxy', status: 'skipped', summary: "not checked offline: the state holds no kube-proxy pods, and kube-proxy's health is known only in a running lab", evidence: [] };
  const evidence: string[] = [];
  const bad: string[] = [];
  for (const n of nodes) {
    const pod = pods.find((p) => p.spec.nodeName === n);
    const podLine = pod ? `pod ${podName(pod)} ${pod.status?.phase ?? 'Pending'}${isReady(pod) ? ', Ready' : ', not Ready'}` : 'no kube-proxy pod';
    const h = facts?.proxyHealth(n);
    evidence.push(`node ${n}: ${podLine}${h ? `; /healthz ${h.detail}` : ''}`);
    const down = h ? !h.answered || !h.healthy : !pod || !isReady(pod);
    if (down) bad.push(n);
  }
  if (bad.length)
    return {
      check: 'kube-proxy',
      status: 'fail',
      summary: `kube-proxy is not running and synced on node${bad.length > 1 ? 's' : ''} ${bad.join(', ')}: Service rules there are stale or gone`,
      evidence,
      fix: restartFix(bad[0]!),
      object: { kind: 'DaemonSet', namespace: 'kube-system', name: 'kube-proxy' },
    };
  return { check: 'kube-proxy', status: 'ok', summary: `kube-proxy runs and has synced on every node (${nodes.join(', ')})`, evidence, object: { kind: 'DaemonSet', namespace: 'kube-system', name: 'kube-proxy' } };
}

/** The kernel rules this check reads, by proxy mode (userspace mode's proxy holds the Service's sockets itself). */
const readModes = ['iptables', 'nftables', 'ipvs'];

export function proxyRulesFinding(o: ClusterObjects, svc: Service, facts: LiveFacts | undefined, mode: string): Finding {
  const object = svcRef(svc);
  if (!readModes.includes(mode)) return { check: 'proxy-rules', status: 'skipped', summary: `not checked in ${mode} mode: the rules read are those of ${readModes.join(', ')} modes`, evidence: [], object };
  if (!facts) return { check: 'proxy-rules', status: 'skipped', summary: "not checked offline: the nodes' kernel rules are read only in a running lab (offline, the trace renders them from the objects)", evidence: [], object };
  if (svc.spec?.type === 'ExternalName') return { check: 'proxy-rules', status: 'skipped', summary: 'an ExternalName Service has no proxy rules (its name is a CNAME)', evidence: [], object };
  if (svc.spec?.clusterIP === 'None') return { check: 'proxy-rules', status: 'skipped', summary: 'a headless Service has no proxy rules (its name resolves to the pods)', evidence: [], object };
  const evidence: string[] = [];
  const missing: string[] = [];
  for (const n of o.nodes.map((x) => x.metadata.name!)) {
    const r = facts.serviceRules(n, svc);
    evidence.push(`node ${n}: ${r.detail}`);
    if (!r.service) missing.push(n);
  }
  if (missing.length)
    return {
      check: 'proxy-rules',
      status: 'fail',
      summary: `node${missing.length > 1 ? 's' : ''} ${missing.join(', ')} hold${missing.length > 1 ? '' : 's'} no rules for Service ${svcName(svc)}: its ClusterIP goes nowhere there`,
      evidence,
      fix: `kube-proxy writes them on each sync: make it run (kube-proxy check), or restart it (podpath restart proxy-${missing[0]}); compare with podpath ssh ${missing[0]} -- iptables-save`,
      object,
    };
  return { check: 'proxy-rules', status: 'ok', summary: `every node's kernel holds rules for Service ${svcName(svc)}`, evidence, object };
}
