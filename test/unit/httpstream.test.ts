// SPDY/3.1 framing and the stream protocols' small parts (src/util/httpstream): the header
// dictionary, header blocks that any zlib inflater reads block by block, a session answering a
// client's streams, echoing its pings and passing data both ways, the synchronous inflater of a
// client's header blocks against zlib's own deflate, and protocol negotiation.
import assert from 'node:assert/strict';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { SyncInflater } from '../../src/util/httpstream/inflate.ts';
import { negotiate, streamOptions } from '../../src/util/httpstream/remotecommand.ts';
import { controlFrame, dataFrames, decodeHeaderBlock, encodeHeaderBlock, frameType, HeaderCompressor, parseFrames, spdyDictionary, SpdySession, type SpdyStream } from '../../src/util/httpstream/spdy.ts';

/** Deflate or inflate one block through a long-lived zlib stream, as a SPDY peer does. */
function flushThrough(z: zlib.Deflate | zlib.Inflate, block: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    z.once('error', reject);
    z.write(block);
    z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      const out: Buffer[] = [];
      for (let c = z.read() as Buffer | null; c !== null; c = z.read() as Buffer | null) out.push(c);
      resolve(Buffer.concat(out));
    });
  });
}

describe('SPDY/3.1', () => {
  it('has the SPDY/3 header dictionary (1423 bytes, Adler-32 e3c6a7c2 in a zlib header)', async () => {
    assert.equal(spdyDictionary.length, 1423);
    const z = await flushThrough(zlib.createDeflate({ dictionary: spdyDictionary }), Buffer.from('x'));
    assert.equal(z.subarray(2, 6).toString('hex'), 'e3c6a7c2');
  });

  it('cuts a payload into DATA frames of at most 32 KiB in one buffer, FIN on the last only', () => {
    const payload = Buffer.alloc(70_000);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const { frames, rest } = parseFrames(dataFrames(7, 0x01, payload));
    assert.equal(rest.length, 0);
    assert.deepEqual(frames.map((f) => [f.control, f.streamId, f.flags, f.data.length]), [
      [false, 7, 0, 32768],
      [false, 7, 0, 32768],
      [false, 7, 1, 70_000 - 65536],
    ]);
    assert.ok(Buffer.concat(frames.map((f) => f.data)).equals(payload));
    const empty = parseFrames(dataFrames(9, 0x01, Buffer.alloc(0))).frames;
    assert.deepEqual(empty.map((f) => [f.streamId, f.flags, f.data.length]), [[9, 1, 0]], 'an empty FIN is one frame');
    assert.ok(dataFrames(3, 0, Buffer.from('hi')).equals(Buffer.from([0, 0, 0, 3, 0, 0, 0, 2, 0x68, 0x69])));
  });

  it('writes header blocks that one inflate stream reads block by block', async () => {
    const c = new HeaderCompressor();
    const inflate = zlib.createInflate({ dictionary: spdyDictionary });
    const blocks: Record<string, string[]>[] = [{}, { streamtype: ['error'], port: ['80'] }, { a: ['1', '2'] }];
    for (const h of blocks) {
      assert.deepEqual(decodeHeaderBlock(await flushThrough(inflate, c.compress(encodeHeaderBlock(h)))), h);
    }
  });

  it('inflates a peer’s header blocks one by one, synchronously, as zlib wrote them', async () => {
    // Stored, fixed-code and dynamic-code blocks; references into the dictionary and into earlier
    // blocks; a block larger than the 32 KiB window; and pieces that end between bytes (a partial
    // flush), whose last bits start the next piece.
    const random = (n: number, seed: number) => {
      let x = seed;
      return Buffer.from(Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) & 0x7fffffff), 97 + (x % 7))));
    };
    const headers = (i: number) => encodeHeaderBlock({ streamtype: [i % 2 ? 'data' : 'error'], port: [String(8000 + i)], requestid: [String(i)], 'user-agent': ['kubectl/v1.32.0'] });
    const pieces = [...Array.from({ length: 20 }, (_, i) => headers(i)), Buffer.alloc(0), random(40_000, 1), Buffer.concat([random(100, 1), headers(3)]), headers(21)];
    const cases = [{ level: 6 }, { level: 0 }, { strategy: zlib.constants.Z_FIXED }, { level: 9, flush: zlib.constants.Z_PARTIAL_FLUSH }];
    for (const { flush, ...o } of cases) {
      const deflate = zlib.createDeflate({ dictionary: spdyDictionary, ...o });
      const out: Buffer[] = [];
      deflate.on('data', (d: Buffer) => out.push(d));
      const inflater = new SyncInflater(spdyDictionary);
      for (const p of pieces) {
        deflate.write(p);
        await new Promise<void>((r) => deflate.flush(flush ?? zlib.constants.Z_SYNC_FLUSH, () => r()));
        assert.deepEqual(inflater.inflate(Buffer.concat(out.splice(0))), p, JSON.stringify(o));
      }
      deflate.close();
    }
  });

  it('inflates a long-lived connection’s header blocks, its output far past its buffer, back-references reaching across each move of the window', async () => {
    const random = (n: number, seed: number) => {
      let x = seed;
      return Buffer.from(Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) & 0x7fffffff), 97 + (x % 26))));
    };
    const deflate = zlib.createDeflate({ dictionary: spdyDictionary });
    const out: Buffer[] = [];
    deflate.on('data', (d: Buffer) => out.push(d));
    const inflater = new SyncInflater(spdyDictionary);
    let total = 0;
    for (let i = 0; i < 2500; i++) {
      const p = i % 100 === 50 ? random(6000, i) : encodeHeaderBlock({ streamtype: [i % 2 ? 'data' : 'error'], port: ['8080'], requestid: [String(i)] });
      total += p.length;
      deflate.write(p);
      await new Promise<void>((r) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
      assert.deepEqual(inflater.inflate(Buffer.concat(out.splice(0))), p, `piece ${i}`);
    }
    deflate.close();
    assert.ok(total > 8 * 32 * 1024, `only ${total} bytes inflated`);
  });

  it('sends the small frames of one turn of the event loop as one write, a large frame after what waits, and what waits before its end', async () => {
    const writes: Buffer[] = [];
    let ended = false;
    const transport = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        assert.ok(!ended, 'written after the end');
        writes.push(chunk);
        cb();
      },
      final(cb) {
        ended = true;
        cb();
      },
    });
    const session = new SpdySession(transport);
    const frames = (b: Buffer) => parseFrames(b).frames.map((f) => (f.control ? `control ${f.type}` : `data ${f.streamId} ${f.data.length}${f.flags & 1 ? ' fin' : ''}`));
    session.sendData(1, Buffer.from('the answer'), false);
    session.sendData(1, Buffer.alloc(0), true);
    session.sendReset(3, 5);
    assert.equal(writes.length, 0, 'small frames wait for the end of the turn');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(writes.map(frames), [['data 1 10', 'data 1 0 fin', 'control 3']]);
    writes.length = 0;
    session.sendData(5, Buffer.from('before'), false);
    session.sendData(5, Buffer.alloc(20_000, 1), false);
    assert.deepEqual(writes.map(frames), [['data 5 6'], ['data 5 20000']], 'a large frame goes at once, after what waited');
    writes.length = 0;
    session.sendData(7, Buffer.from('last words'), true);
    session.close();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(writes.map(frames).flat(), ['data 7 10 fin', `control ${frameType.goaway}`]);
    assert.ok(ended);
  });

  it('refuses a header block that is not a zlib stream with the SPDY dictionary, and stays failed', () => {
    const other = zlib.deflateSync(Buffer.from('x'), { dictionary: Buffer.from('another dictionary') });
    assert.throws(() => new SyncInflater(spdyDictionary).inflate(other), /another dictionary/);
    const inflater = new SyncInflater(spdyDictionary);
    assert.throws(() => inflater.inflate(Buffer.from([0x12, 0x34, 0x56])), /incorrect zlib header/);
    assert.throws(() => inflater.inflate(zlib.deflateSync(Buffer.from('x'), { dictionary: spdyDictionary })), /incorrect zlib header/);
  });

  it('takes a block cut between two pieces up again with the second, and nothing after the stream’s end', () => {
    const text = Buffer.from('a header block long enough to be cut short, header block');
    const z = zlib.deflateSync(text, { dictionary: spdyDictionary });
    const inflater = new SyncInflater(spdyDictionary);
    assert.deepEqual(Buffer.concat([inflater.inflate(z.subarray(0, 12)), inflater.inflate(z.subarray(12))]), text);
    assert.throws(() => inflater.inflate(Buffer.from([0])), /after the end/);
  });

  it('answers a client’s streams, echoes its pings and carries data and half-closes both ways', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const opened: SpdyStream[] = [];
    server.on('connection', (sock) => {
      const session = new SpdySession(sock);
      session.onStream = (s) => {
        opened.push(s);
        s.on('data', (d: Buffer) => s.write(Buffer.from(d.toString().toUpperCase())));
        s.on('end', () => s.end());
      };
    });
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const deflate = zlib.createDeflate({ dictionary: spdyDictionary });
    const inflate = zlib.createInflate({ dictionary: spdyDictionary });
    let buf = Buffer.alloc(0);
    const frames: { control: boolean; type: number; flags: number; streamId: number; data: Buffer }[] = [];
    client.on('data', (d: Buffer) => {
      const r = parseFrames(Buffer.concat([buf, d]));
      buf = Buffer.from(r.rest);
      frames.push(...r.frames);
    });
    const until = async (pred: () => boolean) => {
      for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(pred());
    };
    const syn = Buffer.alloc(10);
    syn.writeUInt32BE(1, 0);
    client.write(controlFrame(frameType.synStream, 0, Buffer.concat([syn, await flushThrough(deflate, encodeHeaderBlock({ streamtype: ['data'], port: ['80'] }))])));
    await until(() => frames.some((f) => f.control && f.type === frameType.synReply));
    const reply = frames.find((f) => f.control && f.type === frameType.synReply)!;
    assert.equal(reply.data.readUInt32BE(0), 1);
    assert.deepEqual(decodeHeaderBlock(await flushThrough(inflate, reply.data.subarray(4))), {});
    assert.deepEqual(opened.map((s) => [s.id, s.header('streamtype'), s.header('port')]), [[1, 'data', '80']]);
    const ping = Buffer.alloc(4);
    ping.writeUInt32BE(7);
    client.write(controlFrame(frameType.ping, 0, ping));
    client.write(dataFrames(1, 0, Buffer.from('hello')));
    client.write(dataFrames(1, 1, Buffer.alloc(0)));
    await until(() => frames.some((f) => !f.control && f.flags & 1));
    assert.ok(frames.some((f) => f.control && f.type === frameType.ping && f.data.readUInt32BE(0) === 7));
    const data = frames.filter((f) => !f.control && f.streamId === 1);
    assert.equal(Buffer.concat(data.map((f) => f.data)).toString(), 'HELLO');
    client.destroy();
    server.close();
  });
});

describe('stream protocols', () => {
  it('chooses the first of the client’s protocols the server speaks', () => {
    assert.equal(negotiate(['v5.channel.k8s.io', 'v4.channel.k8s.io'], ['v4.channel.k8s.io', 'channel.k8s.io']), 'v4.channel.k8s.io');
    assert.equal(negotiate([], ['v4.channel.k8s.io']), '');
    assert.equal(negotiate(['v9'], ['v4.channel.k8s.io']), undefined);
  });

  it('reads the options of an exec: no stderr stream with a terminal', () => {
    assert.deepEqual(streamOptions(new URLSearchParams('stdin=true&stdout=true&stderr=true&tty=true')), { stdin: true, stdout: true, stderr: false, tty: true });
    assert.deepEqual(streamOptions(new URLSearchParams('output=1&error=1')), { stdin: false, stdout: true, stderr: true, tty: false });
  });
});
