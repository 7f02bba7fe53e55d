// The data path on the real testbed: where a migration's bytes go and who
// may fetch them.
//
// - A target whose state directory has no room for the container refuses in
//   preflight: the source never freezes, and the target keeps nothing.
// - Memory pages reach the target's page server while CRIU dumps; what the
//   data channel carries afterwards is small, and nothing goes through the
//   coordinator.
// - The source's data channel refuses a fetcher without the migration's
//   credential, after a move and while the source holds its frozen tree; the
//   move itself is not disturbed.
// - The rootfs pre-copy plus the delta sent while frozen give the target
//   exactly the rootfs the container had at the freeze: files created after
//   the pre-copy arrive, files deleted after it stay deleted.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  down,
  execIn,
  hostDir,
  memoryChecksums,
  migrate,
  migrationDirs,
  ownsTestbed,
  record,
  runWorkload,
  tern,
  up,
  waitFor,
  workloadRootfs,
} from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';

import {
  assertNoMigrationLeft,
  assertRefused,
  assertRunsOn,
  beat,
  CHURN,
  churnIndexes,
  dataAddress,
  disarm,
  entered,
  faultsFile,
  fetchAs,
  getMigration,
  HOLD_MS,
  last,
  MEM,
  MEM_MIB,
  MIB,
  migrationId,
  migrationsOf,
  PRECOPY_GAP_MS,
  phases,
  randomHex,
  shrinkStateDir,
  WINDOW,
  whileMoving,
} from './datapath/helpers.js';

