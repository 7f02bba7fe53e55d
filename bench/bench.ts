// npm run bench: how long a container stops when tern moves it, beside the
// same container moved by the plain pipeline a user could script by hand
// (criu dump -> tar | lz4 -> TCP -> criu restore) and beside CRIU's own dump +
// restore in place, all measured in one run on the local testbed (DESIGN.md,
// "How performance is measured"). Absolute times on a shared 2-core machine
// are noise; the ratios are the result.
//
// Per case (memory size x content) and per run:
//   tern      a fresh container (heartbeat + memhog) started with `tern run` on
//             hostA, moved to hostB with the coordinator, then stopped. Downtime
//             is the largest heartbeat gap; bytes and phase times come from the
//             migration record; peak RSS (VmHWM, reset first) from the daemons.
//   plain     the same workload in the same kind of container (tern-shim, own
//             namespaces, rootfs copy, veth on br0), started by the benchmark on
//             hostA outside tern's records, moved to hostB by hand with CRIU,
//             tar and lz4 over one TCP stream on the underlay (bash's /dev/tcp
//             into a few-line node listener: Debian 12's busybox nc quits
//             before the stream ends), restored under tern-shim.
//   in place  the plain container, now on hostB: criu dump + criu restore there.
// Once: raw TCP throughput hostA -> hostB over the underlay (node to node),
// compared with tern's chunk stream as it runs inside each migration.
//
// Environment: BENCH_RUNS (5 per case), BENCH_RUNS_LARGE (3 per case of 1 GiB
// or more), BENCH_SIZES (64,256,1024 MiB), BENCH_VARIANTS (random,half),
// BENCH_TCP_MIB (512), BENCH_WARMUP (1), BENCH_OUT (bench/results/latest.json),
// BENCH_DIR (/var/lib/tern/bench).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, freemem, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CONSOLE } from '../agent/containers.js';
import { randomMac } from '../agent/policy.js';
import { connect, follow } from '../bin/cli.js';
import {
  CRIU,
  down,
  hostDir,
  inHost,
  ownsTestbed,
  type Result,
  ROOT,
  sh,
  TESTBED_DIR,
  tern,
  up,
  workloadRootfs,
} from '../deploy/testbed/driver.js';
import { alive, startTime, waitGone } from '../kernel/proc.js';
import { defaultShimPath, launchContainer, restoreUnderShim } from '../kernel/shim.js';
import type { Migration__Output } from '../proto/index.js';
import { unary } from '../proto/rpc.js';

