import { createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { notFound, precondition, TernError } from '../../core/errors.js';
import { checkMigrationId } from '../../core/names.js';
import type { PageStream, PreDumpResult } from '../../kernel/engine.js';
import { changesItsNetwork } from '../../kernel/netwire.js';
import { PARENT_LINK, roundDirs } from '../../kernel/precopy.js';
import { type EncodeStats, encodeFiles, type SourceFile } from '../../proto/chunks.js';
import type { ImageChunk } from '../../proto/index.js';
import { agentCerts } from '../config.js';
import type { ContainerRecord } from '../containers.js';
import { openPageChannel } from '../data.js';
import { credentialFile, fileData, type HandoffContext, ROOTFS_TAR, sameCredential } from './context.js';
import { ROOTFS_DELTA, ROOTFS_DIRS, takeMarker } from './rootfs.js';

/** What a source hold leaves on disk so a restarted agent can still decide it. */
export interface HoldFile {
  id: string;
  name: string;
  criuPid: number;
  /** The frozen tree's init and its start time (a post-copy tree outlives the commit, stopped). */
  treePid?: number;
  treeStart?: string;
}
export const HOLD_FILE = 'hold.json';

/**
 * The rootfs changes since the pre-copy: the listing of each changed
 * directory, and a tar of the changed paths (a file, or a stream packed as it
 * is sent).
 */
interface RootfsDelta {
  listing?: Buffer;
  tar?: string | AsyncIterable<Buffer>;
}

/**
 * CRIU's record of files it linked back into the container's own tree while
 * dumping (--link-remap): such a dump changed the rootfs after the freeze.
 */
const REMAP_IMAGE = 'remap-fpath.img';

/**
 * What a dump whose pages go to the target leaves on the source: every
 * image but the pages, and the rootfs changes.
 */
const SMALL_IMAGES = 64 << 20;

/** How often a fetch opened before the freeze looks for the hold, besides being woken when it changes. */
const HOLD_POLL_MS = 100;

export interface SourceHold {
  id: string;
  name: string;
  workDir: string;
  imagesDir: string;
  /**
   * Delivers the verdict to the frozen tree and settles with what happened:
   * 'kill' normally ends 'killed', 'resume' ends 'resumed'.
   */
  decide(verdict: 'kill' | 'resume'): Promise<'killed' | 'resumed'>;
  /** Settles once decide() has tried to hand its verdict over: true if the hold script took it. */
  delivered?: Promise<boolean>;
  /** Set once the dump has ended (decided, or resumed by the hold timeout). */
  outcome?: 'killed' | 'resumed';
  /** The tree is frozen at post-dump and every image file is complete. */
  frozen?: boolean;
  /** What the target presents to fetch the images on the data channel (none: no direct fetch). */
  credential?: string;
  /** The migration's target host: the only agent that may fetch the images. */
  targetHost?: string;
  /** A fetch of the images is under way: one at a time. */
  fetching?: boolean;
  /** The rootfs went to the target before the freeze; this marker dates that copy. */
  precopied?: string;
  /** What changed in the rootfs since the pre-copy, found and packed while CRIU dumped the frozen tree. */
  delta?: Promise<RootfsDelta>;
  /**
   * Post-copy: CRIU serves the pages from its own memory after the 'kill'
   * verdict, until the target has them all; `served` settles when it is
   * done: undefined when every page went out, else why not.
   */
  lazy?: { served: Promise<string | undefined> };
  /**
   * How the hold ended, for an `images-held` fetch: true once the tree is
   * gone (committed, said before the coordinator hears it), false if it runs
   * on here. Settled once.
   */
  gone?: Deferred<boolean>;
}

export interface DumpOutcome {
  container: ContainerRecord;
  /** The page stream as sent to the target's page server, when the dump sent one. */
  pages?: PageStream;
  imageBytes: number;
  imageFiles: number;
  frozenAtMs: number;
  dumpMs: number;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/**
 * The size of a held dump's images. Synchronous: tens of files on a tmpfs,
 * measured while the tree is frozen, where one trip through the thread pool
 * per file cost more than all the stats together.
 */
function dirSize(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const f of readdirSync(dir)) {
    const s = statSync(join(dir, f));
    if (s.isFile()) {
      bytes += s.size;
      files++;
    }
  }
  return { bytes, files };
}

/** Where a pre-copy round goes: the target host, its data channel, and the migration's credential. */
export interface RoundTarget {
  credential: string;
  pagesTo: string;
  targetHost: string;
}

/** A migration announced before its dump: its credential, and whether the rootfs was pre-copied. */
interface Prepared {
  name: string;
  credential: string;
  /** The only agent that may fetch the rootfs. */
  targetHost: string;
  workDir: string;
  /** The pre-copy went out whole; the marker dates it. */
  precopied?: string;
  /** Pre-copy: memory rounds sent so far, and whether one is under way. */
  rounds?: number;
  preDumping?: boolean;
}

export class SourceHolds {
  private readonly holds = new Map<string, SourceHold>();
  private readonly prepared = new Map<string, Prepared>();
  /** Image fetches waiting for their tree to be held (heldFor), woken when a hold changes. */
  private readonly holdWaiters = new Set<() => void>();

  constructor(private readonly ctx: HandoffContext) {}

  ids(): string[] {
    return [...new Set([...this.holds.keys(), ...this.prepared.keys()])];
  }

  get(id: string): SourceHold | undefined {
    return this.holds.get(id);
  }

  /** Before the dump: the target may fetch the rootfs with this credential while the container runs. */
  async prepare(id: string, name: string, credential: string, targetHost: string): Promise<void> {
    const { ctx } = this;
    const rec = ctx.containers.get(name);
    if (rec.migrationId)
      throw precondition(`container ${name} is already being migrated (${rec.migrationId})`);
    const known = this.prepared.get(id);
    if (known) {
      if (known.name !== name) throw precondition(`migration ${id} was prepared for ${known.name}`);
      return;
    }
    // The pages will go to the target's page server: the images left here are small.
    const workDir = await ctx.work.place(id, SMALL_IMAGES);
    await rm(workDir, { recursive: true, force: true });
    await mkdir(workDir, { recursive: true });
    this.prepared.set(id, { name, credential, targetHost, workDir });
  }

  /** Forgets a prepared migration that will not dump here (aborted before its dump). */
  async unprepare(id: string): Promise<boolean> {
    const p = this.prepared.get(id);
    if (!p) return false;
    this.prepared.delete(id);
    this.holdChanged();
    if (!this.holds.has(id)) await rm(p.workDir, { recursive: true, force: true });
    return true;
  }

  /** The whole rootfs of a prepared migration's container, for the pre-copy; marks when it started. */
  async *fetchRootfs(
    id: string,
    credential: string,
    peer: string,
    stats: EncodeStats,
  ): AsyncGenerator<ImageChunk> {
    const { ctx } = this;
    const p = this.prepared.get(id);
    if (!p || this.holds.has(id) || p.targetHost !== peer || !sameCredential(p.credential, credential))
      throw new TernError(
        'PERMISSION_DENIED',
        `no rootfs of migration ${id} on ${ctx.opts.host} for ${peer} with that credential`,
      );
    p.precopied = undefined;
    const rootfs = ctx.containers.rootfs(p.name);
    const marker = await takeMarker(p.workDir);
    yield* encodeFiles([{ name: ROOTFS_TAR, data: ctx.host.rootfs.pack(rootfs, undefined, true) }], stats);
    p.precopied = marker;
  }

  /**
   * Pre-copy: one round of the container's memory to the target while it
   * runs; CRIU freezes the tree only to collect the pages written since the
   * round before (all of them in round 1). Rounds come one at a time and in
   * order, for a prepared migration, to its target with its credential, over
   * the same authenticated page stream as a dump's pages.
   */
  async preDump(
    id: string,
    name: string,
    round: number,
    to: RoundTarget,
    signal?: AbortSignal,
  ): Promise<PreDumpResult> {
    const { ctx } = this;
    const p = this.prepared.get(id);
    if (
      !p ||
      p.name !== name ||
      p.targetHost !== to.targetHost ||
      !sameCredential(p.credential, to.credential)
    )
      throw precondition(
        `migration ${id} was not prepared on ${ctx.opts.host} to move ${name} to ${to.targetHost}`,
      );
    if (this.holds.has(id)) throw precondition(`migration ${id} already dumped ${name}`);
    if (p.preDumping) throw precondition(`a pre-copy round of migration ${id} is already under way`);
    const done = p.rounds ?? 0;
    if (round !== done + 1)
      throw precondition(`migration ${id}: pre-copy round ${round} asked for after round ${done}`);
    const rec = ctx.containers.get(name);
    if (rec.state !== 'running') throw precondition(`container ${name} is ${rec.state}, not running`);
    const { dir, parent } = roundDirs(round, 0);
    const imagesDir = join(p.workDir, dir);
    await rm(imagesDir, { recursive: true, force: true });
    // An abort meanwhile forgets the migration: the round stops and leaves nothing.
    const aborted = () => this.prepared.get(id) !== p;
    p.preDumping = true;
    try {
      // Fault point: the source is slow (or dies) in a pre-copy round.
      ctx.faults.hit('pre-dump');
      if (aborted()) throw new TernError('ABORTED', `migration ${id} aborted`);
      const pages = {
        socket: await openPageChannel(to.pagesTo, id, round),
        tls: {
          ...agentCerts(ctx.opts),
          peer: to.targetHost,
          credentialFile: await credentialFile(p.workDir, p.credential),
        },
      };
      const r = await ctx.engine.preDump(
        { pid: rec.pid, imagesDir, workDir: p.workDir, parent, pages },
        signal,
      );
      p.rounds = round;
      ctx.log.info(
        { migration: id, container: name, round, bytes: r.pagesBytes, ms: r.ms, frozenMs: r.frozenMs },
        'pre-copy round sent',
      );
      return r;
    } finally {
      p.preDumping = false;
      if (aborted()) await rm(p.workDir, { recursive: true, force: true });
    }
  }

  /** Takes over a hold whose CRIU outlived an earlier agent (see readopt.ts). */
  adopt(h: SourceHold): void {
    this.holds.set(h.id, h);
  }

  async dumpAndHold(
    id: string,
    name: string,
    credential?: string,
    signal?: AbortSignal,
    pagesTo?: string,
    targetHost?: string,
    postcopy = false,
    precopyRounds = 0,
    /** The target wires the network namespace of a container that cannot change its own (netwire.ts). */
    emptyNet = false,
  ): Promise<DumpOutcome> {
    const { ctx } = this;
    const existing = this.holds.get(id);
    if (existing) throw precondition(`migration ${id} already dumped ${existing.name}`);
    const rec = ctx.containers.get(name);
    if (rec.migrationId)
      throw precondition(`container ${name} is already being migrated (${rec.migrationId})`);
    if (rec.state !== 'running') throw precondition(`container ${name} is ${rec.state}, not running`);
    if ((pagesTo || credential) && !targetHost)
      throw new TernError('INVALID_ARGUMENT', `migration ${id}: a direct transfer needs the target host`);
    if (postcopy && !(pagesTo && credential))
      throw new TernError(
        'INVALID_ARGUMENT',
        `migration ${id}: post-copy needs the target's data channel and the migration's credential`,
      );
    let pages: PageStream | undefined;
    const prepared = this.prepared.get(id);
    // Pages that go to the target's page server leave only small images here.
    const workDir =
      prepared?.workDir ??
      (await ctx.work.place(id, pagesTo ? SMALL_IMAGES : await ctx.host.treeMemory(rec.pid)));
    const imagesDir = join(workDir, 'images');
    // Pre-copy: the rounds sent so far, which the final dump builds on.
    if (precopyRounds > 0 && (prepared?.rounds ?? 0) !== precopyRounds)
      throw precondition(
        `migration ${id}: the final dump is to follow pre-copy round ${precopyRounds}, but ${prepared?.rounds ?? 0} ran here`,
      );
    if (precopyRounds > 0 && (postcopy || !pagesTo))
      throw new TernError(
        'INVALID_ARGUMENT',
        `migration ${id}: pre-copy rounds need a stop-and-copy dump to the target`,
      );
    // A prepared migration keeps its directory: the pre-copy's marker is there.
    if (!prepared) await rm(workDir, { recursive: true, force: true });
    await rm(imagesDir, { recursive: true, force: true });
    await mkdir(imagesDir, { recursive: true });
    // Pages go straight to the target's page server while CRIU dumps, inside
    // TLS; the stream is opened (and refused, if it is) before anything is frozen.
    const pagesOut =
      pagesTo && credential && targetHost
        ? {
            socket: await openPageChannel(pagesTo, id),
            tls: {
              ...agentCerts(ctx.opts),
              peer: targetHost,
              credentialFile: await credentialFile(workDir, credential),
            },
          }
        : undefined;
    const log = ctx.log.child({ migration: id, container: name });

    rec.migrationId = id;
    await ctx.containers.save(rec);
    const hold = deferred();
    // Post-copy: whether the kill verdict reached the hold (the pages flow from then on).
    let verdictSent!: (delivered: boolean) => void;
    const sent = new Promise<boolean>((r) => {
      verdictSent = r;
    });
    let frozen!: (at: number) => void;
    const frozenP = new Promise<number>((r) => {
      frozen = r;
    });
    const early: { delta?: Promise<RootfsDelta> } = {};
    const started = Date.now();
    const dump = ctx.engine.dump(
      {
        // The criu-dump fault makes CRIU itself fail: it is given a pid that just exited.
        pid: ctx.faults.armed('criu-dump') ? await ctx.host.exitedPid() : rec.pid,
        imagesDir,
        workDir,
        externalVeths: [rec.veth],
        tcpEstablished: true,
        emptyNet: emptyNet && !changesItsNetwork(rec.capAdd),
        holdTimeoutSec: ctx.opts.orphanTimeoutSec,
        pages: pagesOut,
        lazy: postcopy,
        parent: roundDirs(0, precopyRounds).parent,
      },
      {
        // The tree is frozen, its files final: the rootfs changes are found
        // and packed while CRIU dumps, not after.
        frozen: () => {
          const marker = prepared?.precopied;
          if (!marker || early.delta) return;
          early.delta = this.packDelta(name, marker, workDir);
          early.delta.catch(() => {});
        },
        verdictSent: (_verdict, delivered) => verdictSent(delivered),
        postDump: async ({ frozenAtMs, criuPid, pages: sent }) => {
          pages = sent;
          const hf: HoldFile = { id, name, criuPid, treePid: rec.pid, treeStart: rec.startTime };
          await writeFile(join(workDir, HOLD_FILE), JSON.stringify(hf));
          frozen(frozenAtMs);
          return hold.promise;
        },
      },
      signal,
    );
    const h: SourceHold = {
      id,
      name,
      workDir,
      imagesDir,
      credential: credential ?? prepared?.credential,
      targetHost: targetHost ?? prepared?.targetHost,
      precopied: prepared?.precopied,
      get delta() {
        return early.delta;
      },
      decide: async (verdict) => {
        if (verdict === 'kill') hold.resolve();
        else hold.reject(new TernError('ABORTED', `migration ${id} aborted`));
        // Post-copy: the dump goes on serving pages after a kill verdict.
        if (postcopy && verdict === 'kill') return (await sent) ? 'killed' : 'resumed';
        const r = await dump.catch(() => undefined);
        return r?.outcome ?? 'resumed';
      },
      delivered: sent,
      gone: deferred<boolean>(),
      lazy: postcopy
        ? {
            served: dump.then(
              () => undefined,
              (e: Error) => e.message || 'criu dump failed',
            ),
          }
        : undefined,
    };
    this.holds.set(id, h);
    dump.then(
      (r) => {
        h.outcome = r.outcome;
        this.holdChanged();
        log.info({ outcome: r.outcome, dumpMs: r.dumpMs }, 'dump finished');
        // Resumed without a verdict: the hold timed out (coordinator lost).
        if (r.outcome === 'resumed') void this.released(h);
      },
      () => {},
    );

    let frozenAtMs: number;
    try {
      frozenAtMs = await Promise.race([frozenP, dump.then(() => 0)]);
      if (!frozenAtMs) throw new TernError('INTERNAL', 'criu dump ended without reaching post-dump');
    } catch (e) {
      pagesOut?.socket.destroy();
      this.holds.delete(id);
      this.holdChanged();
      rec.migrationId = undefined;
      await ctx.containers.save(rec);
      await rm(workDir, { recursive: true, force: true });
      log.warn({ err: (e as Error).message }, 'dump failed; container keeps running');
      throw e;
    }
    // The image files are complete: a fetch waiting for them goes on at once.
    h.frozen = true;
    this.holdChanged();
    rec.state = 'frozen';
    await ctx.containers.save(rec);
    ctx.faults.hit('after-dump');
    const { bytes, files } = dirSize(imagesDir);
    log.info({ imageBytes: bytes, files, dumpMs: frozenAtMs - started }, 'tree frozen at post-dump');
    return {
      container: rec,
      imageBytes: bytes,
      imageFiles: files,
      frozenAtMs,
      dumpMs: frozenAtMs - started,
      pages,
    };
  }

  /** The image files of a held dump, then the rootfs as a tar stream. */
  async *readImages(id: string, stats: EncodeStats): AsyncGenerator<ImageChunk> {
    const { ctx } = this;
    const held = this.holds.get(checkMigrationId(id));
    if (!held || held.outcome)
      throw precondition(`no frozen dump held for migration ${id} on ${ctx.opts.host}`);
    const h = held;
    // The link to a pre-copy round's images is the target's own to make.
    const names = (await readdir(h.imagesDir)).filter((n) => n !== PARENT_LINK).sort();
    const rootfs = ctx.containers.rootfs(h.name);
    // After a pre-copy, only what changed since its marker (and the list of
    // what exists); else the whole rootfs.
    const delta = h.precopied ? await this.deltaOf(h, h.precopied) : undefined;
    async function* files(): AsyncGenerator<SourceFile> {
      for (const n of names) yield { name: n, data: fileData(join(h.imagesDir, n)) };
      if (!delta) {
        yield { name: ROOTFS_TAR, data: ctx.host.rootfs.pack(rootfs) };
        return;
      }
      const { listing, tar } = delta;
      if (listing)
        yield {
          name: ROOTFS_DIRS,
          data: (async function* () {
            yield listing;
          })(),
        };
      if (tar) yield { name: ROOTFS_DELTA, data: typeof tar === 'string' ? fileData(tar) : tar };
    }
    let n = 0;
    let corrupt = ctx.faults.armed('corrupt-chunk');
    for await (const chunk of encodeFiles(files(), stats)) {
      // Fault points inside the stream: cut it, or corrupt one chunk's bytes.
      if (n++ === 1) ctx.faults.hit('transfer');
      const data = chunk.data as Buffer | undefined;
      if (corrupt && data && data.length > 0) {
        corrupt = false;
        const bad = Buffer.from(data);
        bad[bad.length >> 1] ^= 0xff;
        yield { ...chunk, data: bad };
        continue;
      }
      yield chunk;
    }
  }

  /**
   * The rootfs changes of a held dump: those packed while CRIU dumped, unless
   * CRIU linked files back into the tree after that (then they are found
   * again now, with those files).
   */
  private async deltaOf(h: SourceHold, marker: string): Promise<RootfsDelta> {
    const { ctx } = this;
    if (h.delta && !existsSync(join(h.imagesDir, REMAP_IMAGE))) {
      const packed = await h.delta.catch((e: Error) => {
        ctx.log.warn(
          { migration: h.id, err: e.message },
          'packing the rootfs changes while dumping failed; again now',
        );
        return undefined;
      });
      if (packed) return packed;
    }
    const { listing, changed } = await this.scanDelta(h.name, marker);
    return {
      listing,
      tar: changed.length > 0 ? ctx.host.rootfs.pack(ctx.containers.rootfs(h.name), changed) : undefined,
    };
  }

  /** Finds the rootfs changes since the marker and packs them into a file of the migration's directory. */
  private async packDelta(name: string, marker: string, workDir: string): Promise<RootfsDelta> {
    const { listing, changed } = await this.scanDelta(name, marker);
    if (changed.length === 0) return { listing };
    const tar = join(workDir, ROOTFS_DELTA);
    await pipeline(
      Readable.from(this.ctx.host.rootfs.pack(this.ctx.containers.rootfs(name), changed)),
      createWriteStream(tar),
    );
    return { listing, tar };
  }

  /** The paths of container `name`'s rootfs changed since the marker, and the listing of its changed directories. */
  private async scanDelta(name: string, marker: string): Promise<{ changed: string[]; listing?: Buffer }> {
    const { rootfs: archive } = this.ctx.host;
    const rootfs = this.ctx.containers.rootfs(name);
    const { changed, dirs } = await archive.changes(rootfs, marker);
    return { changed, listing: dirs.length > 0 ? await archive.listing(rootfs, dirs) : undefined };
  }

  /**
   * The images of a held dump for a peer on the data channel, if it presents
   * this migration's credential; only while the tree is held, one fetch at a
   * time.
   */
  async *fetchImages(
    id: string,
    credential: string,
    peer: string,
    stats: EncodeStats,
    held = false,
  ): AsyncGenerator<ImageChunk> {
    const h = await this.heldFor(id, credential, peer);
    if (h.fetching) throw precondition(`images of migration ${id} are already being fetched`);
    h.fetching = true;
    try {
      yield* this.readImages(id, stats);
    } finally {
      h.fetching = false;
    }
    // Held: the target's copy may run as soon as this tree is gone; it
    // hears it here, a round trip through the coordinator sooner.
    if (held && (await h.gone?.promise)) yield { source_gone: true };
  }

  /**
   * The hold of a migration, for its target presenting its credential. A
   * fetch the target opened before the freeze (so that connecting and TLS
   * are done by then) waits here until the tree is held, or until the
   * migration ends without it.
   */
  private async heldFor(id: string, credential: string, peer: string): Promise<SourceHold> {
    const refused = () =>
      new TernError(
        'PERMISSION_DENIED',
        `no images of migration ${id} on ${this.ctx.opts.host} for ${peer} with that credential`,
      );
    for (;;) {
      const h = this.holds.get(id);
      const known = h ?? this.prepared.get(id);
      if (!known || h?.outcome || known.targetHost !== peer || !sameCredential(known.credential, credential))
        throw refused();
      if (h?.frozen) return h;
      // Prepared, or dumping: the image files are complete once the tree is
      // held. Woken when a hold changes; the timer covers the rest (a hold
      // that went away with its migration).
      await new Promise<void>((r) => {
        const wake = () => {
          clearTimeout(timer);
          this.holdWaiters.delete(wake);
          r();
        };
        const timer = setTimeout(wake, HOLD_POLL_MS);
        this.holdWaiters.add(wake);
      });
    }
  }

  private holdChanged(): void {
    for (const wake of [...this.holdWaiters]) wake();
  }

  /**
   * After a post-copy dump has ended: the tree it served from goes (CRIU
   * killed it after the last page; not if its serving failed and it let the
   * stopped tree go). pid with its start time, so that no process that took
   * the pid since is hit.
   */
  async endStoppedTree(pid: number, startTime: string | undefined): Promise<void> {
    const { host } = this.ctx;
    if (startTime === undefined || (await host.startTime(pid)) !== startTime) return;
    host.kill(pid);
    if (!(await host.waitGone(pid, 10_000)))
      throw new TernError('INTERNAL', `stopped source tree (pid ${pid}) did not die`);
  }

  /** Commit point on the source: the frozen tree is killed (post-copy: stopped until served); returns once it can never run again. */
  async commit(id: string): Promise<boolean> {
    const { ctx } = this;
    // A repeated commit after success is answered from the outcome record.
    if ((await ctx.outcomes.get(checkMigrationId(id))) === 'committed') return true;
    const h = this.holds.get(id);
    if (!h) throw notFound(`no held dump for migration ${id} on ${ctx.opts.host}`);
    const rec = ctx.containers.get(h.name);
    ctx.faults.hit('commit');
    // Once the hold script has the 'kill' verdict, nothing can resume the tree
    // any more (the script can no longer time out), and it is killed here at once
    // rather than after CRIU wakes up to do it: the target's copy waits on
    // this. A task that has begun to exit never runs again; the pid namespace
    // dies with its init, and CRIU finishes and exits in the background.
    const decided = h.decide('kill');
    const delivered = h.delivered ?? decided.then((o) => o === 'killed');
    if (!(await delivered) && (await decided) !== 'killed') {
      await this.released(h);
      throw new TernError('ABORTED', `the frozen tree of ${h.name} resumed instead of dying`);
    }
    // The same process, not one that took its pid after CRIU killed it.
    const same = (await ctx.host.startTime(rec.pid)) === rec.startTime;
    if (h.lazy) {
      // Post-copy: CRIU serves the pages from the tree's own memory (its
      // pipes hold the tree's pages, not copies), so the tree must not change
      // until the last page is out, and a kill changes it: each exiting
      // thread clears its thread id in memory (CLONE_CHILD_CLEARTID), and the
      // restored program then takes live threads for ended ones (a join
      // returns, their stacks are unmapped under them). The tree is stopped
      // instead: CRIU holds it frozen while it serves, and should CRIU let it
      // go without killing it (it resumes a tree whose serving failed), it
      // stops before running any of its code. CRIU kills it after the last
      // page; tern kills it when the serving has ended either way.
      if (same) await ctx.host.stopTree(rec.pid);
    } else {
      if (same) ctx.host.kill(rec.pid);
      // Its pid namespace's last tasks are reaped only once CRIU lets them go.
      if (!(await ctx.host.waitExiting(rec.pid, 10_000)))
        throw new TernError('INTERNAL', `source tree of ${h.name} is still alive`);
    }
    // The tree is gone: record that first, so a retry is answered "committed"
    // even if cleaning up below fails half way. The answer waits for nothing
    // else: the target's copy is waiting to run. The container's record
    // leaves this host's list now (a restarted agent drops what is left of
    // it on disk: readopt.ts); its files, the veth and the images go once
    // the answer is out.
    await ctx.outcomes.record(id, 'committed');
    h.gone?.resolve(true);
    this.holds.delete(id);
    this.prepared.delete(id);
    const removed = ctx.containers.remove(h.name, { keepCgroup: !!h.lazy });
    removed.catch(() => {});
    const cleanUp = async () => {
      await removed;
      await ctx.host.unwire(rec.veth);
      // Post-copy: the images directory and the stopped tree stay until CRIU
      // has served every page.
      if (h.lazy) {
        const why = await h.lazy.served;
        if (why)
          ctx.log.error({ migration: id, container: h.name, err: why }, 'post-copy: serving pages failed');
        else ctx.log.info({ migration: id, container: h.name }, 'post-copy: every page served');
        await this.endStoppedTree(rec.pid, rec.startTime);
        await ctx.host.cgroups.remove(h.name);
      }
      await ctx.containers.trash.discard(h.workDir);
    };
    setImmediate(() =>
      cleanUp().catch((e: Error) =>
        ctx.log.warn(
          { migration: id, container: h.name, err: e.message },
          'committed, but cleaning up the source failed',
        ),
      ),
    );
    ctx.log.info({ migration: id, container: h.name }, 'source tree gone (committed)');
    return true;
  }

  /** Before the commit point: unfreezes the held tree. False if this host holds none. */
  async abort(id: string): Promise<boolean> {
    const { ctx } = this;
    const h = this.holds.get(id);
    if (!h) {
      if ((await ctx.outcomes.get(id)) === 'committed')
        throw precondition(`migration ${id} is past its commit point on ${ctx.opts.host}`);
      await this.unprepare(id);
      return false;
    }
    const outcome = await h.decide('resume');
    if (outcome === 'killed')
      throw precondition(`migration ${id} is past its commit point on ${ctx.opts.host}`);
    await this.released(h);
    ctx.log.info({ migration: id, container: h.name }, 'aborted: source tree resumed');
    return true;
  }

  /** The tree runs on here after a hold ended without a kill: forget the hold. */
  private async released(h: SourceHold): Promise<void> {
    const { ctx } = this;
    if (!this.holds.has(h.id)) return;
    h.gone?.resolve(false);
    this.holds.delete(h.id);
    const rec = ctx.containers.find(h.name);
    if (rec && rec.migrationId === h.id) {
      rec.state = 'running';
      rec.migrationId = undefined;
      await ctx.containers.save(rec);
    }
    this.prepared.delete(h.id);
    this.holdChanged();
    await rm(h.workDir, { recursive: true, force: true });
  }
}
