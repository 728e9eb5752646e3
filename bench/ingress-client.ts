// bench/ingress.ts's retrying client: keep-alive GETs (an http.Agent with keepAlive) from
// --connections loops for --duration seconds, printing one JSON line of counts at the end.
// A GET that fails on a reused socket before any byte of a response came (ECONNRESET, "socket
// hang up", EPIPE: the server closed an idle kept-alive connection as the request went out, as
// nginx's old workers do on a reload) is retried once, on a new connection — what an HTTP client
// may do for an idempotent request (RFC 9110 §9.2.2; Go's http.Transport and Node's docs on
// `request.reusedSocket` do the same). Everything else counts as a failure: another error, a
// second failure, a timeout, or a status that is not 2xx/3xx.
//   ip netns exec pp-LAB-c node --import tsx bench/ingress-client.ts --url http://IP/ --host H [--duration 30] [--connections 8] [--no-retry]
import http from 'node:http';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
}
const url = new URL(arg('url', ''));
const host = arg('host', url.host);
const durationMs = Number(arg('duration', '30')) * 1000;
const connections = Number(arg('connections', '8'));
const retry = !process.argv.includes('--no-retry');

const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
const counts = { requests: 0, ok: 0, failed: 0, retried: 0, retriedOk: 0, non2xx3xx: 0, errors: {} as Record<string, number> };

type Outcome = { status: number } | { error: NodeJS.ErrnoException; reused: boolean; gotResponse: boolean };

function get(fresh: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    let gotResponse = false;
    const req = http.request(
      { host: url.hostname, port: url.port || 80, path: url.pathname + url.search, method: 'GET', headers: { Host: host }, agent: fresh ? false : agent, timeout: 5000 },
      (res) => {
        gotResponse = true;
        res.on('data', () => {});
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', (error) => resolve({ error, reused: req.reusedSocket, gotResponse }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error, reused: req.reusedSocket, gotResponse }));
    req.end();
  });
}

const retryable = (o: Outcome) => 'error' in o && o.reused && !o.gotResponse && ['ECONNRESET', 'EPIPE'].includes(o.error.code ?? '');
const key = (o: Outcome) => ('error' in o ? `${o.error.code ?? o.error.message}${o.reused ? ' (reused socket)' : ''}` : `HTTP ${o.status}`);

async function loop(until: number): Promise<void> {
  while (Date.now() < until) {
    counts.requests++;
    let o = await get(false);
    if (retry && retryable(o)) {
      counts.retried++;
      counts.errors[`${key(o)}, retried`] = (counts.errors[`${key(o)}, retried`] ?? 0) + 1;
      o = await get(true);
      if ('status' in o && o.status < 400) counts.retriedOk++;
    }
    if ('status' in o && o.status >= 200 && o.status < 400) counts.ok++;
    else {
      counts.failed++;
      if ('status' in o) counts.non2xx3xx++;
      counts.errors[key(o)] = (counts.errors[key(o)] ?? 0) + 1;
    }
  }
}

const until = Date.now() + durationMs;
await Promise.all(Array.from({ length: connections }, () => loop(until)));
agent.destroy();
console.log(JSON.stringify(counts));
