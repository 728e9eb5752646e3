// Fuzzing the HTTP front door of every podpath server, each a real process: the API server
// (HTTPS), `podpath dns serve`'s /health, /ready and /metrics (the same /metrics code kube-proxy
// serves), and the podpath/echo image. Malformed request lines, targets, headers and bodies, a
// seeded stream of mutated requests, and slow clients; after each, a good request must succeed
// and the process must still be running. Bounded: fixed cases, a fixed count of mutations (seed
// printed for replay), every connection closed within seconds.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, repoRoot, startApiServer, type TestApiServer } from '../helpers/apiserver.ts';
import { freePort, serveDns, type ServedDns } from '../helpers/dns.ts';
import { goodGet, rawExchange } from '../helpers/raw.ts';
import { ProxyHealthServer, ServiceHealthServers } from '../../src/proxy/healthcheck.ts';
import { rng } from '../helpers/rng.ts';

interface Door {
  name: string;
  port: number;
  tls: boolean;
  /** a path that answers 200 */
  good: string;
  proc: () => ChildProcess;
  headers?: Record<string, string>;
}

const badTargets = ['http://a:99999/', 'http://[::1/', 'http://a:b/', 'http://%zz/', 'http://[x]/', 'http://', 'https://a b/', '%', '/%zz', '/%E0%A4%A', '/%', '//x', '*', '/?a=%zz', '/a?%', '/../../etc/passwd', '/' + 'a'.repeat(20_000), 'x:/y', '/\u00ff'];

/** Raw requests no well-behaved client sends: request lines, headers, bodies. */
function malformed(path: string): (string | Buffer)[][] {
  const h = 'Host: 127.0.0.1\r\n';
  return [
    ['GET\r\n\r\n'],
    ['GET / HTTP/9.9\r\n\r\n'],
    ['GARBAGE\r\n\r\n'],
    ['GET  / HTTP/1.1\r\n\r\n'],
    [Buffer.from([0, 1, 2, 3, 13, 10, 13, 10])],
    [`GET /${'a'.repeat(100_000)} HTTP/1.1\r\n${h}\r\n`],
    [`GET ${path} HTTP/1.1\r\nNoColonHere\r\n\r\n`],
    [`GET ${path} HTTP/1.1\r\n${h}Content-Length: -1\r\n\r\n`],
    [`GET ${path} HTTP/1.1\r\n${h}Content-Length: abc\r\n\r\n`],
    [`POST ${path} HTTP/1.1\r\n${h}Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef`],
    [`POST ${path} HTTP/1.1\r\n${h}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`],
    [`POST ${path} HTTP/1.1\r\n${h}Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc`],
    [`POST ${path} HTTP/1.1\r\n${h}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n`],
    [`GET ${path} HTTP/1.1\r\n${h}X-Big: ${'b'.repeat(20_000)}\r\n\r\n`],
    [`GET ${path} HTTP/1.1\r\n${h}${Array.from({ length: 3000 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`],
    [`GET ${path} HTTP/1.1\r\n${h}X-Nul: a\u0000b\r\n\r\n`],
    [`GET ${path} HTTP/1.1\r\n\r\n`],
    [`GET ${path} HTTP/1.1\r\n${h}Expect: 100-continue\r\nContent-Length: 10\r\n\r\n`],
    [`POST ${path} HTTP/1.1\r\n${h}Content-Length: 100000\r\n\r\nshort`],
    [`GET ${path} HTTP/1.1\r\n${h}Content-Length: 4\r\n\r\nbody`],
    [`GET ${path} HTTP/1.1\r\n${h}Connection: upgrade\r\nUpgrade: websocket\r\n\r\n`],
    [`GET ${path} HTTP/1.1\r\n${h}\r\nGET ${path} HTTP/1.1\r\n${h}\r\nBROKEN\r\n\r\n`],
    ...badTargets.map((t) => [`GET ${t} HTTP/1.1\r\n${h}\r\n`]),
  ];
}

/** A good request, mutated: bytes flipped, cut, or control characters put in. */
function mutate(r: () => number, base: string): Buffer {
  const b = Buffer.from(base, 'latin1');
  switch (Math.floor(r() * 4)) {
    case 0:
      for (let i = 0; i < 1 + r() * 4; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      return b;
    case 1:
      return b.subarray(0, Math.floor(r() * b.length));
    case 2: {
      const at = Math.floor(r() * b.length);
      const junk = Buffer.from([[13], [10], [0], [37], [32, 32], [37, 122], [0xff, 0xfe]][Math.floor(r() * 7)]!);
      return Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
    }
    default: {
      const at = Math.floor(r() * b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(r() * 8))]);
    }
  }
}

