// Validation of batch/v1 Job and CronJob (kubernetes pkg/apis/batch/validation), with
// upstream's messages.
import { parseSchedule, timeZoneError } from '../cron.ts';
import { sameValue } from '../fieldset.ts';
import { field, GoRepr, Path, type FieldError } from '../errors.ts';
import { validateIndexesFormat } from '../indexes.ts';
import { fromLabelSelector, matches } from '../labels.ts';
import type { CronJob, Job, JobSpec } from '../types.ts';
import { wireValue } from '../wire.ts';
import { validatePodTemplateSpec } from './core.ts';
import { labelSelectorRepr, validateLabelSelector, validateNonnegative, validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { isDNS1123Label, maxLenError, nameIsDNSSubdomain } from './names.ts';

/** The labels the API server puts on a Job's pods (and its selector) unless manualSelector is set. */
export const jobLabels = {
  controllerUid: 'batch.kubernetes.io/controller-uid',
  jobName: 'batch.kubernetes.io/job-name',
  legacyControllerUid: 'controller-uid',
  legacyJobName: 'job-name',
} as const;

/** A CronJob's name leaves 11 characters for the Job's -<minutes> suffix. */
const cronJobNameMax = 52;

/** The selector and template labels a Job gets (the job strategy's generateSelector). */
export function generateJobSelector(job: Job): void {
  const uid = job.metadata.uid ?? '';
  const t = (job.spec.template ??= { spec: { containers: [] } });
  t.metadata ??= {};
  t.metadata.labels = {
    ...(t.metadata.labels ?? {}),
    [jobLabels.controllerUid]: uid,
    [jobLabels.jobName]: job.metadata.name ?? '',
    [jobLabels.legacyControllerUid]: uid,
    [jobLabels.legacyJobName]: job.metadata.name ?? '',
  };
  const sel = (job.spec.selector ??= {});
  sel.matchLabels = { ...(sel.matchLabels ?? {}), [jobLabels.controllerUid]: uid };
}

/** Upstream's caps on Indexed Jobs (they bound the length of the index strings in the status). */
const maxParallelismForIndexedJob = 100_000;
const maxFailedIndexesForIndexedJob = 100_000;
const completionsSoftLimit = 100_000;
const parallelismLimitForHighCompletions = 10_000;
const maxFailedIndexesLimitForHighCompletions = 10_000;
const maxSuccessPolicyRules = 20;
const maxSucceededIndexesLength = 64 * 1024;

/** A successPolicy as Go's %v prints the struct (its rules' pointers elided). */
function successPolicyRepr(sp: { rules?: unknown[] }): GoRepr {
  return new GoRepr(`batch.SuccessPolicy{Rules:[]batch.SuccessPolicyRule{${(sp.rules ?? []).length ? '...' : ''}}}`);
}

function validateSuccessPolicy(spec: JobSpec, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  const rules = spec.successPolicy?.rules ?? [];
  const rp = p.child('rules');
  if (rules.length === 0) errs.push(field.required(rp, 'at least one rules must be specified when the successPolicy is specified'));
  if (rules.length > maxSuccessPolicyRules) errs.push(field.tooMany(rp, rules.length, maxSuccessPolicyRules));
  const completions = spec.completions ?? 0;
  rules.forEach((r, i) => {
    const rpth = rp.index(i);
    if (r.succeededCount === undefined && r.succeededIndexes === undefined) errs.push(field.required(rpth, 'at least one of succeededCount or succeededIndexes must be specified'));
    let total = 0;
    if (r.succeededIndexes !== undefined) {
      const ip = rpth.child('succeededIndexes');
      if (r.succeededIndexes.length > maxSucceededIndexesLength) errs.push(field.tooLong(ip, r.succeededIndexes, maxSucceededIndexesLength));
      const v = validateIndexesFormat(r.succeededIndexes, completions);
      if ('error' in v) errs.push(field.invalid(ip, r.succeededIndexes, `error parsing succeededIndexes: ${v.error}`));
      else total = v.total;
    }
    if (r.succeededCount !== undefined) {
      const cp = rpth.child('succeededCount');
      errs.push(...validateNonnegative(r.succeededCount, cp));
      if (r.succeededCount > completions) errs.push(field.invalid(cp, r.succeededCount, `must be less than or equal to ${completions} (the number of specified completions)`));
      if (r.succeededIndexes !== undefined && r.succeededCount > total) errs.push(field.invalid(cp, r.succeededCount, `must be less than or equal to ${total} (the number of indexes in the specified succeededIndexes field)`));
    }
  });
  return errs;
}

function validateJobSpec(spec: JobSpec, p: Path, opts: { selector: boolean }): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of ['parallelism', 'completions', 'activeDeadlineSeconds', 'backoffLimit', 'ttlSecondsAfterFinished', 'backoffLimitPerIndex'] as const) {
    if (spec[f] !== undefined) errs.push(...validateNonnegative(spec[f], p.child(f)));
  }
  if (spec.maxFailedIndexes !== undefined) {
    errs.push(...validateNonnegative(spec.maxFailedIndexes, p.child('maxFailedIndexes')));
    if (spec.backoffLimitPerIndex === undefined) errs.push(field.required(p.child('backoffLimitPerIndex'), 'when maxFailedIndexes is specified'));
  }
  if (spec.completionMode !== undefined && !['NonIndexed', 'Indexed'].includes(spec.completionMode)) {
    errs.push(field.notSupported(p.child('completionMode'), spec.completionMode, ['NonIndexed', 'Indexed']));
  }
  if (spec.completionMode === 'Indexed') {
    if (spec.completions === undefined) errs.push(field.required(p.child('completions'), 'when completion mode is Indexed'));
    if (spec.parallelism !== undefined && spec.parallelism > maxParallelismForIndexedJob) {
      errs.push(field.invalid(p.child('parallelism'), spec.parallelism, `must be less than or equal to ${maxParallelismForIndexedJob} when completion mode is Indexed`));
    }
    if (spec.completions !== undefined && spec.maxFailedIndexes !== undefined && spec.maxFailedIndexes > spec.completions) {
      errs.push(field.invalid(p.child('maxFailedIndexes'), spec.maxFailedIndexes, 'must be less than or equal to completions'));
    }
    if (spec.maxFailedIndexes !== undefined && spec.maxFailedIndexes > maxFailedIndexesForIndexedJob) {
      errs.push(field.invalid(p.child('maxFailedIndexes'), spec.maxFailedIndexes, `must be less than or equal to ${maxFailedIndexesForIndexedJob}`));
    }
    if (spec.completions !== undefined && spec.completions > completionsSoftLimit && spec.backoffLimitPerIndex !== undefined) {
      const high = `when completions are above ${completionsSoftLimit} and used with backoff limit per index`;
      if (spec.maxFailedIndexes === undefined) errs.push(field.required(p.child('maxFailedIndexes'), `must be specified when completions is above ${completionsSoftLimit}`));
      if (spec.parallelism !== undefined && spec.parallelism > parallelismLimitForHighCompletions) {
        errs.push(field.invalid(p.child('parallelism'), spec.parallelism, `must be less than or equal to ${parallelismLimitForHighCompletions} ${high}`));
      }
      if (spec.maxFailedIndexes !== undefined && spec.maxFailedIndexes > maxFailedIndexesLimitForHighCompletions) {
        errs.push(field.invalid(p.child('maxFailedIndexes'), spec.maxFailedIndexes, `must be less than or equal to ${maxFailedIndexesLimitForHighCompletions} ${high}`));
      }
    }
  } else if (spec.completionMode === undefined || spec.completionMode === 'NonIndexed') {
    if (spec.backoffLimitPerIndex !== undefined) errs.push(field.invalid(p.child('backoffLimitPerIndex'), spec.backoffLimitPerIndex, 'requires indexed completion mode'));
    if (spec.maxFailedIndexes !== undefined) errs.push(field.invalid(p.child('maxFailedIndexes'), spec.maxFailedIndexes, 'requires indexed completion mode'));
  }
  if (spec.successPolicy) {
    if (spec.completionMode !== 'Indexed') errs.push(field.invalid(p.child('successPolicy'), successPolicyRepr(spec.successPolicy), 'requires indexed completion mode'));
    else if (spec.completions !== undefined) errs.push(...validateSuccessPolicy(spec, p.child('successPolicy')));
  }
  const tp = p.child('template');
  if (opts.selector) {
    if (!spec.selector) errs.push(field.required(p.child('selector')));
    else {
      errs.push(...validateLabelSelector(spec.selector, p.child('selector')));
      let sel;
      try {
        sel = fromLabelSelector(spec.selector);
      } catch {
        errs.push(field.invalid(p.child('selector'), labelSelectorRepr(spec.selector), 'invalid label selector'));
      }
      if (sel && !matches(sel, spec.template?.metadata?.labels)) {
        errs.push(field.invalid(tp.child('metadata', 'labels'), spec.template?.metadata?.labels ?? {}, '`selector` does not match template `labels`'));
      }
    }
  }
  if (!spec.template) {
    errs.push(field.required(tp));
    return errs;
  }
  errs.push(...validatePodTemplateSpec(spec.template, tp));
  const rp = spec.template.spec?.restartPolicy ?? '';
  if (rp !== 'OnFailure' && rp !== 'Never') errs.push(field.notSupported(tp.child('spec', 'restartPolicy'), rp, ['OnFailure', 'Never']));
  if (spec.podFailurePolicy) {
    if (rp !== 'Never') errs.push(field.invalid(tp.child('spec', 'restartPolicy'), rp, 'only "Never" is supported when podFailurePolicy is specified'));
    const rules = spec.podFailurePolicy.rules ?? [];
    rules.forEach((r, i) => {
      const rpth = p.child('podFailurePolicy', 'rules').index(i);
      if (r.action === 'FailIndex') {
        if (spec.backoffLimitPerIndex === undefined) errs.push(field.invalid(rpth.child('action'), r.action, 'requires the backoffLimitPerIndex to be set'));
      } else if (!['FailJob', 'Ignore', 'Count'].includes(r.action)) errs.push(field.notSupported(rpth.child('action'), r.action, ['Count', 'FailIndex', 'FailJob', 'Ignore']));
      if (r.onExitCodes && r.onPodConditions?.length) errs.push(field.invalid(rpth, 'specifying both OnExitCodes and OnPodConditions is not supported', 'specifying both OnExitCodes and OnPodConditions is not supported'));
      if (!r.onExitCodes && !r.onPodConditions?.length) errs.push(field.invalid(rpth, 'specifying one of OnExitCodes and OnPodConditions is required', 'specifying one of OnExitCodes and OnPodConditions is required'));
      const ec = r.onExitCodes;
      if (ec) {
        if (!['In', 'NotIn'].includes(ec.operator)) errs.push(field.notSupported(rpth.child('onExitCodes', 'operator'), ec.operator, ['In', 'NotIn']));
        if (!ec.values?.length) errs.push(field.required(rpth.child('onExitCodes', 'values')));
        if (ec.operator === 'In') (ec.values ?? []).forEach((v, j) => v === 0 && errs.push(field.invalid(rpth.child('onExitCodes', 'values').index(j), 0, 'must not be 0 for the In operator')));
      }
    });
  }
  return errs;
}

