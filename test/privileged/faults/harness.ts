// What the fault matrix does around each case: arming and disarming faults,
// restarting dead daemons, following the migration, cutting the underlay link,
// and counting what a host left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { COORDINATOR_DEFAULTS } from '../../../coordinator/config.js';
import {
  alive,
  HA_COORDINATORS,
  haLeader,
  hostDir,
  inHost,
  migrationBases,
  migrationDirs,
  ROOT,
  record,
  runWorkload,
  sh,
  TESTBED_DIR,
  tern,
  testbed,
  testbedEnv,
  waitFor,
} from '../../../deploy/testbed/driver.js';
import { coordinatorClient } from '../../../proto/index.js';
import { unary } from '../../../proto/rpc.js';
import {
  type Case,
  HOSTS,
  LEASE_CUT_MS,
  LONG_CUT_EXTRA_MS,
  NAME,
  RESUME_SLACK_MS,
  type Role,
  SHORT_CUT_MS,
} from './matrix.js';

/** With coordinators on etcd: the one that led when the current case began. */
let leaderAtStart = 'coordinator';

/** Notes which coordinator leads (with --ha), for the cases whose role is the leader. */
export async function noteLeader(): Promise<string> {
  leaderAtStart = await waitFor('a coordinator to lead', haLeader, 60_000);
  return leaderAtStart;
}

export function daemonName(role: Role, from: string, to: string): string {
  if (role === 'leader') return leaderAtStart;
  return role === 'coordinator' ? 'coordinator' : role === 'source' ? from : to;
}

export function faultsFile(daemon: string): string {
  return daemon.startsWith('coordinator')
    ? join(TESTBED_DIR, daemon, 'faults')
    : join(hostDir(daemon), 'faults');
}

/** The testbed's control daemons besides the agents: the coordinator, or (--ha) both and etcd. */
async function controlDaemons(): Promise<string[]> {
  const env = await testbedEnv().catch(() => ({}) as Record<string, string>);
  if (env.TESTBED_HA !== '1') return ['coordinator'];
  return [...(env.TESTBED_ETCD_MEMBERS ?? '').split(' ').filter(Boolean), ...Object.keys(HA_COORDINATORS)];
}

export async function disarm(): Promise<void> {
  for (const d of ['coordinator', 'coordinator2', ...HOSTS]) await rm(faultsFile(d), { force: true });
}

export async function daemonPid(daemon: string): Promise<number> {
  return Number((await readFile(join(TESTBED_DIR, 'pids', `${daemon}.pid`), 'utf8').catch(() => '0')).trim());
}

/**
 * Restarts every daemon that is no longer running (crashed or killed by the
 * case). spareCoordinators: with coordinators on etcd, a dead coordinator
 * stays dead while another one runs, so that the other must take over.
 */
export async function restartDead(opts: { spareCoordinators?: boolean } = {}): Promise<void> {
  const control = await controlDaemons();
  const coordinators = control.filter((d) => d.startsWith('coordinator'));
  let anyCoordinator = false;
  for (const d of coordinators) if (await alive(await daemonPid(d))) anyCoordinator = true;
  for (const d of [...control, ...HOSTS]) {
    if (await alive(await daemonPid(d))) continue;
    if (opts.spareCoordinators && anyCoordinator && d.startsWith('coordinator')) continue;
    const r =
      control.length > 1 && control.includes(d)
        ? await testbed('start-daemon', d)
        : d === 'coordinator'
          ? await testbed('restart-coordinator')
          : await testbed('start-agent', d);
    assert.equal(r.code, 0, `restarting ${d}: ${r.stderr}`);
  }
}

/** SIGKILLs `count` etcd members (--ha); returns their names. */
export async function killEtcd(count: number): Promise<string[]> {
  const env = await testbedEnv();
  const members = (env.TESTBED_ETCD_MEMBERS ?? '').split(' ').filter(Boolean).slice(0, count);
  for (const m of members) process.kill(await daemonPid(m), 'SIGKILL');
  return members;
}

export interface MigrationRow {
  id: string;
  phase: string;
  error: string;
}

export async function latestMigration(): Promise<MigrationRow | undefined> {
  const r = await tern('migrations');
  const rows = r.stdout
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c[1] === NAME);
  const last = rows.at(-1);
  // Columns: ID CONTAINER FROM TO PHASE DOWNTIME ERROR; DOWNTIME is "N ms" or "-".
  return last
    ? { id: last[0], phase: last[4], error: last.slice(last[5] === '-' ? 6 : 7).join(' ') }
    : undefined;
}

