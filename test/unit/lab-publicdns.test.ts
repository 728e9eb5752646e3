// The lab's public DNS (external-dns's names, answered by the lab's router): which names the
// Ingresses and LoadBalancer Services publish, and the resolver's answers — including through
// a real UDP socket on 127.0.0.1 with dig.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Ingress, Service } from '../../src/api/types.ts';
import { Rcode, Type } from '../../src/dns/wire.ts';
import { describePublicNames, lookupPublic, publicNames } from '../../src/dns/publicdns.ts';
import { labAnswer, startLabResolver } from '../../src/lab/resolver.ts';
import { dig } from '../helpers/dns.ts';

const ingress = (name: string, spec: Ingress['spec'], ips: string[], annotations?: Record<string, string>, ns = 'default'): Ingress => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { namespace: ns, name, ...(annotations ? { annotations } : {}) },
  spec,
  status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
});
const lbService = (name: string, hostnames: string | undefined, ips: string[], type = 'LoadBalancer'): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { namespace: 'default', name, ...(hostnames !== undefined ? { annotations: { 'external-dns.alpha.kubernetes.io/hostname': hostnames } } : {}) },
  spec: { type, ports: [{ port: 80 }] },
  status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
});

const hosts = new Map([['client.lab', '192.168.49.100']]);
const q = (name: string, type: number = Type.A) => ({ name, type, class: 1 });

describe('lab public DNS names', () => {
  it('publishes every rules[].host and tls[].hosts of an Ingress, and its hostname annotation, at its status IPs', () => {
    const names = publicNames(
      [ingress('app', { rules: [{ host: 'app.example.com' }, { host: 'App2.Example.com.' }, {}], tls: [{ hosts: ['secure.example.com', 'app.example.com'], secretName: 'app-tls' }] }, ['192.168.49.201', '192.168.49.200'], { 'external-dns.alpha.kubernetes.io/hostname': 'alias.example.com, other.example.org' })],
      [],
    );
    assert.deepEqual([...names.exact.keys()], ['alias.example.com', 'app.example.com', 'app2.example.com', 'other.example.org', 'secure.example.com']);
    assert.deepEqual(names.exact.get('app.example.com'), ['192.168.49.200', '192.168.49.201']);
    assert.equal(names.owners.get('secure.example.com'), 'ingress/default/app');
  });

  it("publishes a LoadBalancer Service's comma-separated hostname annotation, and nothing for other types or without an address", () => {
    const names = publicNames([], [
      lbService('web', 'web.example.com,www.example.com ,', ['192.168.49.202']),
      lbService('pending', 'pending.example.com', []),
      lbService('nodeport', 'np.example.com', ['192.168.49.203'], 'NodePort'),
      lbService('plain', undefined, ['192.168.49.204']),
    ]);
    assert.deepEqual([...names.exact], [['web.example.com', ['192.168.49.202']], ['www.example.com', ['192.168.49.202']]]);
    assert.deepEqual(describePublicNames(names), ['web.example.com 192.168.49.202 (service/default/web)', 'www.example.com 192.168.49.202 (service/default/web)']);
  });

  it('skips an Ingress without status IPs, hostnames in the status, IPv6 addresses and names that are not DNS names', () => {
    const names = publicNames(
      [
        ingress('pending', { rules: [{ host: 'pending.example.com' }] }, []),
        { ...ingress('named', { rules: [{ host: 'named.example.com' }] }, []), status: { loadBalancer: { ingress: [{ hostname: 'lb.cloud.example' }] } } },
        ingress('v6', { rules: [{ host: 'v6.example.com' }, { host: '10.0.0.1' }, { host: 'bad_.-name' }] }, ['fd00::1', '192.168.49.205']),
      ],
      [],
    );
    assert.deepEqual([...names.exact], [['v6.example.com', ['192.168.49.205']]]);
  });

  it('gives a name claimed twice to one owner: the lowest addresses, then kind/namespace/name, whatever the order', () => {
    const a = ingress('b-ing', { rules: [{ host: 'shared.example.com' }] }, ['192.168.49.210']);
    const b = lbService('a-svc', 'shared.example.com', ['192.168.49.209']);
    const c = ingress('a-ing', { rules: [{ host: 'tie.example.com' }] }, ['192.168.49.211']);
    const d = ingress('z-ing', { rules: [{ host: 'tie.example.com' }] }, ['192.168.49.211']);
    for (const [ings, svcs] of [[[a, c, d], [b]], [[d, c, a], [b]]] as [Ingress[], Service[]][]) {
      const names = publicNames(ings, svcs);
      assert.equal(names.owners.get('shared.example.com'), 'service/default/a-svc');
      assert.deepEqual(names.exact.get('shared.example.com'), ['192.168.49.209']);
      assert.equal(names.owners.get('tie.example.com'), 'ingress/default/a-ing');
    }
  });

  it('answers a wildcard host for exactly one label under it; an exact name wins over the wildcard', () => {
    const names = publicNames([ingress('wild', { rules: [{ host: '*.example.com' }] }, ['192.168.49.220']), ingress('one', { rules: [{ host: 'special.example.com' }] }, ['192.168.49.221'])], []);
    assert.deepEqual(lookupPublic(names, 'a.example.com'), ['192.168.49.220']);
    assert.deepEqual(lookupPublic(names, 'A.Example.COM.'), ['192.168.49.220']);
    assert.deepEqual(lookupPublic(names, 'special.example.com'), ['192.168.49.221']);
    assert.equal(lookupPublic(names, 'a.b.example.com'), undefined);
    assert.equal(lookupPublic(names, 'example.com'), undefined);
    assert.equal(lookupPublic(names, '.example.com'), undefined);
    assert.deepEqual(describePublicNames(names), ['*.example.com 192.168.49.220 (ingress/default/wild)', 'special.example.com 192.168.49.221 (ingress/default/one)']);
  });
});

