// The node agent's container logs: the CRI log format (lines with their time and stream, long
// lines cut into partial entries), reading them as the kubelet's ReadLogs does (tail, since,
// timestamps, limitBytes cut mid-line), which instance a request reads (previous, waiting
// containers), the /containerLogs handler over HTTP, and the log writer on a real process's FIFOs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Pod, PodStatus } from '../../src/api/types.ts';
import { encodeEntries, encodeEntry, formatTimestamp, LineSplitter, LogView, normalizeTimestamp, parseEntry, splitLines, type LogEntry } from '../../src/agent/crilog.ts';
import { logHandler, logInstance, parseLogQuery, renderLines, type LogInstance } from '../../src/agent/logs.ts';
import { createHttpServer } from '../../src/util/httpserver.ts';
import { ContainerLogWriters, rotateLog } from '../../src/agent/logwriter.ts';
import { hostProcesses } from '../../src/agent/processes.ts';
import { tempStateDir } from '../helpers/agent.ts';

const t0 = '2025-01-01T00:00:00.000000000Z';
const t1 = '2025-01-01T00:00:10.500000000Z';
const t2 = '2025-01-01T00:00:20.000000001Z';
const entry = (time: string, stream: 'stdout' | 'stderr', text: string, partial = false): LogEntry => ({ time, stream, partial, content: Buffer.from(text) });
const file = (...es: LogEntry[]) => Buffer.concat(es.map(encodeEntry));
const render = (data: Buffer, o: ConstructorParameters<typeof LogView>[0], tail = -1) => renderLines(splitLines(data).lines, new LogView(o), tail).toString();

describe('CRI log format', () => {
  it('writes a line with its time (9 fractional digits, UTC), stream and tag, and reads it back', () => {
    assert.equal(formatTimestamp(1475713029669794202n), '2016-10-06T00:17:09.669794202Z');
    assert.equal(formatTimestamp(1475713029000000000n), '2016-10-06T00:17:09.000000000Z');
    assert.equal(encodeEntry(entry('2016-10-06T00:17:09.669794202Z', 'stdout', 'hello')).toString(), '2016-10-06T00:17:09.669794202Z stdout F hello\n');
    assert.equal(encodeEntry(entry(t0, 'stderr', 'par', true)).toString(), `${t0} stderr P par\n`);
    assert.deepEqual(parseEntry(Buffer.from('2016-10-06T00:17:09.669794202Z stderr F a b  c')), entry('2016-10-06T00:17:09.669794202Z', 'stderr', 'a b  c'));
    assert.deepEqual(parseEntry(Buffer.from(`${t0} stdout P:x `)), entry(t0, 'stdout', '', true), 'tags are colon-separated; empty content');
    // Go's RFC3339Nano as runtimes write it: trailing zeros trimmed, any zone.
    assert.equal(normalizeTimestamp('2016-10-06T00:17:09.6697942Z'), '2016-10-06T00:17:09.669794200Z');
    assert.equal(normalizeTimestamp('2016-10-06T02:17:09+02:00'), '2016-10-06T00:17:09.000000000Z');
    for (const bad of ['', 'garbage', `${t0} stdin F x`, 'notatime stdout F x', t0]) assert.equal(parseEntry(Buffer.from(bad)), undefined, bad);
  });

  it('cuts output at newlines, a line at the maximum length into partial entries, and ends an unfinished line as a full one', () => {
    const s = new LineSplitter(8);
    assert.deepEqual(s.push(Buffer.from('one\ntw')), [{ content: Buffer.from('one'), partial: false }]);
    assert.deepEqual(s.push(Buffer.from('o\r\n\n')), [{ content: Buffer.from('two\r'), partial: false }, { content: Buffer.from(''), partial: false }]);
    assert.deepEqual(s.push(Buffer.from('0123456789abcdefXY')), [{ content: Buffer.from('01234567'), partial: true }, { content: Buffer.from('89abcdef'), partial: true }]);
    assert.deepEqual(s.push(Buffer.from('Z\nrest')), [{ content: Buffer.from('XYZ'), partial: false }]);
    assert.deepEqual(s.end(), [{ content: Buffer.from('rest'), partial: false }]);
    assert.deepEqual(s.end(), []);
  });

  it('writes a read\'s lines as one buffer of entries of its time and stream, partial ones marked P', () => {
    const s = new LineSplitter(8);
    const pieces = s.push(Buffer.from('a\n\n0123456789\nä z\nrest'));
    assert.equal(encodeEntries(t0, 'stderr', pieces).toString(), `${t0} stderr F a\n${t0} stderr F \n${t0} stderr P 01234567\n${t0} stderr F 89\n${t0} stderr F ä z\n`);
    assert.equal(encodeEntries(t0, 'stdout', []).length, 0);
  });
});

