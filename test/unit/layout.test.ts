// The source tree's layering (README "Layout"): a folder imports only folders below it, and no
// module imports itself back through others. Read from the code's own import statements.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/** Bottom first; a folder may import its own files and the folders of lower layers only. */
const layers: string[][] = [
  ['util'],
  ['api'],
  ['client', 'exec'],
  ['knftables', 'iptables'],
  ['apiserver', 'controllers', 'scheduler', 'agent', 'cni', 'proxy', 'dns', 'ingress', 'netpol', 'images'],
  ['gateway'],
  ['trace'],
  ['diagnose'],
  ['ui', 'lab'],
  ['cli'],
];
const layerOf = new Map(layers.flatMap((l, i) => l.map((f) => [f, i] as const)));

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import (static, dynamic and type-only) of each module, as absolute paths. */
function importGraph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of sources(src)) {
    const text = fs.readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)].map((m) => path.resolve(path.dirname(f), m[1]!));
    g.set(f, deps);
  }
  return g;
}

const rel = (f: string) => path.relative(src, f);
const top = (f: string) => rel(f).split(path.sep)[0]!;

describe('source layout', () => {
  const g = importGraph();

  it('knows the layer of every folder under src/', () => {
    const folders = new Set([...g.keys()].map(top).filter((t) => !t.endsWith('.ts')));
    assert.deepEqual([...folders].filter((f) => !layerOf.has(f)), []);
  });

  it('imports only downward between folders', () => {
    const bad: string[] = [];
    for (const [f, deps] of g) {
      for (const d of deps) {
        const [a, b] = [top(f), top(d)];
        if (a === b || !layerOf.has(a)) continue;
        if (!(layerOf.get(b)! < layerOf.get(a)!)) bad.push(`${rel(f)} -> ${rel(d)}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('has no import cycle between modules', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const d of g.get(f) ?? []) {
        if (state.get(d) === 'open') cycles.push(stack.slice(stack.indexOf(d)).concat(d).map(rel).join(' -> '));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of g.keys()) if (!state.has(f)) visit(f);
    assert.deepEqual(cycles, []);
  });

  it('has no cycle between the folders inside a component (proxy modes build on proxy/, not on each other)', () => {
    const edges = new Set<string>();
    for (const [f, deps] of g) {
      for (const d of deps) {
        const [a, b] = [path.dirname(rel(f)), path.dirname(rel(d))];
        if (a !== b && top(f) === top(d)) edges.add(`${a} ${b}`);
      }
    }
    const back = [...edges].filter((e) => edges.has(e.split(' ').reverse().join(' ')));
    assert.deepEqual(back, []);
    const modes = ['iptables', 'nftables', 'ipvs', 'userspace'].map((m) => `proxy/${m}`);
    assert.deepEqual([...edges].filter((e) => { const [a, b] = e.split(' '); return modes.includes(a!) && modes.includes(b!); }), []);
  });

  it('runs commands only through src/exec; only the process supervisors spawn long-running children themselves', () => {
    const supervisors = ['agent/processes.ts', 'lab/lab.ts', 'lab/service.ts'];
    const spawning = [...g.keys()].map(rel).filter((f) => !f.startsWith('exec/') && /node:child_process/.test(fs.readFileSync(path.join(src, f), 'utf8')));
    assert.deepEqual(spawning.filter((f) => !supervisors.includes(f)), []);
  });
});
