// `podpath diagnose`'s result, as `-o json` prints it: seed 003's "Service unreachable" checklist,
// one finding per check in the order a packet meets the things checked, the first failing one
// named as the hop that fails, and the trace's own verdict beside it. These names are the JSON
// schema: keep them stable.
import type { Container, Pod, Service } from '../api/types.ts';
import type { RuleWalker } from '../trace/netfilter.ts';
import type { ObjectRef, Verdict } from '../trace/types.ts';

/** The checks, in the order they are reported (and the first failing one is the failing hop). */
export const checkOrder = [
  'ingress',
  'ingress-class',
  'ingress-backend',
  'service',
  'selector',
  'ready',
  'target-port',
  'endpoints',
  'listening',
  'kube-proxy',
  'proxy-rules',
  'traffic-policy',
  'network-policy',
  'dns',
  'path',
] as const;

export type CheckName = (typeof checkOrder)[number];

/** ok; fail (the path is broken here); warn (works, but not everywhere or not as declared); skipped (could not be checked: offline, or not relevant). */
export type Status = 'ok' | 'fail' | 'warn' | 'skipped';

export interface Finding {
  check: CheckName;
  status: Status;
  /** one line: what was found */
  summary: string;
  /** what it was found from: objects' fields, kernel listings, answers */
  evidence: string[];
  /** what to do about it (for fail and warn) */
  fix?: string;
  /** the object the finding is about */
  object?: ObjectRef;
}

export interface Diagnosis {
  /** what was asked: svc/NS/NAME, ingress/NS/NAME, or the --to destination */
  target: string;
  /** the source the path is traced from */
  from: string;
  /** the destination traced */
  to: string;
  /** the proxy mode the rules are in */
  mode: string;
  /** "live" from a lab, "offline" from a state file (no sockets, no kube-proxy, no kernel rules) */
  source: 'live' | 'offline';
  result: 'ok' | 'failing';
  /** the first failing check: the hop that fails */
  failing?: { check: CheckName; summary: string };
  findings: Finding[];
  /** the trace of the path: its verdict and the hop it ended at */
  trace?: { verdict: Verdict; reason: string; hop?: { step: number; kind: string; where: string; note: string; object?: ObjectRef } };
}

/** A socket in a pod's network namespace that accepts connections (TCP LISTEN) or datagrams (a bound UDP socket). */
export interface Socket {
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
}

export interface ProxyHealth {
  /** whether anything answered on the health port */
  answered: boolean;
  /** 200: synced */
  healthy: boolean;
  /** the answer (status and body) or the error, as evidence */
  detail: string;
}

export interface ServiceRules {
  /** whether the node's kernel holds kube-proxy's rules at all (KUBE-SERVICES, table ip kube-proxy, the IPVS table) */
  proxyRules: boolean;
  /** whether some of them name this Service */
  service: boolean;
  /** where it looked and what it saw */
  detail: string;
}

/**
 * What only a running cluster can tell, gathered by the lab's shell (src/lab/diagnose.ts):
 * sockets in a pod's network namespace, kube-proxy's health on a node, the node's kernel rules.
 * A state file has none of these; its checks say so.
 */
export interface LiveFacts {
  /** the listening sockets in the pod's network namespace, or why they could not be read */
  sockets(pod: Pod): Socket[] | { error: string };
  /** kube-proxy's /healthz on the node */
  proxyHealth(node: string): ProxyHealth;
  /** the node's kernel rules for the Service */
  serviceRules(node: string, svc: Service): ServiceRules;
  /** every rule the node's kernel holds, for the trace to walk; undefined where they were not read */
  nodeRules?(node: string): RuleWalker[] | undefined;
  /** the container's readiness probe run once now, from its node as the kubelet runs it: whether it passed, and the kubelet's words for the result */
  readinessProbe(pod: Pod, container: Container): { ok: boolean; message: string };
  /** the name looked up inside the pod, as its processes would (its resolv.conf): the addresses, or what went wrong */
  resolve(pod: Pod, name: string): { addresses: string[]; detail: string };
}

export class DiagnoseError extends Error {
  constructor(
    readonly code: 'BadTarget' | 'BadFlags' | 'BadState',
    message: string,
  ) {
    super(message);
  }
}
