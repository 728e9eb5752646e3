// The page's script and stylesheet: src/ui/page bundled by esbuild for the browser. `npm run
// build` writes them to build/ui/; when that copy is missing or older than the page's sources
// (running from a checkout), they are bundled in memory at start, as bin/podpath.js falls back
// to the sources.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PageAssets {
  js: string;
  css: string;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const pageSourceDir = path.join(root, 'src/ui/page');
export const builtAssetsDir = path.join(root, 'build/ui');

/** esbuild's options for the page, from the file scripts/build.js reads too (entry points relative to the page's folder). */
export function pageBuildOptions(): Record<string, unknown> & { entryPoints: string[] } {
  const o = JSON.parse(fs.readFileSync(path.join(pageSourceDir, 'esbuild.json'), 'utf8')) as Record<string, unknown> & { entryPoints: string[] };
  return { ...o, entryPoints: o.entryPoints.map((e) => path.join(pageSourceDir, e)) };
}

function newestSource(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

export async function loadPageAssets(): Promise<PageAssets> {
  const js = path.join(builtAssetsDir, 'app.js');
  const css = path.join(builtAssetsDir, 'app.css');
  const haveSources = fs.existsSync(pageSourceDir);
  if (fs.existsSync(js) && fs.existsSync(css) && (!haveSources || fs.statSync(js).mtimeMs >= newestSource(pageSourceDir))) {
    return { js: fs.readFileSync(js, 'utf8'), css: fs.readFileSync(css, 'utf8') };
  }
  if (!haveSources) throw new Error(`the page's assets are missing (${js}); run npm run build`);
  const { build } = await import('esbuild');
  const r = await build({ ...pageBuildOptions(), write: false, outdir: builtAssetsDir });
  const out = (ext: string) => r.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? '';
  return { js: out('.js'), css: out('.css') };
}
