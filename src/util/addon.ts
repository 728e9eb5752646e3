// This checkout's Node-API addons (build/<name>.node, compiled by scripts/build.js), found from
// src/ or dist/ and loaded once; a missing or unloadable one is a reason, not an exception, so a
// caller can fall back or say what to install.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const loaded = new Map<string, { addon: unknown } | { error: string }>();

/** build/<name>.node, or why it cannot be had (`needs`: what building it takes, for the message). */
export function loadAddon<T>(name: string, needs: string): { addon: T } | { error: string } {
  const had = loaded.get(name);
  if (had) return had as { addon: T } | { error: string };
  let r: { addon: T } | { error: string } = { error: `build/${name}.node is not built (it needs ${needs}, then npm run build)` };
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (!fs.existsSync(path.join(dir, 'bin/podpath.js'))) continue;
    const p = path.join(dir, `build/${name}.node`);
    if (fs.existsSync(p)) {
      try {
        r = { addon: createRequire(import.meta.url)(p) as T };
      } catch (e) {
        r = { error: `${p} does not load: ${(e as Error).message} (npm run build rebuilds it)` };
      }
    }
    break;
  }
  loaded.set(name, r);
  return r;
}
