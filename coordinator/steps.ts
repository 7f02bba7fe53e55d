// The step table: what the coordinator does while a migration is in each
// phase, where it goes next, and what a restarted coordinator does with a
// migration it finds there. The runner (migration.ts) walks the table of the
// migration's mode and persists every phase before acting on it; recovery
// after a restart re-enters the same table. A new mode is a new table.
import type { Logger } from 'pino';
import { errorMessage, precondition, TernError, withCleanupErrors } from '../core/errors.js';
import type { AgentClient, Container__Output } from '../proto/index.js';
import { unary } from '../proto/rpc.js';
import type { Mode, Phase } from './phases.js';
import type { MigrationRecord } from './store.js';

export interface Fleet {
  /** Client for a host that is up; throws UNAVAILABLE naming the host otherwise. */
  agent(host: string): AgentClient;
  /** How long a receiver waits for the next chunk before the move aborts. */
  stallMs(): number;
  /** The data channel a host's agent registered, if any. */
  dataAddress(host: string): string | undefined;
  /** Image bytes of a migration that passed through this coordinator's relay (read once: the count goes). */
  takeRelayedBytes(migration: string): number;
}

export interface StepContext {
  /** The migration as last persisted; steps read it, never change it. */
  m: Readonly<MigrationRecord>;
  fleet: Fleet;
  log: Logger;
  /** Fires on cancel. Steps before the commit point pass it to every call. */
  signal: AbortSignal;
  /** The container as its source reported it when the migration started (fresh runs only). */
  source?: Container__Output;
  /**
   * The migration's credential for the agents' data channel. Kept in memory
   * only: a restarted coordinator aborts every migration that could still need it.
   */
  credential?: string;
}

/** Where a step leads: the next phase, and what to persist with it. */
export interface Advance {
  to: Phase;
  patch?: Partial<MigrationRecord>;
  detail?: string;
}

export interface Step {
  /** Does this phase's work and names the next phase; throws on failure. */
  run(ctx: StepContext): Promise<Advance>;
  /**
   * What a coordinator that restarts and finds a migration in this phase
   * does: 'abort' (nothing past the commit point happened yet) or 'retry'
   * (run the step again: the agents answer repeated commands alike).
   */
  onRestart: 'abort' | 'retry';
}

/** Per-call deadlines: control calls are short; data-moving calls get room. */
const T = {
  check: 60_000,
  estimate: 60_000,
  prepare: 30_000,
  dump: 600_000,
  receive: 1_800_000,
  restore: 600_000,
  commit: 60_000,
  resume: 30_000,
  abort: 120_000,
};

/** A commit needs this long before the source's hold gives up. */
const HOLD_MARGIN_MS = 15_000;

/** Room for the rootfs to grow between the estimate and the freeze, and for tar's headers. */
const ROOTFS_SLACK = 256 << 20;

