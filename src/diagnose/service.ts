// The Service's part of the checklist (seed 003, "how to troubleshoot a Service that cannot be
// reached"): it exists; its selector matches pods, else which labels differ from the nearest
// ones; those pods are Ready, else why not; each targetPort resolves to a containerPort of theirs;
// an EndpointSlice lists them; live, a socket listens on the port in each pod's network namespace;
// externalTrafficPolicy/internalTrafficPolicy Local leave a node without a local endpoint.
import type { EndpointSlice, Event, Pod, Service, ServicePort } from '../api/types.ts';
import { formatLabels, fromSet, matches } from '../api/labels.ts';
import type { ClusterObjects } from '../trace/cluster.ts';
import type { ObjectRef } from '../trace/types.ts';
import { declaredPorts, isLive, isReady, notReadyEvidence, podName, resolveTargetPort } from './pods.ts';
import type { Finding, LiveFacts, Socket } from './types.ts';

export const svcName = (s: Service) => `${s.metadata.namespace ?? 'default'}/${s.metadata.name}`;
export const svcRef = (s: Service): ObjectRef => ({ kind: 'Service', namespace: s.metadata.namespace ?? 'default', name: s.metadata.name! });
const portText = (p: ServicePort) => `${p.name ? `${p.name} ` : ''}${p.port}→${p.targetPort ?? p.port}/${p.protocol ?? 'TCP'}${p.nodePort ? ` (NodePort ${p.nodePort})` : ''}`;

export function findService(o: ClusterObjects, namespace: string, name: string): Service | undefined {
  return o.services.find((s) => s.metadata.name === name && (s.metadata.namespace ?? 'default') === namespace);
}

export function serviceSlices(o: ClusterObjects, svc: Service): EndpointSlice[] {
  const ns = svc.metadata.namespace ?? 'default';
  return o.slices.filter((s) => (s.metadata.namespace ?? 'default') === ns && s.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name);
}

/** What the Service part found, for the checks after it (kube-proxy, NetworkPolicy, the path). */
export interface ServiceScope {
  svc: Service;
  /** the ports in question (the one asked for, else all) */
  ports: ServicePort[];
  /** the live pods its selector matches */
  pods: Pod[];
  /** the pods its EndpointSlices list as ready (by targetRef or address) */
  endpointPods: Pod[];
}

export function missingService(o: ClusterObjects, namespace: string, name: string): Finding {
  const others = o.services.filter((s) => (s.metadata.namespace ?? 'default') === namespace).map((s) => s.metadata.name!);
  const elsewhere = o.services.filter((s) => s.metadata.name === name).map(svcName);
  return {
    check: 'service',
    status: 'fail',
    summary: `there is no Service ${namespace}/${name}`,
    evidence: [`Services in ${namespace}: ${others.join(', ') || 'none'}`, ...(elsewhere.length ? [`a Service of that name in another namespace: ${elsewhere.join(', ')}`] : [])],
    fix: `create it, or name the right one (kubectl get svc -n ${namespace})`,
    object: { kind: 'Service', namespace, name },
  };
}

