// /openapi/v2 and /openapi/v3 as real clients read them: `kubectl explain` with kubectl 1.32
// (OpenAPI v3) and Debian's kubectl 1.20 (OpenAPI v2 in protobuf), the caching protocol of the v3
// documents, and client-side apply taking its strategic-merge keys from the served schemas.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resourceTypes } from '../../src/api/resources.ts';
import { makeKubectl, repoRoot, request, startApiServer, tempDir, type TestApiServer } from '../helpers/apiserver.ts';

const oldKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');

/** One field per served kind and the type `kubectl explain` prints for it (v3 name, v2 name). */
const samples: Record<string, [string, string, string]> = {
  Namespace: ['namespace.spec.finalizers', '[]string', '[]string'],
  Node: ['node.spec.podCIDRs', '[]string', '[]string'],
  Pod: ['pod.spec.containers', '[]Container', '[]Object'],
  Service: ['service.spec.ports', '[]ServicePort', '[]Object'],
  Endpoints: ['endpoints.subsets', '[]EndpointSubset', '[]Object'],
  Secret: ['secret.data', 'map[string]string', 'map[string]string'],
  ConfigMap: ['configmap.binaryData', 'map[string]string', 'map[string]string'],
  Event: ['event.involvedObject', 'ObjectReference', 'Object'],
  ServiceAccount: ['serviceaccount.automountServiceAccountToken', 'boolean', 'boolean'],
  ControllerRevision: ['controllerrevision.revision', 'integer', 'integer'],
  Deployment: ['deployment.spec.replicas', 'integer', 'integer'],
  ReplicaSet: ['replicaset.spec.template', 'PodTemplateSpec', 'Object'],
  DaemonSet: ['daemonset.spec.updateStrategy', 'DaemonSetUpdateStrategy', 'Object'],
  CronJob: ['cronjob.spec.jobTemplate', 'JobTemplateSpec', 'Object'],
  Job: ['job.spec.podFailurePolicy', 'PodFailurePolicy', 'Object'],
  EndpointSlice: ['endpointslice.endpoints', '[]Endpoint', '[]Object'],
  Ingress: ['ingress.spec.rules', '[]IngressRule', '[]Object'],
  IngressClass: ['ingressclass.spec.controller', 'string', 'string'],
  NetworkPolicy: ['networkpolicy.spec.podSelector', 'LabelSelector', 'Object'],
  Lease: ['lease.spec.leaseDurationSeconds', 'integer', 'integer'],
  CustomResourceDefinition: ['customresourcedefinition.spec.versions', '[]CustomResourceDefinitionVersion', '[]Object'],
  ClusterRoleBinding: ['clusterrolebinding.subjects', '[]Subject', '[]Object'],
  ClusterRole: ['clusterrole.aggregationRule', 'AggregationRule', 'Object'],
  RoleBinding: ['rolebinding.roleRef', 'RoleRef', 'Object'],
  Role: ['role.rules', '[]PolicyRule', '[]Object'],
};

