// `podpath diagnose`: seed 003's "Service unreachable" checklist over the cluster's objects, plus
// what only a running lab can tell (sockets, kube-proxy's health, the kernel's rules: LiveFacts),
// ending in the path itself as the trace computes it. Pure: objects, events, the address plan,
// the proxy mode and the live facts (none offline) in; the Diagnosis out. The first failing check
// is the hop that fails; the trace's verdict for the same path is reported beside it, and the
// path check fails when the trace does not deliver, or delivers where nothing listens (live) or
// to a port the pod does not declare (offline).
import type { Event, ServicePort } from '../api/types.ts';
import { PolicyModel, explain, type Endpoint } from '../netpol/policy.ts';
import { ClusterIndex, type AddressPlan, type ClusterObjects } from '../trace/cluster.ts';
import { parseTarget, trace, type TraceContext, type TraceRequest } from '../trace/engine.ts';
import type { RuleWalker } from '../trace/netfilter.ts';
import { isIngressController, portServer } from '../trace/podports.ts';
import { isIPAddress } from '../trace/resolve.ts';
import { renderNodeRules, traceProxyModes, type TraceProxyMode } from '../trace/rules.ts';
import { TraceError, type Hop, type Protocol, type Trace } from '../trace/types.ts';
import { dnsFinding, type Source } from './dns.ts';
import { ingressChecks, type IngressScope } from './ingress.ts';
import { kubeProxyFinding, proxyRulesFinding } from './nodes.ts';
import { declaredPorts, isReady, podName, resolveTargetPort } from './pods.ts';
import { findService, missingService, serviceChecks, svcName, svcRef, trafficPolicyFinding, type ServiceScope } from './service.ts';
import { checkOrder, DiagnoseError, type Diagnosis, type Finding, type LiveFacts } from './types.ts';
import { applyDefaults } from '../api/defaults.ts';

export interface DiagnoseInput {
  objects: ClusterObjects;
  /** the cluster's Events (the kubelet's probe failures among them); none from most state files */
  events: Event[];
  plan: AddressPlan;
  /** kube-proxy's mode (the trace computes iptables and nftables rules) */
  mode: string;
  /** what a running lab tells; absent offline */
  facts?: LiveFacts;
}

export interface DiagnoseRequest {
  /** svc/NS/NAME[:PORT] or ingress/NS/NAME; or none, with `to` */
  target?: string;
  /** client | node/NAME | pod/NS/NAME (default: the first node for a Service, the client for an Ingress) */
  from?: string;
  /** a destination as `podpath trace --to` takes it */
  to?: string;
  protocol?: Protocol;
}

type Target = { kind: 'svc'; namespace: string; name: string; port?: string } | { kind: 'ingress'; namespace: string; name: string } | { kind: 'to'; to: string };

export function parseDiagnoseTarget(req: DiagnoseRequest): Target {
  if (req.target !== undefined && req.to !== undefined) throw new DiagnoseError('BadFlags', `give either ${req.target} or --to ${req.to}, not both`);
  if (req.target === undefined) {
    if (req.to === undefined) throw new DiagnoseError('BadTarget', 'what to diagnose: svc/NAMESPACE/NAME[:PORT], ingress/NAMESPACE/NAME, or --from SOURCE --to DESTINATION');
    return { kind: 'to', to: req.to };
  }
  const svc = /^(?:svc|service|services)\/([^/:]+)\/([^/:]+)(?::([^/:]+))?$/.exec(req.target);
  if (svc) return { kind: 'svc', namespace: svc[1]!, name: svc[2]!, ...(svc[3] ? { port: svc[3] } : {}) };
  const ing = /^(?:ingress|ing|ingresses)\/([^/:]+)\/([^/:]+)$/.exec(req.target);
  if (ing) return { kind: 'ingress', namespace: ing[1]!, name: ing[2]! };
  throw new DiagnoseError('BadTarget', `${req.target}: expected svc/NAMESPACE/NAME[:PORT] or ingress/NAMESPACE/NAME`);
}

