// kubectl 1.32's typed clients send protobuf bodies: what `create <generator>`, `run` and
// `debug` send is decoded field for field and stored as the JSON form says. A body with a
// field the server does not know is refused (415), not stored without it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeProtobufObject } from '../../src/apiserver/protobuf.ts';
import { makeKubectl, request, startApiServer, type KubectlResult, type TestApiServer } from '../helpers/apiserver.ts';

const pb = 'application/vnd.kubernetes.protobuf';

describe('protobuf request bodies against podpath apiserver', () => {
  let s: TestApiServer;
  let kubectl: (args: string[], input?: string) => KubectlResult;
  const get = (args: string[]) => {
    const r = kubectl(['get', ...args, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const ok = (args: string[], input?: string) => {
    const r = kubectl(args, input);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r;
  };

  before(async () => {
    s = await startApiServer();
    kubectl = makeKubectl(s.kubeconfig);
    ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Node\nmetadata:\n  name: node1\n  labels: {kubernetes.io/hostname: node1}\n');
  });
  after(async () => {
    await s?.dispose();
  });

  it('stores what kubectl create namespace/configmap/secret/service/deployment send', () => {
    ok(['create', 'namespace', 'pb']);
    assert.equal(get(['namespace', 'pb']).metadata.name, 'pb');
    ok(['create', 'configmap', 'c', '-n', 'pb', '--from-literal=a=b', '--from-literal=multi=x\ny']);
    assert.deepEqual(get(['cm', 'c', '-n', 'pb']).data, { a: 'b', multi: 'x\ny' });
    ok(['create', 'secret', 'generic', 's', '-n', 'pb', '--from-literal=k=v', '--type=example.com/t']);
    const sec = get(['secret', 's', '-n', 'pb']);
    assert.deepEqual([sec.type, sec.data], ['example.com/t', { k: Buffer.from('v').toString('base64') }]);
    ok(['create', 'service', 'nodeport', 'web', '-n', 'pb', '--tcp=80:8080', '--node-port=30111']);
    const svc = get(['svc', 'web', '-n', 'pb']);
    assert.deepEqual(svc.spec.ports, [{ name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30111 }]);
    assert.deepEqual(svc.spec.selector, { app: 'web' });
    ok(['create', 'deployment', 'web', '-n', 'pb', '--image=nginx:1.27', '--replicas=0', '--port=80', '--', 'nginx', '-g', 'daemon off;']);
    const d = get(['deploy', 'web', '-n', 'pb']);
    assert.equal(d.spec.replicas, 0);
    assert.deepEqual(d.spec.selector, { matchLabels: { app: 'web' } });
    const c = d.spec.template.spec.containers[0];
    assert.deepEqual([c.name, c.image, c.command, c.ports], ['nginx', 'nginx:1.27', ['nginx', '-g', 'daemon off;'], [{ containerPort: 80, protocol: 'TCP' }]]);
  });

  it('stores what kubectl run sends, overrides and all', () => {
    ok([
      'run', 'p1', '--image=busybox', '--labels=a=b,c=d', '--env=X=1', '--port=8080', '--restart=Never', '--image-pull-policy=IfNotPresent',
      '--overrides={"spec":{"nodeName":"node1","terminationGracePeriodSeconds":0,"containers":[{"name":"p1","image":"busybox","args":["sleep","3600"],"resources":{"limits":{"cpu":"250m"}},"readinessProbe":{"tcpSocket":{"port":8080},"periodSeconds":3}}]}}',
    ]);
    const p = get(['pod', 'p1']);
    assert.deepEqual(p.metadata.labels, { a: 'b', c: 'd' });
    assert.equal(p.spec.restartPolicy, 'Never');
    assert.equal(p.spec.nodeName, 'node1');
    assert.equal(p.spec.terminationGracePeriodSeconds, 0);
    const c = p.spec.containers[0];
    assert.deepEqual(c.args, ['sleep', '3600']);
    assert.deepEqual(c.resources.limits, { cpu: '250m' });
    assert.deepEqual(c.readinessProbe.tcpSocket, { port: 8080 });
    assert.equal(c.readinessProbe.periodSeconds, 3);
  });

  it('stores the node debugging pod kubectl debug node/NODE sends: host namespaces, host root volume, tolerations', () => {
    const r = ok(['debug', 'node/node1', '--image=busybox', '--profile=sysadmin', '--', 'true']);
    const name = /Creating debugging pod (\S+)/.exec(r.stdout + r.stderr)?.[1];
    assert.ok(name, r.stdout + r.stderr);
    const p = get(['pod', name]);
    assert.equal(p.spec.nodeName, 'node1');
    assert.deepEqual([p.spec.hostNetwork, p.spec.hostPID, p.spec.hostIPC], [true, true, true]);
    assert.equal(p.spec.restartPolicy, 'Never');
    // as stored: hostPath's type defaulted to "" (HostPathUnset), as upstream's defaulting sets it
    assert.deepEqual(p.spec.volumes, [{ name: 'host-root', hostPath: { path: '/', type: '' } }]);
    assert.ok(p.spec.tolerations.some((t: { operator: string; key?: string }) => t.operator === 'Exists' && t.key === undefined));
    const c = p.spec.containers[0];
    assert.deepEqual([c.name, c.image, c.command ?? c.args], ['debugger', 'busybox', ['true']]);
    assert.deepEqual(c.volumeMounts, [{ name: 'host-root', mountPath: '/host' }]);
    assert.equal(c.securityContext.privileged, true);
  });

  it('stores the copy kubectl debug POD --copy-to sends', () => {
    ok(['run', 'orig', '--image=nginx', '--labels=app=orig', '--env=K=V']);
    ok(['debug', 'orig', '--copy-to=orig-debug', '--image=busybox', '--container=dbg', '--share-processes', '--', 'sleep', '5']);
    const p = get(['pod', 'orig-debug']);
    assert.equal(p.spec.shareProcessNamespace, true);
    assert.deepEqual(
      p.spec.containers.map((c: { name: string; image: string }) => [c.name, c.image]),
      [
        ['orig', 'nginx'],
        ['dbg', 'busybox'],
      ],
    );
    assert.deepEqual(p.spec.containers[0].env, [{ name: 'K', value: 'V' }]);
    assert.deepEqual(p.spec.containers[1].command, ['sleep', '5']);
    // The copy keeps no labels (kubectl debug drops them unless --keep-labels).
    assert.equal(p.metadata.labels, undefined);
  });

  it('decodes a full Pod, PUT as protobuf, and deletes with protobuf DeleteOptions', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'full', namespace: 'default', labels: { x: 'y' } },
      spec: {
        volumes: [{ name: 'cfg', configMap: { name: 'c', defaultMode: 420 } }],
        containers: [
          {
            name: 'c',
            image: 'busybox',
            env: [{ name: 'P', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } }],
            volumeMounts: [{ name: 'cfg', mountPath: '/cfg', readOnly: true }],
            securityContext: { capabilities: { add: ['NET_ADMIN'] } },
            lifecycle: { preStop: { exec: { command: ['sleep', '1'] } } },
          },
        ],
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node1'] }] }] } } },
        dnsConfig: { options: [{ name: 'ndots', value: '1' }] },
        hostAliases: [{ ip: '127.0.0.2', hostnames: ['alias'] }],
        priority: 0,
      },
    };
    let r = await request(s, 'POST', '/api/v1/namespaces/default/pods', encodeProtobufObject(pod)!, { contentType: pb });
    assert.equal(r.status, 201, r.body);
    const stored = get(['pod', 'full']);
    assert.deepEqual(stored.spec.volumes, [{ name: 'cfg', configMap: { name: 'c', defaultMode: 420 } }]);
    assert.deepEqual(stored.spec.containers[0].env, pod.spec.containers[0].env);
    assert.deepEqual(stored.spec.containers[0].securityContext, pod.spec.containers[0].securityContext);
    assert.deepEqual(stored.spec.containers[0].lifecycle, pod.spec.containers[0].lifecycle);
    assert.deepEqual(stored.spec.affinity, pod.spec.affinity);
    assert.deepEqual(stored.spec.hostAliases, pod.spec.hostAliases);

    const updated = { ...stored, metadata: { ...stored.metadata, labels: { x: 'z' } } };
    delete updated.status;
    r = await request(s, 'PUT', '/api/v1/namespaces/default/pods/full', encodeProtobufObject(updated)!, { contentType: pb });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(get(['pod', 'full']).metadata.labels, { x: 'z' });

    const opts = encodeProtobufObject({ apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: 'not-the-uid' } })!;
    r = await request(s, 'DELETE', '/api/v1/namespaces/default/pods/full', opts, { contentType: pb });
    assert.equal(r.status, 409, r.body);
    assert.match(r.json().message, /Precondition failed: UID in precondition: not-the-uid/);
  });

  it('refuses (415) a body with a field it does not know, and stores nothing', async () => {
    // ConfigMap{metadata{name: future}, field 40: "x"}, in its envelope, laid out by hand.
    const raw = Buffer.concat([Buffer.from([0x0a, 0x08, 0x0a, 0x06]), Buffer.from('future'), Buffer.from([0xc2, 0x02, 0x01, 0x78])]);
    const tm = Buffer.concat([Buffer.from([0x0a, 0x02]), Buffer.from('v1'), Buffer.from([0x12, 0x09]), Buffer.from('ConfigMap')]);
    const env = Buffer.concat([Buffer.from('k8s\0', 'latin1'), Buffer.from([0x0a, tm.length]), tm, Buffer.from([0x12, raw.length]), raw]);
    const r = await request(s, 'POST', '/api/v1/namespaces/default/configmaps', env, { contentType: pb });
    assert.equal(r.status, 415, r.body);
    assert.match(r.json().message, /ConfigMap field 40 is not known/);
    assert.equal((await request(s, 'GET', '/api/v1/namespaces/default/configmaps/future')).status, 404);
  });
});
