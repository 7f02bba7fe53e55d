// Both halves of the handoff protocol (docs/design.md) as one agent plays
// them. The source half (source.ts) dumps and holds a frozen tree until the
// coordinator's verdict; the target half (target.ts) receives, restores
// stopped and resumes. readopt.ts takes over what an earlier agent left.
// Every method is idempotent where the coordinator may repeat it.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { TernError } from '../../core/errors.js';
import { Faults } from '../../core/faults.js';
import { checkMigrationId, validateName } from '../../core/names.js';
import type { CheckpointEngine, PreDumpResult } from '../../kernel/engine.js';
import type { HostRuntime } from '../../kernel/host.js';
import type { Finding } from '../../kernel/leaks.js';
import type { EncodeStats } from '../../proto/chunks.js';
import type { ImageChunk } from '../../proto/index.js';
import type { AgentOptions } from '../config.js';
import type { ContainerRecord, Containers } from '../containers.js';
import type { ChunkStream, HandoffContext } from './context.js';
import { Outcomes } from './outcomes.js';
import { readopt } from './readopt.js';
import type { ReceiveLimits } from './slot.js';
import { type DumpOutcome, type RoundTarget, SourceHolds } from './source.js';
import { TargetSlots } from './target.js';

import { WorkDirs } from './workdirs.js';

export { ROOTFS_TAR } from './context.js';

/** SourceHolds.fetchImages after the migration id. */
type FetchRest = Parameters<SourceHolds['fetchImages']> extends [string, ...infer R] ? R : never;

export class Handoff {
  private readonly ctx: HandoffContext;
  private readonly source: SourceHolds;
  private readonly target: TargetSlots;
  /** Aborted migration ids: a late DumpAndHold or PrepareTarget for one is refused. */
  private readonly aborted = new Set<string>();

  constructor(
    opts: AgentOptions,
    engine: CheckpointEngine,
    host: HostRuntime,
    containers: Containers,
    log: Logger,
  ) {
    this.ctx = {
      opts,
      engine,
      host,
      containers,
      log,
      outcomes: new Outcomes(opts.stateDir),
      faults: new Faults(opts.stateDir, opts.testFaults),
      work: new WorkDirs(opts, log),
    };
    this.source = new SourceHolds(this.ctx);
    this.target = new TargetSlots(this.ctx);
  }

  private fresh(id: string): string {
    checkMigrationId(id);
    if (this.aborted.has(id)) throw new TernError('ABORTED', `migration ${id} was aborted`);
    return id;
  }

  async load(): Promise<void> {
    await this.ctx.work.open();
    await readopt(this.ctx, this.source, this.target);
    await this.target.sweepPrewired();
  }

  /** Migration ids this agent is part of right now (reported on registration). */
  active(): string[] {
    return [...new Set([...this.source.ids(), ...this.target.ids()])];
  }

  dumpAndHold(
    id: string,
    name: string,
    credential?: string,
    signal?: AbortSignal,
    pagesTo?: string,
    targetHost?: string,
    postcopy = false,
    precopyRounds = 0,
    emptyNet = false,
  ): Promise<DumpOutcome> {
    if (targetHost) validateName('host', targetHost);
    return this.source.dumpAndHold(
      this.fresh(id),
      name,
      credential,
      signal,
      pagesTo,
      targetHost,
      postcopy,
      precopyRounds,
      emptyNet,
    );
  }

  /** Bytes the page stream of this migration's dump (or pre-copy round) has sent so far. */
  sentPages(id: string): Promise<number> {
    return this.ctx.engine.sentPages(this.ctx.work.dirOf(checkMigrationId(id)));
  }

  /** Pre-copy: one round of the container's memory to the target while it runs. */
  preDump(
    id: string,
    name: string,
    round: number,
    to: RoundTarget,
    signal?: AbortSignal,
  ): Promise<PreDumpResult> {
    validateName('host', to.targetHost);
    return this.source.preDump(this.fresh(id), name, round, to, signal);
  }

