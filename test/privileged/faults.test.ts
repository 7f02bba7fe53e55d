// The fault matrix: faults injected at every step boundary of the handoff
// (fail or crash, in the source agent, the target agent or the coordinator)
// and from outside (SIGKILL of a daemon, the underlay link set down, a
// corrupted chunk, CRIU failing), each during a real migration on the
// testbed. After recovery the container must run exactly once, where the
// protocol says, with its state intact, and no host may hold leftovers.
//
// `make test` runs a fast subset; `npm run faults` (TERN_FAULT_MATRIX=full)
// runs the whole matrix.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  alive,
  down,
  heartbeat,
  hostDir,
  inHost,
  memoryChecksums,
  ownsTestbed,
  ROOT,
  record,
  runWorkload,
  sh,
  TESTBED_DIR,
  tern,
  testbed,
  up,
  waitFor,
  workloadRootfs,
} from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';

type Role = 'source' | 'target' | 'coordinator';
type Where = 'source' | 'target';

interface Case {
  /** fault point (as armed in a faults file) or external action */
  point: string;
  kind: 'fail' | 'crash' | 'corrupt' | 'sigkill' | 'link-down' | 'disk-full';
  role: Role;
  /** Where the container must run afterwards. */
  expect: Where;
  fast?: boolean;
}

const MATRIX: Case[] = [
  { point: 'prepare', kind: 'fail', role: 'target', expect: 'source' },
  { point: 'prepare', kind: 'crash', role: 'target', expect: 'source' },
  { point: 'after-dump', kind: 'fail', role: 'source', expect: 'source' },
  { point: 'after-dump', kind: 'crash', role: 'source', expect: 'source' },
  { point: 'transfer', kind: 'fail', role: 'source', expect: 'source' },
  { point: 'transfer', kind: 'crash', role: 'source', expect: 'source', fast: true },
  { point: 'corrupt-chunk', kind: 'corrupt', role: 'source', expect: 'source', fast: true },
  { point: 'restore', kind: 'fail', role: 'target', expect: 'source' },
  { point: 'restore', kind: 'crash', role: 'target', expect: 'source' },
  { point: 'criu-restore', kind: 'fail', role: 'target', expect: 'source' },
  { point: 'criu-dump', kind: 'fail', role: 'source', expect: 'source' },
  { point: 'after-restore', kind: 'fail', role: 'target', expect: 'source' },
  { point: 'after-restore', kind: 'crash', role: 'target', expect: 'source' },
  { point: 'state-dir', kind: 'disk-full', role: 'target', expect: 'source' },
  { point: 'before-committing', kind: 'fail', role: 'coordinator', expect: 'source' },
  { point: 'before-committing', kind: 'crash', role: 'coordinator', expect: 'source' },
  { point: 'after-committing', kind: 'fail', role: 'coordinator', expect: 'target' },
  { point: 'after-committing', kind: 'crash', role: 'coordinator', expect: 'target', fast: true },
  { point: 'commit', kind: 'fail', role: 'source', expect: 'target', fast: true },
  { point: 'commit', kind: 'crash', role: 'source', expect: 'target' },
  { point: 'before-committed', kind: 'crash', role: 'coordinator', expect: 'target' },
  { point: 'after-committed', kind: 'crash', role: 'coordinator', expect: 'target' },
  { point: 'resume', kind: 'fail', role: 'target', expect: 'target' },
  { point: 'resume', kind: 'crash', role: 'target', expect: 'target', fast: true },
  { point: 'mid-transfer', kind: 'sigkill', role: 'source', expect: 'source' },
  { point: 'mid-transfer', kind: 'sigkill', role: 'target', expect: 'source' },
  { point: 'mid-transfer', kind: 'sigkill', role: 'coordinator', expect: 'source' },
  { point: 'mid-transfer', kind: 'link-down', role: 'source', expect: 'source' },
];

const FULL = process.env.TERN_FAULT_MATRIX === 'full';
const NAME = 'faulty';
const HOSTS = ['hostA', 'hostB'];

const tally = { injected: 0, recovered: 0, lost: 0, duplicated: 0, leftovers: 0 };
const outcomes: string[] = [];

function daemonName(role: Role, from: string, to: string): string {
  return role === 'coordinator' ? 'coordinator' : role === 'source' ? from : to;
}

