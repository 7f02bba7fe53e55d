// npm run scale: how far one coordinator scales, by simulation. One real
// coordinator process (tern-coordinator, the store named by SCALE_STORE) on
// 127.0.0.1 and SCALE_AGENTS simulated agents, real Agents over a simulated
// engine and host, spread over SCALE_WORKERS processes, every call real gRPC
// over mutual TLS. Agents join in steps (SCALE_STEPS, then SCALE_AGENTS),
// heartbeating at the production interval; at each step the driver keeps
// migrations in flight (SCALE_MIGRATIONS at full size) and measures a window
// (SCALE_STEP_SECONDS, SCALE_SECONDS at full size). Prints one line, a table
// per call kind and per step, and writes bench/results/scale.json.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_DEFAULTS } from '../../agent/config.js';
import type { Phase } from '../../coordinator/phases.js';
import { errorMessage } from '../../core/errors.js';
import { certFiles } from '../../core/pki.js';
import { EtcdMember, etcdMissing, freePort } from '../../deploy/testbed/etcd.js';
import { type CoordinatorClient, coordinatorClient } from '../../proto/index.js';
import { unary } from '../../proto/rpc.js';
import type { AgentSpec, FromWorker, ToWorker } from './messages.js';
import { now } from './messages.js';
import { Mover } from './mover.js';
import { scalePki } from './pki.js';
import {
  answeredWithin,
  type Child,
  cleanupAll,
  clockTicks,
  cpuSeconds,
  machineCpu,
  memoryMiB,
  onCleanup,
  promSamples,
  scrapeText,
  startCoordinator,
  startWorker,
  tail,
} from './procs.js';
import type { SimTiming } from './sim-engine.js';
import {
  byKind,
  jsonSafe,
  kindTable,
  mergeResults,
  percentile,
  type Sample,
  type StepResult,
  stepTable,
  summaryLine,
  transitions,
  within,
} from './stats.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const OPERATOR = 'scale';
/** The container LAN of the simulated hosts: room for one address per container (never used on a network). */
const LAN = '10.80.0.0/16';
/** What a coordinator must hold to at full size: control p99 and peak RSS. */
const FLOOR = { p99Ms: 50, rssMiB: 300 };

const log = (s: string) => process.stderr.write(`[scale] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function intEnv(name: string, dflt: number, min = 0): number {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be a whole number >= ${min}`);
  return v;
}

function readConfig() {
  const agents = intEnv('SCALE_AGENTS', 1000, 2);
  const steps = (process.env.SCALE_STEPS ?? '100,250,500')
    .split(',')
    .filter((s) => s.trim())
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 2 && n < agents);
  // A container of 1 GiB by default: the benchmark (README, Benchmark) moves
  // one here with CRIU's dump taking about 2.2 s and its restore 0.5 s.
  const timing: SimTiming = {
    dumpMs: intEnv('SCALE_DUMP_MS', 2200),
    restoreMs: intEnv('SCALE_RESTORE_MS', 500),
    pageBytes: intEnv('SCALE_PAGES_KIB', 1024) * 1024,
    memoryBytes: intEnv('SCALE_MEMORY_MIB', 1024) * 1024 * 1024,
  };
  return {
    agents,
    migrations: intEnv('SCALE_MIGRATIONS', 50),
    seconds: intEnv('SCALE_SECONDS', 45, 1),
    stepSeconds: intEnv('SCALE_STEP_SECONDS', 10, 1),
    steps: [...new Set([...steps, agents])].sort((a, b) => a - b),
    workers: intEnv('SCALE_WORKERS', 4, 1),
    /** Agents that join per 100 ms (SCALE_JOIN_RATE per second). */
    joinPerTick: Math.max(1, Math.round(intEnv('SCALE_JOIN_RATE', 100, 1) / 10)),
    stores: (process.env.SCALE_STORE ?? 'sqlite').split(',').map((s) => s.trim()),
    heartbeatMs: AGENT_DEFAULTS.heartbeatMs,
    timing,
    out: process.env.SCALE_OUT ?? join(ROOT, 'bench', 'results', 'scale.json'),
    profile: process.env.SCALE_PROFILE === '1',
  };
}
type Config = ReturnType<typeof readConfig>;

