// The Gateway API in a real one-node lab, beside the Ingress: the lab installs the standard-channel
// CRDs, the GatewayClass podpath and its controller (namespace podpath-gateway, a real nginx). Each
// Gateway applied with kubectl gets a LoadBalancer Service of its own and so its own address; its
// HTTPRoutes are served there: from the client namespace through the LoadBalancer IP, kube-proxy,
// the controller's nginx and the app pods — host, path and header matches, a weighted split, a
// URLRewrite — and the statuses kubectl shows are the controller's. A second Gateway is isolated
// from the first, takes the address spec.addresses asks for, and its Service goes with it. What
// nginx did is what `podpath gateway route` says, on the objects read back from the cluster; the
// same request through the Ingress reaches the same pods.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/apiserver.ts';
import { explained, isRoot, pods, startLab, type TestLab } from '../helpers/lab.ts';

const holds = (check: () => void) => (): true => {
  check();
  return true;
};

const root = path.resolve(import.meta.dirname, '../..');

const v2 = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app-v2, labels: {app: app-v2}}
spec:
  replicas: 1
  selector: {matchLabels: {app: app-v2}}
  template:
    metadata: {labels: {app: app-v2}}
    spec:
      containers:
      - name: app
        image: podpath/echo
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: app-v2}
spec:
  selector: {app: app-v2}
  ports: [{name: http, port: 80, targetPort: 8080}]
`;

const gatewayYAML = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web}
spec:
  gatewayClassName: podpath
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - {name: admin, port: 80, protocol: HTTP, hostname: admin.example.com}
  - {name: odd, port: 9999, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app}
spec:
  parentRefs: [{name: web, sectionName: http}]
  hostnames: [app.example.com, gw.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: app-service, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /api}, headers: [{name: X-Version, value: "v2"}]}]
    backendRefs: [{name: app-v2, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: split}
spec:
  parentRefs: [{name: web}]
  hostnames: [split.example.com]
  rules:
  - backendRefs: [{name: app-service, port: 80, weight: 1}, {name: app-v2, port: 80, weight: 1}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rewrite}
spec:
  parentRefs: [{name: web}]
  hostnames: [rw.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: internal.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /api/v1}}
    backendRefs: [{name: app-service, port: 80}]
  - matches: [{path: {type: Exact, value: /gone}}]
    backendRefs: [{name: no-such-service, port: 80}]
`;

