// Protobuf responses, as kube-apiserver gives them to a client whose Accept header prefers
// application/vnd.kubernetes.protobuf (client-go's typed clients, from kubectl 1.32 on): objects,
// lists, Status errors with their HTTP code, and watch streams of length-framed WatchEvents.
// Each answer is decoded with the server's own codec and compared field for field with the JSON
// answer to the same request; then the real kubectl reads them (-v=8 shows the Content-Type),
// and Debian's kubectl 1.20, which asks for JSON, still gets JSON.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeProtobufBody, readWatchFrames } from '../../src/apiserver/protobuf.ts';
import { eventually, kubectlBin, makeKubectl, repoRoot, request, tempDir, startApiServer, type HttpResult, type KubectlResult, type TestApiServer } from '../helpers/apiserver.ts';

const pb = 'application/vnd.kubernetes.protobuf';
/** What client-go's typed clients send in kubectl 1.32+. */
const typed = `${pb},application/json`;
const debianKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');

/**
 * The JSON form less what protobuf cannot say: a null (Go's zero metav1.Time, which it writes
 * as no bytes) and an empty list (a nil slice to a Go client, as no field on the wire).
 */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null || (Array.isArray(x) && x.length === 0)) continue;
    out[k] = plain(x);
  }
  return out;
}

/** The protobuf answer decoded, after checking it is one. */
function decoded(r: HttpResult): Record<string, unknown> {
  assert.equal(r.headers['content-type'], pb, `${r.status} ${r.body.slice(0, 200)}`);
  assert.deepEqual(r.raw.subarray(0, 4), Buffer.from('k8s\0', 'latin1'));
  return decodeProtobufBody(r.raw);
}

interface Stream {
  headers: Record<string, string | string[] | undefined>;
  data: () => Buffer;
  close: () => void;
}

/** A watch left open: what has arrived so far, read as it comes. */
function openStream(s: TestApiServer, p: string, accept: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const req = https.request(
      { host: '127.0.0.1', port: s.port, method: 'GET', path: p, headers: { Authorization: `Bearer ${s.token}`, Accept: accept }, ca: s.caCert, servername: 'localhost' },
      (res) => {
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', () => {});
        resolve({ headers: res.headers, data: () => Buffer.concat(chunks), close: () => req.destroy() });
      },
    );
    req.on('error', (e) => (chunks.length ? undefined : reject(e)));
    req.end();
  });
}

interface Exchange {
  verb: string;
  url: string;
  status: string;
  accept?: string;
  contentType?: string;
}

/** The requests kubectl -v=8 logged (1.32+'s structured lines), with the Accept sent and the Content-Type answered. */
function exchanges(stderr: string): Exchange[] {
  const out: Exchange[] = [];
  let cur: Exchange | undefined;
  let block: 'request' | 'response' | undefined;
  for (const line of stderr.split('\n')) {
    const rq = /"Request" verb="(\w+)" url="([^"]+)"/.exec(line);
    if (rq) {
      cur = { verb: rq[1]!, url: rq[2]!, status: '' };
      out.push(cur);
      block = 'request';
      continue;
    }
    const rs = /"Response" status="([^"]+)"/.exec(line);
    if (rs && cur) {
      cur.status = rs[1]!;
      block = 'response';
      continue;
    }
    if (/^ >/.test(line)) block = undefined;
    const h = /^\t([\w-]+): (.*)$/.exec(line);
    if (!h || !cur || !block) continue;
    if (block === 'request' && h[1] === 'Accept') cur.accept = h[2]!;
    if (block === 'response' && h[1] === 'Content-Type') cur.contentType = h[2]!;
  }
  return out;
}

const owned = (deployUid: string) => `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d4f9c
  labels: {app: web, pod-template-hash: 5d4f9c}
  annotations: {deployment.kubernetes.io/revision: "1"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: ${deployUid}, controller: true, blockOwnerDeletion: true}]
spec:
  replicas: 2
  selector: {matchLabels: {app: web, pod-template-hash: 5d4f9c}}
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d4f9c}}
    spec: {containers: [{name: nginx, image: nginx}]}
`;

