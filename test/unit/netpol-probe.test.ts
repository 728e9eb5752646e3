// `netpol probe`'s pure part: the probe program run for real against listeners on 127.0.0.1
// (answered, refused, no answer), and the observed table set against the model's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { describe, it } from 'node:test';
import { formatProbe, probeArgs, probeMismatches, type ProbeResult } from '../../src/netpol/probe.ts';

function probe(protocol: 'TCP' | 'UDP', targets: string[], ms = 300): Record<string, string> {
  const r = spawnSync(process.execPath, probeArgs(protocol, ms, targets), { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
}

const listen = <T extends net.Server>(s: T) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as net.AddressInfo).port)));

describe('netpol probe: the probe program', () => {
  it('TCP: connected to a listener, refused by a closed port', async () => {
    const server = net.createServer((c) => c.destroy());
    const open = await listen(server);
    const closedServer = net.createServer();
    const closed = await listen(closedServer);
    await new Promise<void>((r) => closedServer.close(() => r()));
    try {
      assert.deepEqual(probe('TCP', [`127.0.0.1:${open}`, `127.0.0.1:${closed}`]), { [`127.0.0.1:${open}`]: 'connected', [`127.0.0.1:${closed}`]: 'refused' });
    } finally {
      server.close();
    }
  });

  it('UDP: connected when answered, timeout when silent', async () => {
    const echo = dgram.createSocket('udp4');
    echo.on('message', (m, r) => echo.send(m, r.port, r.address));
    const silent = dgram.createSocket('udp4');
    const port = (s: dgram.Socket) => new Promise<number>((r) => s.bind(0, '127.0.0.1', () => r(s.address().port)));
    const [a, b] = [await port(echo), await port(silent)];
    try {
      const seen = await new Promise<Record<string, string>>((resolve) => {
        // the echo answers from this process: run the probe without blocking the event loop
        import('node:child_process').then(({ execFile }) =>
          execFile(process.execPath, probeArgs('UDP', 300, [`127.0.0.1:${a}`, `127.0.0.1:${b}`]), { encoding: 'utf8' }, (_e, out) => resolve(JSON.parse(out))),
        );
      });
      assert.deepEqual(seen, { [`127.0.0.1:${a}`]: 'connected', [`127.0.0.1:${b}`]: 'timeout' });
    } finally {
      echo.close();
      silent.close();
    }
  });

  it('refuses SCTP, which Node cannot speak', () => {
    assert.throws(() => probeArgs('SCTP', 100, []), /TCP and UDP/);
  });
});

describe('netpol probe: observed against expected', () => {
  const r: ProbeResult = {
    rows: ['client', 'x/a', 'x/b'],
    cols: ['x/a', 'x/b'],
    observed: [
      ['timeout', 'timeout'],
      ['connected', 'refused'],
      ['timeout', 'connected'],
    ],
    expected: [
      [false, false],
      [true, true],
      [true, true],
    ],
  };

  it('a refusal counts as reached; no answer where the policies allow is a disagreement', () => {
    assert.deepEqual(probeMismatches(r), ['x/b -> x/a: policies say allowed, the probe got no answer']);
  });

  it('prints the observed table, the legend and the disagreements', () => {
    assert.equal(
      formatProbe(r, 80, 'TCP'),
      'from\\to x/a x/b\nclient  X   X\nx/a     .   !\nx/b     X   .\n\n' +
        '80/TCP: . answered, ! refused (reached, nothing listening), X no answer, ? probe failed\n' +
        '1 of 6 probes disagree with the policies:\n  x/b -> x/a: policies say allowed, the probe got no answer\n',
    );
  });
});
