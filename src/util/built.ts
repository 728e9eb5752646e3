// Files scripts/build.js makes beside the sources (build/echo, build/sockopt.node,
// build/model-types.json), found from src/ or dist/ of this checkout: the directory holding
// bin/podpath.js.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root: the nearest folder above this module holding bin/podpath.js (src/ and dist/ alike). */
export function checkoutRoot(): string | undefined {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'bin/podpath.js'))) return dir;
  }
  return undefined;
}

/** build/NAME of this checkout, if it was built. */
export function builtFile(name: string): string | undefined {
  const root = checkoutRoot();
  if (!root) return undefined;
  const p = path.join(root, 'build', name);
  return fs.existsSync(p) ? p : undefined;
}
