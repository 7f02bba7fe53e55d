// The fault matrix: faults injected at every step boundary of the handoff
// (fail or crash, in the source agent, the target agent or the coordinator),
// in the coordinator's store (refusing to record a phase), and from outside
// (SIGKILL of a daemon, the underlay link cut for less or longer than the
// receiver's stall deadline, a corrupted chunk, CRIU failing), each during a
// real migration on the testbed. After recovery the container must run
// exactly once, where the protocol says, with its state intact, and no host
// may hold leftovers; the migration must end aborted when the container runs
// on the source and done when it runs on the target.
//
// `make test` runs a fast subset; `npm run faults` (TERN_FAULT_MATRIX=full)
// runs the whole matrix.
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  alive,
  down,
  haLeader,
  heartbeat,
  memoryChecksums,
  ownsTestbed,
  record,
  TESTBED_DIR,
  tern,
  up,
  waitFor,
  workloadRootfs,
} from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';
import {
  arm,
  type CutReport,
  caseLabel,
  caseTitle,
  cutLink,
  daemonName,
  daemonPid,
  disarm,
  ensureWorkload,
  faultHits,
  fillStateDir,
  holdRefusals,
  killEtcd,
  killPageServer,
  latestMigration,
  leftovers,
  noteLeader,
  restartDead,
  secs,
  sleep,
  startMigrate,
  strikePhase,
  timeline,
  waitStreaming,
  workloadGone,
} from './faults/harness.js';
import {
  type Case,
  FULL,
  HA_MATRIX,
  HOSTS,
  MATRIX,
  NAME,
  QUORUM_OUTAGE_MS,
  WORKLOAD_MIB,
} from './faults/matrix.js';

const PIPE_MAX = '/proc/sys/fs/pipe-max-size';
const tally = { injected: 0, recovered: 0, lost: 0, duplicated: 0, leftovers: 0, failed: 0 };
const outcomes: string[] = [];

/**
 * The end of every case: leftovers counted as problems, the tally, the
 * outcome line (with the problems, if any) kept for the summary, and the
 * case failed when there is any problem.
 */
function conclude(line: string, problems: string[], left: string[]): void {
  if (left.length > 0) {
    tally.leftovers++;
    problems.push(`leftovers: ${left.join('; ')}`);
  }
  if (problems.length === 0) tally.recovered++;
  const full = `${line}${problems.length ? `  PROBLEMS: ${problems.join('; ')}` : ''}`;
  outcomes.push(full);
  assert.deepEqual(problems, [], full);
}

/** etcd without its quorum when `migrate` runs: refused, no migration recorded, the container runs on. */
async function refusedWithoutQuorum(c: Case, rootfs: string): Promise<void> {
  await ensureWorkload(rootfs, c.memMiB ?? WORKLOAD_MIB);
  const t0 = Date.now();
  const from = (await record('hostA', NAME)) ? 'hostA' : 'hostB';
  const to = from === 'hostA' ? 'hostB' : 'hostA';
  const prev = (await latestMigration())?.id;
  const problems: string[] = [];
  tally.injected++;
  await killEtcd(c.members ?? 2);
  // The leader cannot renew its lease and stops; no one can lead without the quorum.
  await waitFor('no coordinator leading', async () => ((await haLeader()) ? undefined : true), 30_000);
  const m = await startMigrate(to);
  if (m.code === 0) problems.push('migrate started without an etcd quorum');
  await restartDead();
  await noteLeader();
  const after = (await latestMigration())?.id;
  if (after !== prev) problems.push(`a migration was recorded (${after})`);
  const r = await record(from, NAME);
  if (!(r && (await alive(r.pid)))) {
    tally.lost++;
    problems.push(`${NAME} no longer runs on ${from}`);
  }
  const said = m.out.trim().split('\n').pop() ?? '';
  conclude(
    `${caseLabel(c).padEnd(34)} -> refused (${said.slice(0, 90)}), runs on ${from} in ${secs(Date.now() - t0)}`,
    problems,
    await leftovers(from),
  );
}