function faultsFile(daemon: string): string {
  return daemon === 'coordinator'
    ? join(TESTBED_DIR, 'coordinator', 'faults')
    : join(hostDir(daemon), 'faults');
}

async function disarm(): Promise<void> {
  for (const d of ['coordinator', ...HOSTS]) await rm(faultsFile(d), { force: true });
}

async function daemonPid(daemon: string): Promise<number> {
  return Number((await readFile(join(TESTBED_DIR, 'pids', `${daemon}.pid`), 'utf8').catch(() => '0')).trim());
}

/** Restarts every daemon that is no longer running (crashed or killed by the case). */
async function restartDead(): Promise<void> {
  for (const d of ['coordinator', ...HOSTS]) {
    if (await alive(await daemonPid(d))) continue;
    const r = d === 'coordinator' ? await testbed('restart-coordinator') : await testbed('start-agent', d);
    assert.equal(r.code, 0, `restarting ${d}: ${r.stderr}`);
  }
}

interface MigrationRow {
  id: string;
  phase: string;
}

async function latestMigration(): Promise<MigrationRow | undefined> {
  const r = await tern('migrations');
  const rows = r.stdout
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c[1] === NAME);
  const last = rows.at(-1);
  return last ? { id: last[0], phase: last[4] } : undefined;
}

