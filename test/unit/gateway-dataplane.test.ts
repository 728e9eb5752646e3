// The Gateway controller's rendering, without nginx: listeners as servers on their own ports, the
// route matches in the spec's precedence, listener status (conflicts, ports the Service does not
// offer, certificate references), the Lua literal of the route tables in nginx.conf, the
// statuses written to Gateways and HTTPRoutes, and each Gateway's own Service (its ports mapped to
// nginx's ports of that Gateway alone, its address).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeGateways, withGateways, type GatewayObjects } from '../../src/gateway/controller.ts';
import { allocateTargetPorts, gatewayAddress, gatewayAtTargetPort, gatewayService, gatewayServiceName, gatewaySlice } from '../../src/gateway/provision.ts';
import { gatewayStatus, routeParents, stamp } from '../../src/gateway/status.ts';
import { OnDemandPlane } from '../../src/gateway/ondemand.ts';
import { FakeNginx } from '../../src/ingress/nginx/fake.ts';
import type { Pod, Service } from '../../src/api/types.ts';
import { validateEndpointSlice } from '../../src/api/validation/networking.ts';
import type { Gateway, HTTPRoute, Listener } from '../../src/gateway/types.ts';
import { buildModel as buildIngressModel } from '../../src/ingress/model.ts';
import { defaultRenderOptions, luaValue, renderNginxConf } from '../../src/ingress/nginx/template.ts';
import { service, slice } from '../helpers/ingress.ts';

const G = 'gateway.networking.k8s.io/v1';
const ctrl = 'podpath.dev/gateway-controller';
let clock = 0;
const meta = (name: string) => ({ name, namespace: 'default', creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, ++clock)).toISOString(), generation: 1 });
const gw = (name: string, listeners: Listener[]): Gateway => ({ apiVersion: G, kind: 'Gateway', metadata: meta(name), spec: { gatewayClassName: 'podpath', listeners } });
const route = (name: string, spec: HTTPRoute['spec']): HTTPRoute => ({ apiVersion: G, kind: 'HTTPRoute', metadata: meta(name), spec: { parentRefs: [{ name: 'gw' }], ...spec } });

function objects(gateways: Gateway[], routes: HTTPRoute[]): GatewayObjects {
  return {
    namespaces: [],
    classes: [
      { apiVersion: G, kind: 'GatewayClass', metadata: { name: 'podpath' }, spec: { controllerName: ctrl } },
      { apiVersion: G, kind: 'GatewayClass', metadata: { name: 'other' }, spec: { controllerName: 'example.com/other' } },
    ],
    gateways,
    routes,
    grants: [],
    services: [service('web'), service('api')],
    slices: [slice('web', ['10.244.0.5']), slice('api', ['10.244.0.6', '10.244.0.7'])],
    secrets: [],
  };
}

const render = (o: GatewayObjects, ports?: number[], perGateway = false) => {
  const c = computeGateways(o, ctrl, ports, perGateway);
  const m = withGateways(buildIngressModel({ ingresses: [], classes: [], services: [], slices: [], secrets: [] }, { class: { ingressClass: '', controller: ctrl, watchWithoutClass: false } }), c.plane);
  return { c, conf: renderNginxConf(m, { ...defaultRenderOptions, confDir: '/etc/nginx', runDir: '/run/nginx' }).conf };
};

