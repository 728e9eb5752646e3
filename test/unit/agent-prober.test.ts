// The node agent's prober: what each probe kind asks (httpGet with kube-probe's headers and
// named ports, tcpSocket, exec in the pod's namespace with its /etc files), how results count
// against successThreshold/failureThreshold, when probes fire (initial delay, period), and what
// readiness and liveness do to a container.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { Container, Pod, Probe } from '../../src/api/types.ts';
import type { RuntimePod } from '../../src/agent/checkpoint.ts';
import { countResult, firstProbeAfterMs, netTransport, Prober, runProbe, type HttpProbeRequest, type ProbeTransport, type ProbeWorker } from '../../src/agent/prober.ts';
import { FakeExecutor } from '../../src/exec/fake.ts';
import { FakeClock, FakeProcesses, pod, settle } from '../helpers/agent.ts';

const rp = (pid: number, startedAtMs: number): RuntimePod => ({ uid: 'u1', namespace: 'default', name: 'web', netns: 'pp-t-pu1', podIP: '10.244.0.5', startTime: '', containers: { main: { pid, startedAtMs, restartCount: 0, state: { running: {} }, ready: false, started: true } } });

/** A transport answering from a script of results, recording what was asked. */
function scripted(results: boolean[]) {
  const asked: (HttpProbeRequest | { tcp: [string | undefined, number, number] })[] = [];
  const next = async () => {
    const ok = results.shift() ?? false;
    return { ok, output: ok ? '' : 'HTTP probe failed with statuscode: 503' };
  };
  const transport: ProbeTransport = {
    httpGet: (r) => (asked.push(r), next()),
    tcpConnect: (host, port, timeoutMs) => (asked.push({ tcp: [host, port, timeoutMs] }), next()),
  };
  return { transport, asked };
}

/** A prober with a fake clock and process table, one running container process, and a scripted transport. */
function proberFor(results: boolean[]) {
  const clock = new FakeClock();
  const events: string[] = [];
  const procs = new FakeProcesses(events);
  const logs: string[] = [];
  const resynced: string[] = [];
  const { transport, asked } = scripted(results);
  const prober = new Prober({ clock, processes: procs, transport, executor: new FakeExecutor(), log: (s) => void logs.push(s), resync: (uid) => void resynced.push(uid) });
  const pid = procs.start(['x'], { env: {}, output: { stdout: '', stderr: '' } }, () => {})!;
  const r = rp(pid, clock.now());
  /** `ms` later, a sync: how many probes have been asked once they finished. */
  const tickAfter = async (p: Pod, ms: number) => {
    clock.advance(ms);
    prober.tick(p, r);
    await settle();
    return asked.length;
  };
  return { clock, procs, events, logs, resynced, asked, prober, pid, r, tickAfter };
}

