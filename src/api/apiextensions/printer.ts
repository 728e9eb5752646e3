// Server-side Table columns of custom objects: Name, then the version's
// additionalPrinterColumns (Age alone when it has none), as the apiextensions-apiserver's
// tableconvertor fills them through simple JSONPaths.
import { ageSince } from '../duration.ts';
import type { ColumnDefinition, Printer, TableRowData, Cell } from '../printers.ts';
import { fieldDescription } from '../schema.ts';
import { isObject, type KubeObject } from '../types.ts';
import type { CustomResourceColumnDefinition } from './types.ts';

type Step = { field: string } | { index: number } | { all: true } | { filter: { key: string[]; value: unknown } };

/** Parses the JSONPath subset CRD columns use: .a.b, [0], [*], [?(@.type=="Ready")]. */
export function parseJSONPath(path: string): Step[] {
  const src = path.replace(/^\{|\}$/g, '');
  const steps: Step[] = [];
  const re = /\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[\*\]|\[\?\(@((?:\.[A-Za-z0-9_\-]+)+)\s*==\s*(?:"([^"]*)"|'([^']*)'|([^)\s]+))\)\]|\.\*/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < src.length && (m = re.exec(src))) {
    if (m[1] !== undefined) steps.push({ field: m[1] });
    else if (m[2] !== undefined) steps.push({ index: Number(m[2]) });
    else if (m[3] !== undefined) {
      const raw = m[4] ?? m[5] ?? m[6];
      const value = m[4] !== undefined || m[5] !== undefined ? raw : JSON.parse(raw ?? 'null');
      steps.push({ filter: { key: m[3].slice(1).split('.'), value } });
    } else steps.push({ all: true });
  }
  if (re.lastIndex !== src.length && src !== '.') throw new Error(`unsupported JSONPath ${path}`);
  return steps;
}

/** All values a JSONPath reaches in `obj`. */
export function findResults(obj: unknown, steps: Step[]): unknown[] {
  let cur: unknown[] = [obj];
  for (const s of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if ('field' in s) {
        if (isObject(v) && v[s.field] !== undefined) next.push(v[s.field]);
      } else if ('index' in s) {
        if (Array.isArray(v) && s.index < v.length) next.push(v[s.index]);
      } else if ('all' in s) {
        if (Array.isArray(v)) next.push(...v);
        else if (isObject(v)) next.push(...Object.values(v));
      } else if (Array.isArray(v)) {
        for (const item of v) {
          let x: unknown = item;
          for (const k of s.filter.key) x = isObject(x) ? x[k] : undefined;
          if (x === s.filter.value) next.push(item);
        }
      }
    }
    cur = next;
  }
  return cur;
}

/** A cell as jsonpath's PrintResults writes a value: strings bare, the rest as JSON. */
function printed(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function cell(type: string, v: unknown, now: number): Cell | null {
  switch (type) {
    case 'string':
      return printed(v);
    case 'integer':
      return typeof v === 'number' ? Math.trunc(v) : null;
    case 'number':
      return typeof v === 'number' ? v : null;
    case 'boolean':
      return typeof v === 'boolean' ? v : null;
    case 'date':
      return typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? ageSince(v, now) : null;
    default:
      return null;
  }
}

export function customResourcePrinter(defs: CustomResourceColumnDefinition[] | undefined): Printer {
  const cols = defs?.length ? defs : [{ name: 'Age', type: 'date', description: fieldDescription('V1ObjectMeta', 'creationTimestamp'), jsonPath: '.metadata.creationTimestamp' }];
  const paths = cols.map((c) => {
    try {
      return parseJSONPath(c.jsonPath);
    } catch {
      return undefined;
    }
  });
  const columns: ColumnDefinition[] = [
    { name: 'Name', type: 'string', format: 'name', description: fieldDescription('V1ObjectMeta', 'name'), priority: 0 },
    ...cols.map((c) => ({ name: c.name, type: c.type as ColumnDefinition['type'], format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 })),
  ];
  return {
    columns,
    row(o: KubeObject, now: number): TableRowData {
      const cells = [o.metadata.name ?? '', ...cols.map((c, i) => {
        const steps = paths[i];
        const found = steps ? findResults(o, steps) : [];
        return found.length ? cell(c.type, found[0], now) : null;
      })];
      return { cells: cells as Cell[] };
    },
  };
}
