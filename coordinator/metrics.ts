// The coordinator's Prometheus metrics (served at --metrics-listen): what
// moved, how it ended and how long each phase and pause took, the fleet's
// hosts and containers, and the calls the coordinator answered.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { daemonRegistry } from '../core/metrics.js';
import { TERMINAL } from './phases.js';
import type { MigrationRecord } from './store.js';

/** What the gauges read when scraped. */
export interface FleetView {
  hosts(): { name: string; up: boolean; containers: number }[];
  running(): MigrationRecord[];
}

/** Seconds: from tens of milliseconds (an idle container's pause) to minutes (a large transfer). */
const SECONDS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300];

/**
 * The first CRIU error in a failed migration's error, as a label of few
 * values: the CRIU command and the error text without numbers, e.g.
 * `criu restore: Can't open file tern/console.log` (undefined if CRIU did not fail).
 */
export function criuFailure(error: string): string | undefined {
  const m = /criu ([a-z-]+) (?:exited with status \d+|was killed)(?:: (?:Error \([^)]*\): )?([^|;]*))?/.exec(
    error,
  );
  if (!m) return undefined;
  const text = (m[2] ?? '').replace(/\d+/g, 'N').replace(/\s+/g, ' ').trim().slice(0, 80);
  return text ? `criu ${m[1]}: ${text}` : `criu ${m[1]}`;
}

/** tern_coordinator_leader in `registry`: whether this coordinator leads. */
export function leaderGauge(registry: Registry, leads: boolean): void {
  new Gauge({
    name: 'tern_coordinator_leader',
    help: '1 while this coordinator leads (and serves), 0 while it follows',
    registers: [registry],
  }).set(leads ? 1 : 0);
}

export class CoordinatorMetrics {
  readonly registry: Registry;
  private readonly ended: Counter<'outcome' | 'mode'>;
  private readonly downtime: Histogram<'mode'>;
  private readonly phases: Histogram<'phase' | 'mode'>;
  private readonly bytes: Counter<'kind'>;
  private readonly criu: Counter<'error'>;
  private readonly calls: Histogram<'method' | 'code'>;

  constructor(view: FleetView) {
    const r = daemonRegistry('coordinator');
    this.registry = r;
    const registers = [r];
    this.ended = new Counter({
      name: 'tern_migrations_total',
      help: 'Migrations that ended, by outcome (done, aborted, failed) and mode',
      labelNames: ['outcome', 'mode'],
      registers,
    });
    this.downtime = new Histogram({
      name: 'tern_migration_downtime_seconds',
      help: 'Pause of each migration that ended done: from the dump asked to the container running on the target',
      labelNames: ['mode'],
      buckets: SECONDS,
      registers,
    });
    this.phases = new Histogram({
      name: 'tern_migration_phase_seconds',
      help: 'Time spent in each phase of a migration',
      labelNames: ['phase', 'mode'],
      buckets: SECONDS,
      registers,
    });
    this.bytes = new Counter({
      name: 'tern_migration_bytes_total',
      help: 'Bytes moved by migrations: images (raw and on the wire), memory pages during the dump, in pre-copy rounds, after a post-copy resume, and through the coordinator',
      labelNames: ['kind'],
      registers,
    });
    this.criu = new Counter({
      name: 'tern_criu_failures_total',
      help: 'Migrations that failed because CRIU did, by its first error',
      labelNames: ['error'],
      registers,
    });
    // Followers on etcd serve 0 (coordinator/follower.ts); a coordinator that serves leads.
    leaderGauge(r, true);
    this.calls = new Histogram({
      name: 'tern_coordinator_calls_seconds',
      help: 'gRPC calls the coordinator answered, by method and status code',
      labelNames: ['method', 'code'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    new Gauge({
      name: 'tern_host_up',
      help: 'Whether a host’s agent is up (heartbeating)',
      labelNames: ['host'],
      registers,
      collect() {
        this.reset();
        for (const h of view.hosts()) this.set({ host: h.name }, h.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tern_host_containers',
      help: 'Containers on a host (not exited), as its agent last reported',
      labelNames: ['host'],
      registers,
      collect() {
        this.reset();
        for (const h of view.hosts()) this.set({ host: h.name }, h.containers);
      },
    });
    new Gauge({
      name: 'tern_migrations_running',
      help: 'Migrations that have not ended, by phase',
      labelNames: ['phase'],
      registers,
      collect() {
        this.reset();
        for (const m of view.running()) this.inc({ phase: m.phase });
      },
    });
  }

  /** A migration has just entered its current phase (the last of its history). */
  transition(m: Readonly<MigrationRecord>): void {
    const h = m.history;
    const prev = h[h.length - 2];
    const cur = h[h.length - 1];
    if (prev && cur) this.phases.observe({ phase: prev.phase, mode: m.mode }, (cur.atMs - prev.atMs) / 1000);
    if (!TERMINAL.includes(m.phase)) return;
    this.ended.inc({ outcome: m.phase, mode: m.mode });
    if (m.phase === 'done' && m.downtimeMs !== undefined)
      this.downtime.observe({ mode: m.mode }, m.downtimeMs / 1000);
    const moved: [string, number | undefined][] = [
      ['images_raw', m.rawBytes],
      ['images_wire', m.wireBytes],
      ['pages_during_dump', m.pagesBytes],
      ['pages_precopy', m.roundBytes?.reduce((a, b) => a + b, 0)],
      ['pages_after_resume', m.pagesMovedBytes],
      ['through_coordinator', m.coordinatorBytes],
    ];
    for (const [kind, n] of moved) if (n) this.bytes.inc({ kind }, n);
    const criu = m.phase !== 'done' && m.error ? criuFailure(m.error) : undefined;
    if (criu) this.criu.inc({ error: criu });
  }

  call(method: string, code: number, seconds: number): void {
    this.calls.observe({ method, code: String(code) }, seconds);
  }
}
