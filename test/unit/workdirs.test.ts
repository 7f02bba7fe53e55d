import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { AGENT_DEFAULTS, type AgentOptions } from '../../agent/config.js';
import { fitsInMemory, WorkDirs } from '../../agent/handoff/workdirs.js';
import { Trash } from '../../agent/trash.js';
import { TMPFS_MAGIC } from '../../core/files.js';

const GiB = 1 << 30;
const log = pino({ level: 'silent' });
const ID = 'mmwzabcd1234567';

/** A tmpfs to play the fast dir: /dev/shm where it is one. */
async function tmpfsDir(): Promise<string | undefined> {
  const s = await statfs('/dev/shm').catch(() => undefined);
  if (s?.type !== TMPFS_MAGIC) return undefined;
  return mkdtemp('/dev/shm/tern-workdirs-test-');
}

function options(stateDir: string, fastDir: string): AgentOptions {
  return {
    ...AGENT_DEFAULTS,
    host: 'unit',
    listen: '127.0.0.1:0',
    coordinator: '127.0.0.1:1',
    stateDir,
    fastDir,
  };
}

describe('where migrations keep their images', () => {
  describe('fitsInMemory', () => {
    const mem = { available: 8 * GiB, total: 16 * GiB };

    it('takes images that fit on the tmpfs and leave room for the tree restored from them', () => {
      assert.equal(fitsInMemory(1 * GiB, 4 * GiB, mem), true);
    });

    it('refuses images larger than the tmpfs has free, with a tenth to spare', () => {
      assert.equal(fitsInMemory(1 * GiB, 1 * GiB, mem), false);
    });

    it('refuses when images and their restored tree would eat into the host’s headroom', () => {
      // 3 GiB of images and 3 GiB of tree, a tenth more each, and 1.6 GiB headroom: more than 8.
      assert.equal(fitsInMemory(3 * GiB, 20 * GiB, mem), false);
      assert.equal(fitsInMemory(2 * GiB, 20 * GiB, mem), true);
    });
  });

  describe('WorkDirs', () => {
    let state = '';
    let fast: string | undefined;

    beforeEach(async () => {
      state = await mkdtemp(join(tmpdir(), 'tern-workdirs-state-'));
      fast = await tmpfsDir();
    });
    afterEach(async () => {
      await rm(state, { recursive: true, force: true });
      if (fast) await rm(fast, { recursive: true, force: true });
    });

    it('puts small images on the tmpfs, in the host’s own directory there', async function () {
      if (!fast) this.skip();
      const w = new WorkDirs(options(state, fast as string), log);
      await w.open();
      assert.deepEqual(w.bases(), [join(fast as string, 'unit'), join(state, 'migrations')]);
      assert.equal(await w.place(ID, 1 << 20), join(fast as string, 'unit', ID));
    });

    it('puts images on disk when they would not fit in memory', async function () {
      if (!fast) this.skip();
      const w = new WorkDirs(options(state, fast as string), log);
      await w.open();
      assert.equal(await w.place(ID, 2 ** 50), join(state, 'migrations', ID));
    });

    it('does not use a fast dir that is not a tmpfs', async () => {
      const notTmpfs = join(state, 'not-tmpfs');
      const w = new WorkDirs(options(state, notTmpfs), log);
      await w.open();
      assert.deepEqual(w.bases(), [join(state, 'migrations')]);
      assert.equal(await w.place(ID, 1 << 20), join(state, 'migrations', ID));
    });

    it('finds a migration where it is, and lists what an earlier agent left in both places', async function () {
      if (!fast) this.skip();
      const w = new WorkDirs(options(state, fast as string), log);
      await w.open();
      const onDisk = 'mmwzdisk0000001';
      await mkdir(join(state, 'migrations', onDisk), { recursive: true });
      await mkdir(join(fast as string, 'unit', ID), { recursive: true });
      assert.equal(w.dirOf(onDisk), join(state, 'migrations', onDisk));
      assert.equal(w.dirOf(ID), join(fast as string, 'unit', ID));
      // An existing directory stays where it is, whatever its size.
      assert.equal(await w.place(onDisk, 1), join(state, 'migrations', onDisk));
      assert.deepEqual(
        (await w.all()).map((e) => join(e.base, e.entry)).sort(),
        [join(fast as string, 'unit', ID), join(state, 'migrations', onDisk)].sort(),
      );
    });
  });

  describe('Trash with a tmpfs beside the state dir', () => {
    it('takes a directory away into the trash of its own filesystem', async function () {
      const fast = await tmpfsDir();
      if (!fast) this.skip();
      const state = await mkdtemp(join(tmpdir(), 'tern-trash-state-'));
      try {
        const t = new Trash(state, log, [fast as string]);
        await t.purge();
        const d = join(fast as string, ID);
        await mkdir(d);
        await writeFile(join(d, 'pages-1.img'), 'x');
        await t.discard(d);
        assert.ok(!existsSync(d), 'the directory is still there');
        await t.discard(join(state, 'nothing-here'));
      } finally {
        await rm(state, { recursive: true, force: true });
        await rm(fast as string, { recursive: true, force: true });
      }
    });
  });
});
