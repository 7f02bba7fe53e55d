// The chunk stream's primitives: file names, re-chunking, lz4 blocks.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TernError } from '../../core/errors.js';
import { checkChunkName, compressBlock, decompressBlock, rechunk } from '../../proto/chunks.js';

/** What a gRPC client would hand the receiver: every field present, longs as strings. */
import { collect, compressible, fromBuffers } from '../lib/chunk-fixtures.js';

describe('chunks', () => {
  describe('checkChunkName', () => {
    const hostile = [
      '../etc/passwd',
      'a/b',
      '/abs',
      '.',
      '..',
      '.hidden',
      '',
      'x\0y',
      'a\\b',
      'x'.repeat(256),
    ];
    for (const name of hostile) {
      it(`rejects ${JSON.stringify(name.length > 20 ? `${name.slice(0, 4)}...(${name.length})` : name)}`, () => {
        assert.throws(
          () => checkChunkName(name),
          (e: unknown) =>
            e instanceof TernError &&
            e.code === 'INVALID_ARGUMENT' &&
            e.message.startsWith('refusing image chunk with unsafe file name'),
        );
      });
    }

    for (const name of ['pages-1.img', 'rootfs.tar', 'inventory.img', 'x'.repeat(255), 'a..b']) {
      it(`accepts ${JSON.stringify(name.length > 20 ? `${name.slice(0, 4)}...(${name.length})` : name)}`, () => {
        assert.equal(checkChunkName(name), name);
      });
    }
  });

  describe('rechunk', () => {
    const table: { input: number[]; size: number; out: number[] }[] = [
      { input: [10], size: 4, out: [4, 4, 2] },
      { input: [3, 3, 3], size: 4, out: [4, 4, 1] },
      { input: [1, 1, 1, 1], size: 2, out: [2, 2] },
      { input: [8], size: 8, out: [8] },
      { input: [0, 5, 0, 3], size: 4, out: [4, 4] },
      { input: [], size: 4, out: [] },
      { input: [2, 9, 1], size: 3, out: [3, 3, 3, 3] },
    ];
    for (const { input, size, out } of table) {
      it(`[${input}] by ${size} -> [${out}]`, async () => {
        let counter = 0;
        const bufs = input.map((n) => Buffer.from(Array.from({ length: n }, () => counter++ & 255)));
        const pieces = await collect(rechunk(fromBuffers(...bufs), size));
        assert.deepEqual(
          pieces.map((p) => p.length),
          out,
        );
        assert.deepEqual(Buffer.concat(pieces), Buffer.concat(bufs));
      });
    }
  });

  describe('compressBlock / decompressBlock', () => {
    it('compresses compressible data and round trips', () => {
      const raw = compressible(64 * 1024);
      const packed = compressBlock(raw);
      assert.equal(packed.compressed, true);
      assert.ok(packed.data.length < raw.length / 4, `compressed to ${packed.data.length}`);
      assert.deepEqual(decompressBlock(packed.data, raw.length), raw);
    });

    it('sends random data raw', () => {
      const raw = randomBytes(64 * 1024);
      const packed = compressBlock(raw);
      assert.equal(packed.compressed, false);
      assert.equal(packed.data, raw);
    });

    it('rejects a block that decodes to the wrong length', () => {
      const raw = compressible(4096);
      const packed = compressBlock(raw);
      assert.throws(
        () => decompressBlock(packed.data, raw.length + 10),
        (e: unknown) =>
          e instanceof TernError && e.code === 'DATA_LOSS' && /did not decode to 4106 bytes/.test(e.message),
      );
    });
  });
});
