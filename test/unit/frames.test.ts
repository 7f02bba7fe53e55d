// The data channel's opening line (proto/frames.ts).
import assert from 'node:assert/strict';
import { TernError } from '../../core/errors.js';
import { helloLine, parseHello } from '../../proto/frames.js';

describe('data channel opening line', () => {
  it('names the migration and what is wanted, each want read back as written', () => {
    for (const want of ['images', 'images-held', 'rootfs', 'pages'] as const) {
      const line = helloLine('mabc123', want);
      assert.equal(line, `TERN-DATA 2 mabc123 ${want}\n`);
      assert.deepEqual(parseHello(line.trimEnd()), { migration: 'mabc123', want });
    }
    assert.deepEqual(parseHello(helloLine('mabc123', 'pages', 3).trimEnd()), {
      migration: 'mabc123',
      want: 'pages',
      round: 3,
    });
  });

  it('refuses anything else, as an older agent refuses a want it does not know', () => {
    for (const line of [
      'TERN-DATA 2 mabc123 images-all',
      'TERN-DATA 2 mabc123 images held',
      'TERN-DATA 1 mabc123 images',
      'TERN-DATA 2 ../x images',
      'TERN-DATA 2 mabc123 rootfs 2',
    ])
      assert.throws(
        () => parseHello(line),
        (e: TernError) => e instanceof TernError && e.code === 'INVALID_ARGUMENT',
        line,
      );
  });
});
