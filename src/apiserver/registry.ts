// The API server's resource operations (kube-apiserver's generic registry plus the
// per-kind strategies): create, read, update, patch, delete with upstream semantics. Each
// operation reads and writes the store without awaiting in between, so it is atomic; it
// awaits only the durability of its write before answering.
import { randomBytes, randomUUID } from 'node:crypto';
import { ApiError, errors, field, Path, type Status } from '../api/errors.ts';
import { applyDefaults } from '../api/defaults.ts';
import { queryBool } from '../api/query.ts';
import { checkFieldSelector, fieldsMatch, FieldSelectorError, parseFieldSelector, type FieldRequirement } from '../api/fields.ts';
import { fromLabelSelector, matches, parseSelector, selectorString, SelectorParseError, type Selector } from '../api/labels.ts';
import { jsonPatch, mergePatch } from '../api/patch/merge.ts';
import { recordUpdate, serverSideApply, type ManagerContext } from '../api/patch/apply.ts';
import { PatchError, strategicMerge } from '../api/patch/strategic.ts';
import { apiVersionOf, asServed, asStored, resourceOf, storeKey, type ResourceType } from '../api/resources.ts';
import { sameValue } from '../api/fieldset.ts';
import { isObject, type Ingress, type IngressClass, type KubeObject, type Namespace, type Pod, type Service } from '../api/types.ts';
import { validatePodEphemeralContainersUpdate } from '../api/validation/core.ts';
import { wireObject } from '../api/wire.ts';
import { admitDefaultIngressClass, type AdmissionAttributes, type Operation } from './admission.ts';
import type { UserInfo } from './authn.ts';
import { decodeFor, fieldValidationOf, mediaType, parseBody, type Decoded, type FieldValidation, type RawBody } from './decode.ts';
import { carryAllocatedValues, normalizeClusterIPs, ServiceAllocations, type Txn } from './serviceips.ts';
import type { DynamicOpenAPI } from './openapi.ts';
import type { Store } from './storage/store.ts';
import { strategyFor, type Strategy } from './strategies.ts';

export interface Ctx {
  rt: ResourceType;
  namespace?: string;
  name?: string;
  query: URLSearchParams;
  userAgent?: string;
  /** who asks (after impersonation); unset for the API server's own writes */
  user?: UserInfo;
}

/** A check that may refuse a write after admission and before validation (RBAC's escalation prevention). */
export type WriteCheck = (ctx: Ctx, obj: KubeObject, old: KubeObject | undefined) => void;

/** Validating admission: may refuse a create, update (of the object or its status) or delete by a user. */
export type ValidatingAdmission = (a: AdmissionAttributes) => void;

export interface WriteResult {
  object: KubeObject;
  code: 200 | 201;
  warnings: string[];
}

export interface DeleteOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  orphanDependents?: boolean;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: string[];
}

export interface DeleteResult {
  /** the object as it now is (being deleted) or was (gone), or a success Status */
  body: KubeObject | Status;
  gone: boolean;
}

export const patchTypes = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
] as const;

const customPatchTypes = patchTypes.filter((t) => t !== 'application/strategic-merge-patch+json');

/** Kinds whose DELETE answers with the object rather than a Status (ReturnDeletedObject). */
const returnsDeletedObject = new Set(['Pod', 'Service', 'Namespace']);

const immortalNamespaces = new Set(['default', 'kube-system', 'kube-public']);

export function rfc3339(ms: number = Date.now()): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const resourceKey = storeKey;

const servicesKey = '/services';

export function gr(rt: ResourceType) {
  return { group: rt.group, resource: rt.resource };
}

const generateNameChars = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(n = 5): string {
  const bytes = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += generateNameChars[bytes[i]! % generateNameChars.length];
  return s;
}

/**
 * The object as the API server serializes it (wire.ts, which also puts metadata's fields in
 * ObjectMeta's order), top-level fields in its order: kind, apiVersion, metadata, ..., status.
 */
function canonical(obj: KubeObject): KubeObject {
  const { kind, apiVersion, metadata, status, ...rest } = wireObject(obj);
  const out: KubeObject = { kind, apiVersion, metadata, ...rest };
  if (status !== undefined) out.status = status;
  return out;
}

/**
 * Kinds served beside the built-in ones (those of CustomResourceDefinitions): how their
 * bodies decode, which strategy writes them, and their scale subresource.
 */
export interface DynamicKinds {
  find(group: string, version: string, resource: string): ResourceType | undefined;
  types(): readonly ResourceType[];
  decode(rt: ResourceType, parsed: unknown, fv: FieldValidation): Decoded;
  strategy(rt: ResourceType): Strategy;
  scaleOf(rt: ResourceType, owner: KubeObject): KubeObject | undefined;
  withReplicas(rt: ResourceType, owner: KubeObject, replicas: number): KubeObject;
  /** their OpenAPI v3 documents */
  openapi?: DynamicOpenAPI;
}

