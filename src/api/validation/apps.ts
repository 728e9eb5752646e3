// Validation of apps/v1 Deployment, ReplicaSet, DaemonSet and ControllerRevision (kubernetes pkg/apis/apps/validation).
import { sameValue } from '../fieldset.ts';
import { field, GoRepr, Path, type FieldError } from '../errors.ts';
import { fromLabelSelector, matches } from '../labels.ts';
import type { ControllerRevision, DaemonSet, Deployment, IntOrString, LabelSelector, PodTemplateSpec, ReplicaSet } from '../types.ts';
import { intOrStringRepr, validatePodTemplateSpec } from './core.ts';
import { labelSelectorRepr, validateImmutableField, validateLabelSelector, validateNonnegative, validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { isValidPercent, nameIsDNSSubdomain } from './names.ts';

function percentValue(v: IntOrString | undefined): number | undefined {
  if (typeof v !== 'string' || isValidPercent(v).length) return undefined;
  return Number(v.slice(0, -1));
}

function intOrPercentValue(v: IntOrString | undefined): number {
  const pct = percentValue(v);
  if (pct !== undefined) return pct;
  return typeof v === 'number' ? v : 0;
}

function validatePositiveIntOrPercent(v: IntOrString | undefined, p: Path): FieldError[] {
  if (typeof v === 'string') return isValidPercent(v).map((m) => field.invalid(p, intOrStringRepr(v), m));
  return validateNonnegative(v ?? 0, p);
}

function notMoreThan100Percent(v: IntOrString | undefined, p: Path): FieldError[] {
  const pct = percentValue(v);
  return pct !== undefined && pct > 100 ? [field.invalid(p, intOrStringRepr(v), 'must not be greater than 100%')] : [];
}

function validateSelectorAndTemplate(
  selector: LabelSelector | undefined,
  template: PodTemplateSpec | undefined,
  kind: 'deployment' | 'ReplicaSet',
  spec: Path,
): FieldError[] {
  const errs: FieldError[] = [];
  if (!selector) errs.push(field.required(spec.child('selector')));
  else {
    errs.push(...validateLabelSelector(selector, spec.child('selector')));
    if (Object.keys(selector.matchLabels ?? {}).length + (selector.matchExpressions?.length ?? 0) === 0) {
      errs.push(field.invalid(spec.child('selector'), labelSelectorRepr(selector), `empty selector is invalid for ${kind}`));
    }
  }
  let sel;
  try {
    sel = fromLabelSelector(selector);
  } catch {
    errs.push(field.invalid(spec.child('selector'), labelSelectorRepr(selector), 'invalid label selector'));
  }
  const tp = spec.child('template');
  if (!template) {
    errs.push(field.required(tp));
    return errs;
  }
  // A missing selector matches nothing (labels.Nothing is not Empty), so the template is reported too.
  if (sel && (sel.nothing || sel.requirements.length) && !matches(sel, template.metadata?.labels)) {
    errs.push(field.invalid(tp.child('metadata', 'labels'), template.metadata?.labels ?? {}, '`selector` does not match template `labels`'));
  }
  errs.push(...validatePodTemplateSpec(template, tp));
  const rp = template.spec?.restartPolicy ?? '';
  if (rp !== 'Always') errs.push(field.notSupported(tp.child('spec', 'restartPolicy'), rp, ['Always']));
  if (template.spec?.activeDeadlineSeconds !== undefined) {
    errs.push(field.forbidden(tp.child('spec', 'activeDeadlineSeconds'), 'activeDeadlineSeconds in ReplicaSet is not Supported'));
  }
  return errs;
}

function validateDeploymentSpec(d: Deployment): FieldError[] {
  const spec = d.spec ?? ({} as Deployment['spec']);
  const sp = Path.root('spec');
  const errs: FieldError[] = [];
  errs.push(...validateNonnegative(spec.replicas ?? 0, sp.child('replicas')));
  errs.push(...validateSelectorAndTemplate(spec.selector, spec.template, 'deployment', sp));
  const strat = spec.strategy ?? {};
  const stp = sp.child('strategy');
  switch (strat.type) {
    case 'Recreate':
      if (strat.rollingUpdate !== undefined) errs.push(field.forbidden(stp.child('rollingUpdate'), "may not be specified when strategy `type` is 'Recreate'"));
      break;
    case 'RollingUpdate': {
      const ru = strat.rollingUpdate;
      if (!ru) errs.push(field.required(stp.child('rollingUpdate'), 'this should be defaulted and never be nil'));
      else {
        const rp = stp.child('rollingUpdate');
        errs.push(...validatePositiveIntOrPercent(ru.maxUnavailable, rp.child('maxUnavailable')));
        errs.push(...validatePositiveIntOrPercent(ru.maxSurge, rp.child('maxSurge')));
        if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
          errs.push(field.invalid(rp.child('maxUnavailable'), intOrStringRepr(ru.maxUnavailable), 'may not be 0 when `maxSurge` is 0'));
        }
        errs.push(...notMoreThan100Percent(ru.maxUnavailable, rp.child('maxUnavailable')));
      }
      break;
    }
    default:
      errs.push(
        field.notSupported(stp, new GoRepr(`apps.DeploymentStrategy{Type:${JSON.stringify(strat.type ?? '')}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}`), ['Recreate', 'RollingUpdate']),
      );
  }
  errs.push(...validateNonnegative(spec.minReadySeconds ?? 0, sp.child('minReadySeconds')));
  if (spec.revisionHistoryLimit !== undefined) errs.push(...validateNonnegative(spec.revisionHistoryLimit, sp.child('revisionHistoryLimit')));
  if (spec.progressDeadlineSeconds !== undefined) {
    errs.push(...validateNonnegative(spec.progressDeadlineSeconds, sp.child('progressDeadlineSeconds')));
    if (spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0)) {
      errs.push(field.invalid(sp.child('progressDeadlineSeconds'), spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
    }
  }
  return errs;
}

export function validateDeployment(d: Deployment): FieldError[] {
  return [...validateObjectMeta(d.metadata, true, nameIsDNSSubdomain), ...validateDeploymentSpec(d)];
}

export function validateDeploymentUpdate(d: Deployment, old: Deployment): FieldError[] {
  const errs = [...validateObjectMetaUpdate(d.metadata, old.metadata), ...validateDeploymentSpec(d)];
  if (JSON.stringify(d.spec?.selector ?? null) !== JSON.stringify(old.spec?.selector ?? null)) {
    errs.push(field.invalid(Path.root('spec').child('selector'), labelSelectorRepr(d.spec?.selector), 'field is immutable'));
  }
  return errs;
}

function validateStatusCounts(status: Record<string, unknown> | undefined, fields: string[]): FieldError[] {
  const errs: FieldError[] = [];
  const sp = Path.root('status');
  const n = (k: string) => (typeof status?.[k] === 'number' ? (status[k] as number) : 0);
  for (const f of fields) errs.push(...validateNonnegative(n(f), sp.child(f)));
  const msg = 'cannot be greater than status.replicas';
  for (const f of ['updatedReplicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas']) {
    if (fields.includes(f) && n(f) > n('replicas')) errs.push(field.invalid(sp.child(f), n(f), msg));
  }
  if (n('availableReplicas') > n('readyReplicas')) errs.push(field.invalid(sp.child('availableReplicas'), n('availableReplicas'), 'cannot be greater than readyReplicas'));
  return errs;
}

export function validateDeploymentStatusUpdate(d: Deployment, old: Deployment): FieldError[] {
  return [
    ...validateObjectMetaUpdate(d.metadata, old.metadata),
    ...validateStatusCounts(d.status as Record<string, unknown>, ['observedGeneration', 'replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas']),
  ];
}

function validateReplicaSetSpec(rs: ReplicaSet): FieldError[] {
  const spec = rs.spec ?? ({} as ReplicaSet['spec']);
  const sp = Path.root('spec');
  const errs: FieldError[] = [];
  errs.push(...validateNonnegative(spec.replicas ?? 0, sp.child('replicas')));
  errs.push(...validateNonnegative(spec.minReadySeconds ?? 0, sp.child('minReadySeconds')));
  errs.push(...validateSelectorAndTemplate(spec.selector, spec.template, 'ReplicaSet', sp));
  return errs;
}

export function validateReplicaSet(rs: ReplicaSet): FieldError[] {
  return [...validateObjectMeta(rs.metadata, true, nameIsDNSSubdomain), ...validateReplicaSetSpec(rs)];
}

export function validateReplicaSetUpdate(rs: ReplicaSet, old: ReplicaSet): FieldError[] {
  const errs = [...validateObjectMetaUpdate(rs.metadata, old.metadata), ...validateReplicaSetSpec(rs)];
  errs.push(...validateImmutableField(rs.spec?.selector, old.spec?.selector, Path.root('spec').child('selector')).map((e) => ({ ...e, badValue: labelSelectorRepr(rs.spec?.selector) })));
  return errs;
}

export function validateReplicaSetStatusUpdate(rs: ReplicaSet, old: ReplicaSet): FieldError[] {
  return [
    ...validateObjectMetaUpdate(rs.metadata, old.metadata),
    ...validateStatusCounts(rs.status as Record<string, unknown>, ['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration']),
  ];
}

// ---- DaemonSet (ValidateDaemonSet, ValidateDaemonSetUpdate, ValidateDaemonSetStatusUpdate) ----

function validateRollingUpdateDaemonSet(ru: { maxUnavailable?: IntOrString; maxSurge?: IntOrString }, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...validatePositiveIntOrPercent(ru.maxUnavailable, p.child('maxUnavailable')));
  errs.push(...validatePositiveIntOrPercent(ru.maxSurge, p.child('maxSurge')));
  errs.push(...notMoreThan100Percent(ru.maxUnavailable, p.child('maxUnavailable')));
  errs.push(...notMoreThan100Percent(ru.maxSurge, p.child('maxSurge')));
  // exactly one of them non-zero
  const hasUnavailable = intOrPercentValue(ru.maxUnavailable) !== 0;
  const hasSurge = intOrPercentValue(ru.maxSurge) !== 0;
  if (hasUnavailable && hasSurge) errs.push(field.invalid(p.child('maxSurge'), intOrStringRepr(ru.maxSurge), 'may not be set when maxUnavailable is non-zero'));
  else if (!hasUnavailable && !hasSurge) errs.push(field.required(p.child('maxUnavailable'), 'cannot be 0 when maxSurge is 0'));
  return errs;
}