/** The source a --from names, checked against the objects. */
function parseSource(ix: ClusterIndex, from: string): Source {
  if (from === 'client') return { kind: 'client', spec: from };
  const node = /^node\/(.+)$/.exec(from);
  if (node) {
    if (!ix.nodes.has(node[1]!)) throw new DiagnoseError('BadFlags', `--from ${from}: no Node ${node[1]} (nodes: ${[...ix.nodes.keys()].join(', ')})`);
    return { kind: 'node', spec: from };
  }
  const pod = /^pod\/([^/]+)\/([^/]+)$/.exec(from);
  if (pod) {
    const p = ix.pod(`${pod[1]}/${pod[2]}`);
    if (!p) throw new DiagnoseError('BadFlags', `--from ${from}: no Pod ${pod[1]}/${pod[2]}`);
    return { kind: 'pod', pod: p, spec: from };
  }
  throw new DiagnoseError('BadFlags', `--from ${from}: expected client, node/NAME or pod/NAMESPACE/NAME`);
}

/**
 * Each node's rules for the trace: as its kernel holds them where the live facts read them;
 * otherwise rendered from the objects as its kube-proxy would write them, less what the facts
 * say the kernel lacks (a Service whose rules are gone; all of them when kube-proxy's rules are
 * flushed).
 */
function traceRules(ix: ClusterIndex, mode: TraceProxyMode, facts: LiveFacts | undefined): (node: string) => RuleWalker[] {
  const cache = new Map<string, RuleWalker[]>();
  return (name) => {
    let w = cache.get(name) ?? facts?.nodeRules?.(name);
    if (w) {
      cache.set(name, w);
      return w;
    }
    const n = ix.nodes.get(name)!;
    let services = ix.objects.services;
    let flushed = false;
    if (facts) {
      const proxied = services.filter((s) => s.spec?.type !== 'ExternalName' && s.spec?.clusterIP !== 'None');
      const rules = proxied.map((s) => ({ s, r: facts.serviceRules(name, s) }));
      flushed = rules.length > 0 && !rules[0]!.r.proxyRules;
      const gone = new Set(rules.filter((x) => !x.r.service).map((x) => x.s));
      services = services.filter((s) => !gone.has(s));
    }
    const zone = ix.objects.nodes.find((x) => x.metadata.name === name)?.metadata.labels?.['topology.kubernetes.io/zone'];
    w = flushed ? [] : renderNodeRules({ mode, nodeName: name, nodeIP: n.ip, localIPs: [...n.localIPs], services, slices: ix.objects.slices, clusterCIDR: ix.plan.clusterCIDR, ...(zone ? { zone } : {}) }).walkers;
    cache.set(name, w);
    return w;
  };
}

/** The hop a trace ended at: the last before the replies. */
function decidingHop(t: Trace): Hop | undefined {
  return [...t.hops].reverse().find((h) => h.kind !== 'reply');
}

const hopWhere = (h: Hop) => (h.node ? `node ${h.node}` : (h.namespace ?? ''));

function pathFinding(t: Trace | undefined, why: string, ix: ClusterIndex, facts: LiveFacts | undefined): Finding {
  if (!t) return { check: 'path', status: 'skipped', summary: why, evidence: [] };
  const hop = decidingHop(t);
  const evidence = hop ? [`hop ${hop.step} [${hopWhere(hop)}] ${hop.kind}${hop.hook ? ` (${hop.hook})` : ''}: ${hop.note}`, ...(hop.rule ? [`rule: ${hop.rule.table} ${hop.rule.chain}: ${hop.rule.text}`] : [])] : [];
  if (t.verdict !== 'delivered') return { check: 'path', status: 'fail', summary: `the trace ${t.from} → ${t.to}: ${t.verdict.toUpperCase()}: ${t.reason}`, evidence, fix: 'see the first failing check above; podpath trace shows every hop', ...(hop?.object ? { object: hop.object } : {}) };
  const ep = t.endpoint!;
  const pod = ix.pod(ep.pod);
  const delivered = `the trace ${t.from} → ${t.to}: DELIVERED to ${ep.pod} at ${ep.ip}:${ep.port}`;
  if (pod && !pod.spec.hostNetwork) {
    const proto = (t.hops[0]?.packet.before.protocol ?? 'tcp') as 'tcp' | 'udp';
    if (facts) {
      const s = facts.sockets(pod);
      if (!('error' in s) && !s.some((x) => x.protocol === proto && x.port === ep.port)) return { check: 'path', status: 'fail', summary: `${delivered}, where nothing listens: the pod's kernel refuses the connection`, evidence, object: { kind: 'Pod', namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name! } };
    } else if (declaredPorts(pod) !== 'none' && !portServer(pod, ep.port, proto, ix.objects.services)) {
      return { check: 'path', status: 'fail', summary: `${delivered}, a port no container of the pod declares`, evidence, object: { kind: 'Pod', namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name! } };
    }
  }
  return { check: 'path', status: 'ok', summary: delivered, evidence };
}

