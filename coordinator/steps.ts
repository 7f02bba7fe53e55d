// The step table: what the coordinator does while a migration is in each
// phase, where it goes next, and what a restarted coordinator does with a
// migration it finds there. The runner (migration.ts) walks the table of the
// migration's mode and persists every phase before acting on it; recovery
// after a restart re-enters the same table. A new mode is a new table.
import type { Logger } from 'pino';
import { errorMessage, precondition, TernError, withCleanupErrors } from '../core/errors.js';
import type { AgentClient, Container__Output } from '../proto/index.js';
import { unary } from '../proto/rpc.js';
import { describeFinding } from './dryrun.js';
import type { Mode, Phase } from './phases.js';
import { nextRound, type PrecopyRules } from './precopy.js';
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
  /** When pre-copy stops sending rounds. */
  precopyRules(): PrecopyRules;
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
  /** Shows progress within the phase to watchers (kept in memory, not persisted). */
  report?(patch: Partial<MigrationRecord>): void;
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

const preflight = (mode: Mode): Step => ({
  onRestart: 'abort',
  async run({ m, fleet, log, signal, source, credential }) {
    if (!source) throw precondition(`migration ${m.id} has no source container record to start from`);
    const postcopy = mode === 'postcopy';
    const precopy = mode === 'precopy';
    if ((postcopy || precopy) && !(credential && fleet.dataAddress(m.from) && fleet.dataAddress(m.to)))
      throw precondition(
        `${mode} needs the data channels of both agents (${m.from} and ${m.to}); one of them registered none`,
      );
    const src = fleet.agent(m.from);
    const dst = fleet.agent(m.to);
    const [sc, dc, est, inspect] = await Promise.all([
      unary(src, src.Check, { postcopy, precopy }, { timeoutMs: T.check, what: m.from, signal }),
      unary(dst, dst.Check, { postcopy, precopy }, { timeoutMs: T.check, what: m.to, signal }),
      unary(src, src.Estimate, { name: m.container }, { timeoutMs: T.estimate, what: m.from, signal }),
      unary(src, src.Inspect, { name: m.container }, { timeoutMs: T.check, what: m.from, signal }),
    ]);
    // What CRIU would refuse, found before anything freezes (as migrate --dry-run shows it).
    const refused = inspect.findings.filter((f) => f.severity === 'refuse');
    if (refused.length > 0) throw precondition(refused.map(describeFinding).join('; '));
    if (!sc.criu_ok) throw precondition(`${m.from}: ${sc.criu_error}`);
    if (!dc.criu_ok) throw precondition(`${m.to}: ${dc.criu_error}`);
    for (const [host, c] of [
      [m.from, sc],
      [m.to, dc],
    ] as const) {
      if (c.postcopy_error)
        throw precondition(`${host} cannot take part in a post-copy move: ${c.postcopy_error}`);
      if (c.precopy_error)
        throw precondition(`${host} cannot take part in a pre-copy move: ${c.precopy_error}`);
    }
    const memoryBytes = Number(est.memory_bytes);
    const rootfsBytes = Number(est.rootfs_bytes);
    // The source may leave the network namespace out of its dump only if the
    // target knows to wire it (an older agent on either side: the whole dump).
    const emptyNet = sc.wires_netns && dc.wires_netns;
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
        postcopy,
        empty_net: emptyNet,
      },
      { timeoutMs: T.prepare, what: m.to, signal },
    );
    // The rootfs goes ahead while the container still runs (when both agents
    // have a data channel): the freeze then carries only what changed since.
    let rootfsNote = '';
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
      rootfsNote = `; rootfs pre-copied (${rx.raw_bytes} bytes in ${Date.now() - t0} ms)`;
    }
    log.info({ veth: prep.veth, memoryBytes, rootfsBytes, precopy: !!rootfsNote }, 'preflight ok');
    return {
      to: mode === 'precopy' ? 'precopying' : 'dumping',
      patch: { memoryBytes, rootfsBytes, emptyNet: emptyNet || undefined },
      detail: `memory ${memoryBytes} bytes, rootfs ${rootfsBytes} bytes${rootfsNote}`,
    };
  },
});

/** How often watchers are told how far a page stream is. */
const PROGRESS_MS = 250;

/**
 * While `work` runs, asks the source how far its page stream is and shows
 * it to watchers (progressBytes). Never delays `work`'s result.
 */
