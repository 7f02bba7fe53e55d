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
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  alive,
  down,
  execIn,
  hostDir,
  inHost,
  memoryChecksums,
  migrate,
  ownsTestbed,
  type Result,
  ROOT,
  record,
  runWorkload,
  sh,
  TESTBED_DIR,
  tern,
  up,
  waitFor,
  workloadRootfs,
} from '../../deploy/testbed/driver.js';
import { coordinatorClient, type Migration__Output } from '../../proto/index.js';
import { unary } from '../../proto/rpc.js';
import { requirePrivileges } from '../lib/privileges.js';

/** A container with a heartbeat and MEM_MIB MiB of memory of known checksum. */
const MEM = 'dpmem';
const MEM_MIB = 64;
/** A container whose rootfs changes all the time. */
const CHURN = 'dpchurn';
/** The churn loop keeps this many files: each iteration creates one and deletes the one this much older. */
const WINDOW = 50;
/** How long the coordinator stalls between the rootfs pre-copy and the dump (case 2). */
const PRECOPY_GAP_MS = 2000;
/** How long the coordinator stalls between the dump and the transfer, the source holding its frozen tree (case 3). */
const HOLD_MS = 4000;
const MIB = 1024 * 1024;

const HOSTS = ['hostA', 'hostB'];

/** The CLI's coordinator address: its unix socket unless the environment names another. */
function coordinator() {
  return coordinatorClient(
    process.env.TERN_COORDINATOR || `unix://${process.env.TERN_SOCKET || '/run/tern/coordinator.sock'}`,
  );
}

async function getMigration(id: string): Promise<Migration__Output> {
  const c = coordinator();
  try {
    return await unary(c, c.GetMigration, { id }, { timeoutMs: 10_000, what: 'get migration' });
  } finally {
    c.close();
  }
}

/** Every migration of a container, oldest first. */
async function migrationsOf(name: string): Promise<Migration__Output[]> {
  const c = coordinator();
  try {
    const r = await unary(c, c.ListMigrations, {}, { timeoutMs: 10_000, what: 'migrations' });
    return r.migrations
      .filter((m) => m.container === name)
      .sort((a, b) => Number(a.started_ms) - Number(b.started_ms));
  } finally {
    c.close();
  }
}

/** The data channel a host's agent registered (`tern hosts` does not print it). */
async function dataAddress(host: string): Promise<string> {
  const c = coordinator();
  try {
    const r = await unary(c, c.ListHosts, {}, { timeoutMs: 10_000, what: 'hosts' });
    const addr = r.hosts.find((h) => h.name === host)?.data_address;
    assert.ok(addr, `${host} registered no data channel`);
    return addr;
  } finally {
    c.close();
  }
}

/** The migration id `migrate` printed on its first line. */
function migrationId(out: string): string {
  const id = /^migration (\S+):/m.exec(out)?.[1];
  assert.ok(id, `no migration id in:\n${out}`);
  return id;
}

const phases = (m: Migration__Output) => m.history.map((h) => h.phase);
const entered = (m: Migration__Output, phase: string) => m.history.find((h) => h.phase === phase);

/** The daemon's pid as the testbed recorded it. */
async function daemonPid(daemon: string): Promise<number> {
  return Number((await readFile(join(TESTBED_DIR, 'pids', `${daemon}.pid`), 'utf8')).trim());
}

/** Where a daemon reads its fault points (re-read at every point). */
function faultsFile(daemon: string): string {
  return daemon === 'coordinator'
    ? join(TESTBED_DIR, 'coordinator', 'faults')
    : join(hostDir(daemon), 'faults');
}

async function disarm(): Promise<void> {
  for (const d of ['coordinator', ...HOSTS]) await rm(faultsFile(d), { force: true });
}

/** The workload heartbeat (/tmp/hb): sequence number and the largest gap between two beats so far (ms). */
async function beat(name: string): Promise<{ seq: number; maxGapMs: number }> {
  const f = (await execIn(name, 'cat', '/tmp/hb')).trim().split(' ');
  return { seq: Number(f[0]), maxGapMs: Number(f[2]) / 1000 };
}

async function assertRunsOn(name: string, host: string): Promise<void> {
  const ps = await tern('ps');
  assert.match(ps.stdout, new RegExp(`^${name}\\s+${host}\\s+running\\s`, 'm'), ps.stdout);
  const rec = await record(host, name);
  assert.ok(rec && (await alive(rec.pid)), `${name} does not run on ${host}`);
  for (const h of HOSTS.filter((x) => x !== host)) {
    assert.equal(await record(h, name), undefined, `a record of ${name} is left on ${h}`);
    assert.ok(!existsSync(join(hostDir(h), 'containers', name)), `container dir of ${name} left on ${h}`);
  }
  const a = (await beat(name)).seq;
  await waitFor(`${name}'s heartbeat to advance`, async () =>
    (await beat(name)).seq > a ? true : undefined,
  );
}

/** Nothing of any migration on `host`: no work dirs, no veth besides those of containers it runs. */
async function assertNoMigrationLeft(host: string): Promise<void> {
  const migs = await readdir(join(hostDir(host), 'migrations')).catch(() => []);
  assert.deepEqual(migs, [], `migration work dirs left on ${host}`);
  const links = (await inHost(host, ['ip', '-o', 'link', 'show'])).stdout.match(/tern[0-9a-f]{8}/g) ?? [];
  const names: string[] = await readdir(join(hostDir(host), 'containers')).catch(() => []);
  const own: (string | undefined)[] = [];
  for (const n of names) own.push((await record(host, n))?.veth);
  assert.deepEqual(
    links.filter((l) => !own.includes(l)),
    [],
    `veths left on ${host}`,
  );
}

