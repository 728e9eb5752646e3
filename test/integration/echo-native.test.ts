// The podpath/echo image's native program (build/echo) answers as `podpath image echo` does:
// the same status lines, headers, bodies and connection handling for ordinary requests and for
// the ones Node's parser and the front door refuse, the same /metrics counts, UDP answers,
// access log and exit status — compared byte for byte, the Date header, uptimes, client ports
// and timestamps aside.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { before, describe, it } from 'node:test';
import { builtFile } from '../../src/util/built.ts';
import { podpathBin } from '../helpers/apiserver.ts';
import { freePort } from '../helpers/dns.ts';

const requests = [
  'GET /health HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /api/v1/hello?x=1 HTTP/1.1\r\nHost: h:1\r\nUser-Agent: curl/8\r\n\r\n',
  'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n',
  'HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n',
  'POST /api/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /health HTTP/1.1\r\nHost: y\r\nConnection: close\r\n\r\n',
  'POST /api/v1/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /api/v1/after HTTP/1.1\r\nHost: z\r\n\r\n',
  'GET /health HTTP/1.0\r\n\r\n',
  'GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /a%2 HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET http://example.com/api/v1/abs?q=1 HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET http://example.com HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET foo HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /health HTTP/1.1\r\n\r\n',
  'BREW /health HTTP/1.1\r\nHost: x\r\n\r\n',
  'POST /api/v1/e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi',
  'GET /caf\xe9 HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /api/v1/h HTTP/1.1\r\nHost: h\xe9\r\n\r\n',
  `GET /x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`,
  'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /api/v1/a"b\\c HTTP/1.1\r\nHost: x\r\n\r\n',
  'PATCH /api/v1 HTTP/1.1\r\nhost: lower\r\nUser-Agent: kube-probe/1.31\r\n\r\n',
  'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/p HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /health HTTP/2.0\r\nHost: x\r\n\r\n',
  'GET /health HTTP/1.1\nHost: x\n\n',
  'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n',
];

/** What comes back on a fresh connection within 400 ms, and whether the server closed it. */
function exchange(port: number, data: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (out = Buffer.concat([out, d])));
    const t = setTimeout(() => {
      s.destroy();
      resolve(`${out.toString('latin1')}<open>`);
    }, 400);
    s.on('close', () => {
      clearTimeout(t);
      resolve(`${out.toString('latin1')}<closed>`);
    });
    s.on('error', () => {});
    s.write(Buffer.from(data, 'latin1'));
  });
}

function udpExchange(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      sock.close();
      reject(new Error('no UDP answer'));
    }, 2000);
    sock.on('message', (m) => {
      clearTimeout(t);
      sock.close();
      resolve(m.toString());
    });
    sock.send('x', port, '127.0.0.1');
  });
}

const normalize = (t: string) =>
  t
    .replace(/Date: [^\r]+/g, 'Date: D')
    .replace(/"uptime":"\d+s"/g, '"uptime":"Ns"')
    .replace(/process_uptime_seconds \d+\.\d{3}/, 'process_uptime_seconds N')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:P')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, 'TS')
    .replace(/listening on :\d+/g, 'listening on :X');

interface Run {
  answers: string[];
  log: string;
  exit: string;
}

async function exercise(argv: string[]): Promise<Run> {
  const port = await freePort();
  const child: ChildProcess = spawn(argv[0]!, [...argv.slice(1), '--port', String(port), '--udp-port', String(port), '--message', 'hé "q"'], { env: { ...process.env, POD_NAME: 'pod-a', NODE_NAME: 'n1' } });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 300 && !log.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
  const answers: string[] = [];
  for (const r of requests) answers.push(normalize(await exchange(port, r)));
  answers.push(normalize(await udpExchange(port)));
  const exited = new Promise<string>((r) => child.on('exit', (code, signal) => r(`${code} ${signal}`)));
  child.kill('SIGTERM');
  return { answers, log: normalize(log), exit: await exited };
}

const native = builtFile('echo');

describe('podpath/echo native program', { skip: native ? false : 'build/echo is not built (npm run build with a C compiler)' }, () => {
  let node: Run;
  let c: Run;
  before(async () => {
    [node, c] = await Promise.all([exercise([process.execPath, podpathBin, 'image', 'echo']), exercise([native!])]);
  });

  it('answers every request as the Node implementation does', () => {
    for (const [i, r] of requests.entries()) assert.equal(c.answers[i], node.answers[i], `request ${JSON.stringify(r.slice(0, 60))}`);
    assert.match(node.answers[1]!, /^HTTP\/1\.1 200 OK\r\n.*"client":"127\.0\.0\.1:P","method":"GET","path":"\/api\/v1\/hello","host":"h:1","message":"hÃ© \\"q\\""}<open>$/s, "the message's UTF-8, read here as Latin-1");
  });

  it('answers UDP datagrams alike', () => {
    assert.equal(c.answers.at(-1), node.answers.at(-1));
    assert.equal(c.answers.at(-1), '{"pod":"pod-a","podIP":"","client":"127.0.0.1:P"}');
  });

  it('logs the same lines and exits 0 on SIGTERM', () => {
    assert.equal(c.log, node.log);
    assert.match(c.log, /^TS listening on :X\nTS 127\.0\.0\.1:P GET \/health 200\n/);
    assert.ok(!c.log.includes('PATCH'), 'kubelet probes are not logged');
    assert.equal(c.exit, '0 null');
    assert.equal(node.exit, '0 null');
  });
});