export function validateJob(job: Job): FieldError[] {
  const errs = [...validateObjectMeta(job.metadata, true, nameIsDNSSubdomain), ...validateJobSpec(job.spec ?? ({} as JobSpec), Path.root('spec'), { selector: true })];
  // An Indexed Job's pods are named and have the hostname <job>-<index>: the last index must make a DNS label.
  const completions = job.spec?.completions ?? 0;
  if (job.spec?.completionMode === 'Indexed' && completions > 0) {
    const hostname = `${job.metadata.name ?? ''}-${completions - 1}`;
    if (isDNS1123Label(hostname).length) errs.push(field.invalid(Path.root('metadata', 'name'), job.metadata.name ?? '', `will not able to create pod with invalid DNS label: ${hostname}`));
  }
  return errs;
}

/** What a Job update may not change: selector, completions (NonIndexed), the pod template, the completion mode. */
export function validateJobUpdate(job: Job, old: Job): FieldError[] {
  const errs = [...validateObjectMetaUpdate(job.metadata, old.metadata), ...validateJobSpec(job.spec, Path.root('spec'), { selector: true })];
  const sp = Path.root('spec');
  const same = (model: string, a: unknown, b: unknown) => sameValue(wireValue(model, a ?? null), wireValue(model, b ?? null));
  if (!same('V1LabelSelector', job.spec.selector, old.spec.selector)) errs.push(field.invalid(sp.child('selector'), labelSelectorRepr(job.spec.selector), 'field is immutable'));
  if (job.spec.completions !== old.spec.completions && job.spec.completionMode !== 'Indexed') errs.push(field.invalid(sp.child('completions'), job.spec.completions ?? null, 'field is immutable'));
  if (job.spec.completionMode !== old.spec.completionMode) errs.push(field.invalid(sp.child('completionMode'), job.spec.completionMode ?? '', 'field is immutable'));
  if (job.spec.backoffLimitPerIndex !== old.spec.backoffLimitPerIndex) errs.push(field.invalid(sp.child('backoffLimitPerIndex'), job.spec.backoffLimitPerIndex ?? null, 'field is immutable'));
  if (!same('V1SuccessPolicy', job.spec.successPolicy, old.spec.successPolicy)) errs.push(field.invalid(sp.child('successPolicy'), job.spec.successPolicy ? successPolicyRepr(job.spec.successPolicy) : null, 'field is immutable'));
  // Upstream prints the whole Go struct (%#v); its type and an ellipsis stand for it here.
  if (!same('V1PodTemplateSpec', job.spec.template, old.spec.template)) errs.push(field.invalid(sp.child('template'), new GoRepr('core.PodTemplateSpec{...}'), 'field is immutable'));
  return errs;
}

