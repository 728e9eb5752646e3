// The reachability matrix of the upstream e2e tests ("truth tables"): every pod to every pod on one
// port and protocol, `.` allowed and `X` denied, as `podpath netpol matrix` prints it.
import { podKey, type PolicyModel, type Protocol } from './policy.ts';

export interface Matrix {
  /** "ns/name" of every pod, rows (clients) and columns (servers) alike, sorted */
  pods: string[];
  /** allowed[from][to] */
  allowed: boolean[][];
}

export function reachability(m: PolicyModel, port: number, protocol: Protocol): Matrix {
  const pods = [...m.allPods()].sort((a, b) => (podKey(a) < podKey(b) ? -1 : podKey(a) > podKey(b) ? 1 : 0));
  return {
    pods: pods.map(podKey),
    allowed: pods.map((from) => pods.map((to) => m.evaluate({ from: { pod: from }, to: { pod: to }, port, protocol }).allowed)),
  };
}

/**
 * A table of cells: a header naming the columns, then one line per row. Each column is as wide as
 * its header and left-aligned, columns are separated by one space, and the first column is as
 * wide as the longest row name or `from\\to`. Lines carry no trailing spaces.
 */
export function formatTable(rows: string[], cols: string[], cells: string[][]): string {
  const corner = 'from\\to';
  const first = Math.max(corner.length, ...rows.map((p) => p.length));
  const line = (head: string, cs: string[]) => [head.padEnd(first), ...cs.map((c, i) => c.padEnd(cols[i]!.length))].join(' ').trimEnd();
  return [line(corner, cols), ...rows.map((r, i) => line(r, cells[i]!))].join('\n') + '\n';
}

/** The truth table: `.` allowed, `X` denied, every pod to every pod. */
export function formatMatrix(mx: Matrix): string {
  return formatTable(mx.pods, mx.pods, mx.allowed.map((row) => row.map((a) => (a ? '.' : 'X'))));
}

/** A table in formatMatrix's form read back (for tests and diffs): rows of `.`/`X` per client. */
export function parseMatrix(text: string): Matrix {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const pods = lines[0]!.trim().split(/\s+/).slice(1);
  const allowed = lines.slice(1).map((l) => l.trim().split(/\s+/).slice(1).map((c) => c === '.'));
  return { pods, allowed };
}
