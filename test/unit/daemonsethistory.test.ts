// A DaemonSet's ControllerRevisions as the daemon controller computes them (constructHistory,
// dedup, cleanupHistory, getPatch), pure: which revision is current, what is created or
// renumbered, which old ones go, and the data kubectl compares byte for byte.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyDefaults } from '../../src/api/defaults.ts';
import type { ControllerRevision, DaemonSet, Pod } from '../../src/api/types.ts';
import { planDaemonSet } from '../../src/controllers/daemonset.ts';
import { constructHistory, daemonSetPatch, historyToCleanUp, revisionHash, snapshot } from '../../src/controllers/daemonsethistory.ts';

function daemonSet(image: string, o: { limit?: number; annotations?: Record<string, string> } = {}): DaemonSet {
  const ds = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'kube-proxy', namespace: 'kube-system', uid: 'ds-uid', annotations: { 'deprecated.daemonset.template.generation': '1', ...(o.annotations ?? {}) } },
    spec: {
      selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
      ...(o.limit !== undefined ? { revisionHistoryLimit: o.limit } : {}),
      template: { metadata: { labels: { 'k8s-app': 'kube-proxy' } }, spec: { containers: [{ name: 'kube-proxy', image }] } },
    },
  } as unknown as DaemonSet;
  applyDefaults('DaemonSet', ds);
  return ds;
}

/** The revision the controller would have made of `image`'s template at `revision`. */
const revisionOf = (image: string, revision: number) => snapshot(daemonSet(image), revision);
const pod = (name: string, hash: string) => ({ metadata: { name, labels: { 'k8s-app': 'kube-proxy', 'controller-revision-hash': hash } }, spec: { containers: [] } }) as unknown as Pod;
const names = (crs: ControllerRevision[]) => crs.map((cr) => cr.metadata.name);