const preflight: Step = {
  onRestart: 'abort',
  async run({ m, fleet, log, signal, source, credential }) {
    if (!source) throw precondition(`migration ${m.id} has no source container record to start from`);
    const src = fleet.agent(m.from);
    const dst = fleet.agent(m.to);
    const [sc, dc, est] = await Promise.all([
      unary(src, src.Check, {}, { timeoutMs: T.check, what: m.from, signal }),
      unary(dst, dst.Check, {}, { timeoutMs: T.check, what: m.to, signal }),
      unary(src, src.Estimate, { name: m.container }, { timeoutMs: T.estimate, what: m.from, signal }),
    ]);
    if (!sc.criu_ok) throw precondition(`${m.from}: ${sc.criu_error}`);
    if (!dc.criu_ok) throw precondition(`${m.to}: ${dc.criu_error}`);
    const memoryBytes = Number(est.memory_bytes);
    const rootfsBytes = Number(est.rootfs_bytes);
    const prep = await unary(
      dst,
      dst.PrepareTarget,
      {
        migration_id: m.id,
        container: source,
        image_bytes_estimate: memoryBytes + rootfsBytes,
        source_cpuinfo_b64: sc.cpuinfo_b64,
        credential: credential ?? '',
        source_host: m.from,
      },
      { timeoutMs: T.prepare, what: m.to, signal },
    );
    // The rootfs goes ahead while the container still runs (when both agents
    // have a data channel): the freeze then carries only what changed since.
    let precopy = '';
    const sourceData = fleet.dataAddress(m.from);
    if (credential && sourceData && fleet.dataAddress(m.to)) {
      await unary(
        src,
        src.PrepareSource,
        { migration_id: m.id, name: m.container, credential, target_host: m.to },
        { timeoutMs: T.prepare, what: m.from, signal },
      );
      const t0 = Date.now();
      const rx = await unary(
        dst,
        dst.ReceiveRootfs,
        {
          migration_id: m.id,
          source_data: sourceData,
          stall_ms: fleet.stallMs(),
          max_bytes: 2 * rootfsBytes + ROOTFS_SLACK,
        },
        { timeoutMs: T.receive, what: m.to, signal },
      );
      precopy = `; rootfs pre-copied (${rx.raw_bytes} bytes in ${Date.now() - t0} ms)`;
    }
    log.info({ veth: prep.veth, memoryBytes, rootfsBytes, precopy: !!precopy }, 'preflight ok');
    return {
      to: 'dumping',
      patch: { memoryBytes, rootfsBytes },
      detail: `memory ${memoryBytes} bytes, rootfs ${rootfsBytes} bytes${precopy}`,
    };
  },
};

const dumping: Step = {
  onRestart: 'abort',
  async run({ m, fleet, signal, credential }) {
    const src = fleet.agent(m.from);
    const dumpStart = Date.now();
    const dump = await unary(
      src,
      src.DumpAndHold,
      {
        migration_id: m.id,
        name: m.container,
        credential: credential ?? '',
        // Pages go straight to the target's page server when it has a data channel.
        pages_to: credential ? (fleet.dataAddress(m.to) ?? '') : '',
        target_host: m.to,
      },
      { timeoutMs: T.dump, what: m.from, signal },
    );
    return {
      to: 'transferring',
      patch: {
        dumpMs: Number(dump.dump_ms),
        frozenAtMs: dumpStart,
        imageBytes: Number(dump.image_bytes),
        holdUntilMs: Number(dump.hold_until_ms) || undefined,
        pagesBytes: Number(dump.pages_bytes) || undefined,
      },
      detail:
        `${dump.image_files} image files, ${dump.image_bytes} bytes` +
        (Number(dump.pages_bytes) > 0
          ? `; ${dump.pages_bytes} bytes of pages sent to ${m.to} during the dump`
          : ''),
    };
  },
};

const transferring: Step = {
  onRestart: 'abort',
  async run({ m, fleet, signal, credential }) {
    const dst = fleet.agent(m.to);
    // Directly between the agents when the source has a data channel and both
    // hold the credential; else through this coordinator's relay.
    const direct = credential ? fleet.dataAddress(m.from) : undefined;
    const t0 = Date.now();
    const rx = await unary(
      dst,
      dst.ReceiveImages,
      {
        migration_id: m.id,
        max_bytes: (m.imageBytes ?? 0) + 2 * (m.rootfsBytes ?? 0) + ROOTFS_SLACK,
        stall_ms: fleet.stallMs(),
        source_data: direct ?? '',
        pages_bytes: m.pagesBytes ?? 0,
      },
      { timeoutMs: T.receive, what: m.to, signal },
    );
    return {
      to: 'restoring',
      patch: {
        transferMs: Date.now() - t0,
        rawBytes: Number(rx.raw_bytes),
        wireBytes: Number(rx.wire_bytes),
        coordinatorBytes: fleet.takeRelayedBytes(m.id),
      },
      detail: `${rx.files} files verified, ${rx.raw_bytes} bytes raw, ${rx.wire_bytes} on the wire, ${direct ? `direct from ${direct}` : 'through the coordinator'}`,
    };
  },
};