export function serviceChecks(o: ClusterObjects, events: Event[], svc: Service, ports: ServicePort[], facts: LiveFacts | undefined): { findings: Finding[]; scope: ServiceScope } {
  const ns = svc.metadata.namespace ?? 'default';
  const object = svcRef(svc);
  const findings: Finding[] = [];
  const spec = svc.spec ?? {};
  findings.push({
    check: 'service',
    status: 'ok',
    summary: `Service ${svcName(svc)} exists: type ${spec.type ?? 'ClusterIP'}, ClusterIP ${spec.clusterIP ?? 'none'}, ports ${(spec.ports ?? []).map(portText).join(', ') || 'none'}`,
    evidence: [],
    object,
  });
  const inNs = o.pods.filter((p) => (p.metadata.namespace ?? 'default') === ns && isLive(p));
  const selector = spec.selector && Object.keys(spec.selector).length ? spec.selector : undefined;
  const pods = selector ? inNs.filter((p) => matches(fromSet(selector), p.metadata.labels)) : [];
  findings.push(selectorFinding(svc, selector, pods, inNs));
  const slices = serviceSlices(o, svc);
  const readyIPs = new Set(slices.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses ?? [])));
  const endpointPods = o.pods.filter((p) => (p.metadata.namespace ?? 'default') === ns && p.status?.podIP && readyIPs.has(p.status.podIP));
  findings.push(readyFinding(svc, pods, events, facts));
  const checkedPods = pods.length ? pods : endpointPods;
  const sockets = new Map<Pod, Socket[] | { error: string }>();
  const socketsOf = (p: Pod) => {
    if (!facts) return undefined;
    if (!sockets.has(p)) sockets.set(p, facts.sockets(p));
    return sockets.get(p);
  };
  findings.push(targetPortFinding(svc, ports, checkedPods, socketsOf));
  findings.push(endpointsFinding(svc, slices, pods, endpointPods, findings));
  findings.push(listeningFinding(svc, ports, endpointPods.length ? endpointPods : checkedPods, facts ? socketsOf : undefined));
  return { findings, scope: { svc, ports, pods, endpointPods } };
}

function selectorFinding(svc: Service, selector: Record<string, string> | undefined, pods: Pod[], inNs: Pod[]): Finding {
  const object = svcRef(svc);
  const ns = svc.metadata.namespace ?? 'default';
  if (!selector) return { check: 'selector', status: 'skipped', summary: `Service ${svcName(svc)} has no selector: its EndpointSlices are written by hand, not from pods`, evidence: [], object };
  const sel = formatLabels(selector);
  if (pods.length) return { check: 'selector', status: 'ok', summary: `selector ${sel} matches ${pods.length} pod${pods.length > 1 ? 's' : ''}: ${pods.map((p) => p.metadata.name).join(', ')}`, evidence: [], object };
  // the nearest pods: those agreeing with most of the selector's labels, then those carrying its keys
  const score = (p: Pod) => Object.entries(selector).reduce((n, [k, v]) => n + (p.metadata.labels?.[k] === v ? 2 : p.metadata.labels?.[k] !== undefined ? 1 : 0), 0);
  const near = inNs.map((p) => ({ p, s: score(p) })).filter((x) => x.s > 0).sort((a, b) => b.s - a.s || podName(a.p).localeCompare(podName(b.p))).slice(0, 3);
  const evidence = near.map(({ p }) => {
    const diff = Object.entries(selector)
      .filter(([k, v]) => p.metadata.labels?.[k] !== v)
      .map(([k, v]) => (p.metadata.labels?.[k] === undefined ? `has no label ${k} (selector wants ${k}=${v})` : `has ${k}=${p.metadata.labels[k]} (selector wants ${k}=${v})`));
    return `nearest: pod ${podName(p)} [${formatLabels(p.metadata.labels)}] ${diff.join(', ')}`;
  });
  if (!near.length) evidence.push(inNs.length ? `no pod in ${ns} carries any of the selector's labels (pods there: ${inNs.map((p) => p.metadata.name).join(', ')})` : `no pod runs in namespace ${ns} (a workload scaled to zero, or not created yet)`);
  return {
    check: 'selector',
    status: 'fail',
    summary: `selector ${sel} of Service ${svcName(svc)} matches no pod`,
    evidence,
    fix: near.length ? `make the Service's selector and the pods' labels agree: kubectl edit svc ${svc.metadata.name} -n ${ns} (or kubectl label pod); compare with kubectl get pods -n ${ns} --show-labels` : `start the pods the Service is for (kubectl get deploy -n ${ns}), or correct its selector`,
    object,
  };
}

