// The apiextensions-apiserver inside podpath's API server: the kinds that established
// CustomResourceDefinitions define (discovery, decoding with pruning and defaulting, the
// strategy that validates them against the schema and its CEL rules), and the controllers
// that accept a CRD's names, establish it, and delete its objects when it goes.
import { errors, field, Path, type FieldError } from '../api/errors.ts';
import { validateRules } from '../api/apiextensions/cel.ts';
import { customResourcePrinter, findResults, parseJSONPath } from '../api/apiextensions/printer.ts';
import { applySchemaDefaults, prune, validateValue } from '../api/apiextensions/schema.ts';
import {
  cleanupFinalizer,
  conditionOf,
  isEstablished,
  storageVersionOf,
  type CustomResourceDefinition,
  type CustomResourceDefinitionCondition,
  type CustomResourceDefinitionVersion,
  type JSONSchemaProps,
} from '../api/apiextensions/types.ts';
import { resourceOf, resourceTypes, type ResourceType, type SubresourceInfo } from '../api/resources.ts';
import { DecodeError, decodeObject } from '../api/schema.ts';
import { sameValue } from '../api/fieldset.ts';
import { isObject, type KubeObject } from '../api/types.ts';
import { validateObjectMeta, validateObjectMetaUpdate } from '../api/validation/meta.ts';
import { isDNS1123Subdomain } from '../api/validation/names.ts';
import { cannotHandle, checkTypeMeta, type Decoded, type FieldValidation } from './decode.ts';
import { rfc3339, type DynamicKinds, type Registry } from './registry.ts';
import type { Strategy } from './strategies.ts';
import type { Store } from './storage/store.ts';
import type { DynamicOpenAPI } from './openapi.ts';
import { customV3Document } from './openapi/customresources.ts';

export const crdResource = 'apiextensions.k8s.io/customresourcedefinitions';
const allVerbs = ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'];
const subVerbs = ['get', 'patch', 'update'];

/** One served version of a CRD, with what serving it needs. */
interface Served {
  rt: ResourceType;
  crd: CustomResourceDefinition;
  version: CustomResourceDefinitionVersion;
  schema: JSONSchemaProps | undefined;
}

/** The ResourceTypes of an established CRD's served versions, by its accepted names. */
export function servedVersions(crd: CustomResourceDefinition): Served[] {
  const names = { ...crd.spec.names, ...(crd.status?.acceptedNames ?? {}) };
  const storageVersion = storageVersionOf(crd) ?? '';
  return (crd.spec.versions ?? [])
    .filter((v) => v.served)
    .map((v) => {
      const subresources: SubresourceInfo[] = [];
      if (v.subresources?.status !== undefined) subresources.push({ name: 'status', group: crd.spec.group, version: v.name, kind: names.kind!, verbs: subVerbs });
      if (v.subresources?.scale) subresources.push({ name: 'scale', group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: subVerbs });
      const rt: ResourceType = {
        group: crd.spec.group,
        version: v.name,
        kind: names.kind!,
        listKind: names.listKind ?? `${names.kind}List`,
        resource: names.plural!,
        singular: names.singular ?? names.kind!.toLowerCase(),
        namespaced: crd.spec.scope === 'Namespaced',
        shortNames: names.shortNames ?? [],
        categories: names.categories ?? [],
        verbs: allVerbs,
        subresources,
        model: '',
        custom: { storageVersion, printer: customResourcePrinter(v.additionalPrinterColumns) },
      };
      return { rt, crd, version: v, schema: v.schema?.openAPIV3Schema };
    });
}

const statusOn = (s: Served) => s.version.subresources?.status !== undefined;

/** The object without metadata, as the schema validates it (metadata has ObjectMeta's own validation). */
function body(o: KubeObject): Record<string, unknown> {
  const { metadata: _m, ...rest } = o;
  return rest;
}

function keepStatus(obj: KubeObject, old: KubeObject): void {
  if (old.status === undefined) delete obj.status;
  else obj.status = structuredClone(old.status);
}

