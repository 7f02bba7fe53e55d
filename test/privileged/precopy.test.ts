// Pre-copy moves on the local testbed: rounds of memory go to the target
// while the container runs, each through the agents' authenticated page
// stream, the final dump sends what changed since the last, and the memory
// is whole on the target. Needs CRIU's memory change tracking (the kernel's
// soft-dirty bits): where the kernel lacks it, the tests skip saying so, and
// a pre-copy move is refused with the reason before anything is frozen.
import assert from 'node:assert/strict';
import {
  down,
  heartbeat,
  memoryChecksums,
  migrate,
  ownsTestbed,
  precopyUnsupported,
  record,
  runWorkload,
  tern,
  up,
  workloadRootfs,
} from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';
import { migrationsOf } from './datapath/helpers.js';

const NAME = 'prc-mem';
const MIB = 1024 * 1024;

describe('pre-copy migration (privileged)', function () {
  this.timeout(600_000);
  let cleanupRootfs: (() => Promise<void>) | undefined;
  let rootfs = '';
  let unsupported: string | undefined;

  before(async function () {
    requirePrivileges(this);
    unsupported = await precopyUnsupported();
    await up(2);
    const r = await workloadRootfs();
    cleanupRootfs = r.cleanup;
    rootfs = r.dir;
    // A memory hog that keeps writing a small part of its memory: rounds shrink, then settle.
    await runWorkload(
      'hostA',
      NAME,
      rootfs,
      '/bin/workload heartbeat /tmp/hb & /bin/workload memhog 256 77 random /tmp/mem & wait',
      '/tmp/mem',
    );
  });

  after(async () => {
    if (ownsTestbed()) await tern('stop', NAME).catch(() => {});
    await down().catch(() => {});
    await cleanupRootfs?.();
  });

  it('refuses pre-copy before freezing anything where the kernel cannot track written pages', async function () {
    if (!unsupported) this.skip();
    const r = await migrate('--from', 'hostA', '--to', 'hostB', '--mode', 'precopy', NAME);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /cannot take part in a pre-copy move: this kernel cannot track which pages a process writes/,
    );
    assert.equal((await record('hostA', NAME))?.state, 'running');
    assert.equal(await record('hostB', NAME), undefined);
    const [m] = (await migrationsOf(NAME)).slice(-1);
    assert.equal(m.phase, 'aborted');
    assert.deepEqual(
      m.history.map((h) => h.phase),
      ['preflight', 'aborting', 'aborted'],
    );
  });

  it('sends memory in rounds while the container runs, then only what changed, memory whole', async function () {
    if (unsupported) {
      console.log(`      (skipped here: this kernel cannot run pre-copy: ${unsupported})`);
      this.skip();
    }
    const hb = await heartbeat(NAME);
    const r = await migrate('--from', 'hostA', '--to', 'hostB', '--mode', 'precopy', NAME);
    assert.equal(r.code, 0, r.stderr);
    const [m] = (await migrationsOf(NAME)).slice(-1);
    assert.equal(m.mode, 'precopy');
    assert.equal(m.phase, 'done', m.error);
    assert.deepEqual(
      m.history.map((h) => h.phase),
      ['preflight', 'precopying', 'dumping', 'transferring', 'restoring', 'committing', 'committed', 'done'],
    );
    assert.ok(m.precopy_rounds >= 1, 'no pre-copy round ran');
    // The first round carried the memory, while the container ran.
    assert.ok(Number(m.precopy_bytes) >= 256 * MIB, `only ${m.precopy_bytes} bytes went before the freeze`);
    assert.match(
      m.history.find((h) => h.phase === 'dumping')?.detail ?? '',
      /^\d+ pre-copy rounds, \d+ bytes of pages sent while the container ran .*; stopped: /,
    );
    assert.equal((await record('hostB', NAME))?.state, 'running');
    assert.equal(await record('hostA', NAME), undefined);
    const { want, got } = await memoryChecksums(NAME);
    assert.equal(got, want, 'memory differs after the pre-copy move');
    assert.ok((await heartbeat(NAME)) > hb, 'the heartbeat stopped');
  });
});