function readyFinding(svc: Service, pods: Pod[], events: Event[], facts: LiveFacts | undefined): Finding {
  const object = svcRef(svc);
  if (!pods.length) return { check: 'ready', status: 'skipped', summary: 'no pod selected to be Ready', evidence: [], object };
  const unready = pods.filter((p) => !isReady(p));
  if (!unready.length) return { check: 'ready', status: 'ok', summary: pods.length === 1 ? 'the selected pod is Ready' : pods.length === 2 ? 'both selected pods are Ready' : `all ${pods.length} selected pods are Ready`, evidence: [], object };
  const evidence = unready.flatMap((p) => notReadyEvidence(p, events, facts ? (x, c) => facts.readinessProbe(x, c) : undefined));
  const publish = svc.spec?.publishNotReadyAddresses === true;
  const all = unready.length === pods.length;
  return {
    check: 'ready',
    status: publish ? 'warn' : all ? 'fail' : 'warn',
    summary: `${unready.length} of ${pods.length} selected pods ${unready.length > 1 ? 'are' : 'is'} not Ready: ${unready.map((p) => p.metadata.name).join(', ')}${publish ? ' (publishNotReadyAddresses: listed anyway)' : all ? ': the Service has no ready endpoint' : ''}`,
    evidence,
    fix: `a pod is an endpoint only once Ready: see why with kubectl describe pod -n ${svc.metadata.namespace ?? 'default'} ${unready[0]!.metadata.name}; fix the app or its readinessProbe`,
    object,
  };
}

function targetPortFinding(svc: Service, ports: ServicePort[], pods: Pod[], socketsOf: (p: Pod) => Socket[] | { error: string } | undefined): Finding {
  const object = svcRef(svc);
  if (!pods.length) return { check: 'target-port', status: 'skipped', summary: 'no pod to resolve targetPort in', evidence: [], object };
  const evidence: string[] = [];
  const fails: string[] = [];
  const warns: string[] = [];
  for (const sp of ports) {
    const proto = sp.protocol ?? 'TCP';
    const target = sp.targetPort ?? sp.port;
    for (const p of pods) {
      const r = resolveTargetPort(p, target, sp.port, proto);
      if (r.port === undefined) {
        fails.push(`targetPort ${target} names no containerPort of pod ${podName(p)} (its ports: ${declaredPorts(p)})`);
        continue;
      }
      if (r.declared) {
        evidence.push(`port ${sp.port} → targetPort ${target} → container ${r.container!.name} containerPort ${r.port}/${proto} in pod ${podName(p)}`);
        continue;
      }
      const s = socketsOf(p);
      const listens = s && !('error' in s) ? s.some((x) => x.port === r.port && x.protocol === proto.toLowerCase()) : undefined;
      const declares = declaredPorts(p);
      if (listens) warns.push(`targetPort ${target} is declared by no container of pod ${podName(p)} (its ports: ${declares}), but a socket listens on it`);
      else if (declares === 'none' && listens === undefined) warns.push(`pod ${podName(p)} declares no ports: whether ${r.port}/${proto} is served is not known offline`);
      else fails.push(`targetPort ${target} matches no containerPort of pod ${podName(p)} (its ports: ${declares})${listens === false ? ', and no socket listens on it' : ''}`);
    }
  }
  if (fails.length)
    return {
      check: 'target-port',
      status: 'fail',
      summary: fails[0]!,
      evidence: [...fails.slice(1), ...warns, ...evidence],
      fix: `set the Service's targetPort to the port the container serves (kubectl edit svc ${svc.metadata.name} -n ${svc.metadata.namespace ?? 'default'}), or declare and serve that port in the pod template`,
      object,
    };
  if (warns.length) return { check: 'target-port', status: 'warn', summary: warns[0]!, evidence: [...warns.slice(1), ...evidence], fix: 'declare the port in the pod template (containers[].ports), so that a named targetPort, NetworkPolicy ports and readers can find it', object };
  return { check: 'target-port', status: 'ok', summary: `targetPort ${[...new Set(ports.map((p) => String(p.targetPort ?? p.port)))].join(', ')} resolves to a containerPort in every selected pod`, evidence: [...new Set(evidence)], object };
}