/** The id of the first migration of NAME newer than `prev`. */
export function newMigration(prev: string | undefined): Promise<string> {
  return waitFor(
    'the migration to start',
    async () => {
      const m = await latestMigration();
      return m && m.id !== prev ? m.id : undefined;
    },
    30_000,
  );
}

/**
 * How often the coordinator logged an injected fault at `point` for one
 * migration: each refused write is logged once, whether the runner then
 * aborts, retries the step, or tries to record the abort again.
 */
export async function faultHits(id: string, point: string): Promise<number> {
  const text = await readFile(join(TESTBED_DIR, 'logs', 'coordinator.log'), 'utf8').catch(() => '');
  const tag = `"migration":"${id}"`;
  const what = `injected fault at ${point}"`;
  return text.split('\n').filter((l) => l.includes(tag) && l.includes(what)).length;
}

/** The heartbeat of the copy on `host`, read through /proc: needs neither its agent nor its link. */
export async function heartbeatOn(host: string): Promise<number | undefined> {
  const rec = await record(host, NAME);
  if (!rec?.pid) return undefined;
  const text = await readFile(`/proc/${rec.pid}/root/tmp/hb`, 'utf8').catch(() => '');
  const seq = Number(text.split(' ')[0]);
  return text && Number.isFinite(seq) ? seq : undefined;
}

/** Resolves once the copy on `host` runs: its heartbeat advances between two reads. */
export async function beating(host: string, timeoutMs: number): Promise<void> {
  let last = await heartbeatOn(host);
  await waitFor(
    `${NAME} to run on ${host}`,
    async () => {
      const now = await heartbeatOn(host);
      const moved = now !== undefined && last !== undefined && now > last;
      last = now;
      return moved || undefined;
    },
    timeoutMs,
  );
}

/** The coordinator's stall deadline: --stall-ms on the command line the testbed recorded, else the default. */
export async function stallMs(): Promise<number> {
  const argv = (await readFile(join(TESTBED_DIR, 'cmd', 'coordinator.argv'), 'utf8').catch(() => ''))
    .split('\n')
    .map((a) => a.trim());
  let v: number | undefined;
  argv.forEach((a, i) => {
    if (a === '--stall-ms') v = Number(argv[i + 1]);
    else if (a.startsWith('--stall-ms=')) v = Number(a.slice('--stall-ms='.length));
  });
  return v && Number.isInteger(v) && v > 0 ? v : COORDINATOR_DEFAULTS.stallMs;
}