export interface RegistryOptions {
  allocations: ServiceAllocations;
  writeCheck?: WriteCheck;
  now?: () => number;
}

export class Registry {
  readonly allocations: ServiceAllocations;
  private readonly now: () => number;
  /** the custom kinds, when the server serves CustomResourceDefinitions */
  kinds: DynamicKinds | undefined;
  writeCheck: WriteCheck | undefined;
  /** validating admission (NodeRestriction), for writes a user asks for */
  validate: ValidatingAdmission | undefined;

  constructor(
    readonly store: Store,
    opts: RegistryOptions,
  ) {
    this.allocations = opts.allocations;
    this.writeCheck = opts.writeCheck;
    this.now = opts.now ?? Date.now;
    // A write the disk refused is undone in the store; so is what it reserved or released.
    store.onRolledBack((undone) => {
      for (const ev of undone) if (ev.resource === servicesKey) this.allocations.undo(ev.object as Service, ev.type === 'DELETED', ev.prev as Service | undefined);
    });
  }

  // ---- reads ----

  get(rt: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const obj = this.tryGet(rt, namespace, name);
    if (!obj) throw errors.notFound(gr(rt), name);
    return obj;
  }

  tryGet(rt: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.store.get(resourceKey(rt), rt.namespaced ? namespace : undefined, name);
    return obj && (asServed(rt, obj) as KubeObject);
  }

  /** Parses the list filters of a request; 400 with upstream's message on a bad selector. */
  filters(rt: ResourceType, q: URLSearchParams): { labels: Selector; fields: FieldRequirement[] } {
    const ls = q.get('labelSelector') ?? '';
    const fs = q.get('fieldSelector') ?? '';
    let labels: Selector;
    let fields: FieldRequirement[];
    try {
      labels = parseSelector(ls);
    } catch (e) {
      if (e instanceof SelectorParseError) throw errors.badRequest(`unable to parse requirement: ${e.message}`);
      throw e;
    }
    try {
      fields = parseFieldSelector(fs);
      // A custom kind's labels are converted as its CRD serves them: metadata.name, and metadata.namespace when namespaced.
      if (rt.custom) {
        const bad = fields.find((f) => f.field !== 'metadata.name' && !(rt.namespaced && f.field === 'metadata.namespace'));
        if (bad) throw errors.badRequest(`field label not supported: ${bad.field}`);
      } else checkFieldSelector(rt.resource, fields);
    } catch (e) {
      if (e instanceof FieldSelectorError) {
        throw errors.badRequest(`Unable to find ${JSON.stringify(rt.resource)} that match label selector ${JSON.stringify(ls)}, field selector ${JSON.stringify(fs)}: ${e.message}`);
      }
      throw e;
    }
    return { labels, fields };
  }

  matcher(rt: ResourceType, q: URLSearchParams): (o: KubeObject) => boolean {
    const { labels, fields } = this.filters(rt, q);
    return (o) => matches(labels, o.metadata.labels) && fieldsMatch(rt.resource, fields, o);
  }

  list(rt: ResourceType, namespace: string | undefined, q: URLSearchParams): { items: KubeObject[]; resourceVersion: number } {
    const match = this.matcher(rt, q);
    const items = this.store.list(resourceKey(rt), rt.namespaced ? namespace : undefined).filter(match).map((o) => asServed(rt, o) as KubeObject);
    return { items, resourceVersion: this.store.resourceVersion };
  }

  // ---- helpers ----

  private strategyOf(rt: ResourceType): Strategy {
    return rt.custom && this.kinds ? this.kinds.strategy(rt) : strategyFor(rt.kind);
  }

  /** A body decoded for `rt`: built-in kinds by their model, custom kinds by their schema. */
  private decodeAs(rt: ResourceType, parsed: unknown, fv: FieldValidation): Decoded {
    return rt.custom && this.kinds ? this.kinds.decode(rt, parsed, fv) : decodeFor(rt, parsed, fv);
  }

  /** Stores an object (a custom one at its storage version) and answers it as `rt` reads it. */
  private put(rt: ResourceType, obj: KubeObject): KubeObject {
    return asServed(rt, this.store.put(resourceKey(rt), asStored(rt, obj) as KubeObject)) as KubeObject;
  }

  private managerOf(ctx: Ctx): string {
    const fm = ctx.query.get('fieldManager');
    if (fm) {
      if (fm.length > 128) throw errors.badRequest(`fieldManager: Too long: may not be more than 128 bytes`);
      return fm;
    }
    return (ctx.userAgent ?? '').split('/')[0] || 'unknown';
  }

  /** Runs validating admission for a user's write. */
  private validateWrite(ctx: Ctx, operation: Operation, subresource: string, obj: KubeObject | undefined, old: KubeObject | undefined): void {
    if (!this.validate || !ctx.user) return;
    const name = ctx.name ?? obj?.metadata.name ?? '';
    this.validate({ operation, user: ctx.user, group: ctx.rt.group, resource: ctx.rt.resource, subresource, namespace: ctx.namespace ?? '', name, ...(obj ? { object: obj } : {}), ...(old ? { old } : {}) });
  }

