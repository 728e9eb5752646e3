// Reading a state file: a multi-document YAML/JSON text of objects (Lists unpacked), as the
// offline commands (`proxy render`, `dns serve -f`) take it. Namespaced objects default to
// "default", as kubectl apply would place them.
import YAML from 'yaml';
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
  const add = (o: KubeObject, where: string) => {
    if (o.kind === 'List' || /List$/.test(String(o.kind))) {
      for (const [i, it] of ((o as unknown as { items?: KubeObject[] }).items ?? []).entries()) add(it, `${where} item ${i}`);
      return;
    }
    if (!o.metadata?.name) throw new StateError(`${where}: ${o.kind ?? 'object'} has no metadata.name`);
    const a = accepted.find((x) => x.kind === o.kind && x.apiVersion === o.apiVersion);
    if (!a) throw new StateError(`${where}: expected ${list}, got ${o.apiVersion ?? '?'} ${o.kind ?? '?'}`);
    out.push(a.namespaced ? ({ ...o, metadata: { namespace: 'default', ...o.metadata } } as KubeObject) : o);
  };
  for (const [i, doc] of YAML.parseAllDocuments(text).entries()) {
    if (doc.errors.length) throw new StateError(`${source} document ${i + 1}: ${doc.errors[0]!.message}`);
    const o = doc.toJS() as KubeObject | null;
    if (o == null) continue;
    if (typeof o !== 'object' || Array.isArray(o)) throw new StateError(`${source} document ${i + 1}: not an object`);
    add(o, `${source} document ${i + 1}`);
  }
  return out;
}
