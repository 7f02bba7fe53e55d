// encodeFiles and ChunkReceiver end to end: what the source sends, the
// receiver checks and writes, and every way a stream can be wrong.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { TernError } from '../../core/errors.js';
import { CHUNK_SIZE, ChunkReceiver, type EncodeStats, encodeFiles } from '../../proto/chunks.js';
import type { ImageChunk__Output } from '../../proto/index.js';

/** What a gRPC client would hand the receiver: every field present, longs as strings. */
import { collect, compressible, encode, feed, rejects, source, toOutput } from '../lib/chunk-fixtures.js';

describe('chunks', () => {
  describe('encodeFiles -> ChunkReceiver', () => {
    let dir: string;
    let out: string;
    let receivers: ChunkReceiver[] = [];
    /** A receiver into `out`, whose open file (if a test left one) is closed after the test. */
    const receiver = (d: string, limits?: { maxBytes?: number; maxFiles?: number }) => {
      const rx = new ChunkReceiver(d, limits);
      receivers.push(rx);
      return rx;
    };
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tern-chunks-'));
      out = join(dir, 'out');
      await mkdir(out);
    });
    afterEach(async () => {
      for (const rx of receivers) await rx.discard();
      receivers = [];
      await rm(dir, { recursive: true, force: true });
    });

    it('uses 1 MiB chunks by default', () => {
      assert.equal(CHUNK_SIZE, 1024 * 1024);
    });

    for (const compress of [false, true]) {
      it(`round trips several files byte-identically (compress: ${compress})`, async () => {
        const files: Record<string, Buffer> = {
          'inventory.img': randomBytes(100),
          'empty.img': Buffer.alloc(0),
          'pages-1.img': randomBytes(5000),
          'rootfs.tar': compressible(9000),
          'exact.img': randomBytes(2048),
        };
        const sent: EncodeStats = { rawBytes: 0, wireBytes: 0, files: 0 };
        const chunks = await encode(files, { compress, chunkSize: 1024 }, sent);

        // Framing: 5 data chunks for pages-1 (5000 = 4*1024 + 904), eof markers, one end marker.
        const pages = chunks.filter((c) => c.file === 'pages-1.img' && !c.eof);
        assert.deepEqual(
          pages.map((c) => [Number(c.offset), c.raw_length]),
          [
            [0, 1024],
            [1024, 1024],
            [2048, 1024],
            [3072, 1024],
            [4096, 904],
          ],
        );
        assert.deepEqual(
          chunks.filter((c) => c.file === 'empty.img').map((c) => [c.eof, c.size]),
          [[true, '0']],
        );
        assert.deepEqual(chunks.at(-1), toOutput({ end: true, file_count: 5 }));
        assert.equal(chunks.filter((c) => c.end).length, 1);

        const rx = receiver(out);
        await feed(rx, chunks);
        const got = rx.finish();

        assert.deepEqual((await readdir(out)).sort(), Object.keys(files).sort());
        for (const [name, data] of Object.entries(files)) {
          assert.deepEqual(await readFile(join(out, name)), data, name);
        }
        assert.deepEqual(rx.received, Object.keys(files));
        assert.deepEqual(got, sent);
        assert.equal(sent.files, 5);
        assert.equal(sent.rawBytes, 100 + 5000 + 9000 + 2048);
        if (compress)
          assert.ok(sent.wireBytes < sent.rawBytes, `wire ${sent.wireBytes} raw ${sent.rawBytes}`);
        else assert.equal(sent.wireBytes, sent.rawBytes);
        if (compress) assert.ok(chunks.some((c) => c.file === 'rootfs.tar' && c.compressed));
      });
    }

    it('accepts an empty stream', async () => {
      const chunks = await encode({});
      assert.deepEqual(chunks, [toOutput({ end: true, file_count: 0 })]);
      const rx = receiver(out);
      await feed(rx, chunks);
      assert.deepEqual(rx.finish(), { rawBytes: 0, wireBytes: 0, files: 0 });
    });

    it('the encoder refuses a hostile file name', async () => {
      await rejects(
        collect(encodeFiles([source('../x', randomBytes(10))])),
        'INVALID_ARGUMENT',
        /unsafe file name/,
      );
    });

    describe('rejections', () => {
      const files = { 'a.img': randomBytes(3000), 'b.img': randomBytes(10) };
      let chunks: ImageChunk__Output[];
      beforeEach(async () => {
        chunks = await encode(files);
      });
      /** Index of the n-th data chunk of a file. */
      const dataChunk = (file: string, n = 0) =>
        chunks.findIndex((c) => c.file === file && !c.eof && Number(c.offset) === n * 1024);
      const eofChunk = (file: string) => chunks.findIndex((c) => c.file === file && c.eof);

      it('a gap in the offsets', async () => {
        chunks.splice(dataChunk('a.img', 1), 1);
        const rx = receiver(out);
        await rejects(
          feed(rx, chunks),
          'DATA_LOSS',
          /^image file a\.img: chunk at offset 2048, expected 1024$/,
        );
      });

      it('a file that does not start at 0', async () => {
        chunks.splice(dataChunk('a.img', 0), 1);
        const rx = receiver(out);
        await rejects(feed(rx, chunks), 'DATA_LOSS', /^image file a\.img starts at offset 1024, not 0$/);
      });

      it('a crc32 mismatch', async () => {
        const c = chunks[dataChunk('a.img', 1)];
        assert.equal(c.compressed, false);
        c.data[17] ^= 0x40;
        const rx = receiver(out);
        await rejects(feed(rx, chunks), 'DATA_LOSS', /^image file a\.img: crc32 mismatch at offset 1024$/);
      });

      it('a sha256 mismatch at eof', async () => {
        // Corrupt the data and fix up the crc so only the whole-file digest catches it.
        const c = chunks[dataChunk('a.img', 2)];
        c.data[0] ^= 1;
        c.crc32 = crc32(c.data);
        const rx = receiver(out);
        await rejects(
          feed(rx, chunks),
          'DATA_LOSS',
          /^image file a\.img: sha256 mismatch \(corrupted in transit\)$/,
        );
      });

      it('a size mismatch at eof', async () => {
        chunks[eofChunk('a.img')].size = '3001';
        const rx = receiver(out);
        await rejects(
          feed(rx, chunks),
          'DATA_LOSS',
          /^image file a\.img: sender says 3001 bytes, received 3000$/,
        );
      });

      it('a raw_length that disagrees with the data', async () => {
        chunks[dataChunk('a.img', 0)].raw_length = 1000;
        const rx = receiver(out);
        await rejects(
          feed(rx, chunks),
          'DATA_LOSS',
          /^image file a\.img: chunk carries 1024 bytes, header says 1000$/,
        );
      });

      it('a corrupted compressed block', async () => {
        const z = await encode({ 'z.img': compressible(4096) }, { compress: true, chunkSize: 4096 });
        assert.equal(z[0].compressed, true);
        z[0].raw_length += 5;
        const rx = receiver(out);
        await rejects(feed(rx, z), 'DATA_LOSS', /lz4 block did not decode to 4101 bytes/);
      });

      it('a stream cut off in the middle of a file', async () => {
        const rx = receiver(out);
        await feed(rx, chunks.slice(0, 2));
        assert.throws(
          () => rx.finish(),
          (e: unknown) =>
            e instanceof TernError &&
            e.code === 'DATA_LOSS' &&
            e.message === 'image stream was cut off in a.img at 2048 bytes',
        );
      });

      it('a stream cut off before its end marker', async () => {
        const rx = receiver(out);
        await feed(rx, chunks.slice(0, -1));
        assert.throws(
          () => rx.finish(),
          (e: unknown) =>
            e instanceof TernError &&
            e.code === 'DATA_LOSS' &&
            e.message === 'image stream was cut off before its end marker',
        );
      });

      it('an end marker in the middle of a file', async () => {
        const rx = receiver(out);
        await rejects(
          feed(rx, [...chunks.slice(0, 1), toOutput({ end: true, file_count: 0 })]),
          'DATA_LOSS',
          /^image stream ended in the middle of a\.img$/,
        );
      });

      it('an end marker with the wrong file_count', async () => {
        chunks[chunks.length - 1].file_count = 3;
        const rx = receiver(out);
        await rejects(feed(rx, chunks), 'DATA_LOSS', /^image stream announced 3 files but carried 2$/);
      });

      it('a new file before the previous one finished', async () => {
        chunks.splice(eofChunk('a.img'), 1);
        const rx = receiver(out);
        await rejects(
          feed(rx, chunks),
          'DATA_LOSS',
          /^image file a\.img was not finished before b\.img began$/,
        );
      });

      it('a file name sent twice', async () => {
        const again = (await encode({ 'a.img': randomBytes(5) })).slice(0, -1);
        const rx = receiver(out);
        await rejects(
          feed(rx, [...chunks.slice(0, -1), ...again]),
          'INVALID_ARGUMENT',
          /^image file a\.img sent twice$/,
        );
      });

      it('a file that already exists in the target directory', async () => {
        await writeFile(join(out, 'b.img'), 'precious');
        const rx = receiver(out);
        await rejects(feed(rx, chunks), 'ALREADY_EXISTS', /^cannot create image file b\.img: .*EEXIST/);
        assert.equal(await readFile(join(out, 'b.img'), 'utf8'), 'precious');
      });

      for (const name of ['../evil.img', '.hidden', 'x/y']) {
        it(`a hostile name ${JSON.stringify(name)}`, async () => {
          chunks[0].file = name;
          const rx = receiver(out);
          await rejects(feed(rx, chunks), 'INVALID_ARGUMENT', /^refusing image chunk with unsafe file name/);
          assert.deepEqual(await readdir(dir), ['out']);
          assert.deepEqual(await readdir(out), []);
        });
      }

      it('a chunk after the end marker', async () => {
        const rx = receiver(out);
        await feed(rx, chunks);
        await rejects(rx.accept(chunks[0]), 'INVALID_ARGUMENT', /^image chunk after the end of the stream$/);
        await rejects(
          rx.accept(toOutput({ end: true, file_count: 2 })),
          'INVALID_ARGUMENT',
          /^image chunk after the end of the stream$/,
        );
      });

      it('the source-gone message inside the stream (it comes only after the end of a held fetch)', async () => {
        const rx = receiver(out);
        await rejects(
          rx.accept(toOutput({ source_gone: true })),
          'INVALID_ARGUMENT',
          /^source_gone inside an image stream$/,
        );
        assert.deepEqual(await readdir(out), []);
      });

      it('more bytes than maxBytes', async () => {
        const rx = receiver(out, { maxBytes: 2500 });
        await rejects(feed(rx, chunks), 'RESOURCE_EXHAUSTED', /^image set exceeds the 2500 bytes allowed$/);
        // The two chunks that fit were written; the third was not.
        assert.equal(rx.stats.rawBytes, 2048);
      });

      it('more files than maxFiles', async () => {
        const rx = receiver(out, { maxFiles: 1 });
        await rejects(feed(rx, chunks), 'RESOURCE_EXHAUSTED', /^image set exceeds the 1 files allowed$/);
        assert.equal(rx.received.length, 1);
      });

      it('exactly maxBytes is allowed', async () => {
        const rx = receiver(out, { maxBytes: 3010 });
        await feed(rx, chunks);
        assert.equal(rx.finish().rawBytes, 3010);
      });

      it('discard() removes the partly written file', async () => {
        const rx = receiver(out);
        await feed(rx, chunks.slice(0, 2));
        assert.deepEqual(await readdir(out), ['a.img']);
        await rx.discard();
        assert.deepEqual(await readdir(out), []);
        // Idempotent.
        await rx.discard();
      });

      it('discard() after a failed chunk removes the partial file', async () => {
        chunks[dataChunk('a.img', 1)].data[0] ^= 1;
        const rx = receiver(out);
        await rejects(feed(rx, chunks), 'DATA_LOSS', /crc32 mismatch/);
        assert.deepEqual(await readdir(out), ['a.img']);
        await rx.discard();
        assert.deepEqual(await readdir(out), []);
      });

      it('discard() keeps files that were completed', async () => {
        const rx = receiver(out);
        await feed(rx, chunks.slice(0, eofChunk('a.img') + 2));
        assert.deepEqual((await readdir(out)).sort(), ['a.img', 'b.img']);
        await rx.discard();
        assert.deepEqual(await readdir(out), ['a.img']);
        assert.deepEqual(await readFile(join(out, 'a.img')), files['a.img']);
      });
    });
  });
});
