// The kubelet's Summary API (stats/v1alpha1, GET /stats/summary), as much of it as the node agent
// measures: per node, per pod and per container, CPU (cumulative core-nanoseconds and the rate
// over the last measurement window) and working-set memory. The node agent serves it; the API
// server reads it to answer metrics.k8s.io as metrics-server does.

export interface CPUStats {
  /** when it was measured (RFC 3339) */
  time: string;
  /** the rate over the last window; absent until two measurements exist */
  usageNanoCores?: number;
  usageCoreNanoSeconds: number;
  /**
   * The window of usageNanoCores: the seconds between the two measurements it is the rate
   * over (to the millisecond). The kubelet's Summary has no such field — metrics-server takes
   * the interval between the timestamps of two scrapes; podpath's agent, which measures,
   * says it.
   */
  windowSeconds?: number;
}

export interface MemoryStats {
  time: string;
  workingSetBytes: number;
  rssBytes: number;
}

export interface ContainerStats {
  name: string;
  startTime: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
}

export interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  startTime: string;
  containers: ContainerStats[];
  cpu?: CPUStats;
  memory?: MemoryStats;
}

export interface NodeStats {
  nodeName: string;
  startTime?: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
}

export interface Summary {
  node: NodeStats;
  pods: PodStats[];
}

/** The agent's measurement interval, which is the window of every rate it reports (metrics-server's --metric-resolution=15s). */
export const metricResolutionSeconds = 15;

const decimalSuffix: Record<number, string> = { [-9]: 'n', [-6]: 'u', [-3]: 'm', 0: '', 3: 'k', 6: 'M', 9: 'G', 12: 'T', 15: 'P', 18: 'E' };

/**
 * A DecimalSI quantity of `value`×10^`scale` in its canonical form, as apimachinery's
 * Quantity.String() writes it: trailing zeros removed into the exponent, which is then brought
 * down to a multiple of three (1500000n → 1500u, 2000000000n → 2).
 */
export function decimalQuantity(value: number, scale: number): string {
  let v = Math.round(value);
  if (v === 0) return '0';
  let exp = scale;
  while (v % 10 === 0) {
    v /= 10;
    exp++;
  }
  while (((exp % 3) + 3) % 3 !== 0) {
    v *= 10;
    exp--;
  }
  while (exp > 18) {
    v *= 1000;
    exp -= 3;
  }
  return `${v}${decimalSuffix[exp]}`;
}

const binarySuffix = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

/** A BinarySI quantity of `bytes` in its canonical form: the largest power of 1024 that divides it (4194304 → 4Mi, 5000 → 5000). */
export function binaryQuantity(bytes: number): string {
  let v = Math.round(bytes);
  if (v === 0) return '0';
  let i = 0;
  while (v % 1024 === 0 && i < binarySuffix.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v}${binarySuffix[i]}`;
}
