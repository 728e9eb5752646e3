// The ClusterRole aggregation controller (kube-controller-manager's clusterrole-aggregation,
// pkg/controller/clusterroleaggregation): a ClusterRole with an aggregationRule holds the rules
// of every other ClusterRole its selectors match — each selector's roles by name, each rule
// once — so `admin`, `edit` and `view` grow with the roles labelled aggregate-to-admin/-edit/-view.
import { fromLabelSelector, matches } from '../api/labels.ts';
import type { ClusterRole, PolicyRule } from '../api/types.ts';
import type { Client } from '../client/client.ts';
import { objectPath } from '../client/client.ts';
import type { Informer } from '../client/informer.ts';
import { WorkQueue } from '../client/workqueue.ts';

const sameRule = (a: PolicyRule, b: PolicyRule) => JSON.stringify(normal(a)) === JSON.stringify(normal(b));
const normal = (r: PolicyRule) => [r.verbs ?? [], r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []];

/** The rules an aggregated ClusterRole should hold, given every ClusterRole; undefined for one without an aggregationRule. */
export function aggregatedRules(role: ClusterRole, all: readonly ClusterRole[]): PolicyRule[] | undefined {
  const selectors = role.aggregationRule?.clusterRoleSelectors;
  if (!role.aggregationRule) return undefined;
  const out: PolicyRule[] = [];
  for (const ls of selectors ?? []) {
    const sel = fromLabelSelector(ls);
    const picked = all.filter((r) => r.metadata.name !== role.metadata.name && matches(sel, r.metadata.labels)).sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
    for (const r of picked) for (const rule of r.rules ?? []) if (!out.some((x) => sameRule(x, rule))) out.push(rule);
  }
  return out;
}

export class ClusterRoleAggregationController {
  readonly queue: WorkQueue;

  constructor(
    private readonly client: Client,
    private readonly roles: Informer<ClusterRole>,
    log: (s: string) => void,
  ) {
    this.queue = new WorkQueue((k) => this.sync(k), (k, e) => log(`clusterrole-aggregation ${k}: ${e.message}`));
    // Any change may matter to any aggregated role: all of them are looked at again.
    const all = () => {
      for (const r of this.roles.list()) if (r.aggregationRule) this.queue.add(r.metadata.name!);
    };
    roles.on({ add: all, update: all, delete: all });
  }

  private async sync(name: string): Promise<void> {
    const role = this.roles.get(undefined, name);
    if (!role) return;
    const want = aggregatedRules(role, this.roles.list());
    if (!want) return;
    const have = role.rules ?? [];
    if (want.length === have.length && want.every((r, i) => sameRule(r, have[i]!))) return;
    await this.client.request('PUT', objectPath('rbac.authorization.k8s.io/v1', 'clusterroles', undefined, name), { ...role, apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', rules: want });
  }
}
