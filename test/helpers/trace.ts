// What the lab tests of `podpath trace` share: its -o json, and the check that an observation
// left no trace table and no monitor behind in the lab.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { listNetns } from '../../src/exec/netns.ts';
import type { TestLab } from './lab.ts';

/** seed 001's NodePort, answered by the echo app with the pod's name and the client it saw */
export const url = 'http://192.168.49.2:30080/api/v1/whoami';

export interface JsonHop {
  step: number;
  kind: string;
  node?: string;
  rule?: { table: string; chain: string; text: string };
  observed?: boolean;
  note: string;
  /** an observed controller hop that sent on over a connection it had open already */
  reused?: boolean;
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

/** seed 001's NodePort request from the client, traced with --observe: computed and observed agree, and the endpoint is the pod that answered. */
export async function observedNodePort(lab: TestLab, mode: 'iptables' | 'nftables' | 'userspace'): Promise<string> {
  const { code, t, stderr } = traceJson(lab, ['--from', 'client', '--to', url, '--observe']);
  assert.equal(code, 0, `${stderr}\n${JSON.stringify(t.observed?.differences)}`);
  assert.equal(t.mode, mode);
  assert.equal(t.verdict, 'delivered');
  const o = t.observed!;
  assert.equal(o.verdict, 'delivered');
  assert.deepEqual(o.differences, []);
  // every hop the kernel reports was seen, and every rule it reported was computed
  const observable = t.hops.filter((h) => h.observed !== undefined);
  assert.deepEqual(observable.filter((h) => !h.observed).map((h) => h.step), []);
  assert.deepEqual(o.hops.filter((h) => h.kind === 'netfilter' && h.computed === undefined), []);
  // the endpoint is the observed one, and it is the pod the echo app says answered
  assert.ok(o.probe.ok);
  const answer = JSON.parse(o.probe.answer!.replace(/^HTTP 200 /, '')) as { pod: string; podIP: string; client: string };
  assert.equal(t.endpoint?.pod, `default/${answer.pod}`);
  assert.equal(t.endpoint?.ip, answer.podIP);
  assert.equal(o.endpoint?.pod, t.endpoint?.pod);
  // the address and port the pod saw are those of the connection the kernel reported reaching it
  const last = o.hops.filter((h) => h.kind === 'conntrack' || h.kind === 'proxy').at(-1) as unknown as { packet: { after: { src: string; srcPort: number } } };
  assert.equal(answer.client, `${last.packet.after.src}:${last.packet.after.srcPort}`);
  if (mode === 'userspace') {
    // the proxy's own connection is a hop, seen
    assert.deepEqual(observable.map((h) => [h.kind, h.observed]), [['proxy', true], ['deliver', true]]);
  } else {
    assert.ok(observable.filter((h) => h.kind === 'netfilter').length >= 8, JSON.stringify(t.hops));
    const dnat = t.hops.find((h) => h.kind === 'netfilter' && (mode === 'iptables' ? /-j DNAT --to-destination/ : /dnat to/).test(h.rule?.text ?? ''));
    assert.ok(dnat?.rule?.text.includes(`${answer.podIP}:8080`), dnat?.rule?.text);
  }
  assertNothingLeft(lab);
  return answer.pod;
}