describe('reading a log as the kubelet does', () => {
  const log = file(entry(t0, 'stdout', 'one'), entry(t1, 'stderr', 'two'), entry(t2, 'stdout', 'thr', true), entry(t2, 'stdout', 'ee'));

  it('renders lines in order, both streams; partial entries join into one line', () => {
    assert.equal(render(log, { timestamps: false }), 'one\ntwo\nthree\n');
    assert.equal(render(Buffer.concat([log, Buffer.from('garbage\n'), Buffer.from(`${t2} stdout F unfinished`)]), { timestamps: false }), 'one\ntwo\nthree\n', 'malformed lines skipped; an unfinished last line waits');
  });

  it('tailLines counts the file\'s lines; 0 is nothing', () => {
    assert.equal(render(log, { timestamps: false }, 2), 'thr' + 'ee\n');
    assert.equal(render(log, { timestamps: false }, 3), 'two\nthree\n');
    assert.equal(render(log, { timestamps: false }, 0), '');
    assert.equal(render(log, { timestamps: false }, 99), 'one\ntwo\nthree\n');
  });

  it('since skips older lines; timestamps prefix each line (not a partial line\'s continuation) with 9 digits', () => {
    assert.equal(render(log, { timestamps: false, since: '2025-01-01T00:00:10.000000000Z' }), 'two\nthree\n');
    assert.equal(render(log, { timestamps: false, since: t1 }), 'two\nthree\n', 'a line at the cut-off is kept');
    assert.equal(render(log, { timestamps: false, since: '2025-01-01T00:00:30.000000000Z' }), '');
    assert.equal(render(log, { timestamps: true }), `${t0} one\n${t1} two\n${t2} three\n`);
    assert.equal(render(log, { timestamps: true }, 1), `${t2} ee\n`, 'a tail that starts mid-line starts with a prefix');
  });

  it('limitBytes cuts after the prefix, mid-line', () => {
    assert.equal(render(log, { timestamps: false, limitBytes: 6 }), 'one\ntw');
    assert.equal(render(log, { timestamps: false, limitBytes: 4 }), 'one\n');
    assert.equal(render(log, { timestamps: true, limitBytes: 36 }), `${t0} one\n${t1.slice(0, 1)}`);
    const v = new LogView({ timestamps: false, limitBytes: 2 });
    assert.equal(v.write(entry(t0, 'stdout', 'abc')).toString(), 'ab');
    assert.equal(v.done, true);
    assert.equal(v.write(entry(t0, 'stdout', 'more')).length, 0);
  });

  it('reads the query as the kubelet does: since from now or sinceTime, whichever is later; tail as tailLines', () => {
    const now = Date.parse('2025-01-01T00:01:00Z');
    const q = (s: string) => parseLogQuery(new URLSearchParams(s), now);
    assert.deepEqual(q(''), { follow: false, previous: false, tail: -1, view: { timestamps: false } });
    assert.deepEqual(q('follow=True&previous=1&timestamps=true&tailLines=5&limitBytes=10'), { follow: true, previous: true, tail: 5, view: { timestamps: true, limitBytes: 10 } });
    assert.deepEqual(q('sinceSeconds=30'), { follow: false, previous: false, tail: -1, view: { timestamps: false, since: '2025-01-01T00:00:30.000000000Z' } });
    assert.deepEqual(q('sinceTime=2025-01-01T00:00:45Z'), { follow: false, previous: false, tail: -1, view: { timestamps: false, since: '2025-01-01T00:00:45.000000000Z' } });
    assert.deepEqual(q('tail=3'), { follow: false, previous: false, tail: 3, view: { timestamps: false } });
    assert.deepEqual(q('tail=all&tailLines=3'), { follow: false, previous: false, tail: -1, view: { timestamps: false } });
    assert.deepEqual(q('tailLines=x'), { code: 400, text: '{"message": "Unable to decode query."}' });
    assert.deepEqual(q('tailLines=-1'), { code: 422, text: '{"message": "Invalid request."}' });
    assert.deepEqual(q('limitBytes=0'), { code: 422, text: '{"message": "Invalid request."}' });
    assert.deepEqual(q('sinceSeconds=1&sinceTime=2025-01-01T00:00:45Z'), { code: 422, text: '{"message": "Invalid request."}' });
  });
});