describe('gateway data plane', () => {
  it('renders each listener as a server on its own port; a port without a hostless listener gets a 404 default server; other classes are not served', () => {
    const o = objects(
      [gw('gw', [{ name: 'http', port: 80, protocol: 'HTTP', hostname: 'a.example.com' }, { name: 'alt', port: 8080, protocol: 'HTTP' }]), { ...gw('foreign', [{ name: 'x', port: 81, protocol: 'HTTP' }]), spec: { gatewayClassName: 'other', listeners: [{ name: 'x', port: 81, protocol: 'HTTP' }] } }],
      [route('r', { rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] })],
    );
    const { c, conf } = render(o);
    assert.deepEqual([...c.model.gateways.keys()], ['default/gw']);
    assert.deepEqual(c.plane.servers.map((s) => `${s.listen!.port} ${s.hostname}`), ['80 _', '80 a.example.com', '8080 _']);
    assert.match(conf, /server_name a\.example\.com ;\n\s+listen 80;/);
    assert.match(conf, /listen 80 default_server reuseport backlog=4096;/);
    assert.match(conf, /listen 8080 default_server reuseport backlog=4096;/);
    assert.doesNotMatch(conf, /listen 81/);
    assert.equal(conf.match(/location = \/healthz/g)!.length, 1, "only the status server's: a listener's default server keeps every path for its routes");
    // the location hands the Lua code its entry in podpath.locations, which names its route table
    assert.match(conf, /rewrite_by_lua_block \{ podpath\.rewrite\(1\) \}/);
    assert.match(conf, /podpath\.locations = \{\{\["server"\] = "a\.example\.com", \["path"\] = "\/", \["routes"\] = 1\}/);
    // no route edits response headers: no header filter phase
    assert.doesNotMatch(conf, /header_filter_by_lua/);
    assert.match(conf, /podpath\.routes = \{\{\{\["namespace"\] = "default", \["name"\] = "r", \["rule"\] = 0/);
    assert.match(conf, /\["upstream"\] = "default-web-80"/);
  });

  it('orders a listener\'s matches by the spec\'s precedence: Exact, then longer PathPrefix, then method, headers, age', () => {
    const o = objects(
      [gw('gw', [{ name: 'http', port: 80, protocol: 'HTTP' }])],
      [
        route('old', { rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'web', port: 80 }] }] }),
        route('new', {
          rules: [
            { matches: [{ path: { type: 'PathPrefix', value: '/a' } }, { path: { type: 'Exact', value: '/a' } }], backendRefs: [{ name: 'api', port: 80 }] },
            { matches: [{ path: { type: 'PathPrefix', value: '/a' }, headers: [{ name: 'X-V', value: '2' }] }], backendRefs: [{ name: 'api', port: 80 }] },
          ],
        }),
      ],
    );
    const choices = render(o).c.plane.servers.find((s) => s.locations[0]!.routes)!.locations[0]!.routes!;
    assert.deepEqual(choices.map((x) => `${x.name}#${x.rule} ${x.path.type} ${x.path.value}${x.headers.length ? ' +h' : ''}`), ['new#0 Exact /a', 'new#1 PathPrefix /a +h', 'new#0 PathPrefix /a', 'old#0 PathPrefix /']);
    assert.deepEqual(choices[1]!.headers, [{ name: 'x-v', regex: false, value: '2' }]);
  });

  it('listener status: PortUnavailable, HostnameConflict (the older Gateway keeps it), ProtocolConflict, a missing certificate; attachedRoutes', () => {
    const o = objects(
      [
        gw('gw', [{ name: 'http', port: 80, protocol: 'HTTP' }, { name: 'odd', port: 9999, protocol: 'HTTP' }, { name: 'tls', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'missing' }] } }]),
        gw('late', [{ name: 'same', port: 80, protocol: 'HTTP' }, { name: 'tls-on-80', port: 80, protocol: 'HTTPS', hostname: 'x.test', tls: { certificateRefs: [{ name: 'missing' }] } }]),
      ],
      [route('r', { rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] })],
    );
    const { c } = render(o, [80, 443]);
    const cond = (g: string, l: string, t: string) => {
      const x = c.plane.listeners.get(`default/${g}`)!.find((y) => y.name === l)!.conditions.find((y) => y.type === t)!;
      return `${x.status} ${x.reason}`;
    };
    assert.equal(cond('gw', 'http', 'Programmed'), 'True Programmed');
    assert.equal(cond('gw', 'odd', 'Accepted'), 'False PortUnavailable');
    assert.equal(cond('gw', 'tls', 'ResolvedRefs'), 'False InvalidCertificateRef');
    assert.equal(cond('late', 'same', 'Conflicted'), 'True HostnameConflict');
    assert.equal(cond('late', 'tls-on-80', 'Conflicted'), 'True ProtocolConflict');
    assert.equal(c.plane.listeners.get('default/gw')!.find((l) => l.name === 'http')!.attachedRoutes, 1);
    const view = gatewayStatus(c.plane.listeners.get('default/gw')!, { ip: '192.168.49.201' }, true);
    assert.deepEqual(view.addresses, [{ type: 'IPAddress', value: '192.168.49.201' }]);
    assert.deepEqual(view.conditions.map((x) => `${x.type} ${x.status} ${x.reason}`), ['Accepted True ListenersNotValid', 'Programmed True Programmed']);
    assert.deepEqual(gatewayStatus(c.plane.listeners.get('default/gw')!, undefined, true).conditions[1]!.reason, 'AddressNotAssigned');
  });

  it('route status: one parents entry per parentRef with the model\'s conditions; other controllers\' entries kept; lastTransitionTime kept while the status stays', () => {
    const o = objects([gw('gw', [{ name: 'http', port: 80, protocol: 'HTTP' }])], [route('r', { rules: [{ backendRefs: [{ name: 'nope', port: 80 }] }] })]);
    const { c } = render(o);
    const other = { parentRef: { name: 'x' }, controllerName: 'example.com/other', conditions: [] };
    const first = routeParents(c.model, 'default/r', [other], ctrl, 1, '2026-01-01T00:00:00Z');
    assert.equal(first.length, 2);
    assert.deepEqual(first[1]!.conditions.map((x) => `${x.type} ${x.status} ${x.reason}`), ['Accepted True Accepted', 'ResolvedRefs False BackendNotFound']);
    const again = routeParents(c.model, 'default/r', first, ctrl, 2, '2026-01-02T00:00:00Z');
    assert.equal(again[1]!.conditions[0]!.lastTransitionTime, '2026-01-01T00:00:00Z');
    assert.equal(again[1]!.conditions[0]!.observedGeneration, 2);
    assert.equal(stamp([{ type: 'A', status: 'False', reason: 'r', message: '' }], again[1]!.conditions.map((x) => ({ ...x, type: 'A' })), 3, 'later')[0]!.lastTransitionTime, 'later');
  });

  it('writes Lua literals that survive quotes, backslashes and control characters', () => {
    assert.equal(luaValue({ a: 'x"y\\z\n1', b: [1, true], c: undefined }), '{["a"] = "x\\"y\\\\z\\0101", ["b"] = {1, true}}');
  });

  it("a Service per Gateway: each Gateway's listener ports on nginx ports of its own, no conflict between Gateways, the client's port kept for redirects and X-Forwarded-Port", () => {
    const web = { ...gw('web', [{ name: 'http', port: 80, protocol: 'HTTP' }, { name: 'alt', port: 8080, protocol: 'HTTP' }]), metadata: { ...meta('web'), uid: 'u-web' } };
    const other = { ...gw('other', [{ name: 'http', port: 80, protocol: 'HTTP' }]), metadata: { ...meta('other'), uid: 'u-other' } };
    const o = objects([other, web].reverse(), [route('r', { rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] })]);
    const { c, conf } = render(o, undefined, true);
    // oldest first, the lowest free ports
    assert.deepEqual([...c.targetPorts!].map(([k, m]) => [k, [...m]]), [['default/web', [[80, 20000], [8080, 20001]]], ['default/other', [[80, 20002]]]]);
    // the same port 80 on both: no HostnameConflict, each a default server on its own nginx port
    assert.equal(c.plane.listeners.get('default/other')![0]!.conditions.find((x) => x.type === 'Conflicted')!.status, 'False');
    assert.match(conf, /listen 20000 default_server/);
    assert.match(conf, /listen 20002 default_server/);
    assert.doesNotMatch(conf, /listen 80[ ;]/);
    assert.match(conf, /map \$server_port \$pp_listener_port \{\n\s+default \$server_port;\n\s+20000 80;\n\s+20001 8080;\n\s+20002 80;\n\s+\}/);
    assert.match(conf, /X-Forwarded-Port \$pp_listener_port;/);
    // the route attaches to `gw`, not these: their listeners serve 404 only
    assert.doesNotMatch(conf, /tried by the Lua code/);

    // a Service keeps its target ports when an older Gateway comes or a listener goes
    const svc = gatewayService(other, c.targetPorts!.get('default/other')!, undefined);
    assert.equal(gatewayServiceName(other), 'other-podpath');
    assert.deepEqual(svc.metadata.ownerReferences, [{ apiVersion: G, kind: 'Gateway', name: 'other', uid: 'u-other', controller: true, blockOwnerDeletion: true }]);
    assert.equal(svc.metadata.labels!['gateway.networking.k8s.io/gateway-name'], 'other');
    assert.equal(svc.spec.selector, undefined);
    assert.deepEqual(svc.spec.ports, [{ name: 'port-80', protocol: 'TCP', port: 80, targetPort: 20002 }]);
    const again = allocateTargetPorts([web, other], [svc]);
    assert.deepEqual([...again.get('default/other')!], [[80, 20002]]);
    assert.deepEqual([...again.get('default/web')!], [[80, 20000], [8080, 20001]]);
    assert.deepEqual(gatewayAtTargetPort([{ ...svc, status: {} } as Service], 20002), { gateway: 'default/other', port: 80 });
    assert.equal(gatewayAtTargetPort([{ ...svc, metadata: { ...svc.metadata, labels: {} } } as Service], 20002), undefined, "a user's Service is not a Gateway's");

    // the endpoints: the data plane's pods at the target ports
    const pod = { metadata: { name: 'ctrl-1', namespace: 'podpath-gateway', uid: 'p1' }, spec: { nodeName: 'n1', containers: [] }, status: { phase: 'Running', podIP: '10.244.0.9', conditions: [{ type: 'Ready', status: 'True' }] } } as unknown as Pod;
    const es = gatewaySlice(other, c.targetPorts!.get('default/other')!, [pod]);
    assert.equal(es.metadata.labels!['kubernetes.io/service-name'], 'other-podpath');
    assert.deepEqual(es.ports, [{ name: 'port-80', protocol: 'TCP', port: 20002 }]);
    // what the API server takes (a label value has no '/')
    assert.deepEqual(validateEndpointSlice(es).map((e) => JSON.stringify(e)), []);
    assert.deepEqual(es.endpoints, [{ addresses: ['10.244.0.9'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'podpath-gateway', name: 'ctrl-1', uid: 'p1' } }]);
  });

  it("a Gateway's address: its Service's LoadBalancer IP; spec.addresses asked for, or AddressNotUsable / AddressNotAssigned", () => {
    const g = (addresses?: { type?: string; value: string }[]) => ({ ...gw('g', [{ name: 'http', port: 80, protocol: 'HTTP' }]), spec: { gatewayClassName: 'podpath', listeners: [], ...(addresses ? { addresses } : {}) } }) as Gateway;
    const svc = (ip?: string) => ({ metadata: { name: 'g-podpath', namespace: 'default' }, spec: {}, status: ip ? { loadBalancer: { ingress: [{ ip }] } } : {} }) as Service;
    assert.deepEqual(gatewayAddress(g(), svc('192.168.49.201')), { ip: '192.168.49.201' });
    assert.equal((gatewayAddress(g(), svc()) as { reason: string }).reason, 'AddressNotAssigned');
    assert.equal((gatewayAddress(g(), undefined) as { reason: string }).reason, 'AddressNotAssigned');
    assert.deepEqual(gatewayAddress(g([{ value: '192.168.49.240' }]), svc('192.168.49.240')), { ip: '192.168.49.240' });
    assert.match((gatewayAddress(g([{ value: '192.168.49.240' }]), svc('192.168.49.201')) as { message: string }).message, /192\.168\.49\.240 was requested; the LoadBalancer pool gave 192\.168\.49\.201/);
    assert.equal((gatewayAddress(g([{ type: 'Hostname', value: 'lb.example.com' }]), svc('192.168.49.201')) as { reason: string }).reason, 'AddressNotUsable');
    assert.equal((gatewayAddress(g([{ value: '1.2.3.4' }, { value: '1.2.3.5' }]), undefined) as { reason: string }).reason, 'AddressNotUsable');
    assert.equal(gatewayService(g([{ value: '192.168.49.240' }]), new Map([[80, 20000]]), '192.168.49.240').spec.loadBalancerIP, '192.168.49.240');
    const view = gatewayStatus([], { reason: 'AddressNotUsable', message: 'address type Hostname is not supported; IPAddress is' }, true);
    assert.deepEqual([view.addresses, view.conditions[1]!.reason, view.conditions[1]!.status], [[], 'AddressNotUsable', 'False']);
  });
});

