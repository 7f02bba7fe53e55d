import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { TernError } from '../../core/errors.js';
import { CriuEngine } from '../../kernel/criu.js';
import {
  IMAGE_TYPES,
  IMG_COMMON_MAGIC,
  IMG_SERVICE_MAGIC,
  readImage,
  resolveImport,
  splitImage,
} from '../../kernel/images.js';

const PROTO_DIR = '/opt/tern/criu/images';

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** An image file: optional head magic, type magic, then length-prefixed entries. */
function image(head: number | undefined, magic: number, entries: Buffer[]): Buffer {
  const parts = head === undefined ? [] : [u32(head)];
  parts.push(u32(magic));
  for (const e of entries) parts.push(u32(e.length), e);
  return Buffer.concat(parts);
}

function dataLoss(message: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof TernError, `expected a TernError, got ${String(e)}`);
    assert.equal(e.code, 'DATA_LOSS');
    assert.match(e.message, message);
    return true;
  };
}

const PSTREE = IMAGE_TYPES.pstree.magic;

describe('images', () => {
  describe('splitImage', () => {
    const e1 = Buffer.from([0x08, 0x01, 0x10, 0x00]);
    const e2 = Buffer.from([0x08, 0x2a]);

    it('returns each entry without its length prefix', () => {
      const parts = splitImage(image(IMG_COMMON_MAGIC, PSTREE, [e1, e2]), 'pstree', 'pstree.img');
      assert.deepEqual(parts, [e1, e2]);
    });

    it('accepts the service head magic', () => {
      assert.deepEqual(splitImage(image(IMG_SERVICE_MAGIC, PSTREE, [e2]), 'pstree', 'pstree.img'), [e2]);
    });

    it('accepts an empty entry and an image with no entries', () => {
      assert.deepEqual(splitImage(image(IMG_COMMON_MAGIC, PSTREE, [Buffer.alloc(0)]), 'pstree', 'p'), [
        Buffer.alloc(0),
      ]);
      assert.deepEqual(splitImage(image(IMG_COMMON_MAGIC, PSTREE, []), 'pstree', 'p'), []);
    });

    it('rejects a bad head magic', () => {
      assert.throws(
        () => splitImage(image(0xdeadbeef, PSTREE, [e1]), 'pstree', 'pstree.img'),
        dataLoss(/^image pstree\.img has a bad head magic 0xdeadbeef$/),
      );
    });

    it('rejects a wrong type magic', () => {
      const utsns = IMAGE_TYPES.utsns.magic;
      assert.throws(
        () => splitImage(image(IMG_COMMON_MAGIC, utsns, [e1]), 'pstree', 'pstree.img'),
        dataLoss(
          new RegExp(`^image pstree\\.img is not a pstree image \\(magic 0x${utsns.toString(16)}\\)$`),
        ),
      );
    });

    it('rejects a file too short for its magics', () => {
      assert.throws(
        () => splitImage(Buffer.alloc(0), 'pstree', 'pstree.img'),
        dataLoss(/^image pstree\.img is truncated at byte 0$/),
      );
      assert.throws(
        () => splitImage(u32(IMG_COMMON_MAGIC), 'pstree', 'pstree.img'),
        dataLoss(/^image pstree\.img is truncated at byte 4$/),
      );
    });

    it('rejects a truncated entry', () => {
      const full = image(IMG_COMMON_MAGIC, PSTREE, [e1, e2]);
      // Cut inside the last entry's payload.
      assert.throws(
        () => splitImage(full.subarray(0, full.length - 1), 'pstree', 'pstree.img'),
        dataLoss(/^image pstree\.img is truncated at byte 20$/),
      );
      // Cut inside the last entry's length prefix.
      assert.throws(
        () => splitImage(full.subarray(0, 18), 'pstree', 'pstree-1.img'),
        dataLoss(/^image pstree-1\.img is truncated at byte 16$/),
      );
    });

    it('rejects a length prefix pointing past the end', () => {
      const buf = Buffer.concat([u32(IMG_COMMON_MAGIC), u32(PSTREE), u32(0xffffffff), Buffer.alloc(8)]);
      assert.throws(() => splitImage(buf, 'pstree', 'pstree.img'), dataLoss(/truncated at byte 12/));
    });

    it('reads inventory without a head magic', () => {
      const inv = IMAGE_TYPES.inventory.magic;
      assert.equal(inv, 0x58313116);
      assert.deepEqual(splitImage(u32(inv), 'inventory', 'inventory.img'), []);
      assert.deepEqual(splitImage(image(undefined, inv, [e1]), 'inventory', 'inventory.img'), [e1]);
      // A head magic in front of inventory is taken as its type magic and refused.
      assert.throws(
        () => splitImage(image(IMG_COMMON_MAGIC, inv, []), 'inventory', 'inventory.img'),
        dataLoss(/is not a inventory image/),
      );
    });
  });

  describe('readImage', () => {
    let dir: string;
    let pstreeEntry: protobuf.Type;
    before(async function () {
      if (!existsSync(join(PROTO_DIR, 'pstree.proto'))) {
        // this.skip() takes no reason: put it in the titles the reporter prints as pending.
        for (const t of this.test?.parent?.tests ?? [])
          t.title += ' (skipped: needs CRIU images (make install))';
        this.skip();
      }
      dir = await mkdtemp(join(tmpdir(), 'tern-images-'));
      const root = new protobuf.Root();
      await root.load(join(PROTO_DIR, 'pstree.proto'), { keepCase: true });
      pstreeEntry = root.lookupType('pstree_entry');
    });
    after(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('decodes pstree entries', async () => {
      const entries = [
        { pid: 1, ppid: 0, pgid: 1, sid: 1, threads: [1] },
        { pid: 42, ppid: 1, pgid: 42, sid: 1, threads: [42, 43, 44] },
        { pid: 4000000, ppid: 42, pgid: 42, sid: 1, threads: [4000000] },
      ];
      const raw = entries.map((e) => Buffer.from(pstreeEntry.encode(pstreeEntry.fromObject(e)).finish()));
      await writeFile(join(dir, 'pstree.img'), image(IMG_COMMON_MAGIC, PSTREE, raw));
      assert.deepEqual(await readImage(PROTO_DIR, dir, 'pstree'), entries);
    });

    it('fills defaults for empty repeated fields', async () => {
      const sub = await mkdtemp(join(dir, 'defaults-'));
      const raw = Buffer.from(
        pstreeEntry.encode(pstreeEntry.fromObject({ pid: 7, ppid: 1, pgid: 7, sid: 7 })).finish(),
      );
      await writeFile(join(sub, 'pstree.img'), image(IMG_COMMON_MAGIC, PSTREE, [raw]));
      assert.deepEqual(await readImage(PROTO_DIR, sub, 'pstree'), [
        { pid: 7, ppid: 1, pgid: 7, sid: 7, threads: [] },
      ]);
    });

    it('reports a truncated image file by name', async () => {
      const sub = await mkdtemp(join(dir, 'trunc-'));
      const raw = Buffer.from(
        pstreeEntry.encode(pstreeEntry.fromObject({ pid: 7, ppid: 1, pgid: 7, sid: 7 })).finish(),
      );
      const full = image(IMG_COMMON_MAGIC, PSTREE, [raw]);
      await writeFile(join(sub, 'pstree.img'), full.subarray(0, full.length - 2));
      await assert.rejects(
        readImage(PROTO_DIR, sub, 'pstree'),
        dataLoss(/^image pstree\.img is truncated at byte 12$/),
      );
    });

    it('reports an undecodable entry as DATA_LOSS', async () => {
      const sub = await mkdtemp(join(dir, 'garbage-'));
      // Field 1 as a length-delimited value of 100 bytes that are not there.
      await writeFile(
        join(sub, 'pstree.img'),
        image(IMG_COMMON_MAGIC, PSTREE, [Buffer.from([0x0a, 0x64, 0x01])]),
      );
      await assert.rejects(
        readImage(PROTO_DIR, sub, 'pstree'),
        dataLoss(/^image pstree\.img has a malformed entry: /),
      );
    });

    it('reports a missing required field as DATA_LOSS', async () => {
      const sub = await mkdtemp(join(dir, 'required-'));
      // Only pid set: ppid, pgid and sid are required in CRIU's proto2 schema.
      await writeFile(join(sub, 'pstree.img'), image(IMG_COMMON_MAGIC, PSTREE, [Buffer.from([0x08, 0x07])]));
      await assert.rejects(
        readImage(PROTO_DIR, sub, 'pstree'),
        dataLoss(/^image pstree\.img has a malformed entry: .*missing required/),
      );
    });
  });

  // These need no CRIU .proto files, so they run everywhere.
  describe('readImage failures before decoding', () => {
    let tmp: string;
    before(async () => {
      tmp = await mkdtemp(join(tmpdir(), 'tern-images-'));
    });
    after(async () => {
      await rm(tmp, { recursive: true, force: true });
    });

    it('reports a missing image as NOT_FOUND', async () => {
      const empty = await mkdtemp(join(tmp, 'empty-'));
      await assert.rejects(readImage(PROTO_DIR, empty, 'pstree'), (e: unknown) => {
        assert.ok(e instanceof TernError);
        assert.equal(e.code, 'NOT_FOUND');
        assert.match(e.message, /^image pstree\.img missing in /);
        return true;
      });
    });

    it('reports missing .proto files as FAILED_PRECONDITION', async () => {
      const noProto = await mkdtemp(join(tmp, 'noproto-'));
      await writeFile(join(noProto, 'pstree.img'), image(IMG_COMMON_MAGIC, PSTREE, []));
      await assert.rejects(readImage(noProto, noProto, 'pstree'), (e: unknown) => {
        assert.ok(e instanceof TernError);
        assert.equal(e.code, 'FAILED_PRECONDITION');
        assert.match(
          e.message,
          /^cannot load CRIU's pstree\.proto from .*noproto-.* \(run deploy\/install\.sh\)/,
        );
        return true;
      });
    });
  });

  describe('CriuEngine.processTree', () => {
    it('marks the tasks that were stopped when dumped', async function () {
      if (!existsSync(join(PROTO_DIR, 'core.proto'))) this.skip();
      const dir = await mkdtemp(join(tmpdir(), 'tern-tree-'));
      try {
        const root = new protobuf.Root();
        root.resolvePath = resolveImport(PROTO_DIR);
        await root.load(['pstree.proto', 'core.proto'], { keepCase: true });
        const pstree = root.lookupType('pstree_entry');
        const core = root.lookupType('core_entry');
        const procs = [
          { pid: 1, ppid: 0, state: 1 },
          { pid: 2, ppid: 1, state: 3 },
        ];
        const raw = procs.map((p) =>
          Buffer.from(
            pstree
              .encode(pstree.fromObject({ pid: p.pid, ppid: p.ppid, pgid: 1, sid: 1, threads: [p.pid] }))
              .finish(),
          ),
        );
        await writeFile(join(dir, 'pstree.img'), image(IMG_COMMON_MAGIC, IMAGE_TYPES.pstree.magic, raw));
        for (const p of procs) {
          const tc = {
            task_state: p.state,
            exit_code: 0,
            personality: 0,
            flags: 0,
            blk_sigset: 0,
            comm: 'x',
            stop_signo: p.state === 3 ? 20 : 0,
          };
          const c = Buffer.from(core.encode(core.fromObject({ mtype: 'X86_64', tc })).finish());
          await writeFile(
            join(dir, `core-${p.pid}.img`),
            image(IMG_COMMON_MAGIC, IMAGE_TYPES.core.magic, [c]),
          );
        }
        const engine = new CriuEngine({ criuPath: '/nonexistent/criu', protoDir: PROTO_DIR, shimPath: '' });
        const tree = await engine.processTree(dir);
        assert.deepEqual(
          tree.map((p) => [p.pid, p.stopped, p.stopSigno]),
          [
            [1, false, undefined],
            [2, true, 20],
          ],
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