describe('DaemonSet history', () => {
  it("writes the template patch as upstream's getPatch marshals it: keys sorted, the template replaced whole", () => {
    assert.equal(
      JSON.stringify(daemonSetPatch(daemonSet('podpath/kube-proxy'))),
      '{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,"labels":{"k8s-app":"kube-proxy"}},' +
        '"spec":{"containers":[{"image":"podpath/kube-proxy","imagePullPolicy":"Always","name":"kube-proxy","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],' +
        '"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}}}',
    );
  });

  it('snapshots the first template as revision 1: <ds>-<hash>, the template labels and the hash, the DaemonSet annotations, owned by it', () => {
    const ds = daemonSet('v1', { annotations: { 'kubernetes.io/change-cause': 'first' } });
    const plan = constructHistory(ds, [], []);
    const hash = revisionHash(ds);
    assert.equal(plan.create, true);
    assert.equal(plan.hash, hash);
    assert.deepEqual(plan.current.metadata, {
      name: `kube-proxy-${hash}`,
      namespace: 'kube-system',
      labels: { 'k8s-app': 'kube-proxy', 'controller-revision-hash': hash },
      annotations: { 'deprecated.daemonset.template.generation': '1', 'kubernetes.io/change-cause': 'first' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'kube-proxy', uid: 'ds-uid', controller: true, blockOwnerDeletion: true }],
    });
    assert.equal(plan.current.revision, 1);
    assert.deepEqual(plan.current.data, daemonSetPatch(ds));
    assert.deepEqual(plan.old, []);
  });

  it('numbers a new template one past the highest old revision', () => {
    const plan = constructHistory(daemonSet('v3'), [revisionOf('v1', 4), revisionOf('v2', 7)], []);
    assert.equal(plan.create, true);
    assert.equal(plan.current.revision, 8);
    assert.deepEqual(names(plan.old), names([revisionOf('v1', 4), revisionOf('v2', 7)]));
  });

  it('keeps an unchanged template on its revision: nothing created or renumbered', () => {
    const plan = constructHistory(daemonSet('v2'), [revisionOf('v1', 1), revisionOf('v2', 2)], []);
    assert.equal(plan.create, false);
    assert.equal(plan.renumber, undefined);
    assert.equal(plan.current.metadata.name, revisionOf('v2', 2).metadata.name);
    assert.deepEqual(plan, { ...plan, label: [], duplicates: [], relabel: [] });
  });

  it('brings an older template back on its own revision, renumbered past the newest (a rollback), its hash for the pods', () => {
    const r1 = revisionOf('v1', 1);
    const ds = daemonSet('v1');
    const plan = constructHistory(ds, [r1, revisionOf('v2', 2), revisionOf('v3', 3)], [pod('a', revisionOf('v3', 3).metadata.labels!['controller-revision-hash']!)]);
    assert.equal(plan.create, false);
    assert.equal(plan.current.metadata.name, r1.metadata.name);
    assert.equal(plan.renumber, 4);
    assert.equal(plan.hash, r1.metadata.labels!['controller-revision-hash']);
    assert.deepEqual(names(plan.old), names([revisionOf('v2', 2), revisionOf('v3', 3)]));
    assert.deepEqual(plan.relabel, [], 'pods of other templates keep their hash, so the rollout replaces them');
  });

  it('labels the pods of the revision it brings back with that revision’s hash, even when the collision count moved on', () => {
    const r1 = revisionOf('v1', 1);
    const ds = daemonSet('v1');
    ds.status = { collisionCount: 1 };
    const plan = constructHistory(ds, [r1, revisionOf('v2', 2)], []);
    assert.notEqual(revisionHash(ds), plan.hash);
    const sync = planDaemonSet(ds, [], [], 0, plan.hash);
    assert.equal(sync.hash, r1.metadata.labels!['controller-revision-hash']);
  });

  it('keeps the highest of several revisions of the same template, deleting the others once their pods carry its hash', () => {
    const low = revisionOf('v1', 1);
    const high = { ...revisionOf('v1', 3), metadata: { ...revisionOf('v1', 3).metadata, name: 'kube-proxy-other', labels: { 'k8s-app': 'kube-proxy', 'controller-revision-hash': 'other' } } };
    const lowHash = low.metadata.labels!['controller-revision-hash']!;
    const plan = constructHistory(daemonSet('v1'), [low, revisionOf('v2', 2), high], [pod('a', lowHash), pod('b', 'other'), pod('c', revisionOf('v2', 2).metadata.labels!['controller-revision-hash']!)]);
    assert.equal(plan.current.metadata.name, 'kube-proxy-other');
    assert.equal(plan.hash, 'other');
    assert.equal(plan.renumber, undefined);
    assert.deepEqual(plan.duplicates, [low.metadata.name]);
    assert.deepEqual(plan.relabel, ['a']);
  });

  it('labels a revision without the hash label by its name, and uses that as its hash', () => {
    const legacy = revisionOf('v1', 1);
    delete legacy.metadata.labels!['controller-revision-hash'];
    const plan = constructHistory(daemonSet('v1'), [legacy], []);
    assert.deepEqual(plan.label, [legacy.metadata.name]);
    assert.equal(plan.hash, legacy.metadata.name);
  });

  it('deletes old revisions beyond revisionHistoryLimit, lowest first, never one a pod still carries', () => {
    const old = [revisionOf('v3', 3), revisionOf('v1', 1), revisionOf('v2', 2), revisionOf('v4', 4)];
    const hashOf = (image: string) => revisionOf(image, 0).metadata.labels!['controller-revision-hash']!;
    assert.deepEqual(historyToCleanUp(daemonSet('v5', { limit: 2 }), old, [pod('a', hashOf('v1'))]), names([revisionOf('v2', 2), revisionOf('v3', 3)]));
    assert.deepEqual(historyToCleanUp(daemonSet('v5', { limit: 0 }), old, [pod('a', hashOf('v1')), pod('b', hashOf('v4'))]), names([revisionOf('v2', 2), revisionOf('v3', 3)]));
    assert.deepEqual(historyToCleanUp(daemonSet('v5'), old, []), [], 'ten are kept by default');
  });
});