describe('OpenAPI documents of podpath apiserver', () => {
  let s: TestApiServer;
  let kubectl: ReturnType<typeof makeKubectl>;
  let home: string;
  const old = (args: string[], input?: string) => {
    const r = spawnSync(oldKubectl, args, { input, env: { ...process.env, HOME: home, KUBECONFIG: s.kubeconfig }, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  before(async () => {
    s = await startApiServer();
    kubectl = makeKubectl(s.kubeconfig);
    home = tempDir('home-openapi');
  });
  after(async () => {
    await s?.dispose();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  const explain = (args: string[]) => {
    const r = kubectl(['explain', ...args]);
    assert.equal(r.code, 0, `kubectl explain ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  it('has a sample for every served kind', () => {
    assert.deepEqual(resourceTypes.map((r) => r.kind).filter((k) => !samples[k]), []);
  });

  it('kubectl 1.32 explains every served kind from OpenAPI v3', () => {
    for (const r of resourceTypes) {
      const out = explain(r.group ? [r.resource, `--api-version=${r.group}/${r.version}`] : [r.resource]);
      assert.match(out, new RegExp(`^KIND:\\s+${r.kind}$`, 'm'), r.kind);
      if (r.group) assert.match(out, new RegExp(`^GROUP:\\s+${r.group.replace(/\./g, '\\.')}$`, 'm'));
      assert.match(out, /^ {2}metadata\t<ObjectMeta>( -required-)?$/m, r.kind);
      const [field, type] = samples[r.kind]!;
      assert.match(explain([field]), new RegExp(`^FIELD: ${field.split('.').pop()} <${type.replace(/[[\]]/g, '\\$&')}>$`, 'm'), field);
    }
  });

  it('kubectl 1.32 shows required fields, wrapper types, descriptions and the recursive tree', () => {
    const containers = explain(['pod.spec.containers']);
    assert.match(containers, /^ {2}name\t<string> -required-$/m);
    assert.match(containers, /^ {2}ports\t<\[\]ContainerPort>$/m);
    assert.match(containers, /^DESCRIPTION:\n {4}List of containers belonging to the pod\./m);
    assert.match(explain(['deployment.spec']), /^ {2}selector\t<LabelSelector> -required-$/m);
    const ports = explain(['service.spec.ports']);
    assert.match(ports, /^ {2}targetPort\t<IntOrString>$/m);
    assert.match(ports, /^ {2}port\t<integer> -required-$/m);
    assert.match(explain(['pod.spec.containers.resources']), /^ {2}limits\t<map\[string\]Quantity>$/m);
    assert.match(explain(['pod.metadata.creationTimestamp']), /^FIELD: creationTimestamp <string>$/m);
    const tree = explain(['service.spec', '--recursive']);
    assert.match(tree, /^ {2}ports\t<\[\]ServicePort>\n {4}appProtocol\t<string>\n {4}name\t<string>\n {4}nodePort\t<integer>\n {4}port\t<integer> -required-\n {4}protocol\t<string>\n {4}enum: SCTP, TCP, UDP\n {4}targetPort\t<IntOrString>$/m);
    assert.match(tree, /^ {2}sessionAffinityConfig\t<SessionAffinityConfig>\n {4}clientIP\t<ClientIPConfig>\n {6}timeoutSeconds\t<integer>$/m);
  });

  it('kubectl 1.32 shows the values of enum fields, from the schema and the description kube-openapi writes', () => {
    const type = explain(['service.spec.type']);
    assert.match(type, /^FIELD: type <string>\nENUM:\n {4}ClusterIP\n {4}ExternalName\n {4}LoadBalancer\n {4}NodePort\n/m);
    assert.match(type, /^ {4}Possible enum values:\n {5}- `"ClusterIP"` means a service will only be accessible inside the cluster,\n {4}via the cluster IP\.\n {5}- `"ExternalName"` means/m);
    const spec = explain(['service.spec']);
    assert.match(spec, /^ {2}ipFamilies\t<\[\]string>$/m);
    assert.match(spec, /^ {2}sessionAffinity\t<string>\n {2}enum: ClientIP, None$/m);
    assert.doesNotMatch(explain(['networkpolicy.spec.policyTypes']), /ENUM:|Possible enum values/);
  });

  it('puts the values of a list of enums on its items, with no paragraph in the description, as kube-openapi does', async () => {
    const url: string = (await request(s, 'GET', '/openapi/v3')).json().paths['apis/networking.k8s.io/v1'].serverRelativeURL;
    const spec = (await request(s, 'GET', url, undefined, { accept: 'application/json' })).json();
    const policyTypes = spec.components.schemas['io.k8s.api.networking.v1.NetworkPolicySpec'].properties.policyTypes;
    assert.deepEqual([policyTypes.items.type, policyTypes.items.enum], ['string', ['Egress', 'Ingress']]);
    assert.doesNotMatch(policyTypes.description, /Possible enum values/);
  });

  it('kubectl 1.32 refuses an unknown field as upstream does', () => {
    const r = kubectl(['explain', 'service.spec.nosuchfield']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: field "nosuchfield" does not exist$/m);
  });

  describe("Debian's kubectl 1.20 (OpenAPI v2, protobuf)", { skip: fs.existsSync(oldKubectl) ? false : `no ${oldKubectl} (scripts/install-deps.sh unpacks it)` }, () => {
    it('explains every served kind', () => {
      for (const r of resourceTypes) {
        const [field, , type] = samples[r.kind]!;
        const res = old(['explain', field]);
        assert.equal(res.code, 0, `${field}: ${res.stderr}`);
        assert.match(res.stdout, new RegExp(`^KIND:\\s+${r.kind}$`, 'm'));
        assert.match(res.stdout, new RegExp(`^(FIELD|RESOURCE):\\s+${field.split('.').pop()} <${type.replace(/[[\]]/g, '\\$&')}>$`, 'm'), field);
      }
    });

    it('shows required fields and the recursive tree, and refuses an unknown field', () => {
      const containers = old(['explain', 'pod.spec.containers']);
      assert.match(containers.stdout, /^ {3}name\t<string> -required-$/m);
      const tree = old(['explain', 'ingress.spec', '--recursive']);
      assert.match(tree.stdout, /^ {3}rules\t<\[\]Object>\n {6}host\t<string>\n {6}http\t<Object>\n {9}paths\t<\[\]Object>$/m);
      const bad = old(['explain', 'service.spec.nosuchfield']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^error: field "nosuchfield" does not exist$/m);
    });
  });

  it('serves the v3 index and documents with kube-openapi\'s caching protocol', async () => {
    const index = await request(s, 'GET', '/openapi/v3');
    assert.equal(index.status, 200);
    assert.match(String(index.headers.etag), /^"[0-9A-F]{128}"$/);
    const url: string = index.json().paths['apis/apps/v1'].serverRelativeURL;
    const hash = /\?hash=([0-9A-F]{128})$/.exec(url)![1]!;
    const doc = await request(s, 'GET', url, undefined, { accept: 'application/json' });
    assert.equal(doc.status, 200);
    assert.equal(doc.headers['cache-control'], 'public, immutable');
    assert.ok(Date.parse(String(doc.headers.expires)) > Date.now() + 300 * 24 * 3600 * 1000);
    assert.equal(doc.headers.etag, `"${hash}"`);
    assert.equal(doc.headers.vary, 'Accept');
    const spec = doc.json();
    assert.equal(spec.openapi, '3.0.0');
    const deployment = spec.components.schemas['io.k8s.api.apps.v1.Deployment'];
    assert.deepEqual(deployment['x-kubernetes-group-version-kind'], [{ group: 'apps', kind: 'Deployment', version: 'v1' }]);
    assert.deepEqual(deployment.properties.spec.allOf, [{ $ref: '#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec' }]);
    assert.ok(spec.components.schemas['io.k8s.api.core.v1.PodTemplateSpec']);
    assert.ok(spec.components.schemas['io.k8s.api.autoscaling.v1.Scale']);
    const patch = spec.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
    assert.equal(patch.operationId, 'patchAppsV1NamespacedDeployment');
    assert.deepEqual(Object.keys(patch.requestBody.content).sort(), ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']);

    const stale = await request(s, 'GET', '/openapi/v3/apis/apps/v1?hash=0123', undefined, { accept: 'application/json' });
    assert.equal(stale.status, 301);
    assert.equal(stale.headers.location, url);
    const plain = await request(s, 'GET', '/openapi/v3/apis/apps/v1', undefined, { accept: 'application/json' });
    assert.equal(plain.headers['cache-control'], 'no-cache, private');
    assert.equal(plain.body, doc.body);
    const again = await requestWith(s, '/openapi/v3/apis/apps/v1', { 'If-None-Match': `"${hash}"` });
    assert.equal(again.status, 304);
    assert.equal((await request(s, 'GET', '/openapi/v3/apis/apps/v1', undefined, { accept: 'application/com.github.proto-openapi.spec.v3.v1.0+protobuf' })).status, 406);
    // kube-openapi writes nothing for a group-version it does not serve.
    const unknown = await request(s, 'GET', '/openapi/v3/apis/nosuch.example.com/v1');
    assert.deepEqual([unknown.status, unknown.body], [200, '']);
  });

  it('serves v2 as JSON and as gnostic protobuf, and refuses other types', async () => {
    const json = await request(s, 'GET', '/openapi/v2', undefined, { accept: 'application/json' });
    assert.equal(json.status, 200);
    assert.equal(json.headers['content-type'], 'application/json');
    const spec = json.json();
    assert.equal(spec.swagger, '2.0');
    assert.equal(spec.definitions['io.k8s.api.core.v1.ServiceSpec'].properties.ports['x-kubernetes-patch-merge-key'], 'port');
    assert.equal(spec.definitions['io.k8s.api.core.v1.ServiceSpec'].properties.ports.items.$ref, '#/definitions/io.k8s.api.core.v1.ServicePort');
    const pb = await request(s, 'GET', '/openapi/v2', undefined, { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' });
    assert.equal(pb.status, 200);
    assert.equal(pb.headers['content-type'], 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
    assert.equal(pb.headers.etag, json.headers.etag);
    assert.equal((await request(s, 'GET', '/openapi/v2', undefined, { accept: 'text/html' })).status, 406);
  });

  it('client-side apply merges containers by name with the patch keys of the served v3 schema', () => {
    const deploy = (image: string) =>
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: smp\nspec:\n  selector:\n    matchLabels: {app: smp}\n  template:\n    metadata:\n      labels: {app: smp}\n    spec:\n      containers:\n      - name: a\n        image: ${image}\n      - name: b\n        image: b:1\n`;
    let r = kubectl(['apply', '-f', '-'], deploy('a:1'));
    assert.equal(r.code, 0, r.stderr);
    // Another writer adds a container the manifest does not know.
    r = kubectl(['patch', 'deployment', 'smp', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"c:1"}]}}}}']);
    assert.equal(r.code, 0, r.stderr);
    r = kubectl(['apply', '-v=6', '-f', '-'], deploy('a:2'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /verb="GET" url="https:\/\/[^"]+\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]{128}[&"][^\n]* status="200 OK"/);
    assert.doesNotMatch(r.stderr, /error calculating patch from openapi/);
    r = kubectl(['get', 'deployment', 'smp', '-o', 'jsonpath={range .spec.template.spec.containers[*]}{.name}={.image} {end}']);
    assert.equal(r.stdout.trim(), 'a=a:2 b=b:1 c=c:1');
  });
});

/** A GET with extra headers (the helper's request() sets only Accept and the token). */
async function requestWith(s: TestApiServer, p: string, headers: Record<string, string>): Promise<{ status: number }> {
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: s.port, method: 'GET', path: p, headers: { Authorization: `Bearer ${s.token}`, ...headers }, ca: s.caCert, servername: 'localhost' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end();
  });
}
