// Reading a state file: a multi-document YAML/JSON text of objects (Lists unpacked), as the
// offline commands (`proxy render`, `dns serve -f`) take it. Namespaced objects default to
// "default", as kubectl apply would place them.
import fs from 'node:fs';
import { ManifestError, manifestFiles, parseManifests } from './manifest.ts';
import type { KubeObject } from './types.ts';

export class StateError extends Error {
  readonly code = 'BadState';
}


export interface Accepted {
  apiVersion: string;
  kind: string;
  namespaced: boolean;
}

export function readObjects(text: string, source: string, accepted: Accepted[]): KubeObject[] {
  const out: KubeObject[] = [];
  const expected = accepted.map((a) => `${a.apiVersion} ${a.kind}`);
  const list = expected.length > 1 ? `${expected.slice(0, -1).join(', ')} or ${expected.at(-1)}` : expected[0];
  let docs;
  try {
    docs = parseManifests(text, source, { lists: true });
  } catch (e) {
    throw e instanceof ManifestError ? new StateError(e.message) : e;
  }
  for (const { obj: o, where } of docs) {
    if (!o.metadata?.name) throw new StateError(`${where}: ${o.kind ?? 'object'} has no metadata.name`);
    const a = accepted.find((x) => x.kind === o.kind && x.apiVersion === o.apiVersion);
    if (!a) throw new StateError(`${where}: expected ${list}, got ${o.apiVersion ?? '?'} ${o.kind ?? '?'}`);
    out.push(a.namespaced ? ({ ...o, metadata: { namespace: 'default', ...o.metadata } } as KubeObject) : o);
  }
  return out;
}

/** Files as given, a directory standing for its manifests (as `kubectl apply -f DIR`); "-" is stdin. */
function expandFiles(files: string[]): string[] {
  return files.flatMap((f) => {
    if (f === '-') return [f];
    try {
      return manifestFiles([f]);
    } catch {
      return [f]; // reading it names the problem
    }
  });
}

/** The objects of state files or directories; a file that cannot be read, or holds another kind, is a StateError naming it. */
export function readStateFiles(files: string[], accepted: Accepted[]): KubeObject[] {
  const out: KubeObject[] = [];
  for (const f of expandFiles(files)) {
    let text: string;
    try {
      text = fs.readFileSync(f === '-' ? 0 : f, 'utf8');
    } catch (e) {
      throw new StateError(`cannot read ${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    out.push(...readObjects(text, f, accepted));
  }
  return out;
}
