// ObjectMeta, labels, annotations and LabelSelector validation
// (apimachinery pkg/api/validation/objectmeta.go and pkg/apis/meta/v1/validation).
import { field, GoRepr, Path, type FieldError } from '../errors.ts';
import type { LabelSelector, ObjectMeta } from '../types.ts';
import { isDNS1123Label, isQualifiedName, isValidLabelValue, type NameFn } from './names.ts';

export function validateLabelName(name: string, p: Path): FieldError[] {
  return isQualifiedName(name).map((m) => field.invalid(p, name, m));
}

export function validateLabels(labels: Record<string, string> | undefined, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    errs.push(...validateLabelName(k, p));
    for (const m of isValidLabelValue(v)) errs.push(field.invalid(p, v, m));
  }
  return errs;
}

const totalAnnotationSizeLimit = 256 * 1024;

export function validateAnnotations(annotations: Record<string, string> | undefined, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(field.invalid(p, k, m));
    size += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (size > totalAnnotationSizeLimit) errs.push(field.tooLong(p, '', totalAnnotationSizeLimit));
  return errs;
}

export function validateNonnegative(value: number | undefined, p: Path): FieldError[] {
  return (value ?? 0) < 0 ? [field.invalid(p, value, 'must be greater than or equal to 0')] : [];
}

function validateOwnerReferences(refs: ObjectMeta['ownerReferences'], p: Path): FieldError[] {
  const errs: FieldError[] = [];
  let firstController = '';
  for (const ref of refs ?? []) {
    const version = (ref.apiVersion ?? '').split('/').pop() ?? '';
    if (!version) errs.push(field.invalid(p.child('apiVersion'), ref.apiVersion ?? '', 'version must not be empty'));
    if (!ref.kind) errs.push(field.invalid(p.child('kind'), ref.kind ?? '', 'must not be empty'));
    if (!ref.name) errs.push(field.invalid(p.child('name'), ref.name ?? '', 'must not be empty'));
    if (!ref.uid) errs.push(field.invalid(p.child('uid'), ref.uid ?? '', 'must not be empty'));
    if (ref.apiVersion === 'v1' && ref.kind === 'Event') {
      errs.push(field.invalid(p, new GoRepr(`v1.OwnerReference{APIVersion:"v1", Kind:"Event", Name:${JSON.stringify(ref.name)}}`), '/v1, Kind=Event is disallowed from being an owner'));
    }
    if (ref.controller) {
      const cur = `${ref.kind}/${ref.name}`;
      if (firstController) {
        errs.push(field.invalid(p, new GoRepr('[]v1.OwnerReference{...}'), `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${cur}`));
      } else firstController = cur;
    }
  }
  return errs;
}

