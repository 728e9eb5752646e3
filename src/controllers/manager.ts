// `podpath controller-manager`: a process that talks only to the API
// server, with shared informers (on the manager's own credential) feeding the controllers, each
// writing through the client its ClientBuilder gives it.
import fs from 'node:fs';
import type { ClusterRole, ControllerRevision, CronJob, DaemonSet, Deployment, EndpointSlice, Endpoints, Ingress, Job, KubeObject, Namespace, Node, Pod, ReplicaSet, Service } from '../api/types.ts';
import { Client, loadConfig } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { ServiceAccountsController } from './serviceaccounts.ts';
import { rootClientBuilder, serviceAccountClientBuilder } from './clientbuilder.ts';
import { parseCA, type CA } from '../util/pki.ts';
import { IngressCertificateController, type Secret } from './certificates.ts';
import { ClusterRoleAggregationController } from './clusterroleaggregation.ts';
import { CronJobController } from './cronjob.ts';
import { DaemonSetController } from './daemonset.ts';
import { JobController } from './job.ts';
import { EndpointsControllers, NodeIpamController } from './endpoints.ts';
import { LoadBalancerIPController, poolAddresses } from './loadbalancer.ts';
import { DeploymentController, ReplicaSetController } from './workloads.ts';

export interface ControllerManagerOptions {
  kubeconfig?: string;
  clusterCIDR: string;
  nodeCIDRMaskSize: number;
  /** LoadBalancer addresses, FIRST-LAST; empty: no LoadBalancer IPs */
  loadBalancerPool: string;
  /** the CA that signs Ingress certificates (kube-controller-manager's --cluster-signing-cert-file/-key-file): both or neither */
  clusterSigningCertFile?: string;
  clusterSigningKeyFile?: string;
  /** --use-service-account-credentials: each controller as its own service account in kube-system */
  useServiceAccountCredentials?: boolean;
  log: (s: string) => void;
}

/** The signing CA the flags name, or undefined without them; an error saying what is wrong with them. */
async function signingCA(o: ControllerManagerOptions): Promise<CA | undefined> {
  if (!o.clusterSigningCertFile && !o.clusterSigningKeyFile) return undefined;
  if (!o.clusterSigningCertFile || !o.clusterSigningKeyFile) throw new Error('--cluster-signing-cert-file and --cluster-signing-key-file go together');
  try {
    return await parseCA(fs.readFileSync(o.clusterSigningCertFile, 'utf8'), fs.readFileSync(o.clusterSigningKeyFile, 'utf8'));
  } catch (e) {
    throw new Error(`cannot use the cluster signing CA ${o.clusterSigningCertFile} / ${o.clusterSigningKeyFile}: ${(e as Error).message}`);
  }
}

export async function runControllerManager(o: ControllerManagerOptions): Promise<() => void> {
  const ca = await signingCA(o);
  const client = new Client(loadConfig(o.kubeconfig, 'kube-controller-manager/podpath'));
  const builder = o.useServiceAccountCredentials ? serviceAccountClientBuilder(client, o.log) : rootClientBuilder(client);
  // upstream's names: each is the controller's service account, bound to system:controller:NAME
  const names = ['replicaset-controller', 'deployment-controller', 'daemon-set-controller', 'job-controller', 'ttl-after-finished-controller', 'cronjob-controller', 'endpointslice-controller', 'endpoint-controller', 'node-controller', 'clusterrole-aggregation-controller', 'service-account-controller', 'service-controller', 'ingress-certificate-controller'] as const;
  let clients: Record<(typeof names)[number], Client>;
  try {
    // the certificate issuer's account only where it runs
    clients = Object.fromEntries(await Promise.all(names.filter((n) => ca || n !== 'ingress-certificate-controller').map(async (n) => [n, await builder.client(n)] as const))) as typeof clients;
  } catch (e) {
    builder.close();
    client.close();
    throw e;
  }
  const pods = new Informer<Pod>(client, 'v1', 'pods');
  const rss = new Informer<ReplicaSet>(client, 'apps/v1', 'replicasets');
  const deps = new Informer<Deployment>(client, 'apps/v1', 'deployments');
  const svcs = new Informer<Service>(client, 'v1', 'services');
  const slices = new Informer<EndpointSlice>(client, 'discovery.k8s.io/v1', 'endpointslices');
  const eps = new Informer<Endpoints>(client, 'v1', 'endpoints');
  const dss = new Informer<DaemonSet>(client, 'apps/v1', 'daemonsets');
  const revisions = new Informer<ControllerRevision>(client, 'apps/v1', 'controllerrevisions');
  const nodes = new Informer<Node>(client, 'v1', 'nodes');
  const clusterRoles = new Informer<ClusterRole>(client, 'rbac.authorization.k8s.io/v1', 'clusterroles');
  const jobs = new Informer<Job>(client, 'batch/v1', 'jobs');
  const cronJobs = new Informer<CronJob>(client, 'batch/v1', 'cronjobs');
  const ingresses = ca ? new Informer<Ingress>(client, 'networking.k8s.io/v1', 'ingresses') : undefined;
  const secrets = ca ? new Informer<Secret>(client, 'v1', 'secrets') : undefined;
  const namespaces = new Informer<Namespace>(client, 'v1', 'namespaces');
  const serviceAccounts = new Informer<KubeObject>(client, 'v1', 'serviceaccounts');
  const informers: Informer<KubeObject>[] = [pods, rss, deps, dss, revisions, svcs, slices, eps, nodes, clusterRoles, jobs, cronJobs, namespaces, serviceAccounts, ...(ingresses && secrets ? [ingresses, secrets] : [])];
  for (const i of informers) i.onError = (e) => o.log(`informer ${i.resource}: ${e.message}`);
  const queues = [
    new ReplicaSetController(clients['replicaset-controller'], rss, pods, o.log).queue,
    new DeploymentController(clients['deployment-controller'], deps, rss, o.log).queue,
    new DaemonSetController(clients['daemon-set-controller'], dss, pods, nodes, revisions, o.log).queue,
    new JobController(clients['job-controller'], jobs, pods, o.log, clients['ttl-after-finished-controller']).queue,
    new CronJobController(clients['cronjob-controller'], cronJobs, jobs, o.log).queue,
    new EndpointsControllers(clients['endpointslice-controller'], svcs, pods, slices, eps, o.log, clients['endpoint-controller']).queue,
    // upstream starts node IPAM with the node controller's client
    new NodeIpamController(clients['node-controller'], nodes, o.clusterCIDR, o.nodeCIDRMaskSize, o.log).queue,
    new ClusterRoleAggregationController(clients['clusterrole-aggregation-controller'], clusterRoles, o.log).queue,
    new ServiceAccountsController(clients['service-account-controller'], namespaces, serviceAccounts, o.log).queue,
    // LoadBalancer addresses go into services/status, as a cloud provider's service controller writes them
    ...(o.loadBalancerPool ? [new LoadBalancerIPController(clients['service-controller'], svcs, poolAddresses(o.loadBalancerPool), o.log).queue] : []),
    ...(ca && ingresses && secrets ? [new IngressCertificateController(clients['ingress-certificate-controller'], ingresses, secrets, ca, o.log).queue] : []),
  ];
  for (const i of informers) i.start();
  await Promise.all(informers.map((i) => i.waitForSync()));
  o.log('controllers started');
  return () => {
    for (const q of queues) q.stop();
    for (const i of informers) i.stop();
    builder.close();
    client.close();
  };
}