function validateDaemonSetSpec(ds: DaemonSet): FieldError[] {
  const spec = ds.spec ?? ({} as DaemonSet['spec']);
  const sp = Path.root('spec');
  const errs: FieldError[] = [];
  errs.push(...validateLabelSelector(spec.selector, sp.child('selector')));
  let sel;
  try {
    sel = fromLabelSelector(spec.selector);
  } catch {
    sel = undefined;
  }
  const template = spec.template ?? ({ spec: { containers: [] } } as PodTemplateSpec);
  const tp = sp.child('template');
  if (sel && !matches(sel, template.metadata?.labels)) errs.push(field.invalid(tp.child('metadata', 'labels'), template.metadata?.labels ?? {}, '`selector` does not match template `labels`'));
  if (spec.selector && Object.keys(spec.selector.matchLabels ?? {}).length + (spec.selector.matchExpressions?.length ?? 0) === 0) {
    errs.push(field.invalid(sp.child('selector'), labelSelectorRepr(spec.selector), 'empty selector is invalid for daemonset'));
  }
  errs.push(...validatePodTemplateSpec(template, tp));
  const rp = template.spec?.restartPolicy ?? '';
  if (rp !== 'Always') errs.push(field.notSupported(tp.child('spec', 'restartPolicy'), rp, ['Always']));
  if (template.spec?.activeDeadlineSeconds !== undefined) errs.push(field.forbidden(tp.child('spec', 'activeDeadlineSeconds'), 'activeDeadlineSeconds in DaemonSet is not Supported'));
  errs.push(...validateNonnegative(spec.minReadySeconds ?? 0, sp.child('minReadySeconds')));
  const strat = spec.updateStrategy ?? {};
  const stp = sp.child('updateStrategy');
  switch (strat.type) {
    case 'OnDelete':
      break;
    case 'RollingUpdate':
      if (!strat.rollingUpdate) errs.push(field.required(stp.child('rollingUpdate'), ''));
      else errs.push(...validateRollingUpdateDaemonSet(strat.rollingUpdate, stp.child('rollingUpdate')));
      break;
    default:
      errs.push(
        field.notSupported(stp, new GoRepr(`apps.DaemonSetUpdateStrategy{Type:${JSON.stringify(strat.type ?? '')}, RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}`), ['RollingUpdate', 'OnDelete']),
      );
  }
  if (spec.revisionHistoryLimit !== undefined) errs.push(...validateNonnegative(spec.revisionHistoryLimit, sp.child('revisionHistoryLimit')));
  return errs;
}

