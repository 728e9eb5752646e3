// Kubernetes' Python client (Debian's python3-kubernetes) against a real `podpath apiserver`:
// watches (adds, updates, deletes, bookmarks, resuming, 410 for a compacted resourceVersion),
// the dynamic client's server-side apply, list and watch, utils.create_from_yaml of the
// examples, and error bodies byte for byte. The client sends booleans as `True`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeKubectl, repoRoot, startApiServer, tempDir, type TestApiServer } from '../helpers/apiserver.ts';

const python = '/usr/bin/python3';
const script = path.join(repoRoot, 'test/fixtures/python/client_checks.py');
const hasClient = spawnSync(python, ['-c', 'import kubernetes'], { stdio: 'ignore' }).status === 0;

interface WatchEvent {
  type: string;
  name: string | null;
  resourceVersion: string | null;
  data: Record<string, string> | null;
}

/** A Status as apimachinery's constructors build it, in the field order the server encodes. */
function status(code: number, reason: string, message: string, details?: Record<string, unknown>): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code });
}

describe('Kubernetes Python client', { skip: hasClient ? false : `${python} cannot import kubernetes (Debian's python3-kubernetes is not installed)` }, () => {
  let s: TestApiServer;
  let kubectl: ReturnType<typeof makeKubectl>;
  let scratch: string;
  /** the resourceVersion the watch scenario started from (a later test makes it too old) */
  let rv0 = '';

  const run = (scenario: string, arg: object = {}): any => {
    const r = spawnSync(python, [script, s.kubeconfig, scenario, JSON.stringify(arg)], { encoding: 'utf8', timeout: 90_000 });
    assert.equal(r.status, 0, `${scenario}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    s = await startApiServer();
    kubectl = makeKubectl(s.kubeconfig);
    scratch = tempDir('python');
  });
  after(async () => {
    await s?.dispose();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('watch.Watch().stream sees adds, updates and deletes live, then a bookmark; resumed from a resourceVersion it replays them', () => {
    const out = run('watch');
    rv0 = out.rv0;
    const live: WatchEvent[] = out.live;
    assert.deepEqual(
      live.map((e) => [e.type, e.name, e.data]),
      [
        ['ADDED', 'pre', { k: '0' }],
        ['ADDED', 'a', { k: '1' }],
        ['MODIFIED', 'a', { k: '2' }],
        ['DELETED', 'a', { k: '2' }],
        ['BOOKMARK', null, null],
      ],
    );
    const rvs = live.slice(1).map((e) => Number(e.resourceVersion));
    assert.ok(rvs[0]! > Number(rv0) && rvs[0]! < rvs[1]! && rvs[1]! < rvs[2]!, `resourceVersions rise: ${rvs}`);
    assert.equal(rvs[3], rvs[2], 'the bookmark carries the newest resourceVersion');
    const resumed: WatchEvent[] = out.resumed;
    assert.deepEqual(
      resumed.map((e) => [e.type, e.name, e.resourceVersion]),
      [...live.slice(1, 4).map((e) => [e.type, e.name, e.resourceVersion]), ['BOOKMARK', null, live[4]!.resourceVersion]],
    );
  });

  it('the dynamic client applies server-side (a conflict, then forced), lists, and watches from the list', () => {
    const out = run('dynamic', { cacheFile: path.join(scratch, 'discovery.json') });
    assert.deepEqual(out.first.data, { owner: 'a' });
    assert.equal(out.conflict.status, 409);
    assert.equal(
      JSON.stringify(out.conflict.body),
      status(409, 'Conflict', 'Apply failed with 1 conflict: conflict with "py-a" using v1: .data.owner', {
        causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "py-a" using v1', field: '.data.owner' }],
      }),
    );
    assert.deepEqual(out.forced.data, { owner: 'b' });
    assert.equal(out.forced.managedFields['py-b'].operation, 'Apply');
    assert.deepEqual(out.forced.managedFields['py-b'].fieldsV1['f:data']['f:owner'], {});
    assert.equal(out.forced.managedFields['py-a']?.fieldsV1?.['f:data']?.['f:owner'], undefined, 'py-a lost the field it was forced from');
    assert.ok(out.listed.includes('ssa'), out.listed.join(' '));
    assert.deepEqual(out.events, [
      { type: 'ADDED', name: 'dyn-watched' },
      { type: 'DELETED', name: 'dyn-watched' },
    ]);
  });

  it('utils.create_from_yaml creates the examples the API server serves (Namespaces, Pods, NetworkPolicies, Deployments, Services, Ingress, EndpointSlice)', () => {
    // examples/dns/cluster-state.yaml is the DNS server's input describing a whole cluster,
    // the API server's own default Namespaces and kubernetes Service included: not for creating.
    const files = [
      'netpol/00-namespaces.yaml',
      'netpol/10-pods.yaml',
      'netpol/policies/default-deny.yaml',
      'netpol/policies/allow-from-namespace.yaml',
      'netpol/policies/allow-named-port.yaml',
      'netpol/seed-003/pods.yaml',
      'netpol/seed-003/policy.yaml',
      'seed-000/app.yaml',
      'seed-001/api-server.yaml',
    ];
    const out: { file: string; created?: string[]; failures?: unknown[] }[] = run('create_from_yaml', { files: files.map((f) => path.join(repoRoot, 'examples', f)) });
    const created = Object.fromEntries(out.map((o) => [path.relative(path.join(repoRoot, 'examples'), o.file), o.created ?? o.failures]));
    assert.deepEqual(created, {
      'netpol/00-namespaces.yaml': ['V1Namespace/x', 'V1Namespace/y', 'V1Namespace/z'],
      'netpol/10-pods.yaml': ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c'].map((n) => `V1Pod/${n}`),
      'netpol/policies/default-deny.yaml': ['V1NetworkPolicy/default-deny-ingress'],
      'netpol/policies/allow-from-namespace.yaml': ['V1NetworkPolicy/allow-from-y'],
      'netpol/policies/allow-named-port.yaml': ['V1NetworkPolicy/allow-to-serve-81-tcp'],
      'netpol/seed-003/pods.yaml': ['V1Pod/frontend', 'V1Pod/backend', 'V1Pod/database', 'V1Pod/other'],
      'netpol/seed-003/policy.yaml': ['V1NetworkPolicy/allow-from-frontend'],
      'seed-000/app.yaml': ['V1Deployment/app', 'V1Service/app-service', 'V1Ingress/my-ingress'],
      'seed-001/api-server.yaml': ['V1Deployment/api-server', 'V1Service/api-service'],
    });
    const ing = kubectl(['get', 'ingress', 'my-ingress', '-o', 'jsonpath={.spec.rules[0].host}']);
    assert.equal(ing.stdout, 'app.example.com', ing.stderr);
    // The kube-proxy lab's state names the same Service as seed-001: created once that one is gone.
    const del = kubectl(['delete', 'service', 'api-service']);
    assert.equal(del.code, 0, del.stderr);
    const state = run('create_from_yaml', { files: [path.join(repoRoot, 'examples/proxy/seed-001-state.yaml')] });
    assert.deepEqual(state[0].created, ['V1Service/api-service', 'V1EndpointSlice/api-service-x7k2p']);
  });

  it('error bodies are upstream Status objects: 404 (object, object of a group, subresource, unrouted path), 409, 422, 405', () => {
    const out = run('status');
    const expected: Record<string, [number, string]> = {
      notFound: [404, status(404, 'NotFound', 'configmaps "nope" not found', { name: 'nope', kind: 'configmaps' })],
      notFoundGroup: [404, status(404, 'NotFound', 'deployments.apps "nope" not found', { name: 'nope', group: 'apps', kind: 'deployments' })],
      notFoundSubresource: [404, status(404, 'NotFound', 'pods "nope" not found', { name: 'nope', kind: 'pods' })],
      // kubectl debug reads details.name of this one: the details must be there, empty.
      notFoundPath: [404, status(404, 'NotFound', 'the server could not find the requested resource', {})],
      alreadyExists: [409, status(409, 'AlreadyExists', 'configmaps "exists" already exists', { name: 'exists', kind: 'configmaps' })],
      conflict: [
        409,
        status(409, 'Conflict', 'Operation cannot be fulfilled on configmaps "exists": the object has been modified; please apply your changes to the latest version and try again', {
          name: 'exists',
          kind: 'configmaps',
        }),
      ],
      invalid: [
        422,
        status(422, 'Invalid', 'Service "s1" is invalid: spec.ports: Required value', {
          name: 's1',
          kind: 'Service',
          causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.ports' }],
        }),
      ],
      methodNotAllowed: [405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {})],
    };
    for (const [name, [code, body]] of Object.entries(expected)) {
      assert.equal(out[name]?.status, code, `${name}: ${JSON.stringify(out[name])}`);
      assert.equal(JSON.stringify(JSON.parse(out[name].body)), body, name);
    }
  });

  it('a watch from a compacted resourceVersion fails with 410 Expired, with and without the client\'s one retry', async () => {
    assert.ok(rv0, 'the watch test ran first');
    // A restarted server's watch history starts at its newest resourceVersion: older ones are gone.
    await s.stop();
    await s.restart();
    const out = run('gone', { rv: rv0 });
    for (const label of ['timeout', 'retry']) {
      assert.equal(out[label]?.status, 410, `${label}: ${JSON.stringify(out[label])}`);
      assert.match(out[label].reason, new RegExp(`^Expired: too old resource version: ${rv0} \\(\\d+\\)$`), label);
    }
  });
});
