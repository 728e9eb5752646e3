// A synchronous zlib inflater for SPDY header blocks: one zlib stream per connection, each header
// block a piece of it that the peer ended with a sync flush (spdystream flushes after every block),
// so every piece holds whole deflate blocks. Node's zlib streams can only continue a stream
// asynchronously (a round through the thread pool per block, milliseconds on a busy machine, and
// a client waits for each stream's reply); this keeps the 32 KiB window between pieces and decodes
// each piece at once. The decoding follows RFC 1950/1951 as zlib's puff.c lays it out.

/** A Huffman code as puff.c keeps it: how many codes of each length, the symbols in code order. */
interface Huffman {
  count: Uint16Array;
  symbol: Uint16Array;
}

const maxBits = 15;
const window = 32 * 1024;

function huffman(lengths: ArrayLike<number>, n: number): Huffman {
  const count = new Uint16Array(maxBits + 1);
  for (let i = 0; i < n; i++) count[lengths[i]!]!++;
  const offs = new Uint16Array(maxBits + 1);
  for (let len = 1; len < maxBits; len++) offs[len + 1] = offs[len]! + count[len]!;
  const symbol = new Uint16Array(n);
  for (let i = 0; i < n; i++) if (lengths[i]) symbol[offs[lengths[i]!]!++] = i;
  return { count, symbol };
}

const lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const distBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const distExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/** the order code length code lengths come in (RFC 1951 3.2.7) */
const codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

const fixed = (() => {
  const l = new Uint8Array(288);
  l.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
  return { lencode: huffman(l, 288), distcode: huffman(new Uint8Array(30).fill(5), 30) };
})();

class Incomplete extends Error {}

/** Reads bits least significant first (RFC 1951 3.1.1) from one piece of input. */
class Bits {
  pos = 0;
  constructor(
    private readonly input: Buffer,
    /** bits of the last piece's last byte not read yet (after a sync flush, none) */
    public buf = 0,
    public cnt = 0,
  ) {}
  bits(need: number): number {
    let val = this.buf;
    while (this.cnt < need) {
      if (this.pos >= this.input.length) throw new Incomplete('the header block ends inside a deflate block');
      val |= this.input[this.pos++]! << this.cnt;
      this.cnt += 8;
    }
    this.buf = val >>> need;
    this.cnt -= need;
    return val & ((1 << need) - 1);
  }
  /** to the next byte boundary (a stored block's length is byte aligned) */
  align(): void {
    this.buf = 0;
    this.cnt = 0;
  }
  decode(h: Huffman): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= maxBits; len++) {
      code |= this.bits(1);
      const count = h.count[len]!;
      if (code - count < first) return h.symbol[index + (code - first)]!;
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new Error('invalid Huffman code');
  }
  /** whether every byte of the piece has been read (a few bits of the last may wait for the next piece) */
  get done(): boolean {
    return this.pos >= this.input.length;
  }
}

/**
 * The inflating side of one zlib stream with a preset dictionary, fed piece by piece (each
 * ending where the sender flushed); throws on malformed input, and from then on.
 */
export class SyncInflater {
  /**
   * The output so far (the dictionary first); back-references reach into its last 32 KiB. One
   * buffer for the stream's life: a header block's output is appended, and the window is moved
   * to the front only when the buffer runs out, not copied out and back for every block.
   */
  private readonly out: Output;
  private headerRead = false;
  /**
   * What the last piece left: the bits of a block it did not finish (a peer's partial flush ends
   * inside a block), read again with the next piece.
   */
  private carry = { buf: 0, cnt: 0, rest: Buffer.alloc(0) };
  private ended = false;
  private failure: Error | undefined;

  constructor(private readonly dictionary: Buffer) {
    this.out = new Output(dictionary.subarray(Math.max(0, dictionary.length - window)));
  }

  inflate(piece: Buffer): Buffer {
    if (this.failure) throw this.failure;
    try {
      return this.run(piece);
    } catch (e) {
      this.failure = e instanceof Error ? e : new Error(String(e));
      throw this.failure;
    }
  }

  private run(piece: Buffer): Buffer {
    if (this.ended) throw new Error('data after the end of the zlib stream');
    const input = this.carry.rest.length ? Buffer.concat([this.carry.rest, piece]) : piece;
    if (input.length > maxUnfinished) throw new Error('a deflate block runs on past what a header block may hold');
    const b = new Bits(input, this.carry.buf, this.carry.cnt);
    if (!this.headerRead) {
      const cmf = b.bits(8);
      const flg = b.bits(8);
      if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0) throw new Error('incorrect zlib header');
      if (flg & 0x20) {
        const id = ((b.bits(8) << 24) | (b.bits(8) << 16) | (b.bits(8) << 8) | b.bits(8)) >>> 0;
        if (id !== adler32(this.dictionary)) throw new Error('the stream asks for another dictionary');
      }
      this.headerRead = true;
    }
    // Output is appended after the history, so distances index straight back into it.
    const out = this.out;
    out.keepWindow(input.length * 4);
    const begin = out.n;
    this.carry = { buf: 0, cnt: 0, rest: Buffer.alloc(0) };
    while (!b.done) {
      const at = { pos: b.pos, buf: b.buf, cnt: b.cnt, n: out.n };
      try {
        if (block(b, input, out)) {
          // The trailer (adler32 of the whole stream) is not checked: nothing follows a last block.
          this.ended = true;
          break;
        }
      } catch (e) {
        if (!(e instanceof Incomplete)) throw e;
        // The rest of this block comes with the next piece: what it wrote so far is taken back.
        out.n = at.n;
        this.carry = { buf: at.buf, cnt: at.cnt, rest: Buffer.from(input.subarray(at.pos)) };
        break;
      }
    }
    if (!this.carry.rest.length) this.carry = { buf: b.buf, cnt: b.cnt, rest: this.carry.rest };
    return Buffer.from(out.buf.subarray(begin, out.n));
  }
}

