// `podpath diagnose --name LAB`: the checklist over a running lab — its objects and Events from the
// API server, kube-proxy's mode from its ConfigMap — with the facts only the lab can tell,
// gathered through the executor: the listening sockets in a pod's network namespace
// (/proc/net/{tcp,udp}{,6} read inside it), kube-proxy's /healthz on each node, and whether each
// node's kernel holds the Service's rules.
import YAML from 'yaml';
import { ApiError } from '../api/errors.ts';
import type { Container, Event, KubeObject, Pod, Service } from '../api/types.ts';
import { sandboxName } from '../agent/sandbox.ts';
import { collectionPath, objectPath, type Client } from '../client/client.ts';
import { diagnose, type DiagnoseRequest } from '../diagnose/diagnose.ts';
import { resolveTargetPort } from '../diagnose/pods.ts';
import type { Diagnosis, LiveFacts, ProxyHealth, Socket } from '../diagnose/types.ts';
import { defaultExecutor, type Executor } from '../exec/exec.ts';
import { readNodeRules } from '../trace/kernel.ts';
import { readClusterObjects } from '../trace/live.ts';
import type { RuleWalker } from '../trace/netfilter.ts';
import { traceProxyModes } from '../trace/rules.ts';
import { parseProcNet } from '../util/procnet.ts';
import { pickLab, labClient } from './access.ts';
import { clientIP, clusterCIDR, clusterDNS, proxyHealthzAddress, routerIP, serviceCIDR, underlayCIDR } from './defaults.ts';
import { kubeProxyName, kubeProxyNamespace } from './kubeproxy.ts';
import type { LabState } from './lab.ts';
import { nodeRulesPresence } from './servicerules.ts';

/** kube-proxy's mode as its ConfigMap gives it ("" is iptables, as kubeadm writes it); none when the lab runs no kube-proxy. */
export async function labProxyMode(client: Client): Promise<string> {
  let cm: KubeObject & { data?: Record<string, string> };
  try {
    cm = await client.get<typeof cm>(objectPath('v1', 'configmaps', kubeProxyNamespace, kubeProxyName));
  } catch (e) {
    if (e instanceof ApiError && e.code === 404) return 'none';
    throw e;
  }
  const conf = YAML.parse(cm.data?.['config.conf'] ?? '') as { mode?: string } | null;
  return conf?.mode || 'iptables';
}

const procTables = ['tcp', 'tcp6', 'udp', 'udp6'] as const;

