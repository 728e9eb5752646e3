// Field selectors (`metadata.name=web,status.phase!=Running`) and the fields each kind
// offers to them, as upstream's field-label conversion functions define.
import { goQuote } from './errors.ts';
import type { KubeObject } from './types.ts';

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

export class FieldSelectorError extends Error {}

/** fields.ParseSelector: terms joined by commas, with `=`, `==` or `!=`; `\` escapes. */
export function parseFieldSelector(s: string): FieldRequirement[] {
  const out: FieldRequirement[] = [];
  if (s.trim() === '') return out;
  for (const term of splitTerms(s)) {
    const m = /^(.*?)(==|!=|=)(.*)$/s.exec(term);
    if (!m) throw new FieldSelectorError(`invalid selector: '${s}'; can't understand '${term}'`);
    out.push({ field: m[1]!.trim(), op: m[2] === '!=' ? '!=' : '=', value: unescape(m[3]!) });
  }
  return out;
}

function splitTerms(s: string): string[] {
  const terms: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[++i];
    } else if (c === ',') {
      terms.push(cur);
      cur = '';
    } else cur += c;
  }
  terms.push(cur);
  return terms;
}

function unescape(v: string): string {
  return v.replace(/\\(.)/g, '$1');
}

type Getter = (o: KubeObject) => string | undefined;

const get = (o: unknown, path: string): unknown => {
  let cur: unknown = o;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
};

const str = (path: string): Getter => (o) => {
  const v = get(o, path);
  return v === undefined || v === null ? '' : String(v);
};

const boolStr = (path: string): Getter => (o) => String(Boolean(get(o, path)));

const objectMetaFields: Record<string, Getter> = {
  'metadata.name': str('metadata.name'),
  'metadata.namespace': str('metadata.namespace'),
};

/** Extra selectable fields per resource (pkg/registry/<resource>/strategy.go *ToSelectableFields). */
const extraFields: Record<string, Record<string, Getter>> = {
  pods: {
    'spec.nodeName': str('spec.nodeName'),
    'spec.restartPolicy': str('spec.restartPolicy'),
    'spec.schedulerName': str('spec.schedulerName'),
    'spec.serviceAccountName': str('spec.serviceAccountName'),
    'spec.hostNetwork': boolStr('spec.hostNetwork'),
    'status.phase': str('status.phase'),
    'status.podIP': (o) => String(((o.status as { podIPs?: { ip: string }[] } | undefined)?.podIPs ?? [])[0]?.ip ?? ''),
    'status.nominatedNodeName': str('status.nominatedNodeName'),
  },
  events: {
    'involvedObject.kind': str('involvedObject.kind'),
    'involvedObject.namespace': str('involvedObject.namespace'),
    'involvedObject.name': str('involvedObject.name'),
    'involvedObject.uid': str('involvedObject.uid'),
    'involvedObject.apiVersion': str('involvedObject.apiVersion'),
    'involvedObject.resourceVersion': str('involvedObject.resourceVersion'),
    'involvedObject.fieldPath': str('involvedObject.fieldPath'),
    reason: str('reason'),
    reportingComponent: str('reportingComponent'),
    source: (o) => String(get(o, 'source.component') ?? '') || String(get(o, 'reportingComponent') ?? ''),
    type: str('type'),
  },
  secrets: { type: str('type') },
  jobs: { 'status.successful': (o) => String(get(o, 'status.succeeded') ?? 0) },
  nodes: { 'spec.unschedulable': boolStr('spec.unschedulable') },
  namespaces: { 'status.phase': str('status.phase') },
  replicasets: { 'status.replicas': (o) => String(get(o, 'status.replicas') ?? 0) },
  services: { 'spec.clusterIP': str('spec.clusterIP'), 'spec.type': str('spec.type') },
};

export function selectableFields(resource: string): Record<string, Getter> {
  return { ...objectMetaFields, ...(extraFields[resource] ?? {}) };
}

/** Checks every field is selectable on this resource; the message is upstream's. */
export function checkFieldSelector(resource: string, reqs: FieldRequirement[]): void {
  const fields = selectableFields(resource);
  for (const r of reqs) {
    if (fields[r.field]) continue;
    if (!extraFields[resource]) {
      throw new FieldSelectorError(`${goQuote(r.field)} is not a known field selector: only "metadata.name", "metadata.namespace"`);
    }
    throw new FieldSelectorError(`field label not supported: ${r.field}`);
  }
}

export function fieldsMatch(resource: string, reqs: FieldRequirement[], o: KubeObject): boolean {
  if (reqs.length === 0) return true;
  const fields = selectableFields(resource);
  for (const r of reqs) {
    const v = fields[r.field]!(o) ?? '';
    if (r.op === '=' ? v !== r.value : v === r.value) return false;
  }
  return true;
}
