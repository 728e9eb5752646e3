// The Deployment's revision bookkeeping, as the deployment controller computes it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Deployment, ReplicaSet } from '../../src/api/types.ts';
import {
  appendRevisionHistory,
  maxRevision,
  newReplicaSetAnnotations,
  replicaSetsToClean,
  revisionOf,
  sameTemplateIgnoringHash,
} from '../../src/controllers/revisions.ts';

const rs = (name: string, revision: string | undefined, o: { replicas?: number; statusReplicas?: number; generation?: number; observed?: number; created?: string } = {}): ReplicaSet =>
  ({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, generation: o.generation ?? 1, creationTimestamp: o.created ?? '2024-01-01T00:00:00Z', ...(revision !== undefined ? { annotations: { 'deployment.kubernetes.io/revision': revision } } : {}) },
    spec: { replicas: o.replicas ?? 0, selector: {} },
    status: { replicas: o.statusReplicas ?? 0, observedGeneration: o.observed ?? 1 },
  }) as ReplicaSet;

const dep = (annotations: Record<string, string>): Deployment => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', annotations }, spec: { selector: {}, template: {} } }) as unknown as Deployment;

describe('deployment revisions', () => {
  it('reads revisions as upstream does: missing is 0, unparsable is skipped', () => {
    assert.equal(revisionOf(rs('a', undefined)), 0);
    assert.equal(revisionOf(rs('a', 'x')), undefined);
    assert.equal(maxRevision([rs('a', '3'), rs('b', 'x'), rs('c', '10'), rs('d', undefined)]), 10);
  });

  it('gives a new ReplicaSet the next revision, the Deployment annotations but the skipped ones, and the replicas annotations', () => {
    const d = dep({ 'kubernetes.io/change-cause': 'v2', 'kubectl.kubernetes.io/last-applied-configuration': '{}', 'deployment.kubernetes.io/revision': '1', team: 'a' });
    const a = newReplicaSetAnnotations(d, undefined, 2, { 'deployment.kubernetes.io/desired-replicas': '3', 'deployment.kubernetes.io/max-replicas': '4' });
    assert.deepEqual(a, {
      'kubernetes.io/change-cause': 'v2',
      team: 'a',
      'deployment.kubernetes.io/revision': '2',
      'deployment.kubernetes.io/desired-replicas': '3',
      'deployment.kubernetes.io/max-replicas': '4',
    });
  });

  it('renumbers a ReplicaSet that comes back (a rollback) and keeps the revision it held', () => {
    const d = dep({ 'kubernetes.io/change-cause': 'v1' });
    const cur = { 'deployment.kubernetes.io/revision': '1', 'kubernetes.io/change-cause': 'v1' };
    assert.deepEqual(newReplicaSetAnnotations(d, cur, 3, undefined), { ...cur, 'deployment.kubernetes.io/revision': '3', 'deployment.kubernetes.io/revision-history': '1' });
    const again = { 'deployment.kubernetes.io/revision': '3', 'deployment.kubernetes.io/revision-history': '1', 'kubernetes.io/change-cause': 'v1' };
    assert.equal(newReplicaSetAnnotations(d, again, 3, undefined), undefined, 'the current revision is not renumbered');
    assert.equal(newReplicaSetAnnotations(d, { ...again, 'deployment.kubernetes.io/revision': '12' }, 5, undefined), undefined, 'compared as numbers, not strings');
    assert.equal(newReplicaSetAnnotations(d, { 'deployment.kubernetes.io/revision': '5', 'kubernetes.io/change-cause': 'old' }, 7, undefined)!['deployment.kubernetes.io/revision-history'], '5');
  });

  it('caps the revision-history at 2000 characters, oldest first', () => {
    const long = Array.from({ length: 400 }, (_, i) => String(1000 + i)).join(','); // 1999 characters
    const out = appendRevisionHistory(long, '2000');
    assert.ok(out.length <= 2000);
    assert.ok(out.endsWith(',2000'));
    assert.ok(out.startsWith('1001,'), out.slice(0, 20));
    assert.equal(appendRevisionHistory('', '4'), '4');
    assert.equal(appendRevisionHistory('1,2', '4'), '1,2,4');
  });

  it('cleans the lowest revisions beyond the limit, only those scaled to zero and observed', () => {
    const old = [rs('r5', '5'), rs('r1', '1'), rs('r2', '2', { replicas: 1, statusReplicas: 1 }), rs('r3', '3', { generation: 2, observed: 1 }), rs('r4', '4')];
    assert.deepEqual(replicaSetsToClean(old, 10), []);
    assert.deepEqual(replicaSetsToClean(old, 1).map((r) => r.metadata.name), ['r1', 'r4']);
    assert.deepEqual(replicaSetsToClean(old, 0).map((r) => r.metadata.name), ['r1', 'r4', 'r5']);
  });

  it('matches templates ignoring the pod-template-hash, key order and empty fields', () => {
    const a = { metadata: { labels: { app: 'x', 'pod-template-hash': 'abc' } }, spec: { containers: [{ name: 'c', image: 'i', env: [] }] } };
    const b = { spec: { containers: [{ image: 'i', name: 'c' }] }, metadata: { labels: { app: 'x' } } };
    assert.ok(sameTemplateIgnoringHash(a, b));
    assert.ok(!sameTemplateIgnoringHash(a, { ...b, spec: { containers: [{ name: 'c', image: 'j' }] } }));
  });
});
