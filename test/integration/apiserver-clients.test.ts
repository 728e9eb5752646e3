// @kubernetes/client-node as a second real client: an informer sees adds, updates and deletes
// and recovers when the server is killed and restarted; acknowledged writes survive kill -9.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { eventually, startApiServer, type TestApiServer } from '../helpers/apiserver.ts';

function clientFor(s: TestApiServer): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(s.kubeconfig);
  return kc;
}

describe('@kubernetes/client-node against podpath apiserver', () => {
  let s: TestApiServer;
  before(async () => {
    s = await startApiServer();
  });
  after(async () => {
    await s?.dispose();
  });

  it('an informer sees adds, updates and deletes, and recovers after a kill and restart', async () => {
    const kc = clientFor(s);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const listFn = () => core.listNamespacedConfigMap({ namespace: 'default' });
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/default/configmaps', listFn);
    const seen: string[] = [];
    let stopped = false;
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}=${o.data?.v}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name}=${o.data?.v}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    informer.on('error', () => {
      // the informer restarts itself below; errors during the outage are expected
    });
    await informer.start();
    try {
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'one' }, data: { v: '1' } } });
      await eventually(() => seen.includes('add one=1'), 10_000, 'add');
      await core.replaceNamespacedConfigMap({ name: 'one', namespace: 'default', body: { metadata: { name: 'one' }, data: { v: '2' } } });
      await eventually(() => seen.includes('update one=2'), 10_000, 'update');
      await core.deleteNamespacedConfigMap({ name: 'one', namespace: 'default' });
      await eventually(() => seen.includes('delete one'), 10_000, 'delete');

      await s.kill9();
      await s.restart();
      // client-node's informer stops on a broken watch; like a controller, restart it.
      informer.on('error', () => {
        if (!stopped) setTimeout(() => void informer.start().catch(() => {}), 200);
      });
      await informer.start().catch(() => {});
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'two' }, data: { v: '1' } } });
      await eventually(() => seen.includes('add two=1'), 15_000, 'add after restart');
      assert.equal(seen.filter((x) => x === 'add one=1').length, 1, 'no duplicate add of a deleted object');
    } finally {
      stopped = true;
      await informer.stop();
    }
  });

  it('objects written before kill -9 are all there after a restart', async () => {
    const kc = clientFor(s);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const names: string[] = [];
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        names.push(`durable-${i}`);
        return core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `durable-${i}` }, data: { i: String(i) } } });
      }),
    );
    await core.patchNamespacedConfigMap({ name: 'durable-7', namespace: 'default', body: { data: { i: 'patched' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await core.deleteNamespacedConfigMap({ name: 'durable-8', namespace: 'default' });
    const rvBefore = (await core.listNamespacedConfigMap({ namespace: 'default' })).metadata?.resourceVersion;
    await s.kill9();
    await s.restart();
    const kc2 = clientFor(s);
    const core2 = kc2.makeApiClient(k8s.CoreV1Api);
    const list = await core2.listNamespacedConfigMap({ namespace: 'default' });
    const have = new Map(list.items.map((c) => [c.metadata!.name!, c.data?.i]));
    for (const [i, n] of names.entries()) {
      if (n === 'durable-8') assert.equal(have.has(n), false, 'the delete survived');
      else if (n === 'durable-7') assert.equal(have.get(n), 'patched');
      else assert.equal(have.get(n), String(i), `${n} survived`);
    }
    assert.ok(Number(list.metadata?.resourceVersion) >= Number(rvBefore), 'resourceVersion never goes back');
    const svc = await core2.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
    assert.equal(svc.spec?.clusterIP, '10.96.0.1');
  });
});
