// Post-copy moves on the local testbed: the container runs on the target
// before its memory has arrived, the pages follow through the agents'
// authenticated page stream, and the memory is whole in the end. When the
// source's page server dies while pages still flow, the migration fails
// with the container lost, and nothing is left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  down,
  heartbeat,
  hostDir,
  inHost,
  memoryChecksums,
  migrate,
  migrationDirs,
  ownsTestbed,
  precopyUnsupported,
  ROOT,
  record,
  runWorkload,
  TESTBED_DIR,
  tern,
  testbed,
  up,
  waitFor,
  workloadRootfs,
} from '../../deploy/testbed/driver.js';
import type { Migration__Output } from '../../proto/index.js';
import { requirePrivileges } from '../lib/privileges.js';
import { getMigration, migrationsOf } from './datapath/helpers.js';

const NAME = 'pc-mem';
const LOST = 'pc-lost';
const RESTART = 'pc-restart';
const CUT = 'pc-cut';
const THREADS = 'pc-threads';
/** A cut well under tern-relay's 30 s bound on an unacknowledged stream. */
const CUT_MS = 2000;
const MIB = 1024 * 1024;
const PIPE_MAX = '/proc/sys/fs/pipe-max-size';

const workload = (mib: number) =>
  `/bin/workload heartbeat /tmp/hb & /bin/workload memhog ${mib} 4242 random /tmp/mem & wait`;

/** The pids of processes whose command line contains every one of `parts`. */
async function pidsWith(...parts: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = await readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '');
    if (parts.every((p) => cmd.includes(p))) out.push(Number(d));
  }
  return out;
}