/**
 * NetworkPolicy between the source (as the endpoint pods see it) and each endpoint pod, on its
 * target port. `fromNode`: the source is that node itself (or a hostNetwork pod on it), whose
 * connections to its own pods leave by the output hook and are never policed.
 */
function netpolFinding(ix: ClusterIndex, sources: Endpoint[], scope: ServiceScope, fromNode?: string): Finding {
  const object = svcRef(scope.svc);
  const pods = scope.endpointPods.length ? scope.endpointPods : scope.pods.filter(isReady);
  if (!pods.length || !sources.length) return { check: 'network-policy', status: 'skipped', summary: 'no endpoint pod to reach', evidence: [], object };
  const o = ix.objects;
  const model = ix.memo('policy model', () => new PolicyModel({ namespaces: o.namespaces, pods: o.pods, policies: o.policies }, applyDefaults));
  const evidence: string[] = [];
  let denied = 0;
  let total = 0;
  let own = 0;
  const deciding = new Set<string>();
  for (const from of sources) {
    for (const p of pods) {
      if (fromNode !== undefined && ix.nodeOfPod(p)?.name === fromNode) {
        own++;
        total++;
        evidence.push(`node ${fromNode} -> ${podName(p)}: allowed (the node's own connection: output hook, no NetworkPolicy applies)`);
        continue;
      }
      for (const sp of scope.ports) {
        const protocol = (sp.protocol ?? 'TCP').toUpperCase() as 'TCP';
        const port = resolveTargetPort(p, sp.targetPort, sp.port, protocol).port;
        if (port === undefined) continue;
        const c = { from, to: { pod: p }, port, protocol };
        const v = model.evaluate(c);
        total++;
        if (!v.allowed) {
          denied++;
          for (const d of [v.ingress, v.egress]) if (!d.allowed) d.policies.forEach((x) => deciding.add(x));
        }
        evidence.push(...explain(c, v).trim().split('\n').map((l) => l.trim()));
      }
    }
  }
  if (!total) return { check: 'network-policy', status: 'skipped', summary: 'no endpoint port to reach', evidence: [], object };
  const first = [...deciding][0];
  const policyObj = first ? { kind: 'NetworkPolicy', namespace: first.split('/')[0]!, name: first.split('/')[1]! } : object;
  const srcText = sources.map((s) => ('pod' in s ? podName(s.pod) : s.ip)).join(', ');
  if (own === total) return { check: 'network-policy', status: 'ok', summary: `NetworkPolicy does not apply: node ${fromNode}'s own connections to its pods leave by the output hook, not forward`, evidence, object };
  if (denied === total) return { check: 'network-policy', status: 'fail', summary: `NetworkPolicy denies ${srcText} → the endpoints of ${svcName(scope.svc)}: ${[...deciding].join(', ')} isolate${deciding.size === 1 ? 's' : ''} them and no rule allows it (default deny)`, evidence, fix: `add a NetworkPolicy rule that allows this source on the target port (kubectl get networkpolicy -n ${scope.svc.metadata.namespace ?? 'default'}; podpath netpol check)`, object: policyObj };
  if (denied) return { check: 'network-policy', status: 'warn', summary: `NetworkPolicy denies ${denied} of ${total} source/endpoint pairs (${[...deciding].join(', ')})`, evidence, fix: 'the denied endpoints drop the connections the kernel sends them', object: policyObj };
  return { check: 'network-policy', status: 'ok', summary: `NetworkPolicy allows ${srcText} → the endpoints of ${svcName(scope.svc)}`, evidence, object };
}

