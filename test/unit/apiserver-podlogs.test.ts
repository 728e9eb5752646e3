// pods/log in the API server: PodLogOptions decoded from the query with Go's conversion errors,
// validated with upstream's messages, re-encoded for the kubelet; the container chosen as
// LogLocation does; the kubelet's error answers turned into Status objects.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { thrownApiError } from '../helpers/errors.ts';
import type { Pod } from '../../src/api/types.ts';
import { kubeletError, logContainer } from '../../src/apiserver/logs.ts';
import { decodePodLogOptions, kubeletLogQuery, parseRFC3339, validatePodLogOptions } from '../../src/apiserver/podlogoptions.ts';
import { errors } from '../../src/api/errors.ts';

describe('PodLogOptions', () => {
  it('decodes booleans as kube-apiserver does, integers and sinceTime with Go\'s errors', () => {
    const d = (s: string) => decodePodLogOptions(new URLSearchParams(s));
    assert.deepEqual(d('follow=True&previous=1&timestamps&container=app&insecureSkipTLSVerifyBackend=true'), { follow: true, previous: true, timestamps: true, container: 'app' });
    assert.deepEqual(d('follow=false&previous=0&timestamps=False'), { follow: false, previous: false, timestamps: false });
    assert.deepEqual(d('sinceSeconds=%2B5&tailLines=-1&limitBytes=9223372036854775807'), { follow: false, previous: false, timestamps: false, sinceSeconds: 5n, tailLines: -1n, limitBytes: 9223372036854775807n });
    assert.equal(thrownApiError(() => d('tailLines=ten')).message, 'strconv.ParseInt: parsing "ten": invalid syntax');
    assert.equal(thrownApiError(() => d('tailLines=')).message, 'strconv.ParseInt: parsing "": invalid syntax');
    assert.equal(thrownApiError(() => d('limitBytes=9223372036854775808')).message, 'strconv.ParseInt: parsing "9223372036854775808": value out of range');
    assert.equal(thrownApiError(() => d('sinceSeconds=1.5')).code, 400);
    assert.equal(d('sinceTime=2025-03-04T05:06:07.89%2B02:00').sinceTime, '2025-03-04T05:06:07+02:00');
    assert.equal(d('sinceTime=2025-03-04T05:06:07Z').sinceTime, '2025-03-04T05:06:07Z');
    assert.equal(thrownApiError(() => d('sinceTime=yesterday')).message, 'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"');
  });

  it('parses RFC3339 as Go\'s time.Parse, with its error texts', () => {
    assert.deepEqual(parseRFC3339('2025-03-04T05:06:07Z'), { time: '2025-03-04T05:06:07Z', ms: Date.parse('2025-03-04T05:06:07Z') });
    assert.deepEqual(parseRFC3339('2025-03-04T5:06:07-01:30'), { time: '2025-03-04T05:06:07-01:30', ms: Date.parse('2025-03-04T06:36:07Z') });
    const err = (s: string) => (parseRFC3339(s) as { error: string }).error;
    assert.equal(err('2025-03-04'), 'parsing time "2025-03-04" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T"');
    assert.equal(err('2025-03-04 05:06:07Z'), 'parsing time "2025-03-04 05:06:07Z" as "2006-01-02T15:04:05Z07:00": cannot parse " 05:06:07Z" as "T"');
    assert.equal(err('2025-3-04T05:06:07Z'), 'parsing time "2025-3-04T05:06:07Z" as "2006-01-02T15:04:05Z07:00": cannot parse "3-04T05:06:07Z" as "01"');
    assert.equal(err('2025-03-04T05:06:07'), 'parsing time "2025-03-04T05:06:07" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00"');
    assert.equal(err('2025-13-04T05:06:07Z'), 'parsing time "2025-13-04T05:06:07Z": month out of range');
    assert.equal(err('2025-02-30T05:06:07Z'), 'parsing time "2025-02-30T05:06:07Z": day out of range');
    assert.equal(err('2025-02-03T24:06:07Z'), 'parsing time "2025-02-03T24:06:07Z": hour out of range');
    assert.equal(err('2025-02-03T05:06:07Zjunk'), 'parsing time "2025-02-03T05:06:07Zjunk": extra text: "junk"');
  });

  it('validates with upstream\'s messages', () => {
    const v = (s: string) => {
      const errs = validatePodLogOptions(decodePodLogOptions(new URLSearchParams(s)));
      return errs.length ? errors.invalid('', 'PodLogOptions', 'web', errs).status : undefined;
    };
    assert.equal(v('tailLines=0&limitBytes=1&sinceSeconds=1'), undefined);
    assert.deepEqual(v('tailLines=-1'), {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'PodLogOptions "web" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0',
      reason: 'Invalid',
      details: { name: 'web', kind: 'PodLogOptions', causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: -1: must be greater than or equal to 0', field: 'tailLines' }] },
      code: 422,
    });
    assert.equal(v('limitBytes=0')?.message, 'PodLogOptions "web" is invalid: limitBytes: Invalid value: 0: must be greater than 0');
    assert.equal(v('sinceSeconds=0')?.message, 'PodLogOptions "web" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0');
    assert.equal(v('sinceSeconds=5&sinceTime=2025-01-01T00:00:00Z')?.message, 'PodLogOptions "web" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified');
    assert.equal(v('tailLines=-1&limitBytes=-1')?.message, 'PodLogOptions "web" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, limitBytes: Invalid value: -1: must be greater than 0]');
  });

  it('sends the kubelet booleans only when true, numbers in decimal, sinceTime in RFC3339', () => {
    const k = (s: string) => kubeletLogQuery(decodePodLogOptions(new URLSearchParams(s))).toString();
    assert.equal(k('follow=True&previous=false&timestamps=1&sinceSeconds=%2B07&tailLines=3&limitBytes=10&container=x'), 'follow=true&timestamps=true&sinceSeconds=7&tailLines=3&limitBytes=10');
    assert.equal(k('sinceTime=2025-03-04T05:06:07.5Z'), 'sinceTime=2025-03-04T05%3A06%3A07Z');
  });
});

describe('pods/log container and kubelet errors', () => {
  const pod = (containers: string[], init: string[] = []) => ({ metadata: { name: 'web' }, spec: { containers: containers.map((name) => ({ name })), initContainers: init.map((name) => ({ name })) } }) as unknown as Pod;

  it('chooses the container as LogLocation does', () => {
    assert.equal(logContainer(pod(['app']), undefined), 'app');
    assert.equal(logContainer(pod(['app', 'side'], ['init']), 'init'), 'init');
    assert.equal(thrownApiError(() => logContainer(pod(['app', 'side'], ['init']), undefined)).message, 'a container name must be specified for pod web, choose one of: [init app side]');
    assert.equal(thrownApiError(() => logContainer(pod([]), undefined)).message, 'a container name must be specified for pod web');
    const e = thrownApiError(() => logContainer(pod(['app']), 'nope'));
    assert.deepEqual([e.code, e.reason, e.message], [400, 'BadRequest', 'container nope is not valid for pod web']);
  });

  it('turns the kubelet\'s answers into Status objects as the response checker does', () => {
    assert.deepEqual(kubeletError(400, 'previous terminated container "app" in pod "web" not found', 'web').status, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'previous terminated container "app" in pod "web" not found', reason: 'BadRequest', code: 400 });
    assert.deepEqual(kubeletError(404, 'pod "web" does not exist\n', 'web').status, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server could not find the requested resource ( pods/log web)', reason: 'NotFound', details: { name: 'web', kind: 'pods/log' }, code: 404 });
    assert.equal(kubeletError(500, 'boom', 'web').message, 'Internal error occurred: boom');
    assert.equal(kubeletError(422, '{"message": "Invalid request."}', 'web').message, 'the server rejected our request due to an error in our request ( pods/log web)');
    assert.equal(kubeletError(502, 'bad gateway', 'web').message, 'an error on the server ("bad gateway") has prevented the request from succeeding ( pods/log web)');
  });
});
