// The scale run's figures: latency samples summed up per call kind and per
// ramp step (count, p50, p99, max), the one summary line, the tables and the
// JSON written to bench/results/scale.json. Data in, data out; unit-tested
// in test/unit/scale-stats.test.ts.
import type { Phase } from '../../coordinator/phases.js';

/** What a control-call sample measures (see README "Scale" for each definition). */
export const KINDS = ['register', 'heartbeat', 'start', 'transition'] as const;
export type Kind = (typeof KINDS)[number];

export interface Sample {
  kind: Kind;
  /** When the call ended, ms since the epoch (sub-ms precision). */
  at: number;
  /** Its latency, ms. */
  ms: number;
  ok: boolean;
}

export interface Summary {
  count: number;
  /** Calls that failed (not counted in the percentiles). */
  errors: number;
  p50: number;
  p99: number;
  max: number;
}

/** The p-th percentile (0-100) of sorted values, nearest rank; NaN for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(samples: readonly Sample[]): Summary {
  const ms = samples
    .filter((s) => s.ok)
    .map((s) => s.ms)
    .sort((a, b) => a - b);
  return {
    count: ms.length,
    errors: samples.length - ms.length,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: ms.length ? ms[ms.length - 1] : Number.NaN,
  };
}

/** Per kind, and every kind together ('all'). */
export type ByKind = Record<Kind | 'all', Summary>;

export function byKind(samples: readonly Sample[]): ByKind {
  const out = { all: summarize(samples) } as ByKind;
  for (const k of KINDS) out[k] = summarize(samples.filter((s) => s.kind === k));
  return out;
}

/** The samples that ended within [from, to). */
export function within(samples: readonly Sample[], from: number, to: number): Sample[] {
  return samples.filter((s) => s.at >= from && s.at < to);
}

/** One migration as the driver saw it on its watch stream. */
export interface Move {
  id: string;
  container: string;
  from: string;
  to: string;
  /** When each phase arrived on the watch stream (ms since the epoch). */
  live: Partial<Record<Phase, number>>;
  /** Phases already in the record when the watch opened (no arrival time of their own). */
  before: Phase[];
  end?: Phase;
  endedAt?: number;
  error?: string;
}

/**
 * The phase that follows each phase of a stop-and-copy move that ends with
 * an agent's reply (the phase's last call to an agent, coordinator/steps.ts).
 */
export const NEXT_AFTER_REPLY: Partial<Record<Phase, Phase>> = {
  preflight: 'dumping',
  dumping: 'transferring',
  transferring: 'restoring',
  restoring: 'committing',
  committing: 'committed',
  committed: 'done',
};

/**
 * Phase transition latencies: from the agent's reply that ends a phase's
 * work to the arrival of the next phase on the driver's watch stream (the
 * coordinator sends it once the phase is durable in its store). `replies`:
 * per migration id, when the reply ending each phase left its agent.
 */
export function transitions(
  moves: readonly Move[],
  replies: ReadonlyMap<string, Map<Phase, number>>,
): Sample[] {
  const out: Sample[] = [];
  for (const m of moves) {
    const r = replies.get(m.id);
    if (!r) continue;
    for (const [ended, next] of Object.entries(NEXT_AFTER_REPLY) as [Phase, Phase][]) {
      const sent = r.get(ended);
      const seen = m.live[next];
      if (sent !== undefined && seen !== undefined && seen >= sent)
        out.push({ kind: 'transition', at: seen, ms: seen - sent, ok: true });
    }
  }
  return out;
}

