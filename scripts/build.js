#!/usr/bin/env node
// Compiles src/ into dist/ (ES modules, one chunk per lazily loaded command) so podpath's
// processes start without a TypeScript loader: faster, and tens of MiB less per process; and
// src/native/sockopt.c into build/sockopt.node (the userspace proxy's transparent sockets); and
// src/images/echo.c into build/echo (the podpath/echo image's program); and writes build/openapi-models.json, the model data the API server's OpenAPI schemas come from.
// Run by `npm ci`/`npm install` (the prepare script); bin/podpath.js falls back to loading the
// TypeScript sources whenever dist/ is missing or older than src/.
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateOpenAPIModels } from './gen-openapi-models.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist');
fs.rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'src/cli/main.ts')],
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  entryNames: 'podpath',
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
// `podpath ui`'s page: its script and stylesheet for the browser, nothing fetched from elsewhere at
// run time (src/ui/assets.ts bundles the same, with the same options, in memory when these are
// missing or older than the page's sources).
await build({
  entryPoints: [path.join(root, 'src/ui/page/main.ts')],
  outdir: path.join(root, 'build/ui'),
  entryNames: 'app',
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
// The Node-API addon: one C file against Node's own headers. Without a compiler podpath still
// works; the userspace proxy then says it cannot keep client addresses.
const headers = [path.resolve(process.execPath, '../../include/node'), '/usr/include/node'].find((d) => fs.existsSync(path.join(d, 'node_api.h')));
fs.mkdirSync(path.join(root, 'build'), { recursive: true });
const cc = headers && spawnSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', `-I${headers}`, '-o', path.join(root, 'build/sockopt.node'), path.join(root, 'src/native/sockopt.c')], { encoding: 'utf8' });
if (!cc || cc.status !== 0) {
  const why = !headers ? "Node's headers (node_api.h) were not found beside this node" : cc.error ? `cc: ${cc.error.message}` : cc.stderr.trim();
  console.warn(`podpath build: build/sockopt.node not built (${why}); the userspace proxy will not keep client addresses. apt-get install -y gcc libc6-dev, then npm run build.`);
}
// The built-in image podpath/echo as a native program (src/images/echo.c): a pod of it holds about
// a MiB instead of a Node process. Without it the node agent runs `podpath image echo`, which
// answers the same.
const echo = spawnSync('cc', ['-O2', '-Wall', '-Werror', '-o', path.join(root, 'build/echo'), path.join(root, 'src/images/echo.c')], { encoding: 'utf8' });
if (echo.status !== 0) {
  console.warn(`podpath build: build/echo not built (${echo.error ? `cc: ${echo.error.message}` : echo.stderr.trim()}); podpath/echo pods run as Node processes. apt-get install -y gcc libc6-dev, then npm run build.`);
}
// Upstream's type descriptions, read from @kubernetes/client-node's declarations with the
// TypeScript compiler (a devDependency): without them the API server serves no OpenAPI schemas.
try {
  await generateOpenAPIModels(root);
} catch (e) {
  console.warn(`podpath build: build/openapi-models.json not written (${e.message}); /openapi/v2 and /openapi/v3 will answer 503. Install the devDependencies (npm ci), then npm run build.`);
}
// Written last: bin/podpath.js trusts dist/ only when this stamp is newer than every source file.
fs.writeFileSync(path.join(out, 'BUILT'), new Date().toISOString());