describe('the Gateway data plane on demand', () => {
  const rendered = (conf: string) => ({ conf, files: new Map<string, string>(), generation: conf });

  it('starts no nginx while no listener is to be served, and counts as healthy meanwhile', async () => {
    const fake = new FakeNginx();
    let starts = 0;
    const plane = new OnDemandPlane(fake, () => false, () => starts++);
    assert.equal(await plane.check(rendered('catch-all')), undefined);
    await plane.load(rendered('catch-all'));
    await plane.setBackends('[]');
    assert.deepEqual([fake.checked, fake.loaded, fake.backends, starts], [[], [], [], 0]);
    assert.equal(plane.running(), true);
    assert.equal(plane.active, false);
    assert.equal(await plane.counters(), '');
  });

  it("starts nginx with the first configuration that serves a listener, asks for the endpoints again once, and is nginx's from then on", async () => {
    const fake = new FakeNginx();
    fake.refuse = (conf) => (conf === 'bad' ? 'nginx: [emerg] bad' : undefined);
    let wanted = false;
    let starts = 0;
    const plane = new OnDemandPlane(fake, () => wanted, () => starts++);
    await plane.load(rendered('catch-all'));
    wanted = true;
    assert.equal(await plane.check(rendered('bad')), 'nginx: [emerg] bad');
    await plane.load(rendered('gateway web'));
    await plane.setBackends('[web]');
    assert.deepEqual([fake.loaded, fake.backends, starts, plane.running()], [['gateway web'], ['[web]'], 1, true]);
    // the last Gateway gone: nginx keeps running and reloading, and its failures show
    wanted = false;
    await plane.load(rendered('catch-all'));
    assert.deepEqual([fake.reloads, starts], [1, 1]);
    await fake.stop();
    assert.equal(plane.running(), false);
  });
});
