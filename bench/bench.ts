// npm run bench: how long a container stops when tern moves it, beside the
// same container moved by the plain pipeline a user could script by hand
// (criu dump -> tar | lz4 -> TCP -> criu restore) and beside CRIU's own dump +
// restore in place, all measured in one run on the local testbed (docs/design.md,
// section 8, "How performance is measured"). Absolute times on a shared 2-core machine
// are noise; the ratios are the result.
//
// Per case (memory size x content) and per run:
//   tern      a fresh container (heartbeat + memhog) started with `tern run` on
//             hostA, moved to hostB with the coordinator, then stopped. Downtime
//             is the largest heartbeat gap; bytes and phase times come from the
//             migration record; peak RSS (VmHWM, reset first) from the daemons.
//             (cases/tern.ts)
//   plain     the same workload in the same kind of container (tern-shim, own
//             namespaces, rootfs copy, veth on br0), started by the benchmark on
//             hostA outside tern's records, moved to hostB by hand with CRIU,
//             tar and lz4 over one TCP stream on the underlay (bash's /dev/tcp
//             into a few-line node listener: Debian 12's busybox nc quits
//             before the stream ends), restored under tern-shim.
//             (cases/plain.ts, cases/container.ts)
//   in place  the plain container, now on hostB: criu dump + criu restore there.
//             (cases/inplace.ts)
// Once: raw TCP throughput hostA -> hostB over the underlay (node to node),
// compared with tern's chunk stream as it runs inside each migration (tcp.ts).
//
// Then post-copy cases (BENCH_POSTCOPY sizes, random memory): tern alone,
// moving with --mode postcopy; their baselines are the cases above.
//
// Environment (config.ts): BENCH_RUNS (5 per case), BENCH_RUNS_LARGE (3 per
// case of 1 GiB or more), BENCH_SIZES (64,256,1024 MiB), BENCH_VARIANTS
// (random,half), BENCH_TCP_MIB (512), BENCH_WARMUP (1), BENCH_OUT
// (bench/results/latest.json), BENCH_DIR (/var/lib/tern/bench).
//
// This file wires the run: checks, testbed, work dir, warm-up (warmup.ts),
// the cases, the report (report.ts), and cleanup on exit or Ctrl-C
// (cleanup.ts).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { TMPFS_MAGIC } from '../core/files.js';
import {
  CRIU,
  down,
  ownsTestbed,
  sh,
  TESTBED_DIR,
  tern,
  up,
  workloadRootfs,
} from '../deploy/testbed/driver.js';
import { shimWrappers } from './cases/container.js';
import type { InPlaceRun } from './cases/inplace.js';
import { type PlainRun, type PlainSetup, plainRun } from './cases/plain.js';
import { cancelActive, closeClient, leftovers, type TernRun, ternRun } from './cases/tern.js';
import { channelImage, channelNode } from './channel.js';
import { checkStop, cleanupAll, Interrupted, isStopping, onCleanup, requestStop } from './cleanup.js';
import {
  FROM,
  IDLE,
  POSTCOPY_SIZES,
  RUNS,
  runsFor,
  SHIM,
  SIZES,
  TCP_MIB,
  TO,
  VARIANTS,
  WARMUP,
  WORK_BASE,
} from './config.js';
import { type CaseResult, cell, failedRuns, printReport, spread, writeResults } from './report.js';
import { tcpNode } from './tcp.js';
import { log, testbedEnv } from './util.js';
import { warmUp } from './warmup.js';

async function checkPrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the benchmark drives CRIU and the test hosts');
  if (!existsSync(CRIU)) throw new Error(`CRIU not found at ${CRIU}: run make install`);
  if (!existsSync(SHIM)) throw new Error(`tern-shim not found at ${SHIM}: run npm run build`);
  for (const tool of ['lz4', 'bash', 'tar', 'ss']) {
    if ((await sh(['sh', '-c', `command -v ${tool}`])).code !== 0)
      throw new Error(`${tool} is missing: run make install`);
  }
}

