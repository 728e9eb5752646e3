// Issue 14, DNS over TCP: slow or idle clients must not lock others out. A thousand
// connections (the cap) that each dribble a byte a second are cut at the read deadline, and a
// new client is answered meanwhile, taking the place of the one that waited longest.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readState } from '../../src/dns/dns.ts';
import { DnsMetrics, DnsServer } from '../../src/dns/server.ts';
import { decodeMessage, encodeQuery } from '../../src/dns/wire.ts';
import { buildIndex } from '../../src/dns/zone.ts';
import { repoRoot, sleep } from '../helpers/apiserver.ts';

/** One query over a new TCP connection; the rcode, or an error naming why none came. */
function tcpQuery(port: number, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const q = encodeQuery(7, { name, type: 1, class: 1 });
    const head = Buffer.alloc(2);
    head.writeUInt16BE(q.length);
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('no answer within 5 s'));
    }, 5000);
    s.on('connect', () => s.write(Buffer.concat([head, q])));
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        clearTimeout(timer);
        s.destroy();
        resolve(decodeMessage(got.subarray(2)).rcode);
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      reject(new Error('closed without an answer'));
    });
  });
}

describe('DNS over TCP under slow clients', () => {
  let server: DnsServer;
  const slow: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  before(async () => {
    const zone = { zone: 'cluster.local', pods: 'insecure' as const, ttl: 5 };
    const ix = buildIndex(readState([path.join(repoRoot, 'examples/dns/cluster-state.yaml')]), zone, 1);
    server = new DnsServer({ listen: { host: '127.0.0.1', port: 0 }, zone, index: () => ix, metrics: new DnsMetrics('dns://:53'), log: () => {} });
    await server.start();
  });
  after(async () => {
    for (const t of timers) clearInterval(t);
    for (const s of slow) s.destroy();
    await server.close();
  });

  it('answers a new client while the connection cap is held by clients sending a byte a second', async () => {
    const port = server.address.port;
    const closedAt: number[] = [];
    const t0 = Date.now();
    await Promise.all(
      Array.from(
        { length: 1000 },
        () =>
          new Promise<void>((resolve) => {
            const s = net.connect({ port, host: '127.0.0.1' }, () => resolve());
            s.on('error', () => resolve());
            s.on('close', () => closedAt.push(Date.now() - t0));
            slow.push(s);
            // A frame announcing 300 bytes that come one a second (at most 12 of them).
            let sent = 0;
            const t = setInterval(() => {
              if (s.destroyed || sent++ >= 12) return clearInterval(t);
              s.write(sent === 1 ? Buffer.from([0x01]) : Buffer.from([0x2c]));
            }, 1000);
            timers.push(t);
          }),
      ),
    );
    await sleep(1500);
    assert.equal(await tcpQuery(port, 'kubernetes.default.svc.cluster.local'), 0, 'NOERROR for a new client');
    // The slow connections are cut at the read deadline (5 s), not kept while they dribble.
    await sleep(6000);
    assert.ok(closedAt.length >= 990, `only ${closedAt.length} of 1000 slow connections were closed after ${Date.now() - t0} ms`);
    assert.equal(await tcpQuery(port, 'kubernetes.default.svc.cluster.local'), 0);
  });
});
