// Drives one migration through the handoff protocol of DESIGN.md. Every
// phase change is persisted before the coordinator acts on it, so after a
// crash the record says what may still be undone.
import { randomBytes } from 'node:crypto';
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import { errorMessage, TernError, withCleanupErrors } from '../core/errors.js';
import { Faults } from '../core/faults.js';
import type { AgentClient, Container__Output } from '../proto/index.js';
import { unary } from '../proto/rpc.js';
import { abortable, canTransition, type Phase, TERMINAL } from './phases.js';
import type { MigrationRecord, Store } from './store.js';

export function newMigrationId(): string {
  return `m${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export interface Fleet {
  /** Client for a host that is up; throws UNAVAILABLE naming the host otherwise. */
  agent(host: string): AgentClient;
  /** Where the target agent pulls the image stream from. */
  coordinatorAddress(): string;
}

export type Listener = (m: MigrationRecord) => void;

/** Per-call deadlines: control calls are short; data-moving calls get room. */
const T = {
  check: 60_000,
  prepare: 30_000,
  dump: 600_000,
  receive: 1_800_000,
  restore: 600_000,
  commit: 60_000,
  resume: 30_000,
  abort: 120_000,
};

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
  /** Fault points before-<phase> and after-<phase> around every durable record. */
  readonly faults: Faults;

  constructor(
    private readonly store: Store,
    private readonly fleet: Fleet,
    private readonly log: Logger,
    /** How many migrations a host takes part in at once (as source or target). */
    private readonly perHost = 2,
    stateDir?: string,
  ) {
    this.faults = new Faults(stateDir);
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
    if (!abortable(m.phase)) {
      throw new TernError(
        'FAILED_PRECONDITION',
        `migration ${m.id} is past its commit point (${m.phase}): the source tree is being killed, so it can only finish on ${m.to}`,
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

  /** Checks the edge, persists the new phase, then notifies watchers. */
  async transition(m: MigrationRecord, to: Phase, detail?: string): Promise<void> {
    if (!canTransition(m.phase, to)) {
      throw new TernError('INTERNAL', `migration ${m.id}: illegal transition ${m.phase} -> ${to}`);
    }
    // Fault points around every durable record: before-<phase>, after-<phase>.
    this.faults.hit(`before-${to}`);
    m.phase = to;
    m.history.push({ phase: to, atMs: Date.now(), detail });
    if (TERMINAL.includes(to)) m.finishedMs = Date.now();
    await this.store.putMigration(m);
    this.faults.hit(`after-${to}`);
    this.emit(m);
  }

  async create(container: string, from: string, to: string): Promise<MigrationRecord> {
    const m: MigrationRecord = {
      id: newMigrationId(),
      container,
      from,
      to,
      phase: 'preflight',
      history: [{ phase: 'preflight', atMs: Date.now() }],
      startedMs: Date.now(),
    };
    await this.store.putMigration(m);
    return m;
  }

  /** Runs a created migration to done or aborted; never throws. */
  async run(m: MigrationRecord, source: Container__Output): Promise<void> {
    const log = this.log.child({ migration: m.id, container: m.container, from: m.from, to: m.to });
    const ctl = new AbortController();
    this.controllers.set(m.id, ctl);
    // Places on both hosts, taken in name order so two opposite migrations cannot deadlock.
    const releases: (() => void)[] = [];
    try {
      for (const h of [m.from, m.to].sort()) releases.push(await acquire(this.queue(h), ctl.signal));
      await this.forward(m, source, log, ctl.signal);
    } catch (e) {
      m.error = ctl.signal.aborted ? errorMessage(ctl.signal.reason) : errorMessage(e);
      log.warn({ err: m.error, phase: m.phase }, 'migration failed');
      if (abortable(m.phase)) {
        await this.abort(m, log);
      } else {
        // Past the commit point the container must come up on the target:
        // keep trying until it does.
        await this.store.putMigration(m).catch(() => {});
        this.emit(m);
        await this.completeCommit(m, log);
      }
    } finally {
      this.controllers.delete(m.id);
      for (const r of releases) r();
    }
  }

  private async forward(
    m: MigrationRecord,
    source: Container__Output,
    log: Logger,
    signal: AbortSignal,
  ): Promise<void> {
    const src = this.fleet.agent(m.from);
    const dst = this.fleet.agent(m.to);
    const id = m.id;
    const cancelled = () => {
      if (signal.aborted) throw signal.reason;
    };
    cancelled();

    // Preflight: refuse before anything is frozen.
    const [sc, dc] = await Promise.all([
      unary(src, src.Check, {}, { timeoutMs: T.check, what: m.from, signal }),
      unary(dst, dst.Check, {}, { timeoutMs: T.check, what: m.to, signal }),
    ]);
    if (!sc.criu_ok) throw new TernError('FAILED_PRECONDITION', `${m.from}: ${sc.criu_error}`);
    if (!dc.criu_ok) throw new TernError('FAILED_PRECONDITION', `${m.to}: ${dc.criu_error}`);
    const prep = await unary(
      dst,
      dst.PrepareTarget,
      { migration_id: id, container: source, image_bytes_estimate: 0, source_cpuinfo_b64: sc.cpuinfo_b64 },
      { timeoutMs: T.prepare, what: m.to, signal },
    );
    log.info({ veth: prep.veth }, 'preflight ok');

    cancelled();
    await this.transition(m, 'dumping');
    const dumpStart = Date.now();
    const dump = await unary(
      src,
      src.DumpAndHold,
      { migration_id: id, name: m.container },
      { timeoutMs: T.dump, what: m.from, signal },
    );
    m.dumpMs = Number(dump.dump_ms);
    m.frozenAtMs = dumpStart;
    await this.transition(
      m,
      'transferring',
      `${dump.image_files} image files, ${dump.image_bytes} bytes, rootfs ${dump.rootfs_bytes} bytes`,
    );

    const tx0 = Date.now();
    const rx = await unary(
      dst,
      dst.ReceiveImages,
      { migration_id: id, coordinator: this.fleet.coordinatorAddress() },
      { timeoutMs: T.receive, what: m.to, signal },
    );
    m.transferMs = Date.now() - tx0;
    m.rawBytes = Number(rx.raw_bytes);
    m.wireBytes = Number(rx.wire_bytes);
    await this.transition(
      m,
      'restoring',
      `${rx.files} files verified, ${rx.raw_bytes} bytes raw, ${rx.wire_bytes} on the wire`,
    );

    const rs0 = Date.now();
    await unary(dst, dst.RestoreStopped, { migration_id: id }, { timeoutMs: T.restore, what: m.to, signal });
    m.restoreMs = Date.now() - rs0;

    // Commit point: durable before the source is told to kill. A cancel that
    // arrives after this line is refused.
    cancelled();
    await this.transition(m, 'committing');
    await this.finishCommit(m, log);
  }

  /**
   * Finishes a migration past its commit point, retrying until both agents
   * have answered: the source that its tree is gone, the target that its
   * copy runs. Both answer repeated commands idempotently.
   */
  async completeCommit(m: MigrationRecord, log: Logger): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.finishCommit(m, log);
        return;
      } catch (e) {
        m.error = errorMessage(e);
        log.warn({ err: m.error, phase: m.phase, attempt }, 'commit not finished yet; retrying');
        this.emit(m);
        await new Promise((r) => setTimeout(r, Math.min(5000, 500 * attempt)));
      }
    }
  }

  /** From committing (or committed) to done. Repeats safely: agents answer idempotently. */
  async finishCommit(m: MigrationRecord, log: Logger): Promise<void> {
    if (m.phase === 'committing') {
      const src = this.fleet.agent(m.from);
      const r = await unary(src, src.Commit, { migration_id: m.id }, { timeoutMs: T.commit, what: m.from });
      if (!r.source_gone)
        throw new TernError('INTERNAL', `${m.from} did not confirm the source tree is gone`);
      await this.transition(m, 'committed');
    }
    const dst = this.fleet.agent(m.to);
    await unary(dst, dst.Resume, { migration_id: m.id }, { timeoutMs: T.resume, what: m.to });
    if (m.frozenAtMs) m.downtimeMs = Date.now() - m.frozenAtMs;
    m.error = undefined;
    await this.transition(m, 'done', m.downtimeMs !== undefined ? `downtime ${m.downtimeMs} ms` : undefined);
    log.info({ downtimeMs: m.downtimeMs, rawBytes: m.rawBytes, wireBytes: m.wireBytes }, 'migration done');
  }

  /** Target first (remove the stopped copy), then source (unfreeze). */
  async abort(m: MigrationRecord, log: Logger): Promise<void> {
    if (m.phase !== 'aborting') await this.transition(m, 'aborting', m.error);
    const errors: unknown[] = [];
    for (const host of [m.to, m.from]) {
      try {
        const a = this.fleet.agent(host);
        await unary(a, a.Abort, { migration_id: m.id }, { timeoutMs: T.abort, what: host });
      } catch (e) {
        errors.push(e);
        log.error({ host, err: errorMessage(e) }, 'abort step failed');
      }
    }
    if (errors.length > 0) {
      m.error = errorMessage(withCleanupErrors(new Error(m.error ?? 'aborted'), errors));
    }
    await this.transition(m, 'aborted', m.error);
  }
}