/** Host and container names and addresses of agent i (0-based). */
function agentSpec(i: number, total: number): AgentSpec {
  const digits = Math.max(4, String(total).length);
  const n = String(i + 1).padStart(digits, '0');
  const a = i + 10;
  return { host: `sim${n}`, container: `app${n}`, ip: `10.80.${a >> 8}.${a & 255}` };
}

/** Which commit's code runs, and whether tracked files differ from it. */
function codeVersion(): { commit: string; dirty: boolean } {
  try {
    const git = (...a: string[]) =>
      execFileSync('git', ['-C', ROOT, ...a])
        .toString()
        .trim();
    return {
      commit: git('rev-parse', '--short', 'HEAD'),
      dirty: git('status', '--porcelain', '-uno') !== '',
    };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

/**
 * Flags of the coordinator for a store, or why that store cannot run here.
 * etcd: the members in SCALE_ETCD_ENDPOINTS, else one started here on
 * 127.0.0.1 (Debian's etcd, as the tests use it), stopped at the end.
 */
async function storeArgs(store: string): Promise<string[] | string> {
  if (store === 'sqlite') return ['--store', 'sqlite'];
  if (store !== 'etcd') return `unknown store ${JSON.stringify(store)} (sqlite or etcd)`;
  let endpoints = process.env.SCALE_ETCD_ENDPOINTS;
  if (!endpoints) {
    const missing = etcdMissing();
    if (missing) return `${missing}; or give running members in SCALE_ETCD_ENDPOINTS`;
    const member = await new EtcdMember().start();
    onCleanup('the etcd member', () => member.stop());
    endpoints = member.url;
  }
  return ['--store', 'etcd', '--etcd-endpoints', endpoints, '--etcd-prefix', `/tern-scale-${process.pid}/`];
}

/**
 * Where the agents keep their state: a tmpfs (/dev/shm) when there is one.
 * Real agents write on their own hosts' disks; here, their images and
 * rootfs copies on the coordinator's disk would make its every fsync wait
 * for them (the journal commits their data too), which measures the
 * simulation, not the coordinator.
 */
function agentsDir(root: string): string {
  const want = process.env.SCALE_AGENT_DIR;
  if (want) return mkdtempSync(join(want, 'tern-scale-agents-'));
  try {
    accessSync('/dev/shm', constants.W_OK);
    return mkdtempSync('/dev/shm/tern-scale-agents-');
  } catch {
    return join(root, 'agents');
  }
}

async function waitReady(client: CoordinatorClient, coord: Child, logFile: string): Promise<void> {
  let exited = false;
  void coord.exited.then(() => {
    exited = true;
  });
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      await unary(client, client.ListHosts, {}, { timeoutMs: 1000 });
      return;
    } catch (e) {
      if (exited || Date.now() > until)
        throw new Error(
          `the coordinator did not come up (${exited ? 'it exited' : errorMessage(e)}):\n${tail(logFile)}`,
        );
      await sleep(200);
    }
  }
}

interface StoreRun {
  result: Record<string, unknown>;
  line: string;
  kinds: string;
  steps: string;
}

/** Everything the workers and the mover saw, for the figures at the end. */
class Observed {
  readonly calls: Sample[] = [];
  readonly registered = new Set<string>();
  readonly replies = new Map<string, Map<Phase, number>>();
  readonly startFailures: { host: string; error: string }[] = [];
  /** Each worker's largest event-loop delay per interval: when, ms. */
  readonly lags: [number, number][] = [];
  started = 0;

  take(m: FromWorker): void {
    if (m.type === 'started') {
      this.started += m.count;
      this.startFailures.push(...m.failed);
    } else if (m.type === 'samples') {
      for (const [kind, at, ms, ok] of m.calls) this.calls.push({ kind, at, ms, ok });
      for (const h of m.registered) this.registered.add(h);
      this.lags.push(m.lag);
      for (const [id, phase, at] of m.replies) {
        let r = this.replies.get(id);
        if (!r) {
          r = new Map();
          this.replies.set(id, r);
        }
        r.set(phase, at);
      }
    }
  }
}

/** The control calls the floor is about, as the coordinator names them in its metrics. */
const CONTROL_METHODS = ['RegisterHost', 'Heartbeat', 'StartMigration'] as const;

