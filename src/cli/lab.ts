// podpath up | down | status | exec | curl | service | proxy ipvsadm: the lab commands' flags
// resolved and their results printed; the work is in lab/.
// What only one command needs is imported by that command: `podpath curl` and `exec`, which tests
// and users run by the hundred, do not load the lab builder's graph (certificates, YAML, addons).
import { curlIn, labClient, labNode, pickLab, proxyIpvsTable, runIn, sshNode } from '../lab/access.ts';
import { listLabs, restartDaemon } from '../lab/lab.ts';
import { bgpPeerType } from '../cni/bird.ts';
import type { UpOptions, UpProgress, UpSummary } from '../lab/up.ts';

export { pickLab };
export type { UpOptions };

const say = (s: string): void => void process.stdout.write(`${s}\n`);

export async function up(o: UpOptions): Promise<void> {
  await (await import('../lab/up.ts')).up(o, printer(o.name));
  say(`remove the lab:\n  podpath down --name ${o.name}`);
}

/** How `podpath up` tells what happens. */
function printer(name: string): UpProgress {
  return {
    note: say,
    applied: say,
    up: printSummary,
    nodePortRefusing: (url) => say(`warning: ${url} still refuses connections`),
    ingresses: (list) => {
      for (const ing of list) {
        say(`reach Ingress ${ing.namespace}/${ing.name} through the Ingress controller (Service ingress-nginx/ingress-nginx-controller, LoadBalancer ${ing.address ?? '<pending>'}):`);
        for (const u of ing.urls) say(`  podpath curl --name ${name} ${u}        # the lab's DNS answers ${new URL(u).hostname} with ${ing.address ?? 'its address'}`);
      }
    },
    nodePorts: (services, mode) => {
      for (const svc of services) {
        say(`reach Service ${svc.namespace}/${svc.name} through its NodePort (kube-proxy, ${mode} mode):`);
        say(`  podpath curl --name ${name} ${svc.url}        # from the client namespace`);
        say(`  podpath service ${svc.name} --name ${name}${svc.namespace !== 'default' ? ` -n ${svc.namespace}` : ''} --url     # a 127.0.0.1 URL on this host`);
      }
    },
  };
}

function printSummary(s: UpSummary): void {
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  say(`\nlab ${s.name} is up in ${secs(s.podsReadyMs)} (nodes Ready ${secs(s.nodesReadyMs)}, pods Running ${secs(s.podsRunningMs)}, pods Ready ${secs(s.podsReadyMs)})`);
  say(`nodes ${s.nodes.map((n) => `${n.name} ${n.ip}`).join(', ')}; client ${s.clientIP}`);
  say(`kubectl: context ${s.context} in ${s.kubeconfig} (API server through ${s.apiURL})`);
  say(`  kubectl${s.kubeconfigGiven ? ` --kubeconfig ${s.kubeconfig}` : ''} get nodes,pods,svc -o wide`);
  for (const x of s.pods) say(`  pod ${x.metadata.namespace}/${x.metadata.name} ${x.status?.podIP ?? ''} on ${x.spec.nodeName ?? ''}`);
  say(`lab CA: ${s.labCA} (signs the TLS Secrets of Ingresses annotated cert-manager.io/cluster-issuer; podpath curl trusts it)`);
  if (s.clusterDNS) say(`cluster DNS: Service kube-system/kube-dns ${s.clusterDNS} (CoreDNS, ${s.pods.filter((x) => x.metadata.labels?.['k8s-app'] === 'kube-dns').length} pods); pods resolve Service names, e.g. api-service or kubernetes.default`);
  const first = s.pods.find((x) => x.metadata.namespace !== 'kube-system' && x.status?.podIP && x.spec.containers[0]?.ports?.length);
  if (first) {
    const port = first.spec.containers[0]!.ports![0]!.containerPort;
    say(`reach a pod from the client namespace (the lab's stand-in for your computer, ${s.clientIP}):`);
    const probePath = first.spec.containers[0]!.readinessProbe?.httpGet?.path ?? '/';
    say(`  podpath curl --name ${s.name} http://${first.status!.podIP}:${port}${probePath}`);
  }
}

export async function down(name: string | undefined): Promise<void> {
  const names = name ? [name] : listLabs();
  if (names.length === 0) return say('no lab to remove');
  for (const n of names) {
    for (const line of await (await import('../lab/down.ts')).removeLab(n)) say(`${n}: ${line}`);
    say(`lab ${n} removed`);
  }
}