function endpointsFinding(svc: Service, slices: EndpointSlice[], pods: Pod[], endpointPods: Pod[], before: Finding[]): Finding {
  const object = svcRef(svc);
  const ns = svc.metadata.namespace ?? 'default';
  const evidence = slices.map((s) => {
    const eps = (s.endpoints ?? []).map((e) => `${(e.addresses ?? []).join(',')}${e.conditions?.ready === false ? ' (not ready)' : ''}${e.targetRef?.name ? ` pod ${e.targetRef.name}` : ''}${e.nodeName ? ` on ${e.nodeName}` : ''}`);
    const ports = (s.ports ?? []).map((p) => `${p.name ? `${p.name}=` : ''}${p.port}/${p.protocol ?? 'TCP'}`);
    return `EndpointSlice ${ns}/${s.metadata.name}: ports ${ports.join(', ') || 'none'}; endpoints ${eps.join('; ') || 'none'}`;
  });
  if (!slices.length) evidence.push(`no EndpointSlice has the label kubernetes.io/service-name=${svc.metadata.name}`);
  const headless = svc.spec?.clusterIP === 'None';
  if (!endpointPods.length && !slices.some((s) => (s.endpoints ?? []).some((e) => e.conditions?.ready !== false))) {
    const cause = before.find((f) => (f.check === 'selector' || f.check === 'ready' || f.check === 'target-port') && f.status === 'fail');
    return {
      check: 'endpoints',
      status: 'fail',
      summary: `Service ${svcName(svc)} has no ready endpoints: ${headless ? 'its name resolves to nothing' : 'kube-proxy rejects connections to it'}`,
      evidence,
      fix: cause ? `follows from the ${cause.check} check above` : svc.spec?.selector ? `kubectl get endpointslices -n ${ns} -l kubernetes.io/service-name=${svc.metadata.name}; is the controller-manager running?` : `a Service without a selector needs an EndpointSlice written by hand (label kubernetes.io/service-name=${svc.metadata.name}), or a selector`,
      object,
    };
  }
  const listed = new Set(endpointPods);
  const missing = pods.filter((p) => isReady(p) && !listed.has(p));
  if (missing.length)
    return { check: 'endpoints', status: 'warn', summary: `Ready pods not (yet) listed by the EndpointSlices: ${missing.map(podName).join(', ')}`, evidence, fix: 'the EndpointSlice controller lists Ready pods within a second; if this stays, check the controller-manager', object };
  return { check: 'endpoints', status: 'ok', summary: `the EndpointSlices list ${endpointPods.length || 'the'} ready endpoint${endpointPods.length === 1 ? '' : 's'}${endpointPods.length ? `: ${endpointPods.map((p) => `${p.metadata.name} ${p.status?.podIP}`).join(', ')}` : ''}`, evidence, object };
}

