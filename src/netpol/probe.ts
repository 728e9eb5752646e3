// `podpath netpol probe`, its pure part: the probe each source runs (a small Node program: one
// TCP connect or UDP datagram per target, all at once, each with a deadline), what its answers
// mean, and the observed table set against the model's.
import { formatTable } from './matrix.ts';
import type { Protocol } from './policy.ts';

/** What one probe saw: an answer, a refusal (reached, nothing listening), or nothing in time (dropped). */
export type Outcome = 'connected' | 'refused' | 'timeout' | 'error';

export const outcomeCell: Record<Outcome, string> = { connected: '.', refused: '!', timeout: 'X', error: '?' };

/** Whether the network let the probe through (a refusal came from the destination, so it did). */
export const reached = (o: Outcome) => o === 'connected' || o === 'refused';

/**
 * The probe, run as `node -e probeScript PROTOCOL TIMEOUT_MS IP:PORT...` inside the source's
 * network namespace; it prints one JSON object, target → outcome. Plain JavaScript: it runs
 * without podpath's loader, where only node is certain to exist.
 */
export const probeScript = `
const [proto, ms, ...targets] = process.argv.slice(1);
const out = {};
const done = (t, o) => { if (!(t in out)) out[t] = o; if (Object.keys(out).length === targets.length) { process.stdout.write(JSON.stringify(out)); process.exit(0); } };
for (const t of targets) {
  const i = t.lastIndexOf(':'), host = t.slice(0, i), port = Number(t.slice(i + 1));
  if (proto === 'TCP') {
    const s = require('net').connect({ host, port });
    s.setTimeout(Number(ms), () => { s.destroy(); done(t, 'timeout'); });
    s.on('connect', () => { s.destroy(); done(t, 'connected'); });
    s.on('error', (e) => done(t, e.code === 'ECONNREFUSED' ? 'refused' : 'error'));
  } else {
    const s = require('dgram').createSocket('udp4');
    const timer = setTimeout(() => { s.close(); done(t, 'timeout'); }, Number(ms));
    s.on('message', () => { clearTimeout(timer); s.close(); done(t, 'connected'); });
    s.on('error', (e) => { clearTimeout(timer); try { s.close(); } catch {} done(t, e.code === 'ECONNREFUSED' ? 'refused' : 'error'); });
    s.connect(port, host, () => s.send('probe'));
  }
}
if (!targets.length) { process.stdout.write('{}'); process.exit(0); }
`;

export function probeArgs(protocol: Protocol, timeoutMs: number, targets: string[]): string[] {
  if (protocol === 'SCTP') throw new Error('netpol probe speaks TCP and UDP (Node has no SCTP sockets)');
  return ['-e', probeScript, protocol, String(timeoutMs), ...targets];
}

export interface ProbeResult {
  rows: string[];
  cols: string[];
  observed: Outcome[][];
  expected: boolean[][];
}

/** The pairs where what was seen is not what the policies say. */
export function probeMismatches(r: ProbeResult): string[] {
  const out: string[] = [];
  r.rows.forEach((f, i) =>
    r.cols.forEach((t, j) => {
      const o = r.observed[i]![j]!;
      if (o === 'error' || reached(o) !== r.expected[i]![j]) out.push(`${f} -> ${t}: policies say ${r.expected[i]![j] ? 'allowed' : 'denied'}, the probe ${o === 'error' ? 'failed' : reached(o) ? 'got through' : 'got no answer'}`);
    }),
  );
  return out;
}

/** The observed table (`.` answered, `!` refused, `X` no answer), then the disagreements with the model. */
export function formatProbe(r: ProbeResult, port: number, protocol: Protocol): string {
  const table = formatTable(r.rows, r.cols, r.observed.map((row) => row.map((o) => outcomeCell[o])));
  const bad = probeMismatches(r);
  const total = r.rows.length * r.cols.length;
  const summary = bad.length ? `${bad.length} of ${total} probes disagree with the policies:\n${bad.map((b) => `  ${b}`).join('\n')}\n` : `all ${total} probes agree with the policies\n`;
  return `${table}\n${port}/${protocol}: . answered, ! refused (reached, nothing listening), X no answer, ? probe failed\n${summary}`;
}