  acceptPages(id: string, sock: Socket, round?: number): Promise<void> {
    return this.target.acceptPages(checkMigrationId(id), sock, round);
  }

  /**
   * A held dump's images, for the agent `peer` (as its certificate names it)
   * with the credential; `held`: then the word that the tree is gone.
   */
  fetchImages(id: string, ...rest: FetchRest): AsyncGenerator<ImageChunk> {
    return this.source.fetchImages(checkMigrationId(id), ...rest);
  }

  prepareSource(id: string, name: string, credential: string, targetHost: string): Promise<void> {
    validateName('host', targetHost);
    return this.source.prepare(this.fresh(id), name, credential, targetHost);
  }

  fetchRootfs(id: string, credential: string, peer: string, stats: EncodeStats): AsyncGenerator<ImageChunk> {
    return this.source.fetchRootfs(checkMigrationId(id), credential, peer, stats);
  }

  receiveRootfs(id: string, stream: ChunkStream, limits: ReceiveLimits): Promise<EncodeStats> {
    return this.target.receiveRootfs(checkMigrationId(id), stream, limits);
  }

  /** Starts reading the images fetch a target opens before the freeze (see TargetSlot.early). */
  openEarly(id: string, address: string, fetch: ChunkStream, limits: ReceiveLimits): boolean {
    return this.target.openEarly(checkMigrationId(id), address, fetch, limits);
  }

  /** ReceiveImages on an early fetch: undefined when there was none. */
  receiveEarly(id: string, address: string, limits: ReceiveLimits): Promise<EncodeStats | undefined> {
    return this.target.receiveEarly(checkMigrationId(id), address, limits);
  }

  /** The credential the coordinator gave this target for fetching the images, and the source to fetch from. */
  peerFor(id: string): { credential: string; host: string } | undefined {
    return this.target.peer(id);
  }

  readImages(id: string, stats: EncodeStats): AsyncGenerator<ImageChunk> {
    return this.source.readImages(id, stats);
  }

  commit(id: string): Promise<boolean> {
    return this.source.commit(checkMigrationId(id));
  }

  prepareTarget(
    id: string,
    c: ContainerRecord,
    estimate: number,
    sourceCpuinfo?: Buffer,
    credential?: string,
    sourceHost?: string,
    postcopy = false,
    emptyNet = false,
  ): Promise<string> {
    return this.target.prepare(
      this.fresh(id),
      c,
      estimate,
      sourceCpuinfo,
      credential,
      sourceHost,
      postcopy,
      emptyNet,
    );
  }

  /** A dry run's target checks (reserves nothing). */
  checkTarget(c: ContainerRecord, estimate: number, sourceCpuinfo?: Buffer): Promise<Finding[]> {
    return this.target.check(c, estimate, sourceCpuinfo);
  }

  receive(id: string, stream: ChunkStream, limits: ReceiveLimits): Promise<EncodeStats> {
    return this.target.receive(id, stream, limits);
  }

  restoreStopped(id: string, signal?: AbortSignal): Promise<ContainerRecord> {
    return this.target.restoreStopped(id, signal);
  }

  resume(id: string): Promise<ContainerRecord> {
    return this.target.resume(id);
  }

  /** Post-copy, on the target after the resume: how far the pages are (waits up to waitMs for the end). */
  pagesStatus(id: string, waitMs: number): Promise<{ done: boolean; moved: number; lost?: string }> {
    return this.target.pagesStatus(id, waitMs);
  }

  /** Before the commit point only. Idempotent: an unknown id is already aborted. */
  async abort(id: string): Promise<{ resumedSource: boolean; cleanedTarget: boolean }> {
    checkMigrationId(id);
    this.aborted.add(id);
    const resumedSource = await this.source.abort(id);
    const cleanedTarget = await this.target.abort(id);
    return { resumedSource, cleanedTarget };
  }
}
