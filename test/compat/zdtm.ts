// The compatibility harness: CRIU's own zdtm tests as tern workloads.
//
// Each test runs twice, in the same kind of container (tern-shim's pid, mount,
// net, uts and ipc namespaces over a busybox rootfs with the test inside):
//   - in place, under plain CRIU: `criu dump`, then `criu restore` on the same
//     host, the reference for what the engine itself preserves;
//   - migrated: started with `tern run` on hostA, moved with `migrate` to hostB.
// Then the test gets SIGTERM, checks that its state survived, and writes PASS
// or FAIL to its outfile, which is its verdict.
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildStatic, CRIU, hostDir, migrate, ROOT, sh, tern } from '../../deploy/testbed/driver.js';
import { criuErrors } from '../../kernel/criu-log.js';
import { defaultShimPath, launchContainer, restoreUnderShim } from '../../kernel/shim.js';

export const ZDTM_DIR = process.env.TERN_ZDTM_DIR || '/opt/tern/criu/source/test/zdtm';
export const WORK_DIR = process.env.TERN_COMPAT_DIR || '/var/lib/tern/compat';
const BASE_ROOTFS = '/opt/tern/rootfs/busybox';
const IN_CT_DIR = '/zdtm/static';
/**
 * zdtm's tests run as root in their container, and many do what a default
 * container may not (sethostname, mounts, mknod, ptrace, queue limits...):
 * they get these capabilities beyond the default set, in place and through
 * tern alike. no_new_privs and the /proc masks stay, and so does the drop of
 * what reaches the host itself (SYS_MODULE, SYS_RAWIO, SYS_TIME, SYS_BOOT).
 */
export const ZDTM_CAPS = [
  'SYS_ADMIN',
  'MKNOD',
  'SYS_PTRACE',
  'NET_ADMIN',
  'NET_BROADCAST',
  'SYS_RESOURCE',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_NICE',
  'DAC_READ_SEARCH',
  'LINUX_IMMUTABLE',
  'LEASE',
  'AUDIT_CONTROL',
  'CHECKPOINT_RESTORE',
  'SYS_PACCT',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'SYS_TTY_CONFIG',
];

/**
 * Tests that cannot run under tern's seccomp filter: seccomp_strict enters
 * strict mode, which the kernel refuses once a filter is in place. They run
 * with --no-seccomp, in place and through tern alike.
 */
export const UNFILTERED = new Set(['seccomp_strict']);

/** What every dump and restore gets, in place and by tern alike. */
const COMMON_OPTS = ['--tcp-established', '--network-lock', 'nftables'];

export interface CompatTest {
  area: string;
  name: string;
  ci: boolean;
}

/** not-built: does not compile here; skipped: its .checkskip says this host cannot run it. */
export type Verdict = 'pass' | 'fail' | 'not-built' | 'skipped';

export interface RunResult {
  verdict: Verdict;
  /** First line that says what went wrong, when it did not pass. */
  error?: string;
  ms: number;
}

export interface TestResult extends CompatTest {
  inPlace: RunResult;
  migrated: RunResult;
}

/** The list kept in test/compat/tests.txt. */
export async function readList(file = join(ROOT, 'test', 'compat', 'tests.txt')): Promise<CompatTest[]> {
  const out: CompatTest[] = [];
  for (const raw of (await readFile(file, 'utf8')).split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [area, name, mark] = line.split(/\s+/);
    out.push({ area, name, ci: mark === 'ci' });
  }
  return out;
}

export interface Prepared {
  /** busybox, the shared libraries the tests link, and /zdtm/init; no test yet. */
  base: string;
  /** Test name → the argv the zdtm Makefile starts it with (relative to IN_CT_DIR). */
  argv: Map<string, string[]>;
  /** Test name → extra CRIU options its .desc asks for. */
  opts: Map<string, string[]>;
  /** Tests whose .desc marks them "excl": they must not run beside another test. */
  exclusive: Set<string>;
  /** Tests whose .checkskip script says this host cannot run them, with its words. */
  skipped: Map<string, string>;
  /** Tests with a .hook that cleans host-wide state they leave (cgroup hierarchies). */
  cleanHooks: Set<string>;
  /** Tests whose .desc marks them "nolazy": CRIU's lazy pages cannot keep what they check. */
  nolazy: Set<string>;
}

const staticDir = () => join(ZDTM_DIR, 'static');