/** What one fetch from a data channel ended with. */
interface FetchResult {
  want: string;
  ok: boolean;
  chunks?: number;
  code?: string;
  message?: string;
}

/**
 * Fetches from a data channel as a peer would, from inside `fromHost`'s
 * network namespace, with tern's own client (dist/agent/data.js): one fetch
 * per entry of `wants`, each presenting `credential` for `migration`.
 */
async function fetchAs(
  fromHost: string,
  address: string,
  migration: string,
  credential: string,
  wants: string[],
): Promise<FetchResult[]> {
  const script = `
const [data, address, migration, credential, ...wants] = process.argv.slice(1);
const { fetchImages } = await import(data);
const out = [];
for (const want of wants) {
  let chunks = 0;
  try {
    for await (const _ of fetchImages(address, migration, credential, want)) chunks++;
    out.push({ want, ok: true, chunks });
  } catch (e) {
    out.push({ want, ok: false, chunks, code: e.code, message: e.message });
  }
}
process.stdout.write(JSON.stringify(out));
`;
  const r = await inHost(fromHost, [
    process.execPath,
    '--input-type=module',
    '-e',
    script,
    join(ROOT, 'dist', 'agent', 'data.js'),
    address,
    migration,
    credential,
    ...wants,
  ]);
  assert.equal(r.code, 0, `fetch from ${address} in ${fromHost}: ${r.stderr}`);
  return JSON.parse(r.stdout) as FetchResult[];
}

function assertRefused(results: FetchResult[], what: string): void {
  for (const r of results) {
    assert.equal(r.ok, false, `${what}: a ${r.want} fetch was served (${r.chunks} chunks)`);
    assert.equal(r.chunks, 0, `${what}: a ${r.want} fetch got ${r.chunks} chunks before failing`);
    assert.equal(r.code, 'PERMISSION_DENIED', `${what}: ${r.want} fetch failed with ${r.code}: ${r.message}`);
  }
}

/**
 * Leaves the agent of `host` a state directory of `sizeMiB` MiB: in the
 * agent's own mount namespace, a tmpfs of that size with a copy of what the
 * directory held goes over it. The target measures free space there before
 * it takes a migration (PrepareTarget). Returns the undo, and a way to list
 * a directory as the agent sees it.
 */
async function shrinkStateDir(
  host: string,
  sizeMiB: number,
): Promise<{ undo: () => Promise<void>; list: (sub: string) => Promise<string[]> }> {
  const pid = String(await daemonPid(host));
  const dir = hostDir(host);
  const r = await sh([
    'nsenter',
    '-t',
    pid,
    '-m',
    '--',
    'sh',
    '-ec',
    `s=$(mktemp -d /tmp/tern-small.XXXXXX)
mount --bind "$1" "$s"
mount -t tmpfs -o size=${sizeMiB}m tern-small "$1"
cp -a "$s"/. "$1"/
umount "$s"
rmdir "$s"`,
    'sh',
    dir,
  ]);
  assert.equal(r.code, 0, `shrinking ${dir}: ${r.stderr}`);
  let mounted = true;
  return {
    undo: async () => {
      if (!mounted) return;
      const u = await sh(['nsenter', '-t', pid, '-m', '--', 'umount', dir]);
      assert.equal(u.code, 0, `unmounting the tmpfs over ${dir}: ${u.stderr}`);
      mounted = false;
    },
    list: async (sub) => {
      const l = await sh(['nsenter', '-t', pid, '-m', '--', 'ls', '-A', join(dir, sub)]);
      assert.equal(l.code, 0, l.stderr);
      return l.stdout.split('\n').filter(Boolean);
    },
  };
}

/**
 * Polls `fn` like waitFor until it gives a value, but fails at once with the
 * move's output if the move ends first (and stops polling then).
 */
async function whileMoving<T>(
  moving: Promise<Result>,
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  let ended: Result | undefined;
  void moving.then((r) => {
    ended = r;
  });
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (ended)
      throw new Error(`the move ended (exit ${ended.code}) before ${what}:\n${ended.stdout}${ended.stderr}`);
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The churn files' numbers in a listing of /churn ("f12" -> 12), ascending. */
function churnIndexes(names: string[]): number[] {
  return names
    .filter((n) => /^f\d+$/.test(n))
    .map((n) => Number(n.slice(1)))
    .sort((a, b) => a - b);
}

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
    const stale = await fetchAs('hostB', address, moved.id, randomHex(), ['images', 'rootfs']);
    assertRefused(stale, `after migration ${moved.id}`);
    // Nor of a migration it never heard of.
    assertRefused(await fetchAs('hostB', address, 'mnotamigration', randomHex(), ['images']), 'made-up id');

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
        const work = await readdir(join(hostDir('hostB'), 'migrations')).catch(() => []);
        if (work.length !== 1 || !existsSync(join(hostDir('hostB'), 'migrations', work[0], 'hold.json')))
          return undefined;
        return (await record('hostB', MEM))?.state === 'frozen' ? work[0] : undefined;
      },
      30_000,
    );
    const held = await fetchAs('hostA', source, id, randomHex(), ['images', 'rootfs']);
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
        const work = await readdir(join(hostDir('hostB'), 'migrations')).catch(() => []);
        if (work.length !== 1 || existsSync(join(hostDir('hostB'), 'migrations', work[0], 'rootfs-in')))
          return undefined;
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
    const newest = async () =>
      last(churnIndexes((await execIn(CHURN, 'ls', '-A', '/churn')).split('\n').filter(Boolean)));
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

const last = (xs: number[]): number => xs[xs.length - 1];

function randomHex(): string {
  return randomBytes(32).toString('hex');
}