/** One ramp step: N agents up, M migrations kept in flight, measured for a window. */
export interface StepResult {
  agents: number;
  migrations: number;
  /** Migrations in flight on average over the window (as the driver counts them: started, not ended). */
  inFlightAvg: number;
  windowSec: number;
  latency: ByKind;
  /** Migrations that ended in the window, and how. */
  done: number;
  aborted: number;
  /** The coordinator's CPU over the window, % of one core. */
  coordinatorCpuPct: number;
  /** Its resident memory at the end of the window, and its peak so far (VmHWM). */
  coordinatorRssMiB: number;
  coordinatorPeakRssMiB: number;
  /** From the coordinator's own metrics at the end of the window: its event-loop delay p99 (ms), its JS heap in use and its memory outside the heap (MiB). */
  coordinatorLagP99Ms: number;
  /** Control calls the coordinator answered (registrations since the ramp began, heartbeats and starts in the window), and the share it answered within 50 ms by its own clock (its call histogram). */
  coordinatorCalls: number;
  coordinatorWithin50Pct: number;
  coordinatorByMethod: Record<string, { calls: number; within50: number }>;
  coordinatorHeapMiB: number;
  coordinatorExternalMiB: number;
  /** The agent worker processes' CPU over the window, % of one core (all of them). */
  agentsCpuPct: number;
  /** The whole machine's CPU over the window, % of all its cores. */
  machineCpuPct: number;
  /** CPU the machine spent outside this run (other processes, the kernel's own work), % of one core. */
  otherCpuPct: number;
  /** The agent workers' event-loop delay (largest per 250 ms, its 99th percentile over the window), ms. */
  agentsLagP99Ms: number;
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

/** The one line: `scale: N agents, M concurrent migrations, control p50 X ms p99 Y ms, coordinator rss Z MiB`. */
export function summaryLine(s: {
  agents: number;
  migrations: number;
  all: Summary;
  peakRssMiB: number;
}): string {
  return `scale: ${s.agents} agents, ${s.migrations} concurrent migrations, control p50 ${ms(s.all.p50)} ms p99 ${ms(s.all.p99)} ms, coordinator rss ${Math.round(s.peakRssMiB)} MiB`;
}

/** A plain text table, first column left-aligned, the others right-aligned. */
export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i])))
      .join('  ')
      .trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

/** Per call kind: count, errors, p50, p99, max. */
export function kindTable(l: ByKind): string {
  const rows = [...KINDS, 'all' as const].map((k) => [
    k === 'all' ? 'all control calls' : k,
    String(l[k].count),
    String(l[k].errors),
    ms(l[k].p50),
    ms(l[k].p99),
    ms(l[k].max),
  ]);
  return table(['call', 'count', 'errors', 'p50 ms', 'p99 ms', 'max ms'], rows);
}

/** Per ramp step: the load, control p50/p99, each kind's p99, the coordinator's CPU and memory. */
export function stepTable(steps: readonly StepResult[]): string {
  const rows = steps.map((s) => [
    String(s.agents),
    String(s.migrations),
    s.inFlightAvg.toFixed(1),
    String(s.windowSec),
    String(s.done),
    ms(s.latency.all.p50),
    ms(s.latency.all.p99),
    ...KINDS.map((k) => ms(s.latency[k].p99)),
    s.coordinatorCpuPct.toFixed(0),
    String(Math.round(s.coordinatorRssMiB)),
    ms(s.coordinatorLagP99Ms),
    s.agentsCpuPct.toFixed(0),
    ms(s.agentsLagP99Ms),
    s.machineCpuPct.toFixed(0),
    s.otherCpuPct.toFixed(0),
  ]);
  return table(
    [
      'agents',
      'in flight',
      'avg',
      'window s',
      'moves done',
      'p50 ms',
      'p99 ms',
      ...KINDS.map((k) => `${k} p99`),
      'coord CPU %',
      'coord RSS MiB',
      'coord lag ms',
      'agents CPU %',
      'agents lag ms',
      'machine CPU %',
      'other CPU %',
    ],
    rows,
  );
}

/** JSON numbers: NaN (no samples) becomes null. */
export function jsonSafe<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x)));
}

/**
 * The results file: one top-level object per store. A run replaces the
 * stores it ran and keeps the others as they were; a store it skipped is
 * recorded as skipped only if the file has nothing for it yet.
 */
export function mergeResults(
  old: Record<string, unknown>,
  ran: Record<string, unknown>,
  skipped: Record<string, string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...old, ...ran };
  for (const [store, why] of Object.entries(skipped)) if (!(store in out)) out[store] = { skipped: why };
  return out;
}
