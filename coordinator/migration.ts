// Drives each migration through the step table of its mode (steps.ts).
// Persist, then act: the in-memory record changes only after the store has
// accepted the new phase, so what the coordinator does never runs ahead of
// what a restarted coordinator would find. Before the commit point a failure
// aborts; past it the step is tried again until it succeeds.
import { randomBytes } from 'node:crypto';
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import { errorMessage, TernError } from '../core/errors.js';
import { Faults } from '../core/faults.js';
import type { Container__Output } from '../proto/index.js';
import { abortable, canTransition, type Mode, type Phase, TERMINAL } from './phases.js';
import { abortOnAgents, type Fleet, stepsFor } from './steps.js';
import type { MigrationRecord, Store } from './store.js';

export type { Fleet } from './steps.js';

export function newMigrationId(): string {
  return `m${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export type Listener = (m: MigrationRecord) => void;

/** Pause before trying a failed step again: 0.5 s growing to 5 s. */
const backoff = (attempt: number) => Math.min(5000, 500 * attempt);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits for a free place in q and holds it until the returned release is
 * called. If the signal fires first, the wait ends and the place, when it
 * comes, is given back at once.
 */
function acquire(q: PQueue, signal: AbortSignal): Promise<() => void> {
  return new Promise((resolve, reject) => {
    let started = false;
    void q.add(
      () =>
        new Promise<void>((release) => {
          if (signal.aborted) return release();
          started = true;
          resolve(release);
        }),
    );
    signal.addEventListener('abort', () => !started && reject(signal.reason), { once: true });
  });
}

export class MigrationRunner {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly controllers = new Map<string, AbortController>();
  private readonly queues = new Map<string, PQueue>();
  /** Each running migration's data channel credential (memory only; see StepContext). */
  private readonly credentials = new Map<string, string>();
  /** Phase being written for a migration: a cancel must not slip in ahead of a commit record. */
  private readonly writing = new Map<string, Phase>();
  /** Fault points before-<phase> and after-<phase> around every durable record. */
  readonly faults: Faults;
  /** Told of every phase a migration entered, once it is durable (metrics). */
  onTransition?: (m: Readonly<MigrationRecord>) => void;

  constructor(
    private readonly store: Store,
    private readonly fleet: Fleet,
    private readonly log: Logger,
    /** How many migrations a host takes part in at once (as source or target). */
    private readonly perHost = 2,
    faults = new Faults(),
  ) {
    this.faults = faults;
  }

  private queue(host: string): PQueue {
    let q = this.queues.get(host);
    if (!q) {
      q = new PQueue({ concurrency: this.perHost });
      this.queues.set(host, q);
    }
    return q;
  }

  /**
   * Asks a running migration to abort. Before the commit point the abort
   * starts at once; after it the migration must finish, so this refuses.
   */
  cancel(m: MigrationRecord): void {
    if (TERMINAL.includes(m.phase)) {
      throw new TernError('FAILED_PRECONDITION', `migration ${m.id} already ended (${m.phase})`);
    }
    const next = this.writing.get(m.id);
    if (!abortable(m.phase) || (next && !abortable(next))) {
      throw new TernError(
        'FAILED_PRECONDITION',
        `migration ${m.id} is past its commit point (${next ?? m.phase}): the source tree is being killed, so it can only finish on ${m.to}`,
      );
    }
    const c = this.controllers.get(m.id);
    if (!c) throw new TernError('FAILED_PRECONDITION', `migration ${m.id} is not running here`);
    c.abort(new TernError('CANCELLED', 'cancelled by the user'));
  }

  watch(id: string, fn: Listener): () => void {
    let set = this.listeners.get(id);
    if (!set) {
      set = new Set();
      this.listeners.set(id, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  private emit(m: MigrationRecord): void {
    for (const fn of this.listeners.get(m.id) ?? []) fn(structuredClone(m));
  }

  /**
   * Checks the edge, persists the record in its new phase, and only then
   * changes the record in memory and tells watchers. If the store refuses,
   * m is left exactly as it was.
   */
  async transition(m: MigrationRecord, to: Phase, patch: Partial<MigrationRecord> = {}, detail?: string) {
    if (!canTransition(m.phase, to)) {
      throw new TernError('INTERNAL', `migration ${m.id}: illegal transition ${m.phase} -> ${to}`);
    }
    // Fault points around every durable record: before-<phase>, after-<phase>.
    this.faults.hit(`before-${to}`);
    const now = Date.now();
    const next: MigrationRecord = {
      ...structuredClone(m),
      // Progress within a phase ends with it.
      progressBytes: undefined,
      ...patch,
      phase: to,
      history: [...m.history, { phase: to, atMs: now, detail }],
    };
    if (TERMINAL.includes(to)) next.finishedMs = now;
    this.writing.set(m.id, to);
    try {
      await this.store.putMigration(next);
    } finally {
      this.writing.delete(m.id);
    }
    Object.assign(m, next);
    this.onTransition?.(m);
    this.faults.hit(`after-${to}`);
    this.emit(m);
  }

  async create(
    container: string,
    from: string,
    to: string,
    mode: Mode,
    modeReason?: string,
    ip?: string,
  ): Promise<MigrationRecord> {
    stepsFor(mode);
    const now = Date.now();
    const m: MigrationRecord = {
      id: newMigrationId(),
      container,
      from,
      to,
      mode,
      modeReason,
      ip: ip || undefined,
      phase: 'preflight',
      history: [
        { phase: 'preflight', atMs: now, detail: modeReason ? `mode ${mode}: ${modeReason}` : undefined },
      ],
      startedMs: now,
    };
    await this.store.putMigration(m);
    return m;
  }

  /** Runs a created migration to done or aborted; never throws. */
  async run(m: MigrationRecord, source: Container__Output): Promise<void> {
    const ctl = new AbortController();
    this.controllers.set(m.id, ctl);
    this.credentials.set(m.id, randomBytes(32).toString('hex'));
    // Places on both hosts, taken in name order so two opposite migrations cannot deadlock.
    const releases: (() => void)[] = [];
    try {
      try {
        for (const h of [m.from, m.to].sort()) releases.push(await acquire(this.queue(h), ctl.signal));
      } catch (e) {
        await this.enterAbort(m, errorMessage(e));
      }
      await this.drive(m, ctl, source);
    } finally {
      this.controllers.delete(m.id);
      this.credentials.delete(m.id);
      for (const r of releases) r();
    }
  }

  /**
   * Re-enters the table with a migration that a coordinator restart
   * interrupted: each phase's step says whether to abort or run it again.
   */
  async recover(m: MigrationRecord): Promise<void> {
    if (TERMINAL.includes(m.phase)) return;
    const step = stepsFor(m.mode)[m.phase];
    if (step.onRestart === 'abort')
      await this.enterAbort(m, m.error ?? 'interrupted by a coordinator restart');
    const ctl = new AbortController();
    this.controllers.set(m.id, ctl);
    try {
      await this.drive(m, ctl);
    } finally {
      this.controllers.delete(m.id);
    }
  }

  /** Walks the table from m's phase to a terminal phase. Never throws. */
  private async drive(m: MigrationRecord, ctl: AbortController, source?: Container__Output): Promise<void> {
    const log = this.log.child({ migration: m.id, container: m.container, from: m.from, to: m.to });
    const table = stepsFor(m.mode);
    let attempt = 0;
    while (!TERMINAL.includes(m.phase)) {
      const phase = m.phase;
      try {
        if (ctl.signal.aborted && abortable(phase)) throw ctl.signal.reason;
        const credential = this.credentials.get(m.id);
        const adv = await table[phase].run({
          m,
          fleet: this.fleet,
          log,
          signal: ctl.signal,
          source,
          credential,
          report: (patch) => {
            Object.assign(m, patch);
            this.emit(m);
          },
        });
        // A cancel that came while the step ran wins, as long as the step did not pass the commit point.
        if (ctl.signal.aborted && abortable(phase)) throw ctl.signal.reason;
        await this.transition(m, adv.to, adv.patch, adv.detail);
        attempt = 0;
        if (m.phase === 'done')
          log.info(
            { downtimeMs: m.downtimeMs, rawBytes: m.rawBytes, wireBytes: m.wireBytes },
            'migration done',
          );
      } catch (e) {
        const error =
          ctl.signal.aborted && abortable(phase) ? errorMessage(ctl.signal.reason) : errorMessage(e);
        if (abortable(m.phase)) {
          log.warn({ err: error, phase: m.phase }, 'migration failed');
          await this.enterAbort(m, error);
          continue;
        }
        // Past the commit point (or while aborting) the only way is this step
        // again: the container must come up on the target (or back on the source).
        attempt++;
        log.warn({ err: error, phase: m.phase, attempt }, 'step not finished yet; retrying');
        this.emit({ ...m, error });
        await sleep(backoff(attempt));
      }
    }
  }

  /**
   * Records 'aborting'. A store that keeps refusing does not keep the
   * container frozen: every phase before the commit point recovers to an
   * abort, so after three refused writes the agents are told to abort anyway,
   * and the record follows when the store accepts it.
   */
  private async enterAbort(m: MigrationRecord, error: string): Promise<void> {
    const log = this.log.child({ migration: m.id });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.transition(m, 'aborting', { error }, error);
        return;
      } catch (e) {
        log.error({ err: errorMessage(e), attempt }, 'cannot record aborting');
        if (attempt === 3) await abortOnAgents(m, this.fleet, log);
        await sleep(backoff(attempt));
      }
    }
  }
}
