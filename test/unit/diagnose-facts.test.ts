// The readers behind diagnose's live facts, on real input: the kernel's own socket tables (a
// server this test opens must show up in /proc/net/tcp, tcp6 and udp as it binds), and the rule
// listings kube-proxy's renderers produce (a Service's rules named in iptables-save and nft
// listings, another Service's not).
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Service } from '../../src/api/types.ts';
import { namesService } from '../../src/lab/servicerules.ts';
import { parseProcNet } from '../../src/util/procnet.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const svc = (namespace: string, name: string) => ({ metadata: { namespace, name }, spec: {} }) as Service;

describe('diagnose: live facts readers', () => {
  it('finds a TCP listener on IPv4 and IPv6 and a bound UDP socket in the kernel tables, and not a connected client', async () => {
    const v4 = net.createServer().listen(0, '127.0.0.1');
    const v6 = net.createServer().listen(0, '::');
    const udp = dgram.createSocket('udp4').bind(0, '127.0.0.2');
    await Promise.all([new Promise((r) => v4.once('listening', r)), new Promise((r) => v6.once('listening', r)), new Promise((r) => udp.once('listening', r))]);
    const client = net.connect((v4.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((r) => client.once('connect', r));
    try {
      const tcp = [...parseProcNet(fs.readFileSync('/proc/net/tcp', 'utf8'), 'tcp'), ...parseProcNet(fs.readFileSync('/proc/net/tcp6', 'utf8'), 'tcp')];
      const udps = parseProcNet(fs.readFileSync('/proc/net/udp', 'utf8'), 'udp');
      assert.ok(tcp.some((s) => s.address === '127.0.0.1' && s.port === (v4.address() as net.AddressInfo).port));
      assert.ok(tcp.some((s) => s.address === '::' && s.port === (v6.address() as net.AddressInfo).port));
      assert.ok(udps.some((s) => s.address === '127.0.0.2' && s.port === udp.address().port));
      assert.ok(!tcp.some((s) => s.port === client.localPort), 'an established connection is not listening');
    } finally {
      client.destroy();
      v4.close();
      v6.close();
      udp.close();
    }
  });

  it('reads an IPv6 address group by group', () => {
    const text = '  sl  local_address                         remote_address                        st\n   0: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A\n   1: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A\n';
    assert.deepEqual(parseProcNet(text, 'tcp'), [
      { protocol: 'tcp', address: '::ffff:7f00:1', port: 8080 },
      { protocol: 'tcp', address: '2001:db8::1', port: 80 },
    ]);
  });

  it("finds a Service in kube-proxy's iptables-save and nft listings by the names kube-proxy gives it", () => {
    const ipt = fs.readFileSync(path.join(repoRoot, 'test/fixtures/iptables-save-kube-proxy.txt'), 'utf8');
    const nft = fs.readFileSync(path.join(repoRoot, 'test/fixtures/nft-kube-proxy.txt'), 'utf8');
    const named = [...ipt.matchAll(/--comment "?([a-z0-9-]+)\/([a-z0-9-]+)[:" ]/g)][0]!;
    assert.ok(namesService(ipt, svc(named[1]!, named[2]!)));
    assert.ok(namesService(nft, svc('default', 'api-service')));
    assert.ok(namesService(nft, svc('ns2', 'svc2')));
    assert.ok(!namesService(nft, svc('default', 'api')), 'a prefix of a name is not the name');
    assert.ok(!namesService(nft, svc('ns2', 'svc')));
    assert.ok(!namesService(ipt, svc('nowhere', 'nothing')));
  });
});
