// Reading manifests: multi-document YAML (or JSON) files of Kubernetes objects, as `kubectl
// apply -f` takes them — a directory stands for its .yaml/.yml/.json files in name order, Lists
// are unpacked, empty documents skipped. Every error names the file and the document.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { KubeObject } from './types.ts';

export class ManifestError extends Error {
  readonly code = 'BadManifest';
}

export interface ManifestObject {
  obj: KubeObject;
  /** "FILE document N" (and "item I" inside a List), for messages */
  where: string;
  /** the file it came from */
  file: string;
}

/** The files a list of paths names: each directory's manifests in name order, files as given. */
export function manifestFiles(paths: string[]): string[] {
  return paths.flatMap((f) => (fs.statSync(f).isDirectory() ? fs.readdirSync(f).filter((x) => /\.ya?ml$|\.json$/.test(x)).sort().map((x) => path.join(f, x)) : [f]));
}

/** The objects of one text; `lists` unpacks v1 List (and any *List) into its items. */
export function parseManifests(text: string, source: string, opts: { lists?: boolean } = {}): ManifestObject[] {
  const out: ManifestObject[] = [];
  const add = (o: KubeObject, where: string) => {
    if (opts.lists && (o.kind === 'List' || /List$/.test(String(o.kind)))) {
      for (const [i, it] of ((o as unknown as { items?: KubeObject[] }).items ?? []).entries()) add(it, `${where} item ${i}`);
      return;
    }
    out.push({ obj: o, where, file: source });
  };
  for (const [i, doc] of YAML.parseAllDocuments(text).entries()) {
    const where = `${source} document ${i + 1}`;
    if (doc.errors.length) throw new ManifestError(`${where}: ${doc.errors[0]!.message}`);
    const o = doc.toJS() as unknown;
    if (o == null) continue;
    if (typeof o !== 'object' || Array.isArray(o)) throw new ManifestError(`${where}: not an object`);
    add(o as KubeObject, where);
  }
  return out;
}

/** The objects of every file the paths name ("-" is standard input). */
export function readManifests(paths: string[], opts: { lists?: boolean } = {}): ManifestObject[] {
  return manifestFiles(paths.filter((p) => p !== '-'))
    .concat(paths.includes('-') ? ['-'] : [])
    .flatMap((f) => parseManifests(fs.readFileSync(f === '-' ? 0 : f, 'utf8'), f, opts));
}