export function validateDaemonSet(ds: DaemonSet): FieldError[] {
  return [...validateObjectMeta(ds.metadata, true, nameIsDNSSubdomain), ...validateDaemonSetSpec(ds)];
}

/** As the apps/v1 strategy validates an update: the spec, and the selector immutable. */
export function validateDaemonSetUpdate(ds: DaemonSet, old: DaemonSet): FieldError[] {
  const errs = [...validateObjectMetaUpdate(ds.metadata, old.metadata), ...validateDaemonSetSpec(ds)];
  errs.push(...validateImmutableField(ds.spec?.selector, old.spec?.selector, Path.root('spec').child('selector')).map((e) => ({ ...e, badValue: labelSelectorRepr(ds.spec?.selector) })));
  return errs;
}

export function validateDaemonSetStatusUpdate(ds: DaemonSet, old: DaemonSet): FieldError[] {
  const errs = [...validateObjectMetaUpdate(ds.metadata, old.metadata)];
  const st = (ds.status ?? {}) as Record<string, unknown>;
  const sp = Path.root('status');
  for (const f of ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady', 'observedGeneration', 'updatedNumberScheduled', 'numberAvailable', 'numberUnavailable', 'collisionCount']) {
    if (typeof st[f] === 'number') errs.push(...validateNonnegative(st[f] as number, sp.child(f)));
  }
  const cc = ds.status?.collisionCount;
  const oldCC = old.status?.collisionCount;
  if (oldCC !== undefined && (cc ?? 0) < oldCC) errs.push(field.invalid(sp.child('collisionCount'), cc ?? 0, 'cannot be decremented'));
  return errs;
}

// ---- ControllerRevision (ValidateControllerRevision, ValidateControllerRevisionUpdate) ----

export function validateControllerRevision(cr: ControllerRevision): FieldError[] {
  const errs = validateObjectMeta(cr.metadata, true, nameIsDNSSubdomain);
  if (cr.data === undefined || cr.data === null) errs.push(field.required(Path.root('data'), 'data is mandatory'));
  errs.push(...validateNonnegative(cr.revision ?? 0, Path.root('revision')));
  return errs;
}

/** A revision is a snapshot: its data never changes (its revision number may move on). */
export function validateControllerRevisionUpdate(cr: ControllerRevision, old: ControllerRevision): FieldError[] {
  const errs = [...validateObjectMetaUpdate(cr.metadata, old.metadata), ...validateControllerRevision(cr)];
  if (!sameValue(cr.data ?? null, old.data ?? null)) errs.push(field.invalid(Path.root('data'), cr.data ?? null, 'field is immutable'));
  return errs;
}
