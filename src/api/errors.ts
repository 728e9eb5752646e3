// Field errors and Status objects, worded as apimachinery words them
// (k8s.io/apimachinery pkg/util/validation/field and pkg/api/errors), so kubectl prints
// exactly what it would print against kube-apiserver.

export type FieldErrorType =
  | 'FieldValueNotFound'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'InternalError'
  | 'FieldValueTypeInvalid';

const typeText: Record<FieldErrorType, string> = {
  FieldValueNotFound: 'Not found',
  FieldValueRequired: 'Required value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  InternalError: 'Internal error',
  FieldValueTypeInvalid: 'Invalid value',
};

/** A value printed the way Go's %#v would print it, for values that are not plain scalars. */
export class GoRepr {
  constructor(readonly text: string) {}
}

export const omitValue = Symbol('omitValue');

export interface FieldError {
  type: FieldErrorType;
  field: string;
  badValue: unknown;
  detail: string;
}

/** A field path such as `spec.ports[0].port` or `metadata.labels[app]`, built immutably. */
export class Path {
  private constructor(private readonly text: string) {}
  static root(...names: string[]): Path {
    return new Path(names.join('.'));
  }
  child(...names: string[]): Path {
    const tail = names.join('.');
    return new Path(this.text === '' ? tail : `${this.text}.${tail}`);
  }
  index(i: number): Path {
    return new Path(`${this.text}[${i}]`);
  }
  key(k: string): Path {
    return new Path(`${this.text}[${k}]`);
  }
  toString(): string {
    return this.text;
  }
}

export const field = {
  required: (p: Path, detail = ''): FieldError => ({ type: 'FieldValueRequired', field: String(p), badValue: '', detail }),
  invalid: (p: Path, value: unknown, detail: string): FieldError => ({ type: 'FieldValueInvalid', field: String(p), badValue: value, detail }),
  notSupported: (p: Path, value: unknown, valid: readonly string[]): FieldError => ({
    type: 'FieldValueNotSupported',
    field: String(p),
    badValue: value,
    detail: valid.length ? 'supported values: ' + valid.map((v) => goQuote(v)).join(', ') : '',
  }),
  duplicate: (p: Path, value: unknown): FieldError => ({ type: 'FieldValueDuplicate', field: String(p), badValue: value, detail: '' }),
  forbidden: (p: Path, detail: string): FieldError => ({ type: 'FieldValueForbidden', field: String(p), badValue: '', detail }),
  notFound: (p: Path, value: unknown): FieldError => ({ type: 'FieldValueNotFound', field: String(p), badValue: value, detail: '' }),
  tooLong: (p: Path, value: unknown, max: number): FieldError => ({
    type: 'FieldValueTooLong',
    field: String(p),
    badValue: value,
    detail: `must have at most ${max} bytes`,
  }),
  tooLongMaxLength: (p: Path, value: unknown, max: number): FieldError => ({
    type: 'FieldValueTooLong',
    field: String(p),
    badValue: value,
    detail: max >= 0 ? `may not be longer than ${max}` : 'value is too long',
  }),
  tooMany: (p: Path, actual: number, max: number): FieldError => ({
    type: 'FieldValueTooMany',
    field: String(p),
    badValue: actual >= 0 ? actual : omitValue,
    detail: max >= 0 ? `must have at most ${max} items` : 'has too many items',
  }),
  internal: (p: Path, err: string): FieldError => ({ type: 'InternalError', field: String(p), badValue: null, detail: err }),
};