describe('lab resolver answers', () => {
  const names = publicNames([ingress('app', { rules: [{ host: 'app.example.com' }, { host: '*.apps.example.com' }] }, ['192.168.49.200', '192.168.49.201'])], [lbService('web', 'web.example.com', ['192.168.49.202'])]);

  it('answers a published name with an authoritative A record per address, echoing the case asked', () => {
    const a = labAnswer(q('App.Example.com'), hosts, names);
    assert.equal(a.rcode, Rcode.NOERROR);
    assert.equal(a.aa, true);
    assert.deepEqual(a.answer, [
      { name: 'App.Example.com', type: Type.A, ttl: 60, data: '192.168.49.200' },
      { name: 'App.Example.com', type: Type.A, ttl: 60, data: '192.168.49.201' },
    ]);
    assert.deepEqual(labAnswer(q('x.apps.example.com'), hosts, names).answer.map((r) => r.data), ['192.168.49.200', '192.168.49.201']);
  });

  it('is NODATA for another type of a published name, REFUSED for unknown names (even under a published one)', () => {
    assert.deepEqual(labAnswer(q('web.example.com', Type.AAAA), hosts, names), { rcode: Rcode.NOERROR, aa: true, answer: [], authority: [] });
    assert.deepEqual(labAnswer(q('web.example.com', Type.MX), hosts, names), { rcode: Rcode.NOERROR, aa: true, answer: [], authority: [] });
    for (const n of ['example.com', 'x.web.example.com', 'a.b.apps.example.com', 'kubernetes.io']) assert.equal(labAnswer(q(n), hosts, names).rcode, Rcode.REFUSED, n);
  });

  it('keeps the lab zone as it was: its hosts, NXDOMAIN with the SOA for unknown lab names, whatever the cluster publishes', () => {
    const claiming = publicNames([ingress('sneaky', { rules: [{ host: 'client.lab' }, { host: 'new.lab' }] }, ['192.168.49.230'])], []);
    assert.deepEqual(labAnswer(q('client.lab'), hosts, claiming).answer.map((r) => r.data), ['192.168.49.100']);
    const nx = labAnswer(q('new.lab'), hosts, claiming);
    assert.equal(nx.rcode, Rcode.NXDOMAIN);
    assert.equal(nx.authority[0]?.type, Type.SOA);
    assert.equal(labAnswer(q('app.example.com'), hosts).rcode, Rcode.REFUSED, 'without the cluster names');
  });

  describe('over UDP (dig)', () => {
    let sock: ReturnType<typeof startLabResolver>;
    let port = 0;
    let current = names;
    before(async () => {
      sock = startLabResolver('127.0.0.1', 0, hosts, () => {}, () => current);
      await new Promise<void>((r) => sock.once('listening', () => r()));
      port = sock.address().port;
    });
    after(() => sock.close());

    it('answers A, NODATA and REFUSED, and follows the names as they change', async () => {
      const a = await dig(port, ['web.example.com']);
      assert.equal(a.status, 'NOERROR');
      assert.ok(a.flags.includes('aa'));
      assert.deepEqual(a.answer.map((r) => r[4]), ['192.168.49.202']);
      const aaaa = await dig(port, ['web.example.com', 'AAAA']);
      assert.equal(aaaa.status, 'NOERROR');
      assert.equal(aaaa.answer.length, 0);
      assert.equal((await dig(port, ['www.google.com'])).status, 'REFUSED');
      current = publicNames([], []);
      assert.equal((await dig(port, ['web.example.com'])).status, 'REFUSED');
    });
  });
});