async function withProgress<T>(ctx: StepContext, work: Promise<T>): Promise<T> {
  const src = ctx.fleet.agent(ctx.m.from);
  let done = false;
  void (async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, PROGRESS_MS));
      if (done) return;
      const r = await unary(
        src,
        src.DumpProgress,
        { migration_id: ctx.m.id },
        { timeoutMs: 2000, what: ctx.m.from },
      ).catch(() => undefined);
      if (r && !done) ctx.report?.({ progressBytes: Number(r.pages_bytes) });
    }
  })();
  try {
    return await work;
  } finally {
    done = true;
  }
}

const dumping = (postcopy: boolean): Step => ({
  onRestart: 'abort',
  async run(ctx) {
    const { m, fleet, signal, credential } = ctx;
    const src = fleet.agent(m.from);
    const dumpStart = Date.now();
    const dump = await withProgress(
      ctx,
      unary(
        src,
        src.DumpAndHold,
        {
          migration_id: m.id,
          name: m.container,
          credential: credential ?? '',
          // Pages go straight to the target's page server when it has a data channel.
          pages_to: credential ? (fleet.dataAddress(m.to) ?? '') : '',
          target_host: m.to,
          postcopy,
          precopy_rounds: m.roundBytes?.length ?? 0,
          empty_net: !!m.emptyNet,
        },
        { timeoutMs: T.dump, what: m.from, signal },
      ),
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
          : postcopy
            ? '; memory pages stay on the source until the container runs on the target'
            : ''),
    };
  },
});

/**
 * Pre-copy: rounds of the container's memory to the target while it runs,
 * until the rule (precopy.ts) says the final dump will find little left.
 * Nothing is frozen for longer than CRIU takes to collect a round's pages;
 * an abort or failure leaves the container running where it was.
 */
