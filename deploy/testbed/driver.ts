// The testbed's driver for TypeScript: bring the local testbed up and down,
// run the CLI against it, run commands in host namespaces, build test rootfs.
// Privileged tests, the benchmark and the soak share it.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ContainerRecord } from '../../agent/containers.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const TESTBED_DIR = process.env.TERN_TESTBED_DIR || '/var/lib/tern/testbed';
export const CRIU = process.env.TERN_CRIU || '/opt/tern/criu/criu';
export const BASE_ROOTFS = '/opt/tern/rootfs/busybox';

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export function sh(
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      argv[0],
      argv.slice(1),
      {
        env: { ...process.env, ...opts.env },
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 300_000,
        maxBuffer: 64 << 20,
      },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
      },
    );
  });
}

/** The testbed's generated settings (testbed.env: addresses and namespaces of every daemon). */
export async function testbedEnv(): Promise<Record<string, string>> {
  const text = await readFile(join(TESTBED_DIR, 'testbed.env'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^[A-Z_a-z]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).replace(/^'|'$|^"|"$/g, '')]),
  );
}

/** Why this machine cannot run pre-copy (CRIU's memory change tracking), or undefined if it can. */
export async function precopyUnsupported(): Promise<string | undefined> {
  const r = await sh([CRIU, 'check', '--feature', 'mem_dirty_track']);
  if (r.code === 0) return undefined;
  return `criu check --feature mem_dirty_track: ${(r.stderr + r.stdout).trim().split('\n').pop() ?? `exit ${r.code}`}`;
}

export const tern = (...args: string[]) => sh(['node', join(ROOT, 'dist/bin/tern.js'), ...args]);
export const migrate = (...args: string[]) => sh(['node', join(ROOT, 'dist/bin/migrate.js'), ...args]);
export const testbed = (...args: string[]) => sh(['bash', join(ROOT, 'deploy/testbed.sh'), ...args]);
export const inHost = (host: string, argv: string[]) => sh(['ip', 'netns', 'exec', `tern-${host}`, ...argv]);

let ours = false;

/**
 * Brings up a fresh testbed with n hosts (ha: three etcd members and two
 * coordinators taking turns); refuses to touch one it did not make.
 */
export async function up(n = 2, opts: { ha?: boolean } = {}): Promise<void> {
  if (existsSync(join(TESTBED_DIR, 'testbed.env'))) {
    throw new Error(`a testbed is already up in ${TESTBED_DIR}; run deploy/testbed.sh down first`);
  }
  const r = await testbed('up', String(n), ...(opts.ha ? ['--ha'] : []));
  if (r.code !== 0) {
    await testbed('down');
    throw new Error(`testbed up failed:\n${r.stdout}\n${r.stderr}`);
  }
  ours = true;
}

/** Whether this process brought the testbed up (and so may change and remove it). */
export const ownsTestbed = () => ours;

/** Tears down the testbed, only if this process brought it up. */
export async function down(): Promise<void> {
  if (!ours) return;
  ours = false;
  const r = await testbed('down');
  if (r.code !== 0) throw new Error(`testbed down failed: ${r.stderr}`);
}

/** With --ha: the coordinators, by daemon name, and the netns each runs in. */
export const HA_COORDINATORS: Record<string, string> = {
  coordinator: 'tern-coord',
  coordinator2: 'tern-coord2',
};

/** With --ha: the coordinator that leads now (only the leader listens), or undefined. */
export async function haLeader(): Promise<string | undefined> {
  for (const [d, ns] of Object.entries(HA_COORDINATORS)) {
    const r = await sh(['ip', 'netns', 'exec', ns, 'ss', '-ltnH', 'sport = :7700']);
    if (r.code === 0 && r.stdout.trim()) return d;
  }
  return undefined;
}

export function hostDir(host: string): string {
  return join(TESTBED_DIR, 'hosts', host);
}

/** Where a testbed agent keeps migrations: on the testbed's tmpfs (--fast-dir), else in its state dir. */
export function migrationBases(host: string): string[] {
  return [join(TESTBED_DIR, 'fast', host), join(hostDir(host), 'migrations')];
}

/** The migration directories a testbed agent has, by full path. */
export async function migrationDirs(host: string): Promise<string[]> {
  const out: string[] = [];
  for (const base of migrationBases(host))
    for (const e of await readdir(base).catch(() => [] as string[]))
      if (e !== 'trash') out.push(join(base, e));
  return out;
}