/** What is left anywhere besides the one running container: a list of findings. */
async function leftovers(home: string): Promise<string[]> {
  const found: string[] = [];
  for (const h of HOSTS) {
    const migs = await readdir(join(hostDir(h), 'migrations')).catch(() => []);
    if (migs.length > 0) found.push(`${h}: migration dirs ${migs.join(',')}`);
    const links = (await inHost(h, ['ip', '-o', 'link', 'show'])).stdout.match(/tern[0-9a-f]{8}/g) ?? [];
    const want = h === home ? [(await record(h, NAME))?.veth] : [];
    const extra = links.filter((l) => !want.includes(l));
    if (extra.length > 0) found.push(`${h}: veths ${extra.join(',')}`);
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
  if (shims.length !== 1) found.push(`${shims.length} live shims (want 1)`);
  const rec = await record(home, NAME);
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
async function fillStateDir(host: string): Promise<() => Promise<void>> {
  const pid = String(await daemonPid(host));
  const dir = join(hostDir(host), 'migrations');
  const r = await sh(['nsenter', '-t', pid, '-m', 'mount', '-t', 'tmpfs', '-o', 'size=4m', 'tern-full', dir]);
  assert.equal(r.code, 0, r.stderr);
  return async () => {
    const u = await sh(['nsenter', '-t', pid, '-m', 'umount', dir]);
    assert.equal(u.code, 0, u.stderr);
  };
}

/** Starts `migrate` in the background; resolves with its exit code and output. */
function startMigrate(to: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', [join(ROOT, 'dist/bin/migrate.js'), '--to', to, NAME], {
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

async function externalFault(c: Case, from: string, to: string): Promise<void> {
  await waitFor(
    'the transfer to start',
    async () => ((await latestMigration())?.phase === 'transferring' ? true : undefined),
    30_000,
  );
  const daemon = daemonName(c.role, from, to);
  if (c.kind === 'sigkill') {
    process.kill(await daemonPid(daemon), 'SIGKILL');
  } else {
    const r = await inHost(daemon, ['ip', 'link', 'set', 'ul', 'down']);
    assert.equal(r.code, 0, r.stderr);
    await new Promise((res) => setTimeout(res, 8000));
    await inHost(daemon, ['ip', 'link', 'set', 'ul', 'up']);
  }
}

async function runCase(c: Case): Promise<void> {
  const from = (await record('hostA', NAME)) ? 'hostA' : 'hostB';
  const to = from === 'hostA' ? 'hostB' : 'hostA';
  const before = await heartbeat(NAME);
  const label = `${c.point} x ${c.kind}${c.kind === 'sigkill' || c.kind === 'link-down' ? ` (${c.role})` : ''}`;
  tally.injected++;
  if (c.kind === 'fail' || c.kind === 'crash' || c.kind === 'corrupt') {
    const action = c.kind === 'corrupt' ? 'fail' : c.kind;
    await writeFile(faultsFile(daemonName(c.role, from, to)), `${c.point}=${action}\n`);
  }
  const full = c.kind === 'disk-full' ? await fillStateDir(to) : undefined;
  const migration = startMigrate(to);
  let exited = false;
  void migration.then(() => {
    exited = true;
  });
  const daemon = daemonName(c.role, from, to);
  if (c.kind === 'sigkill' || c.kind === 'link-down') {
    await externalFault(c, from, to);
  } else if (c.kind === 'disk-full') {
    await migration;
    await full?.();
  } else if (c.kind === 'crash') {
    await waitFor(
      'the process to crash',
      async () => (!(await alive(await daemonPid(daemon))) || exited ? true : undefined),
      90_000,
    );
  } else if (c.expect === 'source') {
    // A failure before the commit point aborts the migration by itself.
    await migration;
  } else {
    // Past the commit point the coordinator retries; let the fault fire, then disarm.
    await waitFor(
      'the commit to start',
      async () => {
        const m = await latestMigration();
        return m && ['committing', 'committed', 'done'].includes(m.phase) ? true : undefined;
      },
      90_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
  }
  await disarm();
  await restartDead();
  await migration;
  // Recovery: the migration reaches a final phase and no host holds parts of it.
  const final = await waitFor(
    'the migration to end',
    async () => {
      await restartDead();
      const m = await latestMigration();
      return m && (m.phase === 'done' || m.phase === 'aborted') ? m : undefined;
    },
    120_000,
  );
  const expectHost = c.expect === 'source' ? from : to;
  const settled = await waitFor(
    'hosts to settle',
    async () => ((await leftovers(expectHost)).length === 0 ? true : undefined),
    60_000,
  ).catch(() => false);

  const copies = [];
  for (const h of HOSTS) {
    const r = await record(h, NAME);
    if (r && (await alive(r.pid))) copies.push(h);
  }
  const problems: string[] = [];
  if (copies.length === 0) tally.lost++;
  if (copies.length > 1) tally.duplicated++;
  if (copies.length !== 1 || copies[0] !== expectHost)
    problems.push(`running on [${copies.join(',')}], want ${expectHost}`);
  if (copies.length === 1) {
    const after = await waitFor('heartbeat to advance', async () => {
      const v = await heartbeat(NAME);
      return v > before ? v : undefined;
    }).catch(() => 0);
    if (after <= before) problems.push(`heartbeat did not advance past ${before}`);
    const mem = await memoryChecksums(NAME);
    if (mem.got !== mem.want) problems.push('memory checksum differs');
  }
  const left = settled ? [] : await leftovers(expectHost);
  if (left.length > 0) {
    tally.leftovers++;
    problems.push(`leftovers: ${left.join('; ')}`);
  }
  if (problems.length === 0) tally.recovered++;
  const line = `${label.padEnd(34)} -> ${final.phase}, runs on ${c.expect} (${copies.join(',') || 'nowhere'})${problems.length ? `  PROBLEMS: ${problems.join('; ')}` : ''}`;
  outcomes.push(line);
  assert.deepEqual(problems, [], line);
}

describe(`fault matrix (privileged, ${FULL ? 'full' : 'fast subset'})`, function () {
  this.timeout(300_000);
  let rootfs: Awaited<ReturnType<typeof workloadRootfs>> | undefined;

  before(async function () {
    requirePrivileges(this);
    this.timeout(120_000);
    await up(2);
    rootfs = await workloadRootfs();
    await runWorkload(
      'hostA',
      NAME,
      rootfs.dir,
      '/bin/workload heartbeat /tmp/hb & /bin/workload memhog 192 99 random /tmp/mem & wait',
      '/tmp/mem',
    );
  });

  after(async () => {
    if (outcomes.length > 0) {
      process.stdout.write(`\n${outcomes.map((o) => `    ${o}`).join('\n')}\n`);
      process.stdout.write(
        `faults: ${tally.injected} injected, ${tally.recovered} recovered, ${tally.lost} lost, ${tally.duplicated} duplicated, ${tally.leftovers} leftovers\n`,
      );
    }
    if (ownsTestbed()) {
      await disarm().catch(() => {});
      await tern('stop', NAME).catch(() => {});
    }
    await down().catch(() => {});
    await rootfs?.cleanup();
  });

  for (const c of MATRIX.filter((k) => FULL || k.fast)) {
    it(`${c.point} x ${c.kind} in the ${c.role}: container runs once, on the ${c.expect}`, () => runCase(c));
  }
});
