// DNS test helpers: dig (Debian's dnsutils) as the real client, a fake upstream resolver on
// 127.0.0.1, and `podpath dns serve` as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { decodeQuery, encodeResponse, Rcode, Type, type RR } from '../../src/dns/wire.ts';
import { eventually, podpathBin } from './apiserver.ts';

export interface Dig {
  status: string;
  flags: string[];
  answer: string[][];
  authority: string[][];
  additional: string[][];
  raw: string;
}

/**
 * dig @127.0.0.1 -p PORT ARGS…; sections as whitespace-split record lines. Asynchronous, so a
 * fake upstream in the test's own process keeps answering meanwhile.
 */
export async function dig(port: number, args: string[], server = '127.0.0.1'): Promise<Dig> {
  const raw = await new Promise<string>((resolve) => {
    const child = spawn('dig', [`@${server}`, '-p', String(port), '+time=4', '+tries=1', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => child.kill(), 30_000);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
  const status = /status: (\w+)/.exec(raw)?.[1] ?? `no answer (${raw.trim().split('\n').pop()})`;
  const flags = (/;; flags: ([^;]*);/.exec(raw)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const section = (name: string) => {
    const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(raw);
    return m ? m[1]!.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/)) : [];
  };
  return { status, flags, answer: section('ANSWER'), authority: section('AUTHORITY'), additional: section('ADDITIONAL'), raw };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface FakeUpstream {
  port: number;
  /** questions received, "name TYPE" */
  seen: string[];
  close(): Promise<void>;
}

/**
 * A resolver on 127.0.0.1 answering from `records` (lower-case name → records); `silent`
 * names get no answer at all; other names NXDOMAIN. UDP answers over 512 octets are truncated,
 * TCP gets them whole.
 */
export async function fakeUpstream(records: Record<string, RR[]>, silent: string[] | ((name: string) => boolean) = []): Promise<FakeUpstream> {
  const quiet = typeof silent === 'function' ? silent : (n: string) => silent.includes(n);
  const seen: string[] = [];
  const answer = (msg: Buffer, limit: number): Buffer | undefined => {
    const q = decodeQuery(msg);
    if ('code' in q) return undefined;
    const name = q.question.name.toLowerCase();
    seen.push(`${name} ${q.question.type}`);
    if (quiet(name)) return undefined;
    const rrs = (records[name] ?? []).filter((r) => r.type === q.question.type || r.type === Type.CNAME);
    const soa: RR = { name: 'example.com', type: Type.SOA, ttl: 60, data: { mname: 'ns.example.com', rname: 'h.example.com', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 20 } };
    return encodeResponse({ id: q.id, rd: q.rd, ra: true, aa: true, rcode: records[name] ? Rcode.NOERROR : Rcode.NXDOMAIN, question: q.question, answer: rrs, authority: rrs.length ? [] : [soa], additional: [], ...(q.edns ? { edns: { udpSize: 512, version: 0, do: false } } : {}) }, limit);
  };
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  udp.on('message', (m, r) => {
    const out = answer(m, 512);
    if (out) udp.send(out, r.port, r.address);
  });
  const tcp = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const out = answer(buf.subarray(2, 2 + buf.readUInt16BE(0)), 65535);
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        if (out) s.write(Buffer.concat([Buffer.from([out.length >> 8, out.length & 0xff]), out]));
      }
    });
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
  return {
    port,
    seen,
    close: () => new Promise<void>((r) => {
      udp.close();
      tcp.close(() => r());
    }),
  };
}

export interface ServedDns {
  port: number;
  proc: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

/** Starts `podpath dns serve` and waits until it answers. */
export async function serveDns(args: string[]): Promise<ServedDns> {
  const port = await freePort();
  const proc = spawn(process.execPath, [podpathBin, 'dns', 'serve', '--listen', `127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await gone;
  };
  try {
    await eventually(() => (proc.exitCode !== null ? Promise.reject(new Error(`dns serve exited: ${out}`)) : out.includes('serving')), 20_000, 'the DNS server');
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, proc, log: () => out, stop };
}
