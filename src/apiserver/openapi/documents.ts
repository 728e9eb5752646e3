// The OpenAPI documents of the served kinds: one OpenAPI 3.0 document per group-version and one
// Swagger 2.0 document for all, with upstream's operation names, parameters, media types and
// x-kubernetes-* extensions, and the schemas every operation reaches.
import { apiVersionOf, type ResourceType, type SubresourceInfo } from '../../api/resources.ts';
import { render } from './render.ts';
import { SchemaCatalog, v3Wrapper, type Schema } from './schemas.ts';
import type { ModelData } from './models.ts';

export interface GroupVersion {
  group: string;
  version: string;
}

interface Gvk {
  group: string;
  kind: string;
  version: string;
}

const meta = (kind: string) => `io.k8s.apimachinery.pkg.apis.meta.v1.${kind}`;
const patchName = meta('Patch');
const statusName = meta('Status');
const deleteOptionsName = meta('DeleteOptions');
const watchEventName = meta('WatchEvent');

const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
const produces = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

export function gvPath(gv: GroupVersion): string {
  return gv.group ? `apis/${gv.group}/${gv.version}` : `api/${gv.version}`;
}

/** rbac.authorization.k8s.io -> RbacAuthorization; '' -> Core (apiserver's operation naming). */
function groupWord(group: string): string {
  if (!group) return 'Core';
  return group
    .replace(/\.k8s\.io$/, '')
    .split(/[.-]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

function tagOf(gv: GroupVersion): string {
  const w = groupWord(gv.group);
  return `${w.charAt(0).toLowerCase()}${w.slice(1)}_${gv.version}`;
}

type ParamType = 'string' | 'boolean' | 'integer';
const queryTypes: Record<string, ParamType> = {
  allowWatchBookmarks: 'boolean',
  continue: 'string',
  dryRun: 'string',
  fieldManager: 'string',
  fieldSelector: 'string',
  fieldValidation: 'string',
  force: 'boolean',
  gracePeriodSeconds: 'integer',
  ignoreStoreReadErrorWithClusterBreakingPotential: 'boolean',
  labelSelector: 'string',
  limit: 'integer',
  orphanDependents: 'boolean',
  pretty: 'string',
  propagationPolicy: 'string',
  resourceVersion: 'string',
  resourceVersionMatch: 'string',
  sendInitialEvents: 'boolean',
  timeoutSeconds: 'integer',
  watch: 'boolean',
};

const listParams = ['allowWatchBookmarks', 'continue', 'fieldSelector', 'labelSelector', 'limit', 'resourceVersion', 'resourceVersionMatch', 'sendInitialEvents', 'timeoutSeconds', 'watch'];
const writeParams = ['dryRun', 'fieldManager', 'fieldValidation'];
const deleteParams = ['dryRun', 'gracePeriodSeconds', 'ignoreStoreReadErrorWithClusterBreakingPotential', 'orphanDependents', 'propagationPolicy'];
const deleteCollectionParams = [...new Set([...deleteParams, 'continue', 'fieldSelector', 'labelSelector', 'limit', 'resourceVersion', 'resourceVersionMatch', 'sendInitialEvents', 'timeoutSeconds'])].sort();

interface Op {
  verb: string;
  action: string;
  description: string;
  query: string[];
  /** definition of the body, and whether it is a patch */
  body?: { name: string; patch?: boolean; optional?: boolean };
  /** response codes and the definition they carry */
  responses: Record<string, string>;
  gvk: Gvk;
  operationId: string;
}

interface PathEntry {
  path: string;
  tag: string;
  pathParams: string[];
  ops: Partial<Record<'get' | 'post' | 'put' | 'patch' | 'delete', Op>>;
}

/** The resources' paths, with their operations, in one group-version. */
class PathBuilder {
  readonly entries: PathEntry[] = [];
  constructor(private readonly catalog: SchemaCatalog) {}

  add(r: ResourceType): void {
    const gv = { group: r.group, version: r.version };
    const kindName = this.catalog.nameOf(r.model);
    const listName = this.catalog.nameOf(this.listModel(r));
    const gvk: Gvk = { group: r.group, kind: r.kind, version: r.version };
    const ns = r.namespaced;
    const id = (verb: string, suffix = '', namespaced = ns) => `${verb}${groupWord(r.group)}${r.version.charAt(0).toUpperCase()}${r.version.slice(1)}${namespaced ? 'Namespaced' : ''}${r.kind}${suffix}`;
    const base = `/${gvPath(gv)}${ns ? '/namespaces/{namespace}' : ''}/${r.resource}`;
    const scope = ns ? ['namespace'] : [];
    const tag = tagOf(gv);
    const op = (o: Omit<Op, 'gvk'> & { gvk?: Gvk }): Op => ({ gvk, ...o });
    const has = (v: string) => r.verbs.includes(v);
    const collection: PathEntry['ops'] = {};
    if (has('list')) collection.get = op({ verb: 'list', action: 'list', description: `list or watch objects of kind ${r.kind}`, query: listParams, responses: { '200': listName }, operationId: id('list') });
    if (has('create')) collection.post = op({ verb: 'create', action: 'post', description: `create ${article(r.kind)}`, query: writeParams, body: { name: kindName }, responses: { '200': kindName, '201': kindName, '202': kindName }, operationId: id('create') });
    if (has('deletecollection')) collection.delete = op({ verb: 'deletecollection', action: 'deletecollection', description: `delete collection of ${r.kind}`, query: deleteCollectionParams, body: { name: deleteOptionsName, optional: true }, responses: { '200': statusName }, operationId: id('deleteCollection') });
    this.entries.push({ path: base, tag, pathParams: scope, ops: collection });
    const item: PathEntry['ops'] = {};
    if (has('get')) item.get = op({ verb: 'read', action: 'get', description: `read the specified ${r.kind}`, query: [], responses: { '200': kindName }, operationId: id('read') });
    if (has('update')) item.put = op({ verb: 'replace', action: 'put', description: `replace the specified ${r.kind}`, query: writeParams, body: { name: kindName }, responses: { '200': kindName, '201': kindName }, operationId: id('replace') });
    if (has('patch')) item.patch = op({ verb: 'patch', action: 'patch', description: `partially update the specified ${r.kind}`, query: [...writeParams, 'force'], body: { name: patchName, patch: true }, responses: { '200': kindName, '201': kindName }, operationId: id('patch') });
    if (has('delete')) item.delete = op({ verb: 'delete', action: 'delete', description: `delete ${article(r.kind)}`, query: deleteParams, body: { name: deleteOptionsName, optional: true }, responses: { '200': kindName, '202': kindName }, operationId: id('delete') });
    this.entries.push({ path: `${base}/{name}`, tag, pathParams: ['name', ...scope], ops: item });
    if (ns && has('list')) {
      this.entries.push({
        path: `/${gvPath(gv)}/${r.resource}`,
        tag,
        pathParams: [],
        ops: { get: op({ verb: 'list', action: 'list', description: `list or watch objects of kind ${r.kind}`, query: listParams, responses: { '200': listName }, operationId: id('list', 'ForAllNamespaces', false) }) },
      });
    }
    for (const sub of r.subresources) this.addSubresource(r, sub, base, tag, scope, id);
  }

  /** status and scale: read, replace and patch of the subresource's kind. */
  private addSubresource(r: ResourceType, sub: SubresourceInfo, base: string, tag: string, scope: string[], id: (verb: string, suffix?: string) => string): void {
    if (sub.name !== 'status' && sub.name !== 'scale') return;
    const model = this.catalog.modelFor(sub.group, sub.version, sub.kind);
    if (!model) return;
    const name = this.catalog.nameOf(model);
    const gvk: Gvk = { group: sub.group, kind: sub.kind, version: sub.version };
    const suffix = sub.name === 'status' ? 'Status' : 'Scale';
    const ops: PathEntry['ops'] = {};
    const common = { gvk, responses: { '200': name, '201': name } };
    if (sub.verbs.includes('get')) ops.get = { ...common, verb: 'read', action: 'get', description: `read ${sub.name} of the specified ${r.kind}`, query: [], responses: { '200': name }, operationId: id('read', suffix) };
    if (sub.verbs.includes('update')) ops.put = { ...common, verb: 'replace', action: 'put', description: `replace ${sub.name} of the specified ${r.kind}`, query: writeParams, body: { name }, operationId: id('replace', suffix) };
    if (sub.verbs.includes('patch')) ops.patch = { ...common, verb: 'patch', action: 'patch', description: `partially update ${sub.name} of the specified ${r.kind}`, query: [...writeParams, 'force'], body: { name: patchName, patch: true }, operationId: id('patch', suffix) };
    this.entries.push({ path: `${base}/{name}/${sub.name}`, tag, pathParams: ['name', ...scope], ops });
  }

  listModel(r: ResourceType): string {
    const list = this.catalog.modelFor(r.group, r.version, r.listKind);
    if (!list) throw new Error(`no list model for ${r.kind}`);
    return list;
  }
}

function article(kind: string): string {
  return /^[AEIOU]/.test(kind) ? `an ${kind}` : `a ${kind}`;
}

function queryParamV3(name: string): Schema {
  return { name, in: 'query', schema: { type: queryTypes[name] ?? 'string', uniqueItems: true } };
}

function queryParamV2(name: string): Schema {
  return { name, in: 'query', type: queryTypes[name] ?? 'string', uniqueItems: true };
}

function pathParam(name: string, v3: boolean): Schema {
  const description = name === 'namespace' ? 'object name and auth scope, such as for teams and projects' : 'name of the resource';
  return v3 ? { name, in: 'path', description, required: true, schema: { type: 'string', uniqueItems: true } } : { name, in: 'path', description, required: true, type: 'string', uniqueItems: true };
}

function operationV3(o: Op, tag: string): Schema {
  const out: Schema = {
    description: o.description,
    operationId: o.operationId,
    tags: [tag],
    parameters: o.query.map(queryParamV3),
    responses: {
      ...Object.fromEntries(Object.entries(o.responses).map(([code, name]) => [code, { description: code === '201' ? 'Created' : code === '202' ? 'Accepted' : 'OK', content: Object.fromEntries(produces.map((mt) => [mt, { schema: { $ref: name } }])) }])),
      '401': { description: 'Unauthorized' },
    },
    'x-kubernetes-action': o.action,
    'x-kubernetes-group-version-kind': o.gvk,
  };
  if (o.body) {
    const types = o.body.patch ? patchTypes : ['*/*'];
    out.requestBody = { content: Object.fromEntries(types.map((mt) => [mt, { schema: { $ref: o.body!.name } }])), ...(o.body.optional ? {} : { required: true }) };
  }
  return out;
}

function operationV2(o: Op, tag: string): Schema {
  const params: Schema[] = [];
  if (o.body) params.push({ name: 'body', in: 'body', ...(o.body.optional ? {} : { required: true }), schema: { $ref: o.body.name } });
  params.push(...o.query.map(queryParamV2));
  return {
    consumes: o.body?.patch ? patchTypes : ['*/*'],
    description: o.description,
    operationId: o.operationId,
    parameters: params,
    produces,
    responses: {
      ...Object.fromEntries(Object.entries(o.responses).map(([code, name]) => [code, { description: code === '201' ? 'Created' : code === '202' ? 'Accepted' : 'OK', schema: { $ref: name } }])),
      '401': { description: 'Unauthorized' },
    },
    schemes: ['https'],
    tags: [tag],
    'x-kubernetes-action': o.action,
    'x-kubernetes-group-version-kind': o.gvk,
  };
}

function sortGvks(gvks: Gvk[]): Gvk[] {
  const seen = new Map(gvks.map((g) => [`${g.group}/${g.version}/${g.kind}`, g]));
  return [...seen.values()].sort((a, b) => a.group.localeCompare(b.group) || a.version.localeCompare(b.version));
}

/** The catalog of the served kinds, each named where upstream defines it. */
export function servedCatalog(data: ModelData, served: readonly ResourceType[]): SchemaCatalog {
  const catalog = new SchemaCatalog(structuredClone(data));
  const place = (group: string, version: string, kind: string, model?: string) => {
    const m = model ?? catalog.modelFor(group, version, kind);
    const pkg = data.packages[group];
    if (m && pkg) catalog.rename(m, `${pkg}.${version}.${kind}`);
  };
  for (const r of served) {
    place(r.group, r.version, r.kind, r.model);
    for (const s of r.subresources) place(s.group, s.version, s.kind);
  }
  return catalog;
}

interface Assembled {
  paths: Record<string, Schema>;
  definitions: Schema;
}

function assemble(catalog: SchemaCatalog, kinds: readonly ResourceType[], flavor: 'v2' | 'v3', crossGvs: GroupVersion[]): Assembled {
  const pb = new PathBuilder(catalog);
  for (const r of kinds) pb.add(r);
  const gvks = new Map<string, Gvk[]>();
  const tag = (name: string, g: Gvk) => gvks.set(name, [...(gvks.get(name) ?? []), g]);
  const roots = new Set<string>([statusName, deleteOptionsName, watchEventName]);
  const paths: Record<string, Schema> = {};
  for (const e of pb.entries) {
    const item: Schema = { parameters: [...e.pathParams.map((p) => pathParam(p, flavor === 'v3')), flavor === 'v3' ? queryParamV3('pretty') : queryParamV2('pretty')] };
    for (const [method, o] of Object.entries(e.ops)) {
      item[method] = flavor === 'v3' ? operationV3(o, e.tag) : operationV2(o, e.tag);
      for (const n of Object.values(o.responses)) roots.add(n);
      if (o.body) roots.add(o.body.name);
    }
    paths[e.path] = item;
  }
  for (const r of kinds) {
    tag(catalog.nameOf(r.model), { group: r.group, kind: r.kind, version: r.version });
    tag(catalog.nameOf(pb.listModel(r)), { group: r.group, kind: r.listKind, version: r.version });
    for (const s of r.subresources) {
      const m = s.name !== 'status' && catalog.modelFor(s.group, s.version, s.kind);
      if (m) tag(catalog.nameOf(m), { group: s.group, kind: s.kind, version: s.version });
    }
  }
  tag(statusName, { group: '', kind: 'Status', version: 'v1' });
  for (const gv of [{ group: '', version: 'v1' }, ...crossGvs]) {
    tag(deleteOptionsName, { ...gv, kind: 'DeleteOptions' });
    tag(watchEventName, { ...gv, kind: 'WatchEvent' });
  }
  const definitions: Schema = {};
  for (const d of catalog.closure(roots)) {
    const g = gvks.get(d.name);
    const schema = flavor === 'v3' ? v3Wrapper(d.name, d.schema) : d.schema;
    definitions[d.name] = g ? { ...schema, 'x-kubernetes-group-version-kind': sortGvks(g) } : schema;
  }
  return { paths, definitions };
}

/** The OpenAPI 3.0 document of one group-version. */
export function v3Document(catalog: SchemaCatalog, gv: GroupVersion, served: readonly ResourceType[], version: string): unknown {
  const kinds = served.filter((r) => r.group === gv.group && r.version === gv.version);
  const { paths, definitions } = assemble(catalog, kinds, 'v3', [gv]);
  return render(
    {
      openapi: '3.0.0',
      info: { title: 'Kubernetes', version },
      paths,
      components: {
        schemas: definitions,
        securitySchemes: { BearerToken: { type: 'apiKey', description: 'Bearer Token authentication', name: 'authorization', in: 'header' } },
      },
    },
    'v3',
  );
}

/** The Swagger 2.0 document of every served kind. */
export function v2Document(catalog: SchemaCatalog, served: readonly ResourceType[], version: string): unknown {
  const gvs = [...new Map(served.map((r) => [apiVersionOf(r), { group: r.group, version: r.version }])).values()];
  const { paths, definitions } = assemble(catalog, served, 'v2', gvs);
  return render(
    {
      swagger: '2.0',
      info: { title: 'Kubernetes', version },
      paths,
      definitions,
      securityDefinitions: { BearerToken: { type: 'apiKey', description: 'Bearer Token authentication', name: 'authorization', in: 'header' } },
      security: [{ BearerToken: [] }],
    },
    'v2',
  );
}
