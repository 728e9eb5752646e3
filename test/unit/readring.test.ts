import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadRing, readRingChunk } from '../../src/util/readring.ts';

/** A read of `n` bytes of `fill` into the ring's next buffer. */
function read(r: ReadRing, n: number, fill: number) {
  const b = r.next();
  b.fill(fill, 0, n);
  return r.commit(b, n);
}

describe('ReadRing', () => {
  it('refuses a ring smaller than two reads', () => {
    assert.throws(() => new ReadRing(readRingChunk), RangeError);
  });

  it('keeps what is written out intact until its write releases it, and reuses the memory after', () => {
    const r = new ReadRing(4 * readRingChunk);
    const a = read(r, 16384, 1);
    const b = read(r, 16384, 2);
    assert.equal(r.used, 32768);
    // the next read must not land on a or b
    const c = read(r, readRingChunk, 3);
    assert.ok(a.bytes.every((x) => x === 1) && b.bytes.every((x) => x === 2) && c.bytes.every((x) => x === 3));
    assert.equal(a.bytes.buffer, b.bytes.buffer, 'reads land in the ring, not in buffers of their own');
    a.release();
    b.release();
    c.release();
    assert.equal(r.used, 0);
    const d = read(r, 100, 4);
    assert.equal(d.bytes.byteOffset, a.bytes.byteOffset, 'an empty ring starts over at its beginning');
  });

  it('wraps to the start once the oldest region there is released, and never overlaps a held one', () => {
    const r = new ReadRing(3 * readRingChunk);
    const held = [read(r, readRingChunk, 1), read(r, readRingChunk, 2), read(r, readRingChunk - 10, 3)];
    // full: the next buffer is not the ring's (a reader that did not pause in time still gets memory)
    const spill = r.next();
    assert.notEqual(spill.buffer, held[0]!.bytes.buffer);
    const s = r.commit(spill, 5);
    s.release();
    assert.equal(r.used, 3 * readRingChunk - 10, 'a read outside the ring holds nothing in it');
    held[0]!.release();
    const w = read(r, 50, 9);
    assert.equal(w.bytes.byteOffset, held[0]!.bytes.byteOffset, 'wrapped into the released first region');
    assert.ok(held[1]!.bytes.every((x) => x === 2) && held[2]!.bytes.every((x) => x === 3), 'the held regions are untouched');
    // between the wrapped head and the oldest held region there is less than a read: no room
    assert.notEqual(r.next().buffer, held[1]!.bytes.buffer);
  });
});