export async function status(only?: string): Promise<void> {
  const labs = listLabs().filter((n) => !only || n === only);
  if (only && !labs.length) throw new Error(`no lab named ${only} (podpath status lists the labs)`);
  if (!labs.length) return say('no labs');
  for (const n of labs) {
    const s = await (await import('../lab/status.ts')).labStatus(n);
    say(`lab ${n}: created ${s.createdAt}; API ${s.apiURL}; processes: ${s.processes.map((p) => `${p.component}${p.alive ? '' : ' (dead)'}`).join(', ')}`);
    for (const node of s.nodes ?? []) {
      say(`  node ${node.name} ${node.address} ${node.ready ? 'Ready' : 'NotReady'} podCIDR ${node.podCIDR ?? '-'}`);
      // a line per BGP peer, as `calicoctl node status` lists them
      if (node.bgp && 'error' in node.bgp) say(`    BGP: BIRD not answering (${node.bgp.error})`);
      else for (const p of node.bgp?.sessions ?? []) say(`    BGP peer ${p.peer} (${bgpPeerType(p.kind)}) ${p.state} since ${p.since} ${p.info}`.trimEnd());
    }
    if (s.apiError !== undefined) say(`  API server unreachable: ${s.apiError}`);
  }
}

/** `podpath exec`: the command's exit code. */
export function execIn(name: string | undefined, from: string, argv: string[]): Promise<number> {
  return runIn(name, from, argv);
}

export function curl(name: string | undefined, from: string, args: string[]): Promise<number> {
  return curlIn(name, from, args);
}

/** `podpath proxy ipvsadm`: a node's IPVS table as its kube-proxy reports it (live in userspace mode). */
export function ipvsadm(name: string | undefined, node: string | undefined, o: { stats?: boolean; connections?: boolean }): number {
  process.stdout.write(proxyIpvsTable(name, node, o.stats ? '?stats' : o.connections ? '?connections' : ''));
  return 0;
}

/** `minikube service NAME --url`: prints the 127.0.0.1 URL; the returned function closes the tunnel. */
export async function service(name: string | undefined, svcName: string, namespace: string, onUrl: (url: string) => void): Promise<() => void> {
  const t = await (await import('../lab/service.ts')).openServiceTunnel(name, svcName, namespace);
  onUrl(t.url);
  return t.close;
}

/** The components that are DaemonSet pods: the label of their pods, by the component's prefix. */
const daemonSetComponents: Record<string, { selector: string; what: string; none: string }> = {
  proxy: { selector: 'k8s-app=kube-proxy', what: 'kube-proxy', none: 'is its --proxy-mode none?' },
  netpol: { selector: 'k8s-app=podpath-netpol', what: 'the NetworkPolicy agent', none: 'was it made with --no-netpol?' },
  calico: { selector: 'k8s-app=calico-node', what: 'the BGP daemon calico-node', none: 'was it made with --cni-backend bgp?' },
};

/**
 * `podpath restart COMPONENT`: a lab process stopped and started again; for proxy-NODE and
 * netpol-NODE (DaemonSet pods) the node's pod deleted and the DaemonSet's new one awaited.
 */
export async function restart(name: string | undefined, component: string): Promise<string> {
  const s = pickLab(name);
  const m = /^(proxy|netpol)-(.+)$/.exec(component);
  if (m && !s.daemons?.[component]) {
    const ds = daemonSetComponents[m[1]!]!;
    const node = labNode(s, m[2]).name;
    const client = labClient(s);
    try {
      const r = await (await import('../lab/kubeproxy.ts')).restartDaemonSetPod(client, ds.selector, node);
      if (!r.deleted.length) throw new Error(`lab ${s.name} has no pod of ${ds.what} on ${node} (${ds.none})`);
      return `pod kube-system/${r.deleted.join(', ')} deleted; ${r.started ? `${ds.what} runs again as pod kube-system/${r.started}` : `its replacement has not started yet (kubectl get pods -n kube-system -l ${ds.selector})`}`;
    } finally {
      client.close();
    }
  }
  const pid = await restartDaemon(s, component);
  return `${component} of lab ${s.name} restarted (pid ${pid})`;
}

/** `podpath ssh [NODE] [-- COMMAND]`: its exit code. */
export function ssh(name: string | undefined, node: string | undefined, argv: string[]): number {
  return sshNode(name, node, argv);
}
