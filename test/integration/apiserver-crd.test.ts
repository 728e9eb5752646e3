// CustomResourceDefinitions with the real kubectl against a real `podpath apiserver`: a CRD
// shaped like the Gateway API's HTTPRoute is applied and established, its objects are
// applied, listed with the CRD's printer columns, patched, validated in upstream's words
// (schema and CEL), written through the status and scale subresources, explained, and go
// with the CRD.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, makeKubectl, repoRoot, request, startApiServer, tempDir, type TestApiServer } from '../helpers/apiserver.ts';

const fixture = path.join(repoRoot, 'test/fixtures/crd/httproutes.yaml');
const oldKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');

const route = (name: string, spec: string) => `apiVersion: gateway.example.io/v1
kind: HTTPRoute
metadata:
  name: ${name}
  namespace: default
spec:
${spec}`;

describe('CustomResourceDefinitions with kubectl', () => {
  let s: TestApiServer;
  let kubectl: ReturnType<typeof makeKubectl>;
  const ok = (args: string[], input?: string) => {
    const r = kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
    return r.stdout;
  };
  const fails = (args: string[], input?: string) => {
    const r = kubectl(args, input);
    assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} succeeded:\n${r.stdout}`);
    return r.stderr;
  };

  before(async () => {
    s = await startApiServer();
    kubectl = makeKubectl(s.kubeconfig);
  });
  after(async () => {
    await s?.dispose();
  });

  it('applies the CRDs, accepts their names and establishes them', () => {
    const out = ok(['apply', '-f', fixture]);
    assert.match(out, /customresourcedefinition.apiextensions.k8s.io\/httproutes.gateway.example.io created/);
    ok(['wait', '--for=condition=Established', '--timeout=10s', 'crd/httproutes.gateway.example.io', 'crd/widgets.example.io']);
    const crd = JSON.parse(ok(['get', 'crd', 'httproutes.gateway.example.io', '-o', 'json']));
    const cond = Object.fromEntries(crd.status.conditions.map((c: { type: string; status: string; reason: string; message: string }) => [c.type, `${c.status} ${c.reason}: ${c.message}`]));
    assert.equal(cond.NamesAccepted, 'True NoConflicts: no conflicts found');
    assert.equal(cond.Established, 'True InitialNamesAccepted: the initial names have been accepted');
    assert.deepEqual(crd.status.acceptedNames, { categories: ['gateway-api'], kind: 'HTTPRoute', listKind: 'HTTPRouteList', plural: 'httproutes', shortNames: ['hr'], singular: 'httproute' });
    assert.deepEqual(crd.status.storedVersions, ['v1']);
    assert.deepEqual(crd.metadata.finalizers, ['customresourcecleanup.apiextensions.k8s.io']);
    const table = ok(['get', 'crd']);
    assert.match(table.split('\n')[0]!, /^NAME\s+CREATED AT$/);
  });

  it('publishes the kinds in discovery with short names and categories', () => {
    const res = ok(['api-resources', '--api-group=gateway.example.io', '-o', 'wide']);
    assert.match(res, /^httproutes\s+hr\s+gateway.example.io\/v1\s+true\s+HTTPRoute\s+delete,deletecollection,get,list,patch,create,update,watch\s+gateway-api$/m);
    const versions = ok(['api-versions']);
    assert.match(versions, /^gateway.example.io\/v1$/m);
    assert.match(versions, /^gateway.example.io\/v1beta1$/m);
    const widgets = ok(['api-resources', '--api-group=example.io']);
    assert.match(widgets, /^widgets\s+example.io\/v1\s+false\s+Widget$/m);
  });

  it('applies an object: pruned, defaulted, printed with the CRD columns', () => {
    const r = kubectl(['apply', '--validate=warn', '-f', '-'], route('web', '  parentRefs: [{name: gw}]\n  hostnames: [web.example.com]\n  unknownField: 1\n  rules:\n  - matches: [{path: {}}]\n    backendRefs: [{name: web, port: 80}]\n'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Warning: unknown field "spec.unknownField"/);
    const o = JSON.parse(ok(['get', 'hr', 'web', '-o', 'json']));
    assert.equal(o.spec.unknownField, undefined);
    assert.deepEqual(o.spec.rules[0].matches[0].path, { type: 'PathPrefix', value: '/' });
    assert.deepEqual(o.spec.rules[0].backendRefs[0], { group: '', kind: 'Service', name: 'web', port: 80, weight: 1 });
    assert.equal(o.metadata.generation, 1);
    const [header, row] = ok(['get', 'httproutes']).trim().split('\n');
    assert.match(header!, /^NAME\s+HOSTNAMES\s+AGE$/);
    assert.match(row!, /^web\s+\["web.example.com"\]\s+\d+s$/);
    assert.match(ok(['get', 'gateway-api']), /^web\s+\["web.example.com"\]\s+\d+s$/m);
    // Applied again, changed: kubectl sends a merge patch for a kind it has no Go type for.
    const again = ok(['apply', '-f', '-'], route('web', '  parentRefs: [{name: gw}]\n  hostnames: [www.example.com]\n  rules:\n  - matches: [{path: {}}]\n    backendRefs: [{name: web, port: 80}]\n'));
    assert.match(again, /httproute.gateway.example.io\/web configured/);
    assert.deepEqual(JSON.parse(ok(['get', 'hr', 'web', '-o', 'json'])).spec.hostnames, ['www.example.com']);
  });

  it('refuses an unknown field under kubectl apply\'s strict field validation', () => {
    const err = fails(['apply', '-f', '-'], route('strict', '  bogus: 1\n'));
    assert.match(err, /HTTPRoute in version "v1" cannot be handled as a HTTPRoute: strict decoding error: unknown field "spec.bogus"/);
  });

  it('selects by labels and by the metadata fields a custom kind has', () => {
    ok(['label', 'hr', 'web', 'tier=edge']);
    assert.equal(ok(['get', 'hr', '-l', 'tier=edge', '-o', 'name']).trim(), 'httproute.gateway.example.io/web');
    assert.equal(ok(['get', 'hr', '--field-selector', 'metadata.name=web', '-o', 'name']).trim(), 'httproute.gateway.example.io/web');
    assert.match(fails(['get', 'hr', '--field-selector', 'spec.hostnames=x']), /^Error from server \(BadRequest\): Unable to find "gateway.example.io\/v1, Resource=httproutes" that match label selector "", field selector "spec.hostnames=x": field label not supported: spec.hostnames$/m);
  });

  it('serves every served version, storing the storage version', async () => {
    const beta = JSON.parse(ok(['get', 'httproutes.v1beta1.gateway.example.io', 'web', '-o', 'json']));
    assert.equal(beta.apiVersion, 'gateway.example.io/v1beta1');
    const created = await request(s, 'POST', '/apis/gateway.example.io/v1beta1/namespaces/default/httproutes', JSON.stringify({ apiVersion: 'gateway.example.io/v1beta1', kind: 'HTTPRoute', metadata: { name: 'beta' }, spec: {} }));
    assert.equal(created.status, 201, created.body);
    assert.equal(created.json().apiVersion, 'gateway.example.io/v1beta1');
    const asV1 = JSON.parse(ok(['get', 'httproutes.v1.gateway.example.io', 'beta', '-o', 'json']));
    assert.equal(asV1.apiVersion, 'gateway.example.io/v1');
    ok(['delete', 'httproute', 'beta']);
  });

  it('patches with merge and JSON patches; a strategic merge patch is refused with 415', async () => {
    ok(['patch', 'hr', 'web', '--type=merge', '-p', '{"spec":{"hostnames":["a.example.com","b.example.com"]}}']);
    ok(['patch', 'hr', 'web', '--type=json', '-p', '[{"op":"add","path":"/spec/hostnames/-","value":"c.example.com"}]']);
    const o = JSON.parse(ok(['get', 'hr', 'web', '-o', 'json']));
    assert.deepEqual(o.spec.hostnames, ['a.example.com', 'b.example.com', 'c.example.com']);
    assert.equal(o.metadata.generation, 4);
    const err = fails(['patch', 'hr', 'web', '-p', '{"spec":{"hostnames":["x.example.com"]}}']);
    assert.match(err, /the body of the request was in an unknown format - accepted media types include: application\/json-patch\+json, application\/merge-patch\+json, application\/apply-patch\+yaml/);
    const raw = await request(s, 'PATCH', '/apis/gateway.example.io/v1/namespaces/default/httproutes/web', '{}', { contentType: 'application/strategic-merge-patch+json' });
    assert.equal(raw.status, 415);
  });

  it('validates objects against the schema in upstream\'s words', () => {
    const err = fails(['apply', '-f', '-'], route('bad', '  parentRefs: [{port: 0}, {name: x, port: "80"}]\n  hostnames: [Bad_Host]\n  rules:\n  - matches: [{path: {type: Prefix}}]\n'));
    assert.match(err, /The HTTPRoute "bad" is invalid: /);
    assert.match(err, /\* spec\.parentRefs\[0\]\.name: Required value\n/);
    assert.match(err, /\* spec\.parentRefs\[0\]\.port: Invalid value: 0: spec\.parentRefs\[0\]\.port in body should be greater than or equal to 1\n/);
    assert.match(err, /\* spec\.parentRefs\[1\]\.port: Invalid value: "string": spec\.parentRefs\[1\]\.port in body must be of type integer: "string"\n/);
    assert.match(err, /\* spec\.hostnames\[0\]: Invalid value: "Bad_Host": spec\.hostnames\[0\] in body should match '\^\(\\\*\\\.\)\?/);
    assert.match(err, /\* spec\.rules\[0\]\.matches\[0\]\.path\.type: Unsupported value: "Prefix": supported values: "Exact", "PathPrefix", "RegularExpression"/);
    const missing = fails(['create', '-f', '-'], JSON.stringify({ apiVersion: 'gateway.example.io/v1', kind: 'HTTPRoute', metadata: { name: 'nospec', namespace: 'default' } }));
    assert.match(missing, /The HTTPRoute "nospec" is invalid: spec: Required value/);
    const long = fails(['apply', '-f', '-'], route('long', `  rules:\n  - matches: [{path: {value: "/${'a'.repeat(1024)}"}}]\n`));
    assert.match(long, /spec\.rules\[0\]\.matches\[0\]\.path\.value: Too long: may not be more than 1024 bytes/);
    const many = fails(['apply', '-f', '-'], route('many', `  hostnames: [${Array.from({ length: 17 }, (_, i) => `h${i}.example.com`).join(', ')}]\n`));
    assert.match(many, /spec\.hostnames: Too many: 17: must have at most 16 items/);
  });

  it("reports a failing x-kubernetes-validations rule with the rule's message", () => {
    const err = fails(['apply', '-f', '-'], route('cel', '  rules:\n  - backendRefs: [{name: web}]\n'));
    assert.match(err, /The HTTPRoute "cel" is invalid: spec\.rules\[0\]\.backendRefs\[0\]: Invalid value: "object": Must have port for Service reference/);
    ok(['apply', '-f', '-'], route('cel', '  rules:\n  - backendRefs: [{name: web, kind: Other, group: example.io}]\n'));
  });

  it('writes status through the status subresource only', () => {
    ok(['patch', 'hr', 'web', '--subresource=status', '--type=merge', '-p', '{"status":{"parents":[{"controllerName":"example.io/gateway"}]}}']);
    let o = JSON.parse(ok(['get', 'hr', 'web', '-o', 'json']));
    assert.deepEqual(o.status, { parents: [{ controllerName: 'example.io/gateway' }] });
    const gen = o.metadata.generation;
    // The main resource ignores status, and a status write leaves the generation alone.
    ok(['patch', 'hr', 'web', '--type=merge', '-p', '{"status":{"parents":[]}}']);
    o = JSON.parse(ok(['get', 'hr', 'web', '-o', 'json']));
    assert.deepEqual(o.status, { parents: [{ controllerName: 'example.io/gateway' }] });
    assert.equal(o.metadata.generation, gen);
  });

  it('scales through the scale subresource of a cluster-scoped kind', () => {
    ok(['apply', '-f', '-'], 'apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3, free: {a: 1}}\n');
    let w = JSON.parse(ok(['get', 'widget', 'w1', '-o', 'json']));
    assert.deepEqual(w.spec, { free: { a: 1 }, replicas: 1, size: 3 });
    ok(['scale', 'widget', 'w1', '--replicas=4']);
    w = JSON.parse(ok(['get', 'widget', 'w1', '-o', 'json']));
    assert.equal(w.spec.replicas, 4);
    const [header] = ok(['get', 'widgets']).split('\n');
    assert.match(header!, /^NAME\s+AGE$/);
    const bad = fails(['apply', '-f', '-'], 'apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {size: 1.5}\n');
    assert.match(bad, /spec\.size: Invalid value: "number": spec\.size in body must be of type integer,string: "number"/);
  });

  it('collects the dependents of a custom object, and keeps them while it exists', async () => {
    const w = JSON.parse(ok(['get', 'widget', 'w1', '-o', 'json']));
    const owned = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owned', namespace: 'default', ownerReferences: [{ apiVersion: 'example.io/v1', kind: 'Widget', name: 'w1', uid: w.metadata.uid }] } };
    ok(['create', '-f', '-'], JSON.stringify(owned));
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(kubectl(['get', 'configmap', 'owned']).code, 0, 'a dependent of an existing custom object was deleted');
    ok(['delete', 'widget', 'w1']);
    await eventually(() => kubectl(['get', 'configmap', 'owned']).code !== 0, 10_000, 'the dependent to go');
  });

  it('deletes the custom objects of a namespace being deleted', async () => {
    ok(['create', 'namespace', 'crd-ns']);
    ok(['apply', '-n', 'crd-ns', '-f', '-'], route('inner', '  hostnames: [inner.example.com]\n').replace('namespace: default', 'namespace: crd-ns'));
    ok(['delete', 'namespace', 'crd-ns', '--wait=false']);
    await eventually(() => kubectl(['get', 'namespace', 'crd-ns']).code !== 0, 15_000, 'the namespace to go');
    const list = await request(s, 'GET', '/apis/gateway.example.io/v1/namespaces/crd-ns/httproutes');
    assert.deepEqual(list.json().items, []);
  });

  it('explains the fields of a custom kind from its schema', () => {
    const out = ok(['explain', 'httproute.spec.hostnames']);
    assert.match(out, /^GROUP:\s+gateway.example.io\nKIND:\s+HTTPRoute\nVERSION:\s+v1\n/);
    assert.match(out, /FIELD: hostnames <\[\]string>/);
    assert.match(out, /Hostnames defines a set of hostnames that should match against the HTTP Host\s+header\./);
  });

  it('refuses CRDs with upstream\'s messages for the common mistakes', () => {
    const err = fails(['apply', '-f', '-'], `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.example.io}
spec:
  group: example.io
  names: {kind: Thing, plural: Things}
  scope: Namespaced
  versions:
  - {name: v1, served: true, storage: false, schema: {openAPIV3Schema: {type: object, properties: {spec: {properties: {a: {type: string}}}}}}}
  - {name: v2, served: true, storage: false}
`);
    assert.match(err, /\* metadata\.name: Invalid value: "things\.example\.io": must be spec\.names\.plural\+"\."\+spec\.group\n/);
    assert.match(err, /\* spec\.versions: Invalid value: .*: must have exactly one version marked as storage version\n/);
    assert.match(err, /\* spec\.names\.plural: Invalid value: "Things": a DNS-1035 label must consist of lower case alphanumeric characters/);
    assert.match(err, /\* spec\.versions\[0\]\.schema\.openAPIV3Schema\.properties\[spec\]\.type: Required value: must not be empty for specified object fields\n/);
    assert.match(err, /\* spec\.versions\[1\]\.schema\.openAPIV3Schema: Required value: schemas are required/);
  });

  it('names a conflicting CRD in NamesAccepted and does not serve it', async () => {
    ok(['apply', '-f', '-'], `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.io}
