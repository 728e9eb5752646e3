// Writes src/apiserver/openapi/enums.ts, the enum values kube-apiserver's OpenAPI documents
// carry, from a checkout of k8s.io/api: a string type whose doc comment has `+enum` is an enum,
// its values are the package's string constants of that type, and every struct field of that
// type (by value, pointer, slice element or map value) gets them — as kube-openapi's generator
// reads the same source (pkg/generators/enum.go).
//
//   node --import tsx scripts/openapi-enums.ts K8S_API_DIR > src/apiserver/openapi/enums.ts
//
// The table in the repository was generated from k8s.io/api at commit
// 10b39a39bcee995dfe7cd5e8e7b922be5e46f1e2 (v0.37.0-beta.0).
import fs from 'node:fs';
import path from 'node:path';

const [apiDir] = process.argv.slice(2);
if (!apiDir) {
  process.stderr.write('usage: openapi-enums.ts K8S_API_DIR\n');
  process.exit(2);
}

interface EnumValue {
  name: string;
  value: string;
  comment: string;
}

/** "core/v1.ServiceType" → its values */
const enums = new Map<string, EnumValue[]>();
/** every const `Name Type = "value"` seen, keyed by "pkg.Type", before knowing which types are enums */
const consts = new Map<string, EnumValue[]>();
/** definition name → JSON field → [shape, "pkg.Type"] */
const fields = new Map<string, Map<string, { shape: 'value' | 'array' | 'map'; type: string }>>();

const versionDirs = fs
  .readdirSync(apiDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== 'testdata')
  .flatMap((g) => fs.readdirSync(path.join(apiDir, g.name)).filter((v) => /^v\d/.test(v) && fs.existsSync(path.join(apiDir, g.name, v, 'types.go'))).map((v) => `${g.name}/${v}`))
  .sort();

/** go/ast CommentGroup.Text() of `//` lines: markers and the first space removed. */
const commentText = (line: string) => line.replace(/^\s*\/\/ ?/, '');

for (const pkg of versionDirs) {
  const src = fs.readFileSync(path.join(apiDir, pkg, 'types.go'), 'utf8').split('\n');
  // import alias → package ("v1" → "core/v1")
  const imports = new Map<string, string>();
  for (const m of src.join('\n').matchAll(/^\s*(\w+)?\s*"k8s\.io\/api\/([\w/]+)"/gm)) imports.set(m[1] ?? m[2]!.split('/').pop()!, m[2]!);
  const typeKey = (t: string) => {
    const dot = t.indexOf('.');
    return dot < 0 ? `${pkg}.${t}` : `${imports.get(t.slice(0, dot)) ?? t.slice(0, dot)}.${t.slice(dot + 1)}`;
  };
  let comments: string[] = [];
  let inConst = false;
  let struct: string | undefined;
  for (const raw of src) {
    const line = raw.trimEnd();
    if (/^\s*\/\//.test(line)) {
      comments.push(commentText(line));
      continue;
    }
    const doc = comments;
    comments = [];
    if (struct !== undefined) {
      if (line === '}') struct = undefined;
      const f = /^\t(\w+)\s+(\*|\[\]|map\[string\])?([\w.]+)\s+`json:"([^,"]+)/.exec(line);
      if (f && f[4] !== '-') {
        const shape = f[2] === '[]' ? 'array' : f[2] === 'map[string]' ? 'map' : 'value';
        const def = `io.k8s.api.${pkg.replace('/', '.')}.${struct}`;
        if (!fields.has(def)) fields.set(def, new Map());
        fields.get(def)!.set(f[4]!, { shape, type: typeKey(f[3]!) });
      }
      continue;
    }
    const t = /^type (\w+) (string|struct \{)$/.exec(line);
    if (t) {
      if (t[2] === 'string' && doc.some((c) => /^\+enum(\s|=|$)/.test(c))) enums.set(`${pkg}.${t[1]}`, []);
      if (t[2] !== 'string') struct = t[1];
      continue;
    }
    if (line === 'const (') inConst = true;
    else if (inConst && line === ')') inConst = false;
    const c = (inConst ? /^\t(\w+)\s+([\w.]+)\s*=\s*("(?:[^"\\]|\\.)*")/ : /^const (\w+)\s+([\w.]+)\s*=\s*("(?:[^"\\]|\\.)*")/).exec(line);
    if (c) {
      const key = typeKey(c[2]!);
      if (!consts.has(key)) consts.set(key, []);
      consts.get(key)!.push({ name: c[1]!, value: JSON.parse(c[3]!) as string, comment: doc.join(' ') });
    }
  }
}

// The values of each enum; a value declared twice keeps the longer comment (enum.go addIfNotPresent).
for (const [key, values] of enums) {
  for (const v of consts.get(key) ?? []) {
    const i = values.findIndex((x) => x.value === v.value);
    if (i < 0) values.push(v);
    else if (values[i]!.comment.length < v.comment.length || (values[i]!.comment.length === v.comment.length && values[i]!.comment > v.comment)) values[i] = v;
  }
}

/** ` - \`"value"\` comment`: the comment without its leading constant name, whitespace folded. */
const descriptionLine = (v: EnumValue) => {
  const comment = v.comment.trim().replace(new RegExp(`^${v.name}`), '').trim().replace(/\s+/g, ' ');
  return ` - \`${JSON.stringify(v.value)}\` ${comment}`.trimEnd();
};

const out: string[] = [];
const usedEnums = new Set<string>();
for (const def of [...fields.keys()].sort()) {
  const entries = [...fields.get(def)!].filter(([, f]) => enums.get(f.type)?.length).sort(([a], [b]) => (a < b ? -1 : 1));
  if (!entries.length) continue;
  out.push(`  '${def}': { ${entries.map(([json, f]) => `${JSON.stringify(json)}: ['${f.shape}', '${f.type}']`).join(', ')} },`);
  for (const [, f] of entries) usedEnums.add(f.type);
}
const enumOut: string[] = [];
for (const key of [...usedEnums].sort()) {
  const values = enums.get(key)!;
  const sortedValues = values.map((v) => v.value).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  const lines = values.map(descriptionLine).sort();
  enumOut.push(`  '${key}': { values: ${JSON.stringify(sortedValues)}, lines: ${JSON.stringify(lines)} },`);
}

process.stdout.write(`// Generated by scripts/openapi-enums.ts from k8s.io/api: do not edit.
// The enum types of the API (a string type marked +enum) with their values, sorted as
// kube-openapi sorts them, and the "Possible enum values" lines it appends to a field's
// description; and, per definition, the fields of those types (by value, as slice elements
// or as map values).

export interface EnumType {
  values: string[];
  lines: string[];
}

export type EnumShape = 'value' | 'array' | 'map';

export const enumTypes: Record<string, EnumType> = {
${enumOut.join('\n')}
};

export const enumFields: Record<string, Record<string, [EnumShape, string]>> = {
${out.join('\n')}
};
`);
