// Validation and defaulting of CustomResourceDefinitions, with the apiextensions-apiserver's
// messages (pkg/apis/apiextensions/validation and pkg/apiserver/schema's structural checks).
import { field, GoRepr, Path, type FieldError } from '../errors.ts';
import { isObject, type KubeObject } from '../types.ts';
import { validateImmutableField, validateObjectMeta, validateObjectMetaUpdate } from '../validation/meta.ts';
import { isDNS1035Label, isDNS1123Subdomain } from '../validation/names.ts';
import { compileRule } from './cel.ts';
import { validateValue } from './schema.ts';
import { isEstablished, type CustomResourceDefinition, type CustomResourceDefinitionNames, type CustomResourceDefinitionVersion, type JSONSchemaProps } from './types.ts';

/** The v1 defaults: conversion None, singular and listKind from the kind. */
export function defaultCustomResourceDefinition(obj: KubeObject): void {
  const crd = obj as CustomResourceDefinition;
  if (!isObject(crd.spec)) return;
  crd.spec.conversion ??= { strategy: 'None' };
  const names = crd.spec.names;
  if (isObject(names) && names.kind) {
    names.singular ||= names.kind.toLowerCase();
    names.listKind ||= `${names.kind}List`;
  }
}

/** An internal-type bad value as Go's %#v starts printing it (its pointers differ run to run upstream). */
function versionsRepr(versions: CustomResourceDefinitionVersion[]): GoRepr {
  const items = versions.map((v) => `apiextensions.CustomResourceDefinitionVersion{Name:${JSON.stringify(v.name ?? '')}, Served:${Boolean(v.served)}, Storage:${Boolean(v.storage)}, ...}`);
  return new GoRepr(`[]apiextensions.CustomResourceDefinitionVersion{${items.join(', ')}}`);
}

export function validateCustomResourceDefinition(obj: KubeObject): FieldError[] {
  const crd = obj as CustomResourceDefinition;
  const spec = crd.spec ?? ({} as CustomResourceDefinition['spec']);
  const nameFn = (name: string, prefix: boolean) => {
    const out = isDNS1123Subdomain(prefix ? `${name}a` : name);
    if (name !== `${spec.names?.plural ?? ''}.${spec.group ?? ''}`) out.push('must be spec.names.plural+"."+spec.group');
    return out;
  };
  return [
    ...validateObjectMeta(crd.metadata, false, nameFn),
    ...validateSpec(spec, Path.root('spec')),
    ...validateNames(crd.status?.acceptedNames ?? {}, Path.root('status', 'acceptedNames')),
  ];
}

export function validateCustomResourceDefinitionUpdate(obj: KubeObject, oldObj: KubeObject): FieldError[] {
  const crd = obj as CustomResourceDefinition;
  const old = oldObj as CustomResourceDefinition;
  const p = Path.root('spec');
  const errs = [...validateObjectMetaUpdate(crd.metadata, old.metadata), ...validateSpec(crd.spec, p)];
  if (isEstablished(old)) {
    errs.push(...validateImmutableField(crd.spec.scope, old.spec.scope, p.child('scope')));
    errs.push(...validateImmutableField(crd.spec.names?.kind, old.spec.names?.kind, p.child('names', 'kind')));
  }
  errs.push(...validateImmutableField(crd.spec.group, old.spec.group, p.child('group')));
  errs.push(...validateImmutableField(crd.spec.names?.plural, old.spec.names?.plural, p.child('names', 'plural')));
  errs.push(...validateNames(crd.status?.acceptedNames ?? {}, Path.root('status', 'acceptedNames')));
  errs.push(...validateStoredVersions(crd));
  return errs;
}

export function validateCustomResourceDefinitionStatusUpdate(obj: KubeObject, oldObj: KubeObject): FieldError[] {
  const crd = obj as CustomResourceDefinition;
  return [...validateObjectMetaUpdate(crd.metadata, oldObj.metadata), ...validateNames(crd.status?.acceptedNames ?? {}, Path.root('status', 'acceptedNames')), ...validateStoredVersions(crd)];
}

function validateStoredVersions(crd: CustomResourceDefinition): FieldError[] {
  const names = new Set((crd.spec.versions ?? []).map((v) => v.name));
  return (crd.status?.storedVersions ?? []).flatMap((v, i) => (names.has(v) ? [] : [field.invalid(Path.root('status', 'storedVersions').index(i), v, 'must appear in spec.versions')]));
}

