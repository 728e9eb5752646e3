// Memory a socket reads into (its `onread` buffer) and whose bytes are then written on by
// reference, each region given back when its write completes. A relay that reads through a
// buffer per read allocates that buffer for every TLS record (16 KiB); V8 counts each towards
// external memory, and every 64 MiB of it starts a full collection that frees nothing. Writes
// complete in the order they were made, so regions are released first in, first out.

/** The most a socket's read puts in one region (a TLS record's plaintext is at most 16 KiB). */
export const readRingChunk = 64 * 1024;

export class ReadRing {
  private readonly buf: Buffer;
  /** where the next read goes */
  private head = 0;
  /** regions read and not yet released, oldest first */
  private readonly regions: { start: number; end: number }[] = [];
  private held = 0;

  constructor(readonly size: number) {
    if (size < 2 * readRingChunk) throw new RangeError(`a read ring holds at least ${2 * readRingChunk} bytes`);
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  /** Bytes read and not yet released. */
  get used(): number {
    return this.held;
  }

  /**
   * Where the next read goes: free space after the newest region, or from the start once the end
   * has too little. A fresh buffer when the ring has no room — the reader should have paused, but
   * a TLS socket may still hand over what it had already decrypted.
   */
  next(): Buffer {
    const first = this.regions[0]?.start;
    let end: number;
    if (first === undefined) {
      this.head = 0;
      end = this.size;
    } else if (this.head > first) {
      // the regions run from first to head: free after head, and before first
      if (this.size - this.head >= readRingChunk) end = this.size;
      else if (first >= readRingChunk) {
        this.head = 0;
        end = first;
      } else end = this.head;
    } else end = first; // wrapped: free from head up to first (none when they meet)
    if (end - this.head >= readRingChunk) return this.buf.subarray(this.head, this.head + readRingChunk);
    return Buffer.allocUnsafe(readRingChunk);
  }

  /** `n` bytes were read into `b` (from `next`): the view to write, and its release for the write's callback. */
  commit(b: Buffer, n: number): { bytes: Buffer; release: () => void } {
    // a fresh buffer from next() is the caller's alone
    if (b.buffer !== this.buf.buffer || n === 0) return { bytes: b.subarray(0, n), release: () => {} };
    const region = { start: b.byteOffset - this.buf.byteOffset, end: b.byteOffset - this.buf.byteOffset + n };
    this.regions.push(region);
    this.head = region.end;
    this.held += n;
    return {
      bytes: b.subarray(0, n),
      release: () => {
        // callbacks come in write order: the oldest region is this one
        if (this.regions[0] === region) this.regions.shift();
        else this.regions.splice(this.regions.indexOf(region), 1);
        this.held -= n;
      },
    };
  }
}
