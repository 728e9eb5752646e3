// Writes src/apiserver/protobuf/messages.ts, the table of protobuf field numbers the API
// server decodes and encodes request and response bodies with, from a checkout of
// k8s.io/api and k8s.io/apimachinery: each package's generated.proto gives the messages,
// field numbers and wire types; its types.go gives what protobuf does not carry but JSON
// needs (the JSON name, pointer or value, omitempty, embedded structs JSON inlines).
//
//   node --import tsx scripts/protobuf-table.ts K8S_API_DIR APIMACHINERY_DIR > src/apiserver/protobuf/messages.ts
//
// The table in the repository was generated from k8s.io/api at commit
// 10b39a39bcee995dfe7cd5e8e7b922be5e46f1e2 (v0.37.0-beta.0) and k8s.io/apimachinery at
// eed236ceee2c19c2753a3d93ac0631dc20750454 (`git archive` of each into a directory).
import fs from 'node:fs';
import path from 'node:path';

const [apiDir, machineryDir] = process.argv.slice(2);
if (!apiDir || !machineryDir) {
  process.stderr.write('usage: protobuf-table.ts K8S_API_DIR APIMACHINERY_DIR\n');
  process.exit(2);
}

/** Packages served, as proto package → directory holding generated.proto (and types.go). */
const packages: { proto: string; dir: string; group?: string }[] = [
  { proto: 'k8s.io.apimachinery.pkg.apis.meta.v1', dir: path.join(machineryDir, 'pkg/apis/meta/v1'), group: 'meta/v1' },
  { proto: 'k8s.io.api.core.v1', dir: path.join(apiDir, 'core/v1'), group: 'v1' },
  { proto: 'k8s.io.api.apps.v1', dir: path.join(apiDir, 'apps/v1'), group: 'apps/v1' },
  { proto: 'k8s.io.api.autoscaling.v1', dir: path.join(apiDir, 'autoscaling/v1'), group: 'autoscaling/v1' },
  { proto: 'k8s.io.api.batch.v1', dir: path.join(apiDir, 'batch/v1'), group: 'batch/v1' },
  // batch/v1's JobSpec reaches the alpha workload scheduling types
  { proto: 'k8s.io.api.scheduling.v1alpha3', dir: path.join(apiDir, 'scheduling/v1alpha3') },
  { proto: 'k8s.io.api.discovery.v1', dir: path.join(apiDir, 'discovery/v1'), group: 'discovery.k8s.io/v1' },
  { proto: 'k8s.io.api.networking.v1', dir: path.join(apiDir, 'networking/v1'), group: 'networking.k8s.io/v1' },
  { proto: 'k8s.io.api.rbac.v1', dir: path.join(apiDir, 'rbac/v1'), group: 'rbac.authorization.k8s.io/v1' },
  { proto: 'k8s.io.api.coordination.v1', dir: path.join(apiDir, 'coordination/v1'), group: 'coordination.k8s.io/v1' },
  { proto: 'k8s.io.api.authentication.v1', dir: path.join(apiDir, 'authentication/v1'), group: 'authentication.k8s.io/v1' },
  { proto: 'k8s.io.api.authorization.v1', dir: path.join(apiDir, 'authorization/v1'), group: 'authorization.k8s.io/v1' },
];

/** The kinds a body may hold: every served kind, the subresource kinds, the reviews, DeleteOptions. */
const bodies: [apiVersion: string, kind: string][] = [
  ['v1', 'Namespace'], ['v1', 'Node'], ['v1', 'Pod'], ['v1', 'Service'], ['v1', 'Endpoints'], ['v1', 'Secret'], ['v1', 'ConfigMap'],
  ['v1', 'Event'], ['v1', 'ServiceAccount'], ['v1', 'Binding'],
  ['apps/v1', 'Deployment'], ['apps/v1', 'ReplicaSet'], ['apps/v1', 'DaemonSet'], ['apps/v1', 'ControllerRevision'],
  ['autoscaling/v1', 'Scale'],
  ['batch/v1', 'Job'], ['batch/v1', 'CronJob'],
  ['discovery.k8s.io/v1', 'EndpointSlice'],
  ['networking.k8s.io/v1', 'Ingress'], ['networking.k8s.io/v1', 'IngressClass'], ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'], ['rbac.authorization.k8s.io/v1', 'ClusterRole'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'], ['rbac.authorization.k8s.io/v1', 'Role'],
  ['coordination.k8s.io/v1', 'Lease'],
  ['authentication.k8s.io/v1', 'TokenRequest'], ['authentication.k8s.io/v1', 'TokenReview'], ['authentication.k8s.io/v1', 'SelfSubjectReview'],
  ['authorization.k8s.io/v1', 'SelfSubjectAccessReview'], ['authorization.k8s.io/v1', 'SelfSubjectRulesReview'],
  ['authorization.k8s.io/v1', 'SubjectAccessReview'], ['authorization.k8s.io/v1', 'LocalSubjectAccessReview'],
  ['meta/v1', 'DeleteOptions'],
];

