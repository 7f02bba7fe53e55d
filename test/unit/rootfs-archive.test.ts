// The rootfs delta as the target applies it (kernel/rootfs-archive.ts), with
// GNU tar: started before the delta exists, then given it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TarArchive } from '../../kernel/rootfs-archive.js';

describe('rootfs delta, unpacked by a tar started ahead', () => {
  const archive = new TarArchive();
  let dir: string;
  let rootfs: string;
  let source: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tern-delta-'));
    rootfs = join(dir, 'target');
    source = join(dir, 'source');
    for (const r of [rootfs, source]) {
      await mkdir(join(r, 'etc'), { recursive: true });
      await writeFile(join(r, 'etc', 'keep'), 'same');
      await writeFile(join(r, 'etc', 'old'), 'old');
    }
    // What changed on the source: etc/old removed, etc/new added, etc/keep rewritten.
    await rm(join(source, 'etc', 'old'));
    await writeFile(join(source, 'etc', 'new'), 'new');
    await writeFile(join(source, 'etc', 'keep'), 'changed');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function delta(): Promise<{ tar: string; dirs: string }> {
    const tar = join(dir, 'delta.tar');
    execFileSync('tar', ['-C', source, '-cpf', tar, '--no-recursion', './etc', './etc/new', './etc/keep']);
    const dirs = join(dir, 'dirs');
    await writeFile(dirs, await archive.listing(source, ['./etc']));
    return { tar, dirs };
  }

  it('applies the changed paths and removes what the listing lacks', async () => {
    const unpacker = archive.startDelta(rootfs);
    const { tar, dirs } = await delta();
    await unpacker.apply(tar, dirs);
    assert.equal(await readFile(join(rootfs, 'etc', 'keep'), 'utf8'), 'changed');
    assert.equal(await readFile(join(rootfs, 'etc', 'new'), 'utf8'), 'new');
    assert.equal(existsSync(join(rootfs, 'etc', 'old')), false);
    unpacker.cancel();
  });

  it('without a delta ends its tar unused and still applies the listing', async () => {
    const unpacker = archive.startDelta(rootfs);
    const { dirs } = await delta();
    await unpacker.apply(undefined, dirs);
    assert.equal(await readFile(join(rootfs, 'etc', 'keep'), 'utf8'), 'same');
    assert.equal(existsSync(join(rootfs, 'etc', 'old')), false);
  });

  it('refuses a delta that is not a tar, with what tar said', async () => {
    const unpacker = archive.startDelta(rootfs);
    const bad = join(dir, 'bad.tar');
    await writeFile(bad, 'not a tar archive at all'.repeat(100));
    await assert.rejects(unpacker.apply(bad), /applying the rootfs changes failed: .*tar/);
  });
});
