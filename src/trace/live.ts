// The trace's view of a running cluster: the same objects a state file holds, listed from an API
// server (the lab's through its tunnel, or any cluster's through a kubeconfig). Items of a list
// carry no kind, so each is stamped with its list's before sorting.
import type { KubeObject } from '../api/types.ts';
import { collectionPath, type Client } from '../client/client.ts';
import { sortObjects, traceKinds, type ClusterObjects } from './cluster.ts';

/** The resource (plural) of each kind the trace reads. */
export const traceResources: Record<string, string> = {
  Node: 'nodes',
  Namespace: 'namespaces',
  Pod: 'pods',
  Service: 'services',
  EndpointSlice: 'endpointslices',
  Ingress: 'ingresses',
  IngressClass: 'ingressclasses',
  NetworkPolicy: 'networkpolicies',
  Secret: 'secrets',
};

/** Every object of the trace's kinds, in all namespaces, as the API server lists them now. */
export async function readClusterObjects(client: Client): Promise<ClusterObjects> {
  const lists = await Promise.all(
    traceKinds.map(async (k) => {
      const l = await client.get<{ items: KubeObject[] }>(collectionPath(k.apiVersion, traceResources[k.kind]!));
      return l.items.map((o) => ({ ...o, apiVersion: k.apiVersion, kind: k.kind }));
    }),
  );
  return sortObjects(lists.flat());
}