interface Window {
  agents: number;
  migrations: number;
  rampFrom: number;
  from: number;
  to: number;
  cpuPct: number;
  agentsCpuPct: number;
  machineCpuPct: number;
  otherCpuPct: number;
  coordinatorLagP99Ms: number;
  /** Control calls the coordinator answered (registrations since the ramp began, heartbeats and starts in the window), and how many within 50 ms by its own clock. */
  coordinatorCalls: number;
  coordinatorWithin50: number;
  /** The same, per control method. */
  coordinatorByMethod: Record<string, { calls: number; within50: number }>;
  coordinatorHeapMiB: number;
  coordinatorExternalMiB: number;
  rssMiB: number;
  peakMiB: number;
  inFlightAvg: number;
}

async function runStore(
  cfg: Config,
  store: string,
  args: string[],
  pki: string,
  root: string,
  agents: string,
): Promise<StoreRun> {
  const t0 = Date.now();
  const dir = join(root, store);
  mkdirSync(dir, { recursive: true });
  const address = `127.0.0.1:${await freePort()}`;
  // Its own metrics: event-loop delay and heap, read at each window's start (which resets the delay) and end.
  const metricsPort = await freePort();
  const logFile = join(dir, 'coordinator.log');
  const profileDir = cfg.profile ? mkdtempSync(join(tmpdir(), `tern-scale-profile-${store}-`)) : undefined;
  const coord = startCoordinator(
    [
      '--listen',
      address,
      '--socket',
      '',
      '--pki',
      pki,
      '--name',
      'coordinator',
      '--state-dir',
      join(dir, 'coordinator'),
      '--log-level',
      'info',
      '--metrics-listen',
      `127.0.0.1:${metricsPort}`,
      ...args,
    ],
    logFile,
    profileDir,
  );
  const client = coordinatorClient(address, certFiles(pki, { role: 'operator', name: OPERATOR }));
  const workers: Child[] = [];
  try {
    return await measure(
      cfg,
      store,
      { coord, client, workers, logFile, address, pki, profileDir, metricsPort, t0 },
      join(agents, store),
    );
  } finally {
    for (const w of workers) await w.stop();
    // Watch streams left open would hold the coordinator's orderly stop.
    client.close();
    await coord.stop();
  }
}

/** What runStore started, for measure() to drive. */
interface Started {
  coord: Child;
  client: CoordinatorClient;
  /** Filled by measure() as it starts them (runStore stops them). */
  workers: Child[];
  logFile: string;
  address: string;
  pki: string;
  profileDir?: string;
  metricsPort: number;
  t0: number;
}

