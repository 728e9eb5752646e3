// The service account controller (pkg/controller/serviceaccount): every active namespace has a
// ServiceAccount named `default`, made again when it is deleted — pods that name no service
// account run as it, and their node agent asks for its tokens.
import type { KubeObject, Namespace } from '../api/types.ts';
import type { Client } from '../client/client.ts';
import { collectionPath } from '../client/client.ts';
import type { Informer } from '../client/informer.ts';
import { WorkQueue } from '../client/workqueue.ts';

/** The service accounts every namespace gets. */
export const defaultServiceAccounts = ['default'];

/** The namespaces (by name) that lack one of the default service accounts, each with the names it lacks. */
export function missingServiceAccounts(namespace: Namespace, accounts: readonly KubeObject[]): string[] {
  if (namespace.status?.phase === 'Terminating' || namespace.metadata.deletionTimestamp) return [];
  const ns = namespace.metadata.name;
  return defaultServiceAccounts.filter((n) => !accounts.some((a) => a.metadata.namespace === ns && a.metadata.name === n));
}

export class ServiceAccountsController {
  readonly queue: WorkQueue;

  constructor(
    private readonly client: Client,
    private readonly namespaces: Informer<Namespace>,
    private readonly accounts: Informer<KubeObject>,
    log: (s: string) => void,
  ) {
    this.queue = new WorkQueue((k) => this.sync(k), (k, e) => log(`serviceaccount ${k}: ${e.message}`));
    namespaces.on({ add: (n) => this.queue.add(n.metadata.name!), update: (_, n) => this.queue.add(n.metadata.name!) });
    accounts.on({ delete: (a) => this.queue.add(a.metadata.namespace!) });
  }

  private async sync(name: string): Promise<void> {
    const ns = this.namespaces.get(undefined, name);
    if (!ns) return;
    for (const sa of missingServiceAccounts(ns, this.accounts.list())) {
      await this.client.request('POST', collectionPath('v1', 'serviceaccounts', name), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: name } }).catch((e: { code?: number }) => {
        // made meanwhile, or the namespace is going away
        if (e.code !== 409 && e.code !== 403) throw e;
      });
    }
  }
}