function intEnv(name: string, dflt: number): number {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isInteger(v) || v < 0)
    throw new Error(`${name} must be a whole number (got ${process.env[name]})`);
  return v;
}
const RUNS = intEnv('BENCH_RUNS', 5);
/** Cases of 1 GiB and more take ~40 s a run here: fewer of them keep the whole run under 15 minutes. */
const RUNS_LARGE = intEnv('BENCH_RUNS_LARGE', 3);
const runsFor = (mib: number) => (mib >= 1024 ? RUNS_LARGE : RUNS);
const SIZES = (process.env.BENCH_SIZES ?? '64,256,1024').split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_SIZES: bad size ${JSON.stringify(s)} (MiB)`);
  return n;
});
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'random,half').split(',').map((s) => {
  const v = s.trim();
  if (v !== 'random' && v !== 'half')
    throw new Error(`BENCH_VARIANTS: ${JSON.stringify(s)} is not random or half`);
  return v;
});
const TCP_MIB = intEnv('BENCH_TCP_MIB', 512);
const WARMUP = process.env.BENCH_WARMUP !== '0';
const OUT = process.env.BENCH_OUT || join(ROOT, 'bench', 'results', 'latest.json');
const WORK_BASE = process.env.BENCH_DIR || '/var/lib/tern/bench';
const SHIM = defaultShimPath();
const FROM = 'hostA';
const TO = 'hostB';
const MIB = 1024 * 1024;

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

// ------------------------------------------------------------ cleanup

/**
 * Everything the benchmark creates registers how to undo it here. Normal flow
 * undoes each thing as soon as it is done with it; on failure or Ctrl-C
 * whatever is left is undone newest first.
 */
const pending = new Map<number, { what: string; fn: () => Promise<void> }>();
let nextCleanup = 0;
function onCleanup(what: string, fn: () => Promise<void>): () => Promise<void> {
  const id = nextCleanup++;
  pending.set(id, { what, fn });
  return async () => {
    if (pending.delete(id)) await fn();
  };
}
async function cleanupAll(): Promise<void> {
  while (pending.size > 0) {
    const id = Math.max(...pending.keys());
    const t = pending.get(id);
    pending.delete(id);
    if (!t) continue;
    try {
      await t.fn();
    } catch (e) {
      log(`warning: cleaning up ${t.what} failed: ${(e as Error).message}`);
    }
  }
}

class Interrupted extends Error {}
/** Set by Ctrl-C: the current step ends (a running migration is cancelled), then everything is cleaned up. */
let stopping = false;
function checkStop(): void {
  if (stopping) throw new Interrupted('interrupted');
}
/** The tern migration in flight, cancelled on Ctrl-C. */
let activeMigration: string | undefined;

// ------------------------------------------------------------ small helpers

async function must(r: Promise<Result>, what: string): Promise<string> {
  const res = await r;
  if (res.code !== 0) throw new Error(`${what} failed (${res.code}): ${(res.stderr || res.stdout).trim()}`);
  return res.stdout;
}

/** Runs argv and returns how long it took; throws unless it exits 0. */
async function timed(argv: string[], what: string): Promise<number> {
  const t0 = performance.now();
  await must(sh(argv), what);
  return performance.now() - t0;
}

const hex = (n: number) => randomBytes(n).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process started in the background (its own process group), killed on cleanup. */
interface Background {
  pid: number;
  done: Promise<Result>;
  stop: () => Promise<void>;
}
function background(argv: string[], what: string, env?: NodeJS.ProcessEnv): Background {
  const child = spawn(argv[0], argv.slice(1), {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  let exited = false;
  const done = new Promise<Result>((resolve) => {
    child.on('error', (e) => {
      exited = true;
      resolve({ code: -1, stdout, stderr: `${stderr}${e.message}` });
    });
    child.on('close', (code) => {
      exited = true;
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
  const stop = onCleanup(what, async () => {
    if (exited) return;
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
    await done;
  });
  return { pid: child.pid as number, done, stop };
}

/** Waits until something listens on TCP port in the host's netns. */
async function waitListening(host: string, port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await inHost(host, ['ss', '-Hltn', `sport = :${port}`]);
    if (r.code === 0 && r.stdout.trim()) return;
    await sleep(25);
  }
  throw new Error(`nothing listens on port ${port} in ${host}`);
}

const freePort = () => 20000 + Math.floor(Math.random() * 20000);

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir)) {
    const s = await stat(join(dir, f));
    if (s.isFile()) n += s.size;
  }
  return n;
}

/** KEY=VALUE lines of the testbed's env file. */
async function testbedEnv(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await readFile(join(TESTBED_DIR, 'testbed.env'), 'utf8')).split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
  }
  return out;
}

// ------------------------------------------------------------ heartbeat

interface Beat {
  seq: number;
  /** Wall-clock time of the beat, µs. */
  atUs: number;
  /** Largest gap between two beats since the heartbeat started, µs. */
  maxGapUs: number;
}

async function readBeat(file: string): Promise<Beat> {
  for (let i = 0; ; i++) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const m = /^(\d+) (\d+) (\d+)\n/.exec(text);
    if (m) return { seq: Number(m[1]), atUs: Number(m[2]), maxGapUs: Number(m[3]) };
    if (i > 200) throw new Error(`no heartbeat in ${file}`);
    await sleep(5);
  }
}

/** The first beat written after wall-clock time `afterMs`: the tree runs again. */
async function beatAfter(file: string, afterMs: number): Promise<Beat> {
  const until = Date.now() + 20_000;
  for (;;) {
    const b = await readBeat(file);
    if (b.atUs > afterMs * 1000) return b;
    if (Date.now() > until) throw new Error(`heartbeat in ${file} did not resume`);
    await sleep(5);
  }
}

/**
 * The downtime the workload saw: the largest heartbeat gap, provided the move
 * made it (it grew past the largest gap seen before the move).
 */
function gapMs(before: Beat, after: Beat, what: string): number | undefined {
  if (after.maxGapUs > before.maxGapUs) return after.maxGapUs / 1000;
  log(
    `warning: ${what}: the move left no heartbeat gap above the ${before.maxGapUs / 1000} ms seen before it`,
  );
  return undefined;
}

/** Waits until the memhog has filled its memory (it writes /tmp/mem then). */
async function waitReady(rootfs: string, what: string): Promise<void> {
  const until = Date.now() + 120_000;
  while (!existsSync(join(rootfs, 'tmp', 'mem'))) {
    if (Date.now() > until) throw new Error(`${what} never got ready`);
    await sleep(50);
  }
}

/**
 * An address for a benchmark container, given explicitly from the top of the
 * LAN, which the coordinator never hands out by itself (it picks .10-.200):
 * containers others start meanwhile cannot be given the same one.
 */
let lanSlot = 0;
const benchAddress = () => `10.78.0.${201 + (lanSlot++ % 39)}/24`;

function workloadScript(mib: number, kind: string, seed: number): string {
  return `/bin/workload heartbeat /tmp/hb & /bin/workload memhog ${mib} ${seed} ${kind} /tmp/mem & wait`;
}

// ------------------------------------------------------------ daemons' peak RSS

interface Daemon {
  name: string;
  pid: number;
  /** /proc start time: tells a restarted daemon (the testbed is shared) from the one measured. */
  start: string;
}

/** The coordinator and both agents as they run now; one that is not running is left out. */
async function daemons(): Promise<Daemon[]> {
  const out: Daemon[] = [];
  for (const name of ['coordinator', FROM, TO]) {
    const pid = Number(
      (await readFile(join(TESTBED_DIR, 'pids', `${name}.pid`), 'utf8').catch(() => '')).trim(),
    );
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const start = await startTime(pid);
    if (cmd.includes(name === 'coordinator' ? 'tern-coordinator.js' : 'tern-agent.js') && start)
      out.push({ name, pid, start });
  }
  return out;
}

/** Resets each daemon's VmHWM to its current RSS (clear_refs 5); returns those reset. */
async function resetPeaks(ds: Daemon[]): Promise<Daemon[]> {
  const reset: Daemon[] = [];
  for (const d of ds) {
    try {
      await writeFile(`/proc/${d.pid}/clear_refs`, '5');
      reset.push(d);
    } catch {
      // restarted or gone meanwhile: no figure for it this time
    }
  }
  return reset;
}

/** VmHWM in MiB of each daemon that is still the same process. */
async function peaks(ds: Daemon[]): Promise<Record<string, number | undefined>> {
  const out: Record<string, number | undefined> = {};
  for (const d of ds) {
    const status = await readFile(`/proc/${d.pid}/status`, 'utf8').catch(() => '');
    const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
    if (m && (await startTime(d.pid)) === d.start) out[d.name] = Number(m[1]) / 1024;
  }
  return out;
}

// ------------------------------------------------------------ tern

interface TernRun {
  name: string;
  migration: string;
  /** Largest heartbeat gap (ms). */
  downtimeMs?: number;
  /** The coordinator's own figure: from the dump call to the resume answer. */
  coordinatorDowntimeMs: number;
  totalMs: number;
  /** Time spent in each phase, from the migration's history. */
  phases: Record<string, number>;
  imageBytes: number;
  rootfsBytes: number;
  rawBytes: number;
  wireBytes: number;
  /** Raw bytes of the chunk stream per second of the transfer phase. */
  chunkMiBps: number;
  peakRssMiB: Record<string, number | undefined>;
}

const client = connect();
/** Every container this run asked tern to start, to check none is left behind. */
const ternNames = new Set<string>();

interface TernState {
  /** `tern run` was sent and may not have finished: the container can still appear. */
  creating: boolean;
  migration?: string;
}

async function stopTern(name: string, st: TernState): Promise<void> {
  if (st.migration) {
    // Cut short mid-move: abort it if it is still before the commit point, then let it end.
    await unary(client, client.CancelMigration, { id: st.migration }, { timeoutMs: 10_000 }).catch(() => {});
    await follow(client, st.migration, () => {}).catch(() => {});
  }
  const began = Date.now();
  for (;;) {
    const r = await tern('stop', name);
    if (r.code === 0) return;
    const gone = /no container named/.test(r.stderr);
    if (gone && !(st.creating && Date.now() - began < 15_000)) return;
    if (Date.now() - began > 120_000) throw new Error(`tern stop ${name}: ${r.stderr.trim()}`);
    await sleep(1000);
  }
}

function phaseTimes(m: Migration__Output): Record<string, number> {
  const out: Record<string, number> = {};
  const h = m.history;
  for (let i = 0; i + 1 < h.length; i++) out[h[i].phase] = Number(h[i + 1].at_ms) - Number(h[i].at_ms);
  return out;
}

async function ternRun(mib: number, kind: string, label: string, rootfs: string): Promise<TernRun> {
  const name = `bench-${label}-${hex(2)}`;
  const st: TernState = { creating: true };
  ternNames.add(name);
  const done = onCleanup(`container ${name}`, () => stopTern(name, st));
  try {
    const r = await tern(
      'run',
      '--host',
      FROM,
      '--name',
      name,
      '--ip',
      benchAddress(),
      '--rootfs',
      rootfs,
      '--',
      '/bin/sh',
      '-c',
      workloadScript(mib, kind, 7),
    );
    if (r.code !== 0) throw new Error(`tern run ${name} failed: ${r.stderr.trim()}`);
    st.creating = false;
    await waitReady(join(hostDir(FROM), 'containers', name, 'rootfs'), name);
    await settle();
    checkStop();
    const before = await readBeat(join(hostDir(FROM), 'containers', name, 'rootfs', 'tmp', 'hb'));
    const measured = await resetPeaks(await daemons());
    const m = await unary(
      client,
      client.StartMigration,
      { container: name, from: FROM, to: TO },
      { timeoutMs: 60_000, what: 'migrate' },
    );
    st.migration = m.id;
    activeMigration = m.id;
    const end = await follow(client, m.id, () => {});
    activeMigration = undefined;
    if (end.phase !== 'done')
      throw new Error(`migration ${m.id} of ${name} ended ${end.phase}: ${end.error}`);
    st.migration = undefined;
    const peakRssMiB = await peaks(measured);
    const after = await beatAfter(
      join(hostDir(TO), 'containers', name, 'rootfs', 'tmp', 'hb'),
      Number(end.finished_ms),
    );
    const detail = end.history.find((h) => h.phase === 'transferring')?.detail ?? '';
    const d = /(\d+) image files, (\d+) bytes, rootfs (\d+) bytes/.exec(detail);
    const transferMs = Number(end.transfer_ms);
    return {
      name,
      migration: end.id,
      downtimeMs: gapMs(before, after, name),
      coordinatorDowntimeMs: Number(end.downtime_ms),
      totalMs: Number(end.finished_ms) - Number(end.started_ms),
      phases: phaseTimes(end),
      imageBytes: d ? Number(d[2]) : 0,
      rootfsBytes: d ? Number(d[3]) : 0,
      rawBytes: Number(end.raw_bytes),
      wireBytes: Number(end.wire_bytes),
      chunkMiBps: transferMs > 0 ? Number(end.raw_bytes) / MIB / (transferMs / 1000) : 0,
      peakRssMiB,
    };
  } finally {
    activeMigration = undefined;
    await done();
  }
}

/** Lets writeback from the previous step finish outside the measured window. */
async function settle(): Promise<void> {
  await sh(['sync']);
  await sleep(300);
}

// ------------------------------------------------------------ plain CRIU

interface PlainRun {
  /** Largest heartbeat gap (ms). */
  downtimeMs?: number;
  /** From `criu dump` starting to `criu restore -d` returning with the tree running. */
  pipelineMs: number;
  dumpMs: number;
  /** tar | lz4 -> TCP -> lz4 -d | tar, until the receiver has unpacked everything. */
  copyMs: number;
  restoreMs: number;
  imageBytes: number;
}

interface InPlaceRun {
  dumpMs: number;
  restoreMs: number;
  totalMs: number;
}

/**
 * A container of the same kind tern runs (kernel/shim.ts launch: own pid, mount,
 * net, uts and ipc namespaces, pivot_root into a rootfs copy, console at
 * /tern/console.log, one veth on the host's br0), but started by the benchmark
 * and unknown to tern, so CRIU can move it by hand without touching tern's
 * records. Its address comes from the top of the LAN that the coordinator
 * never hands out (it allocates .10-.200).
 */
class PlainContainer {
  /** Host pid of the tree's init and its /proc start time; change with every restore. */
  pid = 0;
  start = '';
  host = FROM;
  veth = '';
  private readonly shims: { pid: number; start: string }[] = [];
  private readonly veths: { host: string; name: string }[] = [];
  readonly stop: () => Promise<void>;

  constructor(
    readonly id: string,
    readonly dir: string,
    private readonly shimWrappers: Record<string, string>,
  ) {
    this.stop = onCleanup(`plain container ${id}`, () => this.kill());
  }

  rootfs(host: string): string {
    return join(this.dir, host, 'rootfs');
  }

  private async track(pid: number, shimPid: number): Promise<void> {
    this.pid = pid;
    this.start = (await startTime(pid)) ?? '';
    this.shims.push({ pid: shimPid, start: (await startTime(shimPid)) ?? '' });
  }

  private newVeth(host: string): string {
    const name = `bnch${hex(4)}`;
    this.veths.push({ host, name });
    return name;
  }

  async launch(script: string, ip: string): Promise<void> {
    const rootfs = this.rootfs(FROM);
    await mkdir(rootfs, { recursive: true });
    await must(sh(['cp', '-a', `${workloadDir}/.`, `${rootfs}/`]), 'copying the rootfs');
    const veth = this.newVeth(FROM);
    const mac = randomMac();
    const launched = await launchContainer(
      this.shimWrappers[FROM],
      {
        rootfs,
        hostname: this.id,
        console: CONSOLE,
        env: [],
        command: ['/bin/sh', '-c', script],
        exitFile: join(this.dir, FROM, 'exit'),
      },
      async (pid) => {
        await must(
          inHost(FROM, [
            'ip',
            'link',
            'add',
            veth,
            'type',
            'veth',
            'peer',
            'name',
            'eth0',
            'netns',
            String(pid),
          ]),
          'ip link add',
        );
        await must(inHost(FROM, ['ip', 'link', 'set', veth, 'master', 'br0', 'up']), 'ip link set master');
        const inNs = (args: string[]) =>
          must(sh(['nsenter', '-t', String(pid), '-n', ...args]), args.join(' '));
        await inNs(['ip', 'link', 'set', 'lo', 'up']);
        await inNs(['ip', 'link', 'set', 'eth0', 'address', mac]);
        await inNs(['ip', 'addr', 'add', ip, 'dev', 'eth0']);
        await inNs(['ip', 'link', 'set', 'eth0', 'up']);
      },
    );
    await this.track(launched.pid, launched.shimPid);
    this.veth = veth;
    await waitReady(rootfs, this.id);
  }

  /** criu dump as DESIGN.md shows it; the tree is killed once dumped. */
  async dump(images: string, logs: string): Promise<number> {
    await mkdir(images, { recursive: true });
    await mkdir(logs, { recursive: true });
    return timed(
      [
        'ip',
        'netns',
        'exec',
        `tern-${this.host}`,
        CRIU,
        'dump',
        '-t',
        String(this.pid),
        '-D',
        images,
        '-o',
        join(logs, `dump-${hex(2)}.log`),
        '--tcp-established',
        '--network-lock',
        'nftables',
        '--external',
        `veth[${this.veth}]`,
      ],
      `criu dump of ${this.id} on ${this.host}`,
    );
  }

  /** criu restore -d under tern-shim (the reaper of the restored tree), running at once. */
  async restore(host: string, images: string, logs: string): Promise<number> {
    await mkdir(logs, { recursive: true });
    const veth = this.newVeth(host);
    const tag = hex(2);
    const pidfile = join(logs, `restore-${tag}.pid`);
    const rlog = join(logs, `restore-${tag}.log`);
    const t0 = performance.now();
    const r = await restoreUnderShim(
      this.shimWrappers[host],
      [
        CRIU,
        'restore',
        '-D',
        images,
        '-o',
        rlog,
        '--tcp-established',
        '--network-lock',
        'nftables',
        '--root',
        this.rootfs(host),
        '--external',
        `veth[eth0]:${veth}@br0`,
        '-d',
        '--pidfile',
        pidfile,
      ],
      {
        pidfile,
        log: join(logs, `restore-${tag}.out`),
        exitFile: join(this.dir, host, 'exit'),
        timeoutMs: 300_000,
      },
    );
    const ms = performance.now() - t0;
    if (r.failure) {
      const tail = (await readFile(rlog, 'utf8').catch(() => ''))
        .split('\n')
        .filter((l) => /Error/.test(l) && !/RLIMIT_NOFILE|Address already assigned/.test(l))
        .slice(-3)
        .join(' / ');
      throw new Error(`criu restore of ${this.id} on ${host} failed: ${r.failure}${tail ? `: ${tail}` : ''}`);
    }
    await this.track(r.pid, r.shimPid);
    this.host = host;
    this.veth = veth;
    return ms;
  }

  private async kill(): Promise<void> {
    if (this.pid && (await alive(this.pid)) && (await startTime(this.pid)) === this.start) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      if (!(await waitGone(this.pid, 10_000))) throw new Error(`container init ${this.pid} did not die`);
    }
    // Each shim exits once its init is reaped; one that has not is ours to end.
    for (const s of this.shims) {
      if (!(await waitGone(s.pid, 3000)) && (await startTime(s.pid)) === s.start)
        process.kill(s.pid, 'SIGKILL');
    }
    for (const v of this.veths) await inHost(v.host, ['ip', 'link', 'del', v.name]);
    await rm(this.dir, { recursive: true, force: true });
  }
}

let workloadDir = '';

async function plainRun(
  mib: number,
  kind: string,
  label: string,
  work: string,
  wrappers: Record<string, string>,
  toAddress: string,
): Promise<{ plain: PlainRun; inPlace: InPlaceRun }> {
  const id = `bench-plain-${label}-${hex(2)}`;
  const dir = join(work, id);
  const c = new PlainContainer(id, dir, wrappers);
  try {
    await c.launch(workloadScript(mib, kind, 7), benchAddress());
    await settle();
    checkStop();

    // The receiver is up before the freeze, as a script would have it.
    const port = freePort();
    await mkdir(join(dir, TO), { recursive: true });
    const rx = background(
      [
        'ip',
        'netns',
        'exec',
        `tern-${TO}`,
        'sh',
        '-c',
        `"$BENCH_NODE" -e "$BENCH_LISTENER" | lz4 -d -c | tar -C ${dir}/${TO} -xpf -`,
      ],
      `receiver for ${id}`,
      {
        BENCH_NODE: process.execPath,
        BENCH_LISTENER: LISTENER,
        BENCH_PORT: String(port),
        BENCH_ADDR: toAddress,
      },
    );
    await waitListening(TO, port);

    const before = await readBeat(join(c.rootfs(FROM), 'tmp', 'hb'));
    const t0 = performance.now();
    const dumpMs = await c.dump(join(dir, FROM, 'images'), join(dir, FROM, 'logs'));
    const t1 = performance.now();
    await must(
      inHost(FROM, [
        'bash',
        '-c',
        `tar --numeric-owner -C ${dir}/${FROM} -cf - images rootfs | lz4 -1 -c > /dev/tcp/${toAddress}/${port}`,
      ]),
      'sending the images',
    );
    const got = await rx.done;
    if (got.code !== 0) throw new Error(`receiving the images failed (${got.code}): ${got.stderr.trim()}`);
    await rx.stop();
    const copyMs = performance.now() - t1;
    const restoreMs = await c.restore(TO, join(dir, TO, 'images'), join(dir, TO, 'logs'));
    const pipelineMs = performance.now() - t0;
    const wallDone = Date.now();
    const after = await beatAfter(join(c.rootfs(TO), 'tmp', 'hb'), wallDone);
    const plain: PlainRun = {
      downtimeMs: gapMs(before, after, id),
      pipelineMs,
      dumpMs,
      copyMs,
      restoreMs,
      imageBytes: await dirBytes(join(dir, TO, 'images')),
    };

    // In place: CRIU's own dump + restore of the same container on hostB.
    await settle();
    checkStop();
    const ipDump = await c.dump(join(dir, TO, 'images-in-place'), join(dir, TO, 'logs'));
    const ipRestore = await c.restore(TO, join(dir, TO, 'images-in-place'), join(dir, TO, 'logs'));
    await beatAfter(join(c.rootfs(TO), 'tmp', 'hb'), Date.now());
    return { plain, inPlace: { dumpMs: ipDump, restoreMs: ipRestore, totalMs: ipDump + ipRestore } };
  } finally {
    await c.stop();
  }
}

// ------------------------------------------------------------ raw TCP

const RECEIVER = `
const s = require('net').createServer((c) => {
  let n = 0, t0 = 0;
  c.on('data', (b) => { if (!t0) t0 = performance.now(); n += b.length; });
  c.on('end', () => { console.log(JSON.stringify({ bytes: n, ms: performance.now() - t0 })); s.close(); });
});
s.listen(Number(process.env.BENCH_PORT), process.env.BENCH_ADDR);`;

/** Allocates and fills BENCH_GIB GiB, then exits, giving the memory back. */
const TOUCH = `
const keep = [];
for (let i = 0; i < Number(process.env.BENCH_GIB) * 4; i++) keep.push(Buffer.alloc(256 << 20, 1));`;

/** The plain pipeline's receiving end: one connection's bytes to stdout. */
const LISTENER = `
const s = require('net').createServer((c) => { c.pipe(process.stdout); c.on('end', () => s.close()); });
s.listen(Number(process.env.BENCH_PORT), process.env.BENCH_ADDR);`;

const SENDER = `
const c = require('net').connect(Number(process.env.BENCH_PORT), process.env.BENCH_ADDR, async () => {
  const buf = Buffer.alloc(1 << 20, 0x5a);
  for (let i = 0; i < Number(process.env.BENCH_MIB); i++)
    if (!c.write(buf)) await new Promise((r) => c.once('drain', r));
  c.end();
});`;

/** MiB/s of one node TCP stream hostA -> hostB (receiver times first byte to end). */
async function tcpNode(toAddress: string, mib: number): Promise<number> {
  const port = freePort();
  const env = { BENCH_PORT: String(port), BENCH_ADDR: toAddress, BENCH_MIB: String(mib) };
  const rx = background(
    ['ip', 'netns', 'exec', `tern-${TO}`, process.execPath, '-e', RECEIVER],
    'tcp receiver',
    env,
  );
  try {
    await waitListening(TO, port);
    await must(
      sh(['ip', 'netns', 'exec', `tern-${FROM}`, process.execPath, '-e', SENDER], { env }),
      'tcp sender',
    );
    const r = await rx.done;
    const { bytes, ms } = JSON.parse(r.stdout) as { bytes: number; ms: number };
    if (bytes !== mib * MIB) throw new Error(`tcp receiver got ${bytes} bytes, not ${mib * MIB}`);
    return bytes / MIB / (ms / 1000);
  } finally {
    await rx.stop();
  }
}

// ------------------------------------------------------------ statistics and the table

interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

function spread(values: (number | undefined)[]): Spread | undefined {
  const v = values
    .filter((x): x is number => typeof x === 'number' && Number.isFinite(x))
    .sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

function cell(s: Spread | undefined, digits: number): string {
  if (!s) return '-';
  const f = (x: number) => x.toFixed(digits);
  return s.n === 1 ? f(s.median) : `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
}