async function runCase(c: Case, rootfs: string, ha = false): Promise<void> {
  if (c.beforeStart) return refusedWithoutQuorum(c, rootfs);
  await ensureWorkload(rootfs, c.memMiB ?? WORKLOAD_MIB);
  const ledBy = ha ? await noteLeader() : '';
  const t0 = Date.now();
  const from = (await record('hostA', NAME)) ? 'hostA' : 'hostB';
  const to = from === 'hostA' ? 'hostB' : 'hostA';
  const before = await heartbeat(NAME);
  const prev = (await latestMigration())?.id;
  const label = caseLabel(c);
  const problems: string[] = [];
  const notes: string[] = [];
  tally.injected++;
  if (c.kind === 'fail' || c.kind === 'crash' || c.kind === 'corrupt' || c.kind === 'kill') {
    const action = c.kind === 'corrupt' || c.kind === 'kill' ? 'fail' : c.kind;
    await arm(daemonName(c.role, from, to), `${c.point}=${action}`);
  }
  if (c.with) await arm(daemonName(c.with.role, from, to), `${c.with.point}=${c.with.action}`);
  const full = c.kind === 'disk-full' ? await fillStateDir(to) : undefined;
  const migration = startMigrate(to, c.mode);
  let exited = false;
  void migration.then(() => {
    exited = true;
  });
  const daemon = daemonName(c.role, from, to);
  let cut: CutReport | undefined;
  if (c.kind === 'sigkill') {
    await waitStreaming(strikePhase(c));
    process.kill(await daemonPid(daemon), 'SIGKILL');
  } else if (c.kind === 'kill-pages') {
    await killPageServer();
  } else if (c.kind === 'etcd-kill') {
    await waitStreaming(strikePhase(c));
    await killEtcd(c.members ?? 1);
    // The move runs on with the members left; the dead one comes back afterwards.
    await migration;
  } else if (c.kind === 'quorum') {
    await waitStreaming(strikePhase(c));
    await killEtcd(c.members ?? 2);
    await sleep(QUORUM_OUTAGE_MS);
  } else if (c.kind === 'link-down') {
    cut = await cutLink(c, from, to);
  } else if (c.kind === 'disk-full') {
    await migration;
    await full?.();
  } else if (c.kind === 'crash') {
    await waitFor(
      'the process to crash',
      async () => (!(await alive(await daemonPid(daemon))) || exited ? true : undefined),
      90_000,
    );
  } else if (c.refusals) {
    problems.push(...(await holdRefusals(c, from, prev)));
  } else if (c.expect === 'source') {
    // A failure before the commit point aborts the migration by itself.
    await migration;
  } else {
    // Past the commit point the coordinator retries; let the fault fire, then disarm.
    // A post-copy move may already have failed there (its container lost) when first seen.
    await waitFor(
      'the commit to start',
      async () => {
        const m = await latestMigration();
        return m &&
          m.id !== prev &&
          ['committing', 'committed', 'pulling', 'done', 'failed'].includes(m.phase)
          ? true
          : undefined;
      },
      90_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
  }
  // With coordinators on etcd, the one a case killed stays dead until the migration ends:
  // the other must take it over.
  const spare = { spareCoordinators: ha };
  await disarm();
  await restartDead(spare);
  await migration;
  // Recovery: the migration reaches a final phase and no host holds parts of it.
  const final = await waitFor(
    'the migration to end',
    async () => {
      await restartDead(spare);
      const m = await latestMigration();
      return m && m.id !== prev && ['done', 'aborted', 'failed'].includes(m.phase) ? m : undefined;
    },
    120_000,
  );
  if (ha) {
    const now = await haLeader();
    notes.push(`${ledBy} led, ${now ?? 'none'} ended it`);
    // A leader the case killed or cut off must have been replaced by the other coordinator.
    if (c.role === 'leader' && ['crash', 'sigkill', 'link-down'].includes(c.kind) && now === ledBy)
      problems.push(`${ledBy} still leads: the other coordinator did not take over`);
    await restartDead();
  }
  if (c.withinMs && Date.now() - t0 > c.withinMs)
    problems.push(
      `the migration ended ${secs(Date.now() - t0)} after it started, not within ${secs(c.withinMs)}`,
    );
  const expectHost = c.expect === 'source' ? from : c.expect === 'target' ? to : '';
  const settled = await waitFor(
    'hosts to settle',
    async () => ((await leftovers(expectHost)).length === 0 ? true : undefined),
    60_000,
  ).catch(() => false);

  // Aborted means back on the source, done means on the target, failed
  // (post-copy past the resume) means lost and said so: nothing else.
  const wantPhase = { source: 'aborted', target: 'done', lost: 'failed' }[c.expect];
  if (c.expect === 'lost' && !/\bis lost\b/.test(final.error ?? ''))
    problems.push(`the failed migration does not say the container is lost (${final.error})`);
  if (final.phase !== wantPhase) problems.push(`ended ${final.phase}, want ${wantPhase}`);
  if (c.point.startsWith('store-') && (await faultHits(final.id, c.point)) === 0)
    problems.push(`the store never refused at ${c.point}`);
  if (cut) {
    notes.push(`cut ${secs(cut.cutMs)}, stall deadline ${secs(cut.stallMs)}`);
    const tl = await timeline(final.id).catch(() => []);
    const phase = strikePhase(c);
    const i = tl.findIndex((h) => h.phase === phase);
    const next = i >= 0 ? tl[i + 1] : undefined;
    if (next) notes.push(`${next.phase} ${secs(next.atMs - cut.atMs)} after the cut began`);
    if (cut.phaseAtDown !== phase)
      problems.push(`the cut did not land inside the page stream (${cut.phaseAtDown} as the link went down)`);
    if (c.cut === 'short' && cut.phaseAtUp !== phase)
      problems.push(`the page stream did not outlast the cut (${cut.phaseAtUp} as the link came back)`);
    if (c.cut === 'long') {
      if (cut.resumedAfterMs === undefined)
        problems.push(`${NAME} did not run on ${from} within ${secs(cut.boundMs)} of the cut`);
      else notes.push(`runs on ${from} again ${secs(cut.resumedAfterMs)} after the cut began`);
      if (final.error) notes.push(`error: ${final.error.slice(0, 100)}`);
    }
  }

  const copies = [];
  for (const h of HOSTS) {
    const r = await record(h, NAME);
    if (r && (await alive(r.pid))) copies.push(h);
  }
  // A post-copy move that failed past the resume loses its container by
  // design and says so; any other container that runs nowhere is lost.
  if (copies.length === 0 && c.expect === 'lost') {
    tally.failed++;
    workloadGone();
  } else if (copies.length === 0) tally.lost++;
  if (copies.length > 1) tally.duplicated++;
  const wantCopies = expectHost ? [expectHost] : [];
  if (copies.join() !== wantCopies.join())
    problems.push(`running on [${copies.join(',')}], want [${wantCopies.join(',')}]`);
  if (copies.length === 1) {
    const after = await waitFor('heartbeat to advance', async () => {
      const v = await heartbeat(NAME);
      return v > before ? v : undefined;
    }).catch(() => 0);
    if (after <= before) problems.push(`heartbeat did not advance past ${before}`);
    const mem = await memoryChecksums(NAME);
    if (mem.got !== mem.want) problems.push('memory checksum differs');
  }
  conclude(
    `${label.padEnd(34)} -> ${final.phase}, ${c.expect === 'lost' ? 'container lost' : `runs on ${c.expect}`} (${copies.join(',') || 'nowhere'}) in ${secs(Date.now() - t0)}` +
      `${notes.length ? `; ${notes.join('; ')}` : ''}`,
    problems,
    settled ? [] : await leftovers(expectHost),
  );
}

/** Where the daemons' logs of a failed case are kept: `down` removes the testbed's own. */
const keptLogs = join(tmpdir(), `tern-fault-logs-${new Date().toISOString().replace(/[:.]/g, '-')}`);

/** A testbed for a group of cases, and the workload's rootfs; both go at the end, whatever happened. */
function testbedFor(ha: boolean) {
  const state: { rootfs?: Awaited<ReturnType<typeof workloadRootfs>> } = {};
  let failed = 0;
  afterEach(async function () {
    const t = this.currentTest;
    if (t?.state !== 'failed') return;
    const dir = join(keptLogs, `${++failed}-${t.title.replace(/[^a-zA-Z0-9]+/g, '-').slice(0, 60)}`);
    await cp(join(TESTBED_DIR, 'logs'), dir, { recursive: true })
      .then(() => process.stdout.write(`      the daemons' logs of that case: ${dir}\n`))
      .catch(() => {});
  });
  before(async function () {
    requirePrivileges(this);
    this.timeout(120_000);
    workloadGone();
    await up(2, { ha });
    state.rootfs = await workloadRootfs();
  });
  after(async () => {
    if (ownsTestbed()) {
      await disarm().catch(() => {});
      await tern('stop', NAME).catch(() => {});
    }
    await down().catch(() => {});
    await state.rootfs?.cleanup();
  });
  return state;
}

describe(`fault matrix (privileged, ${FULL ? 'full' : 'fast subset'})`, function () {
  this.timeout(300_000);
  // Post-copy cases let the agents raise the pipe size limit CRIU's lazy pages need: put it back after.
  let pipeMax = '';

  before(async function () {
    requirePrivileges(this);
    pipeMax = (await readFile(PIPE_MAX, 'utf8')).trim();
  });

  after(async () => {
    if (outcomes.length > 0) {
      process.stdout.write(`\n${outcomes.map((o) => `    ${o}`).join('\n')}\n`);
      process.stdout.write(
        `faults: ${tally.injected} injected, ${tally.recovered} recovered, ${tally.lost} lost, ${tally.duplicated} duplicated, ${tally.leftovers} leftovers` +
          (tally.failed
            ? ` (${tally.failed} post-copy ${tally.failed === 1 ? 'move' : 'moves'} failed past the commit point, the container lost and reported so, as designed)`
            : '') +
          '\n',
      );
    }
    if (pipeMax) await writeFile(PIPE_MAX, pipeMax).catch(() => {});
  });

  describe('one coordinator', () => {
    const state = testbedFor(false);
    for (const c of MATRIX.filter((k) => FULL || k.fast)) {
      it(caseTitle(c), function () {
        // A long link cut lasts past the stall deadline, and recovery may take that long again.
        if (c.cut === 'long') this.timeout(600_000);
        return runCase(c, state.rootfs?.dir ?? '');
      });
    }
  });

  describe('coordinators on etcd, taking over from each other (testbed up --ha)', () => {
    const state = testbedFor(true);
    for (const c of HA_MATRIX.filter((k) => FULL || k.fast)) {
      it(caseTitle(c), () => runCase(c, state.rootfs?.dir ?? '', true));
    }
  });
});