/** The node a source is, or whose network a hostNetwork pod shares; undefined for pods and the client. */
function sourceNode(ix: ClusterIndex, src: Source): string | undefined {
  if (src.kind === 'node') return src.spec.slice('node/'.length);
  if (src.kind === 'pod' && src.pod.spec?.hostNetwork) return ix.nodeOfPod(src.pod)?.name;
  return undefined;
}

/**
 * Where the endpoint pods see the connection come from: a pod as itself (kube-proxy masquerades a
 * pod's traffic only when it hairpins back to the same pod); from outside the pod network, the
 * source as the trace's NetworkPolicy hop saw it (a node's address after masquerade), else as sent.
 */
function policySources(ix: ClusterIndex, src: Source, t: Trace | undefined): Endpoint[] {
  if (src.kind === 'pod') return [{ pod: src.pod }];
  const ip = t?.hops.find((h) => h.kind === 'netpol')?.packet.before.src;
  if (ip) return [ix.podByIP(ip) ? { pod: ix.podByIP(ip)! } : { ip }];
  if (src.kind === 'client') return [{ ip: ix.plan.clientIP }];
  return [{ ip: ix.nodes.get(src.spec.slice('node/'.length))!.ip }];
}

function servicePorts(ports: ServicePort[], spec: string | undefined, what: string): ServicePort[] {
  if (spec === undefined) return ports;
  const p = ports.filter((x) => String(x.port) === spec || x.name === spec);
  if (!p.length) throw new DiagnoseError('BadTarget', `${what} has no port ${spec} (its ports: ${ports.map((x) => `${x.name ? `${x.name}=` : ''}${x.port}`).join(', ') || 'none'})`);
  return p;
}

