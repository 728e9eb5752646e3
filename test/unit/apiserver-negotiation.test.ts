// Response negotiation as apiserver's: Accept clauses by q, specific before wildcard, each tried
// against JSON, YAML, protobuf; protobuf only for kinds that have it; Table JSON only;
// PartialObjectMetadata in protobuf too; errors in protobuf when the client prefers it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { thrownApiError } from '../helpers/errors.ts';
import { fallbackShape, negotiate, notAcceptableMessage, parseAccept, statusFormat } from '../../src/apiserver/negotiation.ts';

const pb = 'application/vnd.kubernetes.protobuf';
/** What client-go's typed clients send from kubectl 1.32 on, and with an explicit ContentType. */
const typedClient = `${pb},application/json`;
const contentTypeClient = `${pb}, */*`;
const kubectlGet = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

describe('Accept parsing (goautoneg)', () => {
  it('orders by q, then a specific type before a wildcard, keeping the order of equals', () => {
    const order = (h: string) => parseAccept(h).map((c) => `${c.type}/${c.subtype}`);
    assert.deepEqual(order(`*/*, ${pb}`), [pb, '*/*']);
    assert.deepEqual(order(`application/json;q=0.5, ${pb}`), [pb, 'application/json']);
    assert.deepEqual(order(`application/json, application/yaml, ${pb}`), ['application/json', 'application/yaml', pb]);
    assert.deepEqual(order('*'), ['*/*']);
    assert.deepEqual(parseAccept(`${pb};as=Table;v=v1;g=meta.k8s.io;q=0.9`)[0], { type: 'application', subtype: 'vnd.kubernetes.protobuf', q: 0.9, params: { as: 'Table', v: 'v1', g: 'meta.k8s.io' } });
  });
});

describe('response negotiation', () => {
  it('answers protobuf to client-go typed clients for a kind that has it, JSON otherwise', () => {
    assert.deepEqual(negotiate(typedClient, true), { kind: 'object', format: 'protobuf' });
    assert.deepEqual(negotiate(contentTypeClient, true), { kind: 'object', format: 'protobuf' });
    assert.deepEqual(negotiate(typedClient, false), { kind: 'object', format: 'json' });
    assert.deepEqual(negotiate(contentTypeClient, false), { kind: 'object', format: 'json' });
  });

  it('follows the order and the q of the clauses', () => {
    assert.deepEqual(negotiate(`application/json, ${pb}`, true), { kind: 'object', format: 'json' });
    assert.deepEqual(negotiate(`application/json;q=0.5, ${pb}`, true), { kind: 'object', format: 'protobuf' });
    assert.deepEqual(negotiate(`${pb};q=0.1, application/yaml`, true), { kind: 'object', format: 'yaml' });
    assert.deepEqual(negotiate(`*/*, ${pb}`, true), { kind: 'object', format: 'protobuf' });
    // A wildcard picks the server's first type, JSON.
    assert.deepEqual(negotiate('application/*', true), { kind: 'object', format: 'json' });
    assert.deepEqual(negotiate(undefined, true), { kind: 'object', format: 'json' });
  });

  it('refuses protobuf alone for a kind without it (406), listing every type the server speaks', () => {
    const e = thrownApiError(() => negotiate(pb, false));
    assert.equal(e.code, 406);
    assert.equal(e.reason, 'NotAcceptable');
    assert.equal(e.message, 'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf');
    assert.equal(e.message, notAcceptableMessage);
    assert.equal(thrownApiError(() => negotiate('text/html', true)).code, 406);
  });

  it('serves a Table as JSON only: a protobuf Table clause is passed over, and alone refused', () => {
    assert.deepEqual(negotiate(kubectlGet, true), { kind: 'table', version: 'v1' });
    assert.deepEqual(negotiate(`${pb};as=Table;v=v1;g=meta.k8s.io,application/json`, true), { kind: 'object', format: 'json' });
    assert.equal(thrownApiError(() => negotiate(`${pb};as=Table;v=v1;g=meta.k8s.io`, true)).code, 406);
    // as= needs g=meta.k8s.io and a served version, as the scope's AllowsMediaTypeTransform.
    assert.equal(thrownApiError(() => negotiate('application/json;as=Table', true)).code, 406);
    assert.equal(thrownApiError(() => negotiate('application/json;as=Table;g=meta.k8s.io;v=v2', true)).code, 406);
  });

  it('serves PartialObjectMetadata in protobuf (meta/v1), whatever the kind', () => {
    assert.deepEqual(negotiate(`${pb};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json`, false), { kind: 'metadata', version: 'v1', format: 'protobuf' });
    assert.deepEqual(negotiate(`${pb};as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1`, true), {
      kind: 'metadata',
      version: 'v1beta1',
      format: 'json',
    });
  });

  it('takes stream=watch of JSON and protobuf only', () => {
    assert.deepEqual(negotiate(`${pb};stream=watch`, true), { kind: 'object', format: 'protobuf' });
    assert.equal(thrownApiError(() => negotiate('application/yaml;stream=watch', true)).code, 406);
    assert.equal(thrownApiError(() => negotiate('application/json;stream=other', true)).code, 406);
  });
});

describe('Status and fallback negotiation', () => {
  it('answers errors in protobuf when the client prefers it, else JSON (also when nothing is acceptable)', () => {
    assert.equal(statusFormat(typedClient), 'protobuf');
    assert.equal(statusFormat(contentTypeClient), 'protobuf');
    assert.equal(statusFormat(kubectlGet), 'json');
    assert.equal(statusFormat(`${pb};as=Table;v=v1;g=meta.k8s.io`), 'json');
    assert.equal(statusFormat('text/html'), 'json');
    assert.equal(statusFormat(undefined), 'json');
  });

  it('falls back from protobuf to what else the client accepts, or to nothing', () => {
    assert.deepEqual(fallbackShape(typedClient), { kind: 'object', format: 'json' });
    assert.deepEqual(fallbackShape(contentTypeClient), { kind: 'object', format: 'json' });
    assert.equal(fallbackShape(pb), undefined);
    assert.deepEqual(fallbackShape(`${pb};as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`), { kind: 'metadata', version: 'v1', format: 'json' });
  });
});