describe('which instance a log request reads', () => {
  const term = { terminated: { exitCode: 1, reason: 'Error' } };
  const st = (state: object, lastState: object = {}): PodStatus => ({ containerStatuses: [{ name: 'app', state, lastState, ready: false, restartCount: 1, image: 'x', imageID: 'x' }] }) as PodStatus;
  const ask = (s: PodStatus | undefined, previous = false, c = 'app') => logInstance('web', s, c, previous);

  it('running, terminated, or waiting to restart: the instance that ran last; previous: the one before', () => {
    assert.deepEqual(ask(st({ running: {} })), { instance: 'current' });
    assert.deepEqual(ask(st(term)), { instance: 'current' });
    assert.deepEqual(ask(st({ waiting: { reason: 'CrashLoopBackOff' } }, term)), { instance: 'current' });
    assert.deepEqual(ask(st({ running: {} }, term), true), { instance: 'previous' });
    assert.deepEqual(ask(st(term, term), true), { instance: 'previous' });
    assert.deepEqual(ask(st({ waiting: { reason: 'CrashLoopBackOff' } }, term), true), { instance: 'current' }, 'waiting: the last terminated one has not been replaced yet');
  });

  it('answers the kubelet\'s texts when there is no such instance', () => {
    assert.deepEqual(ask(st({ running: {} }), true), { error: 'previous terminated container "app" in pod "web" not found' });
    assert.deepEqual(ask(st({ waiting: { reason: 'ContainerCreating' } })), { error: 'container "app" in pod "web" is waiting to start: ContainerCreating' });
    assert.deepEqual(ask(st({ waiting: { reason: 'ErrImagePull' } })), { error: 'container "app" in pod "web" is waiting to start: image can\'t be pulled' });
    assert.deepEqual(ask(st({ waiting: { reason: 'ImagePullBackOff' } })), { error: 'container "app" in pod "web" is waiting to start: trying and failing to pull image' });
    assert.deepEqual(ask(st({})), { error: 'container "app" in pod "web" is waiting to start - no logs yet' });
    assert.deepEqual(ask(undefined), { error: 'container "app" in pod "web" is not available' });
    assert.deepEqual(ask({ initContainerStatuses: st({ running: {} }).containerStatuses } as PodStatus, false), { instance: 'current' }, 'init containers too');
  });
});

function get(port: number, p: string, onData?: (body: string, req: http.ClientRequest) => void): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
        onData?.(body, req);
      });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('close', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
}