  private managerCtx(ctx: Ctx, subresource?: 'status' | 'ephemeralcontainers'): ManagerContext {
    return { manager: this.managerOf(ctx), apiVersion: apiVersionOf(ctx.rt), model: ctx.rt.model, now: rfc3339(this.now()), ...(subresource ? { subresource } : {}) };
  }

  private isDryRun(q: URLSearchParams): boolean {
    const v = q.getAll('dryRun');
    for (const d of v) if (d !== 'All') throw errors.badRequest(`Invalid dry run value: ${d}`);
    return v.includes('All');
  }

  private checkNamespaceForCreate(rt: ResourceType, namespace: string | undefined, name: string): void {
    if (!rt.namespaced || !namespace) return;
    const ns = this.store.get('/namespaces', undefined, namespace) as Namespace | undefined;
    if (!ns) throw errors.notFound({ group: '', resource: 'namespaces' }, namespace);
    if (ns.metadata.deletionTimestamp || ns.status?.phase === 'Terminating') {
      // As the NamespaceLifecycle admission plugin: the cause tells a controller to stop retrying.
      throw errors.forbidden(gr(rt), name, `unable to create new content in namespace ${namespace} because it is being terminated`, [
        { reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' },
      ]);
    }
  }

  private decodeBody(ctx: Ctx, raw: RawBody) {
    return this.decodeAs(ctx.rt, parseBody(raw), fieldValidationOf(ctx.query));
  }

  private invalid(rt: ResourceType, name: string, errs: ReturnType<typeof field.invalid>[]): ApiError {
    return errors.invalid(rt.group, rt.kind, name, errs);
  }

  // ---- create ----

  async create(ctx: Ctx, raw: RawBody): Promise<WriteResult> {
    const { obj, warnings } = this.decodeBody(ctx, raw);
    const result = this.createObject(ctx, obj);
    if (!this.isDryRun(ctx.query)) await this.store.sync();
    return { object: result, code: 201, warnings };
  }

  /** Creates `obj` (already decoded) synchronously; the caller awaits store.sync(). */
  createObject(ctx: Ctx, obj: KubeObject, managed?: (o: KubeObject) => void): KubeObject {
    const rt = ctx.rt;
    const meta = obj.metadata;
    if (rt.namespaced) {
      if (meta.namespace && ctx.namespace && meta.namespace !== ctx.namespace) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = meta.namespace || ctx.namespace;
    }
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
    if (meta.resourceVersion) throw errors.badRequest('resourceVersion should not be set on objects to be created');
    this.checkNamespaceForCreate(rt, meta.namespace, meta.name ?? '');

    const strategy = this.strategyOf(rt);
    if (!rt.custom) applyDefaults(rt.kind, obj);
    // As BeforeCreate: the uid exists before validation (a Job's selector is made of it).
    meta.uid = randomUUID();
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    strategy.prepareForCreate?.(obj);
    if (strategy.generationOf) meta.generation = 1;
    else delete meta.generation;

    let txn: Txn | undefined;
    if (rt.kind === 'Service') txn = this.prepareServiceCreate(obj as Service);
    try {
      // As upstream's create handler: managedFields first, then mutating admission (so what
      // admission sets is nobody's field), then validation.
      if (managed) managed(obj);
      else recordUpdate(undefined, obj, this.managerCtx(ctx));
      this.admit(rt, obj);
      this.writeCheck?.(ctx, obj, undefined);
      this.validateWrite(ctx, 'CREATE', '', obj, undefined);
      const errs = strategy.validate(obj);
      if (errs.length) throw this.invalid(rt, meta.name ?? '', errs);
      if (this.store.get(resourceKey(rt), rt.namespaced ? meta.namespace : undefined, meta.name!)) {
        throw errors.alreadyExists(gr(rt), meta.name!);
      }
    } catch (e) {
      txn?.revert();
      throw e;
    }
    meta.creationTimestamp = rfc3339(this.now());
    if (this.isDryRun(ctx.query)) {
      txn?.revert();
      return canonical(obj);
    }
    txn?.commit();
    return this.put(rt, canonical(obj));
  }

  /** Mutating admission of a create: DefaultIngressClass (a Create-only plugin, so never on update). */
  private admit(rt: ResourceType, obj: KubeObject): void {
    if (rt.group === 'networking.k8s.io' && rt.resource === 'ingresses') {
      admitDefaultIngressClass(obj as Ingress, () => this.store.list(resourceKey(resourceOf('networking.k8s.io', 'ingressclasses')), undefined) as IngressClass[]);
    }
  }

  private prepareServiceCreate(svc: Service): Txn {
    normalizeClusterIPs(svc);
    this.allocations.initIPFamilies(svc, undefined);
    return this.allocations.reserve(svc);
  }

  // ---- update ----

  async update(ctx: Ctx, raw: RawBody): Promise<WriteResult> {
    const { obj, warnings } = this.decodeBody(ctx, raw);
    const name = ctx.name!;
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    obj.metadata.name = name;
    const old = this.tryGet(ctx.rt, ctx.namespace, name);
    if (!old) {
      if (!this.strategyOf(ctx.rt).allowCreateOnUpdate) throw errors.notFound(gr(ctx.rt), name);
      delete obj.metadata.resourceVersion;
      const created = this.createObject(ctx, obj);
      if (!this.isDryRun(ctx.query)) await this.store.sync();
      return { object: created, code: 201, warnings };
    }
    const result = this.updateObject(ctx, obj, old);
    if (!this.isDryRun(ctx.query)) await this.store.sync();
    return { object: result, code: 200, warnings };
  }

  /**
   * Replaces `old` with `obj` through the strategy: conflict check, defaults, what the
   * update may not change, validation, allocations, generation, managedFields. A write that
   * changes nothing is not stored and keeps the old resourceVersion.
   */
  updateObject(ctx: Ctx, obj: KubeObject, old: KubeObject, opts: { managed?: boolean } = {}): KubeObject {
    const rt = ctx.rt;
    const meta = obj.metadata;
    const name = old.metadata.name!;
    if (rt.namespaced) {
      if (meta.namespace && meta.namespace !== old.metadata.namespace) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = old.metadata.namespace;
    }
    if (meta.resourceVersion && meta.resourceVersion !== old.metadata.resourceVersion) throw errors.staleConflict(gr(rt), name);
    meta.resourceVersion = old.metadata.resourceVersion;
    const strategy = this.strategyOf(rt);
    if (!rt.custom) applyDefaults(rt.kind, obj);
    meta.creationTimestamp = old.metadata.creationTimestamp;
    if (!meta.uid) meta.uid = old.metadata.uid;
    meta.deletionTimestamp = old.metadata.deletionTimestamp;
    meta.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
    if (meta.deletionTimestamp === undefined) delete meta.deletionTimestamp;
    if (meta.deletionGracePeriodSeconds === undefined) delete meta.deletionGracePeriodSeconds;
    strategy.prepareForUpdate?.(obj, old);
    if (strategy.generationOf) {
      const gen = old.metadata.generation ?? 1;
      meta.generation = sameValue(strategy.generationOf(obj), strategy.generationOf(old)) ? gen : gen + 1;
    } else delete meta.generation;

    let txn: Txn | undefined;
    if (rt.kind === 'Service') {
      const svc = obj as Service;
      carryAllocatedValues(svc, old as Service);
      normalizeClusterIPs(svc);
      this.allocations.initIPFamilies(svc, old as Service);
      txn = this.allocations.reserve(svc, old as Service);
    }
    try {
      this.writeCheck?.(ctx, obj, old);
      this.validateWrite(ctx, 'UPDATE', '', obj, old);
      const errs = strategy.validateUpdate(obj, old);
      if (errs.length) throw this.invalid(rt, name, errs);
    } catch (e) {
      txn?.revert();
      throw e;
    }
    if (!opts.managed) recordUpdate(old, obj, this.managerCtx(ctx));
    return this.commitUpdate(ctx, obj, old, txn);
  }

  private commitUpdate(ctx: Ctx, obj: KubeObject, old: KubeObject, txn: Txn | undefined): KubeObject {
    const rt = ctx.rt;
    const next = canonical(obj);
    if (sameIgnoringManagedTimes(next, old)) {
      txn?.revert();
      return old;
    }
    if (this.isDryRun(ctx.query)) {
      txn?.revert();
      return next;
    }
    txn?.commit();
    // An object being deleted goes once its last finalizer is removed.
    if (next.metadata.deletionTimestamp && !(next.metadata.finalizers ?? []).length && !this.isGracefullyDeleting(next)) {
      this.removeNow(rt, next);
      return next;
    }
    return this.put(rt, next);
  }

  private isGracefullyDeleting(o: KubeObject): boolean {
    return o.kind === 'Pod' && (o.metadata.deletionGracePeriodSeconds ?? 0) > 0;
  }

  // ---- status ----

  async updateStatus(ctx: Ctx, raw: RawBody): Promise<WriteResult> {
    const { obj, warnings } = this.decodeBody(ctx, raw);
    const result = this.writeStatus(ctx, obj);
    if (!this.isDryRun(ctx.query)) await this.store.sync();
    return { object: result, code: 200, warnings };
  }

  /** A status write: only `status` (and managedFields) of the new object is taken. */
  writeStatus(ctx: Ctx, obj: KubeObject): KubeObject {
    const rt = ctx.rt;
    const name = ctx.name!;
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    const old = this.get(rt, ctx.namespace, name);
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== old.metadata.resourceVersion) throw errors.staleConflict(gr(rt), name);
    const next: KubeObject = { ...structuredClone(old), status: obj.status };
    if (obj.status === undefined) delete next.status;
    if (rt.kind === 'Service') applyDefaults('Service', next);
    const strategy = this.strategyOf(rt);
    this.validateWrite(ctx, 'UPDATE', 'status', next, old);
    const errs = strategy.validateStatusUpdate?.(next, old) ?? [];
    if (errs.length) throw this.invalid(rt, name, errs);
    recordUpdate(old, next, this.managerCtx(ctx, 'status'));
    return this.commitUpdate(ctx, next, old, undefined);
  }

