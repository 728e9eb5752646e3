// What the Proxier asks of a mode: bring the node to the wanted ServicePorts (all of them on a
// full sync, the changed Services' on a partial one), say whether the rules are still in place,
// and whether a later sync has cleaning up to do. A mode that runs something of its own
// (userspace mode balances in the process) offers more through the optional members.
import type { ProxyMode } from './config.ts';
import type { ServicePortInfo } from './model.ts';

export interface SyncRequest {
  /** every Service's ports, by "<namespace>/<name>" */
  byService: Map<string, ServicePortInfo[]>;
  /** undefined: a full sync; else the Services whose objects or EndpointSlices changed */
  changed?: Set<string>;
  /** the node's primary IP, once its Node object says */
  nodeIP?: string;
  /** the node's pod range (spec.podCIDR), once assigned */
  podCIDR?: string;
}

/** Every Service's ports in one list. */
export const allServicePorts = (byService: Map<string, ServicePortInfo[]>): ServicePortInfo[] => [...byService.values()].flat();

export interface SyncResult {
  /** whether everything was rewritten (the backend may widen a partial sync) */
  full: boolean;
  /** a line for the log */
  summary: string;
}

/** Connections through one endpoint of a virtual server, for /metrics. */
export interface EndpointConnections {
  /** "<ServicePort> <protocol> <ip>:<port>" */
  service: string;
  /** "ip:port" */
  endpoint: string;
  /** open now */
  active: number;
  /** made since the proxy started */
  total: number;
}

export interface Backend {
  readonly mode: ProxyMode;
  /** Applies the rules; throws when the kernel tool refuses them. */
  sync(req: SyncRequest): SyncResult;
  /** Whether the rules a full sync wrote are still in place (someone may have flushed them). */
  intact(): boolean;
  /** Whether a later sync has cleaning up to do (stale chains waiting for deletion). */
  pendingCleanup(): boolean;
  /** Stops what the backend runs itself (listeners, timers). */
  close?(): void;
  /** `ipvsadm -Ln` of a table the backend balances over itself (?stats, ?connections as ipvsadm's flags). */
  debugInfo?(query: URLSearchParams): string;
  /** Per-endpoint connection counts, read when /metrics is scraped. */
  connectionCounts?(): EndpointConnections[];
}
