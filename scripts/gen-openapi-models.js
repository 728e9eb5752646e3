// Writes build/openapi-models.json: for every model class of @kubernetes/client-node (generated
// from upstream's OpenAPI document), upstream's definition name (io.k8s.api.core.v1.ServiceSpec),
// its description, and each field's description and required-ness, read from the JSDoc and the
// optional markers of dist/gen/models/*.d.ts with the TypeScript compiler. The API server builds
// its OpenAPI schemas from this and the models' attributeTypeMap (src/api/schema.ts).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// Types of k8s.io/apimachinery. client-node names them like core/v1 types (V1ObjectMeta), and
// no API group lists them, so where they live is stated here.
const metaV1 = new Set([
  'APIGroup', 'APIGroupList', 'APIResource', 'APIResourceList', 'APIVersions', 'Condition', 'DeleteOptions',
  'GroupVersionForDiscovery', 'LabelSelector', 'LabelSelectorRequirement', 'ListMeta', 'ManagedFieldsEntry',
  'ObjectMeta', 'OwnerReference', 'Preconditions', 'ServerAddressByClientCIDR', 'Status', 'StatusCause',
  'StatusDetails', 'WatchEvent',
]);
const fixedNames = { VersionInfo: 'io.k8s.apimachinery.pkg.version.Info' };

/** The Go package (reverse-DNS, without version) of an API group, as kube-openapi names it. */
function groupPackage(group) {
  if (group === '') return 'io.k8s.api.core';
  if (group === 'apiextensions.k8s.io') return 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions';
  if (group === 'apiregistration.k8s.io') return 'io.k8s.kube-aggregator.pkg.apis.apiregistration';
  if (group === 'internal.apiserver.k8s.io') return 'io.k8s.api.apiserverinternal';
  return `io.k8s.api.${group.split('.')[0]}`;
}

/** The package named by a model's disambiguating prefix (CoreV1Event, DiscoveryV1EndpointPort). */
function prefixPackage(prefix) {
  const p = prefix.toLowerCase();
  if (p === 'apiextensions') return groupPackage('apiextensions.k8s.io');
  if (p === 'apiregistration') return groupPackage('apiregistration.k8s.io');
  return `io.k8s.api.${p}`;
}

const nameRe = /^([A-Z][a-z]+)?(V\d+(?:alpha\d+|beta\d+)?)([A-Z].*)$/;

