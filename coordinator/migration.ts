// Drives one migration through the handoff protocol of DESIGN.md. Every
// phase change is persisted before the coordinator acts on it, so after a
// crash the record says what may still be undone.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage, TernError, withCleanupErrors } from '../proto/errors.js';
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

export class MigrationRunner {
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    private readonly store: Store,
    private readonly fleet: Fleet,
    private readonly log: Logger,
  ) {}

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
    m.phase = to;
    m.history.push({ phase: to, atMs: Date.now(), detail });
    if (TERMINAL.includes(to)) m.finishedMs = Date.now();
    await this.store.putMigration(m);
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
    try {
      await this.forward(m, source, log);
    } catch (e) {
      m.error = errorMessage(e);
      log.warn({ err: m.error, phase: m.phase }, 'migration failed');
      if (abortable(m.phase)) {
        await this.abort(m, log);
      } else {
        // Past the commit point the container must come up on the target:
        // leave the record in its phase for recovery to finish.
        await this.store.putMigration(m).catch(() => {});
        this.emit(m);
      }
    }
  }

  private async forward(m: MigrationRecord, source: Container__Output, log: Logger): Promise<void> {
    const src = this.fleet.agent(m.from);
    const dst = this.fleet.agent(m.to);
    const id = m.id;

    // Preflight: refuse before anything is frozen.
    const [sc, dc] = await Promise.all([
      unary(src, src.Check, {}, { timeoutMs: T.check, what: m.from }),
      unary(dst, dst.Check, {}, { timeoutMs: T.check, what: m.to }),
    ]);
    if (!sc.criu_ok) throw new TernError('FAILED_PRECONDITION', `${m.from}: ${sc.criu_error}`);
    if (!dc.criu_ok) throw new TernError('FAILED_PRECONDITION', `${m.to}: ${dc.criu_error}`);
    const prep = await unary(
      dst,
      dst.PrepareTarget,
      { migration_id: id, container: source, image_bytes_estimate: 0, source_cpuinfo_b64: sc.cpuinfo_b64 },
      { timeoutMs: T.prepare, what: m.to },
    );
    log.info({ veth: prep.veth }, 'preflight ok');

    await this.transition(m, 'dumping');
    const dumpStart = Date.now();
    const dump = await unary(
      src,
      src.DumpAndHold,
      { migration_id: id, name: m.container },
      { timeoutMs: T.dump, what: m.from },
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
      { timeoutMs: T.receive, what: m.to },
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
    await unary(dst, dst.RestoreStopped, { migration_id: id }, { timeoutMs: T.restore, what: m.to });
    m.restoreMs = Date.now() - rs0;

    // Commit point: durable before the source is told to kill.
    await this.transition(m, 'committing');
    await this.finishCommit(m, log);
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
    await this.transition(m, 'done', m.downtimeMs !== undefined ? `downtime ${m.downtimeMs} ms` : undefined);
    log.info({ downtimeMs: m.downtimeMs, rawBytes: m.rawBytes, wireBytes: m.wireBytes }, 'migration done');
  }

  /** Target first (remove the stopped copy), then source (unfreeze). */
  async abort(m: MigrationRecord, log: Logger): Promise<void> {
    await this.transition(m, 'aborting', m.error);
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
