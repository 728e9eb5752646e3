// `podpath scheduler`: the scheduler as its own process, talking only to the API server
// (kube-scheduler's cmd/kube-scheduler/app/server.go).
import type { Node, Pod } from '../api/types.ts';
import { Client, loadConfig } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { Scheduler } from './scheduler.ts';

export async function runScheduler(o: { kubeconfig?: string; log: (s: string) => void }): Promise<() => void> {
  const client = new Client(loadConfig(o.kubeconfig, 'kube-scheduler/podpath'));
  const pods = new Informer<Pod>(client, 'v1', 'pods');
  const nodes = new Informer<Node>(client, 'v1', 'nodes');
  for (const i of [pods, nodes]) i.onError = (e) => o.log(`informer ${i.resource}: ${e.message}`);
  const s = new Scheduler(client, pods, nodes, o.log);
  pods.start();
  nodes.start();
  await Promise.all([pods.waitForSync(), nodes.waitForSync()]);
  o.log('scheduler started');
  return () => {
    s.queue.stop();
    pods.stop();
    nodes.stop();
    client.close();
  };
}