function unescape(text) {
  // The generator escaped quotes and folded the schema's paragraph breaks into two spaces.
  return text.replace(/\\(['"\\])/g, '$1').replace(/\. {2}(?=[A-Z])/g, '.\n\n').trim();
}

function jsDocText(ts, node) {
  const docs = ts.getJSDocCommentsAndTags(node).filter((d) => ts.isJSDoc(d));
  const c = docs[docs.length - 1]?.comment;
  if (!c) return '';
  return unescape(typeof c === 'string' ? c : c.map((p) => p.text).join(''));
}

/** Class and property docs of one .d.ts file. */
function readDeclarations(ts, file) {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out = [];
  for (const st of sf.statements) {
    if (!ts.isClassDeclaration(st) || !st.name) continue;
    const fields = {};
    for (const m of st.members) {
      if (!ts.isPropertyDeclaration(m) || !m.name || m.modifiers?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword)) continue;
      const name = ts.isStringLiteral(m.name) || ts.isIdentifier(m.name) ? m.name.text : undefined;
      if (!name) continue;
      fields[name] = { description: jsDocText(ts, m), required: !m.questionToken };
    }
    out.push({ name: st.name.text, description: jsDocText(ts, st), fields });
  }
  return out;
}

function referencedModels(type) {
  return [...type.matchAll(/\b((?:[A-Z][a-z]+)?V\d+(?:alpha\d+|beta\d+)?[A-Z]\w*)\b/g)].map((m) => m[1]);
}

/**
 * Which package each unprefixed model belongs to: the first API group (core first) whose listed
 * kinds reach it; models no list reaches go to a group whose API mentions them.
 */
function assignPackages(modelsMod, apisDir) {
  const table = modelsMod;
  const apis = fs
    .readdirSync(apisDir)
    .filter((f) => /V\d+(?:alpha\d+|beta\d+)?Api\.js$/.test(f))
    .map((f) => {
      const js = fs.readFileSync(path.join(apisDir, f), 'utf8');
      const m = /'\/(?:api\/(v\d\w*)|apis\/([^/']+)\/(v\d\w*))\//.exec(js);
      if (!m) return undefined;
      const group = m[1] ? '' : m[2];
      const dts = fs.readFileSync(path.join(apisDir, f.replace(/\.js$/, '.d.ts')), 'utf8');
      const imports = [...dts.matchAll(/import \{ (\w+) \} from '\.\.\/models\//g)].map((x) => x[1]);
      return { group, imports };
    })
    .filter(Boolean)
    .sort((a, b) => (a.group === '' ? -1 : b.group === '' ? 1 : 0));
  const groupOf = new Map();
  const fieldsOf = (model) => table[model]?.attributeTypeMap ?? [];
  for (const api of apis) {
    const queue = [];
    for (const list of api.imports.filter((n) => n.endsWith('List'))) {
      const items = fieldsOf(list).find((a) => a.baseName === 'items');
      if (items) queue.push(...referencedModels(items.type));
    }
    while (queue.length) {
      const model = queue.shift();
      if (groupOf.has(model) || !table[model]) continue;
      groupOf.set(model, api.group);
      for (const a of fieldsOf(model)) queue.push(...referencedModels(a.type));
    }
  }
  for (const api of [...apis.filter((a) => a.group !== ''), ...apis.filter((a) => a.group === '')]) {
    for (const model of api.imports) if (!groupOf.has(model)) groupOf.set(model, api.group);
  }
  return { groupOf, groups: [...new Set(apis.map((a) => a.group))] };
}

/** Generates the file; returns its path. */
export async function generateOpenAPIModels(root) {
  const require = createRequire(path.join(root, 'package.json'));
  const ts = require('typescript');
  const allJs = require.resolve('@kubernetes/client-node/dist/gen/models/all.js');
  const modelsDir = path.dirname(allJs);
  const apisDir = path.join(modelsDir, '../apis');
  const modelsMod = await import(allJs);
  const { version } = JSON.parse(fs.readFileSync(path.join(modelsDir, '../../../package.json'), 'utf8'));
  const { groupOf, groups } = assignPackages(modelsMod, apisDir);

  const models = {};
  for (const file of fs.readdirSync(modelsDir).sort()) {
    if (!file.endsWith('.d.ts') || file === 'all.d.ts' || file === 'ObjectSerializer.d.ts') continue;
    for (const decl of readDeclarations(ts, path.join(modelsDir, file))) {
      const cls = modelsMod[decl.name];
      if (!cls?.attributeTypeMap) continue;
      const m = nameRe.exec(decl.name);
      let name = fixedNames[decl.name];
      if (!name && m) {
        const [, prefix, ver, kind] = m;
        const pkg = prefix ? prefixPackage(prefix) : metaV1.has(kind) && ver === 'V1' ? 'io.k8s.apimachinery.pkg.apis.meta' : groupPackage(groupOf.get(decl.name) ?? '');
        name = `${pkg}.${ver.toLowerCase()}.${kind}`;
      }
      if (!name) continue;
      const fields = {};
      for (const a of cls.attributeTypeMap) {
        const d = decl.fields[a.name] ?? { description: '', required: false };
        fields[a.baseName] = { description: d.description, ...(d.required ? { required: true } : {}), ...(a.format === 'date-time-micro' ? { micro: true } : {}) };
      }
      models[decl.name] = { name, description: decl.description, fields };
    }
  }
  const packages = Object.fromEntries(groups.map((g) => [g, groupPackage(g)]));
  const out = path.join(root, 'build/openapi-models.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ source: `@kubernetes/client-node ${version}`, packages, models }));
  return out;
}
