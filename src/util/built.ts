// Files scripts/build.js makes beside the sources (build/echo, build/sockopt.node), found from
// src/ or dist/ of this checkout: the directory holding bin/podpath.js.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** build/NAME of this checkout, if it was built. */
export function builtFile(name: string): string | undefined {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'bin/podpath.js'))) {
      const p = path.join(dir, 'build', name);
      return fs.existsSync(p) ? p : undefined;
    }
  }
  return undefined;
}
