// This checkout's Node-API addons (build/<name>.node, compiled by scripts/build.js), found from
// src/ or dist/ and loaded once; a missing or unloadable one is a reason, not an exception, so a
// caller can fall back or say what to install.
import { createRequire } from 'node:module';
import { builtFile } from './built.ts';

/** What building each addon takes, for the messages of a missing one. */
export const addonNeeds = {
  sockopt: "a C compiler and Node's headers: apt-get install -y gcc libc6-dev",
  nftctx: "a C compiler and libnftables' headers: apt-get install -y gcc libc6-dev libnftables-dev",
} as const;

const loaded = new Map<string, { addon: unknown } | { error: string }>();

/** build/<name>.node, or why it cannot be had. */
export function loadAddon<T>(name: keyof typeof addonNeeds): { addon: T } | { error: string } {
  const had = loaded.get(name);
  if (had) return had as { addon: T } | { error: string };
  let r: { addon: T } | { error: string } = { error: `build/${name}.node is not built (it needs ${addonNeeds[name]}, then npm run build)` };
  const p = builtFile(`${name}.node`);
  if (p) {
    try {
      r = { addon: createRequire(import.meta.url)(p) as T };
    } catch (e) {
      r = { error: `${p} does not load: ${(e as Error).message} (npm run build rebuilds it)` };
    }
  }
  loaded.set(name, r);
  return r;
}