describe('node agent log server', () => {
  it('serves /containerLogs with every option, the kubelet\'s errors, and follows while the container writes', async () => {
    const dir = tempStateDir();
    const files: Record<LogInstance, string> = { current: path.join(dir, 'current.log'), previous: path.join(dir, 'previous.log') };
    const now = Date.now();
    const at = (msAgo: number) => formatTimestamp(BigInt(now - msAgo) * 1_000_000n);
    fs.writeFileSync(files.current, file(entry(at(60_000), 'stdout', 'old'), entry(at(1000), 'stderr', 'new')));
    fs.writeFileSync(files.previous, file(entry(at(120_000), 'stdout', 'before the restart')));
    const pod = { metadata: { name: 'web', namespace: 'default', uid: 'u1' }, spec: { containers: [{ name: 'app' }], initContainers: [{ name: 'init' }] } } as Pod;
    let status: PodStatus = { containerStatuses: [{ name: 'app', state: { running: {} }, lastState: { terminated: { exitCode: 1 } }, ready: true, restartCount: 1, image: 'x', imageID: 'x' }] } as PodStatus;
    let writing = true;
    const server = createHttpServer(logHandler({
      log: () => {},
      followIntervalMs: 20,
      pod: (ns, name) => (ns === 'default' && name === 'web' ? { pod, status } : undefined),
      logFile: (uid, c, instance) => (assert.deepEqual([uid, c], ['u1', 'app']), files[instance]),
      writing: () => writing,
    }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const logs = (q = '', c = 'app') => get(port, `/containerLogs/default/web/${c}${q}`);
    try {
      assert.deepEqual(await logs(), { status: 200, body: 'old\nnew\n' });
      assert.deepEqual(await logs('?tailLines=1'), { status: 200, body: 'new\n' });
      assert.deepEqual(await logs('?sinceSeconds=10'), { status: 200, body: 'new\n' });
      assert.deepEqual(await logs(`?sinceTime=${encodeURIComponent(new Date(now - 30_000).toISOString().slice(0, 19) + 'Z')}`), { status: 200, body: 'new\n' });
      assert.deepEqual(await logs('?timestamps=true&tailLines=1'), { status: 200, body: `${at(1000)} new\n` });
      assert.deepEqual(await logs('?limitBytes=5'), { status: 200, body: 'old\nn' });
      assert.deepEqual(await logs('?previous=true'), { status: 200, body: 'before the restart\n' });
      assert.deepEqual(await logs('', 'nope'), { status: 404, body: 'container "nope" not found in pod "web"\n' });
      assert.deepEqual(await get(port, '/containerLogs/default/gone/app'), { status: 404, body: 'pod "gone" does not exist\n' });
      assert.deepEqual(await get(port, '/elsewhere'), { status: 404, body: '404 page not found\n' });
      assert.deepEqual(await logs('', '%E0%A4'), { status: 404, body: '404 page not found\n' }, 'a bad escape is no container, not a crash');
      assert.deepEqual(await logs('?tailLines=-2'), { status: 422, body: '{"message": "Invalid request."}' });
      assert.deepEqual(await logs('', 'init'), { status: 400, body: 'container "init" in pod "web" is not available' });
      // Following: what is appended comes, until the container can write no more.
      const followed = get(port, '/containerLogs/default/web/app?follow=true&tailLines=1', (body) => {
        if (body === 'new\n') fs.appendFileSync(files.current, file(entry(at(0), 'stdout', 'appended')));
        if (body.endsWith('appended\n')) {
          fs.appendFileSync(files.current, file(entry(at(0), 'stdout', 'last words')));
          writing = false;
        }
      });
      assert.deepEqual(await followed, { status: 200, body: 'new\nappended\nlast words\n' });
      writing = true;
      assert.deepEqual(await get(port, '/containerLogs/default/web/app?follow=1&limitBytes=3'), { status: 200, body: 'old' }, 'a spent budget ends a follow');
      assert.deepEqual(await get(port, '/containerLogs/default/web/app?follow=true&previous=true'), { status: 200, body: 'before the restart\n' }, 'a previous instance writes no more');
      status = { containerStatuses: [{ name: 'app', state: { running: {} }, lastState: {}, ready: true, restartCount: 0, image: 'x', imageID: 'x' }] } as PodStatus;
      assert.deepEqual(await logs('?previous=true'), { status: 400, body: 'previous terminated container "app" in pod "web" not found' });
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('container log writer', () => {
  it('copies a real process\'s stdout and stderr into a CRI log, loses nothing of a process that ends at once, and hands output to listeners as it comes', async () => {
    const dir = tempStateDir();
    const procs = hostProcesses();
    const logs: string[] = [];
    const writers = new ContainerLogWriters((s) => logs.push(s));
    const output = { stdout: path.join(dir, 'c.stdout'), stderr: path.join(dir, 'c.stderr') };
    const log = path.join(dir, 'c.log');
    const previous = path.join(dir, 'c.previous.log');
    try {
      const heard: string[] = [];
      const unsubscribe = writers.subscribe('k', (stream, chunk) => heard.push(`${stream}:${chunk}`));
      const run = (script: string) =>
        new Promise<void>((resolve) => {
          // the process is unref'd, as the agent's are (its server keeps it running): this test keeps itself running until the exit is seen
          const alive = setInterval(() => {}, 1000);
          const pid = procs.start(['sh', '-c', script], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, output, readOutput: () => (rotateLog(log, previous), writers.open('k', output, log)) }, () => (clearInterval(alive), resolve()));
          assert.ok(pid);
        });
      const before = Date.now();
      await run('echo out; echo err >&2; printf "no newline"');
      for (let i = 0; writers.active('k') && i < 100; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(writers.active('k'), false, 'the copy ends with the process');
      const lines = fs.readFileSync(log, 'utf8').split('\n');
      assert.equal(lines.pop(), '');
      const parsed = lines.map((l) => parseEntry(Buffer.from(l))!);
      assert.deepEqual(parsed.map((e) => `${e.stream} ${e.partial ? 'P' : 'F'} ${e.content}`).sort(), ['stderr F err', 'stdout F no newline', 'stdout F out'].sort());
      assert.ok(parsed.indexOf(parsed.find((e) => e.content.toString() === 'out')!) < parsed.indexOf(parsed.find((e) => e.content.toString() === 'no newline')!), 'a stream keeps its order');
      for (const e of parsed) assert.ok(Date.parse(e.time) >= before - 1 && Date.parse(e.time) <= Date.now() + 1, e.time);
      assert.deepEqual(heard.join('').length > 0 && heard.some((h) => h.startsWith('stderr:err')), true);
      unsubscribe();
      // The next instance: the log above becomes the previous one.
      await run('echo second');
      for (let i = 0; writers.active('k') && i < 100; i++) await new Promise((r) => setTimeout(r, 20));
      assert.match(fs.readFileSync(log, 'utf8'), /^\S+ stdout F second\n$/);
      assert.match(fs.readFileSync(previous, 'utf8'), /stdout F out\n/);
      assert.deepEqual(logs, []);
    } finally {
      writers.closeAll();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