/** Starts `migrate --to hostB --mode postcopy NAME` and returns once it named its migration. */
async function startMigrate(name: string) {
  const proc = spawn(
    'node',
    [join(ROOT, 'dist/bin/migrate.js'), '--to', 'hostB', '--mode', 'postcopy', name],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const child = { out: '', err: '' };
  proc.stdout.on('data', (b: Buffer) => {
    child.out += b.toString();
  });
  proc.stderr.on('data', (b: Buffer) => {
    child.err += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.on('close', resolve));
  const id = await waitFor('the migration id', async () => /^migration (\S+):/m.exec(child.out)?.[1]);
  return { child, id, exited };
}

describe('post-copy migration (privileged)', function () {
  this.timeout(600_000);
  let cleanupRootfs: (() => Promise<void>) | undefined;
  let rootfs = '';
  let pipeMax = '';

  before(async function () {
    requirePrivileges(this);
    pipeMax = (await readFile(PIPE_MAX, 'utf8')).trim();
    await up(2);
    const r = await workloadRootfs();
    cleanupRootfs = r.cleanup;
    rootfs = r.dir;
  });

  after(async () => {
    if (ownsTestbed())
      for (const n of [NAME, LOST, RESTART, CUT, THREADS]) await tern('stop', n).catch(() => {});
    for (const h of ['hostA', 'hostB']) await inHost(h, ['ip', 'link', 'set', 'ul', 'up']).catch(() => {});
    await down().catch(() => {});
    await cleanupRootfs?.();
    if (pipeMax) await writeFile(PIPE_MAX, pipeMax).catch(() => {});
  });

  it('runs the container on the target first, then brings its memory whole', async () => {
    // A host whose pipe size limit is too low for CRIU's lazy pages gets it raised, and says so.
    await writeFile(PIPE_MAX, String(MIB));
    await runWorkload('hostA', NAME, rootfs, workload(256), '/tmp/mem');
    const hb = await heartbeat(NAME);
    const r = await migrate('--from', 'hostA', '--to', 'hostB', '--mode', 'postcopy', NAME);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Number(await readFile(PIPE_MAX, 'utf8')) >= 4 * MIB, 'fs.pipe-max-size was not raised');
    // Both testbed hosts share this machine's limit: whichever checked first raised it.
    const logs = await Promise.all(
      ['hostA', 'hostB'].map((h) => readFile(join(TESTBED_DIR, 'logs', `${h}.log`), 'utf8')),
    );
    assert.match(logs.join(''), /raised \/proc\/sys\/fs\/pipe-max-size from 1048576 to 4194304/);

    const [m] = (await migrationsOf(NAME)).slice(-1);
    // The target restored and ran the tree as soon as the source said its
    // tree was gone, without waiting for the coordinator to ask.
    const going = logs[1]
      .split('\n')
      .find((l) => l.includes(m.id) && l.includes('source tree gone: restoring and resuming'));
    assert.ok(going, `hostB did not go on from the source's word for ${m.id}`);
    assert.equal(m.mode, 'postcopy');
    assert.equal(m.phase, 'done', m.error);
    // Committed before the restore; the tree ran on the target while its pages still came.
    assert.deepEqual(
      m.history.map((h) => h.phase),
      ['preflight', 'dumping', 'transferring', 'committing', 'committed', 'pulling', 'done'],
    );
    assert.ok(
      Number(m.pages_moved_bytes) >= 256 * MIB,
      `only ${m.pages_moved_bytes} bytes of pages followed`,
    );
    assert.ok(Number(m.pages_done_ms) > 0);
    // The images that went before the resume held no memory pages.
    assert.ok(Number(m.raw_bytes) < 16 * MIB, `${m.raw_bytes} bytes went with the images`);
    assert.equal((await record('hostB', NAME))?.state, 'running');
    assert.equal(await record('hostA', NAME), undefined);
    const { want, got } = await memoryChecksums(NAME);
    assert.equal(got, want, 'memory differs after the post-copy move');
    assert.ok((await heartbeat(NAME)) > hb, 'the heartbeat stopped');
    await waitFor('both agents to clear the migration', async () => {
      for (const h of ['hostA', 'hostB']) if ((await migrationDirs(h)).includes(m.id)) return undefined;
      return true;
    });
  });

  it('keeps threads that wait on a mutex intact: each goes through it once, each join waits for its thread', async () => {
    // The source's tree must not change while its pages are still served:
    // killed at the commit, its exiting threads would clear their thread ids
    // in the memory the target then receives.
    const n = 16;
    await runWorkload('hostA', THREADS, rootfs, `exec /bin/workload threads ${n} /tmp/th`, '/tmp/th');
    // The pipe size limit lowered again while the agents run (an operator, a
    // sysctl reload): the next move raises it again rather than lose its
    // container to CRIU's lazy transfer.
    await writeFile(PIPE_MAX, String(MIB));
    const r = await migrate('--from', 'hostA', '--to', 'hostB', '--mode', 'postcopy', THREADS);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Number(await readFile(PIPE_MAX, 'utf8')) >= 4 * MIB, 'fs.pipe-max-size was not raised again');
    const [m] = (await migrationsOf(THREADS)).slice(-1);
    assert.equal(m.phase, 'done', m.error);
    const usr1 = await tern('exec', THREADS, '--', '/bin/sh', '-c', 'kill -USR1 $(pidof workload)');
    assert.equal(usr1.code, 0, usr1.stderr);
    const verdict = await waitFor('the threads workload to write its verdict', async () => {
      const v = await tern('exec', THREADS, '--', 'cat', '/tmp/th.verify');
      return v.code === 0 ? v.stdout.trim() : undefined;
    });
    assert.equal(verdict, `passed ${n} joined ${n}`);
    const alive = await tern('exec', THREADS, '--', 'pidof', 'workload');
    assert.equal(alive.code, 0, 'the threads workload died after the post-copy move');
    await tern('stop', THREADS);
  });

  it('refuses a mode it does not know, naming the ones it does', async () => {
    const r = await migrate('--from', 'hostB', '--to', 'hostA', '--mode', 'teleport', NAME);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /unknown migration mode "teleport" \(known: stop-and-copy, precopy, postcopy, auto\)/,
    );
    assert.equal((await record('hostB', NAME))?.state, 'running');
  });

  it('with --max-downtime, takes the safest mode that fits, or says why none does', async () => {
    const no = await migrate('--to', 'hostA', '--max-downtime', '1', NAME);
    assert.notEqual(no.code, 0);
    assert.match(no.stderr, /would pause about \d+ ms .*over the 1 ms budget.*--allow-postcopy/);
    assert.equal((await record('hostB', NAME))?.state, 'running');
    // Pre-copy comes before post-copy where both hosts can track written pages (not on every kernel).
    const precopy = (await precopyUnsupported()) === undefined;
    const yes = await migrate('--to', 'hostA', '--max-downtime', '1', '--allow-postcopy', NAME);
    assert.equal(yes.code, 0, yes.stderr);
    const chosen = precopy ? 'precopy' : 'postcopy';
    assert.match(
      yes.stdout,
      new RegExp(`preflight {2}\\(mode ${chosen}: stop-and-copy of \\d+ MiB would pause about`),
    );
    const [m] = (await migrationsOf(NAME)).slice(-1);
    assert.equal(m.mode, chosen);
    assert.match(
      m.mode_reason,
      precopy
        ? /over the 1 ms budget; pre-copy sends the memory while the container runs/
        : /over the 1 ms budget; pre-copy is not available \(hostB: this kernel cannot track which pages a process writes .*\); post-copy allowed/,
    );
    const roomy = await migrate('--to', 'hostB', '--max-downtime', '600000', NAME);
    assert.equal(roomy.code, 0, roomy.stderr);
    const [s] = (await migrationsOf(NAME)).slice(-1);
    assert.equal(s.mode, 'stop-and-copy');
    assert.match(s.mode_reason, /within the 600000 ms budget/);
  });

  it("keeps the pages coming across a restart of the target's agent", async () => {
    await runWorkload('hostA', RESTART, rootfs, workload(2048), '/tmp/mem');
    const { child, id, exited } = await startMigrate(RESTART);
    await waitFor(
      'the pages to flow',
      async () => (await getMigration(id)).phase === 'pulling' || undefined,
      60_000,
    );
    const stop = await testbed('stop-agent', 'hostB');
    assert.equal(stop.code, 0, stop.stderr);
    const start = await testbed('start-agent', 'hostB');
    assert.equal(start.code, 0, start.stderr);
    assert.equal(await exited, 0, `migrate failed: ${child.err}`);
    const m = await getMigration(id);
    assert.equal(m.phase, 'done', m.error);
    assert.ok(Number(m.pages_moved_bytes) >= 2048 * MIB);
    const log = await readFile(join(TESTBED_DIR, 'logs', 'hostB.log'), 'utf8');
    assert.match(log, /following the pages of a post-copy move/);
    const { want, got } = await memoryChecksums(RESTART);
    assert.equal(got, want, 'memory differs after the move across the restart');
    await tern('stop', RESTART);
  });

  it("rides out a short cut of the source's link while pages flow", async () => {
    await runWorkload('hostA', CUT, rootfs, workload(2048), '/tmp/mem');
    const { child, id, exited } = await startMigrate(CUT);
    await waitFor(
      'the pages to flow',
      async () => (await getMigration(id)).phase === 'pulling' || undefined,
      60_000,
    );
    const down = await inHost('hostA', ['ip', 'link', 'set', 'ul', 'down']);
    assert.equal(down.code, 0, down.stderr);
    try {
      await new Promise((r) => setTimeout(r, CUT_MS));
      // The stream waits: nothing arrived meanwhile, and the move is still pulling.
      assert.equal((await getMigration(id)).phase, 'pulling');
    } finally {
      const up = await inHost('hostA', ['ip', 'link', 'set', 'ul', 'up']);
      assert.equal(up.code, 0, up.stderr);
    }
    assert.equal(await exited, 0, `migrate failed: ${child.err}`);
    const m = await getMigration(id);
    assert.equal(m.phase, 'done', m.error);
    const { want, got } = await memoryChecksums(CUT);
    assert.equal(got, want, 'memory differs after the cut');
    await tern('stop', CUT);
  });

  it('fails with the container lost when the source page server dies while pages flow', async () => {
    await runWorkload('hostA', LOST, rootfs, workload(1024), '/tmp/mem');
    const { id, exited } = await startMigrate(LOST);
    await waitFor(
      'the pages to flow',
      async () => (await getMigration(id)).phase === 'pulling' || undefined,
      60_000,
    );
    // The source's page server is the dump that now serves the pages.
    const dumps = await pidsWith('criu', 'dump', `/${id}/images`, '--lazy-pages');
    assert.ok(dumps.length > 0, 'no serving dump found on the source');
    for (const p of dumps) process.kill(p, 'SIGKILL');
    assert.notEqual(await exited, 0, 'migrate reported success');
    const m: Migration__Output = await getMigration(id);
    assert.equal(m.phase, 'failed');
    assert.match(m.error, /the container on hostB was killed: it is lost|the container is lost/);
    // Exactly zero copies run: the target's copy was killed, the source's is gone.
    await waitFor('the container to be gone everywhere', async () => {
      for (const h of ['hostA', 'hostB']) if (await record(h, LOST)) return undefined;
      return true;
    });
    const ps = await tern('ps');
    assert.doesNotMatch(ps.stdout, new RegExp(`^${LOST}\\s`, 'm'));
    await waitFor('both agents to clear the migration', async () => {
      for (const h of ['hostA', 'hostB']) if ((await migrationDirs(h)).includes(id)) return undefined;
      return true;
    });
    assert.equal(existsSync(join(hostDir('hostB'), 'containers', LOST)), false);
  });
});
