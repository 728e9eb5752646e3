// The names controllers derive from pod templates: FNV-32a, and the decimal hash in
// apimachinery's safe alphabet (only b, c, d, f and 4–9 appear), as in api-server-5d8c7b6f9.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodTemplateSpec } from '../../src/api/types.ts';
import { canonicalJSON, computeHash, fnv32a, safeEncodeString } from '../../src/controllers/hash.ts';

const template = (image: string): PodTemplateSpec => ({ metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'api', image }] } });

describe('pod template hash', () => {
  it('is FNV-32a', () => {
    // the reference vectors of the FNV specification
    assert.equal(fnv32a(Buffer.from('')), 0x811c9dc5);
    assert.equal(fnv32a(Buffer.from('a')), 0xe40c292c);
    assert.equal(fnv32a(Buffer.from('foobar')), 0xbf9cf968);
  });

  it("encodes as rand.SafeEncodeString does: byte % 27 into bcdfghjklmnpqrstvwxz2456789", () => {
    assert.equal(safeEncodeString('0123456789'), '456789bcdf');
    assert.equal(safeEncodeString('4294967295'), '86f8fbc6f9');
  });

  it('gives the decimal hash in that alphabet, stable for a template and different for another', () => {
    const h = computeHash(template('podpath/echo'));
    assert.match(h, /^[bcdf4-9]{1,10}$/);
    assert.equal(computeHash(template('podpath/echo')), h);
    assert.notEqual(computeHash(template('podpath/echo:2')), h);
    // key order does not matter, a collision count does
    assert.equal(computeHash({ spec: { containers: [{ image: 'podpath/echo', name: 'api' }] }, metadata: { labels: { app: 'api' } } }), h);
    assert.notEqual(computeHash(template('podpath/echo'), 1), h);
    assert.equal(canonicalJSON({ b: 1, a: [{ d: 2, c: null }] }), '{"a":[{"c":null,"d":2}],"b":1}');
  });
});
