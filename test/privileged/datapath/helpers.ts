// What the data-path tests share: the testbed's coordinator, migrations and
// data addresses, fault files, heartbeats, and fetching with a credential.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { certFiles } from '../../../core/pki.js';
import {
  alive,
  execIn,
  hostDir,
  inHost,
  migrationDirs,
  type Result,
  ROOT,
  record,
  sh,
  TESTBED_DIR,
  tern,
  waitFor,
} from '../../../deploy/testbed/driver.js';
import { coordinatorClient, type Migration__Output } from '../../../proto/index.js';
import { unary } from '../../../proto/rpc.js';

/** A container with a heartbeat and MEM_MIB MiB of memory of known checksum. */
export const MEM = 'dpmem';
export const MEM_MIB = 64;
/** A container whose rootfs changes all the time. */
export const CHURN = 'dpchurn';
/** The churn loop keeps this many files: each iteration creates one and deletes the one this much older. */
export const WINDOW = 50;
/** How long the coordinator stalls between the rootfs pre-copy and the dump (case 2). */
export const PRECOPY_GAP_MS = 2000;
/**
 * How long the coordinator stalls between the dump and the transfer, the
 * source holding its frozen tree (case 3). The stall blocks the coordinator,
 * heartbeats included: with one every 2 s, a stall of 4 s could leave a host
 * unheard for the 6 s after which it counts as down, and the move aborted.
 */
export const HOLD_MS = 3000;
export const MIB = 1024 * 1024;

export const HOSTS = ['hostA', 'hostB'];

/** The CLI's coordinator address: its unix socket unless the environment names another. */
export function coordinator() {
  return coordinatorClient(
    process.env.TERN_COORDINATOR || `unix://${process.env.TERN_SOCKET || '/run/tern/coordinator.sock'}`,
  );
}

export async function getMigration(id: string): Promise<Migration__Output> {
  const c = coordinator();
  try {
    return await unary(c, c.GetMigration, { id }, { timeoutMs: 10_000, what: 'get migration' });
  } finally {
    c.close();
  }
}

/** Every migration of a container, oldest first. */
export async function migrationsOf(name: string): Promise<Migration__Output[]> {
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
export async function dataAddress(host: string): Promise<string> {
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
export function migrationId(out: string): string {
  const id = /^migration (\S+):/m.exec(out)?.[1];
  assert.ok(id, `no migration id in:\n${out}`);
  return id;
}

export const phases = (m: Migration__Output) => m.history.map((h) => h.phase);
export const entered = (m: Migration__Output, phase: string) => m.history.find((h) => h.phase === phase);

/** The daemon's pid as the testbed recorded it. */
export async function daemonPid(daemon: string): Promise<number> {
  return Number((await readFile(join(TESTBED_DIR, 'pids', `${daemon}.pid`), 'utf8')).trim());
}

/** Where a daemon reads its fault points (re-read at every point). */
export function faultsFile(daemon: string): string {
  return daemon === 'coordinator'
    ? join(TESTBED_DIR, 'coordinator', 'faults')
    : join(hostDir(daemon), 'faults');
}

export async function disarm(): Promise<void> {
  for (const d of ['coordinator', ...HOSTS]) await rm(faultsFile(d), { force: true });
}

/** The workload heartbeat (/tmp/hb): sequence number and the largest gap between two beats so far (ms). */
export async function beat(name: string): Promise<{ seq: number; maxGapMs: number }> {
  const f = (await execIn(name, 'cat', '/tmp/hb')).trim().split(' ');
  return { seq: Number(f[0]), maxGapMs: Number(f[2]) / 1000 };
}

export async function assertRunsOn(name: string, host: string): Promise<void> {
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
export async function assertNoMigrationLeft(host: string): Promise<void> {
  assert.deepEqual(await migrationDirs(host), [], `migration work dirs left on ${host}`);
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
export interface FetchResult {
  want: string;
  ok: boolean;
  chunks?: number;
  code?: string;
  message?: string;
}

/**
 * Fetches from a data channel as a peer would, from inside `fromHost`'s
 * network namespace with `fromHost`'s agent certificate, expecting `peerHost`
 * to serve, with tern's own client (dist/agent/data.js): one fetch per entry
 * of `wants`, each presenting `credential` for `migration`.
 */
export async function fetchAs(
  fromHost: string,
  address: string,
  peerHost: string,
  migration: string,
  credential: string,
  wants: string[],
): Promise<FetchResult[]> {
  const script = `
export const [data, tls, address, migration, credential, ...wants] = process.argv.slice(1);
export const { fetchImages } = await import(data);
export const out = [];
for (const want of wants) {
  let chunks = 0;
  try {
    for await (const _ of fetchImages(address, migration, credential, JSON.parse(tls), want)) chunks++;
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
    JSON.stringify({
      certs: certFiles(join(TESTBED_DIR, 'pki'), { role: 'agent', name: fromHost }),
      host: peerHost,
    }),
    address,
    migration,
    credential,
    ...wants,
  ]);
  assert.equal(r.code, 0, `fetch from ${address} in ${fromHost}: ${r.stderr}`);
  return JSON.parse(r.stdout) as FetchResult[];
}

export function assertRefused(results: FetchResult[], what: string): void {
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
export async function shrinkStateDir(
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
export async function whileMoving<T>(
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
export function churnIndexes(names: string[]): number[] {
  return names
    .filter((n) => /^f\d+$/.test(n))
    .map((n) => Number(n.slice(1)))
    .sort((a, b) => a - b);
}

export const last = (xs: number[]): number => xs[xs.length - 1];

export function randomHex(): string {
  return randomBytes(32).toString('hex');
}