describe('the data path: page server, rootfs pre-copy and delta, data channel credentials (privileged)', function () {
  this.timeout(300_000);
  let rootfs: Awaited<ReturnType<typeof workloadRootfs>> | undefined;
  /** Undoes a shrunk state directory, if a case left one. */
  let unshrink: (() => Promise<void>) | undefined;
  /** The move of case 1, whose source is then asked for its images again. */
  let firstMove: { id: string; from: string } | undefined;
  /** What each case measured, printed at the end. */
  const notes: string[] = [];

  before(async function () {
    requirePrivileges(this);
    await up(2);
    rootfs = await workloadRootfs();
    await runWorkload(
      'hostA',
      MEM,
      rootfs.dir,
      `/bin/workload heartbeat /tmp/hb & /bin/workload memhog ${MEM_MIB} 4242 random /tmp/mem & wait`,
      '/tmp/mem',
    );
  });

  afterEach(async () => {
    if (!ownsTestbed()) return;
    await unshrink?.().catch(() => {});
    unshrink = undefined;
    await disarm().catch(() => {});
  });

  after(async () => {
    if (notes.length > 0) process.stdout.write(`${notes.map((n) => `    ${n}`).join('\n')}\n`);
    if (ownsTestbed()) {
      await unshrink?.().catch(() => {});
      await disarm().catch(() => {});
      for (const n of [MEM, CHURN]) await tern('stop', n).catch(() => {});
    }
    await down().catch(() => {});
    await rootfs?.cleanup();
  });

  it('a target without room refuses in preflight: the source never freezes, the target keeps nothing', async () => {
    const before = await beat(MEM);
    // 16 MiB cannot take a container with 64 MiB of memory.
    const small = await shrinkStateDir('hostB', 16);
    unshrink = small.undo;

    const r = await migrate('--from', 'hostA', '--to', 'hostB', MEM);
    assert.notEqual(r.code, 0, `migrate succeeded on a full target:\n${r.stdout}`);
    assert.match(`${r.stdout}${r.stderr}`, /not enough space on hostB/);
    const m = await getMigration(migrationId(r.stdout));
    assert.equal(m.phase, 'aborted');
    assert.match(m.error, /not enough space on hostB/);
    // Refused before DumpAndHold was ever asked for: the tree was never frozen.
    assert.deepEqual(phases(m), ['preflight', 'aborting', 'aborted']);
    // Nothing of it where the agent writes, nor underneath once that is undone.
    assert.deepEqual(await small.list('migrations'), [], 'work dir left in the full state dir');
    assert.deepEqual(await small.list('containers'), [], 'container dir left in the full state dir');
    await small.undo();
    unshrink = undefined;
    await assertNoMigrationLeft('hostB');
    assert.ok(!existsSync(join(hostDir('hostB'), 'containers', MEM)), 'container dir left on hostB');

    const after = await beat(MEM);
    notes.push(
      `full target: heartbeat's largest gap ${before.maxGapMs} ms before, ${after.maxGapMs} ms after`,
    );
    assert.ok(after.seq > before.seq, `heartbeat went from ${before.seq} to ${after.seq}`);
    // A freeze would show as a gap between two beats as long as the dump.
    assert.ok(
      after.maxGapMs <= Math.max(before.maxGapMs, 250),
      `the heartbeat paused ${after.maxGapMs} ms (${before.maxGapMs} ms before the move)`,
    );
    await assertRunsOn(MEM, 'hostA');
    const { want, got } = await memoryChecksums(MEM);
    assert.equal(got, want, 'memory checksum differs');
  });

  it('pages go to the target’s page server during the dump; the data channel carries little afterwards', async () => {
    const r = await migrate('--from', 'hostA', '--to', 'hostB', MEM);
    assert.equal(r.code, 0, `migrate failed: ${r.stdout}\n${r.stderr}`);
    const id = migrationId(r.stdout);
    firstMove = { id, from: 'hostA' };

    // What `tern migration` prints: the dump's detail, recorded on entering transferring.
    const shown = await tern('migration', id);
    assert.equal(shown.code, 0, shown.stderr);
    const line = shown.stdout.split('\n').find((l) => /^\s*[\d.]+s\s+transferring\s/.test(l));
    assert.ok(line, `no transferring line in:\n${shown.stdout}`);
    const pages = Number(/; (\d+) bytes of pages sent to hostB during the dump\)/.exec(line)?.[1]);
    assert.ok(pages >= MEM_MIB * MIB, `only ${pages} bytes of pages went during the dump: ${line}`);

    const m = await getMigration(id);
    assert.equal(m.phase, 'done');
    const raw = Number(m.raw_bytes);
    notes.push(
      `pages: ${pages} bytes to the page server during the dump, then ${raw} bytes raw on the data channel, ${m.coordinator_bytes} through the coordinator, downtime ${m.downtime_ms} ms`,
    );
    assert.ok(raw < MIB, `the data channel still carried ${raw} bytes after the dump`);
    assert.equal(Number(m.coordinator_bytes), 0, 'image bytes went through the coordinator');
    const source = await dataAddress('hostA');
    assert.match(entered(m, 'restoring')?.detail ?? '', new RegExp(`direct from ${source}$`));

    await assertRunsOn(MEM, 'hostB');
    const { want, got } = await memoryChecksums(MEM);
    assert.equal(got, want, 'memory checksum after the move differs');
  });

  it('the data channel refuses a foreign credential, after a move and while the source holds its frozen tree', async () => {
    // After the move: the source holds nothing of that migration for anyone.
    const moved = firstMove ?? { id: (await migrationsOf(MEM)).at(-1)?.id ?? 'none', from: 'hostA' };
    const address = await dataAddress(moved.from);
    const stale = await fetchAs('hostB', address, moved.from, moved.id, randomHex(), ['images', 'rootfs']);
    assertRefused(stale, `after migration ${moved.id}`);
    // Nor of a migration it never heard of.
    assertRefused(
      await fetchAs('hostB', address, moved.from, 'mnotamigration', randomHex(), ['images']),
      'made-up id',
    );

    // During a move back: the coordinator stalls between the dump and the
    // transfer (fault point before-transferring), so the source holds its
    // frozen tree with its images ready, and the target has not fetched them
    // yet. A fetcher without the credential gets nothing, and the target's
    // own fetch afterwards is not spoilt.
    const source = await dataAddress('hostB');
    await writeFile(faultsFile('coordinator'), `before-transferring=delay:${HOLD_MS}\n`);
    const moving = migrate('--from', 'hostB', '--to', 'hostA', MEM);
    // The coordinator is stalled: the hold is seen on the source's disk.
    const id = await whileMoving(
      moving,
      'the source to hold its frozen tree',
      async () => {
        const work = await migrationDirs('hostB');
        if (work.length !== 1 || !existsSync(join(work[0], 'hold.json'))) return undefined;
        return (await record('hostB', MEM))?.state === 'frozen' ? basename(work[0]) : undefined;
      },
      30_000,
    );
    const held = await fetchAs('hostA', source, 'hostB', id, randomHex(), ['images', 'rootfs']);
    const fetchedAt = Date.now();
    assertRefused(held, `during migration ${id}`);

    const r = await moving;
    assert.equal(r.code, 0, `the move failed: ${r.stdout}\n${r.stderr}`);
    const m = await getMigration(id);
    assert.equal(m.phase, 'done');
    // The refused fetches came while the source held its tree, before the target fetched.
    const transfer = Number(entered(m, 'transferring')?.at_ms);
    assert.ok(fetchedAt < transfer, `the fetches ended ${fetchedAt - transfer} ms after the transfer began`);
    assert.match(entered(m, 'restoring')?.detail ?? '', new RegExp(`direct from ${source}$`));
    await assertRunsOn(MEM, 'hostA');
    const { want, got } = await memoryChecksums(MEM);
    assert.equal(got, want, 'memory checksum after the move differs');
  });

  it('rootfs changes made after the pre-copy arrive, and deleted files stay deleted', async () => {
    // Each iteration creates /churn/f<i> and deletes /churn/f<i-50>, about
    // every 5 ms, until /churn.stop appears: at any moment /churn holds one
    // contiguous run of numbers, and after a clean stop exactly 50.
    await runWorkload(
      'hostA',
      CHURN,
      rootfs?.dir ?? '',
      `/bin/workload heartbeat /tmp/hb &
mkdir -p /churn; i=0
while [ ! -e /churn.stop ]; do
  i=$((i+1)); : > /churn/f$i; rm -f /churn/f$((i-${WINDOW}))
  [ $i = ${WINDOW + 10} ] && : > /churn.ready
  usleep 5000
done
: > /churn.done
wait`,
      '/churn.ready',
    );
    // Written just before the move: they travel in the pre-copy.
    await execIn(
      CHURN,
      'sh',
      '-c',
      'echo kept > /marker; echo before > /rewritten; mkdir -p /gone/sub; echo x > /gone/sub/file',
    );

    // The coordinator stalls between the pre-copy and the dump (fault point
    // before-dumping) for several times the 50 iterations a file lives.
    // Meanwhile the loop deletes every churn file the pre-copy carried and
    // creates new ones, so at the freeze every churn file exists only because
    // it was created after the pre-copy: it can only reach the target in the
    // delta. Every churn file the target received in the pre-copy must go
    // again, by the delta's list of deleted paths; one that stayed would
    // break the contiguous run.
    await writeFile(faultsFile('coordinator'), `before-dumping=delay:${PRECOPY_GAP_MS}\n`);
    const moving = migrate('--from', 'hostA', '--to', 'hostB', CHURN);

    // The target's copy of the rootfs, once the pre-copy is unpacked (its
    // incoming directory gone) and before the delta is applied.
    const target = join(hostDir('hostB'), 'containers', CHURN, 'rootfs');
    const precopied = await whileMoving(
      moving,
      'the pre-copy to be unpacked on hostB',
      async () => {
        const work = await migrationDirs('hostB');
        if (work.length !== 1 || existsSync(join(work[0], 'rootfs-in'))) return undefined;
        if (!existsSync(join(target, 'marker'))) return undefined;
        return churnIndexes(await readdir(join(target, 'churn')));
      },
      30_000,
    );
    const readAt = Date.now();
    // Changes after the pre-copy, made through the source's rootfs on its
    // host as a process in the container would: a rewritten file, a removed
    // directory tree.
    const source = join(hostDir('hostA'), 'containers', CHURN, 'rootfs');
    await writeFile(join(source, 'rewritten'), 'after\n');
    await rm(join(source, 'gone'), { recursive: true });

    const r = await moving;
    assert.equal(r.code, 0, `migrate failed: ${r.stdout}\n${r.stderr}`);
    const m = await getMigration(migrationId(r.stdout));
    assert.match(entered(m, 'dumping')?.detail ?? '', /rootfs pre-copied/);
    assert.ok(
      readAt < Number(entered(m, 'dumping')?.at_ms),
      'the pre-copy was read on hostB after the dump had begun',
    );
    assert.ok(precopied.length > 0, 'the pre-copy carried no churn files');
    assert.equal(
      last(precopied) - precopied[0] + 1,
      precopied.length,
      `the pre-copy's churn files are not contiguous: ${precopied.join(' ')}`,
    );

    // The loop kept running through the move: it goes on on the target. Stop
    // it there and wait for it to end.
    // The shell's glob only reads the directory: ls would also stat each name, and
    // fail on one the loop deletes meanwhile.
    const newest = async () =>
      last(
        churnIndexes((await execIn(CHURN, 'sh', '-c', 'cd /churn && echo *')).split(/\s+/).filter(Boolean)),
      );
    const first = await newest();
    await waitFor('the churn loop to go on on hostB', async () =>
      (await newest()) > first ? true : undefined,
    );
    await execIn(CHURN, 'touch', '/churn.stop');
    await waitFor(
      'the churn loop to stop',
      async () => (await tern('exec', CHURN, '--', 'cat', '/churn.done')).code === 0 || undefined,
    );
    const now = churnIndexes((await execIn(CHURN, 'ls', '-A', '/churn')).split('\n').filter(Boolean));
    const range = (xs: number[]) => (xs.length ? `f${xs[0]}..f${last(xs)}` : 'none');
    notes.push(
      `rootfs: pre-copy carried churn ${range(precopied)}; after the move and the stop: ${range(now)} (${now.length} files)`,
    );
    // Every check is made, and all that fail are reported together.
    const problems: string[] = [];
    // After a clean stop the last WINDOW iterations' files exist, and no other.
    // An older one is a file the container deleted that came back; one
    // carried by the pre-copy came back because the target did not remove it.
    if (now.length === 0) problems.push('/churn is empty on the target');
    const top = last(now);
    const stray = now.filter((i) => i <= top - WINDOW);
    const missing: number[] = [];
    for (let i = top - WINDOW + 1; i <= top; i++) if (!now.includes(i)) missing.push(i);
    if (stray.length > 0)
      problems.push(
        `deleted files are back on the target: ${stray.map((i) => `f${i}`).join(' ')}` +
          (stray.some((i) => precopied.includes(i)) ? ` (the pre-copy carried ${range(precopied)})` : ''),
      );
    if (missing.length > 0)
      problems.push(`files missing on the target: ${missing.map((i) => `f${i}`).join(' ')}`);
    const marker = (await execIn(CHURN, 'cat', '/marker')).trim();
    if (marker !== 'kept') problems.push(`/marker holds ${JSON.stringify(marker)}, want "kept"`);
    const rewritten = (await execIn(CHURN, 'cat', '/rewritten')).trim();
    if (rewritten !== 'after') problems.push(`/rewritten holds ${JSON.stringify(rewritten)}, want "after"`);
    const gone = await tern('exec', CHURN, '--', 'find', '/gone');
    if (gone.code === 0)
      problems.push(`a removed directory came back: ${gone.stdout.trim().replace(/\n/g, ' ')}`);
    assert.deepEqual(problems, []);
    await assertRunsOn(CHURN, 'hostB');
  });
});
