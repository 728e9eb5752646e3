// The userspace proxy's data path on 127.0.0.0/8 (no root: loopback addresses stand in for
// ClusterIPs, a fake stands in for kube-ipvs0). IPVS mode and the IPVS table's text formats are
// in proxy-ipvs.test.ts.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, test } from 'node:test';
import { UserspaceBackend } from '../../src/proxy/userspace/backend.ts';
import { ep, sp } from '../helpers/proxy.ts';
import { FakeDummy } from '../../src/proxy/dummydevice.ts';

const closers: (() => void)[] = [];
after(() => closers.forEach((c) => c()));

async function echoServer(name: string): Promise<number> {
  const s = net.createServer((c) => c.end(`${name}\n`));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  closers.push(() => s.close());
  return (s.address() as net.AddressInfo).port;
}

function ask(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, host);
    let out = '';
    c.on('data', (d) => (out += d.toString()));
    c.on('end', () => resolve(out.trim()));
    c.on('error', reject);
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

test('userspace: round robin over the endpoints, addresses on the dummy device, refusal without endpoints', async () => {
  const [pa, pb] = [await echoServer('a'), await echoServer('b')];
  const vip = '127.0.0.61';
  const port = await freePort();
  const dummy = new FakeDummy(['192.168.49.2']);
  const b = new UserspaceBackend({ scheduler: 'rr', strictARP: false, udpTimeoutMs: 250, connectTimeoutMs: 500, nodePortIPs: () => undefined, dummy, log: () => {} });
  closers.push(() => b.close());
  const svc = (endpoints: ReturnType<typeof ep>[]) => new Map([['default/svc', [sp({ clusterIP: vip, port, endpoints })]]]);
  b.sync({ byService: svc([ep('127.0.0.1', pa), ep('127.0.0.1', pb)]) });
  assert.deepEqual([...dummy.addresses], [vip]);
  await new Promise((r) => setTimeout(r, 50));
  const got = [];
  for (let i = 0; i < 4; i++) got.push(await ask(vip, port));
  assert.deepEqual(got, ['a', 'b', 'a', 'b']);
  assert.match(b.list(), new RegExp(`TCP  ${vip.replace(/\./g, '\\.')}:${port} rr\\n  -> 127\\.0\\.0\\.1:${pa} +Masq    1      0          0`));
  b.sync({ byService: svc([]) });
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(ask(vip, port), /ECONNREFUSED/);
  b.sync({ byService: new Map() });
  assert.deepEqual([...dummy.addresses], []);
});

