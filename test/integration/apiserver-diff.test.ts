// `kubectl diff` against unchanged objects finds nothing, however they were made: kubectl
// create, client-side apply, server-side apply, or the lab's own manifest applying (the
// function `podpath up` uses). That holds only when every answer (GET, the dry-run write)
// prints objects as kube-apiserver does: no empty maps or lists that omitempty drops, the
// same zero values everywhere. Both kubectl versions, since their diffs ask differently.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { readManifests } from '../../src/api/manifest.ts';
import type { KubeObject } from '../../src/api/types.ts';
import { Client, loadConfig } from '../../src/client/client.ts';
import { dnsAddon, ingressAddon, netpolAddon } from '../../src/lab/addons.ts';
import { applyAll, readLabManifests } from '../../src/lab/apply.ts';
import { kubectlBin, repoRoot, request, startApiServer, tempDir, type TestApiServer } from '../helpers/apiserver.ts';

const debianKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');
const kubectls = [{ name: '1.32', bin: kubectlBin }, ...(fs.existsSync(debianKubectl) ? [{ name: '1.20', bin: debianKubectl }] : [])];

const manifests = ['examples/seed-000/app.yaml', 'examples/seed-001/api-server.yaml', 'test/fixtures/typical-objects.yaml'].map((f) => path.join(repoRoot, f));

type Mode = 'create' | 'apply' | 'apply --server-side' | 'lab';
const modes: Mode[] = ['create', 'apply', 'apply --server-side', 'lab'];

