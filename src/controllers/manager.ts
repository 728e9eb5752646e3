// `podpath controller-manager`: a process that talks only to the API
// server, with shared informers feeding the controllers.
import type { Deployment, EndpointSlice, Endpoints, KubeObject, Pod, ReplicaSet, Service } from '../api/types.ts';
import { Client, loadConfig } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { EndpointsControllers, NodeIpamController } from './endpoints.ts';
import { LoadBalancerIPController, poolAddresses } from './loadbalancer.ts';
import { DeploymentController, ReplicaSetController } from './workloads.ts';

export interface ControllerManagerOptions {
  kubeconfig?: string;
  clusterCIDR: string;
  nodeCIDRMaskSize: number;
  /** LoadBalancer addresses, FIRST-LAST; empty: no LoadBalancer IPs */
  loadBalancerPool: string;
  log: (s: string) => void;
}

export async function runControllerManager(o: ControllerManagerOptions): Promise<() => void> {
  const client = new Client(loadConfig(o.kubeconfig, 'kube-controller-manager/podpath'));
  const pods = new Informer<Pod>(client, 'v1', 'pods');
  const rss = new Informer<ReplicaSet>(client, 'apps/v1', 'replicasets');
  const deps = new Informer<Deployment>(client, 'apps/v1', 'deployments');
  const svcs = new Informer<Service>(client, 'v1', 'services');
  const slices = new Informer<EndpointSlice>(client, 'discovery.k8s.io/v1', 'endpointslices');
  const eps = new Informer<Endpoints>(client, 'v1', 'endpoints');
  const nodes = new Informer<KubeObject>(client, 'v1', 'nodes');
  const informers = [pods, rss, deps, svcs, slices, eps, nodes];
  for (const i of informers) i.onError = (e) => o.log(`informer ${i.resource}: ${e.message}`);
  const queues = [
    new ReplicaSetController(client, rss, pods, o.log).queue,
    new DeploymentController(client, deps, rss, o.log).queue,
    new EndpointsControllers(client, svcs, pods, slices, eps, o.log).queue,
    new NodeIpamController(client, nodes, o.clusterCIDR, o.nodeCIDRMaskSize, o.log).queue,
    ...(o.loadBalancerPool ? [new LoadBalancerIPController(client, svcs, poolAddresses(o.loadBalancerPool), o.log).queue] : []),
  ];
  for (const i of informers) i.start();
  await Promise.all(informers.map((i) => i.waitForSync()));
  o.log('controllers started');
  return () => {
    for (const q of queues) q.stop();
    for (const i of informers) i.stop();
    client.close();
  };
}