/** Starts a podpath module's server in a child process, on 127.0.0.1 only. */
function startEchoProcess(port: number): ChildProcess {
  const code = `import('${path.join(repoRoot, 'src/images/echo.ts')}').then((m) => m.startEcho({ port: ${port}, host: '127.0.0.1' }))`;
  return spawn(process.execPath, ['--import', 'tsx', '-e', code], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
}

describe('fuzzing the HTTP front door of every podpath server', () => {
  let api: TestApiServer;
  let dns: ServedDns;
  let echo: ChildProcess;
  // kube-proxy's health servers run here, in the test's own process: a crash fails the file.
  const proxyHealth = new ProxyHealthServer(60_000);
  const serviceHealth = new ServiceHealthServers(() => true, () => {});
  const thisProcess = () => ({ exitCode: null }) as ChildProcess;
  const doors: Door[] = [];
  before(async () => {
    api = await startApiServer();
    const [health, ready, metrics, echoPort, proxyHealthz, hcNodePort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
    proxyHealth.listen('127.0.0.1', proxyHealthz, () => {});
    serviceHealth.sync([{ namespace: 'default', name: 'lb', port: hcNodePort, localEndpoints: 1 }]);
    dns = await serveDns(['-f', path.join(repoRoot, 'examples/dns/cluster-state.yaml'), '--health-addr', `127.0.0.1:${health}`, '--ready-addr', `127.0.0.1:${ready}`, '--metrics-addr', `127.0.0.1:${metrics}`]);
    echo = startEchoProcess(echoPort);
    await eventually(async () => (await goodGet(echoPort, '/health')).status === 200, 20_000, 'the echo image');
    doors.push(
      { name: 'apiserver', port: api.port, tls: true, good: '/api/v1/namespaces', proc: () => api.child, headers: { Authorization: `Bearer ${api.token}` } },
      { name: 'dns /health', port: health, tls: false, good: '/health', proc: () => dns.proc },
      { name: 'dns /ready', port: ready, tls: false, good: '/ready', proc: () => dns.proc },
      { name: 'dns /metrics', port: metrics, tls: false, good: '/metrics', proc: () => dns.proc },
      { name: 'echo', port: echoPort, tls: false, good: '/api/v1/x', proc: () => echo },
      { name: 'kube-proxy /livez', port: proxyHealthz, tls: false, good: '/livez', proc: thisProcess },
      { name: 'kube-proxy healthCheckNodePort', port: hcNodePort, tls: false, good: '/', proc: thisProcess },
    );
  });
  after(async () => {
    proxyHealth.close();
    serviceHealth.close();
    if (echo && echo.exitCode === null) {
      const gone = new Promise((r) => echo.once('exit', r));
      echo.kill('SIGTERM');
      await gone;
    }
    await dns?.stop();
    await api?.dispose();
  });

  async function stillServes(d: Door, after: string): Promise<void> {
    const r = await goodGet(d.port, d.good, d.tls, d.headers);
    assert.equal(r.status, 200, `${d.name} after ${after}: ${r.text.slice(0, 300)}`);
    assert.equal(d.proc().exitCode, null, `${d.name} exited after ${after}`);
  }

  it('answers malformed request lines, targets, headers and bodies without falling over', async () => {
    await Promise.all(
      doors.map(async (d) => {
        for (const chunks of malformed(d.good)) {
          const r = await rawExchange({ port: d.port, tls: d.tls, chunks, timeoutMs: 1500, untilStatus: true });
          const what = JSON.stringify(chunks.map(String).join('').slice(0, 80));
          assert.ok(r.status === 0 || r.status < 500 || r.status === 503, `${d.name}: ${what} got ${r.status}`);
          await stillServes(d, what);
        }
      }),
    );
  });

  it('survives a seeded stream of mutated requests', async () => {
    const seed = Number(process.env.PODPATH_FUZZ_SEED ?? 20261206);
    const r = rng(seed);
    // The mutations are drawn up front, so the doors can be fuzzed side by side and a seed still replays.
    const plans = doors.map((d) => {
      const auth = d.headers ? Object.entries(d.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') : '';
      const base = `GET ${d.good}?a=b HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Accept: */*\r\nConnection: close\r\n\r\n`;
      return { d, pkts: Array.from({ length: 100 }, () => mutate(r, base)) };
    });
    await Promise.all(
      plans.map(async ({ d, pkts }) => {
        for (const [i, pkt] of pkts.entries()) {
          const res = await rawExchange({ port: d.port, tls: d.tls, chunks: [pkt], timeoutMs: 300, untilStatus: true });
          assert.ok(res.status !== 500, `${d.name}, seed ${seed}, case ${i}: ${JSON.stringify(pkt.toString('latin1'))} got 500`);
          if (i % 10 === 9) await stillServes(d, `mutation ${i} (seed ${seed})`);
        }
        await stillServes(d, `100 mutations (seed ${seed})`);
      }),
    );
  });

  it('serves others while clients dribble headers or bodies, and cuts the dribblers off', async () => {
    await Promise.all(
      doors.map(async (d) => {
        const auth = d.headers ? Object.entries(d.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') : '';
        // 20 connections: half dribble a header line a second, half a body byte a second.
        const slow = Array.from({ length: 20 }, (_, i) =>
          rawExchange({
            port: d.port,
            tls: d.tls,
            chunks:
              i % 2
                ? ['GET ', `${d.good} HTTP/1.1\r\n`, ...Array.from({ length: 60 }, (_, j) => `X-${j}: y\r\n`)]
                : [`POST ${d.good} HTTP/1.1\r\nHost: a\r\n${auth}Content-Length: 100\r\n\r\n`, ...Array.from({ length: 60 }, () => 'x')],
            gapMs: 1000,
            timeoutMs: 70_000,
          }),
        );
        for (let i = 0; i < 3; i++) await stillServes(d, 'slow clients connected');
        const done = await Promise.all(slow);
        // Header dribblers go at the headers timeout (32 s apiserver, 10 s others); body dribblers
        // at the request timeout (60 s, 30 s) or earlier, when the server answers without the body.
        const open = done.filter((x) => x.ended === 'open').length;
        assert.equal(open, 0, `${d.name}: ${open} slow connections were still open after 70 s`);
        await stillServes(d, 'slow clients');
      }),
    );
  });
});