function validateSpec(spec: CustomResourceDefinition['spec'], p: Path): FieldError[] {
  const errs: FieldError[] = [];
  if (!spec.group) errs.push(field.required(p.child('group')));
  else {
    const e = isDNS1123Subdomain(spec.group);
    if (e.length) errs.push(field.invalid(p.child('group'), spec.group, e.join(',')));
    else if (spec.group.split('.').length < 2) errs.push(field.invalid(p.child('group'), spec.group, 'should be a domain with at least one dot'));
  }
  if (!spec.scope) errs.push(field.required(p.child('scope')));
  else if (spec.scope !== 'Cluster' && spec.scope !== 'Namespaced') errs.push(field.notSupported(p.child('scope'), spec.scope, ['Cluster', 'Namespaced']));

  const versions = spec.versions ?? [];
  let storage = 0;
  const seen = new Set<string>();
  let unique = true;
  versions.forEach((v, i) => {
    const vp = p.child('versions').index(i);
    if (v.storage) storage++;
    if (seen.has(v.name)) unique = false;
    seen.add(v.name);
    const e = isDNS1035Label(v.name ?? '');
    if (e.length) errs.push(field.invalid(vp.child('name'), v.name ?? '', e.join(',')));
  });
  if (!unique) errs.push(field.invalid(p.child('versions'), versionsRepr(versions), 'must contain unique version names'));
  if (storage !== 1) errs.push(field.invalid(p.child('versions'), versionsRepr(versions), 'must have exactly one version marked as storage version'));
  if (versions.length && !versions.some((v) => v.served)) errs.push(field.invalid(p.child('versions'), versionsRepr(versions), 'must have at least one version marked as served'));

  const names = spec.names ?? ({} as CustomResourceDefinitionNames);
  if (!names.plural) errs.push(field.required(p.child('names', 'plural')));
  if (!names.singular) errs.push(field.required(p.child('names', 'singular')));
  if (!names.kind) errs.push(field.required(p.child('names', 'kind')));
  if (!names.listKind) errs.push(field.required(p.child('names', 'listKind')));
  errs.push(...validateNames(names, p.child('names')));

  const strategy = spec.conversion?.strategy ?? 'None';
  if (strategy === 'Webhook') errs.push(field.forbidden(p.child('conversion', 'strategy'), 'conversion webhooks are not supported by this API server'));
  else if (strategy !== 'None') errs.push(field.notSupported(p.child('conversion', 'strategy'), strategy, ['None', 'Webhook']));
  if (spec.preserveUnknownFields === true) errs.push(field.invalid(p.child('preserveUnknownFields'), true, 'cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead'));

  versions.forEach((v, i) => errs.push(...validateVersion(v, p.child('versions').index(i))));
  return errs;
}

function validateNames(names: Partial<CustomResourceDefinitionNames>, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  const dns = (v: string) => isDNS1035Label(v);
  if (names.plural && dns(names.plural).length) errs.push(field.invalid(p.child('plural'), names.plural, dns(names.plural).join(',')));
  if (names.singular && dns(names.singular).length) errs.push(field.invalid(p.child('singular'), names.singular, dns(names.singular).join(',')));
  if (names.kind && dns(names.kind.toLowerCase()).length) {
    errs.push(field.invalid(p.child('kind'), names.kind, `may have mixed case, but should otherwise match: ${dns(names.kind.toLowerCase()).join(',')}`));
  }
  if (names.listKind && dns(names.listKind.toLowerCase()).length) {
    errs.push(field.invalid(p.child('listKind'), names.listKind, `may have mixed case, but should otherwise match: ${dns(names.listKind.toLowerCase()).join(',')}`));
  }
  (names.shortNames ?? []).forEach((s, i) => {
    if (dns(s).length) errs.push(field.invalid(p.child('shortNames').index(i), s, dns(s).join(',')));
  });
  if (names.kind && names.kind === names.listKind) errs.push(field.invalid(p.child('listKind'), names.listKind, 'kind and listKind may not be the same'));
  (names.categories ?? []).forEach((c, i) => {
    if (dns(c).length) errs.push(field.invalid(p.child('categories').index(i), c, dns(c).join(',')));
  });
  return errs;
}

const columnTypes = ['integer', 'number', 'string', 'boolean', 'date'];
const columnFormats = ['int32', 'int64', 'float', 'double', 'byte', 'date', 'date-time', 'password'];

