// `podpath diagnose` as text: one line per check (its status, name and what was found), the
// evidence and the fix indented under it, then the failing hop and the trace's verdict.
import { objectText } from '../trace/objects.ts';
import type { Diagnosis, Status } from './types.ts';

const mark: Record<Status, string> = { ok: 'ok', fail: 'FAIL', warn: 'warn', skipped: 'skip' };

export function diagnosisText(d: Diagnosis): string {
  const out = [`diagnose ${d.target}: from ${d.from} to ${d.to || '-'} (${d.mode} mode, ${d.source})`, ''];
  for (const f of d.findings) {
    out.push(`${mark[f.status].padEnd(4)}  ${f.check.padEnd(16)} ${f.summary}`);
    const pad = ' '.repeat(23);
    if (f.status !== 'ok' || f.check === 'path') for (const e of f.evidence) out.push(`${pad}${e}`);
    if (f.object && f.status === 'fail') out.push(`${pad}object: ${objectText(f.object)}`);
    if (f.fix && (f.status === 'fail' || f.status === 'warn')) out.push(`${pad}fix: ${f.fix}`);
  }
  out.push('');
  out.push(d.failing ? `FAILING at ${d.failing.check}: ${d.failing.summary}` : 'OK: every check passed');
  if (d.trace) out.push(`trace: ${d.trace.verdict.toUpperCase()}: ${d.trace.reason}${d.trace.hop ? ` (hop ${d.trace.hop.step}, ${d.trace.hop.kind} at ${d.trace.hop.where})` : ''}`);
  return `${out.join('\n')}\n`;
}