function listeningFinding(svc: Service, ports: ServicePort[], pods: Pod[], socketsOf: ((p: Pod) => Socket[] | { error: string } | undefined) | undefined): Finding {
  const object = svcRef(svc);
  if (!socketsOf) return { check: 'listening', status: 'skipped', summary: "not checked offline: whether a socket listens in a pod's network namespace is known only in a running lab", evidence: [], object };
  if (!pods.length) return { check: 'listening', status: 'skipped', summary: 'no endpoint pod to look into', evidence: [], object };
  const evidence: string[] = [];
  const deaf: string[] = [];
  for (const p of pods.filter((x) => !x.spec.hostNetwork)) {
    const s = socketsOf(p)!;
    if ('error' in s) {
      evidence.push(`pod ${podName(p)}: its sockets could not be read (${s.error})`);
      continue;
    }
    const shown = s.map((x) => `${x.protocol} ${x.address.includes(':') ? `[${x.address}]` : x.address}:${x.port}`).join(', ') || 'nothing';
    for (const sp of ports) {
      const proto = (sp.protocol ?? 'TCP').toLowerCase() as 'tcp' | 'udp';
      const port = resolveTargetPort(p, sp.targetPort, sp.port, proto).port;
      if (port === undefined) continue;
      const hit = s.find((x) => x.protocol === proto && x.port === port && (x.address === '0.0.0.0' || x.address === '::' || x.address === p.status?.podIP));
      if (hit) evidence.push(`pod ${podName(p)}: ${proto} ${hit.address}:${port} listens`);
      else deaf.push(`pod ${podName(p)}: nothing listens on ${port}/${proto.toUpperCase()} (it listens on ${shown}): connections are refused`);
    }
  }
  if (deaf.length)
    return {
      check: 'listening',
      status: deaf.length >= pods.length * ports.length ? 'fail' : 'warn',
      summary: deaf[0]!,
      evidence: [...deaf.slice(1), ...evidence],
      fix: `make the app listen on the targetPort on all addresses (0.0.0.0), or point targetPort at the port it does listen on (kubectl edit svc ${svc.metadata.name} -n ${svc.metadata.namespace ?? 'default'})`,
      object,
    };
  if (!evidence.some((e) => e.endsWith('listens'))) return { check: 'listening', status: 'skipped', summary: 'no endpoint pod could be looked into', evidence, object };
  return { check: 'listening', status: 'ok', summary: `a socket listens on the targetPort in every endpoint pod`, evidence, object };
}

/**
 * externalTrafficPolicy Local: NodePort and LoadBalancer traffic reaching a node without a ready
 * endpoint of its own is dropped there (kube-proxy's "has no local endpoints" rule), and so is
 * internalTrafficPolicy Local traffic from such a node. `droppedAt` is the node where the trace
 * was dropped for this Service, if it was.
 */
export function trafficPolicyFinding(o: ClusterObjects, svc: Service, droppedAt: string | undefined): Finding {
  const object = svcRef(svc);
  const etp = svc.spec?.externalTrafficPolicy === 'Local' && (svc.spec.type === 'NodePort' || svc.spec.type === 'LoadBalancer');
  const itp = svc.spec?.internalTrafficPolicy === 'Local';
  if (!etp && !itp) return { check: 'traffic-policy', status: 'ok', summary: `externalTrafficPolicy ${svc.spec?.externalTrafficPolicy ?? 'Cluster'}, internalTrafficPolicy ${svc.spec?.internalTrafficPolicy ?? 'Cluster'}: every node forwards to every endpoint`, evidence: [], object };
  const local = new Set(serviceSlices(o, svc).flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false && e.nodeName).map((e) => e.nodeName!)));
  const nodes = o.nodes.map((n) => n.metadata.name!);
  const without = nodes.filter((n) => !local.has(n));
  const which = [etp ? 'externalTrafficPolicy' : '', itp ? 'internalTrafficPolicy' : ''].filter(Boolean).join(' and ');
  const evidence = nodes.map((n) => `node ${n}: ${local.has(n) ? 'has a local endpoint' : 'no local endpoint: traffic for the Service arriving here is dropped'}`);
  if (!without.length) return { check: 'traffic-policy', status: 'ok', summary: `${which} Local: every node has a local endpoint`, evidence, object };
  const reached = droppedAt !== undefined && without.includes(droppedAt);
  return {
    check: 'traffic-policy',
    status: reached ? 'fail' : 'warn',
    summary: reached ? `${which} Local: the path reaches node ${droppedAt}, which has no local endpoint, and is dropped there` : `${which} Local: nodes without a local endpoint drop the Service's traffic: ${without.join(', ')}`,
    evidence,
    fix: `send the traffic to a node with an endpoint (${[...local].join(', ') || 'none has one'}), run an endpoint on every node (a DaemonSet), or set ${etp ? 'externalTrafficPolicy' : 'internalTrafficPolicy'}: Cluster (the client address is then masqueraded)`,
    object,
  };
}
