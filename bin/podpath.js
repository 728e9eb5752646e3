#!/usr/bin/env node
// The podpath CLI. Runs the compiled dist/ (scripts/build.js, run by `npm ci`) when it is at
// least as new as every file in src/; otherwise loads the TypeScript sources through tsx, so a
// checkout with edits runs without a build step.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 18)) {
  process.stderr.write(`podpath: Node.js >= 20.18 is required (this is ${process.version}). Install Node 20 or newer (nodejs.org or NodeSource).\n`);
  process.exit(1);
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function newestSource(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

function distIsFresh() {
  try {
    return fs.statSync(path.join(root, 'dist/BUILT')).mtimeMs >= newestSource(path.join(root, 'src'));
  } catch {
    return false;
  }
}

if (process.env.PODPATH_FROM_SOURCE !== '1' && distIsFresh()) {
  await import('../dist/podpath.js');
} else {
  const { register } = await import('tsx/esm/api').catch(() => {
    process.stderr.write('podpath: dependencies are missing; run `npm ci` in the podpath checkout first.\n');
    process.exit(1);
  });
  register();
  await import('../src/cli/main.ts');
}
