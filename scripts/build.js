#!/usr/bin/env node
// Compiles src/ into dist/ (ES modules, one chunk per lazily loaded command) so podpath's
// processes start without a TypeScript loader: faster, and tens of MiB less per process. The
// dependencies are bundled in too: resolving and reading a package's dozens of files (yaml has
// 74) cost each of a lab's ten processes 20-40 ms of its start, where one file costs a third of
// that. Left outside are the packages read from their own files at run time (esbuild and its
// binary, tsx, @kubernetes/client-node's models, playwright-core) and ws's optional native
// helpers. Bundled CommonJS code reaches Node's builtins through a `require` each chunk makes
// for itself (the banner), as ES modules have none. It also compiles
// src/native/sockopt.c into build/sockopt.node (the userspace proxy's transparent sockets, the
// port-forward's sockets in pods' namespaces, the LoadBalancer speaker's rtnetlink calls); and
// src/native/nftctx.c into build/nftctx.node (a libnftables context kept open); and
// src/images/echo.c into build/echo (the podpath/echo image's program); and writes
// build/openapi-models.json, the model data the API server's OpenAPI schemas come from; and
// build/model-types.json, the field types the API's decoder reads (src/api/schema.ts).
// Run by `npm ci`/`npm install` (the prepare script); bin/podpath.js falls back to loading the
// TypeScript sources whenever dist/ is missing or older than src/.
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateModelTypes } from './gen-model-types.js';
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
  external: ['esbuild', 'tsx', '@kubernetes/client-node', 'playwright-core', 'bufferutil', 'utf-8-validate'],
  banner: { js: "import { createRequire as __podpathCreateRequire } from 'node:module';\nconst require = __podpathCreateRequire(import.meta.url);" },
  entryNames: 'podpath',
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
// `podpath ui`'s page: its script and stylesheet for the browser, nothing fetched from elsewhere at
// run time. src/ui/assets.ts bundles the same, with the same options (src/ui/page/esbuild.json),
// in memory when these are missing or older than the page's sources.
const pageDir = path.join(root, 'src/ui/page');
const pageOptions = JSON.parse(fs.readFileSync(path.join(pageDir, 'esbuild.json'), 'utf8'));
await build({ ...pageOptions, entryPoints: pageOptions.entryPoints.map((e) => path.join(pageDir, e)), outdir: path.join(root, 'build/ui') });
// The Node-API addons, one C file each against Node's own headers. Without a compiler podpath
// still works: the userspace proxy then says it cannot keep client addresses, and nftables
// transactions go to a new `nft -f -` each instead of one libnftables context kept open.
const headers = [path.resolve(process.execPath, '../../include/node'), '/usr/include/node'].find((d) => fs.existsSync(path.join(d, 'node_api.h')));
fs.mkdirSync(path.join(root, 'build'), { recursive: true });
function addon(name, libs, without) {
  const cc = headers && spawnSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', `-I${headers}`, '-o', path.join(root, `build/${name}.node`), path.join(root, `src/native/${name}.c`), ...libs], { encoding: 'utf8' });
  if (!cc || cc.status !== 0) {
    const why = !headers ? "Node's headers (node_api.h) were not found beside this node" : cc.error ? `cc: ${cc.error.message}` : cc.stderr.trim();
    console.warn(`podpath build: build/${name}.node not built (${why}); ${without}`);
  }
}
addon('sockopt', [], 'the userspace proxy will not keep client addresses, and the LoadBalancer speaker runs ip twice a second. apt-get install -y gcc libc6-dev, then npm run build.');
addon('nftctx', ['-lnftables', '-lpthread'], 'nftables transactions go to a new nft process each (slow partial syncs at thousands of Services). apt-get install -y gcc libc6-dev libnftables-dev, then npm run build.');
// The built-in image podpath/echo as a native program (src/images/echo.c): a pod of it holds about
// a MiB instead of a Node process. Without it the node agent runs `podpath image echo`, which
// answers the same.
const echo = spawnSync('cc', ['-O2', '-Wall', '-Werror', '-o', path.join(root, 'build/echo'), path.join(root, 'src/images/echo.c')], { encoding: 'utf8' });
if (echo.status !== 0) {
  console.warn(`podpath build: build/echo not built (${echo.error ? `cc: ${echo.error.message}` : echo.stderr.trim()}); podpath/echo pods run as Node processes. apt-get install -y gcc libc6-dev, then npm run build.`);
}
// The models' field types (without them every process that decodes objects derives them at
// start, in a child process that imports @kubernetes/client-node's models).
await generateModelTypes(root);
// Upstream's type descriptions, read from @kubernetes/client-node's declarations with the
// TypeScript compiler (a devDependency): without them the API server serves no OpenAPI schemas.
try {
  await generateOpenAPIModels(root);
} catch (e) {
  console.warn(`podpath build: build/openapi-models.json not written (${e.message}); /openapi/v2 and /openapi/v3 will answer 503. Install the devDependencies (npm ci), then npm run build.`);
}
// Written last: bin/podpath.js trusts dist/ only when this stamp is newer than every source file.
fs.writeFileSync(path.join(out, 'BUILT'), new Date().toISOString());