const objects = `apiVersion: v1
kind: Node
metadata: {name: node1, labels: {kubernetes.io/hostname: node1}}
---
apiVersion: v1
kind: Node
metadata: {name: node2, labels: {kubernetes.io/hostname: node2}}
---
apiVersion: v1
kind: Namespace
metadata: {name: pbr}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: pbr, labels: {a: b}}
data: {key: value, multi: "x\\ny"}
binaryData: {bin: AAEC}
---
apiVersion: v1
kind: Secret
metadata: {name: sec, namespace: pbr}
type: Opaque
data: {k: dg==}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: pbr}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}, {name: alt, port: 81, targetPort: 8081, protocol: UDP}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: pbr}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports: [{name: http, containerPort: 80}]
        resources: {limits: {cpu: 250m, memory: 64Mi}}
        readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 3}
---
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: pbr, labels: {app: web}}
spec:
  nodeName: node1
  containers: [{name: c, image: busybox, args: [sleep, "3600"], env: [{name: X, value: "1"}]}]
`;

describe('protobuf responses from podpath apiserver', () => {
  let s: TestApiServer;
  let kubectl: (args: string[], input?: string) => KubectlResult;
  const ok = (args: string[], input?: string): KubectlResult => {
    const r = kubectl(args, input);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr.slice(-2000)}`);
    return r;
  };
  /** The same GET answered in protobuf and in JSON. */
  const both = async (p: string, accept = typed, jsonAccept = 'application/json'): Promise<[HttpResult, HttpResult]> => [
    await request(s, 'GET', p, undefined, { accept }),
    await request(s, 'GET', p, undefined, { accept: jsonAccept }),
  ];

  before(async () => {
    s = await startApiServer();
    kubectl = makeKubectl(s.kubeconfig);
    ok(['apply', '-f', '-'], objects);
  });
  after(async () => {
    await s?.dispose();
  });

  it('answers get and list in protobuf, field for field what JSON answers', async () => {
    const paths = [
      '/api/v1/namespaces/pbr/pods/p1',
      '/api/v1/namespaces/pbr/pods/p1/status',
      '/api/v1/namespaces/pbr/pods',
      '/api/v1/pods',
      '/api/v1/nodes/node1',
      '/api/v1/nodes',
      '/api/v1/namespaces/pbr',
      '/api/v1/namespaces/pbr/configmaps/cfg',
      '/api/v1/namespaces/pbr/secrets',
      '/api/v1/namespaces/pbr/services/web',
      '/api/v1/namespaces/pbr/events',
      '/apis/apps/v1/namespaces/pbr/deployments/web',
      '/apis/apps/v1/namespaces/pbr/deployments/web/scale',
      '/apis/apps/v1/deployments',
      '/apis/discovery.k8s.io/v1/endpointslices',
      '/apis/coordination.k8s.io/v1/namespaces/pbr/leases',
    ];
    for (const p of paths) {
      const [proto, json] = await both(p);
      assert.equal(proto.status, 200, `${p}: ${proto.body}`);
      assert.deepEqual(decoded(proto), plain(json.json()), p);
    }
    // The list's items are whole objects: the Service's named and numbered target ports survive.
    const [svcs] = await both('/api/v1/namespaces/pbr/services');
    const items = decoded(svcs).items as { spec: { ports: { targetPort: unknown }[] } }[];
    assert.deepEqual(
      items[0]!.spec.ports.map((x) => x.targetPort),
      ['http', 8081],
    );
  });

  it('answers create, update, patch and delete in protobuf', async () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'made', namespace: 'pbr' }, data: { a: '1' } };
    let r = await request(s, 'POST', '/api/v1/namespaces/pbr/configmaps', JSON.stringify(cm), { accept: typed });
    assert.equal(r.status, 201, r.body);
    const created = decoded(r);
    const [, now] = await both('/api/v1/namespaces/pbr/configmaps/made');
    assert.deepEqual(created, plain(now.json()));

    const update = { ...now.json(), data: { a: '2' } };
    r = await request(s, 'PUT', '/api/v1/namespaces/pbr/configmaps/made', JSON.stringify(update), { accept: typed });
    assert.equal(r.status, 200, r.body);
    const updated = decoded(r);
    assert.deepEqual(updated.data, { a: '2' });
    assert.deepEqual(updated, plain((await request(s, 'GET', '/api/v1/namespaces/pbr/configmaps/made')).json()));

    r = await request(s, 'PATCH', '/api/v1/namespaces/pbr/configmaps/made', JSON.stringify({ data: { b: '3' } }), { contentType: 'application/merge-patch+json', accept: typed });
    assert.equal(r.status, 200, r.body);
    const patched = decoded(r);
    assert.deepEqual(patched.data, { a: '2', b: '3' });
    const before = (await request(s, 'GET', '/api/v1/namespaces/pbr/configmaps/made')).json();
    assert.deepEqual(patched, plain(before));

    // The scale subresource writes answer autoscaling/v1 Scale.
    r = await request(s, 'PATCH', '/apis/apps/v1/namespaces/pbr/deployments/web/scale', JSON.stringify({ spec: { replicas: 3 } }), { contentType: 'application/merge-patch+json', accept: typed });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual([decoded(r).kind, (decoded(r).spec as { replicas: number }).replicas], ['Scale', 3]);

    // A ConfigMap's delete answers a Status of success; a twin deleted as JSON says the same.
    const twin = await request(s, 'POST', '/api/v1/namespaces/pbr/configmaps', JSON.stringify({ ...cm, metadata: { name: 'twin', namespace: 'pbr' } }));
    assert.equal(twin.status, 201, twin.body);
    r = await request(s, 'DELETE', '/api/v1/namespaces/pbr/configmaps/made', undefined, { accept: typed });
    assert.equal(r.status, 200, r.body);
    const json = await request(s, 'DELETE', '/api/v1/namespaces/pbr/configmaps/twin', undefined, { accept: 'application/json' });
    const twinStatus = json.json();
    twinStatus.details = { ...twinStatus.details, name: 'made', uid: (created.metadata as { uid: string }).uid };
    assert.deepEqual(decoded(r), plain(twinStatus));
    assert.equal(decoded(r).status, 'Success');

    // A Pod on a node is deleted gracefully: the answer is the Pod, marked for deletion.
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pdel', namespace: 'pbr' }, spec: { nodeName: 'node1', containers: [{ name: 'c', image: 'busybox' }] } };
    assert.equal((await request(s, 'POST', '/api/v1/namespaces/pbr/pods', JSON.stringify(pod))).status, 201);
    r = await request(s, 'DELETE', '/api/v1/namespaces/pbr/pods/pdel', undefined, { accept: typed });
    assert.equal(r.status, 200, r.body);
    const marked = decoded(r);
    assert.ok((marked.metadata as { deletionTimestamp?: string }).deletionTimestamp, JSON.stringify(marked.metadata));
    assert.deepEqual(marked, plain((await request(s, 'GET', '/api/v1/namespaces/pbr/pods/pdel')).json()));
  });

  it('answers errors as protobuf Status with the HTTP code, as JSON does', async () => {
    const cases: [string, string, string | undefined, number][] = [
      ['GET', '/api/v1/namespaces/pbr/pods/nope', undefined, 404],
      ['GET', '/api/v1/namespaces/pbr/nothings', undefined, 404],
      ['POST', '/api/v1/namespaces/pbr/configmaps', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' } }), 409],
      ['POST', '/api/v1/namespaces/pbr/configmaps', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Not_Valid' } }), 422],
      ['PUT', '/api/v1/namespaces/pbr/pods/p1/log', '{}', 405],
    ];
    for (const [method, p, body, code] of cases) {
      const proto = await request(s, method, p, body, { accept: typed });
      const json = await request(s, method, p, body, { accept: 'application/json' });
      assert.equal(proto.status, code, `${method} ${p}: ${proto.body}`);
      assert.equal(json.status, code);
      const st = decoded(proto);
      assert.deepEqual(st, plain(json.json()), `${method} ${p}`);
      assert.deepEqual([st.kind, st.apiVersion, st.code], ['Status', 'v1', code]);
    }
    // Authentication fails before anything else, and is negotiated the same way.
    const unauth = await request(s, 'GET', '/api/v1/pods', undefined, { accept: typed, auth: false });
    assert.equal(unauth.status, 401);
    assert.deepEqual(decoded(unauth), { apiVersion: 'v1', kind: 'Status', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
  });

  it('keeps Table JSON (no protobuf Table upstream), refusing a protobuf-only Table with 406 in JSON, and serves PartialObjectMetadata in protobuf', async () => {
    const table = `${pb};as=Table;v=v1;g=meta.k8s.io`;
    const refused = await request(s, 'GET', '/api/v1/namespaces/pbr/pods', undefined, { accept: table });
    assert.equal(refused.status, 406);
    assert.equal(refused.headers['content-type'], 'application/json');
    assert.equal(refused.json().message, 'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf');
    const t = await request(s, 'GET', '/api/v1/namespaces/pbr/pods', undefined, { accept: `${table}, application/json;as=Table;v=v1;g=meta.k8s.io` });
    assert.equal(t.status, 200);
    assert.equal(t.json().kind, 'Table');
    // A Table clause passed over, the next (plain protobuf) is served.
    assert.equal(decoded(await request(s, 'GET', '/api/v1/namespaces/pbr/pods', undefined, { accept: `${table}, ${pb}` })).kind, 'PodList');

    const [list, jsonList] = await both('/apis/apps/v1/namespaces/pbr/deployments', `${pb};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`, 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1');
    assert.equal(list.status, 200, list.body);
    assert.match(String(list.headers['content-type']), /^application\/vnd\.kubernetes\.protobuf;as=PartialObjectMetadata/);
    // Items travel without their type meta in protobuf (a Go client's items have none), as in any list.
    const expected = plain(jsonList.json()) as { items: Record<string, unknown>[] };
    expected.items = expected.items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
    assert.equal(expected.items.length, 1);
    assert.deepEqual(decodeProtobufBody(list.raw), expected);
    assert.equal(decodeProtobufBody(list.raw).kind, 'PartialObjectMetadataList');
  });

  it('streams a watch as length-framed WatchEvents holding each object envelope, as the JSON watch streams them', async () => {
    ok(['create', 'namespace', 'w']);
    ok(['create', 'configmap', 'a', '-n', 'w', '--from-literal=k=1']);
    const q = '/api/v1/namespaces/w/configmaps?watch=1&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan';
    const proto = await openStream(s, q, typed);
    const json = await openStream(s, q, 'application/json');
    try {
      assert.equal(proto.headers['content-type'], `${pb};stream=watch`);
      assert.equal(json.headers['content-type'], 'application/json');
      ok(['create', 'configmap', 'b', '-n', 'w', '--from-literal=k=2']);
      ok(['label', 'configmap', 'a', '-n', 'w', 'x=y']);
      ok(['delete', 'configmap', 'b', '-n', 'w']);
      const jsonEvents = await eventually(() => {
        const lines = json.data().toString('utf8').split('\n').filter(Boolean);
        return lines.length >= 5 ? lines.map((l) => JSON.parse(l) as { type: string; object: unknown }) : undefined;
      }, 10_000, 'five JSON watch events');
      const frames = await eventually(() => {
        const { frames: f, rest } = readWatchFrames(proto.data());
        return f.length >= 5 && rest.length === 0 ? f : undefined;
      }, 10_000, 'five protobuf watch events');
      assert.deepEqual(
        frames!.map((f) => f.type),
        ['ADDED', 'BOOKMARK', 'ADDED', 'MODIFIED', 'DELETED'],
      );
      for (const [i, f] of frames!.entries()) {
        assert.deepEqual(f.object.subarray(0, 4), Buffer.from('k8s\0', 'latin1'), `event ${i} object carries the magic`);
        assert.deepEqual({ type: f.type, object: decodeProtobufBody(f.object) }, plain(jsonEvents![i]), `event ${i}`);
      }
      const bookmark = decodeProtobufBody(frames![1]!.object) as { kind: string; metadata: { annotations: Record<string, string> } };
      assert.deepEqual([bookmark.kind, bookmark.metadata.annotations], ['ConfigMap', { 'k8s.io/initial-events-end': 'true' }]);
    } finally {
      proto.close();
      json.close();
    }
  });

  describe('the real kubectl reading protobuf', { skip: fs.existsSync(kubectlBin) ? false : `no ${kubectlBin}` }, () => {
    /** The exchanges of a command, checking it asked for protobuf and got it for every API object read. */
    const protobufRead = (r: KubectlResult, what: RegExp): Exchange[] => {
      const xs = exchanges(r.stderr).filter((x) => what.test(`${x.verb} ${x.url}`));
      assert.ok(xs.length > 0, `no request matching ${what} in:\n${r.stderr.slice(-3000)}`);
      for (const x of xs) {
        assert.equal(x.accept, typed, `${x.verb} ${x.url}`);
        assert.equal(x.contentType, pb, `${x.verb} ${x.url}`);
      }
      return xs;
    };

    it('kubectl create deployment reads back the created Deployment in protobuf', () => {
      const r = ok(['create', 'deployment', 'api', '-n', 'pbr', '--image=nginx', '--replicas=0', '-v=8']);
      assert.match(r.stdout, /deployment.apps\/api created/);
      protobufRead(r, /^POST .*\/deployments/);
    });

    it('kubectl rollout history lists the ReplicaSets in protobuf and finds the one the Deployment owns', () => {
      const uid = ok(['get', 'deployment', 'web', '-n', 'pbr', '-o', 'jsonpath={.metadata.uid}']).stdout;
      ok(['apply', '-n', 'pbr', '-f', '-'], owned(uid));
      const r = ok(['rollout', 'history', 'deployment/web', '-n', 'pbr', '-v=8']);
      assert.match(r.stdout, /REVISION\s+CHANGE-CAUSE\n1\s+<none>/);
      protobufRead(r, /^GET .*\/replicasets\?labelSelector=/);
    });

    it('kubectl describe reads the Deployment, its ReplicaSets and events in protobuf', () => {
      const r = ok(['describe', 'deployment', 'web', '-n', 'pbr', '-v=8']);
      assert.match(r.stdout, /Replicas:\s+3 desired/);
      // found by its owner reference's uid among the listed ReplicaSets
      assert.match(r.stdout, /ReplicaSets?:\s+web-5d4f9c/);
      protobufRead(r, /^GET .*\/(replicasets|events)\?/);
    });

    it('kubectl drain --dry-run=server reads the patched Node and the Pods in protobuf', () => {
      const r = ok(['drain', 'node2', '--dry-run=server', '--ignore-daemonsets', '-v=8']);
      assert.match(r.stdout, /node\/node2 cordoned \(server dry run\)\nnode\/node2 drained \(server dry run\)/);
      const xs = protobufRead(r, /^(PATCH .*\/nodes\/node2|GET .*\/pods\?fieldSelector=spec.nodeName%3Dnode2)/);
      assert.deepEqual(xs.map((x) => x.verb).sort(), ['GET', 'PATCH']);
      assert.equal(ok(['get', 'node', 'node2', '-o', 'jsonpath={.spec.unschedulable}']).stdout, '');
    });

    it('kubectl debug node/NODE and kubectl auth can-i read what they created in protobuf', () => {
      let r = ok(['debug', 'node/node1', '--image=busybox', '-n', 'pbr', '-v=8']);
      assert.match(r.stdout + r.stderr, /Creating debugging pod node-debugger-node1-\w+/);
      protobufRead(r, /^POST .*\/namespaces\/pbr\/pods$/);
      r = ok(['auth', 'can-i', 'create', 'pods', '-n', 'pbr', '-v=8']);
      assert.equal(r.stdout, 'yes\n');
      protobufRead(r, /^POST .*\/selfsubjectaccessreviews$/);
    });

    it('kubectl reports a protobuf Status as it reports a JSON one', () => {
      const r = kubectl(['create', 'token', 'nope', '-n', 'pbr', '-v=8']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /error: failed to create token: serviceaccounts "nope" not found/);
      const x = exchanges(r.stderr).find((e) => e.url.endsWith('/serviceaccounts/nope/token'));
      assert.deepEqual([x?.accept, x?.status, x?.contentType], [typed, '404 Not Found', pb]);
    });

    it('kubectl events --watch reads the protobuf watch stream', async () => {
      const home = tempDir('home-events');
      const child = spawn(kubectlBin, ['events', '-n', 'pbr', '--watch', '-v=8'], { env: { ...process.env, HOME: home, KUBECONFIG: s.kubeconfig } });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      try {
        await eventually(() => exchanges(err).some((x) => x.url.includes('watch=true') && x.contentType), 20_000, 'the watch to start');
        const ev = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'seen', namespace: 'pbr' }, involvedObject: { kind: 'Pod', name: 'p1', namespace: 'pbr', apiVersion: 'v1' }, reason: 'Watched', message: 'over protobuf', type: 'Normal', source: { component: 'test' }, count: 1 };
        assert.equal((await request(s, 'POST', '/api/v1/namespaces/pbr/events', JSON.stringify(ev))).status, 201);
        await eventually(() => /Normal\s+Watched\s+Pod\/p1\s+over protobuf/.test(out), 20_000, 'the event in kubectl events --watch');
        const w = exchanges(err).find((x) => x.url.includes('watch=true'))!;
        assert.deepEqual([w.accept, w.contentType], [typed, `${pb};stream=watch`]);
      } finally {
        child.kill();
        fs.rmSync(home, { recursive: true, force: true });
      }
    });
  });

  describe("Debian's kubectl 1.20, which asks for JSON", { skip: fs.existsSync(debianKubectl) ? false : `no ${debianKubectl}` }, () => {
    const home = tempDir('home-debian-pb');
    const old = (args: string[]): KubectlResult => {
      const r = spawnSync(debianKubectl, args, { env: { ...process.env, HOME: home, KUBECONFIG: s.kubeconfig }, encoding: 'utf8', timeout: 60_000 });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    after(() => fs.rmSync(home, { recursive: true, force: true }));

    it('runs the same commands, answered in JSON', () => {
      const runs: [string[], RegExp][] = [
        [['create', 'deployment', 'old', '-n', 'pbr', '--image=nginx', '--replicas=0'], /deployment.apps\/old created/],
        [['rollout', 'history', 'deployment/web', '-n', 'pbr'], /REVISION\s+CHANGE-CAUSE\n1\s+<none>/],
        [['describe', 'deployment', 'web', '-n', 'pbr'], /ReplicaSets?:\s+web-5d4f9c/],
        [['drain', 'node2', '--dry-run=server', '--ignore-daemonsets'], /node\/node2 cordoned \(server dry run\)/],
        [['debug', 'node/node1', '--image=busybox', '-n', 'pbr'], /Creating debugging pod node-debugger-node1-\w+/],
      ];
      for (const [args, want] of runs) {
        const r = old([...args, '-v=8']);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr.slice(-2000)}`);
        assert.match(r.stdout + r.stderr, want);
        assert.doesNotMatch(r.stderr, /vnd\.kubernetes\.protobuf/, args.join(' '));
        assert.match(r.stderr, /Content-Type: application\/json/);
      }
      const r = old(['get', 'deployment', 'nope', '-n', 'pbr']);
      assert.match(r.stderr, /Error from server \(NotFound\): deployments.apps "nope" not found/);
    });
  });
});