export function validateJobStatusUpdate(job: Job, old: Job): FieldError[] {
  const errs = validateObjectMetaUpdate(job.metadata, old.metadata);
  const sp = Path.root('status');
  for (const f of ['active', 'succeeded', 'failed', 'ready', 'terminating'] as const) {
    const v = job.status?.[f];
    if (v !== undefined) errs.push(...validateNonnegative(v, sp.child(f)));
  }
  const completions = job.spec.completions;
  const st = job.status ?? {};
  if (completions !== undefined) {
    const c = validateIndexesFormat(st.completedIndexes ?? '', completions);
    if ('error' in c) errs.push(field.invalid(sp.child('completedIndexes'), st.completedIndexes, `error parsing completedIndexes: ${c.error}`));
    if (job.spec.backoffLimitPerIndex !== undefined && st.failedIndexes !== undefined) {
      const f = validateIndexesFormat(st.failedIndexes, completions);
      if ('error' in f) errs.push(field.invalid(sp.child('failedIndexes'), st.failedIndexes, `error parsing failedIndexes: ${f.error}`));
    }
  }
  if (st.completedIndexes && job.spec.completionMode !== 'Indexed') errs.push(field.invalid(sp.child('completedIndexes'), st.completedIndexes, 'cannot set non-empty completedIndexes when non-indexed completion mode'));
  if (job.spec.backoffLimitPerIndex === undefined && st.failedIndexes !== undefined) errs.push(field.invalid(sp.child('failedIndexes'), st.failedIndexes, 'cannot set non-null failedIndexes when backoffLimitPerIndex is null'));
  return errs;
}