export type AgentRecord = ContainerRecord;

/** The agent's on-disk record of a container, or undefined. */
export async function record(host: string, name: string): Promise<AgentRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(hostDir(host), 'containers', name, 'container.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Runs a command in a container; throws with its stderr unless it exits 0. */
export async function execIn(name: string, ...argv: string[]): Promise<string> {
  const r = await tern('exec', name, '--', ...argv);
  if (r.code !== 0) throw new Error(`tern exec ${name} ${argv.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/**
 * Starts a container with `tern run --host HOST --name NAME FLAGS -- /bin/sh -c SCRIPT`
 * and waits until SCRIPT has created /tmp/ready inside it.
 */
export async function runReady(host: string, name: string, flags: string[], script: string): Promise<void> {
  const r = await tern('run', '--host', host, '--name', name, ...flags, '--', '/bin/sh', '-c', script);
  if (r.code !== 0) throw new Error(`tern run ${name} failed (${r.code}): ${r.stderr}`);
  await waitFor(
    `${name} to be ready`,
    async () => (await tern('exec', name, '--', 'cat', '/tmp/ready')).code === 0 || undefined,
  );
}

/** Compiles one C file into a static program (it runs in a rootfs without libc). */
export async function buildStatic(src: string, out: string): Promise<void> {
  const r = await sh(['gcc', '-static', '-O2', '-o', out, src]);
  if (r.code !== 0) throw new Error(`building ${src} failed: ${r.stderr}`);
}

/** A busybox rootfs with the static test workload at /bin/workload. */
export async function workloadRootfs(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tern-rootfs-'));
  await cp(BASE_ROOTFS, dir, { recursive: true, verbatimSymlinks: true });
  await buildStatic(join(ROOT, 'test/fixtures/workload.c'), join(dir, 'bin', 'workload'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Starts a long-running process in a host netns; returns a stopper that kills it by pid. */
export function background(host: string, argv: string[]): { pid: number; stop: () => void } {
  const child = spawn('ip', ['netns', 'exec', `tern-${host}`, ...argv], { stdio: 'ignore', detached: true });
  child.unref();
  return {
    pid: child.pid as number,
    stop: () => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

export { alive } from '../../kernel/proc.js';

/**
 * Starts a container running `script` (a /bin/sh -c line over /bin/workload)
 * and waits until `readyFile` exists inside it.
 */
export async function runWorkload(
  host: string,
  name: string,
  rootfs: string,
  script: string,
  readyFile: string,
  capAdd: string[] = [],
): Promise<void> {
  const r = await tern(
    'run',
    '--host',
    host,
    '--name',
    name,
    '--rootfs',
    rootfs,
    ...capAdd.flatMap((c) => ['--cap-add', c]),
    '--',
    '/bin/sh',
    '-c',
    script,
  );
  if (r.code !== 0) throw new Error(`tern run ${name} failed: ${r.stderr}`);
  await waitFor(
    `${name} to write ${readyFile}`,
    async () => (await tern('exec', name, '--', 'cat', readyFile)).code === 0 || undefined,
    60_000,
  );
}

/** The sequence number of the workload heartbeat in /tmp/hb. */
export async function heartbeat(name: string): Promise<number> {
  return Number((await execIn(name, 'cat', '/tmp/hb')).split(' ')[0]);
}

/**
 * The memhog's checksum written at start (`want`) and the one it computes
 * again now over all its memory (`got`), after a SIGUSR1.
 */
export async function memoryChecksums(name: string): Promise<{ want: string; got: string }> {
  const want = (await execIn(name, 'cat', '/tmp/mem')).trim();
  await execIn(name, 'rm', '-f', '/tmp/mem.verify');
  const ps = await execIn(name, 'ps', '-o', 'pid,args');
  const pid = ps
    .split('\n')
    .find((l) => /^\s*\d+\s+\/bin\/workload memhog/.test(l))
    ?.trim()
    .split(/\s+/)[0];
  if (!pid) throw new Error(`memhog not running in ${name}:\n${ps}`);
  await execIn(name, 'kill', '-USR1', pid);
  const got = await waitFor('memory checksum', async () => {
    const r = await tern('exec', name, '--', 'cat', '/tmp/mem.verify');
    return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
  });
  return { want, got };
}