/** the most a block left unfinished may hold with the piece after it */
const maxUnfinished = 1 << 20;

/** The stream's output: the history back-references reach into, and what each piece adds after it. */
class Output {
  buf: Buffer;
  n: number;
  constructor(history: Buffer) {
    this.buf = Buffer.allocUnsafe(4 * window);
    history.copy(this.buf);
    this.n = history.length;
  }
  /** Before a piece: room for about `expect` more, the last 32 KiB moved to the front when the buffer has too little left. */
  keepWindow(expect: number): void {
    if (this.n + expect <= this.buf.length) return;
    if (this.n > window) {
      this.buf.copyWithin(0, this.n - window, this.n);
      this.n = window;
    }
    this.room(expect);
  }
  /** Room for `more` within a piece: a bigger buffer, positions kept (a block being inflated indexes back by them). */
  room(more: number): void {
    if (this.n + more <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + more));
    this.buf.copy(bigger, 0, 0, this.n);
    this.buf = bigger;
  }
}

/** Inflates one deflate block into `out`; whether it was the last. */
function block(b: Bits, input: Buffer, out: Output): boolean {
  const last = b.bits(1);
  const type = b.bits(2);
  if (type === 0) {
    b.align();
    const len = b.bits(16);
    if ((~b.bits(16) & 0xffff) !== len) throw new Error('invalid stored block lengths');
    if (b.pos + len > input.length) throw new Incomplete('the header block ends inside a stored block');
    out.room(len);
    input.copy(out.buf, out.n, b.pos, b.pos + len);
    out.n += len;
    b.pos += len;
  } else if (type === 1 || type === 2) {
    const { lencode, distcode } = type === 1 ? fixed : dynamicCodes(b);
    for (;;) {
      const sym = b.decode(lencode);
      if (sym < 256) {
        out.room(1);
        out.buf[out.n++] = sym;
      } else if (sym === 256) break;
      else {
        const i = sym - 257;
        if (i >= 29) throw new Error('invalid literal/length code');
        const len = lengthBase[i]! + b.bits(lengthExtra[i]!);
        const d = b.decode(distcode);
        if (d >= 30) throw new Error('invalid distance code');
        const dist = distBase[d]! + b.bits(distExtra[d]!);
        if (dist > out.n) throw new Error('invalid distance too far back');
        out.room(len);
        const buf = out.buf;
        for (let k = 0, n = out.n; k < len; k++, n++) buf[n] = buf[n - dist]!;
        out.n += len;
      }
    }
  } else throw new Error('invalid block type');
  return last === 1;
}

/** A dynamic block's literal/length and distance codes (RFC 1951 3.2.7). */
function dynamicCodes(b: Bits): { lencode: Huffman; distcode: Huffman } {
  const nlen = b.bits(5) + 257;
  const ndist = b.bits(5) + 1;
  const ncode = b.bits(4) + 4;
  if (nlen > 286 || ndist > 30) throw new Error('too many length or distance codes');
  const lengths = new Uint8Array(320);
  for (let i = 0; i < ncode; i++) lengths[codeLengthOrder[i]!] = b.bits(3);
  const lencode = huffman(lengths, 19);
  lengths.fill(0);
  for (let i = 0; i < nlen + ndist; ) {
    const sym = b.decode(lencode);
    if (sym < 16) lengths[i++] = sym;
    else {
      let len = 0;
      let times: number;
      if (sym === 16) {
        if (i === 0) throw new Error('a repeat with no first length');
        len = lengths[i - 1]!;
        times = 3 + b.bits(2);
      } else if (sym === 17) times = 3 + b.bits(3);
      else times = 11 + b.bits(7);
      if (i + times > nlen + ndist) throw new Error('too many lengths');
      while (times--) lengths[i++] = len;
    }
  }
  if (lengths[256] === 0) throw new Error('no end-of-block code');
  return { lencode: huffman(lengths, nlen), distcode: huffman(lengths.subarray(nlen), ndist) };
}

function adler32(data: Buffer): number {
  let a = 1;
  let s = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    s = (s + a) % 65521;
  }
  return ((s << 16) | a) >>> 0;
}