/**
 * Builds the zdtm library and the listed tests, the container init, and a base
 * rootfs with the shared libraries the tests link.
 */
export async function prepare(tests: CompatTest[], log: (s: string) => void): Promise<Prepared> {
  if (!existsSync(join(staticDir(), 'Makefile'))) {
    throw new Error(`CRIU's zdtm sources are not at ${ZDTM_DIR} (run: make install)`);
  }
  const lib = await sh(['make', '-s', '-j2', '-C', join(ZDTM_DIR, 'lib')]);
  if (lib.code !== 0) throw new Error(`building zdtm/lib failed:\n${lib.stderr.slice(-2000)}`);
  const names = tests.map((t) => t.name);
  log(`building ${names.length} zdtm tests`);
  // -k: a test that does not build on this machine is reported, not fatal.
  await sh(['make', '-s', '-k', '-j2', '-C', staticDir(), ...names]);
  const built = names.filter((n) => existsSync(join(staticDir(), n)));

  const argv = new Map<string, string[]>();
  const dry = await sh(['make', '-n', '-s', '-C', staticDir(), ...built.map((n) => `${n}.pid`)]);
  for (const line of dry.stdout.split('\n')) {
    const m = /^\.\/(\S+)\s(.*)$/.exec(line.trim());
    if (m && built.includes(m[1])) argv.set(m[1], [`./${m[1]}`, ...m[2].split(/\s+/).filter(Boolean)]);
  }
  const opts = new Map<string, string[]>();
  const exclusive = new Set<string>();
  const skipped = new Map<string, string>();
  const cleanHooks = new Set<string>();
  const nolazy = new Set<string>();
  for (const n of built) {
    if (existsSync(join(staticDir(), `${n}.checkskip`))) {
      const c = await sh([join(staticDir(), `${n}.checkskip`)], { cwd: staticDir() });
      if (c.code !== 0) skipped.set(n, (c.stdout + c.stderr).trim().split('\n')[0] || 'checkskip says no');
    }
    const hook = await readFile(join(staticDir(), `${n}.hook`), 'utf8').catch(() => '');
    if (hook.includes('--clean')) cleanHooks.add(n);
    const desc = await readFile(join(staticDir(), `${n}.desc`), 'utf8').catch(() => '');
    const field = (k: string) =>
      (new RegExp(`'${k}'\\s*:\\s*'([^']*)'`).exec(desc)?.[1] ?? '').split(/\s+/).filter(Boolean);
    opts.set(n, field('opts'));
    if (field('flags').includes('excl')) exclusive.add(n);
    if (field('flags').includes('nolazy')) nolazy.add(n);
  }

  const base = join(WORK_DIR, 'rootfs');
  const tmp = `${base}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await cp(BASE_ROOTFS, tmp, { recursive: true, verbatimSymlinks: true });
  await mkdir(join(tmp, IN_CT_DIR), { recursive: true });
  await buildStatic(join(ROOT, 'test', 'compat', 'zdtm-init.c'), join(tmp, 'zdtm', 'init'));
  const libs = new Set<string>();
  for (const n of argv.keys()) {
    const ldd = await sh(['ldd', join(staticDir(), n)]);
    for (const m of ldd.stdout.matchAll(/(\/\S+)\s+\(0x/g)) libs.add(m[1]);
  }
  for (const l of libs) {
    await mkdir(join(tmp, dirname(l)), { recursive: true });
    await cp(l, join(tmp, l), { dereference: true });
  }
  await rm(base, { recursive: true, force: true });
  await sh(['mv', tmp, base]);
  return { base, argv, opts, exclusive, skipped, cleanHooks, nolazy };
}

/** A rootfs at `dir` for one test: the base plus that test's program. */
async function testRootfs(p: Prepared, name: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const r = await sh(['cp', '-a', `${p.base}/.`, `${dir}/`]);
  if (r.code !== 0) throw new Error(`copying the rootfs to ${dir} failed: ${r.stderr}`);
  await cp(join(staticDir(), name), join(dir, IN_CT_DIR, name));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

async function waitFile(path: string, timeoutMs: number): Promise<string | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const t = await readText(path);
    if (t !== undefined) return t.trim();
    if (Date.now() > until) return undefined;
    await sleep(50);
  }
}

/**
 * The first line of a CRIU log or zdtm outfile that says what went wrong:
 * CRIU's own Error lines (read as tern reads them), else the test's.
 */
export function firstError(text: string): string | undefined {
  const hit =
    criuErrors(text, Number.MAX_SAFE_INTEGER)[0] ??
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => /\b(ERR|FAIL|FAILED|fail(ed)?|error)\b/.test(l) && !/^PASS/.test(l));
  return hit?.slice(0, 300);
}

/** Whether a zdtm outfile ends in PASS, as zdtm.py judges it. */
export function passed(out: string | undefined): boolean {
  const last = (out ?? '').trim().split('\n').pop() ?? '';
  return last.split(/\s+/).includes('PASS');
}

const READY_MS = 20_000;
const VERDICT_MS = 90_000;

/**
 * Waits for the test to be ready (its launcher exited 0), or returns why it
 * never got there.
 */
async function awaitStart(dir: string, name: string): Promise<string | undefined> {
  const started = await waitFile(join(dir, `${name}.started`), READY_MS);
  if (started === 'exit 0') return undefined;
  const out = (await readText(join(dir, `${name}.out`))) ?? '';
  return `test did not start (${started ?? 'timed out'})${firstError(out) ? `: ${firstError(out)}` : ''}`;
}

/** Reads the verdict once the test has ended, within VERDICT_MS. */
async function verdictIn(dir: string, name: string, started: number): Promise<RunResult> {
  const exit = await waitFile(join(dir, `${name}.exit`), VERDICT_MS);
  const out = await readText(join(dir, `${name}.out`));
  if (passed(out)) return { verdict: 'pass', ms: Date.now() - started };
  const why = exit === undefined ? 'test did not finish after SIGTERM' : `test ended with ${exit}`;
  return { verdict: 'fail', error: firstError(out ?? '') ?? why, ms: Date.now() - started };
}

const inCt = (rootfs: string) => join(rootfs, IN_CT_DIR);

/** The test's pid inside its container, from its pidfile. */
async function testPid(rootfs: string, name: string): Promise<string> {
  return ((await readText(join(inCt(rootfs), `${name}.pid`))) ?? '').trim();
}

/** Why a test cannot run here at all, as a result; undefined if it can. */
function cannotRun(p: Prepared, t: CompatTest): RunResult | undefined {
  if (!p.argv.has(t.name)) return { verdict: 'not-built', error: 'does not build here', ms: 0 };
  const skip = p.skipped.get(t.name);
  if (skip !== undefined) return { verdict: 'skipped', error: skip, ms: 0 };
  return undefined;
}

/**
 * Runs the test's hook with --clean, as zdtm.py does around a test: it removes
 * what the test leaves outside its container (named cgroup hierarchies).
 */
async function cleanHook(p: Prepared, t: CompatTest): Promise<void> {
  if (!p.cleanHooks.has(t.name)) return;
  const dir = join(WORK_DIR, `hook-${t.name}`);
  await mkdir(dir, { recursive: true });
  await sh([join(staticDir(), `${t.name}.hook`), '--clean'], { cwd: dir });
  await rm(dir, { recursive: true, force: true });
}

/** In place: tern-shim launches, plain `criu dump` and `criu restore` on this host. */
export async function runInPlace(p: Prepared, t: CompatTest): Promise<RunResult> {
  const started = Date.now();
  const no = cannotRun(p, t);
  if (no) return no;
  const argv = p.argv.get(t.name) as string[];
  await cleanHook(p, t);
  const dir = join(WORK_DIR, 'in-place', t.name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'img'), { recursive: true });
  const rootfs = join(dir, 'rootfs');
  await testRootfs(p, t.name, rootfs);
  const shim = defaultShimPath();
  let initPid = 0;
  const fail = (error: string): RunResult => ({ verdict: 'fail', error, ms: Date.now() - started });
  try {
    const launched = await launchContainer(
      shim,
      {
        rootfs,
        hostname: 'zdtm',
        console: '/zdtm/console.log',
        env: ['PATH=/bin:/sbin:/usr/bin:/usr/sbin', 'HOME=/root'],
        capAdd: ZDTM_CAPS,
        noSeccomp: UNFILTERED.has(t.name),
        command: ['/zdtm/init', IN_CT_DIR, ...argv],
      },
      async (pid) => {
        await sh(['nsenter', '-t', String(pid), '-n', 'ip', 'link', 'set', 'lo', 'up']);
      },
    );
    initPid = launched.pid;
    const notStarted = await awaitStart(inCt(rootfs), t.name);
    if (notStarted) return fail(notStarted);

    const opts = [...COMMON_OPTS, ...(p.opts.get(t.name) ?? [])];
    const dump = await sh(
      [
        CRIU,
        'dump',
        '-t',
        String(initPid),
        '-D',
        join(dir, 'img'),
        '-o',
        join(dir, 'dump.log'),
        '-v4',
        ...opts,
      ],
      { timeoutMs: 120_000 },
    );
    if (dump.code !== 0) {
      const log = (await readText(join(dir, 'dump.log'))) ?? dump.stderr;
      return fail(`criu dump: ${firstError(log) ?? `exit ${dump.code}`}`);
    }
    initPid = 0; // dumped: the tree is gone
    const restored = await restoreUnderShim(
      shim,
      [
        CRIU,
        'restore',
        '-D',
        join(dir, 'img'),
        '-o',
        join(dir, 'restore.log'),
        '-v4',
        '--root',
        rootfs,
        '-d',
        '--pidfile',
        join(dir, 'restore.pid'),
        ...opts,
      ],
      { pidfile: join(dir, 'restore.pid'), log: join(dir, 'restore.out'), timeoutMs: 120_000 },
    );
    if (restored.failure) {
      const log = (await readText(join(dir, 'restore.log'))) ?? restored.failure;
      return fail(`criu restore: ${firstError(log) ?? restored.failure}`);
    }
    initPid = restored.pid;
    const pid = await testPid(rootfs, t.name);
    await sh(['nsenter', '-t', String(initPid), '-p', '-m', '--', '/bin/kill', '-TERM', pid]);
    return await verdictIn(inCt(rootfs), t.name, started);
  } finally {
    // Killing the init ends its pid namespace; its shim then exits.
    if (initPid) {
      try {
        process.kill(initPid, 'SIGKILL');
      } catch {}
      await sleep(100);
    }
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    await cleanHook(p, t);
  }
}

/** The container tern runs a test in. */
export const containerName = (t: CompatTest) => `zc-${t.name}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 63);