test('userspace: bytes arrive intact both ways through the reused read buffers, with back-pressure and half-close', async () => {
  // The endpoint hashes what it receives and, after the client's half-close, streams back 12 MB
  // of its own followed by that hash.
  const down = crypto.randomBytes(12 * 1024 * 1024);
  const server = net.createServer((c) => {
    const h = crypto.createHash('sha256');
    c.on('data', (d) => h.update(d));
    c.on('end', () => {
      c.write(down);
      c.end(h.digest());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(() => server.close());
  const vip = '127.0.0.66';
  const port = await freePort();
  const b = new UserspaceBackend({ scheduler: 'rr', strictARP: false, udpTimeoutMs: 250, connectTimeoutMs: 500, nodePortIPs: () => undefined, dummy: new FakeDummy(['192.168.49.2']), log: () => {} });
  closers.push(() => b.close());
  b.sync({ byService: new Map([['default/svc', [sp({ clusterIP: vip, port, endpoints: [ep('127.0.0.1', (server.address() as net.AddressInfo).port)] })]]]) });
  await new Promise((r) => setTimeout(r, 50));
  const one = async () => {
    const up = crypto.randomBytes(20 * 1024 * 1024);
    const c = net.connect(port, vip);
    const chunks: Buffer[] = [];
    let paused = 0;
    c.on('data', (d) => {
      chunks.push(d);
      // A slow reader now and then: the proxy must hold back rather than buffer or lose data.
      if (++paused % 40 === 0) {
        c.pause();
        setTimeout(() => c.resume(), 5);
      }
    });
    // Written in uneven pieces, some before the connection is up.
    for (let off = 0; off < up.length; ) {
      const n = Math.min(up.length - off, 1 + ((off * 7919) % 300_000));
      c.write(up.subarray(off, off + n));
      off += n;
    }
    c.end();
    await new Promise<void>((resolve, reject) => {
      c.on('close', () => resolve());
      c.on('error', reject);
    });
    const got = Buffer.concat(chunks);
    assert.equal(got.length, down.length + 32);
    assert.ok(got.subarray(0, down.length).equals(down), 'the 12 MB from the endpoint arrive unchanged');
    assert.deepEqual(got.subarray(down.length), crypto.createHash('sha256').update(up).digest(), 'the endpoint saw the 20 MB unchanged');
  };
  // Two at once, so pooled buffers serve concurrent connections, then one more that reuses them.
  await Promise.all([one(), one()]);
  await one();
  assert.match(b.stats(), new RegExp(`TCP  127\\.0\\.0\\.66:${port} +3 +0 +0 +62914560 +37748832`));
});

test('userspace: externalTrafficPolicy Local asks for a transparent socket from the client\'s address, and falls back to the node\'s', async () => {
  const web = await echoServer('local');
  const nodeIP = '127.0.0.67';
  const nodePort = await freePort();
  const logs: string[] = [];
  const opened: string[] = [];
  let routing = 0;
  const transparent = { missing: () => undefined, ensureRouting: () => void routing++, open: (udp: boolean, ip: string) => { opened.push(`${udp ? 'udp' : 'tcp'} ${ip}`); throw new Error('EPERM (fake)'); } };
  const b = new UserspaceBackend({ scheduler: 'rr', strictARP: false, udpTimeoutMs: 250, connectTimeoutMs: 500, nodePortIPs: () => [nodeIP], dummy: new FakeDummy(['192.168.49.2']), transparent, log: (l) => logs.push(l) });
  closers.push(() => b.close());
  const port = await freePort();
  const svc = (externalPolicyLocal: boolean) => new Map([['default/svc', [sp({ clusterIP: '127.0.0.68', port, nodePort, externalPolicyLocal, endpoints: [ep('127.0.0.1', web)] })]]]);
  b.sync({ byService: svc(true), podCIDR: '10.244.0.0/24' });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(routing, 1, 'the mark and route are set up once a Local Service has a local endpoint');
  assert.equal(await ask(nodeIP, nodePort), 'local', 'a socket that cannot be had: connected from the node instead');
  assert.deepEqual(opened, ['tcp 127.0.0.1']);
  assert.ok(logs.some((l) => l === 'keeping client address 127.0.0.1: EPERM (fake); connecting from the node instead'), logs.join('\n'));
  // The ClusterIP, and clients on the node's own pod range, are proxied from the node without asking.
  assert.equal(await ask('127.0.0.68', port), 'local');
  b.sync({ byService: svc(true), podCIDR: '127.0.0.0/8' });
  assert.equal(await ask(nodeIP, nodePort), 'local');
  b.sync({ byService: svc(false), podCIDR: '10.244.0.0/24' });
  assert.equal(await ask(nodeIP, nodePort), 'local');
  assert.deepEqual(opened, ['tcp 127.0.0.1'], 'asked only for the Local NodePort from outside the pod range');
  assert.equal(routing, 1);
});

test('userspace: without what transparent sockets need, the proxy says so once and proxies from the node', async () => {
  const web = await echoServer('local');
  const nodeIP = '127.0.0.69';
  const nodePort = await freePort();
  const logs: string[] = [];
  const transparent = { missing: () => 'build/sockopt.node is not built (fake)', ensureRouting: () => assert.fail('no routing without the addon'), open: () => assert.fail('no socket without the addon') };
  const b = new UserspaceBackend({ scheduler: 'rr', strictARP: false, udpTimeoutMs: 250, connectTimeoutMs: 500, nodePortIPs: () => [nodeIP], dummy: new FakeDummy(['192.168.49.2']), transparent, log: (l) => logs.push(l) });
  closers.push(() => b.close());
  const svc = new Map([['default/svc', [sp({ clusterIP: '127.0.0.70', port: await freePort(), nodePort, externalPolicyLocal: true, endpoints: [ep('127.0.0.1', web)] })]]]);
  b.sync({ byService: svc });
  b.sync({ byService: svc });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await ask(nodeIP, nodePort), 'local');
  assert.deepEqual(logs, ['client addresses will not be kept (externalTrafficPolicy Local): build/sockopt.node is not built (fake)']);
});

test('userspace: a failed connect goes to the next endpoint; ClientIP persistence sticks', async () => {
  const alive = await echoServer('alive');
  const dead = await freePort(); // nothing listens there
  const vip = '127.0.0.62';
  const port = await freePort();
  const b = new UserspaceBackend({ scheduler: 'rr', strictARP: false, udpTimeoutMs: 250, connectTimeoutMs: 500, nodePortIPs: () => undefined, dummy: new FakeDummy(['192.168.49.2']), log: () => {} });
  closers.push(() => b.close());
  b.sync({ byService: new Map([['default/svc', [sp({ clusterIP: vip, port, endpoints: [ep('127.0.0.1', dead), ep('127.0.0.1', alive)] })]]]) });
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 6; i++) assert.equal(await ask(vip, port), 'alive');
  const [x, y] = [await echoServer('x'), await echoServer('y')];
  const vip2 = '127.0.0.63';
  b.sync({ byService: new Map([['default/s2', [sp({ clusterIP: vip2, port, stickyMaxAgeSeconds: 60, endpoints: [ep('127.0.0.1', x), ep('127.0.0.1', y)] })]]]) });
  await new Promise((r) => setTimeout(r, 50));
  const first = await ask(vip2, port);
  for (let i = 0; i < 5; i++) assert.equal(await ask(vip2, port), first);
  assert.match(b.list(), /rr persistent 60/);
});

test('userspace: UDP sessions reach one endpoint and expire after the idle timeout', async () => {
  const echo = dgram.createSocket('udp4');
  echo.on('message', (m, r) => echo.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', () => r()));
  closers.push(() => echo.close());
  const vip = '127.0.0.64';
  const port = await freePort();
  const b = new UserspaceBackend({ scheduler: 'rr', strictARP: false, udpTimeoutMs: 200, connectTimeoutMs: 500, nodePortIPs: () => undefined, dummy: new FakeDummy(['192.168.49.2']), log: () => {} });
  closers.push(() => b.close());
  b.sync({ byService: new Map([['default/svc', [sp({ clusterIP: vip, port, protocol: 'UDP', endpoints: [ep('127.0.0.1', echo.address().port)] })]]]) });
  await new Promise((r) => setTimeout(r, 50));
  const c = dgram.createSocket('udp4');
  const reply = new Promise<string>((r) => c.once('message', (m) => r(m.toString())));
  c.send('hi', port, vip);
  assert.equal(await reply, 'echo:hi');
  assert.match(b.list(), new RegExp(`UDP  ${vip.replace(/\./g, '\\.')}:${port} rr\\n  -> 127\\.0\\.0\\.1:\\d+ +Masq    1      0          1`));
  assert.match(b.connections(), /^UDP 00:00 {2}UDP /m);
  await new Promise((r) => setTimeout(r, 400));
  assert.match(b.list(), /Masq {4}1 {6}0 {10}0/);
  c.close();
});