spec:
  group: example.io
  names: {kind: Widget, plural: gadgets, singular: gadget}
  scope: Cluster
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`);
    const cond = await eventually(() => {
      const crd = JSON.parse(ok(['get', 'crd', 'gadgets.example.io', '-o', 'json']));
      return crd.status.conditions?.find((c: { type: string }) => c.type === 'NamesAccepted');
    });
    assert.deepEqual([cond.status, cond.reason, cond.message], ['False', 'KindConflict', '"Widget" is already in use']);
    assert.doesNotMatch(ok(['api-resources', '--api-group=example.io']), /gadgets/);
    ok(['delete', 'crd', 'gadgets.example.io']);
  });

  it('watches custom objects', async () => {
    const w = await request(s, 'GET', '/apis/gateway.example.io/v1beta1/namespaces/default/httproutes?watch=1&timeoutSeconds=1');
    const first = JSON.parse(w.body.split('\n')[0]!);
    assert.equal(first.type, 'ADDED');
    assert.equal(first.object.apiVersion, 'gateway.example.io/v1beta1');
  });

  it("works with Debian's kubectl 1.20 too", { skip: fs.existsSync(oldKubectl) ? false : `no ${oldKubectl}` }, () => {
    const home = tempDir('home-crd-debian');
    const run = makeKubectl(s.kubeconfig, oldKubectl, home);
    try {
      let r = run(['apply', '-f', fixture]);
      assert.equal(r.code, 0, r.stderr);
      r = run(['apply', '-f', '-'], route('old', '  hostnames: [old.example.com]\n'));
      assert.equal(r.code, 0, r.stderr);
      r = run(['get', 'hr', 'old']);
      assert.match(r.stdout, /^old\s+\["old.example.com"\]\s+\d+s$/m);
      r = run(['patch', 'hr', 'old', '--type=merge', '-p', '{"spec":{"hostnames":["new.example.com"]}}']);
      assert.equal(r.code, 0, r.stderr);
      r = run(['delete', 'hr', 'old']);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('deletes every object of a CRD with the CRD', async () => {
    assert.match(ok(['get', 'hr', '-o', 'name']), /httproute.gateway.example.io\/web/);
    // An object with a finalizer holds the CRD, Terminating, until the finalizer is removed.
    ok(['apply', '-f', '-'], route('held', '  hostnames: [held.example.com]\n').replace('  namespace: default\n', '  namespace: default\n  finalizers: [example.io/hold]\n'));
    ok(['delete', 'crd', 'httproutes.gateway.example.io', '--wait=false']);
    const terminating = await eventually(() => {
      const crd = JSON.parse(ok(['get', 'crd', 'httproutes.gateway.example.io', '-o', 'json']));
      return crd.status.conditions.find((c: { type: string; status: string }) => c.type === 'Terminating' && c.status === 'True');
    });
    assert.equal(`${terminating.reason}: ${terminating.message}`, 'InstanceDeletionInProgress: CustomResource deletion is in progress');
    await eventually(() => kubectl(['get', 'hr', 'web']).code !== 0, 10_000, 'the object without finalizers to go');
    assert.ok(JSON.parse(ok(['get', 'hr', 'held', '-o', 'json'])).metadata.deletionTimestamp);
    const refused = fails(['create', '-f', '-'], route('late', '  hostnames: [late.example.com]\n'));
    assert.match(refused, /Error from server \(MethodNotAllowed\): error when creating "STDIN": create is not supported on resources of kind "httproutes.gateway.example.io"/);
    ok(['patch', 'hr', 'held', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await eventually(() => kubectl(['get', 'crd', 'httproutes.gateway.example.io']).code !== 0, 10_000, 'the CRD to go');
    const list = await request(s, 'GET', '/apis/gateway.example.io/v1/httproutes');
    assert.equal(list.status, 404);
    // Created again, the kind starts empty.
    ok(['apply', '-f', fixture]);
    ok(['wait', '--for=condition=Established', '--timeout=10s', 'crd/httproutes.gateway.example.io']);
    assert.equal(ok(['get', 'hr', '-A', '-o', 'name']).trim(), '');
  });
});