/** Brings the testbed up unless one is up already; returns whether it was (shared: used, never taken down). */
async function useTestbed(): Promise<boolean> {
  const shared = existsSync(join(TESTBED_DIR, 'testbed.env'));
  if (shared) {
    log(`using the testbed that is up in ${TESTBED_DIR}`);
    return true;
  }
  log('bringing up the testbed');
  await up(2);
  onCleanup('the testbed', async () => {
    // Someone else may have started using it meanwhile: then leave it up.
    const ps = await tern('ps');
    const others = ps.stdout
      .split('\n')
      .slice(1)
      .filter((l) => l.trim() && !l.startsWith('bench-'));
    if (others.length > 0) log(`leaving the testbed up: other containers run on it`);
    else if (ownsTestbed()) await down();
  });
  return false;
}

/**
 * A tmpfs directory for the baselines' images and logs, as tern's agents keep
 * theirs (the testbed's --fast-dir); inside the work dir if /dev/shm is none.
 */
async function fastDir(work: string): Promise<string> {
  if ((await statfs('/dev/shm').catch(() => undefined))?.type !== TMPFS_MAGIC) {
    log('/dev/shm is not a tmpfs: the baselines keep their images on disk');
    return join(work, 'fast');
  }
  const dir = await mkdtemp('/dev/shm/tern-bench-');
  onCleanup(`images dir ${dir}`, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The runs of one case; a failed run is recorded and the others go on. */
async function runCase(mib: number, kind: string, setup: PlainSetup): Promise<CaseResult> {
  const c: CaseResult = { mib, kind, mode: 'stop-and-copy', runs: [], failures: [] };
  const runs = runsFor(mib);
  for (let i = 0; i < runs; i++) {
    checkStop();
    const label = `${mib}${kind[0]}-${i}`;
    const t0 = Date.now();
    // Alternate which goes first, so neither always runs on a machine the other just loaded.
    let tr: TernRun;
    let pr: { plain: PlainRun; inPlace: InPlaceRun };
    try {
      if (i % 2 === 0) {
        tr = await ternRun(mib, kind, label, setup.rootfs);
        pr = await plainRun(mib, kind, label, setup);
      } else {
        pr = await plainRun(mib, kind, label, setup);
        tr = await ternRun(mib, kind, label, setup.rootfs);
      }
    } catch (e) {
      if (e instanceof Interrupted || isStopping()) throw e;
      // One failed run (the testbed is shared) does not void the others; it is reported.
      log(`${mib} MiB ${kind} run ${i + 1}/${runs} failed: ${(e as Error).message}`);
      c.failures.push((e as Error).message);
      continue;
    }
    c.runs.push({ tern: tr, ...pr });
    log(
      `${mib} MiB ${kind} run ${i + 1}/${runs}: tern ${f0(tr.downtimeMs)} ms, plain ${f0(pr.plain.downtimeMs)} ms, ` +
        `in place ${f0(pr.inPlace.totalMs)} ms (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
    );
  }
  return c;
}

const f0 = (x: number | undefined) => (x === undefined ? '?' : x.toFixed(0));

/** Post-copy runs of one size: tern only (the stop-and-copy case of the size holds the baselines). */
async function runPostcopyCase(mib: number, rootfs: string): Promise<CaseResult> {
  const kind = 'random';
  const c: CaseResult = { mib, kind, mode: 'postcopy', runs: [], failures: [] };
  const runs = runsFor(mib);
  for (let i = 0; i < runs; i++) {
    checkStop();
    const t0 = Date.now();
    try {
      const tr = await ternRun(mib, kind, `${mib}p-${i}`, rootfs, 'postcopy');
      c.runs.push({ tern: tr });
      log(
        `${mib} MiB ${kind} postcopy run ${i + 1}/${runs}: tern ${f0(tr.downtimeMs)} ms, ` +
          `last page ${f0(tr.pagesDoneMs)} ms after the resume (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
    } catch (e) {
      if (e instanceof Interrupted || isStopping()) throw e;
      log(`${mib} MiB ${kind} postcopy run ${i + 1}/${runs} failed: ${(e as Error).message}`);
      c.failures.push((e as Error).message);
    }
  }
  return c;
}

async function main(): Promise<void> {
  await checkPrerequisites();
  const began = Date.now();

  const shared = await useTestbed();
  const env = await testbedEnv();
  const toAddress = env[`TESTBED_UNDERLAY_${TO}`];
  const fromAddress = env[`TESTBED_UNDERLAY_${FROM}`];
  if (!fromAddress) throw new Error(`testbed has no ${FROM}`);
  if (!toAddress) throw new Error(`testbed has no ${TO}`);

  await mkdir(WORK_BASE, { recursive: true });
  const work = await mkdtemp(join(WORK_BASE, 'run-'));
  onCleanup(`work dir ${work}`, () => rm(work, { recursive: true, force: true }));
  const rootfs = await workloadRootfs();
  onCleanup('workload rootfs', rootfs.cleanup);
  const fast = await fastDir(work);
  const setup: PlainSetup = {
    work,
    fast,
    wrappers: await shimWrappers(work, [FROM, TO]),
    toAddress,
    rootfs: rootfs.dir,
  };

  if (WARMUP) await warmUp(setup);

  const tcpRuns: number[] = [];
  for (let i = 0; i < Math.max(RUNS, 1); i++) {
    checkStop();
    tcpRuns.push(await tcpNode(toAddress, TCP_MIB));
  }
  log(`raw TCP ${FROM} -> ${TO}: ${cell(spread(tcpRuns), 0)} MiB/s`);
  const image = join(work, 'channel.img');
  await channelImage(image, TCP_MIB);
  const channelRuns: number[] = [];
  const imageChannelRuns: number[] = [];
  const addresses = { from: fromAddress, to: toAddress };
  for (let i = 0; i < Math.max(RUNS, 1); i++) {
    checkStop();
    // Written where an agent writes a move's images: its tmpfs.
    channelRuns.push(await channelNode('bulk', addresses, image, fast, TCP_MIB));
    imageChannelRuns.push(await channelNode('images', addresses, image, fast, TCP_MIB));
  }
  await rm(image, { force: true });
  log(
    `data channel ${FROM} -> ${TO}: bulk ${cell(spread(channelRuns), 0)} MiB/s, images ${cell(spread(imageChannelRuns), 0)} MiB/s`,
  );

  const cases: CaseResult[] = [];
  // An idle container (a heartbeat, a few MiB): what a move costs beyond CRIU's own work.
  if (IDLE) cases.push(await runCase(0, 'idle', setup));
  for (const mib of SIZES) for (const kind of VARIANTS) cases.push(await runCase(mib, kind, setup));
  for (const mib of POSTCOPY_SIZES) cases.push(await runPostcopyCase(mib, setup.rootfs));

  const seconds = (Date.now() - began) / 1000;
  const results = {
    began,
    seconds,
    shared,
    tcpRuns,
    channelRuns,
    imageChannelRuns,
    leftovers: await leftovers(),
    cases,
  };
  printReport(results);
  if (results.leftovers.length > 0 || failedRuns(cases) > 0) process.exitCode = 1;
  await writeResults(results);
}

function onSignal(): void {
  if (isStopping()) {
    log('second interrupt: cleaning up now');
    void cleanupAll().finally(() => process.exit(130));
    return;
  }
  requestStop();
  process.exitCode = 130;
  log('interrupted: ending the current step, then cleaning up (Ctrl-C again to clean up at once)');
  cancelActive();
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

main()
  .catch((e) => {
    if (!(e instanceof Interrupted) && !isStopping()) {
      process.stderr.write(`bench: error: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  })
  .finally(async () => {
    await cleanupAll();
    closeClient();
  });