interface CaseResult {
  mib: number;
  kind: string;
  runs: { tern: TernRun; plain: PlainRun; inPlace: InPlaceRun }[];
  failures: string[];
}

const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? a / b : undefined);

/** Rows of the table: label, digits, value of one run. */
function rows(
  tcp: number | undefined,
): [string, number, (r: CaseResult['runs'][number]) => number | undefined][] {
  return [
    ['tern downtime, heartbeat (ms)', 0, (r) => r.tern.downtimeMs],
    ['tern downtime, coordinator (ms)', 0, (r) => r.tern.coordinatorDowntimeMs],
    ['tern total migration (s)', 2, (r) => r.tern.totalMs / 1000],
    ['  preflight (ms)', 0, (r) => r.tern.phases.preflight],
    ['  dumping (ms)', 0, (r) => r.tern.phases.dumping],
    ['  transferring (ms)', 0, (r) => r.tern.phases.transferring],
    ['  restoring (ms)', 0, (r) => r.tern.phases.restoring],
    ['  commit + resume (ms)', 0, (r) => (r.tern.phases.committing ?? 0) + (r.tern.phases.committed ?? 0)],
    ['tern image (MiB)', 1, (r) => r.tern.imageBytes / MIB],
    ['tern wire (MiB)', 1, (r) => r.tern.wireBytes / MIB],
    ['peak RSS coordinator (MiB)', 0, (r) => r.tern.peakRssMiB.coordinator],
    [`peak RSS agent ${FROM} (MiB)`, 0, (r) => r.tern.peakRssMiB[FROM]],
    [`peak RSS agent ${TO} (MiB)`, 0, (r) => r.tern.peakRssMiB[TO]],
    ['plain downtime, heartbeat (ms)', 0, (r) => r.plain.downtimeMs],
    ['plain pipeline, dump->running (ms)', 0, (r) => r.plain.pipelineMs],
    ['  criu dump (ms)', 0, (r) => r.plain.dumpMs],
    ['  tar|lz4 -> TCP -> untar (ms)', 0, (r) => r.plain.copyMs],
    ['  criu restore (ms)', 0, (r) => r.plain.restoreMs],
    ['in place dump + restore (ms)', 0, (r) => r.inPlace.totalMs],
    ['  criu dump (ms)', 0, (r) => r.inPlace.dumpMs],
    ['  criu restore (ms)', 0, (r) => r.inPlace.restoreMs],
    ['RATIO tern / plain downtime', 2, (r) => ratio(r.tern.downtimeMs, r.plain.downtimeMs)],
    ['RATIO tern / in-place dump+restore', 2, (r) => ratio(r.tern.downtimeMs, r.inPlace.totalMs)],
    ['chunk stream (MiB/s raw)', 0, (r) => r.tern.chunkMiBps],
    ['RATIO chunk stream / raw TCP', 2, (r) => ratio(r.tern.chunkMiBps, tcp)],
  ];
}