/** The kinds a list answers with: the XList of every stored kind (ListMeta + repeated items). */
const listed = bodies.filter(([, kind]) => !/Review$|^TokenRequest$|^Binding$|^Scale$|^DeleteOptions$/.test(kind));

/**
 * What else a response holds: Status (errors, and some deletes), which every group version
 * serves as apiVersion v1, and PartialObjectMetadata(List) for `as=PartialObjectMetadata`.
 */
const responses: [key: string, pkg: string, kind: string][] = [
  ['v1', 'meta/v1', 'Status'],
  ['meta.k8s.io/v1', 'meta/v1', 'PartialObjectMetadata'],
  ['meta.k8s.io/v1', 'meta/v1', 'PartialObjectMetadataList'],
];

/** Every root as [apiVersion the table keys it by, package group, message]. */
const roots: [key: string, pkg: string, kind: string][] = [
  ...bodies.map(([v, k]): [string, string, string] => [v === 'meta/v1' ? 'meta.k8s.io/v1' : v, v, k]),
  ...listed.map(([v, k]): [string, string, string] => [v, v, `${k}List`]),
  ...responses,
];

/** Messages whose JSON is not an object of their fields. */
const special: Record<string, string> = {
  'k8s.io.apimachinery.pkg.apis.meta.v1.Time': 'time',
  'k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime': 'microtime',
  'k8s.io.apimachinery.pkg.apis.meta.v1.Duration': 'duration',
  'k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1': 'rawjson',
  'k8s.io.apimachinery.pkg.runtime.RawExtension': 'rawjson',
  'k8s.io.apimachinery.pkg.util.intstr.IntOrString': 'intstr',
  'k8s.io.apimachinery.pkg.api.resource.Quantity': 'quantity',
  // type ExtraValue []string: a named slice, a message of `items` on the wire, an array in JSON
  'k8s.io.api.authentication.v1.ExtraValue': 'strings',
  'k8s.io.api.authorization.v1.ExtraValue': 'strings',
};

const scalars: Record<string, string> = { string: 'string', bytes: 'bytes', int32: 'int32', int64: 'int64', bool: 'bool', double: 'double' };

interface ProtoField {
  num: number;
  name: string;
  type: string;
  repeated: boolean;
  map?: string;
}
interface GoField {
  json: string;
  ptr: boolean;
  omitempty: boolean;
  inline: boolean;
}

const protoMessages = new Map<string, ProtoField[]>(); // full name → fields
const goFields = new Map<string, Map<number, GoField>>(); // full name → by field number

function parseProto(pkg: string, text: string): void {
  const lines = text.split('\n');
  let current: ProtoField[] | undefined;
  for (const line of lines) {
    const m = /^message (\w+) \{/.exec(line);
    if (m) {
      current = [];
      protoMessages.set(`${pkg}.${m[1]}`, current);
      continue;
    }
    if (/^\}/.test(line)) {
      current = undefined;
      continue;
    }
    if (!current) continue;
    const f = /^\s+(optional|repeated) \.?([\w.]+) (\w+) = (\d+);/.exec(line);
    if (f) {
      current.push({ num: Number(f[4]), name: f[3]!, type: f[2]!, repeated: f[1] === 'repeated' });
      continue;
    }
    const mp = /^\s+map<string, \.?([\w.]+)> (\w+) = (\d+);/.exec(line);
    if (mp) current.push({ num: Number(mp[3]), name: mp[2]!, type: 'map', map: mp[1]!, repeated: false });
    else if (/^\s+(optional|repeated|map|oneof)\b/.test(line)) throw new Error(`unparsed proto line in ${pkg}: ${line}`);
  }
}

function parseGo(pkg: string, text: string): void {
  let current: Map<number, GoField> | undefined;
  for (const line of text.split('\n')) {
    const s = /^type (\w+) struct \{/.exec(line);
    if (s) {
      current = new Map();
      goFields.set(`${pkg}.${s[1]}`, current);
      continue;
    }
    if (/^\}/.test(line)) {
      current = undefined;
      continue;
    }
    if (!current) continue;
    const f = /^\t(?:(\w+)\s+)?(\S+)\s+`(.*)`/.exec(line);
    if (!f) continue;
    const tag = f[3]!;
    const pb = /protobuf:"[a-z0-9]+,(\d+),/.exec(tag);
    if (!pb) continue;
    const json = /json:"([^"]*)"/.exec(tag)?.[1] ?? '';
    const [jsonName, ...opts] = json.split(',');
    const embedded = f[1] === undefined;
    current.set(Number(pb[1]), { json: jsonName ?? '', ptr: f[2]!.startsWith('*'), omitempty: opts.includes('omitempty') || opts.includes('omitzero'), inline: (embedded && !jsonName) || opts.includes('inline') });
  }
}