const precopying: Step = {
  onRestart: 'abort',
  async run(ctx) {
    const { m, fleet, log, signal, credential, report } = ctx;
    const src = fleet.agent(m.from);
    const pagesTo = fleet.dataAddress(m.to);
    if (!credential || !pagesTo)
      throw precondition(`pre-copy needs ${m.to}'s data channel and the migration's credential`);
    const rules = fleet.precopyRules();
    const sent: number[] = [];
    for (let decision = nextRound(sent, rules); decision.again; decision = nextRound(sent, rules)) {
      const round = sent.length + 1;
      const r = await withProgress(
        ctx,
        unary(
          src,
          src.PreDump,
          { migration_id: m.id, name: m.container, credential, pages_to: pagesTo, target_host: m.to, round },
          { timeoutMs: T.dump, what: m.from, signal },
        ),
      );
      sent.push(Number(r.pages_bytes));
      log.info(
        { round, bytes: Number(r.pages_bytes), ms: Number(r.ms), frozenMs: Number(r.frozen_ms) },
        'pre-copy round',
      );
      report?.({ roundBytes: [...sent], progressBytes: 0 });
    }
    const why = nextRound(sent, rules).why;
    const total = sent.reduce((a, b) => a + b, 0);
    return {
      to: 'dumping',
      patch: { roundBytes: sent },
      detail: `${sent.length} pre-copy rounds, ${total} bytes of pages sent while the container ran (${sent.join(', ')}); stopped: ${why}`,
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
        round_bytes: m.roundBytes ?? [],
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
    checkHold(m);
    return { to: 'committing', patch: { restoreMs: Date.now() - t0 } };
  },
};

/**
 * Before the commit record: once it is durable the source is told to kill.
 * A hold about to give up would resume the source instead, and the commit
 * could never finish: abort while that is still safe.
 */
function checkHold(m: Readonly<MigrationRecord>): void {
  if (m.holdUntilMs && Date.now() > m.holdUntilMs - HOLD_MARGIN_MS)
    throw new TernError(
      'DEADLINE_EXCEEDED',
      `the source's hold on ${m.from} ends at ${new Date(m.holdUntilMs).toISOString()}: too late to commit (raise the agent's --orphan-timeout-sec for moves this long)`,
    );
}

/**
 * Post-copy: the images are verified on the target; the commit comes next,
 * before the restore. The restore touches memory pages, which the source
 * serves only once it has let its frozen tree go.
 */
const transferThenCommit: Step = {
  onRestart: 'abort',
  async run(ctx) {
    const adv = await transferring.run(ctx);
    checkHold(ctx.m);
    return { ...adv, to: 'committing' };
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

/**
 * Post-copy, past the commit point: the target restores its tree (its page
 * faults served from the source, whose tree is gone) and runs it at once;
 * the rest of the memory follows. A target whose pages can no longer arrive,
 * or whose restore failed, says so (DATA_LOSS): the container is lost, and
 * the migration fails.
 */
const restoreAndResume: Step = {
  onRestart: 'retry',
  async run({ m, fleet }) {
    const dst = fleet.agent(m.to);
    const t0 = Date.now();
    try {
      await unary(dst, dst.RestoreStopped, { migration_id: m.id }, { timeoutMs: T.restore, what: m.to });
      await unary(dst, dst.Resume, { migration_id: m.id }, { timeoutMs: T.resume, what: m.to });
    } catch (e) {
      if (e instanceof TernError && e.code === 'DATA_LOSS')
        return { to: 'failed', patch: { error: e.message }, detail: e.message };
      throw e;
    }
    const now = Date.now();
    const downtimeMs = m.frozenAtMs ? now - m.frozenAtMs : undefined;
    return {
      to: 'pulling',
      patch: { downtimeMs, restoreMs: now - t0, resumedAtMs: now, error: undefined },
      detail: `downtime ${downtimeMs ?? '?'} ms; the container runs on ${m.to}, its memory follows from ${m.from}`,
    };
  },
};

/** How long one PagesStatus call may wait for the end before it reports progress. */
const PAGES_POLL_MS = 1000;

/** Post-copy: until the last page is in, the container depends on its source host. */
const pulling: Step = {
  onRestart: 'retry',
  async run({ m, fleet, report }) {
    const dst = fleet.agent(m.to);
    for (;;) {
      const r = await unary(
        dst,
        dst.PagesStatus,
        { migration_id: m.id, wait_ms: PAGES_POLL_MS },
        { timeoutMs: PAGES_POLL_MS + T.resume, what: m.to },
      );
      const moved = Number(r.moved_bytes);
      if (r.lost) {
        const error = `memory pages stopped arriving from ${m.from} after ${moved} bytes (${r.error}); the container on ${m.to} was killed: it is lost`;
        return { to: 'failed', patch: { error, pagesMovedBytes: moved }, detail: error };
      }
      if (r.done) {
        const pagesDoneMs = Date.now() - (m.resumedAtMs ?? Date.now());
        return {
          to: 'done',
          patch: { pagesMovedBytes: moved, pagesDoneMs, error: undefined },
          detail: `every page arrived: ${moved} bytes, ${pagesDoneMs} ms after the resume`,
        };
      }
      report?.({ pagesMovedBytes: moved });
    }
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
  preflight: preflight('stop-and-copy'),
  // Reached only by pre-copy; what a restart finds there is aborted all the same.
  precopying,
  dumping: dumping(false),
  transferring,
  restoring,
  committing,
  committed,
  pulling: ended,
  done: ended,
  failed: ended,
  aborting,
  aborted: ended,
};

/**
 * Post-copy: as stop-and-copy, except that the dump leaves the memory pages
 * on the source, the commit comes before the restore (which needs pages the
 * source serves only then), the target runs its tree as soon as it is
 * restored, and the pages follow (pulling) until the last one is in.
 */
const POSTCOPY: StepTable = {
  ...STOP_AND_COPY,
  preflight: preflight('postcopy'),
  dumping: dumping(true),
  transferring: transferThenCommit,
  committed: restoreAndResume,
  pulling,
};

/**
 * Pre-copy: as stop-and-copy, with rounds of memory sent while the tree runs
 * (precopying) before the final dump, which then sends only what changed.
 */
const PRECOPY: StepTable = {
  ...STOP_AND_COPY,
  preflight: preflight('precopy'),
  precopying,
};

const TABLES: Readonly<Record<Mode, StepTable>> = {
  'stop-and-copy': STOP_AND_COPY,
  precopy: PRECOPY,
  postcopy: POSTCOPY,
};

export function stepsFor(mode: Mode): StepTable {
  const t = TABLES[mode];
  if (!t) throw new TernError('INVALID_ARGUMENT', `unknown migration mode ${JSON.stringify(mode)}`);
  return t;
}