describe('node agent prober', () => {
  it('asks an httpGet probe at the pod IP and the named port, with kube-probe\'s headers and the probe\'s own', async () => {
    const { transport, asked } = scripted([true]);
    const c: Container = { name: 'main', ports: [{ name: 'http', containerPort: 8080 }] };
    const p: Probe = { httpGet: { path: '/ready', port: 'http', httpHeaders: [{ name: 'X-Probe', value: 'yes' }] }, timeoutSeconds: 2 };
    assert.equal((await runProbe(p, rp(1, 0), c, { transport, executor: new FakeExecutor() })).ok, true);
    assert.deepEqual(asked, [{ host: '10.244.0.5', port: 8080, path: '/ready', headers: { 'User-Agent': 'kube-probe/1.33', Accept: '*/*', 'X-Probe': 'yes' }, timeoutMs: 2000 }]);
  });

  it('asks a tcpSocket probe at its host or the pod IP, with the default 1 s timeout', async () => {
    const { transport, asked } = scripted([true, false]);
    const c: Container = { name: 'main' };
    assert.equal((await runProbe({ tcpSocket: { port: 53 } }, rp(1, 0), c, { transport, executor: new FakeExecutor() })).ok, true);
    assert.equal((await runProbe({ tcpSocket: { port: 53, host: '10.0.0.1' } }, rp(1, 0), c, { transport, executor: new FakeExecutor() })).ok, false);
    assert.deepEqual(asked, [{ tcp: ['10.244.0.5', 53, 1000] }, { tcp: ['10.0.0.1', 53, 1000] }]);
  });

  it('runs an exec probe beside the container\'s process (its namespaces and root); exit 0 is success; no process is a failure', async () => {
    const ex = new FakeExecutor();
    const opts: unknown[] = [];
    let status = 0;
    ex.on('test', (_argv, o) => {
      opts.push(o);
      return { status };
    });
    const probe: Probe = { exec: { command: ['test', '-f', '/tmp/ready'] }, timeoutSeconds: 3 };
    assert.equal((await runProbe(probe, rp(1, 0), { name: 'main' }, { transport: scripted([]).transport, executor: ex })).ok, true);
    status = 1;
    assert.equal((await runProbe(probe, rp(1, 0), { name: 'main' }, { transport: scripted([]).transport, executor: ex })).ok, false);
    assert.deepEqual(ex.callsOf('test'), [['-f', '/tmp/ready'], ['-f', '/tmp/ready']]);
    assert.deepEqual(opts[0], { enter: 1, timeoutMs: 3000 });
    const gone = rp(1, 0);
    delete gone.containers.main!.pid;
    assert.deepEqual(await runProbe(probe, gone, { name: 'main' }, { transport: scripted([]).transport, executor: ex }), { ok: false, output: 'container main is not running' });
    assert.equal(ex.callsOf('test').length, 2, 'nothing run without the container\'s process');
  });

  it('counts results against the thresholds: ready after successThreshold successes, unready or killed after failureThreshold failures in a row', () => {
    const w = (): ProbeWorker => ({ successes: 0, failures: 0, last: 0, running: false });
    const r = w();
    const readiness: Probe = { successThreshold: 2, failureThreshold: 2 };
    assert.deepEqual([true, true, false, false, true, false, true, true].map((ok) => countResult('readiness', readiness, r, ok)), [undefined, 'ready', undefined, 'unready', undefined, undefined, undefined, 'ready']);
    const l = w();
    assert.deepEqual([false, false, true, false, false, false, false].map((ok) => countResult('liveness', {}, l, ok)), [undefined, undefined, undefined, undefined, undefined, 'kill', 'kill'], 'the default failureThreshold is 3, and a success resets it');
  });

  it('fires after the initial delay (never at once), then once a period, and sets the container ready', async () => {
    const { resynced, r, tickAfter } = proberFor([false, true]);
    const p = pod('web', { containers: [{ name: 'main', readinessProbe: { httpGet: { port: 80 }, periodSeconds: 2, successThreshold: 1 } }] });
    assert.equal(await tickAfter(p, 0), 0, 'not in the instant the container started');
    assert.equal(await tickAfter(p, firstProbeAfterMs), 1);
    assert.equal(await tickAfter(p, 0), 1, 'once per period');
    assert.equal(r.containers.main!.ready, false);
    assert.deepEqual(resynced, ['u1']);
    assert.equal(await tickAfter(p, 1999), 1);
    assert.equal(await tickAfter(p, 1), 2);
    assert.equal(r.containers.main!.ready, true);
  });

  it('probes nothing while the container\'s root is still being assembled (its command not yet run), then from when it runs', async () => {
    const { clock, procs, prober, pid, r, asked, tickAfter } = proberFor([true, true]);
    const p = pod('web', { containers: [{ name: 'main', readinessProbe: { httpGet: { port: 80 }, periodSeconds: 10 } }] });
    r.containers.main!.execPending = true;
    assert.equal(await tickAfter(p, 5000), 0, 'no probe finds the port closed before the command runs');
    r.containers.main!.execPending = false;
    r.containers.main!.startedAtMs = clock.now();
    assert.equal(await tickAfter(p, 0), 0, 'not in the instant the command started');
    assert.equal(await tickAfter(p, firstProbeAfterMs), 1);
    assert.equal(r.containers.main!.ready, true);
    // One a previous agent started (adopted, not this table's child) is probed whatever its checkpoint says.
    const adopted: RuntimePod = { ...r, uid: 'u2', containers: { main: { ...r.containers.main!, pid: pid + 100, execPending: true, ready: false } } };
    procs.adopted.add(pid + 100);
    prober.tick(p, adopted);
    await settle();
    assert.equal(asked.length, 2);
  });

  it('waits initialDelaySeconds, starts over when the container restarts, and probes nothing that is not running', async () => {
    const { clock, procs, prober, pid, r, tickAfter } = proberFor([true, true, true]);
    const p = pod('web', { containers: [{ name: 'main', readinessProbe: { tcpSocket: { port: 80 }, initialDelaySeconds: 5 } }] });
    assert.equal(await tickAfter(p, 4999), 0);
    assert.equal(await tickAfter(p, 1), 1);
    prober.forget('u1', 'main');
    r.containers.main!.startedAtMs = clock.now() - 6000;
    assert.equal(await tickAfter(p, 1000), 2, 'a forgotten worker fires without waiting out the period');
    procs.exit(pid, 0);
    assert.equal(await tickAfter(p, 60_000), 2, 'an exited container is not probed');
  });

  it('kills a container whose liveness probe failed failureThreshold times', async () => {
    const { events, logs, pid, tickAfter } = proberFor([false, false]);
    const p = pod('web', { containers: [{ name: 'main', livenessProbe: { httpGet: { port: 80 }, periodSeconds: 1, failureThreshold: 2 } }] });
    await tickAfter(p, 1000);
    await tickAfter(p, 1000);
    assert.deepEqual(events, [`start ${pid}`, `SIGKILL ${pid}`]);
    assert.deepEqual(logs, ['liveness probe failed for default/web container main; restarting']);
  });

  it('really asks over HTTP and TCP: 2xx and 3xx pass, 4xx, 5xx and refused connections fail, in the kubelet\'s words', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(Number(req.url!.slice(1)));
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const get = (code: number) => netTransport.httpGet({ host: '127.0.0.1', port, path: `/${code}`, headers: { 'User-Agent': 'kube-probe/1.33' }, timeoutMs: 1000 });
      assert.deepEqual(await Promise.all([200, 302, 404, 500].map(get)), [
        { ok: true, output: '' },
        { ok: true, output: '' },
        { ok: false, output: 'HTTP probe failed with statuscode: 404' },
        { ok: false, output: 'HTTP probe failed with statuscode: 500' },
      ]);
      assert.equal(seen[0]!['user-agent'], 'kube-probe/1.33');
      assert.equal(seen[0]!.connection, 'close', 'no connection is kept between probes, as the kubelet keeps none');
      assert.equal((await netTransport.tcpConnect('127.0.0.1', port, 1000)).ok, true);
    } finally {
      await new Promise((r) => server.close(r));
    }
    assert.deepEqual(await netTransport.tcpConnect('127.0.0.1', port, 1000), { ok: false, output: `dial tcp 127.0.0.1:${port}: connect: connection refused` });
    assert.deepEqual(await netTransport.httpGet({ host: '127.0.0.1', port, path: '/', headers: {}, timeoutMs: 1000 }), { ok: false, output: `Get "http://127.0.0.1:${port}/": dial tcp 127.0.0.1:${port}: connect: connection refused` });
  });
});
