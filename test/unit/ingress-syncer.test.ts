// IngressSyncer over FakeNginx: what it checks, loads and sends to the balancer as the objects
// change — endpoints without a reload, a changed Ingress with one, nothing when nothing changed —
// and how a configuration nginx refuses is handled: the offending Ingress gets a RejectedByNginx
// Warning and is left out, the rest is loaded, and it is tried again once it changes.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { Ingress } from '../../src/api/types.ts';
import type { EventType } from '../../src/client/events.ts';
import { IngressSyncer } from '../../src/ingress/controller/controller.ts';
import { ControllerMetrics } from '../../src/ingress/metrics.ts';
import type { IngressState } from '../../src/ingress/model.ts';
import { FakeNginx } from '../../src/ingress/nginx/fake.ts';
import { defaultRenderOptions } from '../../src/ingress/nginx/template.ts';
import { ingress, nginxAnn, ours, pth, rule, slice, stateFor } from '../helpers/ingress.ts';

const id = { controller_class: 'k8s.io/ingress-nginx', controller_namespace: 'ingress-nginx', controller_pod: 'controller-0' };

interface Rig {
  state: IngressState;
  nginx: FakeNginx;
  syncer: IngressSyncer;
  metrics: ControllerMetrics;
  events: { ingress: string; type: EventType; reason: string; message: string }[];
  logs: string[];
  success: () => number;
  errors: () => number;
}

function rig(ingresses: Ingress[]): Rig {
  const state = stateFor(ingresses);
  const nginx = new FakeNginx();
  const metrics = new ControllerMetrics(id);
  const events: Rig['events'] = [];
  const logs: string[] = [];
  const syncer = new IngressSyncer(() => state, nginx, {
    class: ours,
    render: { ...defaultRenderOptions, confDir: '/etc/nginx', runDir: '/tmp/nginx' },
    defaultCertificate: 'default certificate\n',
    minSyncMs: 0,
    log: (l) => logs.push(l),
    event: (ing, type, reason, message) => events.push({ ingress: `${ing.metadata.namespace}/${ing.metadata.name}`, type, reason, message }),
    metrics,
  });
  return { state, nginx, syncer, metrics, events, logs, success: () => metrics.success.get(id), errors: () => metrics.errors.get(id) };
}

const app = () => ingress('app', { rules: [rule('app.test', pth('/', 'Prefix', 'web'), pth('/api', 'Exact', 'api'))] });

describe('IngressSyncer over FakeNginx', () => {
  let r: Rig;
  beforeEach(async () => {
    r = rig([app()]);
    await r.syncer.syncNow();
  });

  it('the first sync checks and loads the configuration, then sends the endpoints', () => {
    assert.equal(r.nginx.checked.length, 1);
    assert.equal(r.nginx.loaded.length, 1);
    assert.equal(r.nginx.reloads, 0);
    assert.equal(r.nginx.loaded[0], r.nginx.checked[0]);
    assert.match(r.nginx.loaded[0]!, /server_name app\.test ;/);
    assert.deepEqual(r.nginx.backends, ['default-api-80 10.244.0.2:8080\ndefault-web-80 10.244.0.1:8080\n']);
    assert.equal(r.success(), 1);
    assert.equal(r.errors(), 0);
    assert.equal(r.metrics.lastReloadSuccessful.get(id), 1);
    assert.deepEqual(r.events, []);
  });

  it('unchanged objects: no check, no load, nothing sent', async () => {
    await r.syncer.syncNow();
    await r.syncer.syncNow();
    assert.equal(r.nginx.checked.length, 1);
    assert.equal(r.nginx.loaded.length, 1);
    assert.equal(r.nginx.backends.length, 1);
    assert.equal(r.success(), 1);
  });

  it('an endpoint-only change goes to the balancer without a reload', async () => {
    r.state.slices = r.state.slices.map((s) => (s.metadata.labels?.['kubernetes.io/service-name'] === 'web' ? slice('web', ['10.244.0.1', '10.244.0.7', { address: '10.244.0.8', ready: false }]) : s));
    await r.syncer.syncNow();
    assert.equal(r.nginx.loaded.length, 1, 'no reload');
    assert.equal(r.nginx.checked.length, 1, 'nginx.conf did not change, so it is not even checked');
    assert.equal(r.nginx.backends.length, 2);
    assert.equal(r.nginx.backends[1], 'default-api-80 10.244.0.2:8080\ndefault-web-80 10.244.0.1:8080 10.244.0.7:8080\n');
    assert.equal(r.success(), 1);
    assert.equal(r.metrics.endpointUpdates.get(), 1);
    // scaled to zero: still no reload, the upstream is sent empty (requests get 503)
    r.state.slices = r.state.slices.filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] !== 'web');
    await r.syncer.syncNow();
    assert.equal(r.nginx.loaded.length, 1);
    assert.equal(r.nginx.backends.at(-1), 'default-api-80 10.244.0.2:8080\ndefault-web-80\n');
  });

  it('an Ingress change is one check and one reload; request() coalesces changes into one sync', async () => {
    r.state.ingresses.push(ingress('second', { rules: [rule('second.test', pth('/', 'Prefix', 'web'))] }));
    r.syncer.request();
    r.state.ingresses.push(ingress('third', { rules: [rule('third.test', pth('/', 'Prefix', 'web'))] }));
    r.syncer.request();
    await r.syncer.whenIdle();
    assert.equal(r.nginx.reloads, 1);
    assert.equal(r.nginx.checked.length, 2);
    assert.match(r.nginx.loaded[1]!, /server_name second\.test ;/);
    assert.match(r.nginx.loaded[1]!, /server_name third\.test ;/);
    assert.equal(r.success(), 2);
    assert.equal(r.nginx.backends.length, 1, 'the same upstreams: nothing new to send');
    assert.deepEqual(r.syncer.model?.served.map((i) => i.metadata.name), ['app', 'second', 'third']);
  });

  it('a problem of an Ingress is a Warning Event once per Ingress version, not on every sync', async () => {
    r.state.ingresses.push(ingress('bad', { rules: [rule('bad.test', pth('/', 'Prefix', 'web'))] }, { annotations: nginxAnn({ 'proxy-read-timeout': 'soon' }) }));
    await r.syncer.syncNow();
    await r.syncer.syncNow();
    assert.deepEqual(r.events.map((e) => [e.ingress, e.type, e.reason]), [['default/bad', 'Warning', 'InvalidAnnotation']]);
    assert.equal(r.nginx.loaded.length, 1, 'the invalid Ingress is left out: nginx.conf is unchanged');
  });
});