/** A migration's phase timeline with absolute times, as the coordinator holds it. */
export async function timeline(id: string): Promise<{ phase: string; atMs: number }[]> {
  // The CLI's address: the coordinator's unix socket unless the environment names another.
  const c = coordinatorClient(
    process.env.TERN_COORDINATOR || `unix://${process.env.TERN_SOCKET || '/run/tern/coordinator.sock'}`,
  );
  try {
    const m = await unary(c, c.GetMigration, { id }, { timeoutMs: 10_000, what: 'get migration' });
    return m.history.map((h) => ({ phase: h.phase, atMs: Number(h.at_ms) }));
  } finally {
    c.close();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

let workloadMiB = 0;

/**
 * Makes NAME a workload holding `mib` MiB (plus its heartbeat), replacing
 * the current one on its host if it holds a different amount.
 */
export async function ensureWorkload(rootfs: string, mib: number): Promise<void> {
  if (workloadMiB === mib) return;
  const host = (await record('hostB', NAME)) ? 'hostB' : 'hostA';
  if (workloadMiB !== 0) {
    const r = await tern('stop', NAME);
    assert.equal(r.code, 0, `tern stop ${NAME}: ${r.stderr}`);
  }
  workloadMiB = 0;
  await runWorkload(
    host,
    NAME,
    rootfs,
    `/bin/workload heartbeat /tmp/hb & /bin/workload memhog ${mib} 99 random /tmp/mem & wait`,
    '/tmp/mem',
  );
  workloadMiB = mib;
}

/** The workload is gone (a post-copy move lost it): the next case starts a new one. */
export function workloadGone(): void {
  workloadMiB = 0;
}

/** What is left anywhere besides the one running container (none when `home` is ''): a list of findings. */
export async function leftovers(home: string): Promise<string[]> {
  const found: string[] = [];
  for (const h of HOSTS) {
    const migs = await migrationDirs(h);
    if (migs.length > 0) found.push(`${h}: migration dirs ${migs.join(',')}`);
    const links = (await inHost(h, ['ip', '-o', 'link', 'show'])).stdout.match(/tern[0-9a-f]{8}/g) ?? [];
    const want = h === home ? [(await record(h, NAME))?.veth] : [];
    const extra = links.filter((l) => !want.includes(l));
    if (extra.length > 0) found.push(`${h}: veths ${extra.join(',')}`);
    // Network namespaces made for a restore (in the agent's mount namespace).
    const pid = await daemonPid(h).catch(() => 0);
    if (pid) {
      const ns = await sh(['nsenter', '-t', String(pid), '-m', 'ls', '/run/netns']);
      const made = ns.stdout.split('\n').filter((n) => n.startsWith('tern-restore-'));
      if (made.length > 0) found.push(`${h}: network namespaces ${made.join(',')}`);
    }
    const dirs: string[] = await readdir(join(hostDir(h), 'containers')).catch(() => []);
    if (h !== home && (dirs as string[]).includes(NAME)) found.push(`${h}: container dir`);
  }
  const procs = await sh(['ps', '-eo', 'pid,stat,args']);
  for (const line of procs.stdout.split('\n')) {
    if (line.includes(TESTBED_DIR) && !line.includes('tern-shim') && /criu (dump|restore)/.test(line))
      found.push(`criu process: ${line.trim()}`);
  }
  const shims = procs.stdout
    .split('\n')
    .filter((l) => /tern-shim (launch|restore)/.test(l) && !/\sZ/.test(l));
  const wantShims = home ? 1 : 0;
  if (shims.length !== wantShims) found.push(`${shims.length} live shims (want ${wantShims})`);
  const rec = home ? await record(home, NAME) : undefined;
  if (rec) {
    const stat = await readFile(`/proc/${rec.pid}/stat`, 'utf8').catch(() => '');
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T')
      found.push('container tree is stopped');
  }
  return found;
}

/**
 * Puts a 4 MiB tmpfs over the host's migrations directory inside its agent's
 * mount namespace, so incoming images run out of space; returns the undo.
 */
export async function fillStateDir(host: string): Promise<() => Promise<void>> {
  const pid = String(await daemonPid(host));
  // Both places a migration may keep its images: the tmpfs and the state dir.
  const dirs = migrationBases(host);
  for (const dir of dirs) {
    const r = await sh([
      'nsenter',
      '-t',
      pid,
      '-m',
      'mount',
      '-t',
      'tmpfs',
      '-o',
      'size=4m',
      'tern-full',
      dir,
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  return async () => {
    for (const dir of dirs) {
      const u = await sh(['nsenter', '-t', pid, '-m', 'umount', dir]);
      assert.equal(u.code, 0, u.stderr);
    }
  };
}

/** Starts `migrate` in the background; resolves with its exit code and output. */
export function startMigrate(to: string, mode?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const args = [join(ROOT, 'dist/bin/migrate.js'), '--to', to, ...(mode ? ['--mode', mode] : []), NAME];
    const child = spawn('node', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
    });
    child.stderr.on('data', (b) => {
      out += b;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
  });
}

/** Memory pages flow to the target while the source dumps: the bulk of a move's bytes. */
export const STREAM_PHASE = 'dumping';

/** Where a case strikes: the dump's page stream, or (post-copy) the pages that follow the resume. */
export const strikePhase = (c: Case) => (c.point === 'pulling' ? 'pulling' : STREAM_PHASE);

export function waitStreaming(phase = STREAM_PHASE): Promise<true> {
  return waitFor(
    `the ${phase} phase`,
    async () => ((await latestMigration())?.phase === phase ? true : undefined),
    60_000,
  );
}

/** Post-copy: SIGKILLs the source's CRIU that serves the pages still to come. */
export async function killPageServer(): Promise<void> {
  await waitStreaming('pulling');
  const ps = await sh(['ps', '-eo', 'pid,args']);
  const line = ps.stdout
    .split('\n')
    .find((l) => l.includes(TESTBED_DIR) && /criu dump .*--lazy-pages/.test(l) && !l.includes('tern-relay'));
  assert.ok(line, 'no source CRIU serving post-copy pages found');
  process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGKILL');
}

/** What a link cut found: the phase as the link went down and came back, when the source ran again. */
export interface CutReport {
  /** When the link went down (epoch ms). */
  atMs: number;
  cutMs: number;
  stallMs: number;
  phaseAtDown?: string;
  phaseAtUp?: string;
  /** From the link going down to the source's tree running again (long cuts). */
  resumedAfterMs?: number;
  /** The bound on resumedAfterMs: stall + cut + RESUME_SLACK_MS. */
  boundMs: number;
}

/**
 * Sets the role's underlay link down once the transfer runs, for a short
 * cut (well under the stall deadline) or a long one (past it), then up again.
 * After a long cut, waits (up to the bound) for the source's tree to run.
 */
export async function cutLink(c: Case, from: string, to: string): Promise<CutReport> {
  const stall = await stallMs();
  const cutMs =
    c.cut === 'long' ? stall + LONG_CUT_EXTRA_MS : c.cut === 'lease' ? LEASE_CUT_MS : SHORT_CUT_MS;
  assert.ok(
    c.cut === 'long' || cutMs < stall / 2,
    `a short cut (${cutMs} ms) must stay well under ${stall} ms`,
  );
  const daemon = daemonName(c.role, from, to);
  await waitStreaming(strikePhase(c));
  const t0 = Date.now();
  const report: CutReport = { atMs: t0, cutMs, stallMs: stall, boundMs: stall + cutMs + RESUME_SLACK_MS };
  const inNs = (argv: string[]) =>
    HA_COORDINATORS[daemon]
      ? sh(['ip', 'netns', 'exec', HA_COORDINATORS[daemon], ...argv])
      : inHost(daemon, argv);
  const r = await inNs(['ip', 'link', 'set', 'ul', 'down']);
  assert.equal(r.code, 0, r.stderr);
  try {
    // The CLI reaches the coordinator through its unix socket, not the underlay.
    report.phaseAtDown = (await latestMigration())?.phase;
    await sleep(t0 + cutMs - Date.now());
  } finally {
    const u = await inNs(['ip', 'link', 'set', 'ul', 'up']);
    assert.equal(u.code, 0, u.stderr);
  }
  report.phaseAtUp = (await latestMigration())?.phase;
  if (c.cut === 'long') {
    await beating(from, t0 + report.boundMs - Date.now())
      .then(() => {
        report.resumedAfterMs = Date.now() - t0;
      })
      .catch(() => {});
  }
  return report;
}

/**
 * For a store fault the runner retries: waits until the store has refused
 * `c.refusals` writes while the fault stays armed, and checks what must hold
 * meanwhile. Returns the problems found; the caller disarms.
 */
export async function holdRefusals(c: Case, from: string, prev: string | undefined): Promise<string[]> {
  const problems: string[] = [];
  const want = c.refusals ?? 1;
  const id = await newMigration(prev);
  // The migration cannot end while the store refuses a phase it must pass through.
  const ended = await waitFor(
    `${want} refused writes at ${c.point}`,
    async () => {
      if ((await faultHits(id, c.point)) >= want) return 'armed';
      const m = await latestMigration();
      return m?.id === id && (m.phase === 'done' || m.phase === 'aborted') ? m.phase : undefined;
    },
    120_000,
  );
  if (ended !== 'armed') {
    problems.push(
      `ended ${ended} after ${await faultHits(id, c.point)} refused writes at ${c.point}, while still refused`,
    );
    return problems;
  }
  // Persist, then act: a phase the store refused is not what the coordinator shows.
  const m = await latestMigration();
  if (m && `store-${m.phase}` === c.point)
    problems.push(`phase ${m.phase} shown although the store refused it`);
  if (c.expect === 'source') {
    // A store that keeps refusing does not keep the container frozen.
    await beating(from, 30_000).catch(() =>
      problems.push(`${NAME} did not run again on ${from} while the store refused ${c.point}`),
    );
  }
  return problems;
}

/** Appends `point=action` to a daemon's faults file (several faults may be armed at once). */
export async function arm(daemon: string, entry: string): Promise<void> {
  await appendFile(faultsFile(daemon), `${entry}\n`);
}

export function caseLabel(c: Case): string {
  const cut = c.cut ? ` ${c.cut} cut` : '';
  const who = ['sigkill', 'link-down', 'kill-pages', 'crash'].includes(c.kind) ? ` (${c.role})` : '';
  const mode = c.mode ? `${c.mode} ` : '';
  if (c.members) return `${c.point} x ${c.kind} (${c.members} of 3 etcd members)`;
  const also = c.with ? ` + ${c.with.point} x ${c.with.action} (${c.with.role})` : '';
  return `${mode}${c.point} x ${c.kind}${cut}${who}${also}`;
}

export function caseTitle(c: Case): string {
  const cut = c.cut ? ` (${c.cut} cut)` : '';
  const also = c.with ? `, ${c.with.point} x ${c.with.action} in the ${c.with.role}` : '';
  const mode = c.mode ? `${c.mode}: ` : '';
  if (c.beforeStart)
    return `${c.members} of 3 etcd members dead when migrate runs: refused, nothing starts, the container runs on`;
  if (c.members)
    return `${c.point} x ${c.members} of 3 etcd members killed: container runs once, on the ${c.expect}`;
  const outcome =
    c.expect === 'lost'
      ? 'the migration fails, saying the container is lost, nothing left anywhere'
      : `container runs once, on the ${c.expect}`;
  return `${mode}${c.point} x ${c.kind}${cut} in the ${c.role}${also}: ${outcome}`;
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