const restoring: Step = {
  onRestart: 'abort',
  async run({ m, fleet, signal }) {
    const dst = fleet.agent(m.to);
    const t0 = Date.now();
    await unary(
      dst,
      dst.RestoreStopped,
      { migration_id: m.id },
      { timeoutMs: T.restore, what: m.to, signal },
    );
    // The next record is the commit point: once it is durable the source is
    // told to kill. A hold about to give up would resume the source instead,
    // and the commit could never finish: abort while that is still safe.
    if (m.holdUntilMs && Date.now() > m.holdUntilMs - HOLD_MARGIN_MS)
      throw new TernError(
        'DEADLINE_EXCEEDED',
        `the source's hold on ${m.from} ends at ${new Date(m.holdUntilMs).toISOString()}: too late to commit (raise the agent's --orphan-timeout-sec for moves this long)`,
      );
    return { to: 'committing', patch: { restoreMs: Date.now() - t0 } };
  },
};

const committing: Step = {
  onRestart: 'retry',
  async run({ m, fleet }) {
    const src = fleet.agent(m.from);
    const r = await unary(src, src.Commit, { migration_id: m.id }, { timeoutMs: T.commit, what: m.from });
    if (!r.source_gone) throw new TernError('INTERNAL', `${m.from} did not confirm the source tree is gone`);
    return { to: 'committed' };
  },
};

const committed: Step = {
  onRestart: 'retry',
  async run({ m, fleet }) {
    const dst = fleet.agent(m.to);
    await unary(dst, dst.Resume, { migration_id: m.id }, { timeoutMs: T.resume, what: m.to });
    const downtimeMs = m.frozenAtMs ? Date.now() - m.frozenAtMs : undefined;
    return {
      to: 'done',
      patch: { downtimeMs, error: undefined },
      detail: downtimeMs !== undefined ? `downtime ${downtimeMs} ms` : undefined,
    };
  },
};

/** Target first (remove the stopped copy), then source (unfreeze). */
const aborting: Step = {
  onRestart: 'retry',
  async run({ m, fleet, log }) {
    const errors = await abortOnAgents(m, fleet, log);
    const error =
      errors.length > 0
        ? errorMessage(withCleanupErrors(new Error(m.error ?? 'aborted'), errors))
        : (m.error ?? 'aborted');
    return { to: 'aborted', patch: { error }, detail: error };
  },
};

/** Tells both agents to abort; returns the failures (each also logged). */
export async function abortOnAgents(
  m: Readonly<MigrationRecord>,
  fleet: Fleet,
  log: Logger,
): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (const host of [m.to, m.from]) {
    try {
      const a = fleet.agent(host);
      await unary(a, a.Abort, { migration_id: m.id }, { timeoutMs: T.abort, what: host });
    } catch (e) {
      errors.push(e);
      log.error({ host, err: errorMessage(e) }, 'abort step failed');
    }
  }
  return errors;
}

const ended: Step = {
  onRestart: 'retry',
  run: async ({ m }) => {
    throw new TernError('INTERNAL', `migration ${m.id} already ended (${m.phase})`);
  },
};

export type StepTable = Readonly<Record<Phase, Step>>;

const STOP_AND_COPY: StepTable = {
  preflight,
  dumping,
  transferring,
  restoring,
  committing,
  committed,
  done: ended,
  aborting,
  aborted: ended,
};

const TABLES: Readonly<Record<Mode, StepTable>> = { 'stop-and-copy': STOP_AND_COPY };

export function stepsFor(mode: Mode): StepTable {
  const t = TABLES[mode];
  if (!t) throw new TernError('INVALID_ARGUMENT', `unknown migration mode ${JSON.stringify(mode)}`);
  return t;
}