function table(cases: CaseResult[], tcp: number | undefined): string {
  const header = ['', ...cases.map((c) => `${c.mib} MiB ${c.kind}, ${c.runs.length} runs`)];
  const body = rows(tcp).map(([label, digits, f]) => [
    label,
    ...cases.map((c) => cell(spread(c.runs.map(f)), digits)),
  ]);
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '))
    .join('\n');
}

function summarize(c: CaseResult, tcp: number | undefined) {
  const out: Record<string, Spread | undefined> = {};
  for (const [label, , f] of rows(tcp)) out[label.trim()] = spread(c.runs.map(f));
  return out;
}

// ------------------------------------------------------------ main

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the benchmark drives CRIU and the test hosts');
  if (!existsSync(CRIU)) throw new Error(`CRIU not found at ${CRIU}: run make install`);
  if (!existsSync(SHIM)) throw new Error(`tern-shim not found at ${SHIM}: run npm run build`);
  for (const tool of ['lz4', 'bash', 'tar', 'ss']) {
    if ((await sh(['sh', '-c', `command -v ${tool}`])).code !== 0)
      throw new Error(`${tool} is missing: run make install`);
  }
  const began = Date.now();

  // A testbed that is already up is shared: use it, never take it down.
  const shared = existsSync(join(TESTBED_DIR, 'testbed.env'));
  if (shared) log(`using the testbed that is up in ${TESTBED_DIR}`);
  else {
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
  }
  const env = await testbedEnv();
  const toAddress = env[`TESTBED_UNDERLAY_${TO}`];
  if (!toAddress) throw new Error(`testbed has no ${TO}`);

  await mkdir(WORK_BASE, { recursive: true });
  const work = await mkdtemp(join(WORK_BASE, 'run-'));
  onCleanup(`work dir ${work}`, () => rm(work, { recursive: true, force: true }));
  const rootfs = await workloadRootfs();
  onCleanup('workload rootfs', rootfs.cleanup);
  workloadDir = rootfs.dir;
  // tern-shim run inside a host's netns, as that host's agent runs it.
  const wrappers: Record<string, string> = {};
  for (const h of [FROM, TO]) {
    wrappers[h] = join(work, `tern-shim-${h}`);
    await writeFile(wrappers[h], `#!/bin/sh\nexec ip netns exec tern-${h} '${SHIM}' "$@"\n`);
    await chmod(wrappers[h], 0o755);
  }

  if (WARMUP) {
    // Memory this VM has never handed out costs several times more per page on
    // first touch than memory it has used before: touch what the largest case
    // needs once, so the first runs do not pay for it alone.
    const gib = Math.min(Math.ceil((5 * Math.max(...SIZES)) / 1024), Math.floor(freemem() / 2 / 1024 / MIB));
    if (gib > 0) {
      const t0 = performance.now();
      await must(sh([process.execPath, '-e', TOUCH], { env: { BENCH_GIB: String(gib) } }), 'touching memory');
      log(`warming up: touched ${gib} GiB of memory in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    log('warming up (16 MiB: tern, plain, in place, TCP)');
    await ternRun(16, 'random', 'warmup', rootfs.dir);
    await plainRun(16, 'random', 'warmup', work, wrappers, toAddress);
    await tcpNode(toAddress, 64);
  }

  const tcpRuns: number[] = [];
  for (let i = 0; i < Math.max(RUNS, 1); i++) {
    checkStop();
    tcpRuns.push(await tcpNode(toAddress, TCP_MIB));
  }
  const tcpS = spread(tcpRuns);
  log(`raw TCP ${FROM} -> ${TO}: ${cell(tcpS, 0)} MiB/s`);

  const cases: CaseResult[] = [];
  for (const mib of SIZES) {
    for (const kind of VARIANTS) {
      const c: CaseResult = { mib, kind, runs: [], failures: [] };
      cases.push(c);
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
            tr = await ternRun(mib, kind, label, rootfs.dir);
            pr = await plainRun(mib, kind, label, work, wrappers, toAddress);
          } else {
            pr = await plainRun(mib, kind, label, work, wrappers, toAddress);
            tr = await ternRun(mib, kind, label, rootfs.dir);
          }
        } catch (e) {
          if (e instanceof Interrupted || stopping) throw e;
          // One failed run (the testbed is shared) does not void the others; it is reported.
          log(`${mib} MiB ${kind} run ${i + 1}/${runs} failed: ${(e as Error).message}`);
          c.failures.push((e as Error).message);
          continue;
        }
        c.runs.push({ tern: tr, ...pr });
        const f = (x: number | undefined) => (x === undefined ? '?' : x.toFixed(0));
        log(
          `${mib} MiB ${kind} run ${i + 1}/${runs}: tern ${f(tr.downtimeMs)} ms, plain ${f(pr.plain.downtimeMs)} ms, ` +
            `in place ${f(pr.inPlace.totalMs)} ms (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
        );
      }
    }
  }

  const seconds = (Date.now() - began) / 1000;
  const tcp = tcpS?.median;
  process.stdout.write(
    `\ntern benchmark: ${FROM} -> ${TO}, ${RUNS} run(s) per case (${RUNS_LARGE} from 1 GiB), median [min–max]; ` +
      'ratios are per run (tern and plain measured back to back)\n\n',
  );
  process.stdout.write(`${table(cases, tcp)}\n\n`);
  process.stdout.write(
    `raw TCP ${FROM} -> ${TO} over the underlay (one node-to-node stream of ${TCP_MIB} MiB): ${cell(tcpS, 0)} MiB/s\n`,
  );
  // A record tern keeps after `tern stop` (e.g. an exited one on the source host) is a leftover.
  const leftovers = (await tern('ps')).stdout
    .split('\n')
    .filter((l) => ternNames.has(l.split(/\s+/)[0]))
    .map((l) => l.trim().replace(/\s+/g, ' '));
  for (const l of leftovers) process.stdout.write(`leftover in tern: ${l}\n`);
  if (leftovers.length > 0) process.exitCode = 1;
  const failed = cases.reduce((n, c) => n + c.failures.length, 0);
  if (failed > 0) {
    process.stdout.write(`${failed} run(s) failed and are left out (see bench: lines above and the JSON)\n`);
    process.exitCode = 1;
  }
  process.stdout.write(`wall time ${seconds.toFixed(0)} s\n`);

  const criuVersion = (await sh([CRIU, '--version'])).stdout.match(/Version:\s*(\S+)/)?.[1] ?? '';
  await mkdir(dirname(OUT), { recursive: true });
  await writeFile(
    OUT,
    `${JSON.stringify(
      {
        startedAt: new Date(began).toISOString(),
        seconds: Math.round(seconds),
        machine: {
          cpus: cpus().length,
          memMiB: Math.round(totalmem() / MIB),
          kernel: release(),
          criu: criuVersion,
          node: process.version,
          sharedTestbed: shared,
        },
        config: {
          runs: RUNS,
          runsLarge: RUNS_LARGE,
          sizesMiB: SIZES,
          variants: VARIANTS,
          tcpMiB: TCP_MIB,
          warmup: WARMUP,
        },
        rawTcpMiBps: { ...tcpS, runs: tcpRuns },
        leftovers,
        cases: cases.map((c) => ({ ...c, summary: summarize(c, tcp) })),
      },
      null,
      2,
    )}\n`,
  );
  log(`results in ${OUT}`);
}

function onSignal(): void {
  if (stopping) {
    log('second interrupt: cleaning up now');
    void cleanupAll().finally(() => process.exit(130));
    return;
  }
  stopping = true;
  process.exitCode = 130;
  log('interrupted: ending the current step, then cleaning up (Ctrl-C again to clean up at once)');
  if (activeMigration)
    void unary(client, client.CancelMigration, { id: activeMigration }, { timeoutMs: 10_000 }).catch(
      () => {},
    );
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

main()
  .catch((e) => {
    if (!(e instanceof Interrupted) && !stopping) {
      process.stderr.write(`bench: error: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  })
  .finally(async () => {
    await cleanupAll();
    client.close();
  });