async function measure(cfg: Config, store: string, run: Started, agentsDir: string): Promise<StoreRun> {
  const { coord, client, workers, logFile, address, pki, profileDir, metricsPort, t0 } = run;
  await waitReady(client, coord, logFile);
  log(`${store}: coordinator pid ${coord.pid} listening on ${address}`);

  const seen = new Observed();
  for (let i = 0; i < cfg.workers; i++) {
    const w = startWorker(i, profileDir);
    workers.push(w);
    const ready = new Promise<void>((resolve) =>
      w.child.on('message', (m: FromWorker) => {
        if (m.type === 'ready') resolve();
        else seen.take(m);
      }),
    );
    const init: ToWorker = {
      type: 'init',
      coordinator: address,
      pki,
      dir: join(agentsDir, `worker${i}`),
      timing: cfg.timing,
      lan: LAN,
      heartbeatMs: cfg.heartbeatMs,
    };
    w.child.send(init);
    await ready;
  }
  const workersCpu = () => workers.reduce((s, w) => s + cpuSeconds(w.pid, true), 0);
  const ownCpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };

  const mover = new Mover(client);
  const windows: Window[] = [];
  let up = 0;
  for (const [i, n] of cfg.steps.entries()) {
    const last = i === cfg.steps.length - 1;
    const rampFrom = now();
    // The coordinator's own count at the ramp's start: its RegisterHost calls are the step's joiners'.
    const textRamp = await scrapeText(metricsPort);
    const specs = Array.from({ length: n - up }, (_, k) => agentSpec(up + k, cfg.agents));
    // Agents join at a steady rate, as a fleet being brought up does (a
    // coordinator restart, when all of them come back at once, is another
    // matter: see README, Scale).
    for (let k = 0; k < specs.length; k += cfg.joinPerTick) {
      const tick = specs.slice(k, k + cfg.joinPerTick);
      workers.forEach((w, j) => {
        const mine = tick.filter((_, x) => (k + x) % workers.length === j);
        if (mine.length > 0) w.child.send({ type: 'start', agents: mine } satisfies ToWorker);
      });
      await sleep(100);
    }
    const until = Date.now() + 180_000;
    while (specs.some((s) => !seen.registered.has(s.host))) {
      if (seen.startFailures.length > 0)
        throw new Error(
          `agents did not start: ${seen.startFailures
            .slice(0, 3)
            .map((f) => `${f.host}: ${f.error}`)
            .join('; ')}`,
        );
      if (Date.now() > until)
        throw new Error(
          `only ${specs.filter((s) => seen.registered.has(s.host)).length} of ${specs.length} new agents registered in 180 s`,
        );
      await sleep(100);
    }
    log(`${store}: ${n} agents registered (${((now() - rampFrom) / 1000).toFixed(1)} s for ${specs.length})`);
    up = n;
    mover.add(specs);
    const m = last ? cfg.migrations : Math.min(cfg.migrations, Math.floor(n / 4));
    mover.keep(m);
    // Until the moves in flight have reached their steady state.
    await sleep(3000);
    const windowSec = last ? cfg.seconds : cfg.stepSeconds;
    const from = now();
    const cpu0 = cpuSeconds(coord.pid);
    const wcpu0 = workersCpu();
    const mcpu0 = machineCpu();
    const own0 = ownCpu();
    const text0 = await scrapeText(metricsPort);
    let inFlight = 0;
    let polls = 0;
    const poll = setInterval(() => {
      inFlight += mover.inFlight();
      polls++;
    }, 200);
    await sleep(windowSec * 1000);
    clearInterval(poll);
    const to = now();
    const secs = (to - from) / 1000;
    const mem = memoryMiB(coord.pid);
    const mcpu1 = machineCpu();
    const text1 = await scrapeText(metricsPort);
    const own = promSamples(text1);
    // By its own clock: RegisterHost since the ramp began (the step's joiners), the others in the window.
    const byMethod = Object.fromEntries(
      CONTROL_METHODS.map((method) => {
        const since = method === 'RegisterHost' ? textRamp : text0;
        const [b0, b1] = [since, text1].map((t) => answeredWithin(t, '0.05', [method]));
        return [method, { calls: b1.total - b0.total, within50: b1.within - b0.within }];
      }),
    );
    const mib = (name: string) => (own.get(name) ?? Number.NaN) / 1048576;
    windows.push({
      agents: n,
      migrations: m,
      rampFrom,
      from,
      to,
      cpuPct: ((cpuSeconds(coord.pid) - cpu0) / secs) * 100,
      agentsCpuPct: ((workersCpu() - wcpu0) / secs) * 100,
      machineCpuPct: ((mcpu1.busy - mcpu0.busy) / Math.max(1, mcpu1.total - mcpu0.total)) * 100,
      // The machine's busy time that is neither the coordinator, the agents nor this driver, in % of one core.
      otherCpuPct:
        Math.max(
          0,
          ((mcpu1.busy - mcpu0.busy) / clockTicks() -
            (cpuSeconds(coord.pid) - cpu0) -
            (workersCpu() - wcpu0) -
            (ownCpu() - own0)) /
            secs,
        ) * 100,
      rssMiB: mem.rss,
      peakMiB: mem.peak,
      inFlightAvg: polls ? inFlight / polls : 0,
      coordinatorLagP99Ms:
        (own.get('tern_coordinator_nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) * 1000,
      coordinatorCalls: Object.values(byMethod).reduce((n, c) => n + c.calls, 0),
      coordinatorWithin50: Object.values(byMethod).reduce((n, c) => n + c.within50, 0),
      coordinatorByMethod: byMethod,
      coordinatorHeapMiB: mib('tern_coordinator_nodejs_heap_size_used_bytes'),
      coordinatorExternalMiB: mib('tern_coordinator_nodejs_external_memory_bytes'),
    });
    const hb = byKind(within(seen.calls, from, to)).heartbeat;
    const w = windows[windows.length - 1];
    log(
      `${store}: ${n} agents, ${m} in flight: heartbeat p99 ${hb.p99.toFixed(1)} ms, ` +
        `coordinator ${w.cpuPct.toFixed(0)} % CPU, ${Math.round(mem.rss)} MiB; machine ${w.machineCpuPct.toFixed(0)} % busy, ` +
        `${w.otherCpuPct.toFixed(0)} % of a core outside this run`,
    );
  }
  const leftInFlight = await mover.drain(60_000);
  // The workers send what they still hold, then exit.
  await Promise.all(
    workers.map(async (w) => {
      w.child.send({ type: 'stop' } satisfies ToWorker);
      const timer = setTimeout(() => w.child.kill('SIGKILL'), 10_000);
      await w.exited;
      clearTimeout(timer);
    }),
  );
  // SIGTERM: the coordinator stops as it would under systemd (and writes its CPU profile).
  client.close();
  await coord.stop();
  if (profileDir) log(`${store}: the coordinator's CPU profile is in ${profileDir}`);

  const moved = transitions(mover.moves, seen.replies);
  const steps: StepResult[] = windows.map((w) => {
    const reg = within(seen.calls, w.rampFrom, w.to).filter((s) => s.kind === 'register');
    const inWindow = [
      ...within(seen.calls, w.from, w.to).filter((s) => s.kind === 'heartbeat'),
      ...within(mover.starts, w.from, w.to),
      ...within(moved, w.from, w.to),
    ];
    const ended = mover.moves.filter(
      (mv) => mv.endedAt !== undefined && mv.endedAt >= w.from && mv.endedAt < w.to,
    );
    return {
      agents: w.agents,
      migrations: w.migrations,
      inFlightAvg: Math.round(w.inFlightAvg * 10) / 10,
      windowSec: Math.round((w.to - w.from) / 100) / 10,
      latency: byKind([...reg, ...inWindow]),
      done: ended.filter((mv) => mv.end === 'done').length,
      aborted: ended.filter((mv) => mv.end !== 'done').length,
      coordinatorCpuPct: Math.round(w.cpuPct * 10) / 10,
      coordinatorRssMiB: Math.round(w.rssMiB),
      coordinatorPeakRssMiB: Math.round(w.peakMiB),
      coordinatorLagP99Ms: Math.round(w.coordinatorLagP99Ms * 10) / 10,
      coordinatorCalls: w.coordinatorCalls,
      coordinatorWithin50Pct: w.coordinatorCalls
        ? Math.round((w.coordinatorWithin50 / w.coordinatorCalls) * 1000) / 10
        : Number.NaN,
      coordinatorByMethod: w.coordinatorByMethod,
      coordinatorHeapMiB: Math.round(w.coordinatorHeapMiB),
      coordinatorExternalMiB: Math.round(w.coordinatorExternalMiB),
      agentsCpuPct: Math.round(w.agentsCpuPct),
      machineCpuPct: Math.round(w.machineCpuPct),
      otherCpuPct: Math.round(w.otherCpuPct),
      agentsLagP99Ms: percentile(
        seen.lags
          .filter(([at]) => at >= w.from && at < w.to)
          .map(([, lag]) => lag)
          .sort((a, b) => a - b),
        99,
      ),
    };
  });
  const full = steps[steps.length - 1];
  const errors = new Map<string, number>();
  for (const mv of mover.moves) if (mv.error) errors.set(mv.error, (errors.get(mv.error) ?? 0) + 1);
  const top = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([why, n]) => ({ n, why }));
  const met = full.latency.all.p99 <= FLOOR.p99Ms && full.coordinatorPeakRssMiB <= FLOOR.rssMiB;
  const result = {
    store,
    ...codeVersion(),
    agents: full.agents,
    migrations: full.migrations,
    inFlightAvg: full.inFlightAvg,
    windowSec: full.windowSec,
    heartbeatMs: cfg.heartbeatMs,
    workers: cfg.workers,
    simulated: cfg.timing,
    control: full.latency.all,
    latency: full.latency,
    coordinator: {
      // Its own handling time of the control calls (its call histogram), beside what the agents timed.
      controlCalls: full.coordinatorCalls,
      answeredWithin50msPct: full.coordinatorWithin50Pct,
      byMethod: full.coordinatorByMethod,
      cpuPct: full.coordinatorCpuPct,
      rssMiB: full.coordinatorRssMiB,
      peakRssMiB: full.coordinatorPeakRssMiB,
    },
    floor: { ...FLOOR, met },
    moves: {
      started: mover.moves.length,
      done: mover.moves.filter((mv) => mv.end === 'done').length,
      aborted: mover.moves.filter((mv) => mv.end && mv.end !== 'done').length,
      notEnded: leftInFlight,
      abortReasons: top(errors),
      startRefusals: top(mover.refusals),
    },
    steps,
    durationSec: Math.round((Date.now() - t0) / 1000),
    profile: profileDir,
  };
  return {
    result: jsonSafe(result),
    line: summaryLine({
      agents: full.agents,
      migrations: full.migrations,
      all: full.latency.all,
      peakRssMiB: full.coordinatorPeakRssMiB,
    }),
    kinds: kindTable(full.latency),
    steps: stepTable(steps),
  };
}