/** Migrated: `tern run` on `from`, `migrate` to `to`, verdict read on `to`. */
export async function runMigrated(
  p: Prepared,
  t: CompatTest,
  from: string,
  to: string,
  mode = 'stop-and-copy',
): Promise<RunResult> {
  const started = Date.now();
  const no = cannotRun(p, t);
  if (no) return no;
  const argv = p.argv.get(t.name) as string[];
  const name = containerName(t);
  const rootfsOn = (host: string) => join(hostDir(host), 'containers', name, 'rootfs');
  const fail = (error: string): RunResult => ({ verdict: 'fail', error, ms: Date.now() - started });
  await tern('stop', name); // a leftover of an interrupted run
  const source = join(WORK_DIR, `rootfs-${t.name}`);
  try {
    await testRootfs(p, t.name, source);
    const run = await tern(
      'run',
      '--host',
      from,
      '--name',
      name,
      '--rootfs',
      source,
      '--hostname',
      'zdtm',
      ...ZDTM_CAPS.flatMap((c) => ['--cap-add', c]),
      ...(UNFILTERED.has(t.name) ? ['--no-seccomp'] : []),
      '--',
      '/zdtm/init',
      IN_CT_DIR,
      ...argv,
    );
    if (run.code !== 0) return fail(`tern run: ${run.stderr.trim().split('\n')[0]}`);
    const notStarted = await awaitStart(inCt(rootfsOn(from)), t.name);
    if (notStarted) return fail(notStarted);
    const pid = await testPid(rootfsOn(from), t.name);
    const m = await migrate('--from', from, '--to', to, '--mode', mode, name);
    if (m.code !== 0) {
      const line =
        m.stderr
          .trim()
          .split('\n')
          .find((l) => l.trim()) ?? `exit ${m.code}`;
      return fail(`migrate: ${line.replace(/^migrate: (error: )?/, '')}`);
    }
    const kill = await tern('exec', name, '--', '/bin/kill', '-TERM', pid);
    if (kill.code !== 0) return fail(`could not signal the test: ${kill.stderr.trim()}`);
    return await verdictIn(inCt(rootfsOn(to)), t.name, started);
  } finally {
    await tern('stop', name);
    await rm(source, { recursive: true, force: true });
    await cleanHook(p, t);
  }
}
