// How components name a Service and find the Service an EndpointSlice belongs to: one key,
// "<namespace>/<name>", for kube-proxy's change tracking and the DNS zone's index alike.
import type { EndpointSlice } from './types.ts';

/** The label an EndpointSlice names its Service with (discovery.k8s.io/v1 LabelServiceName). */
export const serviceNameLabel = 'kubernetes.io/service-name';

/** A Service's key: "<namespace>/<name>". */
export const serviceKey = (namespace: string | undefined, name: string | undefined): string => `${namespace ?? 'default'}/${name ?? ''}`;

/** The key of the Service an EndpointSlice belongs to (its kubernetes.io/service-name label), if it names one. */
export function sliceServiceKey(s: EndpointSlice): string | undefined {
  const name = s.metadata.labels?.[serviceNameLabel];
  return name ? serviceKey(s.metadata.namespace, name) : undefined;
}