/** Go's strconv.Quote for the characters that occur in API values. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

/** How field.Error prints a bad value (simple types plainly, strings quoted, the rest as Go would). */
export function formatBadValue(v: unknown): string {
  if (v instanceof GoRepr) return v.text;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return goQuote(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
    return `[]string{${v.map((x) => goQuote(x)).join(', ')}}`;
  }
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) {
    return `[]int32{${v.join(', ')}}`;
  }
  if (typeof v === 'object' && Object.values(v as object).every((x) => typeof x === 'string')) {
    const entries = Object.entries(v as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[string]string{${entries.map(([k, x]) => `${goQuote(k)}:${goQuote(x)}`).join(', ')}}`;
  }
  return JSON.stringify(v);
}

export function errorBody(e: FieldError): string {
  let s: string;
  switch (e.type) {
    case 'FieldValueRequired':
    case 'FieldValueForbidden':
    case 'FieldValueTooLong':
    case 'InternalError':
      s = typeText[e.type];
      break;
    default:
      s = e.badValue === omitValue ? typeText[e.type] : `${typeText[e.type]}: ${formatBadValue(e.badValue)}`;
  }
  if (e.detail) s += `: ${e.detail}`;
  return s;
}

export function errorString(e: FieldError): string {
  return `${e.field}: ${errorBody(e)}`;
}

/** utilerrors.NewAggregate(...).Error(), after ErrorList.ToAggregate's de-duplication. */
export function aggregate(errs: readonly FieldError[]): string {
  const msgs: string[] = [];
  for (const e of errs) {
    const m = errorString(e);
    if (!msgs.includes(m)) msgs.push(m);
  }
  return msgs.length === 1 ? msgs[0]! : `[${msgs.join(', ')}]`;
}

// ---- Status ----

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'UnsupportedMediaType'
  | 'Expired'
  | 'InternalError'
  | 'Timeout'
  | 'ServiceUnavailable'
  | 'RequestEntityTooLarge';

/** An API error: carries the Status object the server answers with. `reason` is what tests assert. */
export class ApiError extends Error {
  readonly status: Status;
  constructor(code: number, reason: StatusReason | '', message: string, details?: StatusDetails) {
    super(message);
    // Field order as the API server serializes metav1.Status.
    const st = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message } as Status;
    if (reason) st.reason = reason;
    if (details) st.details = details;
    st.code = code;
    this.status = st;
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string {
    return this.status.reason ?? '';
  }
}

/** A GroupResource such as `services` or `deployments.apps`. */
export interface GroupResource {
  group: string;
  resource: string;
}

function grString(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

/** StatusDetails {name, group, kind} as Go encodes them: empty fields omitted. */
function grDetails(gr: GroupResource, name: string): StatusDetails {
  const d: StatusDetails = {};
  if (name) d.name = name;
  if (gr.group) d.group = gr.group;
  if (gr.resource) d.kind = gr.resource;
  return d;
}

/**
 * The message NewGenericServerResponse gives a status code that carries no Status of its own:
 * what the API server answers for a path no route serves (404) or a method no route takes (405).
 */
type GenericCode = 400 | 404 | 405 | 422 | 503;
const genericMessages: Record<GenericCode, [StatusReason, string]> = {
  400: ['BadRequest', 'the server rejected our request for an unknown reason'],
  404: ['NotFound', 'the server could not find the requested resource'],
  405: ['MethodNotAllowed', 'the server does not allow this method on the requested resource'],
  422: ['Invalid', 'the server rejected our request due to an error in our request'],
  503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
};

export const errors = {
  notFound: (gr: GroupResource, name: string) =>
    new ApiError(404, 'NotFound', `${grString(gr)} ${goQuote(name)} not found`, grDetails(gr, name)),
  alreadyExists: (gr: GroupResource, name: string) =>
    new ApiError(409, 'AlreadyExists', `${grString(gr)} ${goQuote(name)} already exists`, grDetails(gr, name)),
  conflict: (gr: GroupResource, name: string, why: string) =>
    new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${grString(gr)} ${goQuote(name)}: ${why}`, grDetails(gr, name)),
  staleConflict: (gr: GroupResource, name: string) =>
    errors.conflict(gr, name, 'the object has been modified; please apply your changes to the latest version and try again'),
  invalid: (group: string, kind: string, name: string, errs: readonly FieldError[]) => {
    const qualified = group ? `${kind}.${group}` : kind;
    const details: StatusDetails = {};
    if (name) details.name = name;
    if (group) details.group = group;
    details.kind = kind;
    details.causes = errs.map((e) => ({ reason: e.type, message: errorBody(e), field: e.field }));
    const message = errs.length
      ? `${qualified} ${goQuote(name)} is invalid: ${aggregate(errs)}`
      : `${qualified} ${goQuote(name)} is invalid`;
    return new ApiError(422, 'Invalid', message, details);
  },
  badRequest: (message: string) => new ApiError(400, 'BadRequest', message),
  unauthorized: () => new ApiError(401, 'Unauthorized', 'Unauthorized'),
  forbidden: (gr: GroupResource, name: string, why: string, causes?: StatusCause[]) => {
    const message = name ? `${grString(gr)} ${goQuote(name)} is forbidden: ${why}` : `${grString(gr)} is forbidden: ${why}`;
    const details = grDetails(gr, name);
    if (causes?.length) details.causes = causes;
    return new ApiError(403, 'Forbidden', message, details);
  },
  methodNotSupported: (gr: GroupResource, action: string) =>
    new ApiError(405, 'MethodNotAllowed', `${action} is not supported on resources of kind ${goQuote(grString(gr))}`, {
      ...(gr.group ? { group: gr.group } : {}),
      kind: gr.resource,
    }),
  notAcceptable: (message: string) => new ApiError(406, 'NotAcceptable', message),
  unsupportedMediaType: (accepted: readonly string[]) =>
    new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`),
  expired: (message: string) => new ApiError(410, 'Expired', message),
  gone: (message: string) => new ApiError(410, 'Gone', message),
  internal: (err: string) =>
    new ApiError(500, 'InternalError', `Internal error occurred: ${err}`, { causes: [{ message: err }] }),
  tooLarge: (message: string) => new ApiError(413, 'RequestEntityTooLarge', message),
  /** NewTimeoutError: the message is prefixed, and details are present even when empty. */
  timeout: (message: string, retryAfterSeconds = 0) =>
    new ApiError(504, 'Timeout', `Timeout: ${message}`, retryAfterSeconds ? { retryAfterSeconds } : {}),
  /**
   * NewGenericServerResponse with no resource: the Status for a code that came without one, its
   * details present and empty. kubectl debug reads `details.name` of a 404 to tell a missing
   * subresource from a missing object.
   */
  generic: (code: GenericCode) => {
    const [reason, message] = genericMessages[code];
    return new ApiError(code, reason, message, {});
  },
  /** storage.NewTooLargeResourceVersionError: a resourceVersion the store has not reached. */
  resourceVersionTooLarge: (asked: number, current: number, retrySeconds = 1) =>
    new ApiError(504, 'Timeout', `Timeout: Too large resource version: ${asked}, current: ${current}`, {
      causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
      retryAfterSeconds: retrySeconds,
    }),
  serviceUnavailable: (message: string) => new ApiError(503, 'ServiceUnavailable', message),
};

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}