/** The facts of a running lab, each read when first asked for. */
export function labFacts(s: LabState, mode: string, ex: Executor = defaultExecutor, kernelRules = new Map<string, RuleWalker[]>()): LiveFacts {
  const netnsOf = (node: string) => s.nodes.find((n) => n.name === node)?.netns;
  const rules = new Map<string, ReturnType<typeof nodeRulesPresence>>();
  return {
    sockets(pod: Pod): Socket[] | { error: string } {
      if (!pod.metadata.uid) return { error: 'the pod has no uid' };
      const netns = sandboxName(s.podNetnsPrefix, pod.metadata.uid);
      // one command for the four tables, each headed by its name
      const r = ex.exec(['sh', '-c', procTables.map((t) => `echo "# ${t}"; cat /proc/net/${t}`).join('; ')], { netns });
      if (r.status !== 0) return { error: (r.stderr || r.error || `exit ${r.status}`).trim() };
      const out: Socket[] = [];
      for (const part of r.stdout.split(/^# /m).slice(1)) {
        const nl = part.indexOf('\n');
        const table = part.slice(0, nl);
        out.push(...parseProcNet(part.slice(nl + 1), table.startsWith('tcp') ? 'tcp' : 'udp'));
      }
      return out;
    },
    proxyHealth(node: string): ProxyHealth {
      const netns = netnsOf(node);
      if (!netns) return { answered: false, healthy: false, detail: `node ${node} is not in lab ${s.name}` };
      const r = ex.exec(['curl', '-sS', '--max-time', '3', '-w', '\n%{http_code}', `http://${proxyHealthzAddress}/healthz`], { netns });
      if (r.status !== 0) return { answered: false, healthy: false, detail: `nothing answers on ${proxyHealthzAddress} (${(r.stderr || r.error || '').trim().split('\n').at(-1)})` };
      const lines = r.stdout.trimEnd().split('\n');
      const code = Number(lines.at(-1));
      const body = lines.slice(0, -1).join(' ');
      let last = '';
      try {
        last = (JSON.parse(body) as { lastUpdated?: string }).lastUpdated ?? '';
      } catch {
        // not kube-proxy's JSON: shown as it is
      }
      return { answered: true, healthy: code === 200, detail: `${code}${last ? ` (lastUpdated ${last})` : ` ${body}`}` };
    },
    nodeRules: (node: string) => kernelRules.get(node),
    serviceRules(node: string, svc: Service) {
      let check = rules.get(node);
      if (!check) {
        const netns = netnsOf(node);
        if (!netns) return { proxyRules: false, service: false, detail: `node ${node} is not in lab ${s.name}` };
        check = nodeRulesPresence(netns, mode, ex);
        rules.set(node, check);
      }
      return check(svc);
    },
    readinessProbe(pod: Pod, c: Container) {
      const netns = netnsOf(pod.spec.nodeName ?? '');
      return netns ? runReadinessProbe(pod, c, netns, s.podNetnsPrefix, ex) : { ok: false, message: `the pod's node ${pod.spec.nodeName ?? '(none)'} is not in lab ${s.name}` };
    },
    resolve(pod: Pod, name: string) {
      if (!pod.metadata.uid) return { addresses: [], detail: 'the pod has no uid' };
      // getent as the pod's processes resolve: its resolv.conf (search path, ndots) bound over /etc
      const argv = ['getent', 'ahostsv4', name];
      const r = ex.exec(argv, { netns: sandboxName(s.podNetnsPrefix, pod.metadata.uid), netnsEtc: true, timeoutMs: 8000 });
      const addresses = [...new Set(r.stdout.split('\n').map((l) => l.split(/\s+/)[0]!).filter(Boolean))];
      const why = r.status === 2 ? 'no answer (getent exit 2: not found or no server reachable)' : r.status === null ? `no answer within 8 s${r.error ? ` (${r.error})` : ''}` : `exit ${r.status}`;
      return { addresses, detail: `${argv.join(' ')}: ${addresses.length ? addresses.join(', ') : why}` };
    },
  };
}

/**
 * A readiness probe run once, as the kubelet runs it (httpGet and tcpSocket from the node to the
 * pod's address, exec inside the pod), reported in the kubelet's words: "HTTP probe failed with
 * statuscode: 503", `Get "URL": dial tcp IP:PORT: connect: connection refused`, the command's
 * output (pkg/probe/http, tcp and exec).
 */
function runReadinessProbe(pod: Pod, c: Container, nodeNetns: string, podPrefix: string, ex: Executor): { ok: boolean; message: string } {
  const p = c.readinessProbe!;
  const timeout = p.timeoutSeconds ?? 1;
  const ip = pod.status?.podIP ?? '';
  const portOf = (v: number | string) => resolveTargetPort(pod, v, 0, 'TCP').port ?? 0;
  if (p.httpGet) {
    const host = p.httpGet.host ?? ip;
    const port = portOf(p.httpGet.port);
    const url = `${(p.httpGet.scheme ?? 'HTTP').toLowerCase()}://${host}:${port}${p.httpGet.path ?? '/'}`;
    const headers = (p.httpGet.httpHeaders ?? []).flatMap((h) => ['-H', `${h.name}: ${h.value}`]);
    const r = ex.exec(['curl', '-sS', '-k', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', String(timeout), '-H', 'User-Agent: kube-probe/1.33', ...headers, url], { netns: nodeNetns, timeoutMs: (timeout + 5) * 1000 });
    if (r.status === 7) return { ok: false, message: `Get "${url}": dial tcp ${host}:${port}: connect: connection refused` };
    if (r.status === 28) return { ok: false, message: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` };
    if (r.status !== 0) return { ok: false, message: `Get "${url}": ${(r.stderr || r.error || `curl exit ${r.status}`).trim()}` };
    const code = Number(r.stdout.trim());
    return code >= 200 && code < 400 ? { ok: true, message: `HTTP ${code}` } : { ok: false, message: `HTTP probe failed with statuscode: ${code}` };
  }
  if (p.tcpSocket) {
    const host = p.tcpSocket.host ?? ip;
    const port = portOf(p.tcpSocket.port);
    const r = ex.exec(['timeout', String(timeout), 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`], { netns: nodeNetns, timeoutMs: (timeout + 5) * 1000 });
    if (r.status === 0) return { ok: true, message: `connected to ${host}:${port}` };
    return { ok: false, message: `dial tcp ${host}:${port}: ${r.status === 124 ? 'i/o timeout' : 'connect: connection refused'}` };
  }
  if (p.exec?.command?.length) {
    if (!pod.metadata.uid) return { ok: false, message: 'the pod has no uid' };
    const r = ex.exec(p.exec.command, { netns: sandboxName(podPrefix, pod.metadata.uid), netnsEtc: true, timeoutMs: timeout * 1000 });
    const out = `${r.stdout}${r.stderr}`.trim();
    return r.status === 0 ? { ok: true, message: out || 'exit 0' } : { ok: false, message: out || (r.status === null ? `command timed out after ${timeout}s` : `command exited with ${r.status}`) };
  }
  return { ok: false, message: 'a probe kind this check does not run' };
}

export async function diagnoseLab(name: string | undefined, req: DiagnoseRequest, ex: Executor = defaultExecutor): Promise<Diagnosis> {
  const s = pickLab(name);
  const client = labClient(s);
  try {
    const [objects, events, mode] = await Promise.all([readClusterObjects(client), client.get<{ items: Event[] }>(collectionPath('v1', 'events')).then((l) => l.items), labProxyMode(client)]);
    const plan = { underlayCIDR, routerIP, clientIP, clusterCIDR, serviceCIDR, clusterDNS, clusterDomain: 'cluster.local', cniBackend: s.cniBackend };
    // Each node's rules as its kernel holds them, for the path's trace (the modes the trace walks).
    const kernelRules = new Map<string, RuleWalker[]>();
    if ((traceProxyModes as readonly string[]).includes(mode)) {
      // a node whose rules cannot be read is traced over rules rendered from the objects instead
      await Promise.all(s.nodes.map((n) => readNodeRules(n.netns, mode, ex).then((w) => kernelRules.set(n.name, w), () => undefined)));
    }
    return diagnose({ objects, events, plan, mode, facts: labFacts(s, mode, ex, kernelRules) }, req);
  } finally {
    client.close();
  }
}