function validateVersion(v: CustomResourceDefinitionVersion, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  const schema = v.schema?.openAPIV3Schema;
  if (!schema) errs.push(field.required(p.child('schema', 'openAPIV3Schema'), 'schemas are required'));
  else {
    const sp = p.child('schema', 'openAPIV3Schema');
    if (v.subresources?.status !== undefined) {
      const extra = Object.keys(schema).filter((k) => !['properties', 'required', 'type', 'description', 'x-kubernetes-validations', 'x-kubernetes-preserve-unknown-fields'].includes(k));
      if (extra.length) errs.push(field.invalid(sp, new GoRepr('apiextensions.JSONSchemaProps{...}'), 'must only have "properties", "required" or "description" at the root if the status subresource is enabled'));
    }
    errs.push(...validateSchemaProps(schema, sp, 'root'));
  }
  const scale = v.subresources?.scale;
  if (scale) {
    const sc = p.child('subresources', 'scale');
    if (!scale.specReplicasPath) errs.push(field.required(sc.child('specReplicasPath')));
    else if (!scale.specReplicasPath.startsWith('.spec.')) errs.push(field.invalid(sc.child('specReplicasPath'), scale.specReplicasPath, 'should be a json path under .spec'));
    if (!scale.statusReplicasPath) errs.push(field.required(sc.child('statusReplicasPath')));
    else if (!scale.statusReplicasPath.startsWith('.status.')) errs.push(field.invalid(sc.child('statusReplicasPath'), scale.statusReplicasPath, 'should be a json path under .status'));
    if (scale.labelSelectorPath && !/^\.(spec|status)\./.test(scale.labelSelectorPath)) {
      errs.push(field.invalid(sc.child('labelSelectorPath'), scale.labelSelectorPath, 'should be a json path under either .spec or .status'));
    }
  }
  (v.additionalPrinterColumns ?? []).forEach((c, i) => {
    const cp = p.child('additionalPrinterColumns').index(i);
    if (!c.name) errs.push(field.required(cp.child('name')));
    if (!c.type) errs.push(field.required(cp.child('type')));
    else if (!columnTypes.includes(c.type)) errs.push(field.notSupported(cp.child('type'), c.type, columnTypes));
    if (c.format && !columnFormats.includes(c.format)) errs.push(field.notSupported(cp.child('format'), c.format, columnFormats));
    if (!c.jsonPath) errs.push(field.required(cp.child('JSONPath')));
    else if (!c.jsonPath.startsWith('.')) errs.push(field.invalid(cp.child('JSONPath'), c.jsonPath, 'must be a simple json path starting with .'));
  });
  return errs;
}

type Level = 'root' | 'item' | 'field';

const ruleReasons = ['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate'];

