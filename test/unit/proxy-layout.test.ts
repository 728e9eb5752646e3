// The layout of src/proxy as upstream's pkg/proxy: what all modes share at the top, one folder
// per mode, and imports that only go down. Read from the sources' import lines.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../helpers/apiserver.ts';

const src = path.join(repoRoot, 'src');
const modeFolders = ['iptables', 'nftables', 'ipvs', 'userspace'];

/** Every .ts file under dir, as a path relative to src/. */
function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.relative(src, path.join(dir, e.name))] : []));
}

/** The files a file imports (static and dynamic, types included), relative to src/. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(src, file), 'utf8');
  const specs = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm)].map((m) => m[1] ?? m[2]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => path.relative(src, path.resolve(path.dirname(path.join(src, file)), s)));
}

const graph = new Map(files(src).map((f) => [f, importsOf(f)]));
const proxyFiles = [...graph.keys()].filter((f) => f.startsWith('proxy/'));
/** The mode folder a file is in, if any. */
const modeOf = (f: string) => modeFolders.find((m) => f.startsWith(`proxy/${m}/`));

describe('src/proxy layout', () => {
  it('has no import cycle between its files', () => {
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, trail: string[]): void => {
      if (state.get(f) === 'done') return;
      assert.notEqual(state.get(f), 'open', `import cycle: ${[...trail.slice(trail.indexOf(f)), f].join(' -> ')}`);
      state.set(f, 'open');
      for (const g of graph.get(f) ?? []) if (g.startsWith('proxy/')) visit(g, [...trail, f]);
      state.set(f, 'done');
    };
    for (const f of proxyFiles) visit(f, []);
  });

  it('keeps each mode to its own folder: no mode folder imports another', () => {
    for (const f of proxyFiles) {
      const m = modeOf(f);
      if (!m) continue;
      for (const g of graph.get(f)!) assert.ok(!modeOf(g) || modeOf(g) === m, `${f} imports ${g}`);
    }
  });

  it('keeps the shared modules below the mode folders: nothing a mode folder imports reaches a mode folder', () => {
    const shared = new Set(proxyFiles.flatMap((f) => (modeOf(f) ? graph.get(f)!.filter((g) => g.startsWith('proxy/') && !modeOf(g)) : [])));
    const reach = (f: string, seen = new Set<string>()): string[] => {
      if (seen.has(f)) return [];
      seen.add(f);
      return (graph.get(f) ?? []).filter((g) => g.startsWith('proxy/')).flatMap((g) => [g, ...reach(g, seen)]);
    };
    for (const f of shared) assert.deepEqual(reach(f).filter((g) => modeOf(g)), [], `${f} is shared by the modes yet reaches a mode folder`);
  });

  it('runs every command through src/exec/exec.ts', () => {
    for (const f of proxyFiles) {
      assert.ok(!graph.get(f)!.includes('exec/netns.ts'), `${f} imports exec/netns.ts`);
      assert.doesNotMatch(fs.readFileSync(path.join(src, f), 'utf8'), /node:child_process/, `${f} spawns processes itself`);
    }
  });

  it('leaves the DNS zone independent of the proxy', () => {
    for (const f of graph.keys()) if (f.startsWith('dns/')) for (const g of graph.get(f)!) assert.ok(!g.startsWith('proxy/'), `${f} imports ${g}`);
  });
});