/** What a CR's Scale says, read through the CRD's scale paths (upstream's scale subresource). */
export function customScaleOf(owner: KubeObject, paths: NonNullable<NonNullable<CustomResourceDefinitionVersion['subresources']>['scale']>, apiVersion = 'autoscaling/v1'): KubeObject {
  const first = (p: string | undefined) => (p ? findResults(owner, parseJSONPath(p))[0] : undefined);
  const spec = first(paths.specReplicasPath);
  const status = first(paths.statusReplicasPath);
  const sel = first(paths.labelSelectorPath);
  const m = owner.metadata;
  return {
    kind: 'Scale',
    apiVersion,
    metadata: { name: m.name, ...(m.namespace ? { namespace: m.namespace } : {}), uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: typeof spec === 'number' ? spec : 0 },
    status: { replicas: typeof status === 'number' ? status : 0, ...(typeof sel === 'string' && sel ? { selector: sel } : {}) },
  };
}

/** Sets the value at a simple `.a.b.c` path, making the objects on the way. */
function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.').filter(Boolean);
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (!isObject(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

export class CustomResources implements DynamicKinds {
  private cache: Map<string, Served> | undefined;
  private scheduled = false;
  private stopped = false;
  private recheck: NodeJS.Timeout | undefined;
  private registry: Registry | undefined;
  log: (line: string) => void = () => {};

  constructor(private readonly store: Store) {}

  private served(): Map<string, Served> {
    if (!this.cache) {
      this.cache = new Map();
      for (const crd of this.store.list(crdResource) as CustomResourceDefinition[]) {
        if (!isEstablished(crd)) continue;
        for (const s of servedVersions(crd)) this.cache.set(`${s.rt.group}/${s.rt.version}/${s.rt.resource}`, s);
      }
    }
    return this.cache;
  }

  private servedOf(rt: ResourceType): Served {
    const s = this.served().get(`${rt.group}/${rt.version}/${rt.resource}`);
    if (!s) throw errors.notFound({ group: rt.group, resource: rt.resource }, '');
    return s;
  }

  find(group: string, version: string, resource: string): ResourceType | undefined {
    return this.served().get(`${group}/${version}/${resource}`)?.rt;
  }

  types(): ResourceType[] {
    return [...this.served().values()].map((s) => s.rt);
  }

  decode(rt: ResourceType, parsed: unknown, fv: FieldValidation): Decoded {
    const s = this.servedOf(rt);
    const obj = checkTypeMeta(rt, parsed);
    const unknown: string[] = [];
    let metadata: Record<string, unknown> = {};
    if (obj.metadata !== undefined) {
      try {
        const m = decodeObject('V1ObjectMeta', obj.metadata);
        metadata = m.value as Record<string, unknown>;
        unknown.push(...m.unknown.map((u) => `metadata.${u}`));
      } catch (e) {
        if (e instanceof DecodeError) throw cannotHandle(rt, e.message);
        throw e;
      }
    }
    const value = structuredClone(obj) as Record<string, unknown>;
    unknown.push(...prune(value, s.schema));
    applySchemaDefaults(value, s.schema);
    const warnings: string[] = [];
    if (unknown.length) {
      if (fv === 'Strict') throw cannotHandle(rt, `strict decoding error: ${unknown.map((u) => `unknown field ${JSON.stringify(u)}`).join(', ')}`);
      if (fv === 'Warn') for (const u of unknown) warnings.push(`unknown field ${JSON.stringify(u)}`);
    }
    const out = { ...value, apiVersion: `${rt.group}/${rt.version}`, kind: rt.kind, metadata } as KubeObject;
    return { obj: out, warnings, unknown };
  }

  strategy(rt: ResourceType): Strategy {
    const s = this.servedOf(rt);
    const nameFn = (name: string, prefix: boolean) => isDNS1123Subdomain(prefix ? `${name}a` : name);
    const validateBody = (o: KubeObject, old: KubeObject | undefined): FieldError[] => [
      ...validateValue(body(o), s.schema, Path.root()),
      ...validateRules(body(o), old ? body(old) : undefined, s.schema, Path.root()),
      ...this.validateScale(s, o),
    ];
    const status = statusOn(s);
    return {
      validate: (o) => [...validateObjectMeta(o.metadata, rt.namespaced, nameFn), ...validateBody(o, undefined)],
      validateUpdate: (o, old) => [...validateObjectMetaUpdate(o.metadata, old.metadata), ...validateBody(o, old)],
      validateStatusUpdate: (o, old) => [...validateObjectMetaUpdate(o.metadata, old.metadata), ...validateBody(o, old)],
      prepareForCreate: (o) => {
        // Nothing new while the CRD's objects are being deleted (upstream's crdHandler).
        if (conditionOf(s.crd, 'Terminating')?.status === 'True' || s.crd.metadata.deletionTimestamp) throw errors.methodNotSupported({ group: rt.group, resource: rt.resource }, 'create');
        if (!status) return;
        // A create may not set status; upstream then defaults it again where it is read from storage
        // (the Gateway API's "Waiting for controller" conditions), which storing the default matches.
        delete o.status;
        applySchemaDefaults(o, s.schema);
      },
      prepareForUpdate: status ? keepStatus : undefined,
      // With a status subresource only the spec's changes count; without, any but metadata's.
      generationOf: (o) => {
        const { metadata: _m, status: st, ...rest } = o;
        return status ? rest : { ...rest, status: st };
      },
    } as Strategy;
  }

  /** The scale subresource's replicas field must hold a non-negative int32 (upstream's scale validation). */
  private validateScale(s: Served, o: KubeObject): FieldError[] {
    const scale = s.version.subresources?.scale;
    if (!scale) return [];
    const v = findResults(o, parseJSONPath(scale.specReplicasPath))[0];
    const p = Path.root(...scale.specReplicasPath.split('.').filter(Boolean));
    if (v === undefined) return [];
    if (typeof v !== 'number' || !Number.isInteger(v)) return [field.invalid(p, v, 'should be an integer')];
    if (v < 0) return [field.invalid(p, v, 'should be a non-negative integer')];
    if (v > 2147483647) return [field.invalid(p, v, 'should be less than or equal to 2147483647')];
    return [];
  }

  scaleOf(rt: ResourceType, owner: KubeObject): KubeObject | undefined {
    const scale = this.servedOf(rt).version.subresources?.scale;
    return scale ? customScaleOf(owner, scale) : undefined;
  }

  withReplicas(rt: ResourceType, owner: KubeObject, replicas: number): KubeObject {
    const scale = this.servedOf(rt).version.subresources?.scale;
    const next = structuredClone(owner);
    if (scale) setPath(next as Record<string, unknown>, scale.specReplicasPath, replicas);
    return next;
  }

  readonly openapi: DynamicOpenAPI = {
    groupVersions: () => [...new Map(this.types().map((r) => [`${r.group}/${r.version}`, { group: r.group, version: r.version }])).values()],
    document: (gv, catalog, serverVersion) =>
      customV3Document(
        catalog,
        [...this.served().values()].filter((s) => s.rt.group === gv.group && s.rt.version === gv.version),
        serverVersion,
      ),
  };

  // ---- controllers ----

  /** Starts the naming/establishing and the cleanup controllers (they act through `registry`). */
  start(registry: Registry): void {
    this.registry = registry;
    this.store.addWatcher({
      resource: crdResource,
      deliver: () => {
        this.cache = undefined;
        this.schedule();
      },
    });
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.recheck) clearTimeout(this.recheck);
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.stopped) return;
      try {
        this.reconcile();
      } catch (e) {
        this.log(`customresourcedefinitions: ${(e as Error).message}`);
      }
    });
  }

  private reconcile(): void {
    const registry = this.registry!;
    const crdRt = resourceOf('apiextensions.k8s.io', 'customresourcedefinitions');
    const all = this.store.list(crdResource) as CustomResourceDefinition[];
    let wrote = false;
    for (const crd of all) {
      if (crd.metadata.deletionTimestamp) {
        if (this.cleanup(crd)) wrote = true;
        continue;
      }
      const next = desiredStatus(crd, all, rfc3339());
      if (next) {
        registry.writeInternal(crdRt, next, 'kube-apiserver');
        wrote = true;
      }
    }
    if (wrote) this.store.sync().catch((e: Error) => this.log(`customresourcedefinitions: ${e.message}`));
  }

  /** A deleted CRD: Terminating, every object of it removed, then the finalizer taken off. */
  private cleanup(crd: CustomResourceDefinition): boolean {
    if (!(crd.metadata.finalizers ?? []).includes(cleanupFinalizer)) return false;
    const registry = this.registry!;
    const crdRt = resourceOf('apiextensions.k8s.io', 'customresourcedefinitions');
    if (conditionOf(crd, 'Terminating')?.status !== 'True') {
      const next = structuredClone(crd);
      setCondition(next, { type: 'Terminating', status: 'True', reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress' }, rfc3339());
      registry.writeInternal(crdRt, next, 'kube-apiserver');
    }
    // Every object is deleted as a client would delete it: those with finalizers wait for them,
    // and the CRD waits for those (checked again each second until none is left).
    const rt = servedVersions(crd)[0]?.rt;
    const key = `${crd.spec.group}/${crd.status?.acceptedNames?.plural || crd.spec.names.plural}`;
    for (const o of this.store.list(key)) {
      if (!rt) this.store.remove(key, o.metadata.namespace, o.metadata.name!);
      else if (!o.metadata.deletionTimestamp) registry.deleteObject(rt, o.metadata.namespace, o.metadata.name!, {});
    }
    if (this.store.count(key) > 0) {
      if (!this.recheck) this.recheck = setTimeout(() => ((this.recheck = undefined), this.schedule()), 1000);
      return true;
    }
    const cur = this.store.get(crdResource, undefined, crd.metadata.name!) as CustomResourceDefinition | undefined;
    if (cur) registry.removeFinalizer(crdRt, cur, cleanupFinalizer);
    return true;
  }
}

function setCondition(crd: CustomResourceDefinition, c: Omit<CustomResourceDefinitionCondition, 'lastTransitionTime'>, now: string): void {
  crd.status ??= {};
  const conds = (crd.status.conditions ??= []);
  const cur = conds.find((x) => x.type === c.type);
  if (cur) {
    if (cur.status !== c.status) cur.lastTransitionTime = now;
    cur.reason = c.reason;
    cur.message = c.message;
    cur.status = c.status;
  } else conds.push({ type: c.type, status: c.status, lastTransitionTime: now, reason: c.reason, message: c.message });
}

/**
 * The naming controller's and the establishing controller's verdict on one CRD: its accepted
 * names (none taken by another CRD or built-in resource of the group), NamesAccepted and
 * Established, the cleanup finalizer. Undefined when the stored status already says so.
 */
export function desiredStatus(crd: CustomResourceDefinition, all: CustomResourceDefinition[], now: string): CustomResourceDefinition | undefined {
  const next = structuredClone(crd);
  const names = crd.spec.names;
  const others = all.filter((o) => o.metadata.name !== crd.metadata.name && o.spec.group === crd.spec.group);
  const taken = (pick: (n: Partial<CustomResourceDefinition['spec']['names']>) => string[]) =>
    new Set([...others.flatMap((o) => pick(o.status?.acceptedNames ?? {})), ...resourceTypes.filter((r) => r.group === crd.spec.group).flatMap((r) => pick({ plural: r.resource, singular: r.singular, kind: r.kind, listKind: r.listKind, shortNames: r.shortNames }))]);
  const plurals = taken((n) => [n.plural ?? '', n.singular ?? '', ...(n.shortNames ?? [])].filter(Boolean));
  const kinds = taken((n) => [n.kind ?? '', n.listKind ?? ''].filter(Boolean));
  let conflict: { reason: string; message: string } | undefined;
  if (plurals.has(names.plural)) conflict = { reason: 'PluralConflict', message: `"${names.plural}" is already in use` };
  else if (names.singular && plurals.has(names.singular)) conflict = { reason: 'SingularConflict', message: `"${names.singular}" is already in use` };
  else if ((names.shortNames ?? []).some((s) => plurals.has(s))) conflict = { reason: 'ShortNamesConflict', message: `"${(names.shortNames ?? []).find((s) => plurals.has(s))}" is already in use` };
  else if (kinds.has(names.kind)) conflict = { reason: 'KindConflict', message: `"${names.kind}" is already in use` };
  else if (names.listKind && kinds.has(names.listKind)) conflict = { reason: 'ListKindConflict', message: `"${names.listKind}" is already in use` };
  next.status ??= {};
  if (conflict) {
    setCondition(next, { type: 'NamesAccepted', status: 'False', ...conflict }, now);
    if (!isEstablished(crd)) setCondition(next, { type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' }, now);
  } else {
    next.status.acceptedNames = { ...structuredClone(names) };
    setCondition(next, { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' }, now);
    const reason = isEstablished(crd) ? conditionOf(crd, 'Established')!.reason! : 'InitialNamesAccepted';
    setCondition(next, { type: 'Established', status: 'True', reason, message: 'the initial names have been accepted' }, now);
    if (!(next.metadata.finalizers ?? []).includes(cleanupFinalizer)) next.metadata.finalizers = [...(next.metadata.finalizers ?? []), cleanupFinalizer];
  }
  return sameValue(next, crd) ? undefined : next;
}
