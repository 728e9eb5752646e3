// `podpath diagnose -o json`: the Diagnosis with its fields in a fixed order, so the schema reads
// the same in every output.
import type { Diagnosis } from './types.ts';

export function diagnosisJSON(d: Diagnosis): string {
  const { target, from, to, mode, source, result, failing, trace, findings } = d;
  const ordered = findings.map(({ check, status, summary, object, evidence, fix }) => ({ check, status, summary, ...(object ? { object } : {}), evidence, ...(fix ? { fix } : {}) }));
  return `${JSON.stringify({ target, from, to, mode, source, result, failing: failing ?? null, trace: trace ?? null, findings: ordered }, null, 2)}\n`;
}