async function main(): Promise<void> {
  const cfg = readConfig();
  const t0 = Date.now();
  const root = mkdtempSync(join(tmpdir(), 'tern-scale-'));
  onCleanup('the scale run directory', async () => rmSync(root, { recursive: true, force: true }));
  const agents = agentsDir(root);
  onCleanup("the agents' directory", async () => rmSync(agents, { recursive: true, force: true }));
  const stop = (sig: string) => {
    log(`${sig}: stopping, removing what the run made`);
    void cleanupAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));

  const names = Array.from({ length: cfg.agents }, (_, i) => agentSpec(i, cfg.agents).host);
  const pki = await scalePki(join(root, 'pki'), OPERATOR, names);
  const pkiSec = (Date.now() - t0) / 1000;
  log(`certificates for ${cfg.agents} agents in ${pkiSec.toFixed(1)} s`);

  const ran: Record<string, unknown> = {};
  const skipped: Record<string, string> = {};
  const printed: string[] = [];
  for (const store of cfg.stores) {
    const args = await storeArgs(store);
    if (typeof args === 'string') {
      printed.push(`scale: ${store} store skipped: ${args}`);
      log(`${store} store skipped: ${args}`);
      skipped[store] = args;
      continue;
    }
    let run: StoreRun;
    try {
      run = await runStore(cfg, store, args, pki, root, agents);
    } catch (e) {
      // Another store than SQLite may be missing here: say so and go on; SQLite must run.
      if (store === 'sqlite') throw e;
      const why = errorMessage(e).split('\n')[0];
      printed.push(`scale: ${store} store skipped: ${why}`);
      skipped[store] = why;
      continue;
    }
    ran[store] = { ...run.result, pkiSec: Math.round(pkiSec * 10) / 10 };
    const own = run.result.coordinator as {
      controlCalls: number;
      answeredWithin50msPct: number;
      byMethod: Record<string, { calls: number; within50: number }>;
    };
    const perMethod = Object.entries(own.byMethod)
      .map(([m, c]) => `${m} ${c.calls ? ((c.within50 / c.calls) * 100).toFixed(1) : '-'} % of ${c.calls}`)
      .join(', ');
    printed.push(
      `${run.line} [${store}]`,
      `scale: the coordinator's own handling time [${store}]: ${own.answeredWithin50msPct} % of ${own.controlCalls} control calls answered within 50 ms (${perMethod})`,
      '',
      'per call kind, at full size:',
      run.kinds,
      '',
      'per ramp step (p99 in ms; register: the step’s own registrations):',
      run.steps,
      '',
    );
  }
  let old: Record<string, unknown> = {};
  try {
    old = JSON.parse(readFileSync(cfg.out, 'utf8'));
  } catch {
    // none yet
  }
  mkdirSync(dirname(cfg.out), { recursive: true });
  writeFileSync(cfg.out, `${JSON.stringify(mergeResults(old, ran, skipped), null, 2)}\n`);
  process.stdout.write(`${printed.join('\n')}\n`);
  log(`written to ${cfg.out}; the whole run took ${Math.round((Date.now() - t0) / 1000)} s`);
}

main()
  .catch((e) => {
    process.stderr.write(`scale: failed: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanupAll();
    process.exit();
  });
