// The probe `--observe` sends: one connection of the traced kind from a fixed source port, made in
// the source's network namespace. An http(s) URL gets one GET from curl (no keep-alive); HOST:PORT
// over TCP a connect and a moment's read, and over UDP one datagram and its answer, from a small
// Node program (node is there wherever podpath runs; curl cannot send one datagram and wait for
// its answer). The program It prints one JSON line: ok, error, the time from opening the connection to the
// answer's end (to the connect for a bare TCP port; the program's own start-up left out), the
// peer's address (a name's resolution) and the answer's start.
import type { Packet, ProbeResult, Protocol } from './types.ts';

const script = String.raw`
const [proto, host, port, localPort, url, ca] = process.argv.slice(1);
let t0 = process.hrtime.bigint();
const start = () => { t0 = process.hrtime.bigint(); };
const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
const done = (o) => { process.stdout.write(JSON.stringify({ timeMs: ms(), ...o }) + '\n'); process.exit(0); };
setTimeout(() => done({ ok: false, error: 'no answer within 5 s' }), 5000).unref();
if (proto === 'udp') {
  const s = require('dgram').createSocket('udp4');
  s.on('error', (e) => done({ ok: false, error: e.message }));
  s.on('message', (m, r) => done({ ok: true, remote: r.address + ':' + r.port, answer: String(m).slice(0, 500) }));
  s.bind(Number(localPort), () => { start(); s.send('podpath trace probe', Number(port), host); });
} else if (url) {
  const u = new URL(url);
  const mod = require(u.protocol === 'https:' ? 'https' : 'http');
  const opts = { method: 'GET', localPort: Number(localPort), agent: false, headers: { Connection: 'close' }, ...(ca ? { ca: require('fs').readFileSync(ca) } : {}) };
  let remote;
  start();
  const req = mod.request(u, opts, (res) => {
    let body = '';
    res.on('data', (d) => { if (body.length < 500) body += d; });
    res.on('end', () => done({ ok: true, remote, answer: ('HTTP ' + res.statusCode + ' ' + body).slice(0, 500) }));
  });
  req.on('socket', (s) => s.on('connect', () => { remote = s.remoteAddress + ':' + s.remotePort; }));
  req.on('error', (e) => done({ ok: false, remote, error: e.message }));
  req.end();
} else {
  start();
  const s = require('net').connect({ host, port: Number(port), localPort: Number(localPort) });
  let data = '';
  // the peer read at connect: a destroyed socket no longer has it
  s.on('connect', () => { const connected = ms(); const remote = s.remoteAddress + ':' + s.remotePort; setTimeout(() => { s.destroy(); done({ ok: true, timeMs: connected, remote, ...(data ? { answer: data.slice(0, 500) } : {}) }); }, 200); });
  s.on('data', (d) => { data += d; });
  s.on('error', (e) => done({ ok: false, error: e.message }));
}
`;

export interface ProbeRequest {
  protocol: Protocol;
  /** the name or address connected to */
  host: string;
  port: number;
  srcPort: number;
  /** an http(s) URL: one GET */
  url?: string;
  /** a CA file the URL's certificate is checked against */
  ca?: string;
}

/** What curl writes after the body (-w): status, the peer, and its total time in seconds. */
const curlMark = '\n--podpath-probe ';

/** The probe's command line: curl for a URL, else the Node binary running podpath. */
export function probeArgv(r: ProbeRequest, node: string = process.execPath): string[] {
  if (r.url && r.protocol === 'tcp') {
    return ['curl', '-sS', '--max-time', '5', '--local-port', String(r.srcPort), '-H', 'Connection: close', ...(r.ca ? ['--cacert', r.ca] : []), '-o', '-', '-w', `${curlMark}%{http_code} %{remote_ip} %{remote_port} %{time_total}`, r.url];
  }
  return [node, '-e', script, r.protocol, r.host, String(r.port), String(r.srcPort), r.url ?? '', r.ca ?? ''];
}

/** The probe's report, or a failed one saying what it printed. */
export function parseProbe(stdout: string, stderr: string): ProbeResult {
  const at = stdout.lastIndexOf(curlMark);
  if (at >= 0) {
    const [code, ip, port, total] = stdout.slice(at + curlMark.length).trim().split(' ');
    const body = stdout.slice(0, at);
    const ok = code !== undefined && code !== '000';
    const error = stderr.trim().split('\n').at(-1);
    return { ok, timeMs: Number(total) * 1000, ...(ip ? { remote: `${ip}:${port}` } : {}), ...(ok ? { answer: `HTTP ${code} ${body}`.slice(0, 500) } : { error: error || `curl answered ${code}` }) };
  }
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    const o = JSON.parse(line) as ProbeResult;
    if (typeof o.ok === 'boolean' && typeof o.timeMs === 'number') return o;
  } catch {
    // below
  }
  return { ok: false, timeMs: 0, error: (stderr || stdout).trim().split('\n').at(-1) || 'the probe printed nothing' };
}

/** The probe's first packet as its source sends it. */
export const probeTuple = (src: string, r: ProbeRequest, dst: string): Packet => ({ protocol: r.protocol, src, srcPort: r.srcPort, dst, dstPort: r.port });