describe('IngressSyncer: a configuration nginx refuses', () => {
  const refusing = (r: Rig) => {
    r.nginx.refuse = (conf) => (conf.includes('/refuse-me') ? 'nginx: [emerg] something about /refuse-me in /etc/nginx/nginx.conf.check:99\nnginx: configuration file /etc/nginx/nginx.conf.check test failed' : undefined);
  };
  const bad = (rv: string, p = '/refuse-me') => ingress('bad', { rules: [rule('bad.test', pth(p, 'Prefix', 'web'))] }, { resourceVersion: rv });

  it('the offending Ingress gets a RejectedByNginx Warning and is left out; the rest is loaded', async () => {
    const r = rig([app()]);
    refusing(r);
    await r.syncer.syncNow();
    r.state.ingresses.push(bad('10'), ingress('good', { rules: [rule('good.test', pth('/', 'Prefix', 'web'))] }));
    await r.syncer.syncNow();
    assert.deepEqual(r.events.map((e) => [e.ingress, e.type, e.reason]), [['default/bad', 'Warning', 'RejectedByNginx']]);
    assert.match(r.events[0]!.message, /: something about \/refuse-me in \/etc\/nginx\/nginx\.conf\.check:99$/, "the Event carries nginx's [emerg] line");
    assert.equal(r.nginx.reloads, 1);
    const conf = r.nginx.loaded.at(-1)!;
    assert.doesNotMatch(conf, /refuse-me/);
    assert.match(conf, /server_name good\.test ;/);
    assert.match(conf, /server_name app\.test ;/);
    assert.deepEqual(r.syncer.model?.served.map((i) => i.metadata.name), ['app', 'good']);
    assert.ok(r.syncer.model?.problems.some((p) => p.reason === 'RejectedByNginx' && p.ingress.name === 'bad' && p.skipped));
    assert.equal(r.success(), 2, 'the reload with the rest');
    assert.equal(r.errors(), 1, 'nginx refused one configuration');
    assert.equal(r.metrics.lastReloadSuccessful.get(id), 1, 'the last reload (of the rest) succeeded');

    // left out while it stays as it is: no check, no event, no reload
    const checked = r.nginx.checked.length;
    await r.syncer.syncNow();
    assert.equal(r.nginx.checked.length, checked);
    assert.equal(r.events.length, 1);
    assert.equal(r.errors(), 1);
  });

  it('it is tried again once its spec or annotations change (a status update is no change): still refused → another Warning and no reload; fixed → loaded', async () => {
    const r = rig([app(), bad('10')]);
    refusing(r);
    await r.syncer.syncNow();
    assert.equal(r.nginx.loaded.length, 1, 'the first load, without bad');
    assert.doesNotMatch(r.nginx.loaded[0]!, /refuse-me/);
    assert.equal(r.events.length, 1);
    assert.equal(r.errors(), 1);
    const checked = r.nginx.checked.length;

    // a new resourceVersion alone (the controller's own status update) is the same Ingress: not tried again
    r.state.ingresses[1] = bad('11');
    await r.syncer.syncNow();
    assert.equal(r.events.length, 1);
    assert.equal(r.nginx.checked.length, checked, 'nothing to check: the configuration is the running one');
    // an edit that still breaks nginx is tried, and told again
    r.state.ingresses[1] = { ...bad('12'), metadata: { ...bad('12').metadata, annotations: { note: 'edited' } } };
    await r.syncer.syncNow();
    assert.deepEqual(r.events.map((e) => e.reason), ['RejectedByNginx', 'RejectedByNginx']);
    assert.equal(r.nginx.loaded.length, 1, 'the rest is what is running already: no reload');
    assert.equal(r.success(), 1);
    assert.equal(r.errors(), 2);

    r.state.ingresses[1] = bad('13', '/fixed');
    await r.syncer.syncNow();
    assert.equal(r.nginx.loaded.length, 2);
    assert.match(r.nginx.loaded[1]!, /location \/fixed\//);
    assert.equal(r.events.length, 2);
    assert.deepEqual(r.syncer.model?.problems, []);
    assert.equal(r.success(), 2);
    assert.equal(r.errors(), 2);
  });

  it('when no single Ingress is to blame the running configuration stays and the error is counted', async () => {
    const r = rig([app()]);
    await r.syncer.syncNow();
    r.nginx.refuse = (conf) => (conf.includes('two.test') && conf.includes('three.test') ? 'nginx: [emerg] the two together' : undefined);
    r.state.ingresses.push(ingress('two', { rules: [rule('two.test', pth('/', 'Prefix', 'web'))] }), ingress('three', { rules: [rule('three.test', pth('/', 'Prefix', 'web'))] }));
    await r.syncer.syncNow();
    assert.equal(r.nginx.loaded.length, 1);
    assert.equal(r.errors(), 1);
    assert.equal(r.metrics.lastReloadSuccessful.get(id), 0);
    assert.deepEqual(r.events, []);
  });
});
