import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onTmpfs } from '../../core/files.js';
import { keepsKdatIn, prepareKdatCache } from '../../kernel/kdat.js';

describe("CRIU's kernel-feature cache directory", () => {
  it('on a tmpfs: kept as it is, root-only, a stale criu.kdat.tmp removed and the cache left alone', async function () {
    if (!(await onTmpfs('/dev/shm').catch(() => false))) this.skip();
    const dir = await mkdtemp('/dev/shm/tern-kdat-test-');
    try {
      await writeFile(join(dir, 'criu.kdat.tmp'), '');
      await writeFile(join(dir, 'criu.kdat'), 'cache');
      assert.deepEqual(await prepareKdatCache(dir), { ok: true, mounted: false });
      assert.equal(existsSync(join(dir, 'criu.kdat.tmp')), false);
      assert.equal(await readFile(join(dir, 'criu.kdat'), 'utf8'), 'cache');
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is prepared only for a CRIU built to keep its cache there', async () => {
    const dir = await mkdtemp(join(process.cwd(), '.tern-kdat-test-'));
    try {
      await writeFile(
        join(dir, 'criu'),
        `#!/bin/sh\n# built with RUNDIR=${dir}/run\nKDAT=${dir}/run/criu.kdat\n`,
      );
      await writeFile(join(dir, 'stock'), '#!/bin/sh\n# /run/criu.kdat\n');
      assert.equal(await keepsKdatIn(join(dir, 'criu'), join(dir, 'run')), true);
      assert.equal(await keepsKdatIn(join(dir, 'stock'), join(dir, 'run')), false);
      assert.equal(await keepsKdatIn(join(dir, 'missing'), join(dir, 'run')), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('elsewhere: a tmpfs is mounted on it as root, or a reason is given', async function () {
    // Under the state dirs' usual disk; skipped where even that is a tmpfs.
    const base = await mkdtemp(join(process.cwd(), '.tern-kdat-test-'));
    const dir = join(base, 'criu');
    try {
      if (await onTmpfs(base)) this.skip();
      const r = await prepareKdatCache(dir);
      if (process.getuid?.() === 0) {
        assert.deepEqual(r, { ok: true, mounted: true });
        assert.equal(await onTmpfs(dir), true);
        assert.equal((await stat(dir)).mode & 0o777, 0o700);
      } else {
        assert.equal(r.ok, false);
        assert.match((r as { why: string }).why, /cannot mount a tmpfs on/);
      }
    } finally {
      spawnSync('umount', [dir]);
      await rm(base, { recursive: true, force: true });
    }
  });
});