// a second Gateway asking for an address of the pool, its route; a third asking for a hostname
const otherYAML = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: other}
spec:
  gatewayClassName: podpath
  addresses: [{type: IPAddress, value: 192.168.49.240}]
  listeners:
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: only-other}
spec:
  parentRefs: [{name: other}]
  hostnames: [other.example.com]
  rules:
  - backendRefs: [{name: app-v2, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: named}
spec:
  gatewayClassName: podpath
  addresses: [{type: Hostname, value: lb.example.com}]
  listeners:
  - {name: http, port: 80, protocol: HTTP}
`;

describe('lab: Gateway API beside the Ingress', { skip: !isRoot && 'needs root' }, () => {
  let lab: TestLab;
  let gwIP: string;
  let ingressIP: string;
  /** the Gateway controller's pod (the data plane) */
  let ctrlPod: string;
  let tmp: string;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-labgw-'));
    fs.writeFileSync(path.join(tmp, 'v2.yaml'), v2);
    lab = await startLab({ files: [path.join(root, 'examples/seed-000'), path.join(tmp, 'v2.yaml')], ingress: true, gateway: true, args: ['--no-netpol', '--no-dns', '--timeout', '200'], tag: 'gw' });
    ingressIP = lab.ok(['get', 'svc', '-n', 'ingress-nginx', 'ingress-nginx-controller', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']);
    // no Gateway yet: the controller pod is Ready with no nginx started, no configuration written
    ctrlPod = (lab.get('/api/v1/namespaces/podpath-gateway/pods') as { items: { metadata: { name: string } }[] }).items[0]!.metadata.name;
    const conf = lab.exec(`pod/podpath-gateway/${ctrlPod}`, ['sh', '-c', 'test -e /etc/nginx/nginx.conf && echo written || echo none']);
    assert.equal(conf.stdout.trim(), 'none', conf.stderr);
    lab.ok(['apply', '-f', '-'], gatewayYAML);
    // the second Gateway's test checks what the controller did meanwhile
    lab.ok(['apply', '-f', '-'], otherYAML);
    // the controller gives the Gateway its Service, the pool an address
    await explained(lab, () => eventually(holds(() => assert.match((gwIP = lab.ok(['get', 'svc', 'web-podpath', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])), /^192\.168\.49\.2\d\d$/)), 30_000));
  });
  after(async () => {
    await lab?.down();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  interface Got {
    code: number;
    body: { pod?: string; path?: string; host?: string; client?: string };
  }
  const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  /** requests from the client namespace to `ip` with their Host and headers, in one shell (a podpath process per request is slow on a busy machine) */
  const getMany = (reqs: [host: string, path: string, headers?: string[]][], ip = gwIP): Got[] => {
    const script = reqs.map(([host, p, headers = []]) => `curl -s -m 10 -H ${q(`Host: ${host}`)} ${headers.map((h) => `-H ${q(h)}`).join(' ')} -w '\n@@%{http_code}@@\n' ${q(`http://${ip}${p}`)}`).join('; ');
    const r = lab.exec('client', ['sh', '-c', script]);
    const parts = r.stdout.split(/@@(\d+)@@\n?/);
    const out: Got[] = [];
    for (let i = 0; i + 1 < parts.length; i += 2) {
      let body: Got['body'] = {};
      try {
        body = JSON.parse(parts[i]!.trim()) as Got['body'];
      } catch {
        // nginx's own page
      }
      out.push({ code: Number(parts[i + 1]), body });
    }
    assert.equal(out.length, reqs.length, `${r.stdout}\n${r.stderr}`);
    return out;
  };
  const get = (host: string, p: string, headers: string[] = []): Got => getMany([[host, p, headers]])[0]!;

  it('installs the standard-channel CRDs and the GatewayClass podpath, Accepted by its controller', () =>
    explained(lab, async () => {
      const crds = lab.ok(['get', 'crd', '-o', 'name']);
      for (const k of ['gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'referencegrants']) assert.match(crds, new RegExp(`${k}\\.gateway\\.networking\\.k8s\\.io`));
      assert.equal(lab.ok(['get', 'crd', 'gateways.gateway.networking.k8s.io', '-o', 'jsonpath={.metadata.annotations.gateway\\.networking\\.k8s\\.io/bundle-version}']), 'v1.3.0');
      await eventually(holds(() => assert.match(lab.ok(['get', 'gatewayclass', 'podpath']), /podpath\s+podpath\.dev\/gateway-controller\s+True/)));
    }));

  it("defaults and validates with the CRDs' schemas: a rule without matches, a CEL rule's message, kubectl explain", () =>
    explained(lab, async () => {
      // the route `split` has no matches: the API server stored the spec's default
      assert.equal(lab.ok(['get', 'httproute', 'split', '-o', 'jsonpath={.spec.rules[0].matches}']), '[{"path":{"type":"PathPrefix","value":"/"}}]');
      assert.equal(lab.ok(['get', 'httproute', 'split', '-o', 'jsonpath={.spec.rules[0].backendRefs[0].kind} {.spec.parentRefs[0].group}']), 'Service gateway.networking.k8s.io');
      const bad = lab.kubectl(['apply', '-f', '-'], 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: bad}\nspec:\n  rules:\n  - matches: [{path: {type: PathPrefix, value: api}}]\n');
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /spec\.rules\[0\]\.matches\[0\]\.path: Invalid value: "object": value must be an absolute path and start with '\/' when type one of \['Exact', 'PathPrefix'\]/);
      const explain = lab.ok(['explain', 'gateway.spec.listeners']);
      assert.match(explain, /^GROUP:\s+gateway\.networking\.k8s\.io\nKIND:\s+Gateway\nVERSION:\s+v1\n/);
      assert.match(explain, /The listeners of the Gateway\./);
      assert.match(explain, /protocol\s+<string> -required-\n\s+The network protocol/);
    }));

  it("programs the Gateway at its own Service's LoadBalancer IP: the Service, kubectl's ADDRESS and PROGRAMMED, listener status with attachedRoutes", () =>
    explained(lab, async () => {
      assert.notEqual(gwIP, ingressIP);
      const svc = lab.get('/api/v1/namespaces/default/services/web-podpath') as { metadata: { labels: Record<string, string>; ownerReferences: { kind: string; name: string; controller: boolean }[] }; spec: { type: string; selector?: unknown; ports: { port: number; targetPort: number }[] } };
      assert.equal(svc.spec.type, 'LoadBalancer');
      assert.equal(svc.metadata.labels['gateway.networking.k8s.io/gateway-name'], 'web');
      assert.deepEqual(svc.metadata.ownerReferences.map((r) => [r.kind, r.name, r.controller]), [['Gateway', 'web', true]]);
      // the listeners' ports, each to a port of nginx's own in the pod; the endpoints are the controller's pod
      assert.deepEqual(svc.spec.ports.map((p) => p.port), [80, 9999]);
      assert.ok(svc.spec.ports.every((p) => p.targetPort >= 20000 && p.targetPort <= 29999));
      const ctrlIP = (JSON.parse(lab.ok(['get', 'pods', '-n', 'podpath-gateway', '-o', 'json'])) as { items: { status: { podIP: string } }[] }).items[0]!.status.podIP;
      // its nginx has NGINX Gateway Fabric's 1024 connections a worker, not ingress-nginx's 16384 (7 MiB a worker)
      const conf = lab.exec(`pod/podpath-gateway/${ctrlPod}`, ['cat', '/etc/nginx/nginx.conf']);
      assert.match(conf.stdout, /^ {4}worker_connections 1024;$/m, conf.stderr);
      await eventually(holds(() => assert.equal(lab.ok(['get', 'endpointslice', 'web-podpath', '-o', 'jsonpath={.endpoints[0].addresses[0]} {.endpoints[0].conditions.ready}']), `${ctrlIP} true`)), 30_000);
      await eventually(holds(() => assert.match(lab.ok(['get', 'gateway', 'web']), new RegExp(`web\\s+podpath\\s+${gwIP.replace(/\./g, '\\.')}\\s+True`))), 30_000);
      const gw = JSON.parse(lab.ok(['get', 'gateway', 'web', '-o', 'json'])) as { status: { conditions: { type: string; status: string; reason: string }[]; listeners: { name: string; attachedRoutes: number; conditions: { type: string; status: string; reason: string }[] }[] } };
      const c = (cs: { type: string; status: string; reason: string }[], t: string) => cs.find((x) => x.type === t);
      assert.deepEqual(c(gw.status.conditions, 'Accepted'), { ...c(gw.status.conditions, 'Accepted'), status: 'True', reason: 'Accepted' });
      const listeners = Object.fromEntries(gw.status.listeners.map((l) => [l.name, l]));
      assert.equal(listeners.http!.attachedRoutes, 3);
      // split and rewrite name no sectionName: they attach to every listener whose hostname they intersect, not admin.example.com's
      assert.equal(listeners.admin!.attachedRoutes, 0);
      assert.equal(listeners.odd!.attachedRoutes, 2);
      assert.equal(c(listeners.http!.conditions, 'Programmed')!.status, 'True');
      // any port: the Gateway's Service has it
      assert.equal(c(listeners.odd!.conditions, 'Programmed')!.status, 'True');
      const routes = JSON.parse(lab.ok(['get', 'httproute', '-o', 'json'])) as { items: { metadata: { name: string }; status: { parents: { controllerName: string; conditions: { type: string; status: string; reason: string }[] }[] } }[] };
      const byName = Object.fromEntries(routes.items.map((r) => [r.metadata.name, r.status.parents[0]!]));
      assert.equal(byName.app!.controllerName, 'podpath.dev/gateway-controller');
      assert.equal(c(byName.app!.conditions, 'Accepted')!.status, 'True');
      assert.equal(c(byName.app!.conditions, 'ResolvedRefs')!.status, 'True');
      assert.deepEqual([c(byName.rewrite!.conditions, 'ResolvedRefs')!.status, c(byName.rewrite!.conditions, 'ResolvedRefs')!.reason], ['False', 'BackendNotFound']);
    }));

  it('serves host, path and header matches, a weighted split and a URLRewrite from the client through the LoadBalancer IP, nginx and the pods', () =>
    explained(lab, async () => {
      const app = new Set(pods(lab, 'app=app').map((p) => p.name));
      const appV2 = new Set(pods(lab, 'app=app-v2').map((p) => p.name));
      await eventually(holds(() => assert.equal(get('gw.example.com', '/api/v1/hello').code, 200)), 30_000);
      const [plain, v2, other, nobody, rw, gone] = getMany([
        ['gw.example.com', '/api/v1/hello'],
        ['gw.example.com', '/api/v1/hello', ['X-Version: v2']],
        ['gw.example.com', '/other'],
        ['nobody.example.com', '/api/v1/hello'],
        ['rw.example.com', '/old/thing'],
        ['rw.example.com', '/gone'],
      ]);
      assert.ok(app.has(plain!.body.pod!), `${plain!.code} ${plain!.body.pod}`);
      const odd = getMany([['split.example.com', '/api/v1/x']], `${gwIP}:9999`)[0]!;
      assert.equal(odd.code, 200, 'the listener on port 9999, through port 9999 of the Gateway\'s Service');
      assert.ok(appV2.has(v2!.body.pod!), `${v2!.code} ${v2!.body.pod}`);
      assert.equal(other!.code, 404);
      assert.equal(nobody!.code, 404);
      assert.equal(rw!.code, 200);
      assert.equal(rw!.body.path, '/api/v1/thing');
      assert.equal(rw!.body.host, 'internal.example.com');
      assert.equal(gone!.code, 500);
      const seen = { app: 0, v2: 0 };
      for (const r of getMany(Array.from({ length: 30 }, () => ['split.example.com', '/api/v1/x'] as [string, string]))) {
        assert.equal(r.code, 200);
        if (app.has(r.body.pod!)) seen.app++;
        else if (appV2.has(r.body.pod!)) seen.v2++;
      }
      assert.ok(seen.app > 0 && seen.v2 > 0, `both sides of the 1:1 split answered: ${JSON.stringify(seen)}`);
      // the same request through the Ingress and through the Gateway: the same pods, each proxied by its own controller pod
      assert.equal(getMany([['app.example.com', '/api/v1/hello']], ingressIP)[0]!.code, 308, 'the Ingress redirects http to https for its TLS host');
      const ing = JSON.parse(lab.curl('client', 'https://app.example.com/api/v1/hello').stdout) as { pod: string; client: string };
      const gw = get('app.example.com', '/api/v1/hello');
      assert.ok(app.has(ing.pod) && app.has(gw.body.pod!));
      const ctrl = (ns: string) => (JSON.parse(lab.ok(['get', 'pods', '-n', ns, '-o', 'json'])) as { items: { status: { podIP: string } }[] }).items[0]!.status.podIP;
      assert.equal(ing.client.split(':')[0], ctrl('ingress-nginx'));
      assert.equal(gw.body.client!.split(':')[0], ctrl('podpath-gateway'));
    }));

  it('answers as `podpath gateway route` says, on the objects read back from the cluster', () =>
    explained(lab, async () => {
      const state = path.join(tmp, 'state.yaml');
      fs.writeFileSync(state, lab.ok(['get', 'namespaces,services,endpointslices,gatewayclasses,gateways,httproutes', '-A', '-o', 'yaml']));
      const cases: [string, string, string[]][] = [
        ['gw.example.com', '/api/v1/hello', []],
        ['gw.example.com', '/api/v1/hello', ['X-Version: v2']],
        ['gw.example.com', '/nothing', []],
        ['rw.example.com', '/old/a', []],
        ['rw.example.com', '/gone', []],
        ['admin.example.com', '/api/v1/x', []],
        ['split.example.com', '/api/v1/x', []],
      ];
      const app = new Set(pods(lab, 'app=app').map((p) => p.name));
      const answers = getMany(cases);
      for (const [i, [host, p, headers]] of cases.entries()) {
        const { routeFiles } = await import('../../src/gateway/offline.ts');
        const want = routeFiles([state], { url: `http://${host}${p}`, gateway: 'default/web', headers, method: 'GET' });
        const got = answers[i]!;
        assert.equal(got.code, want.status, `${host}${p} ${headers.join(' ')}`);
        if (want.status !== 200) continue;
        const svc = app.has(got.body.pod!) ? 'app-service' : 'app-v2';
        assert.ok(want.backends.some((b) => b.service.name === svc), `${host}${p}: nginx chose ${svc}, route() lists ${want.backends.map((b) => b.service.name).join(', ')}`);
        if (want.request!.path.startsWith('/api/v1')) assert.equal(got.body.path, want.request!.path);
      }
    }));

  it('gives a second Gateway its own Service at the address spec.addresses asks for; routes stay on their Gateway; DNS and trace follow; its Service goes with it', () =>
    explained(lab, async () => {
      const otherIP = '192.168.49.240';
      await eventually(holds(() => assert.match(lab.ok(['get', 'gateway', 'other']), /other\s+podpath\s+192\.168\.49\.240\s+True/)), 30_000);
      assert.equal(lab.ok(['get', 'svc', 'other-podpath', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']), otherIP);
      assert.equal(lab.ok(['get', 'gateway', 'other', '-o', 'jsonpath={.status.addresses}']), `[{"type":"IPAddress","value":"${otherIP}"}]`);
      // a hostname is not an address a LoadBalancer Service can be asked for: no Service, Programmed False
      await eventually(holds(() => assert.equal(lab.ok(['get', 'gateway', 'named', '-o', 'jsonpath={.status.conditions[?(@.type=="Programmed")].reason}']), 'AddressNotUsable')), 30_000);
      assert.notEqual(lab.kubectl(['get', 'svc', 'named-podpath']).code, 0);
      const appV2 = new Set(pods(lab, 'app=app-v2').map((p) => p.name));
      await eventually(holds(() => assert.equal(getMany([['other.example.com', '/api/v1/x']], otherIP)[0]!.code, 200)), 30_000);
      // each Gateway's routes at its own address only, though both listen on port 80
      const [mine, notMine] = getMany([['other.example.com', '/api/v1/x'], ['gw.example.com', '/api/v1/hello']], otherIP);
      assert.ok(appV2.has(mine!.body.pod!));
      assert.equal(notMine!.code, 404);
      assert.equal(getMany([['other.example.com', '/api/v1/x']], gwIP)[0]!.code, 404);
      // the lab's DNS publishes the route's hostname at its Gateway's address; trace's gateway hop names that Gateway
      const viaName = JSON.parse(lab.curl('client', 'http://other.example.com/api/v1/x').stdout) as { pod: string };
      assert.ok(appV2.has(viaName.pod));
      const t = JSON.parse(lab.podpath(['trace', '--from', 'client', '--to', 'http://other.example.com/api/v1/x', '-o', 'json']).stdout) as { verdict: string; hops: { kind: string; gateway?: { gateway: string; port: number } }[] };
      assert.equal(t.verdict, 'delivered');
      assert.deepEqual(t.hops.find((h) => h.kind === 'gateway')!.gateway, { gateway: 'default/other', listener: 'http', port: 80 });
      // deleting the Gateway deletes its Service (the garbage collector, by the owner reference) and its endpoints
      lab.ok(['delete', 'gateway', 'other', 'named']);
      await eventually(holds(() => assert.equal(lab.ok(['get', 'svc,endpointslice', '-l', 'gateway.networking.k8s.io/gateway-name=other', '-o', 'name']), '')), 30_000);
      assert.equal(get('gw.example.com', '/api/v1/hello').code, 200, 'the first Gateway still serves');
    }));
});