export function diagnose(input: DiagnoseInput, req: DiagnoseRequest): Diagnosis {
  const target = parseDiagnoseTarget(req);
  const { objects: o, events, facts } = input;
  const ix = new ClusterIndex(o, input.plan);
  if (!ix.nodes.size) throw new DiagnoseError('BadState', 'the objects hold no Node with an InternalIP and a podCIDR');
  const traceable = (traceProxyModes as readonly string[]).includes(input.mode);
  const ctx: TraceContext | undefined = traceable ? { ix, mode: input.mode, rules: traceRules(ix, input.mode as TraceProxyMode, facts) } : undefined;
  const untraced = `not traced: the trace computes ${traceProxyModes.join(' and ')} rules, and kube-proxy runs in ${input.mode} mode`;
  /** the trace of one connection (none when kube-proxy's mode is not one the trace computes); a source or destination it cannot parse is bad input */
  const traceFn = (r: TraceRequest): Trace | undefined => {
    if (!ctx) return undefined;
    try {
      return trace(ctx, r);
    } catch (e) {
      if (e instanceof TraceError) throw new DiagnoseError(e.code === 'BadState' ? 'BadState' : 'BadFlags', e.message);
      throw e;
    }
  };
  const from = req.from ?? (target.kind === 'svc' ? `node/${[...ix.nodes.keys()][0]}` : 'client');
  const src = parseSource(ix, from);
  const proto = req.protocol ? { protocol: req.protocol } : {};
  const findings: Finding[] = [];
  let path: Trace | undefined;
  let to = '';
  let pathWhy = untraced;
  /** what follows a Service's own checks: its rules on the nodes, traffic policy, NetworkPolicy from `sources` */
  const forService = (scope: ServiceScope, sources: Endpoint[], fromNode?: string) => {
    findings.push(proxyRulesFinding(o, scope.svc, facts, input.mode));
    const last = path && decidingHop(path);
    const droppedAt = path?.verdict === 'dropped' && last?.object?.kind === 'Service' && last.object.name === scope.svc.metadata.name ? last.node : undefined;
    findings.push(trafficPolicyFinding(o, scope.svc, droppedAt));
    findings.push(netpolFinding(ix, sources, scope, fromNode));
  };
  /** an Ingress's checks, then each backend Service's, reached from the controller's pods */
  const forIngress = (ing: IngressScope) => {
    findings.push(...ing.findings);
    const controllers: Endpoint[] = o.pods.filter((p) => isIngressController(p) && isReady(p)).map((p) => ({ pod: p }));
    for (const b of ing.backends) {
      const s = serviceChecks(o, events, b.svc, [b.port], facts);
      findings.push(...s.findings);
      forService(s.scope, controllers);
    }
  };
  if (target.kind === 'svc') {
    const svc = findService(o, target.namespace, target.name);
    to = `svc/${target.namespace}/${target.name}${target.port ? `:${target.port}` : ''}`;
    if (!svc) {
      findings.push(missingService(o, target.namespace, target.name));
      pathWhy = 'not traced: there is no Service to trace to';
    } else {
      const ports = servicePorts(svc.spec?.ports ?? [], target.port, `Service ${svcName(svc)}`);
      const s = serviceChecks(o, events, svc, ports, facts);
      findings.push(...s.findings);
      if (svc.spec?.clusterIP && svc.spec.clusterIP !== 'None' && ports.length) path = traceFn({ from, to, ...proto });
      else pathWhy = `not traced: Service ${svcName(svc)} has no ClusterIP (headless or ExternalName)`;
      forService(s.scope, policySources(ix, src, path), sourceNode(ix, src));
      findings.push(dnsFinding(ix, events, src, `${target.name}.${target.namespace}`, true, target.namespace, traceFn, facts));
    }
  } else if (target.kind === 'ingress') {
    // the request its first rule describes, from the client unless told otherwise
    const ing = ingressChecks(o, target.namespace, target.name);
    const url = ing.url;
    to = url ?? '';
    if (url) path = traceFn({ from, to: url });
    else pathWhy = 'not traced: the Ingress has no rule with a host to send a request to';
    forIngress(ing);
    if (url) findings.push(dnsFinding(ix, events, src, new URL(url).hostname, false, target.namespace, traceFn, facts));
  } else {
    to = target.to;
    path = traceFn({ from, to, ...proto });
    // what the path went through: an Ingress (its checks, then its backends'), else the first Service
    const ingHop = path?.hops.find((h) => h.kind === 'ingress' && h.object?.kind === 'Ingress');
    const svcHop = path?.hops.find((h) => h.object?.kind === 'Service');
    if (ingHop?.object) forIngress(ingressChecks(o, ingHop.object.namespace!, ingHop.object.name));
    else if (svcHop?.object) {
      const svc = findService(o, svcHop.object.namespace!, svcHop.object.name)!;
      const port = path!.hops[0]!.packet.after.dstPort;
      const all = svc.spec?.ports ?? [];
      const ports = all.filter((p) => p.port === port || p.nodePort === port);
      const s = serviceChecks(o, events, svc, ports.length ? ports : all, facts);
      findings.push(...s.findings);
      forService(s.scope, policySources(ix, src, path), sourceNode(ix, src));
    }
    const t = parseTarget(to);
    const host = t.service ? undefined : t.host;
    findings.push(dnsFinding(ix, events, src, host && !isIPAddress(host) ? host : undefined, false, src.kind === 'pod' ? (src.pod.metadata.namespace ?? 'default') : 'default', traceFn, facts));
  }
  findings.push(kubeProxyFinding(o, facts, input.mode));
  findings.push(pathFinding(path, pathWhy, ix, facts));
  const order = (c: string) => (checkOrder as readonly string[]).indexOf(c);
  const sorted = findings.map((f, i) => ({ f, i })).sort((a, b) => order(a.f.check) - order(b.f.check) || a.i - b.i).map((x) => x.f);
  const failing = sorted.find((f) => f.status === 'fail');
  const hop = path && decidingHop(path);
  return {
    target: req.target ?? req.to!,
    from,
    to,
    mode: input.mode,
    source: facts ? 'live' : 'offline',
    result: failing ? 'failing' : 'ok',
    ...(failing ? { failing: { check: failing.check, summary: failing.summary } } : {}),
    findings: sorted,
    ...(path ? { trace: { verdict: path.verdict, reason: path.reason, ...(hop ? { hop: { step: hop.step, kind: hop.kind, where: hopWhere(hop), note: hop.note, ...(hop.object ? { object: hop.object } : {}) } } : {}) } } : {}),
  };
}
