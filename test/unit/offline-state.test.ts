// The offline commands read their state files through one reader (src/api/state.ts): a directory
// stands for its manifests, and a file that is missing or holds another kind is named in the error.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readState as dnsState } from '../../src/dns/dns.ts';
import { readState as proxyState } from '../../src/proxy/app/render.ts';
import { tempDir } from '../helpers/apiserver.ts';

const svc = 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {clusterIP: 10.96.0.20, ports: [{port: 80}]}\n';
const slice = 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\nendpoints: [{addresses: [10.244.0.5]}]\n';

describe('offline state files', () => {
  const dir = tempDir('state');
  fs.writeFileSync(path.join(dir, 'svc.yaml'), svc);
  fs.writeFileSync(path.join(dir, 'slice.yaml'), slice);

  it('take a directory as its manifests, with namespaced objects in "default"', () => {
    const p = proxyState([dir]);
    assert.deepEqual([p.services.map((s) => `${s.metadata.namespace}/${s.metadata.name}`), p.slices.length], [['default/web'], 1]);
    const d = dnsState([dir]);
    assert.deepEqual([d.services.length, d.slices.length, d.pods.length], [1, 1, 0]);
  });

  it('name a missing file, and a kind the command does not read, with the code BadState', () => {
    const missing = path.join(dir, 'nope.yaml');
    for (const read of [proxyState, dnsState]) {
      assert.throws(() => read([missing]), (e: any) => e.code === 'BadState' && e.message === `cannot read ${missing}: no such file`);
    }
    const cm = path.join(dir, 'cm.yaml');
    fs.writeFileSync(cm, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
    assert.throws(() => proxyState([cm]), (e: any) => e.code === 'BadState' && /cm\.yaml.*expected v1 Service, discovery\.k8s\.io\/v1 EndpointSlice or v1 Node, got v1 ConfigMap/.test(e.message));
    assert.throws(() => dnsState([cm]), (e: any) => e.code === 'BadState' && /got v1 ConfigMap/.test(e.message));
  });
});
