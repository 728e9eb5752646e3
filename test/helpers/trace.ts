// What the lab tests of `podpath trace` share: its -o json, and the check that an observation
// left no trace table and no monitor behind in the lab.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { listNetns } from '../../src/exec/netns.ts';
import type { TestLab } from './lab.ts';

export interface JsonHop {
  step: number;
  kind: string;
  node?: string;
  rule?: { table: string; chain: string; text: string };
  observed?: boolean;
}
export interface JsonTrace {
  verdict: string;
  mode: string;
  endpoint: { pod: string; ip: string; port: number } | null;
  candidates: { pod: string }[];
  hops: JsonHop[];
  observed?: { verdict: string; endpoint: { pod: string } | null; differences: string[]; probe: { ok: boolean; answer?: string }; hops: (JsonHop & { computed?: number })[] };
}

/** Every network namespace of the lab, and what each lists of nftables tables. */
function labTables(lab: TestLab): Map<string, string> {
  const out = new Map<string, string>();
  for (const ns of listNetns().filter((n) => n.startsWith(`pp-${lab.name}-`))) out.set(ns, spawnSync('nsenter', [`--net=/run/netns/${ns}`, 'nft', 'list', 'tables'], { encoding: 'utf8' }).stdout);
  return out;
}

/** Processes running nft monitor or conntrack -E inside the lab's namespaces. */
function labMonitors(lab: TestLab): string[] {
  const out: string[] = [];
  for (const ns of listNetns().filter((n) => n.startsWith(`pp-${lab.name}-`))) {
    for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        if (/nft .*monitor|conntrack -E/.test(cmd)) out.push(`${ns}: ${pid} ${cmd}`);
      } catch {
        // gone
      }
    }
  }
  return out;
}

export function assertNothingLeft(lab: TestLab): void {
  for (const [ns, tables] of labTables(lab)) assert.doesNotMatch(tables, /podpath-trace/, `a trace table is left in ${ns}`);
  assert.deepEqual(labMonitors(lab), []);
}

export function traceJson(lab: TestLab, args: string[]): { code: number; t: JsonTrace; stderr: string } {
  const r = lab.podpath(['trace', ...args, '-o', 'json']);
  assert.ok(r.stdout.startsWith('{'), `podpath trace printed no JSON (${r.code}): ${r.stderr}`);
  return { code: r.code, t: JSON.parse(r.stdout) as JsonTrace, stderr: r.stderr };
}