function validateCronJobSpec(cj: CronJob, p: Path, isNew: boolean): FieldError[] {
  const spec = cj.spec ?? ({} as CronJob['spec']);
  const errs: FieldError[] = [];
  if (!spec.schedule) errs.push(field.required(p.child('schedule')));
  else {
    if (isNew && spec.schedule.includes('TZ')) errs.push(field.invalid(p.child('schedule'), spec.schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
    else {
      try {
        parseSchedule(spec.schedule);
      } catch (e) {
        errs.push(field.invalid(p.child('schedule'), spec.schedule, (e as Error).message));
      }
    }
  }
  if (spec.timeZone !== undefined) {
    const tzErr = timeZoneError(spec.timeZone);
    if (tzErr) errs.push(field.invalid(p.child('timeZone'), spec.timeZone, tzErr));
  }
  if (spec.startingDeadlineSeconds !== undefined) errs.push(...validateNonnegative(spec.startingDeadlineSeconds, p.child('startingDeadlineSeconds')));
  const cp = spec.concurrencyPolicy ?? '';
  if (cp === '') errs.push(field.required(p.child('concurrencyPolicy')));
  else if (!['Allow', 'Forbid', 'Replace'].includes(cp)) errs.push(field.notSupported(p.child('concurrencyPolicy'), cp, ['Allow', 'Forbid', 'Replace']));
  for (const f of ['successfulJobsHistoryLimit', 'failedJobsHistoryLimit'] as const) {
    if (spec[f] !== undefined) errs.push(...validateNonnegative(spec[f], p.child(f)));
  }
  const jp = p.child('jobTemplate');
  if (!spec.jobTemplate?.spec) errs.push(field.required(jp.child('spec')));
  else errs.push(...validateJobSpec(spec.jobTemplate.spec, jp.child('spec'), { selector: Boolean(spec.jobTemplate.spec.manualSelector) }));
  return errs;
}

export function validateCronJob(cj: CronJob): FieldError[] {
  const errs = validateObjectMeta(cj.metadata, true, nameIsDNSSubdomain);
  const name = cj.metadata.name ?? '';
  if (name.length > cronJobNameMax) errs.push(field.invalid(Path.root('metadata', 'name'), name, maxLenError(cronJobNameMax)));
  return [...errs, ...validateCronJobSpec(cj, Path.root('spec'), true)];
}

export function validateCronJobUpdate(cj: CronJob, old: CronJob): FieldError[] {
  return [...validateObjectMetaUpdate(cj.metadata, old.metadata), ...validateCronJobSpec(cj, Path.root('spec'), cj.spec?.schedule !== old.spec?.schedule)];
}

export function validateCronJobStatusUpdate(cj: CronJob, old: CronJob): FieldError[] {
  return validateObjectMetaUpdate(cj.metadata, old.metadata);
}