/** The schema rules: structural (types everywhere, items for arrays, metadata at the root) and the rest. */
function validateSchemaProps(s: JSONSchemaProps, p: Path, lvl: Level): FieldError[] {
  const errs: FieldError[] = [];
  if (!isObject(s as unknown)) return errs;
  if (s.$ref !== undefined) errs.push(field.forbidden(p.child('$ref'), '$ref is not supported'));
  if (s.uniqueItems === true) errs.push(field.forbidden(p.child('uniqueItems'), 'uniqueItems cannot be set to true since the runtime complexity becomes quadratic'));
  if (s.additionalProperties !== undefined && s.properties && Object.keys(s.properties).length) {
    if (s.additionalProperties === false || isObject(s.additionalProperties)) errs.push(field.forbidden(p.child('additionalProperties'), 'additionalProperties and properties are mutual exclusive'));
  }
  if (s.type === 'array' && !s.items) errs.push(field.required(p.child('items'), 'must be specified'));
  if (s.items) errs.push(...validateSchemaProps(s.items, p.child('items'), 'item'));
  for (const [k, ps] of Object.entries(s.properties ?? {})) errs.push(...validateSchemaProps(ps, p.child('properties').key(k), 'field'));
  if (isObject(s.additionalProperties)) {
    if (lvl === 'root') errs.push(field.forbidden(p.child('additionalProperties'), 'must not be used at the root'));
    errs.push(...validateSchemaProps(s.additionalProperties as JSONSchemaProps, p.child('additionalProperties'), 'field'));
  }
  const intOrString = s['x-kubernetes-int-or-string'] === true;
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  const embedded = s['x-kubernetes-embedded-resource'] === true;
  if (intOrString && preserve) errs.push(field.invalid(p.child('x-kubernetes-preserve-unknown-fields'), true, 'must be false if x-kubernetes-int-or-string is true'));
  if (embedded && s.type !== 'object') {
    if (!s.type) errs.push(field.required(p.child('type'), 'must be object if x-kubernetes-embedded-resource is true'));
    else errs.push(field.invalid(p.child('type'), s.type, 'must be object if x-kubernetes-embedded-resource is true'));
  } else if (!s.type && !intOrString && !preserve) {
    const detail = lvl === 'root' ? 'must not be empty at the root' : lvl === 'item' ? 'must not be empty for specified array items' : 'must not be empty for specified object fields';
    errs.push(field.required(p.child('type'), detail));
  }
  if (lvl === 'root' && s.type && s.type !== 'object') errs.push(field.invalid(p.child('type'), s.type, 'must be object at the root'));
  if (s.type && !['object', 'array', 'string', 'integer', 'number', 'boolean'].includes(s.type)) {
    errs.push(field.notSupported(p.child('type'), s.type, ['array', 'boolean', 'integer', 'number', 'object', 'string']));
  }
  if (lvl === 'root' || embedded) {
    const props = s.properties ?? {};
    if (props.kind && props.kind.type !== 'string') errs.push(field.invalid(p.child('properties').key('kind').child('type'), props.kind.type ?? '', 'must be string'));
    if (props.apiVersion && props.apiVersion.type !== 'string') errs.push(field.invalid(p.child('properties').key('apiVersion').child('type'), props.apiVersion.type ?? '', 'must be string'));
    if (props.metadata && props.metadata.type !== 'object') errs.push(field.invalid(p.child('properties').key('metadata').child('type'), props.metadata.type ?? '', 'must be object'));
    if (lvl === 'root' && props.metadata) {
      const { type: _t, properties, ...rest } = props.metadata;
      const names = Object.keys(properties ?? {});
      if (Object.keys(rest).length || names.some((n) => n !== 'name' && n !== 'generateName')) {
        errs.push(field.forbidden(p.child('properties').key('metadata'), 'must not specify anything other than name and generateName, but metadata is implicitly specified'));
      }
    }
  }
  if (s.pattern !== undefined) {
    try {
      new RegExp(s.pattern, 'u');
    } catch (e) {
      errs.push(field.invalid(p.child('pattern'), s.pattern, `must be a valid regular expression, but isn't: ${(e as Error).message}`));
    }
  }
  (s['x-kubernetes-validations'] ?? []).forEach((r, i) => {
    const rp = p.child('x-kubernetes-validations').index(i);
    if (!r.rule) {
      errs.push(field.required(rp.child('rule')));
      return;
    }
    const program = compileRule(r.rule);
    if (program instanceof Error) errs.push(field.invalid(rp.child('rule'), r.rule, `compilation failed: ERROR: ${program.message}`));
    if (r.messageExpression) {
      const m = compileRule(r.messageExpression);
      if (m instanceof Error) errs.push(field.invalid(rp.child('messageExpression'), r.messageExpression, `messageExpression compilation failed: ERROR: ${m.message}`));
    }
    if (r.reason !== undefined && !ruleReasons.includes(r.reason)) errs.push(field.notSupported(rp.child('reason'), r.reason, ruleReasons));
  });
  if (s.default !== undefined && lvl !== 'root') {
    for (const e of validateValue(structuredClone(s.default), { ...s, default: undefined }, p.child('default'))) errs.push(e);
  }
  for (const [k, list] of [['allOf', s.allOf], ['anyOf', s.anyOf], ['oneOf', s.oneOf]] as const) {
    (list ?? []).forEach((sub, i) => errs.push(...validateNested(sub, p.child(k).index(i))));
  }
  if (s.not) errs.push(...validateNested(s.not, p.child('not')));
  return errs;
}

/** Inside allOf/anyOf/oneOf/not only value validations may appear (structural schema's rule). */
function validateNested(s: JSONSchemaProps, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  if (!isObject(s as unknown)) return errs;
  const intOrStringBranch = s.type === 'integer' || s.type === 'string';
  if (s.type && !intOrStringBranch) errs.push(field.forbidden(p.child('type'), 'must be empty to be structural'));
  if (s.additionalProperties !== undefined) errs.push(field.forbidden(p.child('additionalProperties'), 'must be undefined to be structural'));
  if (s.default !== undefined) errs.push(field.forbidden(p.child('default'), 'must be undefined to be structural'));
  if (s.description) errs.push(field.forbidden(p.child('description'), 'must be empty to be structural'));
  if (s.nullable) errs.push(field.forbidden(p.child('nullable'), 'must be false to be structural'));
  if (s.properties?.metadata) errs.push(field.forbidden(p.child('properties').key('metadata'), 'must not be specified in a nested context'));
  for (const [k, ps] of Object.entries(s.properties ?? {})) errs.push(...validateNested(ps, p.child('properties').key(k)));
  if (s.items) errs.push(...validateNested(s.items, p.child('items')));
  return errs;
}