  // ---- ephemeral containers ----

  async updateEphemeralContainers(ctx: Ctx, raw: RawBody): Promise<WriteResult> {
    const { obj, warnings } = this.decodeBody(ctx, raw);
    const result = this.writeEphemeralContainers(ctx, obj);
    if (!this.isDryRun(ctx.query)) await this.store.sync();
    return { object: result, code: 200, warnings };
  }

  /** A pods/ephemeralcontainers write: only spec.ephemeralContainers of the new pod is taken. */
  writeEphemeralContainers(ctx: Ctx, obj: KubeObject): KubeObject {
    const rt = ctx.rt;
    const name = ctx.name!;
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    const old = this.get(rt, ctx.namespace, name) as Pod;
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== old.metadata.resourceVersion) throw errors.staleConflict(gr(rt), name);
    const next = structuredClone(old);
    const ecs = (obj as Pod).spec?.ephemeralContainers;
    if (ecs === undefined) delete next.spec.ephemeralContainers;
    else next.spec.ephemeralContainers = structuredClone(ecs);
    applyDefaults('Pod', next);
    const errs = validatePodEphemeralContainersUpdate(next, old);
    if (errs.length) throw this.invalid(rt, name, errs);
    recordUpdate(old, next, this.managerCtx(ctx, 'ephemeralcontainers'));
    return this.commitUpdate(ctx, next, old, undefined);
  }

  // ---- patch ----

  async patch(ctx: Ctx, raw: RawBody, subresource?: 'status' | 'ephemeralcontainers'): Promise<WriteResult> {
    const pt = mediaType(raw.contentType);
    if (!(patchTypes as readonly string[]).includes(pt)) throw errors.unsupportedMediaType(ctx.rt.custom ? customPatchTypes : patchTypes);
    // Custom kinds have no Go struct to read patch strategies from: upstream refuses strategic merge.
    if (ctx.rt.custom && pt === 'application/strategic-merge-patch+json') throw errors.unsupportedMediaType(customPatchTypes);
    const force = ctx.query.get('force');
    if (pt !== 'application/apply-patch+yaml' && force !== null) {
      throw errors.invalid('meta.k8s.io', 'PatchOptions', '', [field.forbidden(Path.root('force'), 'may not be specified for non-apply patch')]);
    }
    if (pt === 'application/apply-patch+yaml') {
      if (subresource === 'ephemeralcontainers') throw errors.unsupportedMediaType(patchTypes.filter((t) => t !== pt));
      return this.apply(ctx, raw, queryBool(ctx.query, 'force'), subresource);
    }
    const old = this.get(ctx.rt, ctx.namespace, ctx.name!);
    // ephemeralContainers merge by name, as in the Pod's own patches
    const patched = this.applyPatch(pt, old, raw, subresource === 'status' ? undefined : ctx.rt.model);
    const { obj, warnings } = this.decodeAs(ctx.rt, patched, fieldValidationOf(ctx.query));
    obj.metadata.name = ctx.name;
    const result = subresource === 'status' ? this.writeStatus(ctx, obj) : subresource === 'ephemeralcontainers' ? this.writeEphemeralContainers(ctx, obj) : this.updateObject(ctx, obj, old);
    if (!this.isDryRun(ctx.query)) await this.store.sync();
    return { object: result, code: 200, warnings };
  }

  /** Applies a JSON, merge or strategic patch to a copy of `target`; errors as upstream reports them. */
  applyPatch(pt: string, target: unknown, raw: RawBody, model: string | undefined): unknown {
    let body: unknown;
    try {
      body = JSON.parse(raw.text);
    } catch (e) {
      throw errors.badRequest(`error decoding patch: ${(e as Error).message}`);
    }
    try {
      switch (pt) {
        case 'application/json-patch+json':
          return jsonPatch(target, body);
        case 'application/merge-patch+json':
          if (!isObject(body)) throw errors.badRequest('error decoding patch: json: cannot unmarshal into Go value of type map[string]interface {}');
          return mergePatch(structuredClone(target), body);
        default:
          if (!isObject(body)) throw errors.badRequest('error decoding patch: json: cannot unmarshal into Go value of type map[string]interface {}');
          return strategicMerge(target, body, model);
      }
    } catch (e) {
      if (e instanceof PatchError) {
        // Upstream answers a JSON patch that does not apply with a generic 422: its own error is not shown.
        // (A body that is no list of operations does not decode: 400 with the decoder's words.)
        if (pt === 'application/json-patch+json' && Array.isArray(body)) throw errors.generic(422);
        throw errors.badRequest(e.message);
      }
      throw e;
    }
  }

  private async apply(ctx: Ctx, raw: RawBody, force: boolean, subresource?: 'status'): Promise<WriteResult> {
    const rt = ctx.rt;
    if (!ctx.query.get('fieldManager')) {
      throw errors.invalid('meta.k8s.io', 'PatchOptions', '', [field.required(Path.root('fieldManager'), 'is required for apply patch')]);
    }
    const parsed = parseBody({ text: raw.text, contentType: 'application/yaml' });
    const strictness = fieldValidationOf(ctx.query);
    const decoded = this.decodeAs(rt, parsed, 'Ignore');
    const unknown = decoded.unknown;
    const warnings: string[] = [];
    if (unknown.length) {
      const msg = unknown.map((u) => `.${u}: field not declared in schema`).join(', ');
      if (strictness === 'Strict') {
        throw errors.badRequest(`failed to create typed patch object (${rt.group ? `${rt.group}/` : '/'}${rt.version}, Kind=${rt.kind}): ${msg}`);
      }
      if (strictness === 'Warn') warnings.push(...unknown.map((u) => `unknown field ${JSON.stringify(u)}`));
    }
    const applied = decoded.obj;
    if (applied.metadata.name && applied.metadata.name !== ctx.name) {
      throw errors.badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${ctx.name})`);
    }
    applied.metadata.name = ctx.name;
    if (rt.namespaced) applied.metadata.namespace ??= ctx.namespace;
    const mctx = this.managerCtx(ctx, subresource);
    const live = this.tryGet(rt, ctx.namespace, ctx.name!);
    let result: KubeObject;
    let code: 200 | 201 = 200;
    if (!live) {
      if (subresource) throw errors.notFound(gr(rt), ctx.name!);
      const created = serverSideApply(undefined, applied, mctx, { force }, gr(rt));
      result = this.createObject(ctx, created, () => {});
      code = 201;
    } else {
      const merged = serverSideApply(live, applied, mctx, { force }, gr(rt));
      merged.metadata.resourceVersion = applied.metadata.resourceVersion ?? live.metadata.resourceVersion;
      result = subresource === 'status' ? this.writeStatus(ctx, merged) : this.updateObject(ctx, merged, live, { managed: true });
    }
    if (!this.isDryRun(ctx.query)) await this.store.sync();
    return { object: result, code, warnings };
  }

  // ---- scale ----

  getScale(ctx: Ctx): KubeObject {
    return this.scaleOfAny(ctx.rt, this.get(ctx.rt, ctx.namespace, ctx.name!));
  }

  private scaleOfAny(rt: ResourceType, owner: KubeObject): KubeObject {
    return (rt.custom && this.kinds?.scaleOf(rt, owner)) || scaleOf(owner);
  }

  async updateScale(ctx: Ctx, raw: RawBody, patchType?: string): Promise<WriteResult> {
    const owner = this.get(ctx.rt, ctx.namespace, ctx.name!);
    const current = this.scaleOfAny(ctx.rt, owner);
    let scaleObj: unknown;
    if (patchType) {
      if (!(patchTypes as readonly string[]).includes(patchType) || patchType === 'application/apply-patch+yaml') throw errors.unsupportedMediaType(patchTypes.slice(0, 3));
      scaleObj = this.applyPatch(patchType, current, raw, 'V1Scale');
    } else scaleObj = parseBody(raw);
    const scaleRt: ResourceType = { ...ctx.rt, group: 'autoscaling', version: 'v1', kind: 'Scale', model: 'V1Scale' };
    const { obj: scale } = decodeFor(scaleRt, scaleObj, fieldValidationOf(ctx.query));
    const replicas = (scale.spec as { replicas?: number } | undefined)?.replicas ?? 0;
    if (replicas < 0) {
      throw errors.invalid('autoscaling', 'Scale', ctx.name!, [field.invalid(Path.root('spec', 'replicas'), replicas, 'must be greater than or equal to 0')]);
    }
    if (scale.metadata.resourceVersion && scale.metadata.resourceVersion !== owner.metadata.resourceVersion) throw errors.staleConflict(gr(ctx.rt), ctx.name!);
    const next = ctx.rt.custom && this.kinds ? this.kinds.withReplicas(ctx.rt, owner, replicas) : structuredClone(owner);
    if (!ctx.rt.custom) (next.spec as { replicas?: number }).replicas = replicas;
    const mctx: Ctx = { ...ctx };
    const updated = this.updateObject(mctx, next, owner);
    if (!this.isDryRun(ctx.query)) await this.store.sync();
    return { object: this.scaleOfAny(ctx.rt, updated), code: 200, warnings: [] };
  }

  // ---- pods/binding ----

  async bind(ctx: Ctx, raw: RawBody): Promise<Status> {
    const body = parseBody(raw);
    const target = isObject(body) && isObject(body.target) ? body.target : {};
    const nodeName = typeof target.name === 'string' ? target.name : '';
    const errs = [];
    if (target.kind !== undefined && target.kind !== '' && target.kind !== 'Node') errs.push(field.notSupported(Path.root('target', 'kind'), target.kind, ['Node', '<empty>']));
    if (!nodeName) errs.push(field.required(Path.root('target', 'name')));
    if (errs.length) throw errors.invalid('', 'Binding', ctx.name!, errs);
    const pod = this.get(ctx.rt, ctx.namespace, ctx.name!) as Pod;
    const bindingGr = { group: '', resource: 'pods/binding' };
    if (pod.metadata.deletionTimestamp) throw errors.conflict(bindingGr, ctx.name!, `pod ${ctx.name} is being deleted, cannot be assigned to a host`);
    if (pod.spec.nodeName) throw errors.conflict(bindingGr, ctx.name!, `pod ${ctx.name} is already assigned to node ${JSON.stringify(pod.spec.nodeName)}`);
    const next = structuredClone(pod);
    next.spec.nodeName = nodeName;
    next.status ??= {};
    const conds = (next.status.conditions ??= []);
    const sched = conds.find((c) => c.type === 'PodScheduled');
    const cond = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: rfc3339(this.now()) };
    if (sched) Object.assign(sched, cond);
    else conds.push(cond);
    recordUpdate(pod, next, this.managerCtx(ctx));
    this.put(ctx.rt, canonical(next));
    await this.store.sync();
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
  }

  // ---- delete ----

  async delete(ctx: Ctx, opts: DeleteOptions): Promise<DeleteResult> {
    if (this.validate && ctx.user) {
      const old = this.tryGet(ctx.rt, ctx.namespace, ctx.name!);
      if (old) this.validateWrite(ctx, 'DELETE', '', undefined, old);
    }
    const r = this.deleteObject(ctx.rt, ctx.namespace, ctx.name!, opts);
    if (!opts.dryRun?.includes('All')) await this.store.sync();
    return r;
  }

  /** Deletes synchronously (see delete); used by the built-in controllers too. */
  deleteObject(rt: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions): DeleteResult {
    for (const d of opts.dryRun ?? []) if (d !== 'All') throw errors.badRequest(`Invalid dry run value: ${d}`);
    const dryRun = (opts.dryRun ?? []).includes('All');
    const obj = this.get(rt, namespace, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== obj.metadata.uid) {
      throw errors.conflict(gr(rt), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
      throw errors.conflict(gr(rt), name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`);
    }
    if (rt.kind === 'Namespace') return this.deleteNamespace(obj as Namespace, dryRun);

    const next = structuredClone(obj);
    const nowMs = this.now();
    if (rt.kind === 'Pod') {
      const pod = next as Pod;
      const phase = pod.status?.phase;
      const grace = opts.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
      const terminal = phase === 'Succeeded' || phase === 'Failed';
      if (pod.spec.nodeName && !terminal && grace > 0) {
        const cur = pod.metadata.deletionGracePeriodSeconds;
        if (cur !== undefined && cur <= grace) return { body: obj, gone: false };
        pod.metadata.deletionTimestamp = rfc3339(nowMs + grace * 1000);
        pod.metadata.deletionGracePeriodSeconds = grace;
        if (dryRun) return { body: canonical(pod), gone: false };
        return { body: this.put(rt, canonical(pod)), gone: false };
      }
    }
    const policy = opts.propagationPolicy ?? (opts.orphanDependents === true ? 'Orphan' : 'Background');
    const finalizers = [...(next.metadata.finalizers ?? [])];
    const add = (f: string) => {
      if (!finalizers.includes(f)) finalizers.push(f);
    };
    if (policy === 'Orphan') add('orphan');
    if (policy === 'Foreground') add('foregroundDeletion');
    if (finalizers.length) {
      next.metadata.finalizers = finalizers;
      if (!next.metadata.deletionTimestamp) {
        next.metadata.deletionTimestamp = rfc3339(nowMs);
        next.metadata.deletionGracePeriodSeconds = 0;
      } else if (rt.kind === 'Pod' && (next.metadata.deletionGracePeriodSeconds ?? 0) > 0) {
        // A pod ended (its kubelet's grace-0 delete) but held by finalizers: it goes once they do.
        next.metadata.deletionTimestamp = rfc3339(nowMs);
        next.metadata.deletionGracePeriodSeconds = 0;
      }
      if (dryRun) return { body: canonical(next), gone: false };
      if (sameValue(next, obj)) return { body: obj, gone: false };
      return { body: this.put(rt, canonical(next)), gone: false };
    }
    if (dryRun) return { body: this.deletedBody(rt, obj), gone: true };
    const last = this.removeNow(rt, obj);
    return { body: this.deletedBody(rt, last), gone: true };
  }

  private deletedBody(rt: ResourceType, obj: KubeObject): KubeObject | Status {
    if (returnsDeletedObject.has(rt.kind)) return obj;
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: obj.metadata.name, ...(rt.group ? { group: rt.group } : {}), kind: rt.resource, uid: obj.metadata.uid },
    } as unknown as Status;
  }

  /** Removes an object now, releasing what it held. */
  removeNow(rt: ResourceType, obj: KubeObject): KubeObject {
    const last = this.store.remove(resourceKey(rt), obj.metadata.namespace, obj.metadata.name!) ?? obj;
    if (rt.kind === 'Service') this.allocations.release(obj as Service);
    return last;
  }

  private deleteNamespace(ns: Namespace, dryRun: boolean): DeleteResult {
    const name = ns.metadata.name!;
    if (immortalNamespaces.has(name)) {
      throw errors.forbidden({ group: '', resource: 'namespaces' }, name, 'this namespace may not be deleted');
    }
    if (ns.metadata.deletionTimestamp) return { body: ns, gone: false };
    const next = structuredClone(ns);
    next.metadata.deletionTimestamp = rfc3339(this.now());
    next.metadata.deletionGracePeriodSeconds = 0;
    next.status = { ...(next.status ?? {}), phase: 'Terminating' };
    if (dryRun) return { body: canonical(next), gone: false };
    const rt = resourceOf('', 'namespaces');
    if (!(next.spec?.finalizers ?? []).length && !(next.metadata.finalizers ?? []).length) {
      return { body: this.removeNow(rt, next), gone: true };
    }
    return { body: this.put(rt, canonical(next)), gone: false };
  }

  /** namespaces/{name}/finalize: replaces spec.finalizers; a deleting namespace with none left goes. */
  async finalizeNamespace(ctx: Ctx, raw: RawBody): Promise<WriteResult> {
    const { obj } = this.decodeBody(ctx, raw);
    const result = this.setNamespaceFinalizers(ctx.name!, (obj as Namespace).spec?.finalizers ?? []);
    await this.store.sync();
    return { object: result, code: 200, warnings: [] };
  }

  setNamespaceFinalizers(name: string, finalizers: string[]): KubeObject {
    const rt = resourceOf('', 'namespaces');
    const old = this.get(rt, undefined, name) as Namespace;
    const next = structuredClone(old);
    next.spec = { ...(next.spec ?? {}), finalizers };
    if (next.metadata.deletionTimestamp && finalizers.length === 0 && !(next.metadata.finalizers ?? []).length) {
      return this.removeNow(rt, next);
    }
    if (sameValue(next, old)) return old;
    return this.put(rt, canonical(next));
  }

  async deleteCollection(ctx: Ctx, opts: DeleteOptions): Promise<KubeObject[]> {
    const { items } = this.list(ctx.rt, ctx.namespace, ctx.query);
    const out: KubeObject[] = [];
    for (const o of items) {
      try {
        const r = this.deleteObject(ctx.rt, o.metadata.namespace, o.metadata.name!, opts);
        if (!('status' in r.body && (r.body as Status).kind === 'Status')) out.push(r.body as KubeObject);
        else out.push(o);
      } catch (e) {
        if ((e as ApiError).code !== 404) throw e;
      }
    }
    if (!opts.dryRun?.includes('All')) await this.store.sync();
    return out;
  }

  /** Removes a finalizer from an object (used by the garbage collector). */
  removeFinalizer(rt: ResourceType, obj: KubeObject, finalizer: string): void {
    const cur = this.tryGet(rt, obj.metadata.namespace, obj.metadata.name!);
    if (!cur || !(cur.metadata.finalizers ?? []).includes(finalizer)) return;
    const next = structuredClone(cur);
    next.metadata.finalizers = (next.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    if (!next.metadata.finalizers.length) delete next.metadata.finalizers;
    const ctx: Ctx = { rt, namespace: obj.metadata.namespace, name: obj.metadata.name, query: new URLSearchParams(), userAgent: 'garbage-collector' };
    this.commitUpdate(ctx, next, cur, undefined);
  }

  /** Writes `next` over the stored object as an internal controller would (no validation). */
  writeInternal(rt: ResourceType, next: KubeObject, manager: string): KubeObject {
    const cur = this.get(rt, next.metadata.namespace, next.metadata.name!);
    const ctx: Ctx = { rt, namespace: next.metadata.namespace, name: next.metadata.name, query: new URLSearchParams(), userAgent: manager };
    recordUpdate(cur, next, this.managerCtx(ctx));
    return this.commitUpdate(ctx, next, cur, undefined);
  }
}

export function scaleOf(owner: KubeObject): KubeObject {
  const spec = (owner.spec ?? {}) as { replicas?: number; selector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } };
  const status = (owner.status ?? {}) as { replicas?: number };
  const m = owner.metadata;
  let selector = '';
  try {
    selector = selectorString(fromLabelSelector(spec.selector as never));
  } catch {
    // an unparsable selector shows as empty, as upstream's conversion leaves it
  }
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector },
  };
}


/** Two objects equal except for managedFields timestamps (a no-op write). */
function sameIgnoringManagedTimes(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => ({
    ...o,
    metadata: { ...o.metadata, resourceVersion: undefined, managedFields: o.metadata.managedFields?.map((e) => ({ ...e, time: undefined })) },
  });
  return sameValue(strip(a), strip(b));
}