describe('kubectl diff of unchanged objects', () => {
  let s: TestApiServer;
  let client: Client;
  const homes: string[] = [];
  let work: string;
  const runners = new Map<string, (args: string[]) => { code: number; stdout: string; stderr: string }>();

  before(async () => {
    s = await startApiServer();
    client = new Client(loadConfig(s.kubeconfig));
    work = tempDir('diff');
    for (const k of kubectls) {
      const home = tempDir(`home-${k.name}`);
      homes.push(home);
      runners.set(k.name, (args) => {
        const r = spawnSync(k.bin, args, { env: { ...process.env, HOME: home, KUBECONFIG: s.kubeconfig }, encoding: 'utf8', timeout: 60_000 });
        return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
      });
    }
  });
  after(async () => {
    client?.close();
    await s?.dispose();
    for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** Makes the objects of `file` in namespace `ns` the way `mode` does. */
  async function make(kubectl: (args: string[]) => { code: number; stderr: string }, mode: Mode, file: string, ns: string): Promise<void> {
    if (mode === 'lab') {
      const objs = readLabManifests([file]).map((o) => ({ ...o, metadata: { ...o.metadata, namespace: ns } }));
      await applyAll(client, objs);
      return;
    }
    const r = kubectl([...mode.split(' '), '-n', ns, '-f', file]);
    assert.equal(r.code, 0, `${mode}: ${r.stderr}`);
  }

  let n = 0;
  for (const k of kubectls) {
    for (const mode of modes) {
      it(`finds no difference with kubectl ${k.name} after ${mode === 'lab' ? "the lab's apply" : `kubectl ${mode}`}`, async () => {
        const kubectl = runners.get(k.name)!;
        const ns = `diff-${++n}`;
        assert.equal(kubectl(['create', 'namespace', ns]).code, 0);
        for (const file of manifests) {
          await make(kubectl, mode, file, ns);
          const d = kubectl(['diff', '-n', ns, '-f', file]);
          assert.equal(d.code, 0, `${path.basename(file)}:\n${d.stdout}${d.stderr}`);
          assert.equal(d.stdout, '');
          // A server-side diff merges the same configuration again, as kubectl's manager. After
          // another manager's writes it forces (an atomic struct a default completed, fieldRef's
          // apiVersion, is another value to server-side apply), which adds kubectl's entry to
          // managedFields: kubectl 1.20 shows managedFields in its diffs (1.21 hides them).
          const sameManager = mode === 'apply --server-side';
          if (mode !== 'create' && (sameManager || k.name !== '1.20')) {
            const ssd = kubectl(['diff', '--server-side', ...(sameManager ? [] : ['--force-conflicts']), '-n', ns, '-f', file]);
            assert.equal(ssd.code, 0, `${path.basename(file)} (server-side):\n${ssd.stdout}${ssd.stderr}`);
          }
        }
        // The same diff does see a change.
        const changed = path.join(work, `changed-${ns}.yaml`);
        fs.writeFileSync(changed, fs.readFileSync(manifests[2]!, 'utf8').replace('replicas: 2', 'replicas: 4'));
        const d = kubectl(['diff', '-n', ns, '-f', changed]);
        assert.equal(d.code, 1, d.stderr);
        assert.match(d.stdout, /^-  replicas: 2\n\+  replicas: 4$/m);
        // NodePorts are the cluster's: the next namespace reuses seed-001's.
        for (const file of manifests) assert.equal(kubectl(['delete', '-n', ns, '-f', file]).code, 0);
      });
    }

    it(`finds no difference with kubectl ${k.name} in the lab's add-ons`, async () => {
      const kubectl = runners.get(k.name)!;
      const addons: KubeObject[] = [...netpolAddon({ apiHost: '10.0.0.1', apiPort: 6443 }), ...dnsAddon({ clusterIP: '10.96.0.10', zone: 'cluster.local' }), ...ingressAddon()];
      await applyAll(client, addons);
      const file = path.join(work, `addons-${k.name}.yaml`);
      fs.writeFileSync(file, addons.map((o) => YAML.stringify(o)).join('---\n'));
      assert.equal(readManifests([file]).length, addons.length);
      const d = kubectl(['diff', '-f', file]);
      assert.equal(d.code, 0, `${d.stdout}${d.stderr}`);
    });
  }

  it('answers GET, LIST, WATCH and writes without the empty values omitempty drops', async () => {
    const body = JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'empties', annotations: {}, labels: { app: 'e' }, finalizers: [] },
      spec: {
        replicas: 0,
        minReadySeconds: 0,
        selector: { matchLabels: { app: 'e' } },
        template: { metadata: { labels: { app: 'e' }, annotations: {} }, spec: { nodeSelector: {}, volumes: [], containers: [{ name: 'c', image: 'i', env: [], ports: [] }] } },
      },
    });
    const created = await request(s, 'POST', '/apis/apps/v1/namespaces/default/deployments', body);
    assert.equal(created.status, 201, created.body);
    const watch = await request(s, 'GET', '/apis/apps/v1/namespaces/default/deployments?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dempties');
    const list = await request(s, 'GET', '/apis/apps/v1/namespaces/default/deployments?fieldSelector=metadata.name%3Dempties');
    const get = await request(s, 'GET', '/apis/apps/v1/namespaces/default/deployments/empties');
    const yaml = await request(s, 'GET', '/apis/apps/v1/namespaces/default/deployments/empties', undefined, { accept: 'application/yaml' });
    const dry = await request(s, 'PUT', '/apis/apps/v1/namespaces/default/deployments/empties?dryRun=All', body.replace('"name":"empties"', `"name":"empties","resourceVersion":"${created.json().metadata.resourceVersion}"`));
    assert.equal(dry.status, 200, dry.body);
    for (const [what, text] of [['create', created.body], ['watch', watch.body], ['list', list.body], ['get', get.body], ['dry-run update', dry.body]] as const) {
      assert.doesNotMatch(text, /"(annotations|finalizers|nodeSelector|volumes|env|ports)":(\{\}|\[\])/, `${what}: ${text.slice(0, 400)}`);
      assert.doesNotMatch(text, /"minReadySeconds":0/, what);
      assert.match(text, /"template":\{"metadata":\{"creationTimestamp":null,"labels"/, `${what}: a template's unset creationTimestamp prints null, in ObjectMeta's order`);
      assert.match(text, /"replicas":0/, `${what}: a pointer's 0 is printed`);
      assert.match(text, /"resources":\{\}/, `${what}: a value struct is never dropped`);
      assert.match(text, /"status":\{\}/, what);
    }
    assert.match(yaml.body, /^ {6}creationTimestamp: null$/m);
    // The dry run of the same object changed nothing, so it is the stored object.
    assert.equal(dry.json().metadata.generation, 1);
    assert.deepEqual(dry.json(), get.json());
  });
});