function validateFinalizers(finalizers: string[] | undefined, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of finalizers ?? []) for (const m of isQualifiedName(f)) errs.push(field.invalid(p, f, m));
  const list = finalizers ?? [];
  if (list.includes('orphan') && list.includes('foregroundDeletion')) {
    errs.push(field.invalid(p, list, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  return errs;
}

export function validateNamespaceName(name: string, prefix: boolean): string[] {
  return isDNS1123Label(prefix && name.endsWith('-') ? `${name.slice(0, -1)}a` : name);
}

/** ValidateObjectMeta: name (or generateName), namespace scope, labels, annotations, owners, finalizers. */
export function validateObjectMeta(meta: ObjectMeta, namespaced: boolean, nameFn: NameFn, p: Path = Path.root('metadata')): FieldError[] {
  const errs: FieldError[] = [];
  if (meta.generateName) for (const m of nameFn(meta.generateName, true)) errs.push(field.invalid(p.child('generateName'), meta.generateName, m));
  if (!meta.name) errs.push(field.required(p.child('name'), 'name or generateName is required'));
  else for (const m of nameFn(meta.name, false)) errs.push(field.invalid(p.child('name'), meta.name, m));
  if (namespaced) {
    if (!meta.namespace) errs.push(field.required(p.child('namespace')));
    else for (const m of validateNamespaceName(meta.namespace, false)) errs.push(field.invalid(p.child('namespace'), meta.namespace, m));
  } else if (meta.namespace) {
    errs.push(field.forbidden(p.child('namespace'), 'not allowed on this type'));
  }
  errs.push(...validateNonnegative(meta.generation, p.child('generation')));
  errs.push(...validateLabels(meta.labels, p.child('labels')));
  errs.push(...validateAnnotations(meta.annotations, p.child('annotations')));
  errs.push(...validateOwnerReferences(meta.ownerReferences, p.child('ownerReferences')));
  errs.push(...validateFinalizers(meta.finalizers, p.child('finalizers')));
  return errs;
}

function immutable(newV: unknown, oldV: unknown, p: Path): FieldError[] {
  return JSON.stringify(newV ?? null) === JSON.stringify(oldV ?? null) ? [] : [field.invalid(p, newV ?? null, 'field is immutable')];
}

export function validateImmutableField(newV: unknown, oldV: unknown, p: Path): FieldError[] {
  return immutable(newV, oldV, p);
}

/** ValidateObjectMetaUpdate. */
export function validateObjectMetaUpdate(n: ObjectMeta, o: ObjectMeta, p: Path = Path.root('metadata')): FieldError[] {
  const errs: FieldError[] = [];
  if (o.deletionTimestamp) {
    const extra = (n.finalizers ?? []).filter((f) => !(o.finalizers ?? []).includes(f)).sort();
    if (extra.length) {
      errs.push(field.forbidden(p.child('finalizers'), `no new finalizers can be added if the object is being deleted, found new finalizers []string{${extra.map((f) => JSON.stringify(f)).join(', ')}}`));
    }
  }
  if (!n.resourceVersion) errs.push(field.invalid(p.child('resourceVersion'), n.resourceVersion ?? '', 'must be specified for an update'));
  if ((n.generation ?? 0) < (o.generation ?? 0)) errs.push(field.invalid(p.child('generation'), n.generation ?? 0, 'must not be decremented'));
  errs.push(...immutable(n.name, o.name, p.child('name')));
  errs.push(...immutable(n.namespace, o.namespace, p.child('namespace')));
  errs.push(...immutable(n.uid, o.uid, p.child('uid')));
  errs.push(...immutable(n.creationTimestamp, o.creationTimestamp, p.child('creationTimestamp')));
  errs.push(...immutable(n.deletionTimestamp, o.deletionTimestamp, p.child('deletionTimestamp')));
  errs.push(...immutable(n.deletionGracePeriodSeconds, o.deletionGracePeriodSeconds, p.child('deletionGracePeriodSeconds')));
  errs.push(...validateLabels(n.labels, p.child('labels')));
  errs.push(...validateAnnotations(n.annotations, p.child('annotations')));
  errs.push(...validateOwnerReferences(n.ownerReferences, p.child('ownerReferences')));
  errs.push(...validateFinalizers(n.finalizers, p.child('finalizers')));
  return errs;
}

/** ValidateLabelSelector (metav1). */
export function validateLabelSelector(ls: LabelSelector | undefined, p: Path): FieldError[] {
  if (!ls) return [];
  const errs: FieldError[] = [];
  (ls.matchExpressions ?? []).forEach((r, i) => {
    const rp = p.child('matchExpressions').index(i);
    switch (r.operator) {
      case 'In':
      case 'NotIn':
        if (!r.values?.length) errs.push(field.required(rp.child('values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (r.values?.length) errs.push(field.forbidden(rp.child('values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      default:
        errs.push(field.invalid(rp.child('operator'), r.operator, 'not a valid selector operator'));
    }
    errs.push(...validateLabelName(r.key, rp.child('key')));
    (r.values ?? []).forEach((v, j) => {
      for (const m of isValidLabelValue(v)) errs.push(field.invalid(rp.child('values').index(j), v, m));
    });
  });
  errs.push(...validateLabels(ls.matchLabels, p.child('matchLabels')));
  return errs;
}

/** How Go's %#v prints a *metav1.LabelSelector in "field is immutable" and similar messages. */
export function labelSelectorRepr(ls: LabelSelector | undefined): GoRepr {
  if (!ls) return new GoRepr('(*v1.LabelSelector)(nil)');
  const ml = ls.matchLabels
    ? `map[string]string{${Object.entries(ls.matchLabels)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
        .join(', ')}}`
    : 'map[string]string(nil)';
  const me = ls.matchExpressions?.length
    ? `[]v1.LabelSelectorRequirement{${ls.matchExpressions
        .map((r) => `v1.LabelSelectorRequirement{Key:${JSON.stringify(r.key)}, Operator:${JSON.stringify(r.operator)}, Values:${r.values ? `[]string{${r.values.map((v) => JSON.stringify(v)).join(', ')}}` : '[]string(nil)'}}`)
        .join(', ')}}`
    : '[]v1.LabelSelectorRequirement(nil)';
  return new GoRepr(`v1.LabelSelector{MatchLabels:${ml}, MatchExpressions:${me}}`);
}