for (const p of packages) {
  parseProto(p.proto, fs.readFileSync(path.join(p.dir, 'generated.proto'), 'utf8'));
  const types = path.join(p.dir, 'types.go');
  if (fs.existsSync(types)) parseGo(p.proto, fs.readFileSync(types, 'utf8'));
}
for (const [pkg, file] of [
  ['k8s.io.apimachinery.pkg.runtime', 'pkg/runtime/generated.proto'],
  ['k8s.io.apimachinery.pkg.util.intstr', 'pkg/util/intstr/generated.proto'],
  ['k8s.io.apimachinery.pkg.api.resource', 'pkg/api/resource/generated.proto'],
] as const) {
  parseProto(pkg, fs.readFileSync(path.join(machineryDir, file), 'utf8'));
}

/** Table keys: a message's short name, qualified by its group version where two packages share it. */
const shortCount = new Map<string, number>();
function shortName(full: string): string {
  return full.slice(full.lastIndexOf('.') + 1);
}

const wanted = new Set<string>();
function visit(full: string): void {
  if (wanted.has(full) || special[full]) return;
  const fields = protoMessages.get(full);
  if (!fields) throw new Error(`no message ${full}`);
  wanted.add(full);
  for (const f of fields) {
    const t = f.map ?? f.type;
    if (!scalars[t]) visit(resolve(full, t));
  }
}
function resolve(from: string, type: string): string {
  if (type.includes('.')) return type;
  return `${from.slice(0, from.lastIndexOf('.'))}.${type}`;
}

const rootKeys: [string, string][] = [];
for (const [keyVersion, pkg, kind] of roots) {
  const p = packages.find((x) => x.group === pkg);
  if (!p) throw new Error(`no package for ${pkg}`);
  const full = `${p.proto}.${kind}`;
  visit(full);
  rootKeys.push([`${keyVersion}/${kind}`, full]);
}
// The envelope's type meta (runtime.Unknown's field 1), and the frame of a protobuf watch
// stream, which travels raw (no envelope, so no kind).
visit('k8s.io.apimachinery.pkg.runtime.TypeMeta');
visit('k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent');
for (const full of wanted) shortCount.set(shortName(full), (shortCount.get(shortName(full)) ?? 0) + 1);
function key(full: string): string {
  if (special[full]) return special[full]!;
  const s = shortName(full);
  if ((shortCount.get(s) ?? 0) < 2) return s;
  const p = packages.find((x) => full.startsWith(`${x.proto}.`))!;
  return `${p.group}.${s}`;
}

const out: string[] = [];
out.push('// Generated by scripts/protobuf-table.ts from k8s.io/api and k8s.io/apimachinery; do not edit by hand.');
out.push('// Each message: field number → [JSON name, type, flags]. A type is a scalar (lower case) or a');
out.push("// message of this table; 'map:T' is a map<string, T>. Flags: r repeated, k keeps a zero value");
out.push('// (a Go pointer, or a field JSON writes without omitempty), i inlined into the parent (embedded).');
out.push('export type FieldTuple = readonly [name: string, type: string, flags?: string];');
out.push('');
out.push('export const messages: Record<string, Record<number, FieldTuple>> = {');
for (const full of [...wanted].sort((a, b) => key(a).localeCompare(key(b)))) {
  const go = goFields.get(full);
  const parts: string[] = [];
  for (const f of protoMessages.get(full)!.sort((a, b) => a.num - b.num)) {
    const g = go?.get(f.num);
    const t = f.map ? `map:${scalars[f.map] ?? key(resolve(full, f.map))}` : (scalars[f.type] ?? key(resolve(full, f.type)));
    let flags = '';
    if (f.repeated) flags += 'r';
    if (g && (g.ptr || !g.omitempty) && !g.inline) flags += 'k';
    if (g?.inline) flags += 'i';
    const name = g && !g.inline && g.json ? g.json : f.name;
    parts.push(`${f.num}: [${JSON.stringify(name)}, ${JSON.stringify(t)}${flags ? `, ${JSON.stringify(flags)}` : ''}]`);
  }
  out.push(`  ${JSON.stringify(key(full))}: { ${parts.join(', ')} },`);
}
out.push('};');
out.push('');
out.push('/** The message of each kind a body or a response may hold, by apiVersion/kind. */');
out.push('export const kinds: Record<string, string> = {');
for (const [k, full] of rootKeys) out.push(`  ${JSON.stringify(k)}: ${JSON.stringify(key(full))},`);
out.push('};');
process.stdout.write(out.join('\n') + '\n');
